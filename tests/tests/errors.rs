//! Error answers: unreachable, slow, silent and broken upstreams; unknown
//! paths and methods. All are problem+json and leak nothing internal.

mod common;

use std::time::{Duration, Instant};

use anyhow::Result;
use common::{TestGateway, assert_problem, client, dead_port, fill};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ONE_ROUTE: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" UPSTREAM_EXTRA }
routes:
  - name: api
    path: /api/{*rest}
    upstream: backend
    ROUTE_EXTRA
"#;

fn config(upstream: &str, upstream_extra: &str, route_extra: &str) -> String {
    fill(
        ONE_ROUTE,
        &[
            ("UPSTREAM_EXTRA", upstream_extra),
            ("ROUTE_EXTRA", route_extra),
            ("UP", upstream),
        ],
    )
}

/// A listener that accepts connections, reads whatever comes and never answers.
async fn silent_upstream() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// A listener that answers every connection with bytes that are not HTTP.
async fn garbage_upstream() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"SSH-2.0-OpenSSH_9.6 secret-banner 10.9.8.7\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_is_502_without_details() -> Result<()> {
    let url = format!("http://127.0.0.1:{}", dead_port()?);
    let gw = TestGateway::start(&config(&url, "", "")).await?;

    let resp = client().get(gw.url("/api/x")).send().await?;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v = assert_problem(resp, 502, "bad-gateway").await?;
    let text = v.to_string().to_ascii_lowercase();
    for leak in ["127.0.0.1", "refused", "os error", "connect"] {
        assert!(!text.contains(leak), "problem leaks {leak:?}: {text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_past_the_route_timeout_is_504() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&up)
        .await;
    let gw = TestGateway::start(&config(&up.uri(), "", "timeout: 200ms")).await?;

    let started = Instant::now();
    let resp = client().get(gw.url("/api/slow")).send().await?;
    let took = started.elapsed();
    assert_problem(resp, 504, "upstream-timeout").await?;
    assert!(
        took >= Duration::from_millis(150),
        "answered too early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "timeout not applied: {took:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_timeout_applies_when_the_route_sets_none() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&up)
        .await;
    let gw = TestGateway::start(&config(&up.uri(), ", timeout: 200ms", "")).await?;

    let started = Instant::now();
    let resp = client().get(gw.url("/api/slow")).send().await?;
    assert_problem(resp, 504, "upstream-timeout").await?;
    assert!(started.elapsed() < Duration::from_secs(2));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_that_accepts_but_never_answers_is_504() -> Result<()> {
    let url = silent_upstream().await?;
    let gw = TestGateway::start(&config(&url, "", "timeout: 300ms")).await?;

    let started = Instant::now();
    let resp = client()
        .post(gw.url("/api/never"))
        .body("hello")
        .send()
        .await?;
    let took = started.elapsed();
    assert_problem(resp, 504, "upstream-timeout").await?;
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_speaking_garbage_is_502_without_its_text() -> Result<()> {
    let url = garbage_upstream().await?;
    let gw = TestGateway::start(&config(&url, "", "timeout: 2s")).await?;

    let resp = client().get(gw.url("/api/x")).send().await?;
    let v = assert_problem(resp, 502, "bad-gateway").await?;
    let text = v.to_string();
    assert!(
        !text.contains("SSH") && !text.contains("10.9.8.7"),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_path_is_404() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&config(&up.uri(), "", "")).await?;

    let resp = client().get(gw.url("/nothing/here")).send().await?;
    let v = assert_problem(resp, 404, "route-not-found").await?;
    assert_eq!(v["title"], "No route matches the request");
    assert!(common::received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_is_405_with_allow() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = fill(
        r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - path: /items
    methods: [POST, GET]
    upstream: backend
  - path: /items
    methods: [PUT]
    upstream: backend
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;

    let resp = client().delete(gw.url("/items")).send().await?;
    assert_eq!(resp.headers()["allow"], "GET, HEAD, POST, PUT");
    assert_problem(resp, 405, "method-not-allowed").await?;

    // GET routes answer HEAD too.
    let resp = client().head(gw.url("/items")).send().await?;
    assert_eq!(resp.status(), 200);
    let got = common::received(&up).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method.as_str(), "HEAD");
    Ok(())
}

/// A listener whose accept queue is full and never drained: new SYNs are
/// dropped, so a connect hangs until the caller's timeout.
async fn full_backlog_upstream() -> Result<(String, Vec<std::net::TcpStream>)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse()?)?;
    let listener = socket.listen(1)?;
    let addr = listener.local_addr()?;
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            fillers.push(s);
        }
    }
    // Keep the listener open without accepting.
    std::mem::forget(listener);
    Ok((format!("http://{addr}"), fillers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_is_504() -> Result<()> {
    let (url, _fillers) = full_backlog_upstream().await?;
    let gw = TestGateway::start(&config(&url, ", connect_timeout: 200ms", "")).await?;
    let started = Instant::now();
    let resp = client().get(gw.url("/api/x")).send().await?;
    let took = started.elapsed();
    assert_problem(resp, 504, "upstream-timeout").await?;
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "{took:?}"
    );
    Ok(())
}
