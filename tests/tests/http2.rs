//! HTTP/2 with prior knowledge (h2c) on the plain listener.

mod common;

use anyhow::Result;
use common::{TestGateway, client, fill, h2_client, received, values};

const CONFIG: &str = r#"
version: 1
upstreams:
  hello: { mock: { json: { message: hi } } }
  backend: { url: "UP" }
  keep: { url: "UP", preserve_host: true }
routes:
  - { path: /hello, methods: [GET], upstream: hello }
  - { path: "/api/{*rest}", upstream: backend }
  - { path: "/keep/{*rest}", upstream: keep }
  - path: /admin/{*rest}
    upstream: backend
    policies:
      - deny: {}
"#;

async fn setup() -> Result<(wiremock::MockServer, TestGateway)> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&fill(CONFIG, &[("UP", &up.uri())])).await?;
    Ok((up, gw))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_prior_knowledge_is_served() -> Result<()> {
    let (_up, gw) = setup().await?;
    let resp = h2_client().get(gw.url("/hello")).send().await?;
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert_eq!(common::json(resp).await?["message"], "hi");

    // Errors are the same problem+json over HTTP/2.
    let resp = h2_client().post(gw.url("/hello")).send().await?;
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    common::assert_problem(resp, 405, "method-not-allowed").await?;
    let resp = h2_client().get(gw.url("/admin/x")).send().await?;
    common::assert_problem(resp, 403, "access-denied").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_requests_are_proxied_over_http1_with_their_body() -> Result<()> {
    let (up, gw) = setup().await?;
    let c = h2_client();
    let body = vec![b'z'; 200 * 1024];
    let resp = c
        .post(gw.url("/api/upload?x=1"))
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await?, "ok");

    // Many concurrent streams on one connection.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (c, url) = (c.clone(), gw.url(&format!("/api/n/{i}")));
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await.map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await??, 200);
    }

    let got = received(&up).await;
    assert_eq!(got.len(), 21);
    let upload = got
        .iter()
        .find(|r| r.url.path() == "/api/upload")
        .expect("upload request");
    assert_eq!(upload.url.query(), Some("x=1"));
    assert!(upload.body == body);
    assert_eq!(values(&upload.headers, "host"), [up.address().to_string()]);
    assert_eq!(values(&upload.headers, "x-forwarded-for"), ["127.0.0.1"]);
    Ok(())
}

/// The client's authority reaches the upstream the same way whether the
/// client spoke HTTP/1.1 (`Host`) or HTTP/2 (`:authority`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_forwarded_host_matches_http1() -> Result<()> {
    let (up, gw) = setup().await?;
    let authority = gw.addr().to_string();
    assert_eq!(client().get(gw.url("/api/h1")).send().await?.status(), 200);
    assert_eq!(
        h2_client().get(gw.url("/api/h2")).send().await?.status(),
        200
    );

    let got = received(&up).await;
    let h1 = got
        .iter()
        .find(|r| r.url.path() == "/api/h1")
        .expect("h1 request");
    let h2 = got
        .iter()
        .find(|r| r.url.path() == "/api/h2")
        .expect("h2 request");
    assert_eq!(
        values(&h1.headers, "x-forwarded-host"),
        [authority.as_str()]
    );
    assert_eq!(
        values(&h1.headers, "forwarded"),
        [format!("for=127.0.0.1;proto=http;host=\"{authority}\"")]
    );
    assert_eq!(
        values(&h2.headers, "x-forwarded-host"),
        [authority.as_str()],
        "X-Forwarded-Host over HTTP/2"
    );
    assert_eq!(
        values(&h2.headers, "forwarded"),
        [format!("for=127.0.0.1;proto=http;host=\"{authority}\"")],
        "Forwarded over HTTP/2"
    );
    Ok(())
}

/// `preserve_host: true` forwards the client's authority for HTTP/2 clients
/// too, which send `:authority` and no `Host` header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_preserve_host_forwards_the_client_authority() -> Result<()> {
    let (up, gw) = setup().await?;
    let authority = gw.addr().to_string();
    assert_eq!(client().get(gw.url("/keep/h1")).send().await?.status(), 200);
    assert_eq!(
        h2_client().get(gw.url("/keep/h2")).send().await?.status(),
        200
    );

    let got = received(&up).await;
    let h1 = got
        .iter()
        .find(|r| r.url.path() == "/keep/h1")
        .expect("h1 request");
    let h2 = got
        .iter()
        .find(|r| r.url.path() == "/keep/h2")
        .expect("h2 request");
    assert_eq!(values(&h1.headers, "host"), [authority.as_str()]);
    assert_eq!(
        values(&h2.headers, "host"),
        [authority],
        "preserve_host over HTTP/2"
    );
    Ok(())
}

/// The HTTP/1 head timeout must leave HTTP/2 connections alone even when
/// the connection preface arrives in more than one read (TCP may split it).
/// Otherwise an HTTP/1.1 `408` is written into the middle of an HTTP/2
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_h2_preface_never_gets_an_http1_408() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let yaml = r#"
version: 1
server:
  limits: { header_read_timeout: 300ms }
upstreams:
  hello: { mock: { body: hi } }
routes:
  - { path: /hello, upstream: hello }
"#;
    let gw = TestGateway::start(yaml).await?;
    let mut s = common::connect(gw.addr()).await?;
    s.write_all(b"PRI * HT").await?;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    s.write_all(b"TP/2.0\r\n\r\nSM\r\n\r\n").await?;
    // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
    s.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await?;
    // The server answers with its own SETTINGS, which a client acknowledges
    // (SETTINGS with the ACK flag); the server sends nothing back to that.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < 9 {
        let n = tokio::time::timeout(common::RAW_DEADLINE, s.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "closed during the handshake");
        got.extend_from_slice(&buf[..n]);
    }
    // Let the server finish its side of the handshake (SETTINGS ACK,
    // WINDOW_UPDATE) so that nothing it writes races with the ACK below.
    while let Ok(Ok(n)) =
        tokio::time::timeout(std::time::Duration::from_millis(150), s.read(&mut buf)).await
    {
        anyhow::ensure!(n > 0, "closed during the handshake");
        got.extend_from_slice(&buf[..n]);
    }
    s.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).await?;

    // Read whatever the server sends for a while; the connection is idle.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1000);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    let http1 = got.windows(8).any(|w| w == b"HTTP/1.1");
    assert!(
        !http1,
        "HTTP/1.1 bytes inside an HTTP/2 connection: {:?}",
        String::from_utf8_lossy(&got)
    );
    // The server's first frame is its SETTINGS (type 4).
    assert!(got.len() >= 9 && got[3] == 4, "no SETTINGS frame: {got:?}");
    Ok(())
}
