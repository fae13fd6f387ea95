//! Aggregation through the local server: several wiremock upstreams merged
//! into one answer, steps feeding later requests, partial failure with
//! problem details, required failures, timeouts, hostile values, and the
//! concurrency cap as the upstream sees it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Result;
use common::{
    TestGateway, assert_problem, client, dead_port, fill, json, path_and_query, received, value,
    without_request_id,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Barrier;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn json_upstream(routes: &[(&str, serde_json::Value)]) -> MockServer {
    let server = MockServer::start().await;
    for (p, body) in routes {
        Mock::given(method("GET"))
            .and(path(*p))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    server
}

const PROFILE: &str = r#"
version: 1
upstreams:
  users: { url: "USERS/v1" }
  orders: { url: "ORDERS" }
  teams: { url: "TEAMS" }
routes:
  - path: /profile/{id}
    policies:
      - headers: { request: { set: { x-user: "{id}" } }, response: { set: { x-aggregated: "yes" } } }
    aggregate:
      backends:
        - { name: user, upstream: users, path: "/users/{id}", headers: [authorization, x-user], required: true }
        - { name: orders, upstream: orders, path: "/orders?user={id}&limit={query.limit}" }
        - { name: team, upstream: teams, path: "/teams/{steps.user.body/team_id}" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_from_several_upstreams_are_merged_by_key() -> Result<()> {
    let users = json_upstream(&[("/v1/users/7", json!({"id": 7, "team_id": "core"}))]).await;
    let orders = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orders"))
        .and(query_param("user", "7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"order": 1}])))
        .mount(&orders)
        .await;
    let teams = json_upstream(&[("/teams/core", json!({"name": "Core team"}))]).await;
    let gw = TestGateway::start(&fill(
        PROFILE,
        &[
            ("USERS", &users.uri()),
            ("ORDERS", &orders.uri()),
            ("TEAMS", &teams.uri()),
        ],
    ))
    .await?;

    let resp = client()
        .get(gw.url("/profile/7?limit=3"))
        .header("authorization", "Bearer abc")
        .header("cookie", "session=1")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        value(resp.headers(), "x-aggregated").as_deref(),
        Some("yes")
    );
    assert_eq!(
        value(resp.headers(), "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(value(resp.headers(), "gateway-partial"), None);
    assert_eq!(
        json(resp).await?,
        json!({"user": {"id": 7, "team_id": "core"}, "orders": [{"order": 1}], "team": {"name": "Core team"}})
    );

    let got = received(&users).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        value(&got[0].headers, "authorization").as_deref(),
        Some("Bearer abc")
    );
    assert_eq!(value(&got[0].headers, "x-user").as_deref(), Some("7"));
    assert_eq!(
        value(&got[0].headers, "accept").as_deref(),
        Some("application/json")
    );
    assert_eq!(value(&got[0].headers, "cookie"), None);
    let got = received(&orders).await;
    assert_eq!(path_and_query(&got[0]), "/orders?user=7&limit=3");
    assert_eq!(value(&got[0].headers, "authorization"), None);
    assert_eq!(received(&teams).await.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_backends_give_a_partial_answer_with_problem_details() -> Result<()> {
    let up = json_upstream(&[("/a", json!({"fine": true}))]).await;
    Mock::given(path("/broken"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string("Traceback: db at 10.20.30.40 failed"),
        )
        .mount(&up)
        .await;
    Mock::given(path("/html"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<h1>hi</h1>", "text/html"))
        .mount(&up)
        .await;
    let dead = format!("http://127.0.0.1:{}", dead_port()?);
    let yaml = fill(
        r#"
version: 1
upstreams:
  up: { url: "UP" }
  dead: { url: "DEAD", connect_timeout: 1s }
routes:
  - path: /p
    aggregate:
      backends:
        - { name: a, upstream: up, path: /a }
        - { name: broken, upstream: up, path: /broken }
        - { name: html, upstream: up, path: /html }
        - { name: gone, upstream: dead, path: /x }
"#,
        &[("UP", &up.uri()), ("DEAD", &dead)],
    );
    let gw = TestGateway::start(&yaml).await?;

    let resp = client().get(gw.url("/p")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        value(resp.headers(), "gateway-partial").as_deref(),
        Some("broken, html, gone")
    );
    assert_eq!(
        value(resp.headers(), "cache-control").as_deref(),
        Some("no-store")
    );
    let doc = json(resp).await?;
    assert_eq!(doc["a"], json!({"fine": true}));
    assert_eq!(
        doc["_errors"],
        json!([
            {"type": "urn:gateway:problem:backend-status", "title": "Backend answered with an error status", "status": 500, "backend": "broken"},
            {"type": "urn:gateway:problem:backend-not-json", "title": "Backend answer is not JSON", "status": 502, "backend": "html"},
            {"type": "urn:gateway:problem:bad-gateway", "title": "Upstream failed", "status": 502, "backend": "gone"},
        ])
    );
    let text = doc.to_string();
    for leak in ["10.20.30.40", "Traceback", "127.0.0.1", "<h1>"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_backend_failing_fails_the_request_with_502() -> Result<()> {
    let up = json_upstream(&[("/a", json!({}))]).await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance on host db7"))
        .mount(&up)
        .await;
    let yaml = fill(
        r#"
version: 1
upstreams:
  up: { url: "UP" }
routes:
  - path: /required
    aggregate:
      backends:
        - { name: a, upstream: up, path: /a }
        - { name: down, upstream: up, path: /down, required: true }
  - path: /strict
    aggregate:
      on_error: fail
      backends:
        - { name: a, upstream: up, path: /a }
        - { name: down, upstream: up, path: /down }
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;
    for p in ["/required", "/strict"] {
        let doc = assert_problem(client().get(gw.url(p)).send().await?, 502, "bad-gateway").await?;
        assert!(!without_request_id(doc).to_string().contains("db7"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_504_in_the_document_or_for_the_whole_request() -> Result<()> {
    let up = json_upstream(&[("/fast", json!({"v": 1}))]).await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&up)
        .await;
    let yaml = fill(
        r#"
version: 1
upstreams:
  up: { url: "UP" }
routes:
  - path: /per-backend
    aggregate:
      backends:
        - { name: fast, upstream: up, path: /fast }
        - { name: slow, upstream: up, path: /slow, timeout: 200ms }
  - path: /required
    aggregate:
      backends:
        - { name: fast, upstream: up, path: /fast }
        - { name: slow, upstream: up, path: /slow, timeout: 200ms, required: true }
  - path: /deadline
    aggregate:
      timeout: 300ms
      backends:
        - { name: fast, upstream: up, path: /fast }
        - { name: slow, upstream: up, path: /slow }
        - { name: slower, upstream: up, path: /slow }
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;

    let resp = client().get(gw.url("/per-backend")).send().await?;
    assert_eq!(resp.status(), 200);
    let doc = json(resp).await?;
    assert_eq!(doc["fast"], json!({"v": 1}));
    assert_eq!(
        doc["_errors"],
        json!([{"type": "urn:gateway:problem:upstream-timeout", "title": "Upstream timed out", "status": 504, "backend": "slow"}])
    );

    assert_problem(
        client().get(gw.url("/required")).send().await?,
        504,
        "upstream-timeout",
    )
    .await?;

    let resp = client().get(gw.url("/deadline")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        value(resp.headers(), "gateway-partial").as_deref(),
        Some("slow, slower")
    );
    let doc = json(resp).await?;
    assert_eq!(doc["fast"], json!({"v": 1}));
    assert_eq!(doc["_errors"][0]["status"], 504);
    assert_eq!(doc["_errors"][1]["status"], 504);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_cannot_change_the_backend_target() -> Result<()> {
    let users = json_upstream(&[
        ("/users/evil", json!({"team_id": "../../admin"})),
        ("/users/odd", json!({"team_id": "t?x=1#frag"})),
    ])
    .await;
    let teams = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&teams)
        .await;
    let yaml = fill(
        r#"
version: 1
upstreams:
  users: { url: "USERS" }
  teams: { url: "TEAMS" }
routes:
  - path: /t/{id}
    aggregate:
      backends:
        - { name: user, upstream: users, path: "/users/{id}" }
        - { name: team, upstream: teams, path: "/teams/{steps.user.body/team_id}" }
        - { name: search, upstream: teams, path: "/search/{query.name}?q={query.q}" }
"#,
        &[("USERS", &users.uri()), ("TEAMS", &teams.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;

    // A value taken from an answer that would climb out of its segment: the
    // dependent backend is not called and is listed as failed.
    let resp = client().get(gw.url("/t/evil?name=x")).send().await?;
    let doc = json(resp).await?;
    assert_eq!(doc["_errors"][0]["backend"], "team");
    assert_eq!(
        doc["_errors"][0]["type"],
        "urn:gateway:problem:backend-input-invalid"
    );
    // Characters that would start a query or a fragment stay in the segment.
    let resp = client()
        .get(gw.url("/t/odd?name=%40evil.test%3A1&q=a%26admin%3Dtrue"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let mut paths: Vec<String> = received(&teams).await.iter().map(path_and_query).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/search/%40evil.test%3A1?q=a%26admin%3Dtrue",
            "/search/x?q=",
            "/teams/t%3Fx%3D1%23frag"
        ]
    );
    // A client value that would add segments is refused before any call.
    for bad in ["..", "a%2F..%2Fadmin", "%5C..%5Cadmin"] {
        let before = received(&users).await.len();
        let resp = client()
            .get(gw.url(&format!("/t/1?name={bad}")))
            .send()
            .await?;
        assert_problem(resp, 400, "invalid-path").await?;
        assert_eq!(
            received(&users).await.len(),
            before,
            "no backend was called"
        );
    }
    Ok(())
}

/// An upstream that counts the requests it holds at once. Each request
/// waits at a barrier for `group` requests (bounded at 5 s) and is then
/// held 100 ms more, so a gateway that sends `group` at a time is answered
/// in groups, one that sends fewer never reaches `group`, and one that
/// sends more is seen doing so.
struct Counting {
    in_flight: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
}

async fn counting_upstream(group: usize) -> Result<(SocketAddr, Arc<Counting>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counting = Arc::new(Counting {
        in_flight: AtomicUsize::new(0),
        max: AtomicUsize::new(0),
        total: AtomicUsize::new(0),
    });
    let barrier = Arc::new(Barrier::new(group));
    let c = counting.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (c, barrier) = (c.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    // One request head at a time (GET, no body), keep-alive.
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
                    buf.drain(..end);
                    let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    c.max.fetch_max(now, Ordering::SeqCst);
                    c.total.fetch_add(1, Ordering::SeqCst);
                    let _ = tokio::time::timeout(Duration::from_secs(5), barrier.wait()).await;
                    // Hold the group a moment, so that requests a gateway
                    // sent beyond the cap arrive while it is still counted.
                    // (A gateway within the cap passes however long this is.)
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    // Leave the count before answering: the gateway may send
                    // the next request as soon as it has this answer.
                    c.in_flight.fetch_sub(1, Ordering::SeqCst);
                    let body = r#"{"ok":true}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    if stream
                        .write_all(format!("{head}{body}").as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Ok((addr, counting))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_never_sees_more_requests_at_once_than_the_cap() -> Result<()> {
    for (backends, cap_setting, cap) in [(6, "max_concurrency: 2,", 2), (12, "", 6)] {
        let (addr, counting) = counting_upstream(cap).await?;
        let list: Vec<String> = (0..backends)
            .map(|i| format!("{{ name: b{i}, upstream: up, path: /item/{i} }}"))
            .collect();
        let yaml = format!(
            "version: 1\nupstreams:\n  up: {{ url: 'http://{addr}' }}\nroutes:\n  - path: /all\n    aggregate: {{ {cap_setting} backends: [{}] }}\n",
            list.join(", ")
        );
        let gw = TestGateway::start(&yaml).await?;
        let resp = client().get(gw.url("/all")).send().await?;
        assert_eq!(resp.status(), 200);
        let doc = json(resp).await?;
        assert_eq!(
            doc[format!("b{}", backends - 1)],
            json!({"ok": true}),
            "{doc}"
        );
        assert!(doc.get("_errors").is_none(), "{doc}");
        assert_eq!(counting.total.load(Ordering::SeqCst), backends);
        assert_eq!(counting.max.load(Ordering::SeqCst), cap, "cap {cap}");
        gw.shutdown().await;
    }
    Ok(())
}
