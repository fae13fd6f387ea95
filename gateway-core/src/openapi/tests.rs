//! The whole document for configs with parameters, catch-alls, versions,
//! auth kinds and `validate` schemas, checked against the OpenAPI 3.1
//! JSON Schema; and the site's answers.

use futures_executor::block_on;
use http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::body::Body;
use crate::config::{GatewayConfig, load_file_text};
use crate::gateway::{ClientInfo, Gateway};
use crate::policy::PolicyRegistry;
use crate::test_env;

const CONFIG: &str = r##"
version: 1
docs:
  title: Shop API
  version: "2.3"
  description: The shop.
  servers: [{ url: "https://api.shop.test/base", description: production }]
upstreams:
  users: { url: "http://users.internal" }
  orders: { url: "http://orders.internal" }
  files: { url: "http://files.internal" }
  canned: { mock: { json: { ok: true } } }
consumers:
  alice:
    api_keys: ["2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"]
    basic: { username: alice, password_hash: "PWHASH" }
jwt_issuers:
  main:
    issuer: https://id.test
    algorithms: [HS256]
    keys: [{ secret: "0123456789abcdef0123456789abcdef" }]
routes:
  - name: get-user
    methods: [GET]
    path: /users/{id}
    upstream: users
    policies:
      - auth:
          jwt: { issuers: [main], query: access_token }
          api_key: { header: X-Key }
          basic: {}
          require: { scopes: [users.read], methods: { GET: { scopes: [users.read] } } }
  - name: create-user
    methods: [POST]
    path: /users
    upstream: users
    hosts: [api.shop.test]
    headers: { x-tenant: acme }
    policies:
      - validate:
          body:
            type: object
            required: [name]
            properties: { name: { type: string } }
          query:
            type: object
            properties: { dry_run: { type: boolean } }
            required: [dry_run]
          response_body: { type: object }
  - name: files
    path: /files/{*rest}
    upstream: files
  - name: items
    methods: [GET]
    path: /{version}/items
    upstream: users
    versioning:
      from: path
      versions:
        v1: { deprecated: "2026-01-31", sunset: "2026-12-31", link: "https://shop.test/v1" }
        v2: {}
        v0: { retired: true }
  - name: stock
    methods: [GET]
    path: /stock
    upstream: canned
    versioning:
      from: header
      default: "2"
      versions: { "1": { deprecated: "2026-01-01" }, "2": {} }
  - name: orders
    methods: [GET, POST]
    path: /api/orders/{*rest}
    upstream: orders
    policies:
      - validate:
          strip_prefix: /api/orders
          openapi:
            openapi: 3.1.0
            info: { title: orders, version: "1" }
            paths:
              /:
                get:
                  operationId: root
                  responses: { "200": { description: not routed here } }
              /search:
                get:
                  operationId: listOrders
                  responses:
                    "200":
                      description: the orders
                      content:
                        application/json:
                          schema: { type: array, items: { $ref: "#/components/schemas/Order" } }
              /{orderId}:
                parameters:
                  - { name: orderId, in: path, required: true, schema: { type: string } }
                get:
                  operationId: getOrder
                  responses:
                    "200":
                      description: one order
                      content:
                        application/json: { schema: { $ref: "#/components/schemas/Order" } }
            components:
              schemas:
                Order: { type: object, properties: { id: { type: string } } }
"##;

/// One Argon2 hash for every test (hashing is slow in debug builds).
static PASSWORD_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crate::auth::hash_password("pw", b"0123456789abcdef").expect("hash")
});

fn load(text: &str) -> GatewayConfig {
    let text = text.replace("PWHASH", &PASSWORD_HASH);
    load_file_text("gw.yaml", &text, &PolicyRegistry::builtin()).expect("valid config")
}

/// Checks `doc` against the OpenAPI 3.1 JSON Schema.
fn assert_valid_openapi(doc: &Value) {
    let schema: Value =
        serde_json::from_str(include_str!("testdata/openapi-3.1.schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not OpenAPI 3.1: {errors:#?}");
}

#[test]
fn the_schema_check_rejects_a_broken_document() {
    // The check itself must be able to fail.
    let mut doc = load(CONFIG).api().document().clone();
    doc["paths"]["/users/{id}"]["get"]["responses"] = json!("none");
    let schema: Value =
        serde_json::from_str(include_str!("testdata/openapi-3.1.schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    assert!(!validator.is_valid(&doc));
    assert!(!validator.is_valid(&json!({ "openapi": "3.1.0", "paths": {} })));
}

#[test]
fn document_is_openapi_3_1_with_info_and_servers() {
    let cfg = load(CONFIG);
    let doc = cfg.api().document();
    assert_valid_openapi(doc);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Shop API");
    assert_eq!(doc["info"]["version"], "2.3");
    assert_eq!(doc["servers"][0]["url"], "https://api.shop.test/base");
}

#[test]
fn path_params_and_catch_alls_become_path_parameters() {
    let cfg = load(CONFIG);
    let doc = cfg.api().document();
    let get = &doc["paths"]["/users/{id}"]["get"];
    assert_eq!(get["operationId"], "get-user");
    assert_eq!(get["parameters"][0]["name"], "id");
    assert_eq!(get["parameters"][0]["in"], "path");
    // A route without methods gets the usual set, each with its own id.
    let files = &doc["paths"]["/files/{rest}"];
    for m in ["get", "post", "put", "patch", "delete"] {
        assert_eq!(files[m]["operationId"], format!("files-{m}"), "{m}");
        let p = &files[m]["parameters"][0];
        assert_eq!(p["name"], "rest");
        assert!(
            p["description"]
                .as_str()
                .unwrap_or("")
                .contains("catch-all")
        );
    }
    assert!(doc["paths"].get("/files/{*rest}").is_none());
}

#[test]
fn auth_mechanisms_become_security_schemes_with_scopes() {
    let cfg = load(CONFIG);
    let doc = cfg.api().document();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["bearerAuth"]["bearerFormat"], "JWT");
    assert_eq!(schemes["jwtQuery.access_token"]["in"], "query");
    assert_eq!(schemes["apiKey.X-Key"]["in"], "header");
    assert_eq!(schemes["apiKey.X-Key"]["name"], "X-Key");
    assert_eq!(schemes["basicAuth"]["scheme"], "basic");
    let get = &doc["paths"]["/users/{id}"]["get"];
    let security = get["security"].as_array().expect("security");
    assert_eq!(security.len(), 4, "one alternative per mechanism");
    assert!(security.contains(&json!({ "bearerAuth": ["users.read"] })));
    assert!(security.contains(&json!({ "apiKey.X-Key": ["users.read"] })));
    for status in ["401", "403"] {
        assert_eq!(
            get["responses"][status]["$ref"],
            format!("#/components/responses/Problem{status}")
        );
    }
    // Routes without auth have no requirements.
    assert!(doc["paths"]["/users"]["post"].get("security").is_none());
}

#[test]
fn validate_schemas_become_body_parameters_and_responses() {
    let cfg = load(CONFIG);
    let doc = cfg.api().document();
    let post = &doc["paths"]["/users"]["post"];
    let body = &post["requestBody"];
    assert_eq!(body["required"], true);
    assert_eq!(
        body["content"]["application/json"]["schema"]["required"],
        json!(["name"])
    );
    let params = post["parameters"].as_array().expect("params");
    let dry = params
        .iter()
        .find(|p| p["name"] == "dry_run")
        .expect("query param");
    assert_eq!(dry["in"], "query");
    assert_eq!(dry["required"], true);
    assert_eq!(dry["schema"]["type"], "boolean");
    let tenant = params
        .iter()
        .find(|p| p["name"] == "x-tenant")
        .expect("header match");
    assert_eq!(tenant["schema"]["const"], "acme");
    assert_eq!(
        post["responses"]["2XX"]["content"]["application/json"]["schema"]["type"],
        "object"
    );
    for status in ["400", "413", "415", "422", "502", "503", "504"] {
        assert!(post["responses"].get(status).is_some(), "{status}");
    }
    assert!(
        post["description"]
            .as_str()
            .unwrap_or("")
            .contains("api.shop.test")
    );
    let problem = &doc["components"]["responses"]["Problem422"];
    assert!(problem["content"].get("application/problem+json").is_some());
}

#[test]
fn path_versions_are_paths_and_deprecations_are_marked() {
    let cfg = load(CONFIG);
    let doc = cfg.api().document();
    let v1 = &doc["paths"]["/v1/items"]["get"];
    let v2 = &doc["paths"]["/v2/items"]["get"];
    assert_eq!(v1["deprecated"], true);
    assert!(
        v1["description"]
            .as_str()
            .unwrap_or("")
            .contains("2026-12-31")
    );
    assert!(v2.get("deprecated").is_none());
    assert!(doc["paths"].get("/v0/items").is_none(), "retired");
    assert!(doc["paths"].get("/{version}/items").is_none());
    assert!(v2["responses"].get("410").is_some());
    let stock = &doc["paths"]["/stock"]["get"];
    let p = &stock["parameters"][0];
    assert_eq!(p["in"], "header");
    assert_eq!(p["required"], false);
    assert_eq!(p["schema"]["enum"], json!(["1", "2"]));
    assert!(stock.get("deprecated").is_none(), "version 2 is current");
    // A mock upstream cannot fail like a real one.
    assert!(stock["responses"].get("502").is_none());
}

#[test]
fn upstream_openapi_fragments_replace_the_generic_operation() {
    let cfg = load(CONFIG);
    let doc = cfg.api().document();
    let list = &doc["paths"]["/api/orders/search"]["get"];
    assert_eq!(list["operationId"], "listOrders");
    // The route's catch-all takes no empty rest: `/` is not the route's.
    assert!(doc["paths"].get("/api/orders/").is_none());
    let one = &doc["paths"]["/api/orders/{orderId}"]["get"];
    assert_eq!(one["operationId"], "getOrder");
    assert_eq!(one["parameters"][0]["name"], "orderId");
    assert_eq!(
        one["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Order"
    );
    assert!(one["responses"].get("422").is_some());
    assert!(doc["components"]["schemas"].get("Order").is_some());
    assert!(doc["paths"].get("/api/orders/{rest}").is_none());
}

#[test]
fn clashing_fragment_components_are_renamed_and_refs_follow() {
    let fragment = |t: &str| {
        format!(
            r##"
      - validate:
          openapi:
            openapi: 3.1.0
            info: {{ title: x, version: "1" }}
            paths:
              /{t}:
                get:
                  responses:
                    "200":
                      description: ok
                      content: {{ application/json: {{ schema: {{ $ref: "#/components/schemas/Thing" }} }} }}
            components:
              schemas:
                Thing: {{ type: {t} }}"##
        )
    };
    let text = format!(
        "version: 1\nupstreams:\n  u: {{ url: \"http://u.test\" }}\nroutes:\n  - name: a\n    path: /string\n    methods: [GET]\n    upstream: u\n    policies:{}\n  - name: b\n    path: /object\n    methods: [GET]\n    upstream: u\n    policies:{}\n",
        fragment("string"),
        fragment("object")
    );
    let cfg = load(&text);
    let doc = cfg.api().document();
    assert_valid_openapi(doc);
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Thing"]["type"], "string");
    assert_eq!(schemas["b.Thing"]["type"], "object");
    let r = &doc["paths"]["/object"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        ["$ref"];
    assert_eq!(r, "#/components/schemas/b.Thing");
}

#[test]
fn the_document_is_built_without_docs_too() {
    let cfg = load(
        "version: 1\nupstreams:\n  u: { url: \"http://u.test\" }\nroutes:\n  - { path: /a, upstream: u }\n",
    );
    assert!(cfg.api().site().is_none());
    let doc = cfg.api().document();
    assert_valid_openapi(doc);
    assert_eq!(doc["info"]["title"], "API");
    assert!(doc["paths"]["/a"]["get"].is_object());
}

#[test]
fn rate_limited_operations_list_429_and_their_limits() {
    let cfg = load(
        r#"
version: 1
rate_limits:
  per_ip: { rate: 20/s, burst: 40 }
upstreams:
  u: { url: "http://u.test" }
routes:
  - path: /a
    upstream: u
    policies:
      - rate_limit:
          use: [per_ip]
          limits:
            - { name: daily, algorithm: quota, rate: 1000/day, key: [header.x-tenant], on_store_error: deny }
"#,
    );
    let doc = cfg.api().document();
    assert_valid_openapi(doc);
    let op = &doc["paths"]["/a"]["get"];
    assert!(op["responses"]["429"].is_object(), "{op}");
    assert!(op["responses"]["503"].is_object(), "fails closed: {op}");
    let description = op["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("Rate limit `daily`: 1000/day per header.x-tenant."),
        "{description}"
    );
    assert!(
        description.contains("Shared rate limits: per_ip."),
        "{description}"
    );
}

#[test]
fn routes_under_docs_paths_are_config_errors_naming_the_field() {
    let err = load_file_text(
        "gw.yaml",
        "version: 1\ndocs: {}\nupstreams:\n  u: { url: \"http://u.test\" }\nroutes:\n  - { path: \"/docs/{*rest}\", upstream: u }\n  - { path: /openapi.json, upstream: u }\n",
        &PolicyRegistry::builtin(),
    )
    .expect_err("shadowed");
    let text = err.to_string();
    assert!(text.contains("routes[0].path"), "{text}");
    assert!(text.contains("docs.path"), "{text}");
    assert!(text.contains("routes[1].path"), "{text}");
    assert!(text.contains("docs.openapi_path"), "{text}");
}

fn get(gw: &Gateway, method: Method, path: &str, etag: Option<&str>) -> http::Response<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    block_on(gw.handle(
        req.body(Body::empty()).expect("request"),
        ClientInfo::default(),
    ))
}

fn text(resp: http::Response<Body>) -> String {
    String::from_utf8(resp.body().as_bytes().unwrap_or_default().to_vec()).expect("utf-8")
}

fn header_of(resp: &http::Response<Body>, name: header::HeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_site_serves_the_document_with_etag_and_revalidation() {
    let gw = Gateway::new(load(CONFIG), test_env::env());
    let resp = get(&gw, Method::GET, "/openapi.json", None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header_of(&resp, header::CONTENT_TYPE), "application/json");
    assert_eq!(header_of(&resp, header::CACHE_CONTROL), "no-cache");
    let etag = header_of(&resp, header::ETAG);
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let doc: Value = serde_json::from_str(&text(resp)).expect("json");
    assert_eq!(&doc, gw.config().api().document());
    let again = get(&gw, Method::GET, "/openapi.json", Some(&etag));
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().as_bytes().unwrap_or_default().is_empty());
    let other = get(&gw, Method::GET, "/openapi.json", Some("\"nope\""));
    assert_eq!(other.status(), StatusCode::OK);
    let post = get(&gw, Method::POST, "/openapi.json", None);
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header_of(&post, header::ALLOW), "GET, HEAD");
}

#[test]
fn the_page_has_a_strict_csp_and_hashed_asset_urls() {
    let gw = Gateway::new(load(CONFIG), test_env::env());
    let resp = get(&gw, Method::GET, "/docs", None);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header_of(&resp, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let csp = header_of(&resp, header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' https://api.shop.test;"),
        "{csp}"
    );
    let html = text(resp);
    assert!(html.contains("<title>Shop API</title>"), "{html}");
    assert!(
        html.contains("data-openapi-url=\"/openapi.json\""),
        "{html}"
    );
    assert!(!html.contains("<script>"), "no inline script: {html}");
    if cfg!(feature = "docs-ui") {
        let src = html
            .split("<script src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("script tag")
            .to_owned();
        assert!(src.starts_with("/docs/assets/"), "{src}");
        let js = get(&gw, Method::GET, &src, None);
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(
            header_of(&js, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            header_of(&js, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        // The hash in the URL is the content's: a stale one is not served.
        let stale = src.replace("/assets/", "/assets/0");
        assert_eq!(
            get(&gw, Method::GET, &stale, None).status(),
            StatusCode::NOT_FOUND
        );
        let head = get(&gw, Method::HEAD, &src, None);
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.body().as_bytes().unwrap_or_default().is_empty());
    }
}

#[test]
fn without_docs_the_paths_go_to_the_routes() {
    let gw = Gateway::new(
        load(
            "version: 1\nupstreams:\n  u: { mock: { body: routed } }\nroutes:\n  - { path: \"/{*rest}\", upstream: u }\n",
        ),
        test_env::env(),
    );
    let resp = get(&gw, Method::GET, "/openapi.json", None);
    assert_eq!(text(resp), "routed");
}
