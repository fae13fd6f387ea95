//! API documentation through the local server: `/openapi.json`, the docs
//! page and its bundled assets (content types, caching headers, CSP), and
//! the `routes` and `openapi` commands.

mod common;

use std::process::Command;

use anyhow::{Context as _, Result};
use common::local_bin::local_bin;
use common::{TempDir, TestGateway, client, fill, value};
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONFIG: &str = r#"
version: 1
docs:
  title: Docs test
  path: /reference
upstreams:
  users: { url: "UP" }
routes:
  - name: get-user
    methods: [GET]
    path: /users/{id}
    upstream: users
  - name: files
    path: /files/{*rest}
    upstream: users
"#;

/// The `src` and `href` attribute values of a page.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in html.split(attr).skip(1) {
            if let Some(v) = part.split('"').next() {
                out.push(v.to_owned());
            }
        }
    }
    out
}

#[tokio::test]
async fn serves_the_document_the_page_and_its_assets() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("user"))
        .mount(&up)
        .await;
    let gw = TestGateway::start(&fill(CONFIG, &[("UP", &up.uri())])).await?;

    let resp = client().get(gw.url("/openapi.json")).send().await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        value(resp.headers(), "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        value(resp.headers(), "cache-control").as_deref(),
        Some("no-cache")
    );
    let etag = value(resp.headers(), "etag").context("etag")?;
    let doc: Value = serde_json::from_slice(&resp.bytes().await?)?;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Docs test");
    assert_eq!(
        doc["paths"]["/users/{id}"]["get"]["operationId"],
        "get-user"
    );
    assert!(doc["paths"]["/files/{rest}"]["delete"].is_object());

    let again = client()
        .get(gw.url("/openapi.json"))
        .header("if-none-match", &etag)
        .send()
        .await?;
    assert_eq!(again.status(), 304);
    assert_eq!(
        value(again.headers(), "etag").as_deref(),
        Some(etag.as_str())
    );

    let page = client().get(gw.url("/reference")).send().await?;
    assert_eq!(page.status(), 200);
    assert_eq!(
        value(page.headers(), "content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = value(page.headers(), "content-security-policy").context("csp")?;
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    let html = page.text().await?;
    assert!(
        html.contains("data-openapi-url=\"/openapi.json\""),
        "{html}"
    );
    let assets: Vec<String> = links(&html)
        .into_iter()
        .filter(|l| l.starts_with("/reference/assets/"))
        .collect();
    let mut kinds = Vec::new();
    for a in &assets {
        let resp = client().get(gw.url(a)).send().await?;
        assert_eq!(resp.status(), 200, "{a}");
        assert_eq!(
            value(resp.headers(), "cache-control").as_deref(),
            Some("public, max-age=31536000, immutable"),
            "{a}"
        );
        assert!(value(resp.headers(), "etag").is_some(), "{a}");
        let ct = value(resp.headers(), "content-type").unwrap_or_default();
        let expected = if a.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(ct, expected, "{a}");
        assert!(!resp.bytes().await?.is_empty(), "{a}");
        kinds.push(a.rsplit('/').next().unwrap_or_default().to_owned());
    }
    kinds.sort();
    assert_eq!(kinds, ["init.js", "swagger-ui-bundle.js", "swagger-ui.css"]);

    // Unknown paths below the page are the gateway's 404, not the routes'.
    let missing = client().get(gw.url("/reference/nope")).send().await?;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        value(missing.headers(), "content-type").as_deref(),
        Some("application/problem+json")
    );
    // Routes are served as before.
    let routed = client().get(gw.url("/users/7")).send().await?;
    assert_eq!(routed.status(), 200);
    assert_eq!(routed.text().await?, "user");
    gw.shutdown().await;
    Ok(())
}

fn run(dir: &std::path::Path, args: &[&str]) -> Result<std::process::Output> {
    Ok(Command::new(local_bin()?)
        .args(args)
        .current_dir(dir)
        .output()?)
}

const WITH_FRAGMENT: &str = r#"
version: 1
upstreams:
  orders: { url: "http://127.0.0.1:9" }
routes:
  - name: orders
    methods: [GET]
    hosts: [api.example.com]
    path: /orders/{*rest}
    upstream: orders
    versioning:
      from: header
      default: "2"
      versions: { "1": { deprecated: "2026-01-01" }, "2": {} }
    policies:
      - validate: { openapi_file: orders.yaml, strip_prefix: /orders }
"#;

const FRAGMENT: &str = r#"
openapi: 3.1.0
info: { title: orders, version: "1" }
paths:
  /{id}:
    get:
      operationId: getOrder
      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
      responses: { "200": { description: one order } }
"#;

#[test]
fn routes_and_openapi_commands_describe_a_config() -> Result<()> {
    let dir = TempDir::new()?;
    std::fs::write(dir.path().join("gw.yaml"), WITH_FRAGMENT)?;
    std::fs::write(dir.path().join("orders.yaml"), FRAGMENT)?;

    let out = run(dir.path(), &["routes", "gw.yaml"])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout)?;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ROUTE",
            "METHODS",
            "HOSTS",
            "PATH",
            "TARGET",
            "POLICIES",
            "VERSIONING"
        ]
    );
    for part in [
        "orders",
        "GET",
        "api.example.com",
        "/orders/{*rest}",
        "validate",
        "header api-version: 1 (deprecated), 2, default 2",
    ] {
        assert!(lines[1].contains(part), "{part} in {table}");
    }

    let out = run(dir.path(), &["openapi", "gw.yaml"])?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout)?;
    let op = &doc["paths"]["/orders/{id}"]["get"];
    assert_eq!(op["operationId"], "getOrder", "{doc:#}");
    let params = op["parameters"].as_array().context("parameters")?;
    assert!(
        params
            .iter()
            .any(|p| p["in"] == "header" && p["name"] == "api-version")
    );

    // A bad file: non-zero, with the config error.
    std::fs::write(
        dir.path().join("bad.yaml"),
        "version: 1\ndocs: { path: docs }\nroutes: []\n",
    )?;
    for cmd in ["routes", "openapi"] {
        let out = run(dir.path(), &[cmd, "bad.yaml"])?;
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.yaml: docs.path"), "{cmd}: {err}");
        assert!(out.stdout.is_empty(), "{cmd}");
    }
    Ok(())
}
