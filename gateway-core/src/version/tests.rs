use http::Request;

use crate::config::{GatewayConfig, load_file_text};
use crate::gateway::{ClientInfo, Gateway};
use crate::policy::PolicyRegistry;
use crate::test_env;

const CFG: &str = r#"
version: 1
upstreams:
  v1: { mock: { echo: true } }
  v2: { mock: { echo: true } }
routes:
  - name: by-path
    path: /{version}/users/{id}
    upstream: v2
    versioning:
      from: path
      versions:
        v1: { upstream: v1, path: "/users/{id}", deprecated: "2026-01-01", sunset: "2027-06-30", link: "https://docs.example.com/v1" }
        v2: { path: "/users/{id}" }
        v0: { retired: true }
  - name: by-header
    path: /h
    upstream: v2
    versioning:
      from: header
      default: v2
      versions: { v1: { upstream: v1 }, v2: {} }
  - name: by-query
    path: /q
    upstream: v2
    versioning: { from: query, name: api, versions: { v1: { upstream: v1 }, v2: {} } }
  - name: by-media
    path: /m
    upstream: v2
    versioning: { from: media_type, default: v1, versions: { v1: { upstream: v1 }, v2: {} } }
"#;

fn config() -> GatewayConfig {
    load_file_text("versions.yaml", CFG, &PolicyRegistry::builtin()).expect("valid config")
}

struct Out {
    status: u16,
    path: String,
    headers: http::HeaderMap,
}

fn call(gw: &Gateway, uri: &str, headers: &[(&str, &str)]) -> Out {
    let mut b = Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = futures_executor::block_on(gw.handle(
        b.body(crate::Body::empty()).expect("req"),
        ClientInfo::default(),
    ));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = futures_executor::block_on(resp.into_body().collect(1 << 20)).expect("body");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Out {
        status,
        path: v["path"].as_str().unwrap_or_default().to_owned(),
        headers,
    }
}

#[test]
fn version_table() {
    let gw = Gateway::new(config(), test_env::env());
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case<'_>] = &[
        ("/v1/users/7", &[], 200, "/users/7"),
        ("/v2/users/7", &[], 200, "/users/7"),
        ("/2/users/7", &[], 200, "/users/7"),
        ("/v0/users/7", &[], 410, ""),
        ("/v9/users/7", &[], 404, ""),
        ("/h", &[], 200, "/h"),
        ("/h", &[("api-version", "v1")], 200, "/h"),
        ("/h", &[("api-version", "v3")], 400, ""),
        ("/q?api=v1", &[], 200, "/q"),
        ("/q", &[], 400, ""),
        (
            "/m",
            &[("accept", "application/vnd.acme.v2+json")],
            200,
            "/m",
        ),
        (
            "/m",
            &[("accept", "application/json; version=2")],
            200,
            "/m",
        ),
        ("/m", &[("accept", "application/vnd.acme.v7+json")], 406, ""),
        ("/m", &[], 200, "/m"),
    ];
    for (uri, headers, status, path) in cases {
        let out = call(&gw, uri, headers);
        assert_eq!(out.status, *status, "{uri} {headers:?}");
        if *status == 200 {
            assert_eq!(out.path, *path, "{uri}");
        }
    }
}

#[test]
fn deprecated_version_sends_lifecycle_headers() {
    let gw = Gateway::new(config(), test_env::env());
    let out = call(&gw, "/v1/users/1", &[]);
    assert_eq!(out.headers["deprecation"], "@1767225600");
    assert_eq!(out.headers["sunset"], "Wed, 30 Jun 2027 00:00:00 GMT");
    assert!(
        out.headers["link"]
            .to_str()
            .expect("ascii")
            .contains("rel=\"deprecation\"")
    );
    let out = call(&gw, "/v2/users/1", &[]);
    assert!(out.headers.get("deprecation").is_none());
}
