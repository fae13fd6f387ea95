//! The algorithms over many picks with a seeded random source: shares
//! within tolerance, weights honoured, hash stability and bounded
//! reshuffling, zone preference, avoiding tried endpoints, and config
//! validation.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::config::HashOn;
use super::{Affinity, Algorithm, Balancer, Outcome, ring};
use crate::config::load_file_text;
use crate::env::{Env, SplitMix};
use crate::error::UpstreamError;
use crate::policy::{Cx, PolicyRegistry};
use crate::test_env::{self, ManualClock};
use crate::upstream::Endpoint;

fn env() -> (Env, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut env = test_env::env();
    env.clock = clock.clone();
    env.rng = Arc::new(SplitMix::seeded(42));
    (env, clock)
}

fn endpoint(i: usize, weight: u32, zone: Option<&str>) -> Endpoint {
    let mut e = Endpoint::parse_url(&format!("http://e{i}.test")).expect("valid url");
    e.weight = weight;
    e.zone = zone.map(Arc::from);
    e
}

fn endpoints(weights: &[u32]) -> Vec<Endpoint> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| endpoint(i, w, None))
        .collect()
}

fn balancer(algorithm: Algorithm) -> Balancer {
    Balancer {
        algorithm,
        zone: None,
        passive: None,
        state: Arc::default(),
    }
}

/// Picks `n` times (each attempt reported as a 200) and counts by index.
fn counts(b: &Balancer, env: &Env, eps: &[Endpoint], n: usize) -> Vec<usize> {
    let mut c = vec![0; eps.len()];
    for _ in 0..n {
        let p = b.pick(env, eps, None, &[]).expect("an endpoint");
        c[index(eps, p.endpoint())] += 1;
        b.report(env, p, Outcome::Response(StatusCode::OK));
    }
    c
}

fn index(eps: &[Endpoint], e: &Endpoint) -> usize {
    eps.iter().position(|x| x.id == e.id).expect("a candidate")
}

fn picked_id(b: &Balancer, env: &Env, eps: &[Endpoint], key: Option<u64>) -> Arc<str> {
    let p = b
        .pick(env, eps, key.map(Affinity), &[])
        .expect("an endpoint");
    p.endpoint().id.clone()
}

fn within(got: usize, expected: f64, tolerance: f64) -> bool {
    (got as f64 - expected).abs() <= expected * tolerance
}

/// Takes endpoint `i` out of rotation by an active-check failure.
fn mark_down(b: &Balancer, e: &Endpoint) {
    b.state.lock().stats(e).active.healthy = false;
}

#[test]
fn round_robin_takes_each_in_turn() {
    let (env, _) = env();
    let eps = endpoints(&[1, 5, 1]);
    let b = balancer(Algorithm::RoundRobin);
    let order: Vec<usize> = (0..6)
        .map(|_| {
            index(
                &eps,
                b.pick(&env, &eps, None, &[]).expect("pick").endpoint(),
            )
        })
        .collect();
    assert_eq!(order, [0, 1, 2, 0, 1, 2]);
    assert_eq!(counts(&b, &env, &eps, 300), [100, 100, 100]);
}

#[test]
fn weighted_round_robin_is_smooth_and_exact() {
    let (env, _) = env();
    let eps = endpoints(&[5, 1, 1]);
    let b = balancer(Algorithm::WeightedRoundRobin);
    let order: Vec<usize> = (0..7)
        .map(|_| {
            index(
                &eps,
                b.pick(&env, &eps, None, &[]).expect("pick").endpoint(),
            )
        })
        .collect();
    assert_eq!(order, [0, 0, 1, 0, 2, 0, 0], "nginx's smooth order");
    assert_eq!(counts(&b, &env, &eps, 700), [500, 100, 100]);
}

#[test]
fn weighted_round_robin_skips_an_unhealthy_endpoint_and_keeps_proportions() {
    let (env, _) = env();
    let eps = endpoints(&[3, 2, 1]);
    let b = balancer(Algorithm::WeightedRoundRobin);
    mark_down(&b, &eps[0]);
    assert_eq!(counts(&b, &env, &eps, 300), [0, 200, 100]);
}

#[test]
fn random_follows_the_weights() {
    let (env, _) = env();
    let eps = endpoints(&[1, 2, 3]);
    let b = balancer(Algorithm::Random);
    let c = counts(&b, &env, &eps, 60_000);
    for (got, expected) in c.iter().zip([10_000.0, 20_000.0, 30_000.0]) {
        assert!(within(*got, expected, 0.03), "{c:?}");
    }
}

#[test]
fn least_request_avoids_busy_and_slow_endpoints() {
    let (env, _) = env();
    let eps = endpoints(&[1, 1, 1]);
    let b = balancer(Algorithm::LeastRequest);
    b.state.lock().stats(&eps[0]).in_flight = 10;
    // Two different endpoints are compared, so the busy one never wins.
    let c = counts(&b, &env, &eps, 3_000);
    assert_eq!(c[0], 0, "{c:?}");
    assert!(
        within(c[1], 1_500.0, 0.1) && within(c[2], 1_500.0, 0.1),
        "{c:?}"
    );

    let b = balancer(Algorithm::LeastRequest);
    for (e, ms) in eps.iter().zip([10.0, 200.0, 12.0]) {
        b.state.lock().stats(e).latency_ewma_ms = Some(ms);
    }
    let c = {
        let mut c = vec![0; 3];
        for _ in 0..3_000 {
            // Dropping the pick unreported keeps the latencies as set.
            let p = b.pick(&env, &eps, None, &[]).expect("pick");
            c[index(&eps, p.endpoint())] += 1;
        }
        c
    };
    assert_eq!(c[1], 0, "the slow endpoint is never cheaper: {c:?}");
    assert!(c[0] > c[2], "the fastest wins its pairs: {c:?}");
    assert_eq!(
        b.state.lock().stats(&eps[0]).in_flight,
        0,
        "drops end picks"
    );
}

#[test]
fn least_request_honours_weights_and_learns_latency() {
    let (env, clock) = env();
    let eps = endpoints(&[1, 1, 4]);
    let b = balancer(Algorithm::LeastRequest);
    let c = counts(&b, &env, &eps, 3_000);
    // The heavy endpoint wins both pairs it is in: two thirds of picks.
    assert!(within(c[2], 2_000.0, 0.05), "{c:?}");

    let p = b
        .pick(&env, &eps, None, &[eps[0].id.clone(), eps[2].id.clone()])
        .expect("pick");
    assert_eq!(p.endpoint().id, eps[1].id);
    clock.advance(std::time::Duration::from_millis(100));
    b.report(&env, p, Outcome::Response(StatusCode::OK));
    let st = b.state.lock();
    let s = st.endpoints.get(&eps[1].id).expect("stats");
    // From 0 ms (the earlier instant answers) toward 100 ms by alpha.
    let ewma = s.latency_ewma_ms.expect("a sample");
    assert!((ewma - 30.0).abs() < 1e-9, "{ewma}");
    assert_eq!(s.in_flight, 0);
}

fn keys() -> impl Iterator<Item = u64> {
    (0..10_000).map(|k| ring::hash_key(format!("user-{k}").as_bytes()))
}

fn hash_balancer() -> Balancer {
    balancer(Algorithm::ConsistentHash(HashOn::ClientIp))
}

#[test]
fn consistent_hash_is_stable_across_instances_and_spreads_evenly() {
    let (env, _) = env();
    let eps = endpoints(&[1, 1, 1, 1, 1]);
    let (a, b) = (hash_balancer(), hash_balancer());
    let mut share: HashMap<Arc<str>, usize> = HashMap::new();
    for k in keys() {
        let id = picked_id(&a, &env, &eps, Some(k));
        assert_eq!(
            id,
            picked_id(&a, &env, &eps, Some(k)),
            "same key, same endpoint"
        );
        assert_eq!(
            id,
            picked_id(&b, &env, &eps, Some(k)),
            "another instance agrees"
        );
        *share.entry(id).or_default() += 1;
    }
    assert_eq!(share.len(), 5);
    for (id, n) in &share {
        assert!(within(*n, 2_000.0, 0.25), "{id}: {n} of 10000");
    }
}

#[test]
fn consistent_hash_moves_only_the_keys_of_an_endpoint_that_leaves() {
    let (env, _) = env();
    let eps = endpoints(&[1, 1, 1, 1, 1]);
    let without: Vec<Endpoint> = eps.iter().filter(|e| e.id != eps[2].id).cloned().collect();
    let b = hash_balancer();
    let before: Vec<Arc<str>> = keys().map(|k| picked_id(&b, &env, &eps, Some(k))).collect();
    let after: Vec<Arc<str>> = keys()
        .map(|k| picked_id(&b, &env, &without, Some(k)))
        .collect();
    let mut moved = 0;
    let mut went_to: HashMap<Arc<str>, usize> = HashMap::new();
    for (was, now) in before.iter().zip(&after) {
        if *was == eps[2].id {
            moved += 1;
            *went_to.entry(now.clone()).or_default() += 1;
        } else {
            assert_eq!(was, now, "a key of a remaining endpoint moved");
        }
    }
    assert!(within(moved, 2_000.0, 0.25), "moved {moved} of 10000");
    assert!(went_to.len() >= 3, "the leaver's keys spread: {went_to:?}");

    // An endpoint out of rotation is skipped on the same ring: the same
    // keys move, to the same places.
    let b = hash_balancer();
    mark_down(&b, &eps[2]);
    let skipped: Vec<Arc<str>> = keys().map(|k| picked_id(&b, &env, &eps, Some(k))).collect();
    assert_eq!(skipped, after);
}

#[test]
fn consistent_hash_honours_weights_and_falls_back_without_a_key() {
    let (env, _) = env();
    let eps = endpoints(&[3, 1, 1]);
    let b = hash_balancer();
    let heavy = keys()
        .filter(|&k| picked_id(&b, &env, &eps, Some(k)) == eps[0].id)
        .count();
    assert!(within(heavy, 6_000.0, 0.1), "{heavy} of 10000");
    // No key: round robin.
    let order: Vec<Arc<str>> = (0..3).map(|_| picked_id(&b, &env, &eps, None)).collect();
    let ids: Vec<Arc<str>> = eps.iter().map(|e| e.id.clone()).collect();
    assert_eq!(order, ids);
}

#[test]
fn zone_preference_keeps_to_the_zone_while_half_of_it_is_healthy() {
    let (env, _) = env();
    let eps = vec![
        endpoint(0, 1, Some("a")),
        endpoint(1, 1, Some("a")),
        endpoint(2, 1, Some("b")),
        endpoint(3, 1, Some("b")),
        endpoint(4, 1, None),
    ];
    let b = Balancer {
        zone: Some("a".into()),
        ..balancer(Algorithm::RoundRobin)
    };
    assert_eq!(counts(&b, &env, &eps, 100), [50, 50, 0, 0, 0]);
    mark_down(&b, &eps[0]);
    assert_eq!(
        counts(&b, &env, &eps, 100),
        [0, 100, 0, 0, 0],
        "one of two is half"
    );
    mark_down(&b, &eps[1]);
    assert_eq!(counts(&b, &env, &eps, 90), [0, 0, 30, 30, 30]);

    let three = vec![
        endpoint(0, 1, Some("a")),
        endpoint(1, 1, Some("a")),
        endpoint(2, 1, Some("a")),
        endpoint(3, 1, Some("b")),
    ];
    let b = Balancer {
        zone: Some("a".into()),
        ..balancer(Algorithm::RoundRobin)
    };
    mark_down(&b, &three[0]);
    mark_down(&b, &three[1]);
    assert_eq!(
        counts(&b, &env, &three, 100),
        [0, 0, 50, 50],
        "one of three is not enough: every healthy endpoint"
    );
}

#[test]
fn tried_endpoints_are_avoided_while_others_are_healthy() {
    let (env, _) = env();
    let eps = vec![
        endpoint(0, 1, Some("a")),
        endpoint(1, 1, Some("b")),
        endpoint(2, 1, Some("b")),
    ];
    let b = Balancer {
        zone: Some("a".into()),
        ..balancer(Algorithm::RoundRobin)
    };
    let tried = [eps[0].id.clone()];
    for _ in 0..10 {
        let id = b
            .pick(&env, &eps, None, &tried)
            .expect("pick")
            .endpoint()
            .id
            .clone();
        assert_ne!(id, eps[0].id, "another zone before a repeat");
    }
    let all: Vec<Arc<str>> = eps.iter().map(|e| e.id.clone()).collect();
    let p = b
        .pick(&env, &eps, None, &all)
        .expect("a repeat beats nothing");
    assert_eq!(p.endpoint().id, eps[0].id, "the preferred zone again");
}

#[test]
fn nothing_healthy_is_an_error() {
    let (env, _) = env();
    let b = balancer(Algorithm::RoundRobin);
    assert!(matches!(
        b.pick(&env, &[], None, &[]),
        Err(UpstreamError::NoHealthyEndpoint)
    ));
    let eps = endpoints(&[1, 1]);
    mark_down(&b, &eps[0]);
    mark_down(&b, &eps[1]);
    assert!(matches!(
        b.pick(&env, &eps, None, &[]),
        Err(UpstreamError::NoHealthyEndpoint)
    ));
}

#[test]
fn picks_count_in_flight_until_reported_or_dropped() {
    let (env, _) = env();
    let eps = endpoints(&[1]);
    let b = balancer(Algorithm::RoundRobin);
    let in_flight = || b.state.lock().stats(&eps[0]).in_flight;
    let p1 = b.pick(&env, &eps, None, &[]).expect("pick");
    let p2 = b.pick(&env, &eps, None, &[]).expect("pick");
    assert_eq!(in_flight(), 2);
    b.report(&env, p1, Outcome::TimedOut);
    assert_eq!(in_flight(), 1);
    drop(p2);
    assert_eq!(in_flight(), 0);
    let st = b.state.lock();
    let ewma = st.endpoints[&eps[0].id].latency_ewma_ms;
    assert_eq!(ewma, Some(1_000.0), "a fast failure is charged as slow");
}

fn cx_with<'a>(env: &'a Env, ip: &str, claims: Option<serde_json::Value>) -> Cx<'a> {
    let mut extensions = http::Extensions::new();
    if let Some(serde_json::Value::Object(claims)) = claims {
        extensions.insert(crate::auth::Identity {
            consumer: None,
            mechanism: "jwt",
            groups: vec![],
            scopes: vec![],
            issuer: None,
            claims,
        });
    }
    Cx {
        env,
        route: "r",
        params: &[],
        client_ip: ip.parse().expect("ip"),
        version: None,
        method: http::Method::GET,
        uri: http::Uri::from_static("/"),
        extensions,
    }
}

#[test]
fn hash_keys_come_from_header_cookie_claim_or_client_ip() {
    let (env, _) = env();
    let mut h = HeaderMap::new();
    h.insert("x-user", HeaderValue::from_static("ada"));
    h.append("cookie", HeaderValue::from_static("a=1; sid=\"ada\""));
    let cx = cx_with(
        &env,
        "192.0.2.1",
        Some(serde_json::json!({ "sub": "ada", "n": 7 })),
    );
    let ada = Some(Affinity(ring::hash_key(b"ada")));
    let key = |on: HashOn| on.key(&h, &cx);
    assert_eq!(key(HashOn::Header("x-user".parse().expect("name"))), ada);
    assert_eq!(key(HashOn::Cookie("sid".into())), ada);
    assert_eq!(key(HashOn::Claim("sub".into())), ada);
    assert_eq!(
        key(HashOn::Claim("n".into())),
        Some(Affinity(ring::hash_key(b"7")))
    );
    assert_eq!(
        key(HashOn::ClientIp),
        Some(Affinity(ring::hash_key(&[192, 0, 2, 1])))
    );
    // Missing keys give no affinity.
    assert_eq!(key(HashOn::Header("x-none".parse().expect("name"))), None);
    assert_eq!(key(HashOn::Cookie("none".into())), None);
    assert_eq!(key(HashOn::Claim("none".into())), None);
    let anonymous = cx_with(&env, "192.0.2.1", None);
    assert_eq!(HashOn::Claim("sub".into()).key(&h, &anonymous), None);
}

fn problems(upstream_yaml: &str) -> String {
    let text = format!("version: 1\nupstreams:\n  u: {upstream_yaml}\n");
    match load_file_text("gw.yaml", &text, &PolicyRegistry::builtin()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_accepts_targets_in_both_forms() {
    let text = "version: 1\nupstreams:\n  u:\n    targets: [http://a.test, { url: 'http://b.test/x', weight: 3, zone: z1 }]\n    balance: consistent_hash\n    hash_on: { cookie: sid }\n    zone: z1\n";
    let cfg = load_file_text("gw.yaml", text, &PolicyRegistry::builtin()).expect("valid");
    let u = &cfg.upstreams[0];
    let crate::upstream::UpstreamKind::Http { endpoints } = &u.kind else {
        panic!("an http upstream");
    };
    assert_eq!(endpoints.len(), 2);
    assert_eq!(
        (endpoints[1].weight, endpoints[1].zone.as_deref()),
        (3, Some("z1"))
    );
    assert_eq!(&*endpoints[1].id, "http://b.test/x");
    assert_eq!(
        u.balancer.algorithm,
        Algorithm::ConsistentHash(HashOn::Cookie("sid".into()))
    );
    assert_eq!(u.balancer.zone.as_deref(), Some("z1"));
    assert!(
        u.balancer.passive.is_some(),
        "passive health is on by default"
    );
    assert!(
        problems("{ targets: [http://a.test], hash_on: client_ip, balance: consistent_hash }")
            .is_empty()
    );
}

#[test]
fn config_problems_name_the_field() {
    for (yaml, expected) in [
        (
            "{ url: 'http://a.test', targets: ['http://b.test'] }",
            "gw.yaml: upstreams.u: give one of `url`, `targets`, `mock`, `service` and `dns`, not url and targets",
        ),
        (
            "{ targets: [] }",
            "upstreams.u.targets: list at least one target",
        ),
        (
            "{ targets: ['ftp://a.test'] }",
            "upstreams.u.targets[0]: unsupported scheme `ftp`",
        ),
        (
            "{ targets: ['http://a.test', { url: 'http://a.test' }] }",
            "upstreams.u.targets[1].url: `http://a.test` is already listed as upstreams.u.targets[0]",
        ),
        (
            "{ targets: [{ url: 'http://a.test', weight: 0 }] }",
            "upstreams.u.targets[0].weight: must be at least 1",
        ),
        (
            "{ targets: [{ url: 'http://a.test', zone: '' }] }",
            "upstreams.u.targets[0].zone: must not be empty",
        ),
        (
            "{ targets: [{ url: 'http://a.test', wieght: 2 }] }",
            "unknown field `wieght`",
        ),
        (
            "{ url: 'http://a.test', balance: fastest }",
            "upstreams.u.balance: unknown variant `fastest`",
        ),
        (
            "{ url: 'http://a.test', balance: consistent_hash }",
            "upstreams.u.hash_on: `balance: consistent_hash` needs `hash_on`",
        ),
        (
            "{ url: 'http://a.test', hash_on: client_ip }",
            "upstreams.u.hash_on: `hash_on` applies only to `balance: consistent_hash`, not `round_robin`",
        ),
        (
            "{ url: 'http://a.test', balance: consistent_hash, hash_on: { header: 'bad header' } }",
            "upstreams.u.hash_on.header: `bad header` is not a valid header name",
        ),
        (
            "{ url: 'http://a.test', balance: consistent_hash, hash_on: { cookie: 'a=b' } }",
            "upstreams.u.hash_on.cookie: `a=b` is not a valid cookie name",
        ),
        (
            "{ url: 'http://a.test', balance: consistent_hash, hash_on: { claim: '' } }",
            "upstreams.u.hash_on.claim: name the claim",
        ),
        (
            "{ url: 'http://a.test', zone: '' }",
            "upstreams.u.zone: must not be empty",
        ),
        (
            "{ mock: { body: hi }, balance: random, zone: z }",
            "upstreams.u.balance: `balance` applies only to an upstream that proxies",
        ),
        (
            "{ targets: ['https://a.test', 'http://b.test'], ca_file: ca.pem }",
            "upstreams.u.ca_file: `ca_file` applies only to https:// URLs",
        ),
    ] {
        let text = problems(yaml);
        assert!(text.contains(expected), "{yaml}:\n{text}");
    }
}
