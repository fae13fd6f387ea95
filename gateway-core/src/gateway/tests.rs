//! The request path with fake environments: policy order, body buffering,
//! timeouts and upstream failures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_executor::block_on;
use http::{Request, Response};

use super::{ClientInfo, Gateway};
use crate::body::Body;
use crate::config::{ConfigProblem, load_file_text};
use crate::env::{Env, HttpClient, SendOptions, Sleep};
use crate::error::{GatewayError, UpstreamError};
use crate::policy::{BuildCx, Cx, Flow, Policy, PolicyFactory, PolicyRegistry};
use crate::test_env;

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn log(s: String) {
    LOG.lock().unwrap_or_else(|p| p.into_inner()).push(s);
}

/// Records hook order and whether the body arrived buffered.
#[derive(Debug)]
struct Probe {
    tag: String,
    wants_body: bool,
    respond: bool,
}

#[async_trait::async_trait]
impl Policy for Probe {
    fn name(&self) -> &'static str {
        "probe"
    }
    fn needs_request_body(&self) -> bool {
        self.wants_body
    }
    async fn on_request(
        &self,
        req: &mut Request<Body>,
        _cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        let body = match req.body().as_bytes() {
            Some(b) => format!("buffered:{}", String::from_utf8_lossy(b)),
            None => "streaming".to_owned(),
        };
        log(format!("req {} {body}", self.tag));
        if self.respond {
            return Ok(Flow::Respond(Response::new(Body::from("short-circuit"))));
        }
        Ok(Flow::Continue)
    }
    async fn on_response(
        &self,
        _resp: &mut Response<Body>,
        _cx: &mut Cx<'_>,
    ) -> Result<(), GatewayError> {
        log(format!("resp {}", self.tag));
        Ok(())
    }
}

fn probe(v: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    Ok(Arc::new(Probe {
        tag: v["tag"]
            .as_str()
            .ok_or_else(|| vec![cx.problem("tag", "required")])?
            .to_owned(),
        wants_body: v["body"].as_bool().unwrap_or(false),
        respond: v["respond"].as_bool().unwrap_or(false),
    }))
}

fn registry() -> PolicyRegistry {
    let mut r = PolicyRegistry::builtin();
    r.register(PolicyFactory {
        kind: "probe",
        build: probe,
        schema: |g| g.subschema_for::<serde_json::Value>(),
    });
    r
}

fn gateway(yaml: &str, env: Env) -> Gateway {
    Gateway::new(
        load_file_text("t.yaml", yaml, &registry()).expect("valid config"),
        env,
    )
}

fn streaming_body(text: &'static str) -> Body {
    Body::from_stream(futures_util::stream::iter(vec![Ok(
        bytes::Bytes::from_static(text.as_bytes()),
    )]))
}

fn call(gw: &Gateway, req: Request<Body>) -> (u16, String) {
    let resp = block_on(gw.handle(req, ClientInfo::default()));
    let status = resp.status().as_u16();
    let body = block_on(resp.into_body().collect(1 << 20)).expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Tests share the log, so they take turns.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn policies_run_in_order_and_responses_in_reverse() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    LOG.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let gw = gateway(
        "version: 1\nupstreams: { m: { mock: { body: ok } } }\nroutes:\n  - path: /x\n    upstream: m\n    policies:\n      - probe: { tag: a }\n      - probe: { tag: b }\n",
        test_env::env(),
    );
    let (status, body) = call(
        &gw,
        Request::post("/x").body(streaming_body("hi")).expect("req"),
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
    let log = LOG.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        log,
        ["req a streaming", "req b streaming", "resp b", "resp a"]
    );
}

#[test]
fn body_is_buffered_only_when_a_policy_needs_it() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    LOG.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let gw = gateway(
        "version: 1\nupstreams: { m: { mock: { body: ok } } }\nroutes:\n  - path: /x\n    upstream: m\n    max_body_bytes: 4\n    policies:\n      - probe: { tag: a }\n      - probe: { tag: b, body: true }\n",
        test_env::env(),
    );
    call(
        &gw,
        Request::post("/x").body(streaming_body("hi")).expect("req"),
    );
    let log = LOG.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(&log[..2], ["req a buffered:hi", "req b buffered:hi"]);
    let (status, _) = call(
        &gw,
        Request::post("/x")
            .body(streaming_body("too long"))
            .expect("req"),
    );
    assert_eq!(status, 413, "buffering stops at the route limit");
}

#[test]
fn short_circuit_skips_later_policies_and_upstream() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    LOG.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let gw = gateway(
        "version: 1\nupstreams: { m: { mock: { body: ok } } }\nroutes:\n  - path: /x\n    upstream: m\n    policies:\n      - probe: { tag: a }\n      - probe: { tag: b, respond: true }\n      - probe: { tag: c }\n",
        test_env::env(),
    );
    let (status, body) = call(&gw, Request::get("/x").body(Body::empty()).expect("req"));
    assert_eq!((status, body.as_str()), (200, "short-circuit"));
    let log = LOG.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(log, ["req a buffered:", "req b buffered:", "resp a"]);
}

/// Sleeps end at once; the upstream never answers.
struct Instant;
#[async_trait::async_trait]
impl Sleep for Instant {
    async fn sleep(&self, _d: Duration) {}
}
struct Hang;
#[async_trait::async_trait]
impl HttpClient for Hang {
    async fn send(
        &self,
        _r: Request<Body>,
        _o: SendOptions,
    ) -> Result<Response<Body>, UpstreamError> {
        futures_util::future::pending().await
    }
}

const PROXY: &str = "version: 1\nupstreams: { u: { url: http://127.0.0.1:9/base, timeout: 1s } }\nroutes:\n  - { path: '/x/{*rest}', upstream: u }\n";

#[test]
fn upstream_deadline_is_504() {
    let mut env = test_env::env();
    env.sleep = Arc::new(Instant);
    env.http = Arc::new(Hang);
    let (status, body) = call(
        &gateway(PROXY, env),
        Request::get("/x/y").body(Body::empty()).expect("req"),
    );
    assert_eq!(status, 504);
    assert!(body.contains("upstream-timeout"), "{body}");
}

#[test]
fn unreachable_upstream_is_502_without_details() {
    let (status, body) = call(
        &gateway(PROXY, test_env::env()),
        Request::get("/x/y").body(Body::empty()).expect("req"),
    );
    assert_eq!(status, 502);
    assert!(!body.contains("127.0.0.1"), "{body}");
}

/// Records the request it receives and answers 200 with a hop-by-hop header.
#[derive(Default)]
struct Record(Mutex<Option<Request<()>>>);
#[async_trait::async_trait]
impl HttpClient for Record {
    async fn send(
        &self,
        r: Request<Body>,
        _o: SendOptions,
    ) -> Result<Response<Body>, UpstreamError> {
        let (parts, _) = r.into_parts();
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Request::from_parts(parts, ()));
        Ok(Response::builder()
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .header("x-kept", "1")
            .body(Body::from("up"))
            .expect("response"))
    }
}

#[test]
fn upstream_gets_normalised_path_base_and_forwarding_headers() {
    let rec = Arc::new(Record::default());
    let mut env = test_env::env();
    env.http = rec.clone();
    let gw = gateway(PROXY, env);
    let req = Request::get("/x/a/./b//c?q=1")
        .header("host", "gw.test")
        .header("x-forwarded-for", "6.6.6.6")
        .header("connection", "x-secret")
        .header("x-secret", "1")
        .body(Body::empty())
        .expect("req");
    let resp = block_on(gw.handle(
        req,
        ClientInfo {
            peer: "203.0.113.7".parse().expect("ip"),
            tls: true,
        },
    ));
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-hop").is_none());
    assert!(resp.headers().get("x-kept").is_some());
    let seen = rec
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .expect("upstream called");
    assert_eq!(seen.uri(), "http://127.0.0.1:9/base/x/a/b/c?q=1");
    assert_eq!(seen.headers()["host"], "127.0.0.1:9");
    assert_eq!(seen.headers()["x-forwarded-for"], "203.0.113.7");
    assert_eq!(seen.headers()["x-forwarded-proto"], "https");
    assert_eq!(seen.headers()["x-forwarded-host"], "gw.test");
    assert!(seen.headers().get("x-secret").is_none());
}

/// The request future is moved by value several times per request (into
/// the server's task, its in-flight slot, each `.await`), so its size is
/// copied each time. The routes' rare branches (registry, purge, cache,
/// aggregation) are boxed to keep it near the plain proxy path's size; with
/// them inline it was over 9 KiB.
#[test]
fn the_request_future_stays_small() {
    let gw = gateway(
        "version: 1\nupstreams:\n  m:\n    mock: { status: 200 }\nroutes:\n  - { path: /x, upstream: m }\n",
        test_env::env(),
    );
    let req = Request::get("/x").body(Body::empty()).expect("request");
    let size = std::mem::size_of_val(&gw.handle(req, ClientInfo::default()));
    assert!(size < 8 * 1024, "Gateway::handle's future is {size} bytes");
}
