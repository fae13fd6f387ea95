//! Request limits over real sockets: URI length, header count and bytes,
//! declared and streamed body sizes, and slow heads and bodies.

mod common;

use std::time::{Duration, Instant};

use anyhow::Result;
use common::{TestGateway, client, closed_within, connect, fill, raw, read_response, received};
use tokio::io::AsyncWriteExt;
use wiremock::MockServer;

const CONFIG: &str = r#"
version: 1
server:
  limits:
    max_uri_bytes: 128
    max_header_count: 12
    max_header_bytes: 2KiB
    max_body_bytes: 64KiB
    header_read_timeout: 300ms
    body_idle_timeout: 300ms
upstreams:
  backend: { url: "UP" }
routes:
  - name: api
    path: /api/{*rest}
    upstream: backend
  - name: small
    path: /small/{*rest}
    upstream: backend
    max_body_bytes: 1KiB
  - name: sized
    path: /sized/{*rest}
    upstream: backend
    policies:
      - request_size: { max_bytes: 100 }
"#;

async fn setup() -> Result<(MockServer, TestGateway)> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&fill(CONFIG, &[("UP", &up.uri())])).await?;
    Ok((up, gw))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_uri_is_414() -> Result<()> {
    let (up, gw) = setup().await?;
    let at_limit = format!("/api/{}", "a".repeat(128 - 5));
    assert_eq!(common::raw_get(gw.addr(), &at_limit).await?.status, 200);

    let too_long = format!("/api/{}", "a".repeat(200));
    common::raw_get(gw.addr(), &too_long)
        .await?
        .assert_problem(414, "uri-too-long")?;
    // The query counts too.
    let long_query = format!("/api/x?{}", "q=1&".repeat(40));
    common::raw_get(gw.addr(), &long_query)
        .await?
        .assert_problem(414, "uri-too-long")?;
    assert_eq!(received(&up).await.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_headers_is_431() -> Result<()> {
    let (up, gw) = setup().await?;
    let mut req = String::from("GET /api/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n");
    for i in 0..15 {
        req.push_str(&format!("x-h{i}: v\r\n"));
    }
    req.push_str("\r\n");
    raw(gw.addr(), req.as_bytes())
        .await?
        .assert_problem(431, "headers-too-large")?;
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_header_bytes_is_431() -> Result<()> {
    let (up, gw) = setup().await?;
    let req = format!(
        "GET /api/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\nx-big: {}\r\n\r\n",
        "b".repeat(3000)
    );
    raw(gw.addr(), req.as_bytes())
        .await?
        .assert_problem(431, "headers-too-large")?;
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_beyond_the_connection_buffer_is_still_431() -> Result<()> {
    let (up, gw) = setup().await?;
    // Far past the gateway's own limit and past the HTTP/1 read buffer
    // (hyper answers this one itself).
    let req = format!(
        "GET /api/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\nx-huge: {}\r\n\r\n",
        "h".repeat(100 * 1024)
    );
    let mut s = connect(gw.addr()).await?;
    // The server may answer and close before reading all of it.
    let _ = s.write_all(req.as_bytes()).await;
    let resp = read_response(&mut s).await?;
    assert_eq!(resp.status, 431);
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_body_over_the_server_limit_is_413_before_the_body_is_sent() -> Result<()> {
    let (up, gw) = setup().await?;
    let mut s = connect(gw.addr()).await?;
    s.write_all(b"POST /api/upload HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 10000000\r\n\r\n")
        .await?;
    // Not one body byte is sent.
    let started = Instant::now();
    let resp = read_response(&mut s).await?;
    let v = resp.assert_problem(413, "body-too-large")?;
    assert_eq!(v["detail"], "The request body must not exceed 65536 bytes.");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_body_over_the_route_limit_is_413_before_the_body_is_sent() -> Result<()> {
    let (up, gw) = setup().await?;
    let mut s = connect(gw.addr()).await?;
    s.write_all(b"POST /small/upload HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 5000\r\n\r\n")
        .await?;
    let v = read_response(&mut s)
        .await?
        .assert_problem(413, "body-too-large")?;
    assert_eq!(v["detail"], "The request body must not exceed 1024 bytes.");
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_the_route_limit_is_413_and_never_reaches_the_upstream_whole()
-> Result<()> {
    let (up, gw) = setup().await?;
    let mut s = connect(gw.addr()).await?;
    s.write_all(
        b"POST /small/upload HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await?;
    let chunk = [b'c'; 512];
    for _ in 0..4 {
        // The gateway may answer (and stop reading) before the last chunk.
        if s.write_all(b"200\r\n").await.is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    read_response(&mut s)
        .await?
        .assert_problem(413, "body-too-large")?;
    for r in received(&up).await {
        assert!(
            r.body.len() <= 1024,
            "the upstream got {} bytes",
            r.body.len()
        );
    }

    // Within the limit, the same route streams fine.
    let mut s = connect(gw.addr()).await?;
    s.write_all(b"POST /small/upload HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n200\r\n")
        .await?;
    s.write_all(&chunk).await?;
    s.write_all(b"\r\n0\r\n\r\n").await?;
    assert_eq!(read_response(&mut s).await?.status, 200);
    assert!(received(&up).await.iter().any(|r| r.body.len() == 512));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_size_policy_sets_a_lower_limit() -> Result<()> {
    let (up, gw) = setup().await?;
    // Declared length over the policy's limit.
    let resp = client()
        .post(gw.url("/sized/x"))
        .body(vec![b'a'; 500])
        .send()
        .await?;
    let v = common::assert_problem(resp, 413, "body-too-large").await?;
    assert_eq!(v["detail"], "The request body must not exceed 100 bytes.");
    assert!(received(&up).await.is_empty());

    // No declared length: the limit holds while streaming.
    let mut s = connect(gw.addr()).await?;
    s.write_all(b"POST /sized/x HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await?;
    let _ = s
        .write_all(format!("1f4\r\n{}\r\n0\r\n\r\n", "a".repeat(500)).as_bytes())
        .await;
    read_response(&mut s)
        .await?
        .assert_problem(413, "body-too-large")?;
    assert!(received(&up).await.iter().all(|r| r.body.len() <= 100));

    // Within the limit.
    let resp = client()
        .post(gw.url("/sized/x"))
        .body(vec![b'a'; 100])
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert!(received(&up).await.iter().any(|r| r.body.len() == 100));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_request_head_gets_408() -> Result<()> {
    let (up, gw) = setup().await?;
    let mut s = connect(gw.addr()).await?;
    let started = Instant::now();
    s.write_all(b"GET /api/x HTTP/1.1\r\nHost: x\r\n").await?;
    let resp = read_response(&mut s).await?;
    let took = started.elapsed();
    assert!(
        resp.status_line.starts_with("HTTP/1.1 408"),
        "{}",
        resp.status_line
    );
    resp.assert_problem(408, "request-timeout")?;
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(took >= Duration::from_millis(250), "408 after {took:?}");
    assert!(took < Duration::from_secs(2), "408 after {took:?}");
    assert!(
        closed_within(&mut s, Duration::from_secs(2)).await,
        "connection left open"
    );
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_timely_head_and_an_idle_connection_are_served() -> Result<()> {
    let (_up, gw) = setup().await?;
    // Nothing sent yet: the head clock has not started.
    let mut s = connect(gw.addr()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Then a head in two parts, inside the timeout.
    s.write_all(b"GET /api/x HTTP/1.1\r\n").await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"Host: x\r\n\r\n").await?;
    assert_eq!(read_response(&mut s).await?.status, 200);
    // A keep-alive connection idle after a response is not answered 408 either.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.write_all(b"GET /api/y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    assert_eq!(read_response(&mut s).await?.status, 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_request_body_gets_408() -> Result<()> {
    let (up, gw) = setup().await?;
    let mut s = connect(gw.addr()).await?;
    s.write_all(b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await?;
    let started = Instant::now();
    let resp = read_response(&mut s).await?;
    let took = started.elapsed();
    resp.assert_problem(408, "request-timeout")?;
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "408 after {took:?}"
    );
    assert!(
        received(&up).await.is_empty(),
        "an incomplete body reached the upstream"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_with_an_oversized_body_gets_413_not_100() -> Result<()> {
    let (up, gw) = setup().await?;
    let mut s = connect(gw.addr()).await?;
    s.write_all(
        b"PUT /api/upload HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
    )
    .await?;
    let resp = read_response(&mut s).await?;
    resp.assert_problem(413, "body-too-large")?;
    assert!(received(&up).await.is_empty());
    Ok(())
}

/// `server.limits.max_body_bytes` is documented as a default that "routes
/// may lower or raise". A route that raises it must accept a larger body
/// whether its length is declared or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_may_raise_the_server_body_limit() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = fill(
        r#"
version: 1
server:
  limits: { max_body_bytes: 1KiB }
upstreams:
  backend: { url: "UP" }
routes:
  - path: /big/{*rest}
    upstream: backend
    max_body_bytes: 8KiB
  - path: /default/{*rest}
    upstream: backend
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;
    let body = "x".repeat(4096);

    // Without a declared length the route's limit applies.
    let mut s = connect(gw.addr()).await?;
    s.write_all(
        format!(
            "POST /big/chunked HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1000\r\n{body}\r\n0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    assert_eq!(
        read_response(&mut s).await?.status,
        200,
        "chunked 4 KiB on an 8 KiB route"
    );

    // The server default still holds on other routes.
    let resp = client()
        .post(gw.url("/default/x"))
        .body(body.clone())
        .send()
        .await?;
    common::assert_problem(resp, 413, "body-too-large").await?;

    // The same body with Content-Length on the raised route.
    let resp = client()
        .post(gw.url("/big/declared"))
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(
        resp.status(),
        200,
        "declared 4 KiB on an 8 KiB route: {}",
        resp.text().await?
    );
    Ok(())
}
