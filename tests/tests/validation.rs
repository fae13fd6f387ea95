//! The `validate` policy through the local server: JSON Schema and OpenAPI
//! contracts, problem documents whose `errors` point at the failing
//! location, strict JSON (duplicate keys, depth) and response checks.

mod common;

use anyhow::Result;
use common::{TempDir, TestGateway, assert_problem, client, fill, ok_upstream, received};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const ORDER_SCHEMA: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - name: orders
    path: /orders
    methods: [POST]
    upstream: backend
    policies:
      - validate:
          max_depth: 8
          query:
            type: object
            properties:
              limit: { type: integer, minimum: 1, maximum: 100 }
          body:
            type: object
            required: [items]
            additionalProperties: false
            properties:
              note: { type: string, maxLength: 20 }
              items:
                type: array
                minItems: 1
                items:
                  type: object
                  required: [sku, qty]
                  properties:
                    sku: { type: string }
                    qty: { type: integer, minimum: 1 }
"#;

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["pointer"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn post(gw: &TestGateway, path: &str, ct: &str, body: &str) -> Result<reqwest::Response> {
    Ok(client()
        .post(gw.url(path))
        .header("content-type", ct)
        .body(body.to_owned())
        .send()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_contract_sorts_failures_by_status_and_location() -> Result<()> {
    let up = ok_upstream().await;
    let gw = TestGateway::start(&fill(ORDER_SCHEMA, &[("UP", &up.uri())])).await?;
    let json = "application/json";

    let ok = post(
        &gw,
        "/orders?limit=5",
        json,
        r#"{"items":[{"sku":"a","qty":2}]}"#,
    )
    .await?;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        received(&up).await.len(),
        1,
        "a valid order reaches the upstream"
    );

    // 422: body fails its schema, each failure at its own location.
    let long = "x".repeat(5000);
    let body =
        format!(r#"{{"items":[{{"sku":"a","qty":0}},{{"qty":1}}],"note":"{long}","extra":1}}"#);
    let p = assert_problem(
        post(&gw, "/orders", json, &body).await?,
        422,
        "invalid-body",
    )
    .await?;
    let mut got = pointers(&p);
    got.sort();
    assert_eq!(
        got,
        [
            "/body",
            "/body/items/0/qty",
            "/body/items/1/sku",
            "/body/note"
        ]
    );
    assert!(
        !p.to_string().contains(&long[..100]),
        "large input is not echoed: {p}"
    );

    // 400: a query parameter of the wrong type; 415: not JSON; 400:
    // malformed JSON, duplicate keys, missing body.
    let item = r#"{"items":[{"sku":"a","qty":1}]}"#;
    let dup = r#"{"items":[{"sku":"a","qty":1,"qty":-5}]}"#;
    #[rustfmt::skip]
    let cases = [
        ("/orders?limit=abc", json, item, 400, "invalid-request", "/query/limit"),
        ("/orders?limit=500", json, item, 400, "invalid-request", "/query/limit"),
        ("/orders", "text/plain", "items", 415, "unsupported-media-type", "/header/content-type"),
        ("/orders", json, r#"{"items":["#, 400, "invalid-request", "/body"),
        ("/orders", json, dup, 400, "invalid-request", "/body/items/0/qty"),
        ("/orders", json, "", 400, "invalid-request", "/body"),
    ];
    for (path, ct, body, status, kind, pointer) in cases {
        let p = assert_problem(post(&gw, path, ct, body).await?, status, kind).await?;
        assert_eq!(pointers(&p), [pointer], "{path} {ct} {body}");
        if body == dup {
            assert_eq!(p["errors"][0]["message"], "duplicate key");
        }
    }
    let deep = format!(
        r#"{{"items":[{{"sku":"a","qty":1}}],"x":{}{}}}"#,
        "[".repeat(20),
        "]".repeat(20)
    );
    let p = assert_problem(
        post(&gw, "/orders", json, &deep).await?,
        400,
        "invalid-request",
    )
    .await?;
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("deeper than 8"),
        "{p}"
    );
    assert_eq!(
        received(&up).await.len(),
        1,
        "refused requests never reach the upstream"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_list_is_capped() -> Result<()> {
    let up = ok_upstream().await;
    let gw = TestGateway::start(&fill(ORDER_SCHEMA, &[("UP", &up.uri())])).await?;
    let items: Vec<Value> = (0..200).map(|_| json!({"qty": "many"})).collect();
    let body = json!({ "items": items }).to_string();
    let p = assert_problem(
        post(&gw, "/orders", "application/json", &body).await?,
        422,
        "invalid-body",
    )
    .await?;
    let n = p["errors"].as_array().map_or(0, Vec::len);
    assert!((1..=10).contains(&n), "{n} errors");
    Ok(())
}

const OPENAPI: &str = r#"
openapi: 3.0.3
info: { title: pets, version: "1" }
paths:
  /pets:
    get:
      parameters:
        - { name: limit, in: query, required: true, schema: { type: integer, maximum: 50 } }
        - { name: tags, in: query, schema: { type: array, items: { type: string, enum: [cat, dog] } } }
        - { name: X-Request-Id, in: header, required: true, schema: { type: string, pattern: "^[a-f0-9]{8}$" } }
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { type: array, items: { $ref: '#/components/schemas/Pet' } }
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Pet' }
      responses:
        "201": { description: created }
  /pets/{petId}:
    parameters:
      - { name: petId, in: path, required: true, schema: { type: integer, minimum: 1 } }
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Pet' }
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: { type: string, minLength: 1 }
        age: { type: integer, nullable: true }
"#;

async fn openapi_gateway(
    up: &MockServer,
    response: &str,
) -> Result<(TempDir, gateway_local::RunningServer)> {
    let dir = TempDir::new()?;
    std::fs::create_dir_all(dir.path().join("api"))?;
    std::fs::write(dir.path().join("api/pets.yaml"), OPENAPI)?;
    let yaml = fill(
        r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - name: pets
    path: /api/{*rest}
    upstream: backend
    policies:
      - validate: { openapi_file: api/pets.yaml, strip_prefix: /api RESPONSE }
"#,
        &[("UP", &up.uri()), ("RESPONSE", response)],
    );
    let config = dir.path().join("gateway.yaml");
    std::fs::write(&config, yaml)?;
    let server = TestGateway::start_file(&config).await?;
    Ok((dir, server))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_from_a_file_checks_parameters_and_bodies() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "rex", "age": null})))
        .mount(&up)
        .await;
    let (_dir, gw) = openapi_gateway(&up, "").await?;
    let url = |p: &str| format!("http://{}{p}", gw.addr());
    let c = client();

    let ok = c
        .get(url("/api/pets?limit=10&tags=cat&tags=dog"))
        .header("x-request-id", "deadbeef")
        .send()
        .await?;
    assert_eq!(ok.status(), 200);

    let p = assert_problem(
        c.get(url("/api/pets?limit=99&tags=cow")).send().await?,
        400,
        "invalid-request",
    )
    .await?;
    let mut got = pointers(&p);
    got.sort();
    assert_eq!(
        got,
        ["/header/x-request-id", "/query/limit", "/query/tags/0"]
    );

    let p = assert_problem(
        c.get(url("/api/pets/0")).send().await?,
        400,
        "invalid-request",
    )
    .await?;
    assert_eq!(pointers(&p), ["/path/petId"]);
    assert_eq!(c.get(url("/api/pets/7")).send().await?.status(), 200);

    let post = |b: &'static str| {
        c.post(url("/api/pets"))
            .header("content-type", "application/json")
            .body(b)
            .send()
    };
    let p = assert_problem(
        post(r#"{"name":"","age":"old"}"#).await?,
        422,
        "invalid-body",
    )
    .await?;
    let mut got = pointers(&p);
    got.sort();
    assert_eq!(got, ["/body/age", "/body/name"]);
    assert_eq!(
        post(r#"{"name":"rex","age":null}"#).await?.status(),
        200,
        "3.0 nullable"
    );
    let p = assert_problem(
        c.post(url("/api/pets"))
            .header("content-type", "application/xml")
            .body("<pet/>")
            .send()
            .await?,
        415,
        "unsupported-media-type",
    )
    .await?;
    assert_eq!(pointers(&p), ["/header/content-type"]);

    assert_problem(
        c.get(url("/api/owners")).send().await?,
        404,
        "operation-not-described",
    )
    .await?;
    assert_problem(
        c.delete(url("/api/pets/7")).send().await?,
        405,
        "operation-not-described",
    )
    .await?;
    let reached = received(&up).await;
    assert_eq!(
        reached.len(),
        3,
        "only the valid requests reached the upstream"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_enforced_or_reported() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"age": "secret-internal"})))
        .mount(&up)
        .await;
    let (_dir, gw) = openapi_gateway(&up, ", response: enforce").await?;
    let resp = client()
        .get(format!("http://{}/api/pets/3", gw.addr()))
        .send()
        .await?;
    let p = assert_problem(resp, 502, "invalid-upstream-response").await?;
    assert!(!p.to_string().contains("secret-internal"), "{p}");
    assert!(
        p.get("errors").is_none(),
        "upstream details stay private: {p}"
    );

    let (_dir2, gw) = openapi_gateway(&up, ", response: report").await?;
    let resp = client()
        .get(format!("http://{}/api/pets/3", gw.addr()))
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&resp.bytes().await?)?,
        json!({"age": "secret-internal"})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_contracts_are_refused_at_load() -> Result<()> {
    let dir = TempDir::new()?;
    let config = dir.path().join("gateway.yaml");
    let cases = [
        ("validate: { body: { type: 12 } }", "invalid JSON Schema"),
        ("validate: { body_file: missing.json }", "missing.json"),
        ("validate: { openapi: { openapi: 2.0 } }", "3.0.x or 3.1.x"),
        ("validate: { max_depth: 1000, body: {} }", "max_depth"),
        ("validate: {}", "give `openapi`"),
    ];
    for (policy, expected) in cases {
        let yaml = format!(
            "version: 1\nupstreams:\n  u: {{ mock: {{ status: 200 }} }}\nroutes:\n  - path: /x\n    upstream: u\n    policies:\n      - {policy}\n"
        );
        std::fs::write(&config, yaml)?;
        let err = gateway_local::load_config(&config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(expected), "{policy}: {err}");
    }
    Ok(())
}
