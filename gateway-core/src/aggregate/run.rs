//! Running an aggregate for one request: scheduling backends within the
//! concurrency cap and the deadline, reading their answers, merging.

use crate::observe::RequestIdHeader;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use futures_util::stream::FuturesUnordered;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use serde_json::Value;

use super::error::Failure;
use super::merge::ERRORS;
use super::template::RenderError;
use super::{Aggregate, Backend, PARTIAL_HEADER};
use crate::body::Body;
use crate::config::GatewayConfig;
use crate::discovery::resolve::Discovery;
use crate::env::Env;
use crate::error::{GatewayError, RequestError, UpstreamError};
use crate::gateway::{ClientInfo, forward};
use crate::policy::Cx;
use crate::resilience::RouteResilience;
use crate::resilience::config::{Plan, Timeouts};
use crate::trace::Carry;
use crate::upstream::Upstream;

/// What backend requests take from the client request.
struct Incoming {
    headers: HeaderMap,
    body: Bytes,
    host: Option<HeaderValue>,
    /// The client request's trace: each backend call is a child of it.
    trace: Carry,
}

impl Incoming {
    fn new(req: Request<Body>) -> Self {
        let (parts, body) = req.into_parts();
        let host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        Self {
            trace: Carry::from(&parts.extensions),
            // Buffered beforehand when a backend sends the body.
            body: body
                .as_bytes()
                .map(Bytes::copy_from_slice)
                .unwrap_or_default(),
            headers: parts.headers,
            host,
        }
    }
}

enum State {
    Waiting,
    Running,
    Done(Result<Value, Failure>),
}

impl Aggregate {
    /// Answers `req` (after the route's request policies) by calling the
    /// backends and merging their answers. Errors are problem responses.
    pub(crate) async fn respond(
        &self,
        ctx: &Ctx<'_>,
        req: Request<Body>,
        cx: &Cx<'_>,
    ) -> Response<Body> {
        let incoming = Incoming::new(req);
        match self.run(ctx, &incoming, cx).await {
            Ok(states) => self.merged(states),
            Err(e) => e.into_response(),
        }
    }

    async fn run(
        &self,
        ctx: &Ctx<'_>,
        incoming: &Incoming,
        cx: &Cx<'_>,
    ) -> Result<Vec<State>, GatewayError> {
        let (env, cfg) = (ctx.env, ctx.cfg);
        let limit = cfg.server.limits.max_body_bytes;
        let mut states: Vec<State> = self.backends.iter().map(|_| State::Waiting).collect();
        let mut running = FuturesUnordered::new();
        let mut deadline = env.sleep.sleep(self.timeout);
        loop {
            if let Some(e) = self.fatal(&states) {
                return Err(e);
            }
            // Start what may start, in list order: dependencies are always
            // earlier, so one pass settles chains of failed dependencies.
            for i in 0..self.backends.len() {
                if !matches!(states[i], State::Waiting) || running.len() >= self.max_concurrency {
                    continue;
                }
                let b = &self.backends[i];
                let next = match dependencies(b, &states) {
                    Deps::Pending => continue,
                    Deps::Failed { timeout } => State::Done(Err(Failure::Dependency { timeout })),
                    Deps::Ready => {
                        let upstream = cfg
                            .upstreams
                            .get(b.upstream)
                            .ok_or(GatewayError::Internal("upstream index out of range"))?;
                        match self.request(b, cx, incoming, &states) {
                            Ok(req) => {
                                let timeout = b.timeout.unwrap_or_else(|| {
                                    let r = &upstream.resilience;
                                    Plan::new((&r.timeouts, &r.retry), ctx.route).per_try
                                });
                                running.push(call(i, ctx, upstream, timeout, req, limit));
                                State::Running
                            }
                            Err(RenderError::Request) => {
                                return Err(RequestError::BadPath(
                                    "a value for a backend request is not a single path segment",
                                )
                                .into());
                            }
                            Err(RenderError::Step) => State::Done(Err(Failure::Input)),
                        }
                    }
                };
                states[i] = next;
            }
            if let Some(e) = self.fatal(&states) {
                return Err(e);
            }
            if running.is_empty() {
                return Ok(states);
            }
            match select(running.next(), deadline.as_mut()).await {
                Either::Left((Some((i, result)), _)) => {
                    states[i] = State::Done(result.and_then(|v| self.check(i, v)));
                }
                Either::Left((None, _)) => return Ok(states),
                Either::Right(((), _)) => {
                    for s in &mut states {
                        if !matches!(s, State::Done(_)) {
                            *s = State::Done(Err(Failure::Timeout));
                        }
                    }
                    return match self.fatal(&states) {
                        Some(e) => Err(e),
                        None => Ok(states),
                    };
                }
            }
        }
    }

    /// The error that fails the whole request, if a failure so far is fatal:
    /// a required backend's, or any with `on_error: fail`.
    fn fatal(&self, states: &[State]) -> Option<GatewayError> {
        self.backends.iter().zip(states).find_map(|(b, s)| match s {
            State::Done(Err(f)) if b.required || self.fail_fast => Some(f.fatal()),
            _ => None,
        })
    }

    /// Checks an answer against `select` and the merge's shape.
    fn check(&self, i: usize, answer: Value) -> Result<Value, Failure> {
        let b = &self.backends[i];
        let part = match &b.select {
            Some(p) => answer.pointer(p).ok_or(Failure::Shape)?,
            None => &answer,
        };
        if !self.merge.accepts(part) {
            return Err(Failure::Shape);
        }
        Ok(answer)
    }

    /// The request for backend `b`, relative to its upstream.
    fn request(
        &self,
        b: &Backend,
        cx: &Cx<'_>,
        incoming: &Incoming,
        states: &[State],
    ) -> Result<Request<Body>, RenderError> {
        let steps: Vec<Option<&Value>> = states
            .iter()
            .map(|s| match s {
                State::Done(Ok(v)) => Some(v),
                _ => None,
            })
            .collect();
        let target = b.path.render(cx, &incoming.headers, &steps)?;
        let uri = target.parse().map_err(|_| RenderError::Request)?;
        let mut req = Request::new(if b.body {
            Body::full(incoming.body.clone())
        } else {
            Body::empty()
        });
        *req.method_mut() = b.method.clone();
        *req.uri_mut() = uri;
        let h = req.headers_mut();
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        for name in &b.headers {
            let mut values = incoming.headers.get_all(name).iter().peekable();
            if values.peek().is_some() {
                h.remove(name);
            }
            for v in values {
                h.append(name.clone(), v.clone());
            }
        }
        if b.body {
            h.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(incoming.body.len()),
            );
            if let Some(ct) = incoming.headers.get(header::CONTENT_TYPE) {
                h.insert(header::CONTENT_TYPE, ct.clone());
            }
        }
        if let Some(host) = &incoming.host {
            h.insert(header::HOST, host.clone());
        }
        if let Some(RequestIdHeader(name)) = cx.extensions.get()
            && let Some(id) = incoming.headers.get(name)
        {
            h.insert(name.clone(), id.clone());
        }
        incoming.trace.apply(req.extensions_mut());
        Ok(req)
    }

    /// The merged answer, with failures under `_errors`.
    fn merged(&self, states: Vec<State>) -> Response<Body> {
        let names: Vec<&str> = self.backends.iter().map(|b| b.name.as_str()).collect();
        let mut answers = Vec::with_capacity(states.len());
        let mut problems = Vec::new();
        let mut missing = Vec::new();
        for (b, s) in self.backends.iter().zip(states) {
            match s {
                State::Done(Ok(v)) => {
                    answers.push(match &b.select {
                        Some(p) => v.pointer(p).cloned(),
                        None => Some(v),
                    });
                }
                State::Done(Err(f)) => {
                    problems.push(f.problem(&b.name));
                    missing.push(b.name.as_str());
                    answers.push(None);
                }
                // Not reached: `run` settles every backend before merging.
                State::Waiting | State::Running => {
                    problems.push(Failure::Timeout.problem(&b.name));
                    missing.push(b.name.as_str());
                    answers.push(None);
                }
            }
        }
        let mut doc = self.merge.apply(&names, answers);
        if !problems.is_empty()
            && let Value::Object(m) = &mut doc
        {
            m.insert(ERRORS.to_owned(), Value::Array(problems));
        }
        let body = serde_json::to_vec(&doc).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = Response::new(Body::full(body));
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if !missing.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&missing.join(", ")) {
                h.insert(PARTIAL_HEADER, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        resp
    }
}

enum Deps {
    Ready,
    Pending,
    Failed { timeout: bool },
}

fn dependencies(b: &Backend, states: &[State]) -> Deps {
    let mut out = Deps::Ready;
    for &d in &b.deps {
        match states.get(d) {
            Some(State::Done(Ok(_))) => {}
            Some(State::Done(Err(f))) => {
                return Deps::Failed {
                    timeout: f.is_timeout(),
                };
            }
            _ => out = Deps::Pending,
        }
    }
    out
}

/// What every backend call of one aggregate shares.
pub(crate) struct Ctx<'a> {
    pub(crate) env: &'a Env,
    pub(crate) cfg: &'a GatewayConfig,
    pub(crate) discovery: &'a Discovery,
    /// The route's timeouts and retries, applied to each backend call.
    pub(crate) route: &'a RouteResilience,
    pub(crate) client: ClientInfo,
}

/// One backend exchange, bounded by `timeout` from sending to the end of
/// the body; the upstream's retries and breaker apply within it.
async fn call(
    i: usize,
    ctx: &Ctx<'_>,
    upstream: &Upstream,
    timeout: Duration,
    req: Request<Body>,
    limit: u64,
) -> (usize, Result<Value, Failure>) {
    let env = ctx.env;
    let route = RouteResilience {
        timeouts: Timeouts {
            deadline: Some(
                ctx.route
                    .timeouts
                    .deadline
                    .map_or(timeout, |d| d.min(timeout)),
            ),
            ..ctx.route.timeouts
        },
        retry: ctx.route.retry.clone(),
    };
    let exchange = pin!(async {
        let resp = forward(
            env,
            ctx.cfg,
            ctx.discovery,
            upstream,
            &route,
            req,
            ctx.client,
        )
        .await
        .map_err(Failure::Upstream)?;
        read_json(resp, limit).await
    });
    let result = match select(exchange, env.sleep.sleep(timeout)).await {
        Either::Left((r, _)) => r,
        Either::Right(((), _)) => Err(Failure::Timeout),
    };
    (i, result)
}

fn is_json(ct: &HeaderValue) -> bool {
    let Ok(ct) = ct.to_str() else { return false };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A 2xx JSON answer; an empty body is `null`.
async fn read_json(resp: Response<Body>, limit: u64) -> Result<Value, Failure> {
    let status = resp.status();
    if !status.is_success() {
        return Err(Failure::Status(status));
    }
    if resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| !is_json(ct))
    {
        return Err(Failure::NotJson);
    }
    let bytes = resp
        .into_body()
        .collect(limit)
        .await
        .map_err(|_| Failure::Upstream(UpstreamError::Protocol(None).into()))?;
    if bytes.is_empty() || status == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|_| Failure::NotJson)
}
