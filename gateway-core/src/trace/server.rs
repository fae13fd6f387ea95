//! The server span: the gateway's handling of one request.

use std::sync::Arc;

use http::{Method, Request, Response};

use super::config::TracingConfig;
use super::header::{TRACEPARENT, TRACESTATE, read_parent, read_tracestate};
use super::ids::{SpanId, TraceId};
use super::span::{AttributeValue, Recorder, Recording, SpanKind, SpanRecord};
use super::{Trace, TraceContext};
use crate::body::Body;
use crate::env::Env;

/// A request's trace from its arrival to its response.
pub(crate) struct ServerSpan {
    context: TraceContext,
    /// Present when the request is recorded.
    recording: Option<(Arc<Recorder>, u64, Method)>,
}

impl ServerSpan {
    /// Takes the caller's context off `req` (its `traceparent` and
    /// `tracestate` never go upstream as they are), decides sampling and
    /// puts the request's [`TraceContext`] into its extensions.
    pub(crate) fn begin(
        cfg: &TracingConfig,
        env: &Env,
        record: bool,
        req: &mut Request<Body>,
    ) -> Self {
        let headers = req.headers_mut();
        let parent = read_parent(headers);
        let tracestate = parent.and_then(|_| read_tracestate(headers));
        headers.remove(TRACEPARENT);
        headers.remove(TRACESTATE);
        let trace_id = parent.map_or_else(|| TraceId::random(&*env.rng), |p| p.trace_id);
        let sampled = cfg.sampled(trace_id, parent.map(|p| p.sampled));
        let context = TraceContext {
            trace_id,
            span_id: SpanId::random(&*env.rng),
            parent_span_id: parent.map(|p| p.span_id),
            sampled,
            tracestate,
        };
        let recording = (record && sampled).then(|| {
            let recorder = Arc::new(Recorder::default());
            req.extensions_mut().insert(Recording(recorder.clone()));
            (recorder, env.clock.now_ms(), req.method().clone())
        });
        req.extensions_mut().insert(context.clone());
        Self { context, recording }
    }

    /// Ends the span as `resp` is answered: the context goes into the
    /// response's extensions, with the finished [`Trace`] when recorded.
    pub(crate) fn finish(self, env: &Env, resp: &mut Response<Body>) {
        if let Some((recorder, start_ms, method)) = self.recording {
            let (mut spans, route) = recorder.close();
            let status = resp.status();
            let mut attributes =
                vec![("http.request.method", AttributeValue::text(method.as_str()))];
            let name = match &route {
                Some(r) => {
                    attributes.push(("http.route", AttributeValue::text(r)));
                    span_name(method.as_str(), r)
                }
                None => method.to_string(),
            };
            attributes.push((
                "http.response.status_code",
                AttributeValue::Int(i64::from(status.as_u16())),
            ));
            let error = status.is_server_error();
            if error {
                attributes.push(("error.type", AttributeValue::text(status.as_str())));
            }
            spans.insert(
                0,
                SpanRecord {
                    name,
                    kind: SpanKind::Server,
                    trace_id: self.context.trace_id,
                    span_id: self.context.span_id,
                    parent_span_id: self.context.parent_span_id,
                    start_ms,
                    end_ms: env.clock.now_ms(),
                    attributes,
                    error,
                },
            );
            resp.extensions_mut().insert(Trace {
                context: self.context.clone(),
                spans,
            });
        }
        resp.extensions_mut().insert(self.context);
    }
}

/// `METHOD route`; a default route name that already starts with its
/// methods (`GET,HEAD /users/{id}`) gives `GET /users/{id}`.
fn span_name(method: &str, route: &str) -> String {
    if let Some((methods, rest)) = route.split_once(' ')
        && methods.split(',').any(|m| m == method)
    {
        return format!("{method} {rest}");
    }
    format!("{method} {route}")
}

#[cfg(test)]
mod tests {
    use super::span_name;

    #[test]
    fn span_names_do_not_repeat_the_method() {
        assert_eq!(span_name("GET", "orders"), "GET orders");
        assert_eq!(span_name("GET", "GET,HEAD /users/{id}"), "GET /users/{id}");
        assert_eq!(
            span_name("HEAD", "GET,HEAD /users/{id}"),
            "HEAD /users/{id}"
        );
        assert_eq!(span_name("GET", "/users/{id}"), "GET /users/{id}");
        assert_eq!(span_name("GET", "list orders"), "GET list orders");
    }
}
