//! The request path with tracing: what upstreams receive and which spans
//! a recorded request yields, against a scripted upstream.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_executor::block_on;
use http::{HeaderMap, Request, Response};

use super::{AttributeValue, Parent, SpanKind, SpanRecord, Trace, TraceContext, parse_traceparent};
use crate::body::Body;
use crate::config::load_file_text;
use crate::env::{HttpClient, SendOptions};
use crate::error::UpstreamError;
use crate::gateway::{ClientInfo, Gateway};
use crate::policy::PolicyRegistry;
use crate::test_env;

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Answers from a script (the last step repeats); keeps request headers.
#[derive(Default)]
struct Upstream {
    steps: Mutex<VecDeque<Option<u16>>>,
    seen: Mutex<Vec<HeaderMap>>,
}

impl Upstream {
    fn seen(&self) -> Vec<HeaderMap> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl HttpClient for Upstream {
    async fn send(
        &self,
        r: Request<Body>,
        _o: SendOptions,
    ) -> Result<Response<Body>, UpstreamError> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(r.headers().clone());
        let step = {
            let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
            if steps.len() > 1 {
                steps.pop_front().flatten()
            } else {
                steps.front().copied().flatten()
            }
        };
        match step {
            Some(s) => Ok(Response::builder()
                .status(s)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .expect("response")),
            None => Err(UpstreamError::Connect(None)),
        }
    }
}

struct Rig {
    gw: Gateway,
    upstream: Arc<Upstream>,
}

const ROUTES: &str = "
upstreams:
  u:
    url: http://127.0.0.1:9
    retry: { attempts: 3, backoff: { base: 1ms, max: 2ms } }
  v: { url: http://127.0.0.1:10 }
  m: { mock: { echo: true } }
routes:
  - { name: echo, path: /echo, upstream: m }
  - { name: orders, path: '/orders/{id}', upstream: u }
  - name: both
    path: /both
    aggregate:
      backends:
        - { name: one, upstream: u, path: /one }
        - { name: two, upstream: v, path: /two }
";

fn rig(tracing: &str, steps: &[Option<u16>], record: bool) -> Rig {
    let (mut env, _clock) = test_env::timed();
    let upstream = Arc::new(Upstream {
        steps: Mutex::new(steps.iter().copied().collect()),
        seen: Mutex::default(),
    });
    env.http = upstream.clone();
    let yaml = format!("version: 1\n{tracing}\n{ROUTES}");
    let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin())
        .unwrap_or_else(|e| panic!("valid config: {e}\n{yaml}"));
    let gw = Gateway::new(cfg, env);
    let gw = if record { gw.with_span_recording() } else { gw };
    Rig { gw, upstream }
}

impl Rig {
    fn call(&self, path: &str, headers: &[(&str, &str)]) -> Response<Body> {
        let mut req = Request::builder().uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        block_on(self.gw.handle(
            req.body(Body::empty()).expect("request"),
            ClientInfo::default(),
        ))
    }
}

fn sent_parent(h: &HeaderMap) -> Parent {
    let v = h.get("traceparent").expect("traceparent sent upstream");
    parse_traceparent(v.as_bytes()).expect("a valid traceparent")
}

fn attr<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a AttributeValue> {
    span.attributes
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[test]
fn a_callers_trace_continues_through_a_client_span() {
    let rig = rig("", &[Some(200)], true);
    let resp = rig.call(
        "/orders/7",
        &[("traceparent", CALLER), ("tracestate", "congo=t61")],
    );
    assert_eq!(resp.status(), 200);
    let caller = parse_traceparent(CALLER.as_bytes()).expect("valid");
    let trace = resp.extensions().get::<Trace>().expect("recorded");
    let [server, client] = trace.spans.as_slice() else {
        panic!("one server and one client span: {:?}", trace.spans);
    };
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.trace_id, caller.trace_id);
    assert_eq!(server.parent_span_id, Some(caller.span_id));
    assert_eq!(server.name, "GET orders");
    assert_eq!(
        attr(server, "http.route"),
        Some(&AttributeValue::text("orders"))
    );
    assert_eq!(
        attr(server, "http.response.status_code"),
        Some(&AttributeValue::Int(200))
    );
    assert_eq!(client.kind, SpanKind::Client);
    assert_eq!(client.parent_span_id, Some(server.span_id));
    assert_eq!(
        attr(client, "server.address"),
        Some(&AttributeValue::text("http://127.0.0.1:9"))
    );
    assert_eq!(
        attr(client, "gateway.upstream"),
        Some(&AttributeValue::text("u"))
    );
    let seen = rig.upstream.seen();
    let sent = sent_parent(&seen[0]);
    assert_eq!(sent.trace_id, caller.trace_id);
    assert_eq!(sent.span_id, client.span_id);
    assert_ne!(
        sent.span_id, caller.span_id,
        "the caller's traceparent is not passed on"
    );
    assert!(sent.sampled);
    assert_eq!(
        seen[0].get("tracestate").map(|v| v.as_bytes()),
        Some(&b"congo=t61"[..])
    );
    let cx = resp
        .extensions()
        .get::<TraceContext>()
        .expect("context in the response");
    assert_eq!(cx.span_id, server.span_id);
}

#[test]
fn without_a_valid_traceparent_a_new_trace_starts() {
    let rig = rig("", &[Some(200)], true);
    for bad in [
        "",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ] {
        let headers: &[(&str, &str)] = if bad.is_empty() {
            &[]
        } else {
            &[("traceparent", bad), ("tracestate", "congo=t61")]
        };
        let resp = rig.call("/orders/7", headers);
        let cx = resp
            .extensions()
            .get::<TraceContext>()
            .expect("context")
            .clone();
        assert_eq!(cx.parent_span_id, None);
        assert!(cx.sampled, "default ratio 1.0");
        let seen = rig.upstream.seen();
        let last = seen.last().expect("a request upstream");
        let sent = sent_parent(last);
        assert_eq!(sent.trace_id, cx.trace_id);
        assert_ne!(
            last.get("traceparent").map(|v| v.as_bytes()),
            Some(bad.as_bytes())
        );
        assert!(
            last.get("tracestate").is_none(),
            "no tracestate without a valid parent"
        );
    }
}

#[test]
fn unsampled_requests_still_propagate_and_record_nothing() {
    let rig = rig("tracing: { sample_ratio: 0.0 }", &[Some(200)], true);
    let resp = rig.call("/orders/7", &[]);
    assert!(resp.extensions().get::<Trace>().is_none());
    let cx = resp.extensions().get::<TraceContext>().expect("context");
    assert!(!cx.sampled);
    let sent = rig.upstream.seen()[0]
        .get("traceparent")
        .cloned()
        .expect("sent");
    assert!(sent.to_str().expect("ascii").ends_with("-00"), "{sent:?}");
    // The caller's flag wins by default, also when it says not sampled.
    let respecting = self::rig("", &[Some(200)], true);
    let unsampled = CALLER.replace("-01", "-00");
    let resp = respecting.call("/orders/7", &[("traceparent", &unsampled)]);
    assert!(resp.extensions().get::<Trace>().is_none());
    let resp = rig.call("/orders/7", &[("traceparent", CALLER)]);
    assert!(
        resp.extensions().get::<Trace>().is_some(),
        "a sampled parent overrides ratio 0"
    );
}

#[test]
fn without_span_recording_nothing_is_recorded_but_context_flows() {
    let rig = rig("", &[Some(200)], false);
    let resp = rig.call("/orders/7", &[("traceparent", CALLER)]);
    assert!(resp.extensions().get::<Trace>().is_none());
    let sent = sent_parent(&rig.upstream.seen()[0]);
    assert_eq!(sent.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[test]
fn every_attempt_is_its_own_client_span() {
    let rig = rig("", &[None, Some(503), Some(200)], true);
    let resp = rig.call("/orders/7", &[("traceparent", CALLER)]);
    assert_eq!(resp.status(), 200);
    let trace = resp.extensions().get::<Trace>().expect("recorded");
    let server = &trace.spans[0];
    let clients: Vec<&SpanRecord> = trace.spans[1..].iter().collect();
    assert_eq!(clients.len(), 3, "{:?}", trace.spans);
    let seen = rig.upstream.seen();
    assert_eq!(seen.len(), 3);
    for (i, (span, headers)) in clients.iter().zip(&seen).enumerate() {
        assert_eq!(span.parent_span_id, Some(server.span_id));
        assert_eq!(sent_parent(headers).span_id, span.span_id, "attempt {i}");
        let resend = attr(span, "http.request.resend_count");
        if i == 0 {
            assert_eq!(resend, None);
        } else {
            assert_eq!(resend, Some(&AttributeValue::Int(i as i64)));
        }
    }
    assert!(clients[0].error && clients[1].error && !clients[2].error);
    assert_eq!(
        attr(clients[0], "error.type"),
        Some(&AttributeValue::text("connect"))
    );
    assert_eq!(
        attr(clients[1], "error.type"),
        Some(&AttributeValue::text("503"))
    );
    let ids: std::collections::HashSet<_> = clients.iter().map(|s| s.span_id).collect();
    assert_eq!(ids.len(), 3, "distinct span ids");
}

#[test]
fn aggregate_backends_are_client_spans_of_the_request() {
    let rig = rig("", &[Some(200)], true);
    let resp = rig.call("/both", &[("traceparent", CALLER)]);
    assert_eq!(resp.status(), 200);
    let trace = resp.extensions().get::<Trace>().expect("recorded");
    let server = &trace.spans[0];
    assert_eq!(server.name, "GET both");
    let clients = &trace.spans[1..];
    assert_eq!(clients.len(), 2);
    let mut sent: Vec<_> = rig
        .upstream
        .seen()
        .iter()
        .map(sent_parent)
        .map(|p| p.span_id)
        .collect();
    let mut spans: Vec<_> = clients.iter().map(|s| s.span_id).collect();
    sent.sort_by_key(|s| s.to_bytes());
    spans.sort_by_key(|s| s.to_bytes());
    assert_eq!(sent, spans);
    for c in clients {
        assert_eq!(c.trace_id, server.trace_id);
        assert_eq!(c.parent_span_id, Some(server.span_id));
    }
    let upstreams: Vec<_> = clients
        .iter()
        .filter_map(|c| attr(c, "gateway.upstream"))
        .collect();
    assert_eq!(upstreams.len(), 2);
}

#[test]
fn unmatched_requests_have_a_server_span_without_route() {
    let rig = rig("", &[Some(200)], true);
    let resp = rig.call("/nowhere", &[]);
    assert_eq!(resp.status(), 404);
    let trace = resp.extensions().get::<Trace>().expect("recorded");
    assert_eq!(trace.spans.len(), 1);
    assert_eq!(trace.spans[0].name, "GET");
    assert_eq!(attr(&trace.spans[0], "http.route"), None);
    assert!(rig.upstream.seen().is_empty());
}

#[test]
fn a_mock_upstream_sees_what_an_upstream_would() {
    let rig = rig("", &[Some(200)], true);
    let resp = rig.call(
        "/echo",
        &[("traceparent", CALLER), ("tracestate", "congo=t61")],
    );
    assert_eq!(resp.status(), 200);
    let trace = resp.extensions().get::<Trace>().expect("recorded").clone();
    let body = block_on(resp.into_body().collect(1 << 20)).expect("body");
    let echo: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let sent = echo["headers"]["traceparent"]
        .as_str()
        .expect("traceparent echoed");
    let sent = parse_traceparent(sent.as_bytes()).expect("valid");
    let [server, client] = trace.spans.as_slice() else {
        panic!("server and client span: {:?}", trace.spans);
    };
    assert_eq!(sent.trace_id, server.trace_id);
    assert_eq!(sent.span_id, client.span_id);
    assert_eq!(client.parent_span_id, Some(server.span_id));
    assert_eq!(echo["headers"]["tracestate"], "congo=t61");
    assert_eq!(
        attr(client, "server.address"),
        Some(&AttributeValue::text("mock"))
    );
}
