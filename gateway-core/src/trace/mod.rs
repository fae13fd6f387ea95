//! Distributed tracing: W3C Trace Context propagation and the spans of a
//! request.
//!
//! The gateway reads the caller's `traceparent` (strictly: see
//! [`parse_traceparent`]) and `tracestate` (bounded), or starts a new
//! trace with ids from [`Env::rng`](crate::Env). Its handling of the
//! request is the server span; every attempt to an upstream (retries and
//! aggregate backends included) is a client span, child of the server
//! span, and the upstream receives `traceparent: 00-<trace>-<client
//! span>-<flags>` with the caller's `tracestate`. The caller's own
//! `traceparent` is never passed on.
//!
//! Whether a trace is sampled follows [`TracingConfig`]. Spans are only
//! recorded when the target asks for them
//! ([`Gateway::with_span_recording`](crate::Gateway::with_span_recording))
//! and the trace is sampled; otherwise tracing costs the ids and one
//! header per attempt. Every response carries its [`TraceContext`] in its
//! extensions, and a recorded one also its [`Trace`], for the adapter to
//! export.

mod client;
pub mod config;
mod header;
mod ids;
mod server;
mod span;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use http::{Extensions, HeaderValue};

pub(crate) use client::{Attempt, ClientSpan};
pub use config::{DEFAULT_SAMPLE_RATIO, TracingConfig, TracingSpec};
pub use header::{
    MAX_TRACESTATE_BYTES, MAX_TRACESTATE_MEMBERS, Parent, TRACEPARENT, TRACESTATE,
    parse_traceparent, read_parent, read_tracestate, traceparent,
};
pub use ids::{SpanId, TraceId};
pub(crate) use server::ServerSpan;
pub use span::{AttributeValue, MAX_ATTRIBUTE_BYTES, SpanKind, SpanRecord};
use span::{Recorder, Recording};

/// The trace a request belongs to, in the request's and the response's
/// extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace: the caller's, or new.
    pub trace_id: TraceId,
    /// The gateway's server span for this request.
    pub span_id: SpanId,
    /// The caller's span, when it sent a valid `traceparent`.
    pub parent_span_id: Option<SpanId>,
    /// Whether the trace is sampled (the flag sent upstream).
    pub sampled: bool,
    /// The caller's `tracestate`, passed on unchanged when well-formed
    /// and within bounds.
    pub tracestate: Option<HeaderValue>,
}

/// The finished spans of a recorded request, in the response's
/// extensions: the server span first, then the client spans.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The request's context.
    pub context: TraceContext,
    /// The spans, with exact ids and times.
    pub spans: Vec<SpanRecord>,
}

/// Notes the matched route for the server span's name and `http.route`.
pub(crate) fn note_route(extensions: &Extensions, route: &str) {
    if let Some(r) = extensions.get::<Recording>() {
        r.0.set_route(route);
    }
}

/// A request's trace, carried to requests the gateway builds for it
/// (aggregate backends).
#[derive(Debug, Clone, Default)]
pub(crate) struct Carry {
    context: Option<TraceContext>,
    recording: Option<Arc<Recorder>>,
}

impl Carry {
    /// What `extensions` hold of the trace.
    pub(crate) fn from(extensions: &Extensions) -> Self {
        Self {
            context: extensions.get::<TraceContext>().cloned(),
            recording: extensions.get::<Recording>().map(|r| r.0.clone()),
        }
    }

    /// Puts the trace into another request's extensions.
    pub(crate) fn apply(&self, extensions: &mut Extensions) {
        if let Some(c) = &self.context {
            extensions.insert(c.clone());
        }
        if let Some(r) = &self.recording {
            extensions.insert(Recording(r.clone()));
        }
    }
}
