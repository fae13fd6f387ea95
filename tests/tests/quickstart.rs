//! The repository's quickstart `gateway.yaml`, exercised the way its
//! comments and the README's curl examples do.

mod common;

use std::path::PathBuf;

use anyhow::Result;
use common::{TestGateway, assert_problem, client};
use gateway_local::RunningServer;
use serde_json::json;

fn quickstart_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gateway.yaml")
}

async fn start() -> Result<RunningServer> {
    TestGateway::start_file(&quickstart_config()).await
}

fn url(server: &RunningServer, path: &str) -> String {
    format!("http://{}{path}", server.addr())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_answers_json_with_the_powered_by_header() -> Result<()> {
    let gw = start().await?;
    let resp = client().get(url(&gw, "/hello")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-powered-by"], "gateway");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        common::json(resp).await?,
        json!({ "message": "hello from the gateway" })
    );

    let resp = client().head(url(&gw, "/hello")).send().await?;
    assert_eq!(resp.status(), 200);

    let resp = client().post(url(&gw, "/hello")).send().await?;
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    assert_problem(resp, 405, "method-not-allowed").await?;
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_shows_the_rewritten_request() -> Result<()> {
    let gw = start().await?;
    let resp = client()
        .get(url(&gw, "/echo/a/b?x=1"))
        .header("cookie", "session=secret")
        .header("x-legacy-id", "42")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    let v = common::json(resp).await?;
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/internal/a/b");
    assert_eq!(v["query"], "x=1");
    let h = &v["headers"];
    assert!(h.get("cookie").is_none(), "cookie forwarded: {h}");
    assert!(h.get("x-legacy-id").is_none());
    assert_eq!(h["x-request-ref"], "42");
    assert_eq!(h["x-client-ip"], "127.0.0.1");
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_refuses_delete_and_large_bodies() -> Result<()> {
    let gw = start().await?;
    assert_problem(
        client().delete(url(&gw, "/echo/x")).send().await?,
        403,
        "access-denied",
    )
    .await?;
    let big = vec![b'x'; 17 * 1024];
    assert_problem(
        client().post(url(&gw, "/echo/x")).body(big).send().await?,
        413,
        "body-too-large",
    )
    .await?;
    let small = vec![b'x'; 1024];
    assert_eq!(
        client()
            .post(url(&gw, "/echo/x"))
            .body(small)
            .send()
            .await?
            .status(),
        200
    );
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_api_is_versioned_by_path() -> Result<()> {
    let gw = start().await?;
    let resp = client().get(url(&gw, "/api/v1/users")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["deprecation"], "@1767225600");
    assert_eq!(resp.headers()["sunset"], "Wed, 30 Jun 2027 00:00:00 GMT");
    assert_eq!(
        resp.headers()["link"],
        "<https://example.com/docs/v1-migration>; rel=\"deprecation\"; type=\"text/html\""
    );
    assert_eq!(
        common::json(resp).await?,
        json!({ "version": 1, "users": ["ada", "grace"] })
    );

    let resp = client().get(url(&gw, "/api/v2/users")).send().await?;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("deprecation").is_none());
    assert_eq!(common::json(resp).await?["version"], 2);

    assert_problem(
        client().get(url(&gw, "/api/v0/users")).send().await?,
        410,
        "version-retired",
    )
    .await?;
    assert_problem(
        client().get(url(&gw, "/api/v3/users")).send().await?,
        404,
        "unsupported-version",
    )
    .await?;
    assert_problem(
        client().get(url(&gw, "/nope")).send().await?,
        404,
        "route-not-found",
    )
    .await?;
    gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_merges_three_mock_upstreams() -> Result<()> {
    let gw = start().await?;
    let resp = client().get(url(&gw, "/dashboard/ada")).send().await?;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("gateway-partial").is_none());
    assert_eq!(
        common::json(resp).await?,
        json!({
            "greeting": "hello from the gateway",
            "profile": "/profiles/ada",
            "users": [{ "name": "ada" }, { "name": "grace" }]
        })
    );
    // The path value stays one segment of the backend's path.
    let resp = client().get(url(&gw, "/dashboard/a%3Fb")).send().await?;
    assert_eq!(common::json(resp).await?["profile"], "/profiles/a%3Fb");
    gw.shutdown().await;
    Ok(())
}
