//! The `validate` policy in a gateway with mock upstreams and fake
//! environments: OpenAPI lookups, `$ref`s, 3.0 `nullable`, and response
//! reports recorded on the response.

use futures_executor::block_on;
use http::{Method, Request};
use serde_json::json;

use super::ResponseValidationReport;
use super::openapi::{Lookup, OpenApi};
use crate::body::Body;
use crate::config::load_file_text;
use crate::gateway::{ClientInfo, Gateway};
use crate::policy::PolicyRegistry;
use crate::test_env;

fn doc(version: &str) -> serde_json::Value {
    json!({
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/items/{id}": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "get": {"responses": {"200": {"description": "ok"}}},
                "put": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                    "responses": {"default": {"description": "any"}}
                }
            },
            "/items/special": {"get": {"responses": {}}}
        },
        "components": {
            "parameters": {"Id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}},
            "schemas": {"Item": {"type": "object", "properties": {"note": {"type": "string", "nullable": true}}}}
        }
    })
}

#[test]
fn operations_are_found_by_method_and_template() {
    let api = OpenApi::build(&doc("3.0.3")).expect("valid document");
    match api.lookup(&Method::GET, "/items/a%20b") {
        Lookup::Found(_, params) => assert_eq!(params, [("id".to_owned(), "a b".to_owned())]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        api.lookup(&Method::HEAD, "/items/1"),
        Lookup::Found(..)
    ));
    assert!(matches!(
        api.lookup(&Method::GET, "/items/special"),
        Lookup::Found(..)
    ));
    assert!(matches!(
        api.lookup(&Method::DELETE, "/items/1"),
        Lookup::NoMethod
    ));
    assert!(matches!(api.lookup(&Method::GET, "/other"), Lookup::NoPath));
    assert!(api.any_body());
}

#[test]
fn bad_documents_name_the_problem() {
    assert!(OpenApi::build(&json!({"openapi": "2.0"})).is_err());
    let mut d = doc("3.1.0");
    d["paths"]["/items/{id}"]["parameters"][0]["$ref"] = json!("other.yaml#/x");
    let err = OpenApi::build(&d).expect_err("external ref").join("\n");
    assert!(err.contains("within the document"), "{err}");
}

fn gateway(yaml: &str) -> Gateway {
    Gateway::new(
        load_file_text("t.yaml", yaml, &PolicyRegistry::builtin()).expect("valid config"),
        test_env::env(),
    )
}

fn put(gw: &Gateway, path: &str, body: &'static str) -> (u16, serde_json::Value) {
    let req = Request::put(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let resp = block_on(gw.handle(req, ClientInfo::default()));
    let status = resp.status().as_u16();
    let bytes = block_on(resp.into_body().collect(1 << 20)).expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[test]
fn nullable_and_refs_apply_to_bodies() {
    let d = serde_json::to_string(&doc("3.0.3")).expect("json");
    let gw = gateway(&format!(
        "version: 1\nupstreams: {{ m: {{ mock: {{ status: 204 }} }} }}\nroutes:\n  - path: /items/{{id}}\n    upstream: m\n    policies:\n      - validate: {{ openapi: {d} }}\n"
    ));
    assert_eq!(put(&gw, "/items/1", r#"{"note":null}"#).0, 204);
    let (status, p) = put(&gw, "/items/1", r#"{"note":5}"#);
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["pointer"], "/body/note");
    let (status, p) = put(&gw, "/items/x", r#"{}"#);
    assert_eq!(status, 400);
    assert_eq!(p["errors"][0]["pointer"], "/path/id");
}

#[test]
fn reported_response_failures_are_recorded_on_the_response() {
    let gw = gateway(
        "version: 1\nupstreams: { m: { mock: { json: { id: \"x\" } } } }\nroutes:\n  - path: /r\n    upstream: m\n    policies:\n      - validate: { response: report, response_body: { properties: { id: { type: integer } } } }\n",
    );
    let resp = block_on(gw.handle(
        Request::get("/r").body(Body::empty()).expect("request"),
        ClientInfo::default(),
    ));
    assert_eq!(resp.status(), 200);
    let report = resp
        .extensions()
        .get::<ResponseValidationReport>()
        .expect("report recorded");
    assert_eq!(report.errors[0].pointer, "/body/id");
}
