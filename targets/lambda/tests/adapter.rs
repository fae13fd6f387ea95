//! The Lambda adapter driven with recorded events (API Gateway REST v1 with a
//! stage, HTTP API v2, ALB, Function URL): requests through
//! `lambda_http::request::from_str` into the real handler, and responses
//! through `lambda_http`'s own event adapter (what `lambda_http::run` uses)
//! to check the wire format per event kind.

use gateway_lambda::{LambdaGateway, load_config_text};
use http::StatusCode;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service as _};
use serde_json::{Value, json};

const CONFIG: &str = include_str!("data/gateway.test.yaml");

/// The event kinds the adapter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RestV1,
    HttpV2,
    Alb,
    FunctionUrl,
}

const ALL: [Kind; 4] = [Kind::RestV1, Kind::HttpV2, Kind::Alb, Kind::FunctionUrl];

impl Kind {
    fn fixture(self) -> &'static str {
        match self {
            Kind::RestV1 => include_str!("data/apigw_v1.json"),
            Kind::HttpV2 => include_str!("data/http_api_v2.json"),
            Kind::Alb => include_str!("data/alb.json"),
            Kind::FunctionUrl => include_str!("data/function_url.json"),
        }
    }

    /// The client address the fixture names (ALB: in `X-Forwarded-For`).
    fn client_ip(self) -> &'static str {
        match self {
            Kind::RestV1 => "192.168.196.186",
            Kind::HttpV2 => "1.2.3.4",
            Kind::Alb => "72.21.198.67",
            Kind::FunctionUrl => "65.78.31.245",
        }
    }
}

/// A fixture event rewritten to `method path?query`.
fn event(kind: Kind, method: &str, path: &str, query: &str) -> String {
    let mut ev: Value = serde_json::from_str(kind.fixture()).expect("fixture is JSON");
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let single: serde_json::Map<String, Value> =
        pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let multi: serde_json::Map<String, Value> =
        pairs.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
    match kind {
        Kind::RestV1 => {
            let stage = ev["requestContext"]["stage"]
                .as_str()
                .expect("v1 fixture has a stage")
                .to_owned();
            ev["httpMethod"] = json!(method);
            ev["path"] = json!(path);
            ev["requestContext"]["httpMethod"] = json!(method);
            ev["requestContext"]["path"] = json!(format!("/{stage}{path}"));
            ev["queryStringParameters"] = json!(single);
            ev["multiValueQueryStringParameters"] = json!(multi);
            ev["body"] = Value::Null;
        }
        Kind::HttpV2 | Kind::FunctionUrl => {
            ev["rawPath"] = json!(path);
            ev["rawQueryString"] = json!(query);
            ev["requestContext"]["http"]["method"] = json!(method);
            ev["requestContext"]["http"]["path"] = json!(path);
        }
        Kind::Alb => {
            ev["httpMethod"] = json!(method);
            ev["path"] = json!(path);
            ev["multiValueQueryStringParameters"] = json!(multi);
            ev["body"] = Value::Null;
        }
    }
    ev.to_string()
}

async fn gateway(upstream: &str) -> LambdaGateway {
    let text = CONFIG.replace("UPSTREAM_URL", upstream);
    let config = load_config_text("gateway.test.yaml", &text).expect("test config is valid");
    LambdaGateway::from_config(config)
        .await
        .expect("memory store needs nothing")
}

/// A gateway whose real upstream is a closed port (unused by most tests).
async fn mock_gateway() -> LambdaGateway {
    gateway("http://127.0.0.1:9").await
}

/// Drives the handler with an event, as `lambda_http::request::from_str`
/// parses it.
async fn call(gw: &LambdaGateway, event: &str) -> http::Response<lambda_http::Body> {
    let request = lambda_http::request::from_str(event).expect("event parses");
    gw.handle(request).await.expect("invocation succeeds").0
}

/// Drives `lambda_http`'s event adapter and returns the response JSON that
/// goes back to the Lambda service.
async fn wire(gw: &LambdaGateway, event: &str) -> Value {
    let payload: LambdaRequest = serde_json::from_str(event).expect("event parses");
    let mut adapter = Adapter::from(gw.clone());
    let response = adapter
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("invocation succeeds");
    serde_json::to_value(response).expect("response serialises")
}

fn text(resp: &http::Response<lambda_http::Body>) -> &str {
    match resp.body() {
        lambda_http::Body::Text(t) => t,
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn json_body(resp: &http::Response<lambda_http::Body>) -> Value {
    serde_json::from_str(text(resp)).expect("JSON body")
}

/// A response header from the wire JSON, wherever the event kind puts it.
fn wire_header(kind: Kind, wire: &Value, name: &str) -> Option<String> {
    match kind {
        Kind::RestV1 => wire["multiValueHeaders"][name][0]
            .as_str()
            .map(str::to_owned),
        _ => wire["headers"][name].as_str().map(str::to_owned),
    }
}

#[tokio::test]
async fn mock_route_answers_on_every_event_kind() {
    let gw = mock_gateway().await;
    for kind in ALL {
        let resp = call(&gw, &event(kind, "GET", "/hello", "")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{kind:?}");
        assert_eq!(resp.headers()["x-powered-by"], "gateway", "{kind:?}");
        assert_eq!(
            json_body(&resp),
            json!({ "message": "hello from the gateway" }),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn rest_stage_prefix_is_not_part_of_the_routed_path() {
    let gw = mock_gateway().await;
    let ev = event(Kind::RestV1, "GET", "/echo/a/b", "x=1");
    // lambda_http itself puts the stage in the URI...
    let parsed = lambda_http::request::from_str(&ev).expect("event parses");
    assert_eq!(parsed.uri().path(), "/testStage/echo/a/b");
    // ...the gateway routes without it.
    let resp = call(&gw, &ev).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let echo = json_body(&resp);
    assert_eq!(echo["path"], "/internal/a/b");
    assert_eq!(echo["query"], "x=1");
    // The stage-prefixed path is not a route.
    let resp = call(&gw, &event(Kind::RestV1, "GET", "/testStage/hello", "")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn http_api_named_stage_is_removed_from_the_raw_path() {
    let gw = mock_gateway().await;
    let mut ev: Value =
        serde_json::from_str(&event(Kind::HttpV2, "GET", "/Prod/hello", "")).expect("JSON");
    ev["requestContext"]["stage"] = json!("Prod");
    let resp = call(&gw, &ev.to_string()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-powered-by"], "gateway");
}

#[tokio::test]
async fn path_parameters_query_and_client_ip_reach_the_upstream() {
    let gw = mock_gateway().await;
    for kind in ALL {
        let resp = call(&gw, &event(kind, "GET", "/items/42", "color=red")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{kind:?}");
        let echo = json_body(&resp);
        assert_eq!(echo["path"], "/store/items/42", "{kind:?}");
        assert_eq!(echo["query"], "color=red", "{kind:?}");

        let resp = call(&gw, &event(kind, "POST", "/echo/x", "")).await;
        let echo = json_body(&resp);
        assert_eq!(echo["method"], "POST", "{kind:?}");
        assert_eq!(echo["headers"]["x-client-ip"], kind.client_ip(), "{kind:?}");
    }
}

#[tokio::test]
async fn versioned_route_picks_the_version_and_marks_deprecation() {
    let gw = mock_gateway().await;
    for kind in ALL {
        let v1 = call(&gw, &event(kind, "GET", "/api/v1/users", "")).await;
        assert_eq!(v1.status(), StatusCode::OK, "{kind:?}");
        assert_eq!(json_body(&v1)["version"], 1, "{kind:?}");
        assert!(v1.headers().contains_key("deprecation"), "{kind:?}");
        assert!(v1.headers().contains_key("sunset"), "{kind:?}");
        let v2 = call(&gw, &event(kind, "GET", "/api/v2/users", "")).await;
        assert_eq!(json_body(&v2)["version"], 2, "{kind:?}");
        assert!(!v2.headers().contains_key("deprecation"), "{kind:?}");
    }
}

#[tokio::test]
async fn deny_policy_refuses_with_problem_json() {
    let gw = mock_gateway().await;
    for kind in ALL {
        let resp = call(&gw, &event(kind, "DELETE", "/echo/x", "")).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{kind:?}");
        assert_eq!(
            resp.headers()["content-type"],
            "application/problem+json",
            "{kind:?}"
        );
        assert_eq!(json_body(&resp)["status"], 403, "{kind:?}");
    }
}

#[tokio::test]
async fn problem_json_404_and_405_on_the_wire_of_every_event_kind() {
    let gw = mock_gateway().await;
    for kind in ALL {
        let not_found = wire(&gw, &event(kind, "GET", "/nowhere", "")).await;
        assert_eq!(not_found["statusCode"], 404, "{kind:?}: {not_found}");
        assert_eq!(not_found["isBase64Encoded"], false, "{kind:?}");
        assert_eq!(
            wire_header(kind, &not_found, "content-type").as_deref(),
            Some("application/problem+json"),
            "{kind:?}: {not_found}"
        );
        let problem: Value = serde_json::from_str(not_found["body"].as_str().expect("text body"))
            .expect("problem JSON");
        assert_eq!(problem["status"], 404, "{kind:?}");
        assert!(problem["type"].as_str().is_some(), "{kind:?}: {problem}");

        let not_allowed = wire(&gw, &event(kind, "POST", "/hello", "")).await;
        assert_eq!(not_allowed["statusCode"], 405, "{kind:?}: {not_allowed}");
        let allow = wire_header(kind, &not_allowed, "allow").expect("Allow header");
        assert!(allow.contains("GET"), "{kind:?}: {allow}");
        assert_eq!(
            wire_header(kind, &not_allowed, "content-type").as_deref(),
            Some("application/problem+json"),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn wire_format_per_event_kind() {
    let gw = mock_gateway().await;
    for kind in ALL {
        let w = wire(&gw, &event(kind, "GET", "/hello", "")).await;
        assert_eq!(w["statusCode"], 200, "{kind:?}: {w}");
        let body: Value =
            serde_json::from_str(w["body"].as_str().expect("text body")).expect("JSON body");
        assert_eq!(body["message"], "hello from the gateway", "{kind:?}");
        match kind {
            Kind::RestV1 => {
                // Headers only in multiValueHeaders, so API Gateway does not
                // merge them twice.
                assert_eq!(
                    w["multiValueHeaders"]["x-powered-by"],
                    json!(["gateway"]),
                    "{w}"
                );
                assert_eq!(w["headers"], json!({}), "{w}");
                assert!(w.get("statusDescription").is_none(), "{w}");
                assert!(w.get("cookies").is_none(), "{w}");
            }
            Kind::Alb => {
                assert_eq!(w["statusDescription"], "200 OK", "{w}");
                assert_eq!(w["headers"]["x-powered-by"], "gateway", "{w}");
                assert_eq!(
                    w["multiValueHeaders"]["x-powered-by"],
                    json!(["gateway"]),
                    "{w}"
                );
            }
            Kind::HttpV2 | Kind::FunctionUrl => {
                assert_eq!(w["headers"]["x-powered-by"], "gateway", "{w}");
                assert_eq!(w["cookies"], json!([]), "{w}");
                assert!(w.get("statusDescription").is_none(), "{w}");
            }
        }
    }
}

#[tokio::test]
async fn binary_bodies_are_base64_on_the_wire() {
    let gw = mock_gateway().await;
    for kind in ALL {
        let w = wire(&gw, &event(kind, "GET", "/bytes", "")).await;
        assert_eq!(w["statusCode"], 200, "{kind:?}: {w}");
        assert_eq!(w["isBase64Encoded"], true, "{kind:?}: {w}");
        assert_eq!(w["body"], "cmF3", "{kind:?}: {w}"); // base64("raw")
    }
}

#[tokio::test]
async fn upstream_over_real_http_from_the_adapter() {
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/backend/orders/7"))
        .and(query_param("expand", "lines"))
        .and(header("x-forwarded-for", "1.2.3.4"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("set-cookie", "session=abc; Path=/")
                .insert_header("x-upstream", "wiremock")
                .set_body_raw(r#"{"id":7}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let gw = gateway(&server.uri()).await;
    let mut ev: Value = serde_json::from_str(&event(
        Kind::HttpV2,
        "POST",
        "/real/orders/7",
        "expand=lines",
    ))
    .expect("JSON");
    ev["body"] = json!(r#"{"qty":1}"#);
    let w = wire(&gw, &ev.to_string()).await;
    assert_eq!(w["statusCode"], 201, "{w}");
    assert_eq!(w["headers"]["x-upstream"], "wiremock", "{w}");
    // HTTP API wants Set-Cookie in `cookies`, not in `headers`.
    assert_eq!(w["cookies"], json!(["session=abc; Path=/"]), "{w}");
    assert!(w["headers"].get("set-cookie").is_none(), "{w}");
    assert_eq!(w["body"], r#"{"id":7}"#, "{w}");

    let received = server.received_requests().await.expect("recording on");
    assert_eq!(received[0].body, br#"{"qty":1}"#);
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_problem_response_not_an_invocation_error() {
    let gw = mock_gateway().await;
    let resp = call(&gw, &event(Kind::FunctionUrl, "GET", "/real/x", "")).await;
    assert!(resp.status().is_server_error(), "{}", resp.status());
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn deferred_work_is_awaited_before_the_invocation_returns() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let gw = mock_gateway().await;
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    gw.gateway().env().deferred.defer(Box::pin(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        flag.store(true, Ordering::SeqCst);
    }));
    assert_eq!(gw.deferred().pending(), 1);
    let resp = call(&gw, &event(Kind::RestV1, "GET", "/hello", "")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(done.load(Ordering::SeqCst), "deferred work finished first");
    assert_eq!(gw.deferred().pending(), 0);
}

#[test]
fn the_embedded_config_is_valid() {
    let config = load_config_text(gateway_lambda::EMBEDDED.name, gateway_lambda::EMBEDDED.text)
        .expect("the embedded config is valid");
    assert_eq!(config.source(), gateway_lambda::EMBEDDED.name);
}
