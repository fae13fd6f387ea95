//! Policies against a real upstream: header changes both ways, templates,
//! rewrites, deny rules and the onion order of request and response hooks.

mod common;

use anyhow::Result;
use common::table::{Row, Want, check_rows, get};
use common::{TestGateway, assert_problem, client, fill, path_and_query, received, value, values};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn gateway(yaml: &str, up: &MockServer) -> Result<TestGateway> {
    TestGateway::start(&fill(yaml, &[("UP", &up.uri())])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_change_the_request_and_the_response() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-upstream-secret", "s3cr3t")
                .insert_header("x-upstream-name", "svc-a")
                .insert_header("x-resp-add", "one")
                .insert_header("x-resp-set", "upstream"),
        )
        .mount(&up)
        .await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - name: users
    path: /users/{id}
    upstream: backend
    policies:
      - headers:
          request:
            remove: [x-remove-me]
            rename: { x-old: x-new }
            set: { x-user: "user-{id}", x-client: "{client_ip}", x-overwrite: set, x-route: "{route}" }
            add: { x-multi: added }
          response:
            remove: [x-upstream-secret]
            rename: { x-upstream-name: x-public-name }
            set: { x-resp-set: "id={id}" }
            add: { x-resp-add: two }
"#;
    let gw = gateway(yaml, &up).await?;

    let resp = client()
        .get(gw.url("/users/42"))
        .header("x-remove-me", "1")
        .header("x-old", "legacy")
        .header("x-overwrite", "client")
        .header("x-multi", "client")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert!(h.get("x-upstream-secret").is_none());
    assert!(h.get("x-upstream-name").is_none());
    assert_eq!(h["x-public-name"], "svc-a");
    assert_eq!(h["x-resp-set"], "id=42");
    assert_eq!(values(h, "x-resp-add"), ["one", "two"]);

    let got = received(&up).await;
    let h = &got[0].headers;
    assert!(h.get("x-remove-me").is_none());
    assert!(h.get("x-old").is_none());
    assert_eq!(values(h, "x-new"), ["legacy"]);
    assert_eq!(values(h, "x-user"), ["user-42"]);
    assert_eq!(values(h, "x-client"), ["127.0.0.1"]);
    assert_eq!(values(h, "x-overwrite"), ["set"]);
    assert_eq!(values(h, "x-route"), ["users"]);
    assert_eq!(values(h, "x-multi"), ["client", "added"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_templates_read_other_headers_and_skip_missing_ones() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - path: /t
    upstream: backend
    policies:
      - headers: { request: { set: { x-tenant-copy: "t={header.x-tenant}" } } }
"#;
    let gw = gateway(yaml, &up).await?;
    client()
        .get(gw.url("/t"))
        .header("x-tenant", "acme")
        .send()
        .await?;
    client().get(gw.url("/t")).send().await?;
    let got = received(&up).await;
    assert_eq!(
        value(&got[0].headers, "x-tenant-copy").as_deref(),
        Some("t=acme")
    );
    assert_eq!(
        value(&got[1].headers, "x-tenant-copy").as_deref(),
        Some("t=")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_by_template_keeps_the_query() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP/base" }
routes:
  - path: /v1/users/{id}
    upstream: backend
    policies:
      - rewrite: { path: "/internal/accounts/{id}/profile" }
  - path: /files/{*rest}
    upstream: backend
    policies:
      - rewrite: { path: "/store/{rest}" }
"#;
    let gw = gateway(yaml, &up).await?;
    assert_eq!(
        client()
            .get(gw.url("/v1/users/42?fields=name"))
            .send()
            .await?
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(gw.url("/files/a/b%20c.txt"))
            .send()
            .await?
            .status(),
        200
    );
    let got: Vec<String> = received(&up).await.iter().map(path_and_query).collect();
    assert_eq!(
        got,
        [
            "/base/internal/accounts/42/profile?fields=name",
            "/base/store/a/b%20c.txt"
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_by_prefix() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - path: /public/{*rest}
    upstream: backend
    policies:
      - rewrite: { strip_prefix: /public, add_prefix: /svc }
  - path: /strip/{*rest}
    upstream: backend
    policies:
      - rewrite: { strip_prefix: /strip }
  - path: /add/{*rest}
    upstream: backend
    policies:
      - rewrite: { add_prefix: /v2 }
"#;
    let gw = gateway(yaml, &up).await?;
    for p in ["/public/a/b?q=1", "/strip/x", "/strip", "/add/y"] {
        assert_eq!(client().get(gw.url(p)).send().await?.status(), 200, "{p}");
    }
    let got: Vec<String> = received(&up).await.iter().map(path_and_query).collect();
    assert_eq!(got, ["/svc/a/b?q=1", "/x", "/", "/v2/add/y"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_by_method_header_path_and_ip() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - path: /by-method/{*rest}
    upstream: backend
    policies:
      - deny: { methods: [delete, PUT] }
  - path: /by-header/{*rest}
    upstream: backend
    policies:
      - deny: { headers: { x-debug: "*" } }
      - deny: { headers: { x-env: prod }, status: 451 }
  - path: /by-path/{*rest}
    upstream: backend
    policies:
      - deny: { paths: [/by-path/private] }
  - path: /by-ip/{*rest}
    upstream: backend
    policies:
      - deny: { ips: [127.0.0.1/32] }
  - path: /other-ip/{*rest}
    upstream: backend
    policies:
      - deny: { ips: ["10.0.0.0/8", "::1"] }
"#;
    let gw = gateway(yaml, &up).await?;
    const DENIED: Want = Want::Problem(403, "access-denied");
    let row = |method, path, headers, want| Row {
        method,
        path,
        headers,
        want,
    };
    check_rows(
        &client(),
        &gw.url(""),
        &[
            row("DELETE", "/by-method/x", &[], DENIED),
            row("PUT", "/by-method/x", &[], DENIED),
            get("/by-method/x", Want::Status(200)),
            row("GET", "/by-header/x", &[("x-debug", "anything")], DENIED),
            row(
                "GET",
                "/by-header/x",
                &[("x-env", "prod")],
                Want::Problem(451, "access-denied"),
            ),
            row(
                "GET",
                "/by-header/x",
                &[("x-env", "dev")],
                Want::Status(200),
            ),
            get("/by-path/private", DENIED),
            get("/by-path/private/deeper", DENIED),
            get("/by-path/privateer", Want::Status(200)),
            get("/by-ip/x", DENIED),
            get("/other-ip/x", Want::Status(200)),
        ],
    )
    .await?;

    let got: Vec<String> = received(&up)
        .await
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        got,
        [
            "GET /by-method/x",
            "GET /by-header/x",
            "GET /by-path/privateer",
            "GET /other-ip/x"
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_by_ip_uses_the_client_address_from_trusted_proxies() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
server:
  trusted_proxies: [127.0.0.1]
upstreams:
  backend: { url: "UP" }
routes:
  - path: /x
    upstream: backend
    policies:
      - deny: { ips: [203.0.113.0/24] }
"#;
    let gw = gateway(yaml, &up).await?;
    let c = client();
    let denied = c
        .get(gw.url("/x"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await?;
    assert_problem(denied, 403, "access-denied").await?;
    let allowed = c
        .get(gw.url("/x"))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await?;
    assert_eq!(allowed.status(), 200);
    assert_eq!(received(&up).await.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_pass_policies_in_order_and_responses_in_reverse() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - path: /onion
    upstream: backend
    policies:
      - headers:
          request: { set: { x-order: first }, add: { x-trail: p1 } }
          response: { set: { x-order: first }, add: { x-trail: p1 } }
      - headers:
          request: { set: { x-order: second }, add: { x-trail: p2 } }
          response: { set: { x-order: second }, add: { x-trail: p2 } }
"#;
    let gw = gateway(yaml, &up).await?;
    let resp = client().get(gw.url("/onion")).send().await?;
    assert_eq!(resp.status(), 200);
    // The first policy's response hook runs last, so its value wins.
    assert_eq!(values(resp.headers(), "x-order"), ["first"]);
    assert_eq!(values(resp.headers(), "x-trail"), ["p2", "p1"]);

    let got = received(&up).await;
    assert_eq!(values(&got[0].headers, "x-order"), ["second"]);
    assert_eq!(values(&got[0].headers, "x-trail"), ["p1", "p2"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_unwinds_only_through_the_policies_before_it() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - path: /guarded
    upstream: backend
    policies:
      - headers: { response: { set: { x-before: seen } } }
      - deny: { methods: [POST] }
      - headers: { response: { set: { x-after: seen } } }
"#;
    let gw = gateway(yaml, &up).await?;
    let resp = client().post(gw.url("/guarded")).send().await?;
    assert_eq!(
        resp.headers().get("x-before").map(|v| v.as_bytes()),
        Some(&b"seen"[..])
    );
    assert!(resp.headers().get("x-after").is_none());
    assert_problem(resp, 403, "access-denied").await?;

    let resp = client().get(gw.url("/guarded")).send().await?;
    assert_eq!(resp.headers()["x-before"], "seen");
    assert_eq!(resp.headers()["x-after"], "seen");
    assert_eq!(received(&up).await.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_policies_also_apply_to_gateway_errors() -> Result<()> {
    let yaml = fill(
        r#"
version: 1
upstreams:
  down: { url: "http://127.0.0.1:PORT" }
routes:
  - path: /down
    upstream: down
    policies:
      - headers: { response: { set: { x-gateway: "yes" } } }
"#,
        &[("PORT", &common::dead_port()?.to_string())],
    );
    let gw = TestGateway::start(&yaml).await?;
    let resp = client().get(gw.url("/down")).send().await?;
    assert_eq!(resp.headers()["x-gateway"], "yes");
    assert_problem(resp, 502, "bad-gateway").await?;
    Ok(())
}
