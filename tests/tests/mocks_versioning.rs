//! Mock upstreams (fixed responses and echo) and API versioning by path,
//! header, query and media type, with deprecation, sunset and retirement.

mod common;

use anyhow::Result;
use common::{TestGateway, assert_problem, client, fill, path_and_query, received};
use serde_json::json;

const DEPRECATED_2026_01_01: &str = "@1767225600";
const SUNSET_2027_06_30: &str = "Wed, 30 Jun 2027 00:00:00 GMT";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocks_answer_with_json_body_status_and_headers() -> Result<()> {
    let yaml = r#"
version: 1
upstreams:
  json: { mock: { json: { ok: true, items: [1, 2] } } }
  teapot:
    mock:
      status: 418
      headers: { x-mock: "1", content-type: text/plain }
      body: "short and stout"
  vendor:
    mock: { json: { v: 1 }, headers: { content-type: application/vnd.acme+json } }
  empty: { mock: { status: 204 } }
routes:
  - { path: /json, upstream: json }
  - { path: /teapot, upstream: teapot }
  - { path: /vendor, upstream: vendor }
  - { path: /empty, upstream: empty }
"#;
    let gw = TestGateway::start(yaml).await?;
    let c = client();

    let resp = c.get(gw.url("/json")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        common::json(resp).await?,
        json!({ "ok": true, "items": [1, 2] })
    );

    let resp = c.post(gw.url("/teapot")).body("ignored").send().await?;
    assert_eq!(resp.status(), 418);
    assert_eq!(resp.headers()["x-mock"], "1");
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.text().await?, "short and stout");

    let resp = c.get(gw.url("/vendor")).send().await?;
    assert_eq!(resp.headers()["content-type"], "application/vnd.acme+json");
    assert_eq!(common::json(resp).await?, json!({ "v": 1 }));

    let resp = c.get(gw.url("/empty")).send().await?;
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_mock_shows_the_request_as_the_upstream_would_see_it() -> Result<()> {
    let yaml = r#"
version: 1
upstreams:
  echo: { mock: { echo: true } }
routes:
  - path: /echo/{*rest}
    upstream: echo
    policies:
      - headers: { request: { set: { x-added: "by-policy" } } }
"#;
    let gw = TestGateway::start(yaml).await?;
    let resp = client()
        .post(gw.url("/echo/a/./b?x=1&y=2"))
        .header("x-client", "hello")
        .body("payload")
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v = common::json(resp).await?;
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/echo/a/b");
    assert_eq!(v["query"], "x=1&y=2");
    assert_eq!(v["headers"]["x-client"], "hello");
    assert_eq!(v["headers"]["x-added"], "by-policy");
    assert_eq!(v["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(v["headers"]["x-forwarded-proto"], "http");
    Ok(())
}

const BY_PATH: &str = r#"
version: 1
upstreams:
  v1: { mock: { json: { served: v1 } } }
  v2: { mock: { json: { served: v2 } } }
  backend: { url: "UP" }
routes:
  - path: /api/{version}/items
    upstream: v2
    versioning:
      from: path
      versions:
        v1: { upstream: v1, deprecated: "2026-01-01", sunset: "2027-06-30", link: "https://example.com/v1" }
        v2: {}
        v3: { upstream: backend, path: "/internal/{version}/items" }
        v0: { retired: true }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_from_the_path() -> Result<()> {
    let up = common::ok_upstream().await;
    let gw = TestGateway::start(&fill(BY_PATH, &[("UP", &up.uri())])).await?;
    let c = client();

    let resp = c.get(gw.url("/api/v1/items")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["deprecation"], DEPRECATED_2026_01_01);
    assert_eq!(resp.headers()["sunset"], SUNSET_2027_06_30);
    assert_eq!(
        resp.headers()["link"],
        "<https://example.com/v1>; rel=\"deprecation\"; type=\"text/html\""
    );
    assert_eq!(common::json(resp).await?, json!({ "served": "v1" }));

    // "1" finds "v1".
    let resp = c.get(gw.url("/api/1/items")).send().await?;
    assert_eq!(common::json(resp).await?, json!({ "served": "v1" }));

    let resp = c.get(gw.url("/api/v2/items")).send().await?;
    assert!(resp.headers().get("deprecation").is_none());
    assert!(resp.headers().get("sunset").is_none());
    assert_eq!(common::json(resp).await?, json!({ "served": "v2" }));

    let resp = c.get(gw.url("/api/v3/items?page=2")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        received(&up)
            .await
            .iter()
            .map(path_and_query)
            .collect::<Vec<_>>(),
        ["/internal/v3/items?page=2"]
    );

    let v = assert_problem(
        c.get(gw.url("/api/v0/items")).send().await?,
        410,
        "version-retired",
    )
    .await?;
    assert_eq!(v["detail"], "Version v0 has been retired.");

    let v = assert_problem(
        c.get(gw.url("/api/v9/items")).send().await?,
        404,
        "unsupported-version",
    )
    .await?;
    let detail = v["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("v1") && detail.contains("v2") && !detail.contains("v0"),
        "{detail}"
    );
    Ok(())
}

const BY_HEADER: &str = r#"
version: 1
upstreams:
  v1: { mock: { json: { served: "1" } } }
  v2: { mock: { json: { served: "2" } } }
routes:
  - path: /defaulted
    upstream: v2
    versioning:
      from: header
      name: x-api-version
      default: "2"
      versions:
        "1": { upstream: v1, deprecated: "2026-01-01T00:00:00Z" }
        "2": {}
  - path: /required
    upstream: v2
    versioning:
      from: header
      versions:
        "1": { upstream: v1 }
        "2": {}
        "0": { retired: true }
"#;

async fn served(resp: reqwest::Response) -> Result<(u16, Option<String>, serde_json::Value)> {
    let status = resp.status().as_u16();
    let dep = resp
        .headers()
        .get("deprecation")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((status, dep, common::json(resp).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_from_a_header() -> Result<()> {
    let gw = TestGateway::start(BY_HEADER).await?;
    let c = client();
    let url = gw.url("/defaulted");

    let (status, dep, body) = served(c.get(&url).send().await?).await?;
    assert_eq!((status, dep, body), (200, None, json!({ "served": "2" })));
    let (_, dep, body) = served(c.get(&url).header("x-api-version", "1").send().await?).await?;
    assert_eq!(
        (dep.as_deref(), body),
        (Some(DEPRECATED_2026_01_01), json!({ "served": "1" }))
    );
    let (_, _, body) = served(c.get(&url).header("x-api-version", "v1").send().await?).await?;
    assert_eq!(body, json!({ "served": "1" }));
    assert_problem(
        c.get(&url).header("x-api-version", "7").send().await?,
        400,
        "unsupported-version",
    )
    .await?;

    // The default header name is `api-version`; without a default it is required.
    let url = gw.url("/required");
    let (_, _, body) = served(c.get(&url).header("api-version", "1").send().await?).await?;
    assert_eq!(body, json!({ "served": "1" }));
    assert_problem(c.get(&url).send().await?, 400, "unsupported-version").await?;
    assert_problem(
        c.get(&url).header("api-version", "0").send().await?,
        410,
        "version-retired",
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_from_the_query() -> Result<()> {
    let yaml = r#"
version: 1
upstreams:
  v1: { mock: { json: { served: v1 } } }
  v2: { mock: { json: { served: v2 } } }
routes:
  - path: /q
    upstream: v2
    versioning:
      from: query
      versions:
        v1: { upstream: v1, sunset: "2027-06-30" }
        v2: {}
  - path: /named
    upstream: v2
    versioning:
      from: query
      name: api
      default: v1
      versions:
        v1: { upstream: v1 }
        v2: {}
"#;
    let gw = TestGateway::start(yaml).await?;
    let c = client();

    let resp = c.get(gw.url("/q?x=1&version=v1")).send().await?;
    assert_eq!(resp.headers()["sunset"], SUNSET_2027_06_30);
    assert!(resp.headers().get("deprecation").is_none());
    assert_eq!(common::json(resp).await?, json!({ "served": "v1" }));
    let (_, _, body) = served(c.get(gw.url("/q?version=2")).send().await?).await?;
    assert_eq!(body, json!({ "served": "v2" }));
    assert_problem(
        c.get(gw.url("/q?version=v9")).send().await?,
        400,
        "unsupported-version",
    )
    .await?;
    assert_problem(
        c.get(gw.url("/q")).send().await?,
        400,
        "unsupported-version",
    )
    .await?;

    let (_, _, body) = served(c.get(gw.url("/named")).send().await?).await?;
    assert_eq!(body, json!({ "served": "v1" }));
    let (_, _, body) = served(c.get(gw.url("/named?api=v2")).send().await?).await?;
    assert_eq!(body, json!({ "served": "v2" }));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_from_the_media_type() -> Result<()> {
    let yaml = r#"
version: 1
upstreams:
  v1: { mock: { json: { served: v1 } } }
  v2: { mock: { json: { served: v2 } } }
routes:
  - path: /m
    upstream: v2
    versioning:
      from: media_type
      versions:
        v1: { upstream: v1, deprecated: "2026-01-01" }
        v2: {}
        v0: { retired: true }
  - path: /md
    upstream: v2
    versioning:
      from: media_type
      default: v2
      versions:
        v1: { upstream: v1 }
        v2: {}
"#;
    let gw = TestGateway::start(yaml).await?;
    let c = client();
    let url = gw.url("/m");

    let (_, dep, body) = served(
        c.get(&url)
            .header("accept", "application/vnd.acme.v1+json")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(
        (dep.as_deref(), body),
        (Some(DEPRECATED_2026_01_01), json!({ "served": "v1" }))
    );
    let (_, _, body) = served(
        c.get(&url)
            .header("accept", "application/json; version=2")
            .send()
            .await?,
    )
    .await?;
    assert_eq!(body, json!({ "served": "v2" }));
    assert_problem(
        c.get(&url)
            .header("accept", "application/vnd.acme.v9+json")
            .send()
            .await?,
        406,
        "unsupported-version",
    )
    .await?;
    assert_problem(
        c.get(&url)
            .header("accept", "application/json")
            .send()
            .await?,
        406,
        "unsupported-version",
    )
    .await?;
    assert_problem(
        c.get(&url)
            .header("accept", "application/vnd.acme.v0+json")
            .send()
            .await?,
        410,
        "version-retired",
    )
    .await?;

    let (_, _, body) = served(c.get(gw.url("/md")).header("accept", "*/*").send().await?).await?;
    assert_eq!(body, json!({ "served": "v2" }));
    Ok(())
}
