//! The store layout: register, heartbeat, expiry, deregister, bounds and
//! contention.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_executor::block_on;
use gateway_core::discovery::{DirectoryError, ServiceDirectory, ServiceRegistry, ServiceSummary};
use gateway_testkit::{ProbeStore, test_env};

use super::instance;
use crate::layout::{INDEX_KEY, service_key};
use crate::{Limits, Registry};

const TTL: Duration = Duration::from_secs(10);

fn ids(reg: &Registry, service: &str) -> Vec<String> {
    block_on(reg.healthy_instances(service))
        .expect("lookup")
        .into_iter()
        .map(|i| i.id)
        .collect()
}

#[test]
fn register_heartbeat_expire() {
    let t = test_env(100);
    let reg = Registry::new(&t.env);
    let r = block_on(reg.register(instance("users", "a", 8080), TTL)).expect("registered");
    assert_eq!(r.ttl_ms, 10_000);
    assert_eq!(r.expires_at_ms, 1_700_000_000_000 + 10_000);
    assert_eq!(ids(&reg, "users"), ["a"]);

    // A heartbeat before the TTL runs out renews it for the same TTL.
    t.clock.advance(Duration::from_secs(9));
    let r = block_on(reg.heartbeat("users", "a", None)).expect("renewed");
    assert_eq!(r.expires_at_ms, 1_700_000_000_000 + 9_000 + 10_000);
    t.clock.advance(Duration::from_secs(9));
    assert_eq!(ids(&reg, "users"), ["a"], "renewed, still live");

    // A heartbeat may set a new TTL, kept for later heartbeats.
    let r = block_on(reg.heartbeat("users", "a", Some(Duration::from_secs(2)))).expect("renewed");
    assert_eq!(r.ttl_ms, 2_000);
    t.clock.advance(Duration::from_secs(2));
    assert!(
        ids(&reg, "users").is_empty(),
        "lapsed at its expiry instant"
    );
    assert!(block_on(reg.services()).expect("services").is_empty());
    assert!(matches!(
        block_on(reg.heartbeat("users", "a", None)),
        Err(DirectoryError::NotRegistered)
    ));
}

#[test]
fn registering_again_replaces_and_deregister_removes() {
    let t = test_env(100);
    let reg = Registry::new(&t.env);
    block_on(reg.register(instance("users", "a", 1), TTL)).expect("a");
    block_on(reg.register(instance("users", "b", 2), TTL)).expect("b");
    block_on(reg.register(instance("users", "a", 3), TTL)).expect("a again");
    let ports: Vec<u16> = block_on(reg.healthy_instances("users"))
        .expect("lookup")
        .iter()
        .map(|i| i.port)
        .collect();
    assert_eq!(ports, [3, 2]);
    assert!(block_on(reg.deregister("users", "a")).expect("deregistered"));
    assert!(!block_on(reg.deregister("users", "a")).expect("already gone"));
    assert_eq!(ids(&reg, "users"), ["b"]);
    assert!(ids(&reg, "nobody").is_empty(), "unknown service: empty");
}

#[test]
fn services_lists_only_live_ones() {
    let t = test_env(100);
    let reg = Registry::new(&t.env);
    block_on(reg.register(instance("users", "a", 1), TTL)).expect("a");
    block_on(reg.register(instance("users", "b", 1), TTL)).expect("b");
    block_on(reg.register(instance("orders", "a", 1), Duration::from_secs(1))).expect("o");
    let list = block_on(reg.services()).expect("services");
    assert_eq!(
        list,
        [
            ServiceSummary {
                name: "orders".into(),
                instances: 1
            },
            ServiceSummary {
                name: "users".into(),
                instances: 2
            },
        ]
    );
    t.clock.advance(Duration::from_secs(1));
    let names: Vec<String> = block_on(reg.services())
        .expect("services")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["users"]);
}

#[test]
fn documents_expire_in_the_store_after_their_last_registration() {
    let t = test_env(100);
    let reg = Registry::new(&t.env);
    block_on(reg.register(instance("users", "a", 1), TTL)).expect("a");
    let key = service_key("users");
    assert!(block_on(t.env.store.get(&key)).expect("get").is_some());
    t.clock.advance(TTL + Duration::from_secs(60));
    assert!(
        block_on(t.env.store.get(&key)).expect("get").is_none(),
        "the document's key expires with its grace period"
    );
    assert!(
        block_on(t.env.store.get(INDEX_KEY))
            .expect("index")
            .is_some()
    );
}

#[test]
fn a_corrupt_document_is_replaced() {
    let t = test_env(100);
    block_on(
        t.env
            .store
            .put(&service_key("users"), "{not json".into(), None),
    )
    .expect("put");
    let reg = Registry::new(&t.env);
    assert!(ids(&reg, "users").is_empty());
    block_on(reg.register(instance("users", "a", 1), TTL)).expect("registered over it");
    assert_eq!(ids(&reg, "users"), ["a"]);
}

#[test]
fn instances_per_service_are_bounded_by_live_ones() {
    let t = test_env(100);
    let limits = Limits {
        max_instances_per_service: 2,
        ..Limits::default()
    };
    let reg = Registry::new(&t.env).with_limits(limits);
    block_on(reg.register(instance("users", "a", 1), Duration::from_secs(1))).expect("a");
    block_on(reg.register(instance("users", "b", 1), TTL)).expect("b");
    let err = block_on(reg.register(instance("users", "c", 1), TTL)).expect_err("full");
    assert!(
        matches!(&err, DirectoryError::Full(m) if m.contains("at most 2 instances")),
        "{err:?}"
    );
    block_on(reg.register(instance("users", "b", 2), TTL)).expect("re-registering is not growth");
    t.clock.advance(Duration::from_secs(1));
    block_on(reg.register(instance("users", "c", 1), TTL)).expect("a lapsed, room for c");
    assert_eq!(ids(&reg, "users"), ["b", "c"]);
}

#[test]
fn services_are_bounded_and_dead_ones_pruned() {
    let t = test_env(100);
    let limits = Limits {
        max_services: 2,
        ..Limits::default()
    };
    let reg = Registry::new(&t.env).with_limits(limits);
    block_on(reg.register(instance("a", "1", 1), Duration::from_secs(1))).expect("a");
    block_on(reg.register(instance("b", "1", 1), TTL)).expect("b");
    let err = block_on(reg.register(instance("c", "1", 1), TTL)).expect_err("full");
    assert!(
        matches!(&err, DirectoryError::Full(m) if m.contains("at most 2 services")),
        "{err:?}"
    );
    assert!(
        ids(&reg, "c").is_empty(),
        "nothing written for a refused service"
    );
    t.clock.advance(Duration::from_secs(1));
    block_on(reg.register(instance("c", "1", 1), TTL)).expect("`a` has lapsed and is pruned");
    let names: Vec<String> = block_on(reg.services())
        .expect("services")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["b", "c"]);
}

#[test]
fn invalid_registrations_are_refused_before_anything_is_stored() {
    let t = test_env(100);
    let reg = Registry::new(&t.env);
    let mut bad = instance("users", "a", 1);
    bad.address = "not an address".into();
    assert!(matches!(
        block_on(reg.register(bad, TTL)),
        Err(DirectoryError::Invalid(m)) if m.starts_with("address")
    ));
    assert!(block_on(t.env.store.get(INDEX_KEY)).expect("get").is_none());
    assert!(matches!(
        block_on(reg.heartbeat("a/b", "x", None)),
        Err(DirectoryError::Invalid(_))
    ));
}

#[test]
fn two_writers_racing_on_one_document_both_land() {
    let t = test_env(100);
    let store = Arc::new(ProbeStore::new(t.env.store.clone()));
    store.yield_after_reads.store(true, Ordering::SeqCst);
    let reg = Registry::with_store(&t.env, store.clone());
    let (a, b) = block_on(futures_util::future::join(
        reg.register(instance("users", "a", 1), TTL),
        reg.register(instance("users", "b", 2), TTL),
    ));
    a.expect("a");
    b.expect("b");
    assert!(
        store.lost() >= 1,
        "both read before either wrote, so one compare-and-swap lost and retried"
    );
    assert_eq!(ids(&reg, "users"), ["a", "b"]);

    // Heartbeats and a deregistration racing: neither update is lost.
    let (h, d) = block_on(futures_util::future::join(
        reg.heartbeat("users", "a", Some(Duration::from_secs(20))),
        reg.deregister("users", "b"),
    ));
    assert_eq!(h.expect("heartbeat").ttl_ms, 20_000);
    assert!(d.expect("deregister"));
    let regs = block_on(reg.registrations("users")).expect("lookup");
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0].ttl_ms, 20_000);
}

#[test]
fn endless_contention_gives_up() {
    let t = test_env(100);
    let store = Arc::new(ProbeStore::new(t.env.store.clone()));
    store.lose_swaps.store(true, Ordering::SeqCst);
    let reg = Registry::with_store(&t.env, store.clone());
    let err = block_on(reg.register(instance("users", "a", 1), TTL)).expect_err("contended");
    assert!(matches!(err, DirectoryError::Contended), "{err:?}");
    assert_eq!(store.lost(), crate::cas::MAX_ATTEMPTS as usize);
}
