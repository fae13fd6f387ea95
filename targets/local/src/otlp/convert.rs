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
