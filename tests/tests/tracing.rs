//! Distributed tracing through the `local` binary: W3C `traceparent`
//! propagation to a wiremock upstream and OTLP/HTTP export to a stand-in
//! collector (a wiremock server taking `POST /v1/traces`), whose protobuf
//! bodies are decoded with `opentelemetry-proto`. The gateway is stopped
//! with SIGTERM before the collector is read: shutdown exports what is
//! queued, so no test waits on the export interval.

#![cfg(unix)]

mod common;

use anyhow::{Context as _, Result, ensure};
use common::local_bin::GatewayProcess;
use common::{TempDir, client, fill, received};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

const CONFIG: &str = r#"version: 1
tracing: { sample_ratio: RATIO }
upstreams:
  api:
    url: "UP"
    retry: { attempts: 3, backoff: { base: 1ms, max: 2ms } }
routes:
  - { name: orders, path: "/orders/{id}", upstream: api }
"#;

/// A collector stand-in, an upstream and a gateway exporting to the first.
struct Rig {
    collector: MockServer,
    upstream: MockServer,
    gateway: GatewayProcess,
    _dir: TempDir,
}

/// What the collector received: the spans and the `service.name`s.
struct Exported {
    spans: Vec<Span>,
    services: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> Option<String> {
    match v?.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()))
}

impl Rig {
    async fn start(ratio: &str, extra_env: &[(&str, &str)]) -> Result<Self> {
        let collector = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/traces"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&collector)
            .await;
        let upstream = MockServer::start().await;
        let dir = TempDir::new()?;
        let config = dir.path().join("gateway.yaml");
        std::fs::write(
            &config,
            fill(CONFIG, &[("RATIO", ratio), ("UP", &upstream.uri())]),
        )?;
        let mut env = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", collector.uri())];
        env.extend(extra_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let gateway = GatewayProcess::start_with_env(&config, &env).await?;
        Ok(Self {
            collector,
            upstream,
            gateway,
            _dir: dir,
        })
    }

    /// Mounts the upstream's answers: `first` once, then 200s.
    async fn upstream_answers(&self, first: Option<u16>) {
        if let Some(status) = first {
            Mock::given(method("GET"))
                .respond_with(ResponseTemplate::new(status))
                .up_to_n_times(1)
                .with_priority(1)
                .mount(&self.upstream)
                .await;
        }
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .with_priority(2)
            .mount(&self.upstream)
            .await;
    }

    async fn get(&self, traceparent: Option<&str>) -> Result<reqwest::StatusCode> {
        let mut req = client().get(self.gateway.url("/orders/7"));
        if let Some(tp) = traceparent {
            req = req
                .header("traceparent", tp)
                .header("tracestate", "congo=t61rcWkgMzE");
        }
        Ok(req.send().await?.status())
    }

    /// The `traceparent`s the upstream received, in order.
    async fn upstream_traceparents(&self) -> Vec<String> {
        received(&self.upstream)
            .await
            .iter()
            .filter_map(|r| r.headers.get("traceparent"))
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// Stops the gateway (which flushes its export queue), then decodes
    /// everything the collector received.
    async fn stop_and_collect(self) -> Result<(Exported, Vec<String>)> {
        let upstream = self.upstream_traceparents().await;
        let status = self.gateway.terminate().await?;
        ensure!(status.success(), "the gateway exited with {status}");
        let mut out = Exported {
            spans: Vec::new(),
            services: Vec::new(),
        };
        for req in received(&self.collector).await {
            ensure!(
                req.headers
                    .get("content-type")
                    .is_some_and(|v| v.as_bytes() == b"application/x-protobuf"),
                "OTLP/HTTP protobuf expected, got {:?}",
                req.headers.get("content-type")
            );
            let export = ExportTraceServiceRequest::decode(req.body.as_slice())
                .context("decoding an OTLP trace export")?;
            for rs in export.resource_spans {
                if let Some(r) = &rs.resource {
                    out.services.extend(
                        r.attributes
                            .iter()
                            .filter(|kv| kv.key == "service.name")
                            .filter_map(|kv| text(kv.value.as_ref())),
                    );
                }
                for ss in rs.scope_spans {
                    out.spans.extend(ss.spans);
                }
            }
        }
        Ok((out, upstream))
    }
}

/// `(trace id, parent id, flags)` of a `traceparent`.
fn parts(tp: &str) -> (String, String, String) {
    let p: Vec<&str> = tp.split('-').collect();
    assert_eq!(p.len(), 4, "{tp}");
    assert_eq!(p[0], "00", "{tp}");
    (p[1].to_owned(), p[2].to_owned(), p[3].to_owned())
}

/// The spans of one kind; server spans only of the `orders` route (the
/// readiness probe's request to `/` has its own).
fn of_kind(spans: &[Span], kind: SpanKind) -> Vec<&Span> {
    spans
        .iter()
        .filter(|s| s.kind == kind as i32)
        .filter(|s| kind != SpanKind::Server || attr(s, "http.route").as_deref() == Some("orders"))
        .collect()
}

#[tokio::test]
async fn a_callers_trace_is_continued_exported_and_propagated() -> Result<()> {
    let rig = Rig::start("1.0", &[("OTEL_SERVICE_NAME", "edge-gateway")]).await?;
    rig.upstream_answers(None).await;
    let caller = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    assert_eq!(rig.get(Some(&caller)).await?, 200);
    let tracestate: Vec<String> = received(&rig.upstream)
        .await
        .iter()
        .filter_map(|r| {
            r.headers
                .get("tracestate")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(tracestate, ["congo=t61rcWkgMzE"]);
    let (exported, sent) = rig.stop_and_collect().await?;

    let servers = of_kind(&exported.spans, SpanKind::Server);
    let clients = of_kind(&exported.spans, SpanKind::Client);
    assert_eq!(
        (servers.len(), clients.len()),
        (1, 1),
        "one server and one client span"
    );
    let (server, client) = (servers[0], clients[0]);
    assert_eq!(hex(&server.trace_id), CALLER_TRACE);
    assert_eq!(hex(&server.parent_span_id), CALLER_SPAN);
    assert_eq!(server.name, "GET orders");
    assert_eq!(attr(server, "http.route").as_deref(), Some("orders"));
    assert_eq!(
        attr(server, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(server.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(hex(&client.trace_id), CALLER_TRACE);
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(
        attr(client, "server.address"),
        Some(rig_upstream_id(&exported))
    );
    assert!(server.start_time_unix_nano <= client.start_time_unix_nano);
    assert!(client.end_time_unix_nano <= server.end_time_unix_nano);
    assert_eq!(exported.services, ["edge-gateway"]);

    assert_eq!(sent.len(), 1);
    let (trace, parent, flags) = parts(&sent[0]);
    assert_eq!(trace, CALLER_TRACE);
    assert_eq!(
        parent,
        hex(&client.span_id),
        "the upstream's parent is the client span"
    );
    assert_ne!(parent, CALLER_SPAN);
    assert_eq!(flags, "01");
    Ok(())
}

/// The client span's `server.address`: the endpoint id, the upstream URL.
fn rig_upstream_id(exported: &Exported) -> String {
    of_kind(&exported.spans, SpanKind::Client)
        .first()
        .and_then(|c| attr(c, "server.address"))
        .filter(|a| a.starts_with("http://127.0.0.1:"))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_request_without_traceparent_starts_a_new_trace() -> Result<()> {
    let rig = Rig::start("1.0", &[]).await?;
    rig.upstream_answers(None).await;
    assert_eq!(rig.get(None).await?, 200);
    let (exported, sent) = rig.stop_and_collect().await?;
    let servers = of_kind(&exported.spans, SpanKind::Server);
    let clients = of_kind(&exported.spans, SpanKind::Client);
    assert_eq!((servers.len(), clients.len()), (1, 1));
    let server = servers[0];
    assert!(server.parent_span_id.is_empty(), "a root span");
    assert_eq!(server.trace_id.len(), 16);
    assert_ne!(hex(&server.trace_id), "0".repeat(32));
    assert_eq!(exported.services, ["gateway"], "the default service name");
    let (trace, parent, flags) = parts(&sent[0]);
    assert_eq!(trace, hex(&server.trace_id));
    assert_eq!(parent, hex(&clients[0].span_id));
    assert_eq!(flags, "01");
    Ok(())
}

#[tokio::test]
async fn ratio_zero_exports_nothing_but_still_propagates() -> Result<()> {
    let rig = Rig::start("0.0", &[]).await?;
    rig.upstream_answers(None).await;
    assert_eq!(rig.get(None).await?, 200);
    let (exported, sent) = rig.stop_and_collect().await?;
    assert!(
        exported.spans.is_empty(),
        "{} spans exported",
        exported.spans.len()
    );
    assert_eq!(sent.len(), 1);
    let (trace, parent, flags) = parts(&sent[0]);
    assert_eq!(trace.len(), 32);
    assert_eq!(parent.len(), 16);
    assert_eq!(flags, "00", "not sampled");
    Ok(())
}

#[tokio::test]
async fn each_retry_is_a_client_span_of_its_own() -> Result<()> {
    let rig = Rig::start("1.0", &[]).await?;
    rig.upstream_answers(Some(503)).await;
    let caller = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    assert_eq!(rig.get(Some(&caller)).await?, 200);
    let (exported, sent) = rig.stop_and_collect().await?;
    let server = of_kind(&exported.spans, SpanKind::Server)[0];
    let mut clients = of_kind(&exported.spans, SpanKind::Client);
    clients.sort_by_key(|c| c.start_time_unix_nano);
    assert_eq!(clients.len(), 2, "two attempts");
    assert_eq!(sent.len(), 2);
    let sent_parents: Vec<String> = sent.iter().map(|tp| parts(tp).1).collect();
    for c in &clients {
        assert_eq!(c.parent_span_id, server.span_id);
        assert!(
            sent_parents.contains(&hex(&c.span_id)),
            "each attempt's traceparent names its own span"
        );
    }
    assert_ne!(clients[0].span_id, clients[1].span_id);
    let statuses: Vec<Option<String>> = clients
        .iter()
        .map(|c| attr(c, "http.response.status_code"))
        .collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [Some("200".to_owned()), Some("503".to_owned())]);
    assert!(
        clients
            .iter()
            .any(|c| attr(c, "http.request.resend_count").as_deref() == Some("1")),
        "the retry says it is one"
    );
    Ok(())
}
