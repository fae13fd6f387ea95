//! Finished spans and the per-request recorder that collects them.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};

use super::ids::{SpanId, TraceId};

/// Longest attribute value kept, in bytes; longer ones are cut.
pub const MAX_ATTRIBUTE_BYTES: usize = 256;

/// What a span stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// The gateway handling a request.
    Server,
    /// One attempt to an upstream.
    Client,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// Text, at most [`MAX_ATTRIBUTE_BYTES`].
    Str(Cow<'static, str>),
    /// A number.
    Int(i64),
}

impl AttributeValue {
    /// Text cut to [`MAX_ATTRIBUTE_BYTES`] at a character boundary.
    pub fn text(s: &str) -> Self {
        let mut end = s.len().min(MAX_ATTRIBUTE_BYTES);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        Self::Str(Cow::Owned(s[..end].to_owned()))
    }
}

/// A finished span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanRecord {
    /// Low-cardinality name: `GET orders` (method and route name) for the
    /// server span, the method for client spans.
    pub name: String,
    /// Server or client.
    pub kind: SpanKind,
    /// The trace.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// The span this one is a child of: the caller's for the server span
    /// (absent for a new trace), the server span for client spans.
    pub parent_span_id: Option<SpanId>,
    /// Start, Unix milliseconds from the environment's clock.
    pub start_ms: u64,
    /// End (response head ready), Unix milliseconds.
    pub end_ms: u64,
    /// OpenTelemetry semantic-convention attributes, bounded values.
    pub attributes: Vec<(&'static str, AttributeValue)>,
    /// Whether the span failed (5xx for the server span, no answer or
    /// 4xx/5xx for a client span).
    pub error: bool,
}

/// Collects the spans of one sampled request. Shared by the request's
/// attempts (and aggregate backends) through the request extensions.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    spans: Vec<SpanRecord>,
    route: Option<String>,
    closed: bool,
}

impl Recorder {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Adds a finished span, unless the request's record was already
    /// handed out (a cache refresh after the response, say).
    pub(crate) fn push(&self, span: SpanRecord) {
        self.with(|s| {
            if !s.closed {
                s.spans.push(span);
            }
        });
    }

    /// Notes the matched route's name for the server span.
    pub(crate) fn set_route(&self, route: &str) {
        self.with(|s| s.route = Some(route.to_owned()));
    }

    /// The spans so far and the route; later spans are not kept.
    pub(crate) fn close(&self) -> (Vec<SpanRecord>, Option<String>) {
        self.with(|s| {
            s.closed = true;
            (std::mem::take(&mut s.spans), s.route.take())
        })
    }
}

/// The recorder in a sampled request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct Recording(pub(crate) Arc<Recorder>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_text_is_bounded_at_a_char_boundary() {
        let long = "é".repeat(200);
        let AttributeValue::Str(v) = AttributeValue::text(&long) else {
            panic!("text");
        };
        assert!(v.len() <= MAX_ATTRIBUTE_BYTES);
        assert_eq!(
            v.len(),
            MAX_ATTRIBUTE_BYTES,
            "256 is a boundary for 2-byte chars"
        );
    }
}
