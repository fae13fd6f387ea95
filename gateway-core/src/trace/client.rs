//! Client spans: one per attempt to an upstream.

use std::sync::Arc;

use http::{HeaderMap, Method, Response};

use super::TraceContext;
use super::header::{TRACEPARENT, TRACESTATE, traceparent};
use super::ids::SpanId;
use super::span::{AttributeValue, Recorder, Recording, SpanKind, SpanRecord};
use crate::body::Body;
use crate::env::Env;
use crate::error::UpstreamError;

/// One attempt's span; without a trace in the request, it only keeps
/// trace headers from going upstream.
pub(crate) struct ClientSpan {
    active: Option<Active>,
}

struct Active {
    context: TraceContext,
    span_id: SpanId,
    recording: Option<(Arc<Recorder>, u64)>,
}

/// What a client span says about the attempt.
pub(crate) struct Attempt<'a> {
    pub(crate) method: &'a Method,
    pub(crate) upstream: &'a str,
    pub(crate) endpoint: &'a str,
    /// 1 for the first attempt.
    pub(crate) number: u32,
}

impl ClientSpan {
    /// Starts the span of an attempt for the request whose extensions are
    /// `extensions`: a new span id, child of the gateway's server span.
    pub(crate) fn start(env: &Env, extensions: &http::Extensions) -> Self {
        let active = extensions.get::<TraceContext>().map(|context| Active {
            context: context.clone(),
            span_id: SpanId::random(&*env.rng),
            recording: extensions
                .get::<Recording>()
                .map(|r| (r.0.clone(), env.clock.now_ms())),
        });
        Self { active }
    }

    /// Sets `traceparent` (and `tracestate`) for the attempt's request.
    pub(crate) fn inject(&self, headers: &mut HeaderMap) {
        let Some(a) = &self.active else {
            headers.remove(TRACEPARENT);
            headers.remove(TRACESTATE);
            return;
        };
        match traceparent(a.context.trace_id, a.span_id, a.context.sampled) {
            Some(v) => headers.insert(TRACEPARENT, v),
            None => headers.remove(TRACEPARENT),
        };
        match &a.context.tracestate {
            Some(v) => headers.insert(TRACESTATE, v.clone()),
            None => headers.remove(TRACESTATE),
        };
    }

    /// Ends the span with the attempt's result (recorded requests only).
    pub(crate) fn end(
        self,
        env: &Env,
        attempt: &Attempt<'_>,
        result: &Result<Response<Body>, UpstreamError>,
    ) {
        let Some(Active {
            context,
            span_id,
            recording: Some((recorder, start_ms)),
        }) = self.active
        else {
            return;
        };
        let mut attributes = vec![
            (
                "http.request.method",
                AttributeValue::text(attempt.method.as_str()),
            ),
            ("server.address", AttributeValue::text(attempt.endpoint)),
            ("gateway.upstream", AttributeValue::text(attempt.upstream)),
        ];
        if attempt.number > 1 {
            attributes.push((
                "http.request.resend_count",
                AttributeValue::Int(i64::from(attempt.number - 1)),
            ));
        }
        let error = match result {
            Ok(resp) => {
                let status = resp.status();
                attributes.push((
                    "http.response.status_code",
                    AttributeValue::Int(i64::from(status.as_u16())),
                ));
                let error = status.is_client_error() || status.is_server_error();
                if error {
                    attributes.push(("error.type", AttributeValue::text(status.as_str())));
                }
                error
            }
            Err(e) => {
                attributes.push(("error.type", AttributeValue::text(error_type(e))));
                true
            }
        };
        recorder.push(SpanRecord {
            name: attempt.method.to_string(),
            kind: SpanKind::Client,
            trace_id: context.trace_id,
            span_id,
            parent_span_id: Some(context.span_id),
            start_ms,
            end_ms: env.clock.now_ms(),
            attributes,
            error,
        });
    }
}

/// A low-cardinality name for a failed attempt.
fn error_type(e: &UpstreamError) -> &'static str {
    match e {
        UpstreamError::Connect(_) => "connect",
        UpstreamError::Timeout => "timeout",
        UpstreamError::Protocol(_) => "protocol",
        UpstreamError::Unavailable
        | UpstreamError::NoHealthyEndpoint
        | UpstreamError::NoInstance(_) => "unavailable",
        UpstreamError::CircuitOpen { .. } => "circuit_open",
        UpstreamError::RequestBody(_) => "request_body",
    }
}
