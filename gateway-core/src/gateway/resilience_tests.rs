//! The attempt loop with a scripted upstream, a manual clock and sleeps
//! that advance it: retries, the budget, deadlines and the breaker.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_executor::block_on;
use http::{Request, Response};

use super::{ClientInfo, Gateway};
use crate::body::Body;
use crate::config::load_file_text;
use crate::env::Clock;
use crate::env::{Env, HttpClient, Rng, SendOptions};
use crate::error::UpstreamError;
use crate::policy::PolicyRegistry;
use crate::test_env::{self, ManualClock};

/// What the scripted upstream does for one request.
#[derive(Debug, Clone, Copy)]
enum Step {
    Status(u16),
    Refuse,
    Hang,
}

/// Answers from a script (the last step repeats) and records what it got.
#[derive(Default)]
struct Script {
    steps: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<(String, String, Duration)>>,
}

impl Script {
    fn new(steps: &[Step]) -> Arc<Self> {
        Arc::new(Self {
            steps: Mutex::new(steps.iter().copied().collect()),
            seen: Mutex::default(),
        })
    }

    fn calls(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn bodies(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().map(|(_, b, _)| b.clone()).collect()
    }
}

#[async_trait::async_trait]
impl HttpClient for Script {
    async fn send(
        &self,
        r: Request<Body>,
        o: SendOptions,
    ) -> Result<Response<Body>, UpstreamError> {
        let method = r.method().to_string();
        let body = r.into_body().collect(1 << 20).await.unwrap_or_default();
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).push((
            method,
            String::from_utf8_lossy(&body).into_owned(),
            o.connect_timeout,
        ));
        let step = {
            let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
            if steps.len() > 1 {
                steps.pop_front()
            } else {
                steps.front().copied()
            }
        };
        match step.unwrap_or(Step::Status(200)) {
            Step::Status(s) => Ok(Response::builder()
                .status(s)
                .body(Body::from(format!("upstream {s}")))
                .expect("response")),
            Step::Refuse => Err(UpstreamError::Connect(None)),
            Step::Hang => futures_util::future::pending().await,
        }
    }
}

struct Rig {
    gw: Gateway,
    clock: Arc<ManualClock>,
    upstream: Arc<Script>,
    start: u64,
}

fn rig_with(upstream_settings: &str, route_settings: &str, steps: &[Step], env: Env) -> Rig {
    let (mut timed, clock) = test_env::timed();
    timed.rng = env.rng;
    let upstream = Script::new(steps);
    timed.http = upstream.clone();
    let yaml = format!(
        "version: 1\nupstreams:\n  u:\n    url: http://127.0.0.1:9\n{upstream_settings}\nroutes:\n  - path: /x\n    upstream: u\n{route_settings}\n"
    );
    let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin())
        .unwrap_or_else(|e| panic!("valid config: {e}\n{yaml}"));
    let start = clock.now_ms();
    Rig {
        gw: Gateway::new(cfg, timed),
        clock,
        upstream,
        start,
    }
}

fn rig(upstream_settings: &str, route_settings: &str, steps: &[Step]) -> Rig {
    rig_with(upstream_settings, route_settings, steps, test_env::env())
}

impl Rig {
    fn call(&self, method: &str, body: &'static str) -> Response<Body> {
        let req = Request::builder()
            .method(method)
            .uri("/x")
            .header("content-length", body.len())
            .body(Body::from_stream(futures_util::stream::iter(vec![Ok(
                bytes::Bytes::from_static(body.as_bytes()),
            )])))
            .expect("request");
        block_on(self.gw.handle(req, ClientInfo::default()))
    }

    fn get(&self) -> u16 {
        self.call("GET", "").status().as_u16()
    }

    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.clock.now_ms() - self.start)
    }
}

fn text(resp: Response<Body>) -> String {
    let bytes = block_on(resp.into_body().collect(1 << 20)).expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

const RETRY: &str = "    retry: { attempts: 3, budget: { min_per_second: 100 } }";

#[test]
fn retries_a_503_and_answers_the_success() {
    let r = rig(RETRY, "", &[Step::Status(503), Step::Status(200)]);
    let resp = r.call("GET", "");
    assert_eq!(resp.status(), 200);
    assert_eq!(text(resp), "upstream 200");
    assert_eq!(r.upstream.calls(), 2);
}

#[test]
fn retries_connect_errors_and_stops_after_the_attempts() {
    let r = rig(RETRY, "", &[Step::Refuse]);
    assert_eq!(r.get(), 502);
    assert_eq!(r.upstream.calls(), 3);
}

#[test]
fn answers_the_last_upstream_response_when_attempts_run_out() {
    let r = rig(RETRY, "", &[Step::Status(503)]);
    let resp = r.call("GET", "");
    assert_eq!(resp.status(), 503);
    assert_eq!(text(resp), "upstream 503", "the upstream's own answer");
    assert_eq!(r.upstream.calls(), 3);
}

#[test]
fn other_statuses_are_not_retried() {
    let r = rig(RETRY, "", &[Step::Status(500), Step::Status(200)]);
    assert_eq!(r.get(), 500);
    assert_eq!(r.upstream.calls(), 1);
}

#[test]
fn post_is_not_retried_by_default_but_may_be_configured() {
    let r = rig(RETRY, "", &[Step::Status(503), Step::Status(200)]);
    assert_eq!(r.call("POST", "data").status(), 503);
    assert_eq!(r.upstream.calls(), 1);

    let r = rig(
        RETRY,
        "    retry: { methods: [GET, POST] }",
        &[Step::Status(503), Step::Status(200)],
    );
    assert_eq!(r.call("POST", "data").status(), 200);
    assert_eq!(
        r.upstream.bodies(),
        ["data", "data"],
        "the body is sent again"
    );
}

#[test]
fn a_large_streaming_body_is_sent_once() {
    let r = rig(
        "    retry: { attempts: 3, max_buffered_body: 4 }",
        "",
        &[Step::Status(503), Step::Status(200)],
    );
    assert_eq!(r.call("PUT", "too big").status(), 503);
    assert_eq!(r.upstream.bodies(), ["too big"]);
    let r = rig(
        "    retry: { attempts: 3, max_buffered_body: 16 }",
        "",
        &[Step::Status(503), Step::Status(200)],
    );
    assert_eq!(r.call("PUT", "small").status(), 200);
    assert_eq!(r.upstream.bodies(), ["small", "small"]);
}

#[test]
fn the_route_may_turn_retries_off() {
    let r = rig(
        RETRY,
        "    retry: { attempts: 1 }",
        &[Step::Status(503), Step::Status(200)],
    );
    assert_eq!(r.get(), 503);
    assert_eq!(r.upstream.calls(), 1);
}

#[test]
fn without_retry_settings_one_attempt() {
    let r = rig("", "", &[Step::Refuse, Step::Status(200)]);
    assert_eq!(r.get(), 502);
    assert_eq!(r.upstream.calls(), 1);
}

#[test]
fn the_budget_caps_retries_during_an_outage() {
    let r = rig(
        "    retry: { attempts: 3, budget: { ratio: 0.1, min_per_second: 0 } }",
        "",
        &[Step::Status(503)],
    );
    for _ in 0..100 {
        assert_eq!(r.get(), 503);
    }
    // Without a budget: 300 calls. With it: 100 requests and 10 retries.
    assert_eq!(r.upstream.calls(), 110);
}

#[test]
fn per_try_timeouts_are_retried_within_the_deadline() {
    let r = rig(
        "    timeouts: { per_try: 1s, deadline: 2500ms }\n    retry: { attempts: 5 }",
        "",
        &[Step::Hang],
    );
    assert_eq!(r.get(), 504);
    // 1s + 1s + what is left (a little less than 500ms, after backoff).
    assert_eq!(r.upstream.calls(), 3);
    assert_eq!(r.elapsed(), Duration::from_millis(2500));
}

#[test]
fn the_connect_timeout_never_exceeds_the_time_left() {
    let r = rig(
        "    timeouts: { connect: 5s, per_try: 2s }",
        "    timeouts: { connect: 1s }",
        &[Step::Status(200)],
    );
    assert_eq!(r.get(), 200);
    assert_eq!(
        r.upstream.seen.lock().expect("seen")[0].2,
        Duration::from_secs(1)
    );
    let r = rig(
        "    timeouts: { connect: 5s, per_try: 2s }",
        "",
        &[Step::Status(200)],
    );
    assert_eq!(r.get(), 200);
    let seen = r.upstream.seen.lock().expect("seen");
    assert_eq!(seen[0].2, Duration::from_secs(2), "capped by per_try");
}

#[test]
fn the_old_timeout_fields_still_bound_the_request() {
    let r = rig("    timeout: 3s", "    timeout: 700ms", &[Step::Hang]);
    assert_eq!(r.get(), 504);
    assert_eq!(r.elapsed(), Duration::from_millis(700));
    let r = rig("    timeout: 3s", "", &[Step::Hang]);
    assert_eq!(r.get(), 504);
    assert_eq!(r.elapsed(), Duration::from_secs(3));
}

/// Always the largest value: every backoff is its upper bound.
struct MaxRng;
impl Rng for MaxRng {
    fn next_u64(&self) -> u64 {
        u64::MAX
    }
}

#[test]
fn backoff_never_sleeps_past_the_deadline() {
    let mut env = test_env::env();
    env.rng = Arc::new(MaxRng);
    let r = rig_with(
        "    timeouts: { deadline: 500ms }\n    retry: { attempts: 3, backoff: { base: 400ms, max: 400ms } }",
        "",
        &[Step::Status(503)],
        env,
    );
    assert_eq!(r.get(), 503);
    // First attempt, a 400ms wait, a second attempt; a third would need
    // another 400ms wait past the deadline.
    assert_eq!(r.upstream.calls(), 2);
    assert!(r.elapsed() <= Duration::from_millis(500));
}

const BREAKER: &str = "    circuit_breaker: { consecutive_failures: 2, open_for: 10s }";

#[test]
fn an_open_breaker_answers_503_without_calling_the_upstream() {
    let r = rig(BREAKER, "", &[Step::Status(502)]);
    assert_eq!(r.get(), 502);
    assert_eq!(r.get(), 502);
    let resp = r.call("GET", "");
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "10");
    let body = text(resp);
    assert!(body.contains("urn:gateway:problem:circuit-open"), "{body}");
    assert!(!body.contains("127.0.0.1"), "{body}");
    assert_eq!(r.upstream.calls(), 2);

    // After the open interval one probe goes through and closes it.
    r.clock.advance(Duration::from_secs(10));
    *r.upstream.steps.lock().expect("steps") = [Step::Status(200)].into();
    assert_eq!(r.get(), 200);
    assert_eq!(r.get(), 200);
    assert_eq!(r.upstream.calls(), 4);
}

#[test]
fn retries_stop_when_the_breaker_opens() {
    let r = rig(
        &format!("{RETRY}\n    circuit_breaker: {{ consecutive_failures: 2 }}"),
        "",
        &[Step::Status(503)],
    );
    // Two attempts trip the breaker; the third is not made and the last
    // upstream answer stands.
    let resp = r.call("GET", "");
    assert_eq!(resp.status(), 503);
    assert_eq!(text(resp), "upstream 503");
    assert_eq!(r.upstream.calls(), 2);
}
