//! Aggregation through the whole request path with fake environments:
//! merging, the concurrency cap, data passed between steps, failures,
//! timeouts, hostile values, and config validation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures_executor::block_on;
use http::{Request, Response};
use serde_json::{Value, json};

use crate::body::Body;
use crate::config::load_file_text;
use crate::env::{HttpClient, SendOptions, Sleep};
use crate::error::UpstreamError;
use crate::gateway::{ClientInfo, Gateway};
use crate::policy::PolicyRegistry;
use crate::test_env;

/// How the fake upstream answers one path.
#[derive(Clone)]
enum Answer {
    Json(u16, Value),
    Text(&'static str),
    Refuse,
    Hang,
}

/// A fake upstream: answers by path, records requests in arrival order,
/// and counts requests in flight. Unless `instant`, each request yields
/// once before it answers, so requests started together overlap.
#[derive(Default)]
struct Upstreams {
    answers: HashMap<String, Answer>,
    instant: bool,
    seen: Mutex<Vec<Request<()>>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Upstreams {
    fn with(answers: &[(&str, Answer)]) -> Arc<Self> {
        Arc::new(Self {
            answers: answers
                .iter()
                .map(|(p, a)| ((*p).to_owned(), a.clone()))
                .collect(),
            ..Self::default()
        })
    }

    /// Answers at once: only `Hang` is still pending when a sleep ends.
    fn instant(answers: &[(&str, Answer)]) -> Arc<Self> {
        let mut up = Arc::into_inner(Self::with(answers)).expect("sole owner");
        up.instant = true;
        Arc::new(up)
    }

    fn seen(&self) -> Vec<Request<()>> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn paths(&self) -> Vec<String> {
        self.seen().iter().map(|r| r.uri().to_string()).collect()
    }
}

/// Pending once, then ready: lets other futures run in between.
async fn yield_once() {
    let mut yielded = false;
    futures_util::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

#[async_trait::async_trait]
impl HttpClient for Upstreams {
    async fn send(
        &self,
        r: Request<Body>,
        _o: SendOptions,
    ) -> Result<Response<Body>, UpstreamError> {
        let (parts, _) = r.into_parts();
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Request::from_parts(parts, ()));
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if !self.instant {
            yield_once().await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let path = pq.split('?').next().unwrap_or_default();
        match self
            .answers
            .get(path)
            .cloned()
            .unwrap_or(Answer::Json(404, json!({})))
        {
            Answer::Json(status, v) => Ok(Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header("x-internal", "secret")
                .body(Body::from(v.to_string()))
                .expect("response")),
            Answer::Text(t) => Ok(Response::builder()
                .header("content-type", "text/html")
                .body(Body::from(t))
                .expect("response")),
            Answer::Refuse => Err(UpstreamError::Connect(Some(
                "connect to 10.9.8.7:80: connection refused".into(),
            ))),
            Answer::Hang => futures_util::future::pending().await,
        }
    }
}

/// Sleeps of the listed durations end at once; all others never do.
struct Expire(Vec<Duration>);
#[async_trait::async_trait]
impl Sleep for Expire {
    async fn sleep(&self, d: Duration) {
        if !self.0.contains(&d) {
            futures_util::future::pending::<()>().await;
        }
    }
}

const UPSTREAMS: &str = "version: 1\nupstreams:\n  a: { url: 'http://a.test/base' }\n  b: { url: 'http://b.test' }\n  canned: { mock: { json: { from: mock } } }\n  echo: { mock: { echo: true } }\n";

fn gateway(routes: &str, http: Arc<Upstreams>, sleeps: &[u64]) -> Gateway {
    let mut env = test_env::env();
    env.http = http;
    env.sleep = Arc::new(Expire(
        sleeps.iter().map(|s| Duration::from_secs(*s)).collect(),
    ));
    let yaml = format!("{UPSTREAMS}routes:\n{routes}");
    let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin()).expect("valid config");
    Gateway::new(cfg, env)
}

struct Answered {
    status: u16,
    headers: http::HeaderMap,
    json: Value,
}

fn get(gw: &Gateway, req: Request<Body>) -> Answered {
    let resp = block_on(gw.handle(req, ClientInfo::default()));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = block_on(resp.into_body().collect(1 << 20)).expect("body");
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Answered {
        status,
        headers,
        json,
    }
}

fn req(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", "gw.test")
        .body(Body::empty())
        .expect("request")
}

#[test]
fn key_merge_calls_each_backend_with_only_allowed_headers() {
    let up = Upstreams::with(&[
        ("/base/users/42", Answer::Json(200, json!({"id": 42}))),
        ("/orders", Answer::Json(200, json!([{"n": 1}]))),
    ]);
    let gw = gateway(
        r#"
  - path: /profile/{id}
    policies:
      - headers: { request: { set: { x-user: "{id}" } }, response: { set: { x-route: profile } } }
    aggregate:
      backends:
        - { name: user, upstream: a, path: "/users/{id}", headers: [authorization, x-user] }
        - { name: orders, upstream: b, path: "/orders?user={id}&limit={query.limit}" }
        - { name: static, upstream: canned, path: /anything }
"#,
        up.clone(),
        &[],
    );
    let r = Request::get("/profile/42?limit=5")
        .header("host", "gw.test")
        .header("authorization", "Bearer t")
        .header("cookie", "s=1")
        .body(Body::empty())
        .expect("request");
    let a = get(&gw, r);
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json,
        json!({"user": {"id": 42}, "orders": [{"n": 1}], "static": {"from": "mock"}})
    );
    assert_eq!(a.headers["content-type"], "application/json");
    // Route policies ran around the aggregate; backend headers do not leak.
    assert_eq!(a.headers["x-route"], "profile");
    assert!(a.headers.get("x-internal").is_none());
    assert!(a.headers.get("gateway-partial").is_none());
    let mut seen = up.seen();
    seen.sort_by_key(|r| r.uri().to_string());
    assert_eq!(seen[0].uri(), "http://a.test/base/users/42");
    assert_eq!(seen[1].uri(), "http://b.test/orders?user=42&limit=5");
    let user = seen[0].headers();
    assert_eq!(user["authorization"], "Bearer t");
    assert_eq!(user["x-user"], "42");
    assert_eq!(user["accept"], "application/json");
    assert_eq!(user["host"], "a.test");
    assert_eq!(user["x-forwarded-host"], "gw.test");
    assert!(user.get("cookie").is_none());
    let orders = seen[1].headers();
    assert!(orders.get("authorization").is_none());
    assert!(orders.get("x-user").is_none());
}

#[test]
fn concurrency_cap_is_enforced() {
    let backends: Vec<String> = (0..8)
        .map(|i| format!("{{ name: b{i}, upstream: a, path: /x/{i} }}"))
        .collect();
    let answers: Vec<(String, Answer)> = (0..8)
        .map(|i| (format!("/base/x/{i}"), Answer::Json(200, json!(i))))
        .collect();
    let answers: Vec<(&str, Answer)> = answers
        .iter()
        .map(|(p, a)| (p.as_str(), a.clone()))
        .collect();
    // 6 is the default.
    for (cap, setting) in [
        (3, "max_concurrency: 3, "),
        (6, ""),
        (1, "max_concurrency: 1, "),
    ] {
        let up = Upstreams::with(&answers);
        let routes = format!(
            "  - path: /all\n    aggregate: {{ {setting}backends: [{}] }}\n",
            backends.join(", ")
        );
        let a = get(&gateway(&routes, up.clone(), &[]), req("/all"));
        assert_eq!(a.status, 200);
        assert_eq!(a.json["b7"], 7);
        assert_eq!(up.seen().len(), 8, "every backend is called");
        assert_eq!(up.max_in_flight.load(Ordering::SeqCst), cap, "cap {cap}");
    }
}

#[test]
fn a_step_feeds_a_later_backend_and_independent_ones_run_alongside() {
    let up = Upstreams::with(&[
        (
            "/base/users/7",
            Answer::Json(200, json!({"team": {"id": "t 1"}, "n": 3})),
        ),
        ("/teams/t%201", Answer::Json(200, json!({"name": "core"}))),
        ("/news", Answer::Json(200, json!(["x"]))),
    ]);
    let gw = gateway(
        r#"
  - path: /u/{id}
    aggregate:
      backends:
        - { name: user, upstream: a, path: "/users/{id}" }
        - { name: team, upstream: b, path: "/teams/{steps.user.body/team/id}?n={steps.user.body/n}" }
        - { name: news, upstream: b, path: /news }
"#,
        up.clone(),
        &[],
    );
    let a = get(&gw, req("/u/7"));
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["team"], json!({"name": "core"}));
    assert_eq!(a.json["news"], json!(["x"]));
    // `user` and `news` start together; `team` only after `user` answered.
    assert_eq!(
        up.paths(),
        [
            "http://a.test/base/users/7",
            "http://b.test/news",
            "http://b.test/teams/t%201?n=3"
        ]
    );
}

#[test]
fn failures_become_problems_in_a_partial_answer() {
    let up = Upstreams::with(&[
        ("/base/ok", Answer::Json(200, json!({"fine": true}))),
        (
            "/base/down",
            Answer::Json(503, json!({"trace": "db at 10.1.1.1"})),
        ),
        ("/base/html", Answer::Text("<html>oops</html>")),
        ("/base/refused", Answer::Refuse),
        (
            "/base/bad-user",
            Answer::Json(200, json!({"id": "../admin"})),
        ),
    ]);
    let gw = gateway(
        r#"
  - path: /p
    aggregate:
      backends:
        - { name: ok, upstream: a, path: /ok }
        - { name: down, upstream: a, path: /down }
        - { name: html, upstream: a, path: /html }
        - { name: refused, upstream: a, path: /refused }
        - { name: bad-user, upstream: a, path: /bad-user }
        - { name: by-id, upstream: a, path: "/by/{steps.bad-user.body/id}" }
        - { name: after-refused, upstream: a, path: "/x/{steps.refused.body/id}" }
"#,
        up.clone(),
        &[],
    );
    let a = get(&gw, req("/p"));
    assert_eq!(a.status, 200);
    assert_eq!(
        a.headers["gateway-partial"],
        "down, html, refused, by-id, after-refused"
    );
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(a.json["ok"], json!({"fine": true}));
    assert_eq!(a.json["bad-user"], json!({"id": "../admin"}));
    let p = |kind: &str, title: &str, status: u16, backend: &str| json!({"type": format!("urn:gateway:problem:{kind}"), "title": title, "status": status, "backend": backend});
    assert_eq!(
        a.json["_errors"],
        json!([
            p(
                "backend-status",
                "Backend answered with an error status",
                503,
                "down"
            ),
            p(
                "backend-not-json",
                "Backend answer is not JSON",
                502,
                "html"
            ),
            p("bad-gateway", "Upstream failed", 502, "refused"),
            p(
                "backend-input-invalid",
                "A value for the backend request is missing or invalid",
                502,
                "by-id"
            ),
            p(
                "backend-dependency-failed",
                "A backend this one depends on failed",
                424,
                "after-refused"
            ),
        ])
    );
    let text = a.json.to_string();
    for leak in ["10.1.1.1", "10.9.8.7", "a.test", "oops", "/base"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    // The hostile value from `bad-user` never reached the upstream.
    assert!(up.paths().iter().all(|p| !p.contains("admin")));
}

#[test]
fn a_required_backend_or_on_error_fail_fails_the_whole_request() {
    let up = || {
        Upstreams::with(&[
            ("/base/ok", Answer::Json(200, json!({}))),
            ("/base/down", Answer::Json(500, json!({"secret": 1}))),
            ("/base/slow", Answer::Hang),
        ])
    };
    let required = r#"
  - path: /p
    aggregate:
      backends:
        - { name: ok, upstream: a, path: /ok }
        - { name: down, upstream: a, path: /down, required: true }
"#;
    let a = get(&gateway(required, up(), &[]), req("/p"));
    assert_eq!(a.status, 502);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    assert_eq!(a.json["type"], "urn:gateway:problem:bad-gateway");
    assert!(!a.json.to_string().contains("secret"));

    let fail = r#"
  - path: /p
    aggregate:
      on_error: fail
      backends:
        - { name: ok, upstream: a, path: /ok }
        - { name: down, upstream: a, path: /down }
"#;
    assert_eq!(get(&gateway(fail, up(), &[]), req("/p")).status, 502);

    let slow_required = r#"
  - path: /p
    aggregate:
      backends:
        - { name: ok, upstream: a, path: /ok }
        - { name: slow, upstream: a, path: /slow, timeout: 1s, required: true }
"#;
    let a = get(&gateway(slow_required, up(), &[1]), req("/p"));
    assert_eq!(a.status, 504);
    assert_eq!(a.json["type"], "urn:gateway:problem:upstream-timeout");
}

#[test]
fn timeouts_per_backend_and_for_the_whole_aggregate() {
    let up = || {
        Upstreams::instant(&[
            ("/base/ok", Answer::Json(200, json!({"v": 1}))),
            ("/base/slow", Answer::Hang),
        ])
    };
    // The slow backend's own 1s runs out; the deadline (30s) does not.
    let per_backend = r#"
  - path: /p
    aggregate:
      backends:
        - { name: ok, upstream: a, path: /ok }
        - { name: slow, upstream: a, path: /slow, timeout: 1s }
"#;
    let a = get(&gateway(per_backend, up(), &[1]), req("/p"));
    assert_eq!(a.status, 200);
    assert_eq!(a.json["ok"], json!({"v": 1}));
    assert_eq!(a.json["_errors"][0]["status"], 504);
    assert_eq!(a.json["_errors"][0]["backend"], "slow");
    assert_eq!(a.headers["gateway-partial"], "slow");

    // The aggregate's 2s deadline ends what is still running (and what waits).
    let deadline = r#"
  - path: /p
    aggregate:
      timeout: 2s
      backends:
        - { name: ok, upstream: a, path: /ok }
        - { name: slow, upstream: a, path: /slow }
        - { name: after, upstream: a, path: "/ok/{steps.slow.body/id}" }
"#;
    let a = get(&gateway(deadline, up(), &[2]), req("/p"));
    assert_eq!(a.status, 200);
    assert_eq!(a.json["ok"], json!({"v": 1}));
    assert_eq!(a.headers["gateway-partial"], "slow, after");
    let statuses: Vec<&Value> = a.json["_errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["status"])
        .collect();
    assert_eq!(statuses, [504, 504]);
}

#[test]
fn hostile_client_values_are_refused_or_encoded() {
    let up = Upstreams::with(&[]);
    let gw = gateway(
        r#"
  - path: /h/{id}
    aggregate:
      backends:
        - { name: u, upstream: a, path: "/users/{id}?q={query.q}" }
        - { name: f, upstream: a, path: "/find/{query.name}" }
"#,
        up.clone(),
        &[],
    );
    // Each value stays one segment (or one query value).
    get(
        &gw,
        req("/h/a%3Fx=1%23y?q=a%26admin%3D1&name=%40evil.test%3A81"),
    );
    let mut paths = up.paths();
    paths.sort();
    assert_eq!(
        paths,
        [
            "http://a.test/base/find/%40evil.test%3A81",
            "http://a.test/base/users/a%3Fx%3D1%23y?q=a%26admin%3D1"
        ]
    );
    // Values that would add or remove segments are a 400 before any call.
    for bad in ["..", "a%2F..%2Fadmin", "..%5Cadmin", "%0d%0aX"] {
        let a = get(&gw, req(&format!("/h/1?name={bad}")));
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(a.json["type"], "urn:gateway:problem:invalid-path");
    }
}

#[test]
fn merge_strategies_with_select() {
    let up = Upstreams::with(&[
        (
            "/base/a",
            Answer::Json(200, json!({"data": [1, 2], "meta": {"x": 1}})),
        ),
        (
            "/base/b",
            Answer::Json(200, json!({"data": [3], "meta": {"y": 2}})),
        ),
        (
            "/base/c",
            Answer::Json(200, json!({"data": {"not": "a list"}})),
        ),
    ]);
    let gw = gateway(
        r#"
  - path: /concat
    aggregate:
      merge: { concat: /items }
      backends:
        - { name: a, upstream: a, path: /a, select: /data }
        - { name: b, upstream: a, path: /b, select: /data }
        - { name: c, upstream: a, path: /c, select: /data }
  - path: /deep
    aggregate:
      merge: deep
      backends:
        - { name: a, upstream: a, path: /a, select: /meta }
        - { name: b, upstream: a, path: /b, select: /meta }
  - path: /map
    aggregate:
      merge:
        map:
          - { backend: a, from: /data/0, to: /first }
          - { backend: b, from: /meta, to: /meta/b }
          - { backend: b, to: /whole }
      backends:
        - { name: a, upstream: a, path: /a }
        - { name: b, upstream: a, path: /b }
"#,
        up,
        &[],
    );
    let a = get(&gw, req("/concat"));
    assert_eq!(a.json["items"], json!([1, 2, 3]));
    assert_eq!(
        a.json["_errors"][0]["type"],
        "urn:gateway:problem:backend-unexpected-shape"
    );
    assert_eq!(a.json["_errors"][0]["backend"], "c");
    assert_eq!(get(&gw, req("/deep")).json, json!({"x": 1, "y": 2}));
    assert_eq!(
        get(&gw, req("/map")).json,
        json!({"first": 1, "meta": {"b": {"y": 2}}, "whole": {"data": [3], "meta": {"y": 2}}})
    );
}

#[test]
fn mock_upstreams_answer_through_aggregation() {
    let gw = gateway(
        r#"
  - path: /m/{id}
    aggregate:
      backends:
        - { name: echo, upstream: echo, path: "/e/{id}", method: post, headers: [x-a] }
        - { name: canned, upstream: canned, path: /c }
"#,
        Upstreams::with(&[]),
        &[],
    );
    let r = Request::get("/m/a%20b")
        .header("host", "gw.test")
        .header("x-a", "1")
        .header("x-b", "2")
        .body(Body::empty())
        .expect("request");
    let a = get(&gw, r);
    assert_eq!(a.status, 200);
    assert_eq!(a.json["canned"], json!({"from": "mock"}));
    assert_eq!(a.json["echo"]["path"], "/e/a%20b");
    assert_eq!(a.json["echo"]["method"], "POST");
    assert_eq!(a.json["echo"]["headers"]["x-a"], "1");
    assert!(a.json["echo"]["headers"].get("x-b").is_none());
}

#[test]
fn the_client_body_goes_only_where_asked() {
    let gw = gateway(
        r#"
  - path: /b
    methods: [POST]
    aggregate:
      backends:
        - { name: with, upstream: echo, path: /w, method: POST, body: true }
        - { name: without, upstream: echo, path: /wo, method: POST }
"#,
        Upstreams::with(&[]),
        &[],
    );
    let r = Request::post("/b")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"q":1}"#))
        .expect("request");
    let a = get(&gw, r);
    assert_eq!(a.json["with"]["headers"]["content-length"], "7");
    assert_eq!(
        a.json["with"]["headers"]["content-type"],
        "application/json"
    );
    assert!(a.json["without"]["headers"].get("content-type").is_none());
}

fn problems(routes: &str) -> Vec<String> {
    let yaml = format!("{UPSTREAMS}routes:\n{routes}");
    let err = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin()).expect_err("refused");
    err.problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect()
}

#[test]
fn bad_aggregate_configs_name_each_problem() {
    let got = problems(
        r#"
  - path: /x/{id}/{*rest}
    aggregate:
      max_concurrency: 0
      merge: { map: [{ backend: nope, to: /_errors/x }, { backend: a, from: data, to: "" }] }
      backends:
        - { name: a, upstream: missing, path: "/u/{id}", headers: [host, x-ok, x-ok] }
        - { name: a, upstream: a, path: "/f/{rest}", method: "G T" }
        - { name: _x, upstream: a, path: "/t/{steps.later.body/id}", select: "id", timeout: 0s }
        - { name: later, upstream: a, path: nope }
"#,
    );
    let want = [
        "routes[0].aggregate.backends[0].upstream: unknown upstream `missing`; defined upstreams: a, b, canned, echo",
        "routes[0].aggregate.backends[0].headers[0]: `host` belongs to one connection or is set by the gateway",
        "routes[0].aggregate.backends[0].headers[2]: `x-ok` is listed twice",
        "routes[0].aggregate.backends[1].name: backend `a` is listed twice",
        "routes[0].aggregate.backends[1].path: `{rest}` is a catch-all and may span several segments; a backend path takes one segment per value",
        "routes[0].aggregate.backends[1].method: `G T` is not an HTTP method",
        "routes[0].aggregate.backends[2].name: use letters, digits, `-` and `_`, not starting with `_`",
        "routes[0].aggregate.backends[2].path: `{steps.later.body/id}`: no backend `later` is listed before this one (a, a)",
        "routes[0].aggregate.backends[2].timeout: must be more than 0",
        "routes[0].aggregate.backends[2].select: `id` is not a JSON pointer below the root (e.g. `/user/name`)",
        "routes[0].aggregate.backends[3].path: the path must start with `/`",
        "routes[0].aggregate.merge.map[0].backend: no backend `nope`; backends: a, a, _x, later",
        "routes[0].aggregate.merge.map[0].to: `/_errors` is where the gateway lists failed backends",
        "routes[0].aggregate.merge.map[1].from: `data` is not a JSON pointer (e.g. `/data/items`)",
        "routes[0].aggregate.merge.map[1].to: `` is not a JSON pointer below the root (e.g. `/user/name`)",
        "routes[0].aggregate.max_concurrency: must be at least 1",
    ];
    assert_eq!(got, want);
    assert_eq!(
        problems("  - { path: /x, upstream: a, aggregate: { backends: [] } }\n  - { path: /y }\n"),
        [
            "routes[0]: give either `upstream` or `aggregate`, not both",
            "routes[1]: a route needs `upstream` (an upstream's name) or `aggregate`",
        ]
    );
    assert_eq!(
        problems(
            "  - path: /x\n    aggregate: { backends: [{ name: a, upstream: a, path: /a }] }\n    versioning: { from: header, versions: { v1: { upstream: a } } }\n"
        ),
        [
            "routes[0].versioning.versions.v1: an aggregate route's versions cannot set `upstream` or `path`"
        ]
    );
}
