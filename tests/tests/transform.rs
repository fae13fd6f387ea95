//! The `transform` policy through the local server: query and JSON body
//! edits reach the upstream, responses are rewritten, Content-Length stays
//! right, and non-JSON bodies pass untouched.

mod common;

use anyhow::Result;
use common::{TestGateway, client, fill, received, value};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONFIG: &str = r#"
version: 1
upstreams:
  backend: { url: "UP" }
routes:
  - name: users
    path: /users/{id}
    upstream: backend
    policies:
      - transform:
          request:
            query:
              remove: [debug]
              rename: { q: search }
              set: { user: "{id}" }
              add: { via: gateway }
            body:
              remove: [/password]
              rename: { /userName: /user/name }
              set: { /user/id: "{id}", /tenant: "{header.x-tenant}", /flags: { beta: true } }
              add: { /role: member }
              wrap: data
          response:
            body:
              unwrap: /result
              remove: [/internal]
              set: { /served_by: "{route}" }
"#;

async fn upstream(body: Value) -> MockServer {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&up)
        .await;
    up
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_query_and_body_are_transformed_before_the_upstream() -> Result<()> {
    let up = upstream(json!({"result": {"ok": true, "internal": "x"}})).await;
    let gw = TestGateway::start(&fill(CONFIG, &[("UP", &up.uri())])).await?;
    let resp = client()
        .post(gw.url("/users/42?q=ada+l&debug=1&user=evil&keep=%2F"))
        .header("content-type", "application/json")
        .header("x-tenant", "acme")
        .body(r#"{"userName":"ada","password":"hunter2","role":"admin"}"#)
        .send()
        .await?;
    assert_eq!(resp.status(), 200);

    let got = received(&up).await;
    let req = &got[0];
    assert_eq!(
        req.url.query(),
        Some("search=ada+l&user=42&keep=%2F&via=gateway")
    );
    let sent: Value = serde_json::from_slice(&req.body)?;
    assert_eq!(
        sent,
        json!({"data": {"user": {"name": "ada", "id": "42"}, "tenant": "acme", "flags": {"beta": true}, "role": "admin"}})
    );
    assert_eq!(
        value(&req.headers, "content-length"),
        Some(req.body.len().to_string()),
        "Content-Length matches the new body"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_body_is_unwrapped_and_edited_with_a_correct_length() -> Result<()> {
    let up = upstream(json!({"result": {"ok": true, "internal": "x"}})).await;
    let gw = TestGateway::start(&fill(CONFIG, &[("UP", &up.uri())])).await?;
    let resp = client().get(gw.url("/users/1")).send().await?;
    assert_eq!(resp.status(), 200);
    let declared = resp.content_length();
    let body = resp.bytes().await?;
    assert_eq!(declared, Some(body.len() as u64));
    assert_eq!(
        serde_json::from_slice::<Value>(&body)?,
        json!({"ok": true, "served_by": "users"})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_json_bodies_pass_untouched() -> Result<()> {
    let up = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw("plain {\"result\":1}", "text/plain"))
        .mount(&up)
        .await;
    let gw = TestGateway::start(&fill(CONFIG, &[("UP", &up.uri())])).await?;
    let resp = client()
        .post(gw.url("/users/9"))
        .header("content-type", "text/csv")
        .body("userName,password\nada,hunter2\n")
        .send()
        .await?;
    assert_eq!(resp.text().await?, "plain {\"result\":1}");
    let got = received(&up).await;
    assert_eq!(got[0].body, b"userName,password\nada,hunter2\n");
    // Declared JSON that does not parse is forwarded as sent, too.
    client()
        .post(gw.url("/users/9"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    let got = received(&up).await;
    assert_eq!(got[1].body, b"{not json");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transforms_are_refused_at_load() -> Result<()> {
    let dir = common::TempDir::new()?;
    let config = dir.path().join("gateway.yaml");
    let cases = [
        (
            "transform: { request: { body: { remove: [password] } } }",
            "JSON pointer",
        ),
        (
            "transform: { request: { query: { set: { a: \"{nope}\" } } } }",
            "unknown variable",
        ),
        (
            "transform: { response: { query: { remove: [a] } } }",
            "a response has no query",
        ),
        ("transform: {}", "nothing to do"),
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
