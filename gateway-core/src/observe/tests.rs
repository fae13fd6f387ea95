//! The per-request record, request ids, problem bodies and the log lines,
//! through the gateway with fake environments.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_executor::block_on;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};

use super::*;
use crate::body::Body;
use crate::config::load_file_text;
use crate::env::Rng;
use crate::policy::PolicyRegistry;
use crate::test_env;
use crate::{ClientInfo, Gateway};

/// sha256("foo").
const FOO_DIGEST: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

fn gateway(extra: &str) -> Gateway {
    let yaml = format!(
        r#"
version: 1
{extra}
consumers:
  ada: {{ api_keys: ["{FOO_DIGEST}"] }}
upstreams:
  hello: {{ mock: {{ status: 200, json: {{ hi: 1 }} }} }}
  upstream_problem:
    mock: {{ status: 500, headers: {{ content-type: application/problem+json }}, body: '{{"title":"theirs"}}' }}
  down: {{ url: "http://127.0.0.1:9/" }}
  echo: {{ mock: {{ echo: true }} }}
routes:
  - {{ name: hello, path: /hello, upstream: hello }}
  - {{ name: theirs, path: /theirs, upstream: upstream_problem }}
  - {{ name: down, path: /down, upstream: down }}
  - {{ name: echo, path: /echo, upstream: echo }}
  - name: fan
    path: /fan
    aggregate: {{ backends: [ {{ name: e, upstream: echo, path: /x }} ] }}
  - {{ name: waf, path: "/waf/{{*rest}}", upstream: echo, policies: [ {{ waf: {{}} }} ] }}
  - {{ name: wafd, path: "/wafd/{{*rest}}", upstream: echo, policies: [ {{ waf: {{ mode: detect }} }} ] }}
  - name: keyed
    path: /keyed
    upstream: hello
    policies: [ {{ auth: {{ api_key: {{}} }} }} ]
"#
    );
    let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin()).expect("config");
    Gateway::new(cfg, test_env::env())
}

fn send(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> Response<Body> {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    block_on(gw.handle(
        b.body(Body::empty()).expect("request"),
        ClientInfo::default(),
    ))
}

fn exchange(resp: &Response<Body>) -> Exchange {
    resp.extensions()
        .get::<Exchange>()
        .expect("the gateway records every request")
        .clone()
}

fn json(resp: Response<Body>) -> serde_json::Value {
    let bytes = block_on(resp.into_body().collect(1 << 20)).expect("body");
    serde_json::from_slice(&bytes).expect("json")
}

fn header<'a>(resp: &'a Response<Body>, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

struct Fixed(AtomicU64);
impl Rng for Fixed {
    fn next_u64(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

#[test]
fn well_formed_ids_are_short_visible_tokens() {
    for ok in [
        "a",
        "req-42",
        "A1.b_c~d",
        "!#$%&'*+-.^_`|~",
        &"x".repeat(128),
    ] {
        assert!(is_well_formed(ok.as_bytes()), "{ok:?} should be accepted");
    }
    for bad in [
        "",
        &"x".repeat(129),
        "has space",
        "quo\"te",
        "back\\slash",
        "a,b",
        "semi;colon",
        "caf\u{e9}",
        "tab\there",
    ] {
        assert!(!is_well_formed(bad.as_bytes()), "{bad:?} should be refused");
    }
}

#[test]
fn a_client_id_is_kept_only_when_it_is_one_well_formed_value() {
    let name = HeaderName::from_static("x-request-id");
    let rng = Fixed(AtomicU64::new(0xab));
    let mut h = HeaderMap::new();
    h.insert(&name, HeaderValue::from_static("client-7"));
    assert_eq!(
        RequestId::take_or_generate(&h, &name, &rng).as_str(),
        "client-7"
    );

    h.insert(&name, HeaderValue::from_static("not ok"));
    let replaced = RequestId::take_or_generate(&h, &name, &rng);
    assert_eq!(replaced.as_str(), "00000000000000ab00000000000000ac");

    h.insert(&name, HeaderValue::from_static("one"));
    h.append(&name, HeaderValue::from_static("two"));
    let twice = RequestId::take_or_generate(&h, &name, &rng);
    assert_eq!(twice.as_str().len(), 32);
    assert!(twice.as_str().bytes().all(|b| b.is_ascii_hexdigit()));

    let fresh = RequestId::take_or_generate(&HeaderMap::new(), &name, &rng);
    assert_ne!(fresh, twice, "each generated id is new");
}

#[test]
fn a_proxied_request_is_recorded_with_route_upstream_and_sizes() {
    let gw = gateway("");
    let resp = send(
        &gw,
        "/hello?token=s3cret",
        &[("x-request-id", "client-1"), ("user-agent", "probe/1")],
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-request-id"), "client-1");
    let x = exchange(&resp);
    assert_eq!(x.request_id.as_str(), "client-1");
    assert_eq!(x.route.as_deref(), Some("hello"));
    assert_eq!(x.upstream.as_deref(), Some("hello"));
    assert_eq!(x.status, 200);
    assert_eq!(x.bytes_in, Some(0));
    assert_eq!(x.bytes_out, Some(br#"{"hi":1}"#.len() as u64));
    assert_eq!(x.upstream_call.as_ref().map(|c| c.attempts), Some(1));
    assert_eq!(x.started_ms, 1_700_000_000_000);

    let line: serde_json::Value = serde_json::from_str(&log_line(&x)).expect("json line");
    assert_eq!(line["log"], "access");
    assert_eq!(line["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(line["request_id"], "client-1");
    assert_eq!(line["client_ip"], "0.0.0.0");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/hello", "the query is dropped by default");
    assert_eq!(line["route"], "hello");
    assert_eq!(line["upstream"], "hello");
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes_out"], 8);
    assert_eq!(line["user_agent"], "probe/1");
    assert!(line["consumer"].is_null());
    assert!(line["auth"].is_null());
}

#[test]
fn an_unmatched_path_is_a_404_whose_problem_names_the_request_id() {
    let gw = gateway("");
    let resp = send(&gw, "/nowhere", &[]);
    assert_eq!(resp.status(), 404);
    let id = header(&resp, "x-request-id").to_owned();
    assert_eq!(id.len(), 32, "generated when the client sent none");
    let x = exchange(&resp);
    assert_eq!(x.route, None);
    assert_eq!(x.route_label(), "unmatched");
    assert_eq!(x.upstream, None);
    assert!(x.upstream_call.is_none());
    let body = json(resp);
    assert_eq!(body["type"], "urn:gateway:problem:route-not-found");
    assert_eq!(body["request_id"], id.as_str());
}

#[test]
fn a_malformed_client_id_is_replaced_everywhere() {
    let gw = gateway("");
    let resp = send(&gw, "/nowhere", &[("x-request-id", "x\"y")]);
    let id = header(&resp, "x-request-id").to_owned();
    assert_ne!(id, "x\"y");
    assert_eq!(exchange(&resp).request_id.as_str(), id);
    assert_eq!(json(resp)["request_id"], id.as_str());
}

#[test]
fn a_policy_denial_is_recorded_without_the_credential() {
    let gw = gateway("");
    let resp = send(
        &gw,
        "/keyed",
        &[("x-api-key", "wrong"), ("x-request-id", "r-401")],
    );
    assert_eq!(resp.status(), 401);
    let x = exchange(&resp);
    assert_eq!(x.auth, Some(Decision::Deny));
    assert_eq!(x.answered_by, Some("auth"));
    assert_eq!(x.consumer, None);
    assert!(x.upstream_call.is_none(), "the upstream was not called");
    let line = log_line(&x);
    assert!(!line.contains("wrong"), "{line}");
    assert_eq!(json(resp)["request_id"], "r-401");

    let ok = send(&gw, "/keyed", &[("x-api-key", "foo")]);
    assert_eq!(ok.status(), 200);
    let x = exchange(&ok);
    assert_eq!(x.auth, Some(Decision::Allow));
    assert_eq!(x.consumer.as_deref(), Some("ada"));
    assert_eq!(x.answered_by, None);
    assert!(!log_line(&x).contains("foo\""));
}

#[test]
fn an_upstream_failure_is_recorded_with_its_attempts() {
    let gw = gateway("");
    let resp = send(&gw, "/down", &[("x-request-id", "r-502")]);
    assert_eq!(resp.status(), 502);
    let x = exchange(&resp);
    assert_eq!(x.route.as_deref(), Some("down"));
    assert_eq!(x.upstream.as_deref(), Some("down"));
    let call = x.upstream_call.as_ref().expect("the upstream was called");
    assert!(call.attempts >= 1);
    assert!(call.endpoint.is_some());
    let body = json(resp);
    assert_eq!(body["type"], "urn:gateway:problem:bad-gateway");
    assert_eq!(body["request_id"], "r-502");
}

#[test]
fn an_upstream_problem_document_is_not_touched() {
    let gw = gateway("");
    let resp = send(&gw, "/theirs", &[("x-request-id", "r-500")]);
    assert_eq!(resp.status(), 500);
    assert_eq!(header(&resp, "x-request-id"), "r-500");
    let body = json(resp);
    assert_eq!(body, serde_json::json!({ "title": "theirs" }));
}

#[test]
fn the_query_is_redacted_and_headers_logged_without_credentials() {
    let gw = gateway(
        "access_log: { query: redact, redact_query: [tenant], headers: [accept, authorization, x-api-key, x-trace-me] }",
    );
    let resp = send(
        &gw,
        "/hello?page=2&api_key=k1&Tenant=acme&my_token=t&q=a",
        &[
            ("accept", "text/plain"),
            ("authorization", "Bearer abc.def"),
            ("x-api-key", "k2"),
        ],
    );
    let line = log_line(&exchange(&resp));
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(
        v["path"],
        "/hello?page=2&api_key=[redacted]&Tenant=[redacted]&my_token=[redacted]&q=a"
    );
    assert_eq!(v["headers"]["accept"], "text/plain");
    assert_eq!(v["headers"]["authorization"], "[redacted]");
    assert_eq!(v["headers"]["x-api-key"], "[redacted]");
    assert!(
        v["headers"].get("x-trace-me").is_none(),
        "absent headers are left out"
    );
    for secret in ["k1", "acme", "abc.def", "k2"] {
        assert!(!line.contains(secret), "{secret} leaked: {line}");
    }
}

#[test]
fn the_request_id_header_is_configurable_and_goes_upstream() {
    let gw = gateway("access_log: { request_id_header: X-Correlation-Id }");
    let resp = send(
        &gw,
        "/echo",
        &[("x-correlation-id", "corr-9"), ("x-request-id", "other")],
    );
    assert_eq!(header(&resp, "x-correlation-id"), "corr-9");
    let body = json(resp);
    assert_eq!(body["headers"]["x-correlation-id"], "corr-9", "{body}");

    let gw = gateway("");
    let resp = send(&gw, "/echo", &[]);
    let id = header(&resp, "x-request-id").to_owned();
    assert_eq!(json(resp)["headers"]["x-request-id"], id.as_str());
}

#[test]
fn metrics_name_the_route_status_class_and_policy_outcomes() {
    let gw = gateway("");
    let resp = send(&gw, "/keyed", &[]);
    let x = exchange(&resp);
    let mut seen = Vec::new();
    measurements(&x, |m| {
        let labels: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        seen.push(format!("{} {}", m.name, labels.join(",")));
    });
    assert!(
        seen.contains(&"gateway_requests_total route=keyed,method=GET,status_class=4xx".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"gateway_request_duration_seconds route=keyed,status_class=4xx".to_owned())
    );
    assert!(seen.contains(
        &"gateway_policy_decisions_total route=keyed,policy=auth,outcome=deny".to_owned()
    ));
    assert!(
        !seen
            .iter()
            .any(|s| s.starts_with("gateway_upstream_duration_seconds"))
    );

    let line: serde_json::Value = serde_json::from_str(&metrics_line(&x)).expect("json");
    assert_eq!(line["log"], "metrics");
    assert_eq!(line["request_id"], x.request_id.as_str());
    let first = &line["metrics"][0];
    assert_eq!(first["name"], "gateway_requests_total");
    assert_eq!(first["kind"], "counter");
    assert_eq!(first["labels"]["status_class"], "4xx");
    assert_eq!(first["value"], 1.0);
}

#[test]
fn edge_lines_follow_access_log_enabled() {
    let on = gateway("");
    let lines = edge_lines(&send(&on, "/hello", &[]));
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with(r#"{"log":"access""#));
    assert!(lines[1].starts_with(r#"{"log":"metrics""#));
    let off = gateway("access_log: { enabled: false }");
    let resp = send(&off, "/hello", &[]);
    assert!(
        resp.headers().contains_key("x-request-id"),
        "ids do not depend on the log"
    );
    let lines = edge_lines(&resp);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(r#"{"log":"metrics""#));
}

#[test]
fn edge_lines_timed_use_the_target_s_own_measure() {
    let gw = gateway("");
    let mut resp = send(&gw, "/hello", &[]);
    let lines = edge_lines_timed(&mut resp, std::time::Duration::from_micros(12_500));
    let access: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    assert_eq!(access["latency_ms"], 12.5);
    let x = resp.extensions().get::<Exchange>().expect("record");
    assert_eq!(x.latency, std::time::Duration::from_micros(12_500));
}

#[test]
fn bad_access_log_settings_name_the_field() {
    let yaml = "version: 1\naccess_log: { request_id_header: \"bad header\", headers: [accept, Accept, \"x y\"], redact_query: [\"\"] }\n";
    let err = load_file_text("t.yaml", yaml, &PolicyRegistry::builtin()).expect_err("invalid");
    let text = err.to_string();
    for field in [
        "access_log.request_id_header",
        "access_log.headers[1]",
        "access_log.headers[2]",
        "access_log.redact_query[0]",
    ] {
        assert!(text.contains(field), "{field} missing in {text}");
    }
    let reserved = "version: 1\naccess_log: { request_id_header: Authorization }\n";
    let err = load_file_text("t.yaml", reserved, &PolicyRegistry::builtin()).expect_err("reserved");
    assert!(err.to_string().contains("access_log.request_id_header"));
}

#[test]
fn the_problem_splice_keeps_valid_json() {
    let id = RequestId::generate(&Fixed(AtomicU64::new(1)));
    for body in [&br#"{}"#[..], br#"{"status":404}"#] {
        let mut resp = Response::new(Body::full(body.to_vec()));
        resp.extensions_mut().insert(GatewayProblem);
        add_request_id(&mut resp, &id);
        let v = json(resp);
        assert_eq!(v["request_id"], id.as_str());
    }
    let mut unmarked = Response::new(Body::full(br#"{"a":1}"#.to_vec()));
    add_request_id(&mut unmarked, &id);
    assert!(json(unmarked).get("request_id").is_none());
}

#[test]
fn aggregate_backends_get_the_request_id() {
    let gw = gateway("");
    let resp = send(&gw, "/fan", &[("x-request-id", "fan-1")]);
    assert_eq!(resp.status(), 200);
    let x = exchange(&resp);
    assert_eq!(x.route.as_deref(), Some("fan"));
    assert_eq!(x.upstream, None, "an aggregate has no one upstream");
    let body = json(resp);
    assert_eq!(body["e"]["headers"]["x-request-id"], "fan-1", "{body}");
}

#[test]
fn waf_blocks_and_detections_are_recorded() {
    let gw = gateway("");
    let attack = "?id=1%27%20UNION%20SELECT%20password%20FROM%20users--";
    let blocked = send(&gw, &format!("/waf/items{attack}"), &[]);
    assert_eq!(blocked.status(), 403);
    let x = exchange(&blocked);
    assert_eq!(x.waf, Some(Decision::Blocked));
    assert_eq!(x.answered_by, Some("waf"));
    assert_eq!(json(blocked)["request_id"], x.request_id.as_str());

    let detected = send(&gw, &format!("/wafd/items{attack}"), &[]);
    assert_eq!(detected.status(), 200);
    assert_eq!(exchange(&detected).waf, Some(Decision::Matched));

    let clean = send(&gw, "/waf/items?id=7", &[]);
    assert_eq!(exchange(&clean).waf, Some(Decision::Allow));
}
