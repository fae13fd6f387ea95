//! Passive ejection and return with a manual clock, exponential ejection
//! times and their cap, the cap on the ejected share, the probe state
//! machine, a round of active probes, state kept across reloads, and the
//! 503 when nothing is healthy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_executor::block_on;
use http::{Request, Response, StatusCode};

use super::config::{ActiveConfig, PassiveConfig, Statuses};
use super::{ActiveHealthCheck, HealthChange, ProbeState};
use crate::balance::{Algorithm, Balancer, Outcome};
use crate::body::Body;
use crate::config::load_file_text;
use crate::env::{Env, HttpClient, SendOptions};
use crate::error::UpstreamError;
use crate::test_env::{self, ManualClock};
use crate::upstream::Endpoint;
use crate::{ClientInfo, Gateway, PolicyRegistry};

fn env() -> (Env, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut env = test_env::env();
    env.clock = clock.clone();
    (env, clock)
}

fn endpoints(n: usize) -> Vec<Endpoint> {
    (0..n)
        .map(|i| Endpoint::parse_url(&format!("http://e{i}.test")).expect("valid url"))
        .collect()
}

fn passive(failures: u32, base_s: u64, max_s: u64, percent: u32) -> PassiveConfig {
    PassiveConfig {
        consecutive_failures: failures,
        base_ejection: Duration::from_secs(base_s),
        max_ejection: Duration::from_secs(max_s),
        max_ejected_percent: percent,
        failure_statuses: Statuses::Class(5),
    }
}

fn balancer(cfg: PassiveConfig) -> Balancer {
    Balancer {
        algorithm: Algorithm::RoundRobin,
        zone: None,
        passive: Some(cfg),
        state: Arc::default(),
    }
}

/// One attempt at endpoint `i` (the others count as tried, so it is
/// chosen while it is in rotation); `false` when it was not.
fn attempt(b: &Balancer, env: &Env, eps: &[Endpoint], i: usize, outcome: Outcome) -> bool {
    let others: Vec<Arc<str>> = eps
        .iter()
        .filter(|e| e.id != eps[i].id)
        .map(|e| e.id.clone())
        .collect();
    let Ok(p) = b.pick(env, eps, None, &others) else {
        return false;
    };
    if p.endpoint().id != eps[i].id {
        return false;
    }
    b.report(env, p, outcome);
    true
}

fn in_rotation(b: &Balancer, env: &Env, e: &Endpoint) -> bool {
    b.state.lock().available(e, env.clock.now_ms())
}

fn fail(b: &Balancer, env: &Env, eps: &[Endpoint], i: usize, n: usize) {
    for _ in 0..n {
        assert!(
            attempt(b, env, eps, i, Outcome::ConnectFailed),
            "in rotation"
        );
    }
}

const S500: Outcome = Outcome::Response(StatusCode::INTERNAL_SERVER_ERROR);
const S200: Outcome = Outcome::Response(StatusCode::OK);

#[test]
fn consecutive_failures_eject_and_the_endpoint_returns_after_its_time() {
    let (env, clock) = env();
    let eps = endpoints(3);
    let b = balancer(passive(3, 10, 60, 100));
    fail(&b, &env, &eps, 0, 2);
    assert!(
        attempt(&b, &env, &eps, 0, S200),
        "a success resets the streak"
    );
    fail(&b, &env, &eps, 0, 2);
    assert!(in_rotation(&b, &env, &eps[0]));
    assert!(attempt(&b, &env, &eps, 0, S500));
    assert!(!in_rotation(&b, &env, &eps[0]), "third failure in a row");
    for _ in 0..30 {
        let p = b.pick(&env, &eps, None, &[]).expect("pick");
        assert_ne!(p.endpoint().id, eps[0].id);
    }
    clock.advance(Duration::from_millis(9_999));
    assert!(!in_rotation(&b, &env, &eps[0]));
    clock.advance(Duration::from_millis(1));
    assert!(in_rotation(&b, &env, &eps[0]), "back after base_ejection");
}

#[test]
fn ejection_time_doubles_up_to_the_maximum_and_is_forgiven_later() {
    let (env, clock) = env();
    let eps = endpoints(2);
    let b = balancer(passive(1, 10, 35, 100));
    let mut times = Vec::new();
    for _ in 0..4 {
        assert!(attempt(&b, &env, &eps, 0, Outcome::TimedOut));
        let mut waited = 0;
        while !in_rotation(&b, &env, &eps[0]) {
            clock.advance(Duration::from_secs(1));
            waited += 1;
        }
        times.push(waited);
    }
    assert_eq!(times, [10, 20, 35, 35]);
    // In rotation for max_ejection since the last ejection ended: forgiven.
    clock.advance(Duration::from_secs(35));
    assert!(attempt(&b, &env, &eps, 0, Outcome::BadResponse));
    clock.advance(Duration::from_secs(10));
    assert!(in_rotation(&b, &env, &eps[0]), "base time again");
}

#[test]
fn which_statuses_count_as_failures() {
    let (env, _) = env();
    let eps = endpoints(2);
    let b = balancer(passive(1, 10, 60, 100));
    assert!(attempt(
        &b,
        &env,
        &eps,
        0,
        Outcome::Response(StatusCode::NOT_FOUND)
    ));
    assert!(attempt(&b, &env, &eps, 0, Outcome::NotAttributable));
    assert!(
        in_rotation(&b, &env, &eps[0]),
        "4xx and client faults do not count"
    );
    assert!(attempt(
        &b,
        &env,
        &eps,
        0,
        Outcome::Response(StatusCode::SERVICE_UNAVAILABLE)
    ));
    assert!(!in_rotation(&b, &env, &eps[0]), "5xx counts by default");

    let mut only_503 = passive(1, 10, 60, 100);
    only_503.failure_statuses = Statuses::List(vec![StatusCode::SERVICE_UNAVAILABLE]);
    let b = balancer(only_503);
    assert!(attempt(&b, &env, &eps, 0, S500));
    assert!(in_rotation(&b, &env, &eps[0]), "500 is not listed");
    assert!(attempt(&b, &env, &eps, 0, Outcome::ConnectFailed));
    assert!(
        !in_rotation(&b, &env, &eps[0]),
        "connection failures always count"
    );
}

#[test]
fn ejections_stop_at_the_share_cap() {
    let (env, _) = env();
    let eps = endpoints(4);
    let b = balancer(passive(1, 10, 60, 50));
    for i in 0..4 {
        fail(&b, &env, &eps, i, 1);
    }
    let out: Vec<bool> = eps.iter().map(|e| !in_rotation(&b, &env, e)).collect();
    assert_eq!(out, [true, true, false, false], "at most half");
    // More failures of the others still do not eject them.
    fail(&b, &env, &eps, 2, 3);
    assert!(in_rotation(&b, &env, &eps[2]));

    // Endpoints failing active checks count toward the cap.
    let b = balancer(passive(1, 10, 60, 50));
    b.state.lock().stats(&eps[3]).active.healthy = false;
    fail(&b, &env, &eps, 0, 1);
    fail(&b, &env, &eps, 1, 1);
    let out: Vec<bool> = eps.iter().map(|e| !in_rotation(&b, &env, e)).collect();
    assert_eq!(out, [true, false, false, true]);

    // By default a lone endpoint is never ejected.
    let one = endpoints(1);
    let b = balancer(PassiveConfig::default());
    fail(&b, &env, &one, 0, 20);
    assert!(in_rotation(&b, &env, &one[0]));
}

#[test]
fn with_every_endpoint_ejected_the_pick_fails() {
    let (env, _) = env();
    let eps = endpoints(2);
    let b = balancer(passive(1, 10, 60, 100));
    fail(&b, &env, &eps, 0, 1);
    fail(&b, &env, &eps, 1, 1);
    assert!(matches!(
        b.pick(&env, &eps, None, &[]),
        Err(UpstreamError::NoHealthyEndpoint)
    ));
}

fn active(healthy: u32, unhealthy: u32) -> ActiveConfig {
    ActiveConfig {
        path: http::Uri::from_static("/healthz"),
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(500),
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
        expected: Statuses::Class(2),
    }
}

#[test]
fn probes_flip_health_only_at_the_thresholds() {
    let cfg = active(2, 3);
    let mut s = ProbeState::default();
    assert!(s.healthy, "endpoints start healthy");
    let results: Vec<Option<bool>> = [false, false, true, false, false, false, true, true]
        .iter()
        .map(|&ok| s.record(ok, &cfg))
        .collect();
    assert_eq!(
        results,
        [None, None, None, None, None, Some(false), None, Some(true)]
    );
    assert!(s.healthy);
}

/// Answers by host: a status, or a refused connection for hosts not listed.
#[derive(Default)]
struct ByHost {
    statuses: Mutex<HashMap<String, u16>>,
    seen: Mutex<Vec<String>>,
}

impl ByHost {
    fn set(&self, host: &str, status: Option<u16>) {
        let mut m = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        match status {
            Some(s) => m.insert(host.to_owned(), s),
            None => m.remove(host),
        };
    }
    fn take_seen(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait::async_trait]
impl HttpClient for ByHost {
    async fn send(
        &self,
        r: Request<Body>,
        _o: SendOptions,
    ) -> Result<Response<Body>, UpstreamError> {
        let host = r.uri().host().unwrap_or_default().to_owned();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{host}{}", r.uri().path()));
        let status = self
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&host)
            .copied();
        match status {
            Some(s) => Ok(Response::builder()
                .status(s)
                .body(Body::empty())
                .expect("response")),
            None => Err(UpstreamError::Connect(None)),
        }
    }
}

#[test]
fn a_round_of_probes_takes_a_failing_endpoint_out_and_brings_it_back() {
    let (mut env, _) = env();
    let http = Arc::new(ByHost::default());
    http.set("e0.test", Some(200));
    http.set("e1.test", Some(200));
    env.http = http.clone();
    let eps = endpoints(2);
    let b = balancer(PassiveConfig::default());
    let check = ActiveHealthCheck {
        upstream: "u".into(),
        config: active(2, 2),
        endpoints: eps.clone(),
        state: b.state.clone(),
        connect_timeout: Duration::from_secs(1),
        ca_file: None,
    };
    assert_eq!(block_on(check.run_once(&env)), []);
    let mut seen = http.take_seen();
    seen.sort();
    assert_eq!(seen, ["e0.test/healthz", "e1.test/healthz"]);

    http.set("e1.test", Some(503));
    assert_eq!(block_on(check.run_once(&env)), []);
    let down = HealthChange {
        endpoint: "http://e1.test".into(),
        healthy: false,
    };
    assert_eq!(block_on(check.run_once(&env)), [down]);
    for _ in 0..10 {
        let p = b.pick(&env, &eps, None, &[]).expect("pick");
        assert_eq!(p.endpoint().id, eps[0].id);
    }
    http.set("e1.test", Some(204));
    assert_eq!(block_on(check.run_once(&env)), []);
    let up = HealthChange {
        endpoint: "http://e1.test".into(),
        healthy: true,
    };
    assert_eq!(block_on(check.run_once(&env)), [up]);
    assert!(in_rotation(&b, &env, &eps[1]));
}

const TWO_TARGETS: &str = "version: 1
upstreams:
  u:
    targets: [http://e0.test, http://e1.test]
    health: { passive: { consecutive_failures: 1, max_ejected_percent: 100 }, active: { path: /healthz } }
routes:
  - { path: /x, upstream: u }
";

fn call(gw: &Gateway) -> (u16, String) {
    let resp = block_on(gw.handle(
        Request::get("/x").body(Body::empty()).expect("req"),
        ClientInfo::default(),
    ));
    let status = resp.status().as_u16();
    let body = block_on(resp.into_body().collect(1 << 20)).expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn load(text: &str) -> crate::GatewayConfig {
    load_file_text("gw.yaml", text, &PolicyRegistry::builtin()).expect("valid")
}

#[test]
fn state_survives_a_reload_and_nothing_healthy_is_a_503_problem() {
    let (mut env, _) = env();
    let http = Arc::new(ByHost::default());
    http.set("e1.test", Some(200));
    env.http = http.clone();
    let gw = Gateway::new(load(TWO_TARGETS), env);
    // e0 refuses connections: 502, and it is ejected.
    let mut statuses = vec![call(&gw).0, call(&gw).0];
    statuses.sort();
    assert_eq!(statuses, [200, 502]);
    http.take_seen();
    gw.reload(load(TWO_TARGETS));
    for _ in 0..4 {
        assert_eq!(call(&gw).0, 200);
    }
    assert_eq!(
        http.take_seen(),
        ["e1.test/x"; 4],
        "still ejected after reload"
    );

    // The active checks bind to the same state.
    let checks = gw.config().active_health_checks();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].upstream(), "u");
    http.set("e1.test", Some(500));
    for _ in 0..3 {
        block_on(checks[0].run_once(gw.env()));
    }
    let (status, body) = call(&gw);
    assert_eq!(status, 503);
    let doc: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["type"], "urn:gateway:problem:no-healthy-upstream");
    assert!(!body.contains("e1.test"), "{body}");

    // A config without the upstream forgets it.
    http.take_seen();
    gw.reload(load("version: 1\n"));
    gw.reload(load(TWO_TARGETS));
    http.set("e0.test", Some(200));
    http.set("e1.test", Some(200));
    let mut statuses = vec![call(&gw).0, call(&gw).0];
    statuses.sort();
    assert_eq!(statuses, [200, 200]);
    let mut seen = http.take_seen();
    seen.sort();
    assert_eq!(seen, ["e0.test/x", "e1.test/x"]);
}

fn problems(health_yaml: &str) -> String {
    let text =
        format!("version: 1\nupstreams:\n  u: {{ url: 'http://a.test', health: {health_yaml} }}\n");
    match load_file_text("gw.yaml", &text, &PolicyRegistry::builtin()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn health_config_defaults_and_problems() {
    let cfg = load(
        "version: 1\nupstreams:\n  u: { url: 'http://a.test', health: { passive: { enabled: false }, active: { path: /h } } }\n  v: { url: 'http://b.test' }\n",
    );
    assert_eq!(cfg.upstreams[0].balancer.passive, None);
    let a = cfg.upstreams[0].active_health.as_ref().expect("active");
    assert_eq!(
        (
            a.interval,
            a.timeout,
            a.healthy_threshold,
            a.unhealthy_threshold
        ),
        (Duration::from_secs(10), Duration::from_secs(2), 2, 3)
    );
    assert_eq!(
        cfg.upstreams[1].balancer.passive,
        Some(PassiveConfig::default())
    );
    assert!(cfg.upstreams[1].active_health.is_none());

    for (yaml, expected) in [
        (
            "{ passive: { consecutive_failures: 0 } }",
            "gw.yaml: upstreams.u.health.passive.consecutive_failures: must be at least 1",
        ),
        (
            "{ passive: { base_ejection: 0 } }",
            "upstreams.u.health.passive.base_ejection: must be longer than 0",
        ),
        (
            "{ passive: { base_ejection: 10s, max_ejection: 5s } }",
            "upstreams.u.health.passive.max_ejection: must be at least `base_ejection` (10000 ms)",
        ),
        (
            "{ passive: { max_ejected_percent: 101 } }",
            "upstreams.u.health.passive.max_ejected_percent: must be from 0 to 100",
        ),
        (
            "{ passive: { failure_statuses: [503, 200] } }",
            "upstreams.u.health.passive.failure_statuses[1]: `200` is not a status from 400 to 599",
        ),
        (
            "{ active: { path: healthz } }",
            "upstreams.u.health.active.path: `healthz` is not a path starting with `/`",
        ),
        (
            "{ active: { path: /h, interval: 0 } }",
            "upstreams.u.health.active.interval: must be longer than 0",
        ),
        (
            "{ active: { path: /h, interval: 1s, timeout: 2s } }",
            "upstreams.u.health.active.timeout: must not be longer than `interval` (1000 ms)",
        ),
        (
            "{ active: { path: /h, healthy_threshold: 0 } }",
            "upstreams.u.health.active.healthy_threshold: must be at least 1",
        ),
        (
            "{ active: { path: /h, expected_status: [] } }",
            "upstreams.u.health.active.expected_status: list at least one status",
        ),
        (
            "{ active: { path: /h, expected_status: [200, 700] } }",
            "upstreams.u.health.active.expected_status[1]: `700` is not a status from 100 to 599",
        ),
        ("{ active: { interval: 1s } }", "missing field `path`"),
        (
            "{ passive: { consecutive: 3 } }",
            "unknown field `consecutive`",
        ),
    ] {
        let text = problems(yaml);
        assert!(text.contains(expected), "{yaml}:\n{text}");
    }
}
