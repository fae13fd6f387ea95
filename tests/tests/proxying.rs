//! Proxying to real upstreams: paths, bodies, response pass-through,
//! hop-by-hop headers, forwarding headers and `Host`.

mod common;

use anyhow::Result;
use common::{TestGateway, client, fill, path_and_query, raw, received, value, values};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SIMPLE: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - name: api
    path: /api/{*rest}
    upstream: backend
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_and_query_are_appended_to_the_upstream_base_path() -> Result<()> {
    let up = common::ok_upstream().await;
    let base = format!("{}/base", up.uri());
    let gw = TestGateway::start(&fill(SIMPLE, &[("UP", &base)])).await?;

    let resp = client()
        .get(gw.url("/api/users/7?x=1&y=two%20words"))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await?, "ok");

    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        path_and_query(&got[0]),
        "/base/api/users/7?x=1&y=two%20words"
    );
    assert_eq!(got[0].method.as_str(), "GET");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_mebibyte_body_arrives_intact() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/upload"))
        .respond_with(ResponseTemplate::new(201).set_body_string("stored"))
        .mount(&up)
        .await;
    let gw = TestGateway::start(&fill(SIMPLE, &[("UP", &up.uri())])).await?;

    let body: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let resp = client()
        .post(gw.url("/api/upload"))
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.text().await?, "stored");

    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body.len(), body.len());
    assert!(got[0].body == body, "the body changed on the way");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_is_streamed_through() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&fill(SIMPLE, &[("UP", &up.uri())])).await?;

    let chunk: Vec<u8> = (0..64 * 1024).map(|i: u32| (i % 199) as u8).collect();
    let mut s = common::connect(gw.addr()).await?;
    s.write_all(b"POST /api/stream HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await?;
    for _ in 0..16 {
        s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await?;
        s.write_all(&chunk).await?;
        s.write_all(b"\r\n").await?;
    }
    s.write_all(b"0\r\n\r\n").await?;
    let resp = common::read_response(&mut s).await?;
    assert_eq!(resp.status, 200);

    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body.len(), 16 * chunk.len());
    assert!(
        got[0]
            .body
            .chunks(chunk.len())
            .all(|c| c == chunk.as_slice())
    );
    assert!(value(&got[0].headers, "transfer-encoding").is_none_or(|te| te == "chunked"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_status_headers_and_body_pass_back() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("x-upstream", "yes")
                .append_header("set-cookie", "a=1")
                .append_header("set-cookie", "b=2")
                .set_body_raw("accepted for later", "text/plain; charset=utf-8"),
        )
        .mount(&up)
        .await;
    let gw = TestGateway::start(&fill(SIMPLE, &[("UP", &up.uri())])).await?;

    let resp = client().get(gw.url("/api/jobs")).send().await?;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.headers()["x-upstream"], "yes");
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(values(resp.headers(), "set-cookie"), ["a=1", "b=2"]);
    assert_eq!(resp.text().await?, "accepted for later");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_request_headers_are_not_forwarded() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&fill(SIMPLE, &[("UP", &up.uri())])).await?;

    let req = "GET /api/hop HTTP/1.1\r\n\
        Host: gw.test\r\n\
        Connection: keep-alive, X-Secret-Hop\r\n\
        Keep-Alive: timeout=5\r\n\
        TE: trailers\r\n\
        Upgrade: websocket\r\n\
        Proxy-Authorization: Basic Zm9vOmJhcg==\r\n\
        Proxy-Connection: keep-alive\r\n\
        X-Secret-Hop: 1\r\n\
        X-Kept: yes\r\n\
        \r\n";
    let resp = raw(gw.addr(), req.as_bytes()).await?;
    assert_eq!(resp.status, 200);

    let got = received(&up).await;
    assert_eq!(got.len(), 1);
    let h = &got[0].headers;
    for name in [
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "x-secret-hop",
    ] {
        assert!(h.get(name).is_none(), "{name} reached the upstream: {h:?}");
    }
    // The gateway's own connection to the upstream may say keep-alive, but
    // never what the client put there.
    assert!(
        values(h, "connection")
            .iter()
            .all(|c| !c.to_ascii_lowercase().contains("x-secret-hop"))
    );
    assert_eq!(value(h, "x-kept").as_deref(), Some("yes"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_response_headers_are_not_returned() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("connection", "x-resp-hop")
                .insert_header("keep-alive", "timeout=30")
                .insert_header("x-resp-hop", "1")
                .insert_header("proxy-authenticate", "Basic realm=\"up\"")
                .insert_header("trailer", "x-checksum")
                .insert_header("x-kept", "yes")
                .set_body_string("body"),
        )
        .mount(&up)
        .await;
    let gw = TestGateway::start(&fill(SIMPLE, &[("UP", &up.uri())])).await?;

    let resp = raw(gw.addr(), b"GET /api/x HTTP/1.1\r\nHost: gw.test\r\n\r\n").await?;
    assert_eq!(resp.status, 200);
    for name in [
        "connection",
        "keep-alive",
        "x-resp-hop",
        "proxy-authenticate",
        "trailer",
    ] {
        assert!(
            resp.header(name).is_none(),
            "{name} reached the client: {:?}",
            resp.headers
        );
    }
    assert_eq!(resp.header("x-kept"), Some("yes"));
    assert_eq!(resp.body, b"body");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_replace_what_an_untrusted_client_sent() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&fill(SIMPLE, &[("UP", &up.uri())])).await?;

    let resp = client()
        .get(gw.url("/api/who"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.test")
        .header("forwarded", "for=6.6.6.6;proto=https")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);

    let got = received(&up).await;
    let h = &got[0].headers;
    let authority = gw.addr().to_string();
    assert_eq!(values(h, "x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(values(h, "x-forwarded-proto"), ["http"]);
    assert_eq!(values(h, "x-forwarded-host"), [authority.as_str()]);
    assert_eq!(
        values(h, "forwarded"),
        [format!("for=127.0.0.1;proto=http;host=\"{authority}\"")]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_extend_the_chain_of_a_trusted_proxy() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = fill(
        r#"
version: 1
server:
  trusted_proxies: [127.0.0.1]
upstreams:
  backend: { url: "UP" }
routes:
  - path: /api/{*rest}
    upstream: backend
    policies:
      - headers: { request: { set: { x-client-ip: "{client_ip}" } } }
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;

    let resp = client()
        .get(gw.url("/api/who"))
        .header("x-forwarded-for", "198.51.100.7")
        .header("x-forwarded-proto", "https")
        .header("forwarded", "for=198.51.100.7;proto=https")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);

    let got = received(&up).await;
    let h = &got[0].headers;
    let authority = gw.addr().to_string();
    assert_eq!(values(h, "x-forwarded-for"), ["198.51.100.7, 127.0.0.1"]);
    // What the trusted proxy said about the original scheme is kept.
    assert_eq!(values(h, "x-forwarded-proto"), ["https"]);
    assert_eq!(
        values(h, "forwarded"),
        [format!(
            "for=198.51.100.7;proto=https, for=127.0.0.1;proto=http;host=\"{authority}\""
        )]
    );
    // The client address is taken from the chain.
    assert_eq!(values(h, "x-client-ip"), ["198.51.100.7"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_host_is_sent_unless_preserve_host() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = fill(
        r#"
version: 1
upstreams:
  plain: { url: "UP" }
  keep: { url: "UP", preserve_host: true }
routes:
  - path: /plain/{*rest}
    upstream: plain
  - path: /keep/{*rest}
    upstream: keep
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;

    for p in ["/plain/x", "/keep/x"] {
        let req =
            format!("GET {p} HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n");
        assert_eq!(raw(gw.addr(), req.as_bytes()).await?.status, 200);
    }

    let got = received(&up).await;
    assert_eq!(got.len(), 2);
    let upstream_authority = up.address().to_string();
    let plain = got
        .iter()
        .find(|r| r.url.path() == "/plain/x")
        .expect("plain request");
    let keep = got
        .iter()
        .find(|r| r.url.path() == "/keep/x")
        .expect("keep request");
    assert_eq!(values(&plain.headers, "host"), [upstream_authority]);
    assert_eq!(values(&keep.headers, "host"), ["api.example.test"]);
    // The original host is still reported either way.
    assert_eq!(
        values(&plain.headers, "x-forwarded-host"),
        ["api.example.test"]
    );
    Ok(())
}

/// A trusted proxy may send its chain as several `X-Forwarded-For` lines
/// (RFC 9110 §5.3: same as one comma-joined line). The chain sent upstream
/// must keep every hop, as the client-address rule does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_chain_over_several_header_lines_is_kept_whole() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = fill(
        r#"
version: 1
server:
  trusted_proxies: [127.0.0.1]
upstreams:
  backend: { url: "UP" }
routes:
  - path: /api/{*rest}
    upstream: backend
    policies:
      - headers: { request: { set: { x-client-ip: "{client_ip}" } } }
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;
    let req = "GET /api/who HTTP/1.1\r\n\
        Host: gw.test\r\n\
        X-Forwarded-For: 198.51.100.1\r\n\
        X-Forwarded-For: 203.0.113.2\r\n\
        Connection: close\r\n\
        \r\n";
    assert_eq!(raw(gw.addr(), req.as_bytes()).await?.status, 200);

    let got = received(&up).await;
    let h = &got[0].headers;
    // The gateway itself took the client from the whole chain...
    assert_eq!(values(h, "x-client-ip"), ["203.0.113.2"]);
    // ...and the upstream must see that same chain, plus the peer.
    let chain = values(h, "x-forwarded-for").join(", ");
    assert_eq!(chain, "198.51.100.1, 203.0.113.2, 127.0.0.1");
    Ok(())
}
