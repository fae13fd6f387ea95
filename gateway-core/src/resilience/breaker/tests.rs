//! The breaker's state machine against the in-memory store and a manual
//! clock; two breakers on one store stand for two gateway instances.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_executor::block_on;
use http::StatusCode;

use super::*;
use crate::resilience::config::RateTrigger;
use crate::resilience::outcome::ErrorKind;
use crate::store::ProbeStore;
use crate::test_env::{self, ManualClock};

const FAIL: Kind = Kind::Error(ErrorKind::Connect);
const OK: Kind = Kind::Status(StatusCode::OK);

fn cfg() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 3,
        failure_rate: None,
        open_for: Duration::from_secs(10),
        probes: 1,
        successes: 1,
        failure_statuses: vec![StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE],
        refresh: Duration::from_secs(1),
    }
}

struct Rig {
    env: Env,
    clock: Arc<ManualClock>,
    breaker: Breaker,
}

impl Rig {
    fn new(cfg: BreakerConfig) -> Self {
        let (env, clock) = test_env::timed();
        Self {
            env,
            clock,
            breaker: Breaker::new("users", cfg),
        }
    }

    /// Another gateway instance on the same store and clock.
    fn peer(&self, cfg: BreakerConfig) -> Self {
        Self {
            env: self.env.clone(),
            clock: self.clock.clone(),
            breaker: Breaker::new("users", cfg),
        }
    }

    fn admit(&self) -> Admission {
        block_on(self.breaker.admit(&self.env))
    }

    /// Admits a request and records `kind` for it; returns the admission.
    fn call(&self, kind: Kind) -> Admission {
        let a = self.admit();
        if !matches!(a, Admission::Reject { .. }) {
            block_on(self.breaker.record(&self.env, &a, kind));
        }
        a
    }

    fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    fn stored_state(&self) -> State {
        let raw = block_on(self.env.counters.get(&self.breaker.keys.state())).expect("get");
        State::decode(raw.as_deref())
    }
}

fn rejected(a: &Admission) -> bool {
    matches!(a, Admission::Reject { .. })
}

#[test]
fn opens_on_consecutive_failures_and_rejects_until_the_interval_passes() {
    let rig = Rig::new(cfg());
    assert!(!rejected(&rig.call(FAIL)));
    assert!(!rejected(&rig.call(FAIL)));
    assert!(
        !rejected(&rig.call(FAIL)),
        "the third failure still went out"
    );
    match rig.admit() {
        Admission::Reject { retry_after } => assert_eq!(retry_after, Duration::from_secs(10)),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(matches!(rig.stored_state(), State::Open { .. }));
    rig.advance(Duration::from_secs(4));
    match rig.admit() {
        Admission::Reject { retry_after } => assert_eq!(retry_after, Duration::from_secs(6)),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_success_breaks_the_streak() {
    let rig = Rig::new(cfg());
    for _ in 0..5 {
        rig.call(FAIL);
        rig.call(FAIL);
        rig.call(OK);
    }
    assert!(!rejected(&rig.admit()));
    assert!(matches!(rig.stored_state(), State::Closed { .. }));
}

#[test]
fn only_configured_statuses_count_as_failures() {
    let rig = Rig::new(cfg());
    for _ in 0..10 {
        rig.call(Kind::Status(StatusCode::INTERNAL_SERVER_ERROR));
        rig.call(Kind::Other);
    }
    assert!(!rejected(&rig.admit()));
    for _ in 0..3 {
        rig.call(Kind::Status(StatusCode::SERVICE_UNAVAILABLE));
    }
    assert!(rejected(&rig.admit()));
}

fn rate_cfg() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 0,
        failure_rate: Some(RateTrigger {
            ratio: 0.5,
            min_requests: 10,
            window: Duration::from_secs(10),
        }),
        ..cfg()
    }
}

#[test]
fn opens_on_the_failure_rate_once_enough_requests_were_seen() {
    let rig = Rig::new(rate_cfg());
    // Alternating: 50% failures, never two in a row.
    for i in 0..9 {
        rig.call(if i % 2 == 0 { FAIL } else { OK });
        rig.advance(Duration::from_millis(10));
    }
    assert!(!rejected(&rig.admit()), "9 requests: below min_requests");
    rig.call(OK);
    rig.call(FAIL);
    assert!(rejected(&rig.admit()), "11 requests, 6 failed");
}

#[test]
fn a_low_failure_rate_does_not_open() {
    let rig = Rig::new(rate_cfg());
    for i in 0..200 {
        rig.call(if i % 3 == 0 { FAIL } else { OK });
        rig.advance(Duration::from_millis(50));
    }
    assert!(!rejected(&rig.admit()));
    assert!(matches!(rig.stored_state(), State::Closed { .. }));
}

#[test]
fn old_failures_leave_the_window() {
    let rig = Rig::new(rate_cfg());
    for _ in 0..4 {
        rig.call(FAIL);
    }
    for _ in 0..6 {
        rig.call(OK);
    }
    // 30s later both buckets of those requests are gone; 4 failures out
    // of 10 new requests stay under the ratio.
    rig.advance(Duration::from_secs(30));
    for _ in 0..6 {
        rig.call(OK);
    }
    for _ in 0..4 {
        rig.call(FAIL);
    }
    assert!(!rejected(&rig.admit()));
}

fn tripped(rig: &Rig) {
    for _ in 0..3 {
        rig.call(FAIL);
    }
    assert!(rejected(&rig.admit()));
}

#[test]
fn half_open_lets_probes_through_and_closes_after_successes() {
    let rig = Rig::new(BreakerConfig {
        probes: 2,
        successes: 2,
        ..cfg()
    });
    tripped(&rig);
    rig.advance(Duration::from_secs(10));
    let p1 = rig.admit();
    let p2 = rig.admit();
    assert!(matches!(p1, Admission::Probe { .. }), "{p1:?}");
    assert!(matches!(p2, Admission::Probe { .. }), "{p2:?}");
    match rig.admit() {
        Admission::Reject { retry_after } => assert_eq!(retry_after, HALF_OPEN_RETRY_AFTER),
        other => panic!("a third request while probing: {other:?}"),
    }
    block_on(rig.breaker.record(&rig.env, &p1, OK));
    assert!(matches!(rig.stored_state(), State::HalfOpen { .. }));
    assert!(rejected(&rig.admit()), "one success of two is not enough");
    block_on(rig.breaker.record(&rig.env, &p2, OK));
    assert!(matches!(rig.stored_state(), State::Closed { .. }));
    assert!(matches!(
        rig.admit(),
        Admission::Pass {
            generation: Some(_)
        }
    ));
    // Closed afresh: the failures before opening do not count any more.
    rig.call(FAIL);
    rig.call(FAIL);
    assert!(!rejected(&rig.admit()));
}

#[test]
fn a_failed_probe_opens_the_breaker_again() {
    let rig = Rig::new(cfg());
    tripped(&rig);
    rig.advance(Duration::from_secs(10));
    let probe = rig.call(Kind::Status(StatusCode::BAD_GATEWAY));
    assert!(matches!(probe, Admission::Probe { .. }), "{probe:?}");
    match rig.admit() {
        Admission::Reject { retry_after } => assert_eq!(retry_after, Duration::from_secs(10)),
        other => panic!("expected the breaker open again: {other:?}"),
    }
    assert!(matches!(rig.stored_state(), State::Open { .. }));
    // And the cycle goes on: another probe after the interval.
    rig.advance(Duration::from_secs(10));
    assert!(matches!(rig.call(OK), Admission::Probe { .. }));
    assert!(!rejected(&rig.admit()));
}

#[test]
fn probes_that_never_report_are_replaced_after_the_open_interval() {
    let rig = Rig::new(cfg());
    tripped(&rig);
    rig.advance(Duration::from_secs(10));
    assert!(matches!(rig.admit(), Admission::Probe { .. }));
    assert!(rejected(&rig.admit()));
    rig.advance(Duration::from_secs(10));
    let fresh = rig.admit();
    assert!(matches!(fresh, Admission::Probe { .. }), "{fresh:?}");
}

#[test]
fn a_probe_that_says_nothing_gives_its_slot_back() {
    let rig = Rig::new(cfg());
    tripped(&rig);
    rig.advance(Duration::from_secs(10));
    assert!(matches!(rig.call(Kind::Other), Admission::Probe { .. }));
    assert!(matches!(rig.admit(), Admission::Probe { .. }));
}

#[test]
fn instances_on_one_store_share_the_state() {
    let a = Rig::new(cfg());
    let b = a.peer(cfg());
    // B has seen the breaker closed and caches that.
    assert!(!rejected(&b.call(OK)));
    tripped(&a);
    // Within its refresh interval B still passes requests ...
    assert!(!rejected(&b.admit()));
    // ... and after it, B sees the open breaker.
    a.advance(Duration::from_secs(1));
    assert!(rejected(&b.admit()));
    // A third instance that never asked sees it at once.
    let c = a.peer(cfg());
    assert!(rejected(&c.admit()));
    // One probe for all of them.
    a.advance(Duration::from_secs(10));
    let probe = b.admit();
    assert!(matches!(probe, Admission::Probe { .. }), "{probe:?}");
    assert!(rejected(&a.admit()));
    assert!(rejected(&c.admit()));
    block_on(b.breaker.record(&b.env, &probe, OK));
    assert!(!rejected(&b.admit()));
    // The others knew the probes taken and refuse for up to `refresh`
    // without asking the store; then they see it closed.
    assert!(rejected(&a.admit()));
    a.advance(Duration::from_secs(1));
    assert!(!rejected(&a.admit()));
    assert!(!rejected(&c.admit()));
}

#[test]
fn failures_on_several_instances_add_up() {
    let a = Rig::new(cfg());
    let b = a.peer(cfg());
    a.call(FAIL);
    b.call(FAIL);
    a.call(FAIL);
    assert!(rejected(&a.admit()));
    a.advance(Duration::from_secs(1));
    assert!(rejected(&b.admit()));
}

fn counted(cfg: BreakerConfig) -> (Rig, Arc<ProbeStore>) {
    let mut rig = Rig::new(cfg);
    let store = Arc::new(ProbeStore::new(rig.env.counters.clone()));
    rig.env.counters = store.clone();
    (rig, store)
}

#[test]
fn successes_cost_no_store_writes_and_one_read_per_refresh() {
    let (rig, store) = counted(BreakerConfig {
        failure_rate: Some(RateTrigger {
            ratio: 0.5,
            min_requests: 10,
            window: Duration::from_secs(10),
        }),
        ..cfg()
    });
    for _ in 0..100 {
        rig.call(OK);
    }
    // The first request read the state and the consecutive count.
    assert_eq!(store.ops(), (2, 0));
    rig.advance(Duration::from_secs(1));
    for _ in 0..100 {
        rig.call(OK);
    }
    // One refresh: two reads and the 100 requests added in one increment.
    assert_eq!(store.ops(), (4, 1));
    // After a failure, the next success resets the streak once.
    rig.call(FAIL);
    let after_failure = store.ops();
    rig.call(OK);
    rig.call(OK);
    assert_eq!(store.ops().1, after_failure.1 + 1);
}

#[test]
fn while_probing_other_requests_are_refused_from_the_cache() {
    let (rig, store) = counted(cfg());
    tripped(&rig);
    rig.advance(Duration::from_secs(10));
    let probe = rig.admit();
    assert!(matches!(probe, Admission::Probe { .. }), "{probe:?}");
    assert!(rejected(&rig.admit()));
    let ops = store.ops();
    for _ in 0..50 {
        assert!(rejected(&rig.admit()));
    }
    assert_eq!(store.ops(), ops, "no store calls while the probe runs");
    block_on(rig.breaker.record(&rig.env, &probe, OK));
    assert!(!rejected(&rig.admit()), "closed by this instance's probe");
}

#[test]
fn a_failing_store_fails_open_and_is_left_alone_for_a_while() {
    let (rig, store) = counted(cfg());
    store.down.store(true, Ordering::SeqCst);
    for _ in 0..10 {
        let a = rig.call(FAIL);
        assert_eq!(a, Admission::Pass { generation: None });
    }
    assert_eq!(
        store.ops(),
        (1, 0),
        "one read failed; then the store rested"
    );
    store.down.store(false, Ordering::SeqCst);
    rig.advance(Duration::from_secs(1));
    for _ in 0..3 {
        rig.call(FAIL);
    }
    assert!(
        rejected(&rig.admit()),
        "counting again once the store is back"
    );
}

#[test]
fn a_store_failing_mid_way_does_not_fail_requests() {
    let (rig, store) = counted(cfg());
    rig.call(FAIL);
    rig.call(FAIL);
    store.down.store(true, Ordering::SeqCst);
    // The failure cannot be recorded; nothing breaks.
    rig.call(FAIL);
    assert_eq!(rig.admit(), Admission::Pass { generation: None });
}
