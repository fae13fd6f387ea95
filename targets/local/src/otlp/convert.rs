//! The core's recorded spans as OpenTelemetry SDK `SpanData`, keeping
//! their exact ids and times.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use gateway_core::trace::{AttributeValue, SpanKind as CoreKind, SpanRecord, Trace};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

/// The spans of one request, ready for an exporter.
pub(crate) fn span_data(trace: Trace, scope: &InstrumentationScope) -> Vec<SpanData> {
    let state = trace
        .context
        .tracestate
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|s| TraceState::from_str(s).ok())
        .unwrap_or_default();
    trace
        .spans
        .into_iter()
        .map(|span| one(span, &state, scope))
        .collect()
}

fn time(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

fn one(span: SpanRecord, state: &TraceState, scope: &InstrumentationScope) -> SpanData {
    let server = span.kind == CoreKind::Server;
    let parent_span_id = span
        .parent_span_id
        .map_or(SpanId::INVALID, |p| SpanId::from_bytes(p.to_bytes()));
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(span.trace_id.to_bytes()),
            SpanId::from_bytes(span.span_id.to_bytes()),
            TraceFlags::SAMPLED,
            false,
            state.clone(),
        ),
        parent_span_id,
        // The server span's parent is the caller's span, in another process.
        parent_span_is_remote: server && span.parent_span_id.is_some(),
        span_kind: if server {
            SpanKind::Server
        } else {
            SpanKind::Client
        },
        name: Cow::Owned(span.name),
        start_time: time(span.start_ms),
        end_time: time(span.end_ms),
        attributes: span
            .attributes
            .into_iter()
            .map(|(k, v)| {
                let value = match v {
                    AttributeValue::Str(s) => Value::from(s.into_owned()),
                    AttributeValue::Int(i) => Value::I64(i),
                };
                KeyValue::new(k, value)
            })
            .collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: if span.error {
            Status::error("")
        } else {
            Status::Unset
        },
        instrumentation_scope: scope.clone(),
    }
}

#[cfg(test)]
mod tests {
    use gateway_core::trace::{
        AttributeValue, SpanId as CoreSpan, SpanKind as CoreKind, SpanRecord, Trace, TraceContext,
        TraceId as CoreTrace,
    };
    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};

    use super::span_data;

    fn span(kind: CoreKind, id: u8, parent: Option<u8>, error: bool) -> SpanRecord {
        SpanRecord {
            name: "GET orders".to_owned(),
            kind,
            trace_id: CoreTrace::from_bytes([7; 16]).expect("non-zero"),
            span_id: CoreSpan::from_bytes([id; 8]).expect("non-zero"),
            parent_span_id: parent.and_then(|p| CoreSpan::from_bytes([p; 8])),
            start_ms: 1_700_000_000_123,
            end_ms: 1_700_000_000_456,
            attributes: vec![
                ("http.route", AttributeValue::text("orders")),
                ("http.response.status_code", AttributeValue::Int(502)),
            ],
            error,
        }
    }

    #[test]
    fn ids_times_kinds_and_parents_are_kept() {
        let trace = Trace {
            context: TraceContext {
                trace_id: CoreTrace::from_bytes([7; 16]).expect("non-zero"),
                span_id: CoreSpan::from_bytes([2; 8]).expect("non-zero"),
                parent_span_id: CoreSpan::from_bytes([1; 8]),
                sampled: true,
                tracestate: Some(http::HeaderValue::from_static("congo=t61")),
            },
            spans: vec![
                span(CoreKind::Server, 2, Some(1), true),
                span(CoreKind::Client, 3, Some(2), false),
            ],
        };
        let out = span_data(trace, &InstrumentationScope::builder("gateway").build());
        let [server, client] = out.as_slice() else {
            panic!("two spans");
        };
        assert_eq!(server.span_context.trace_id(), TraceId::from_bytes([7; 16]));
        assert_eq!(server.span_context.span_id(), SpanId::from_bytes([2; 8]));
        assert_eq!(server.parent_span_id, SpanId::from_bytes([1; 8]));
        assert!(server.parent_span_is_remote);
        assert_eq!(server.span_kind, SpanKind::Server);
        assert!(matches!(server.status, Status::Error { .. }));
        assert_eq!(server.span_context.trace_state().header(), "congo=t61");
        let start = server
            .start_time
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch");
        assert_eq!(start.as_millis(), 1_700_000_000_123);
        assert_eq!(server.attributes.len(), 2);
        assert_eq!(client.span_kind, SpanKind::Client);
        assert_eq!(client.parent_span_id, SpanId::from_bytes([2; 8]));
        assert!(!client.parent_span_is_remote);
        assert_eq!(client.status, Status::Unset);
    }
}
