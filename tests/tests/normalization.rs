//! Path tricks through real sockets: every request target is sent byte for
//! byte, the way a client that does not normalise would. A denied `/admin`
//! must never be reachable through the allowed `/api` route.

mod common;

use anyhow::Result;
use common::{TestGateway, fill, raw_get, received};
use wiremock::MockServer;

const CONFIG: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - name: admin
    path: /admin/{*rest}
    upstream: backend
    policies:
      - deny: {}
  - name: api
    path: /api/{*rest}
    upstream: backend
"#;

async fn setup() -> Result<(MockServer, TestGateway)> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&fill(CONFIG, &[("UP", &up.uri())])).await?;
    Ok((up, gw))
}

async fn assert_nothing_reached_admin(up: &MockServer) {
    for r in received(up).await {
        assert!(
            !r.url.path().starts_with("/admin"),
            "the upstream received {}",
            r.url
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_slash_traversal_is_rejected() -> Result<()> {
    let (up, gw) = setup().await?;
    for target in [
        "/api/..%2fadmin",
        "/api/..%2Fadmin",
        "/api/%2e%2e%2fadmin",
        "/api/x%2f..%2f..%2fadmin",
    ] {
        let resp = raw_get(gw.addr(), target).await?;
        let v = resp
            .assert_problem(400, "invalid-path")
            .map_err(|e| e.context(target))?;
        assert_eq!(v["detail"], "encoded slash", "{target}");
    }
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semicolon_traversal_is_rejected() -> Result<()> {
    let (up, gw) = setup().await?;
    for target in ["/api/..;/admin", "/api/x;jsessionid=1", "/api;/../admin"] {
        let resp = raw_get(gw.addr(), target).await?;
        resp.assert_problem(400, "invalid-path")
            .map_err(|e| e.context(target))?;
    }
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backslashes_and_nul_are_rejected() -> Result<()> {
    let (up, gw) = setup().await?;
    for target in [
        "/api/..%5cadmin",
        "/api/..%5Cadmin",
        "/api/%00",
        "/api/bad%zz",
    ] {
        let resp = raw_get(gw.addr(), target).await?;
        resp.assert_problem(400, "invalid-path")
            .map_err(|e| e.context(target))?;
    }
    assert!(received(&up).await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_resolve_before_routing_and_hit_the_deny() -> Result<()> {
    let (up, gw) = setup().await?;
    for target in [
        "/api/%2e%2e/admin",
        "/api/%2E%2E/admin/users",
        "/api/.%2e/admin",
        "/api/../admin",
        "/api/./../admin/",
        "//admin",
        "//admin//secrets",
        "/admin",
        "/%61dmin",
    ] {
        let resp = raw_get(gw.addr(), target).await?;
        resp.assert_problem(403, "access-denied")
            .map_err(|e| e.context(target))?;
    }
    assert!(
        received(&up).await.is_empty(),
        "a denied request reached the upstream"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_and_empty_segments_are_removed_before_forwarding() -> Result<()> {
    let (up, gw) = setup().await?;
    let cases = [
        ("/api/./x//y", "/api/x/y"),
        ("/api/a/../b?q=%2e%2e", "/api/b?q=%2e%2e"),
        ("/api/%7Euser/%41", "/api/~user/A"),
        ("/api/caf%c3%a9", "/api/caf%C3%A9"),
    ];
    for (sent, _) in cases {
        let resp = raw_get(gw.addr(), sent).await?;
        assert_eq!(resp.status, 200, "{sent}");
    }
    let got: Vec<String> = received(&up)
        .await
        .iter()
        .map(common::path_and_query)
        .collect();
    let want: Vec<&str> = cases.iter().map(|(_, w)| *w).collect();
    assert_eq!(got, want);
    assert_nothing_reached_admin(&up).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_above_the_root_stays_at_the_root() -> Result<()> {
    let (up, gw) = setup().await?;
    let resp = raw_get(gw.addr(), "/../../api/x").await?;
    assert_eq!(resp.status, 200);
    let resp = raw_get(gw.addr(), "/api/../../../admin").await?;
    resp.assert_problem(403, "access-denied")?;
    let got: Vec<String> = received(&up)
        .await
        .iter()
        .map(common::path_and_query)
        .collect();
    assert_eq!(got, ["/api/x"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_encoded_slashes_stay_encoded_upstream() -> Result<()> {
    let up = common::ok_upstream().await;
    let yaml = fill(
        r#"
version: 1
server:
  path: { encoded_slash: keep }
upstreams:
  backend: { url: "UP" }
routes:
  - path: /admin/{*rest}
    upstream: backend
    policies:
      - deny: {}
  - path: /api/{*rest}
    upstream: backend
  - path: /files/{name}
    upstream: backend
    policies:
      - rewrite: { path: "/store/{name}" }
"#,
        &[("UP", &up.uri())],
    );
    let gw = TestGateway::start(&yaml).await?;
    for target in ["/api/..%2fadmin", "/api/a%2Fb", "/files/..%2F..%2Fadmin"] {
        assert_eq!(raw_get(gw.addr(), target).await?.status, 200, "{target}");
    }
    let got: Vec<String> = received(&up)
        .await
        .iter()
        .map(common::path_and_query)
        .collect();
    assert_eq!(
        got,
        ["/api/..%2Fadmin", "/api/a%2Fb", "/store/..%2F..%2Fadmin"]
    );
    assert_nothing_reached_admin(&up).await;
    Ok(())
}
