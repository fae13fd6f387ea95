//! Sending a request to its upstream: attempts within the route's time
//! budget, guarded by the upstream's circuit breaker and retried as its
//! retry settings and budget allow (see [`crate::resilience`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};
use http::{HeaderValue, Request, Response, header, request};

use super::ClientInfo;
use crate::balance::{Affinity, Outcome};
use crate::body::Body;
use crate::config::GatewayConfig;
use crate::discovery::resolve::Discovery;
use crate::env::{Env, SendOptions};
use crate::error::{GatewayError, UpstreamError};
use crate::observe::UpstreamCall;
use crate::proxy::{set_forwarding_headers, strip_hop_by_hop};
use crate::resilience::breaker::{Admission, retry_after_secs};
use crate::resilience::outcome::Kind;
use crate::resilience::retry::ReplayBody;
use crate::resilience::{Plan, RouteResilience};
use crate::trace::{Attempt, ClientSpan};
use crate::upstream::{Endpoint, Upstream, UpstreamKind};

/// Sends `req` to `upstream`; a response carries what the call took as an
/// [`UpstreamCall`] extension.
pub(crate) async fn forward(
    env: &Env,
    cfg: &GatewayConfig,
    discovery: &Discovery,
    upstream: &Upstream,
    route: &RouteResilience,
    req: Request<Body>,
    client: ClientInfo,
) -> Result<Response<Body>, GatewayError> {
    let (result, call) = forward_observed(env, cfg, discovery, upstream, route, req, client).await;
    result.map(|mut resp| {
        resp.extensions_mut().insert(call);
        resp
    })
}

/// Like [`forward`], with what the call took returned beside the result
/// (for failures too).
pub(crate) async fn forward_observed(
    env: &Env,
    cfg: &GatewayConfig,
    discovery: &Discovery,
    upstream: &Upstream,
    route: &RouteResilience,
    req: Request<Body>,
    client: ClientInfo,
) -> (Result<Response<Body>, GatewayError>, UpstreamCall) {
    let mut call = UpstreamCall::default();
    let start = env.clock.now_ms();
    let result = send(env, cfg, discovery, upstream, route, req, client, &mut call).await;
    call.latency_ms = env.clock.now_ms().saturating_sub(start);
    (result, call)
}

#[allow(clippy::too_many_arguments)]
async fn send(
    env: &Env,
    cfg: &GatewayConfig,
    discovery: &Discovery,
    upstream: &Upstream,
    route: &RouteResilience,
    mut req: Request<Body>,
    client: ClientInfo,
    call: &mut UpstreamCall,
) -> Result<Response<Body>, GatewayError> {
    strip_hop_by_hop(req.headers_mut());
    let trusted = cfg.server.trusted_proxies.is_trusted(client.peer);
    // The host as the client wrote it: `Host` (HTTP/1.1) or `:authority` (HTTP/2).
    let client_host: Option<HeaderValue> = req.headers().get(header::HOST).cloned().or_else(|| {
        req.uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    set_forwarding_headers(
        req.headers_mut(),
        client.peer,
        trusted,
        client.tls,
        client_host.as_ref(),
    );
    let host = client_host.filter(|_| upstream.preserve_host);
    match &upstream.kind {
        UpstreamKind::Mock(mock) => {
            // A mock stands in for an upstream: it sees the trace headers
            // an upstream would, and its answer is a client span.
            let span = ClientSpan::start(env, req.extensions());
            span.inject(req.headers_mut());
            let result = Ok(mock.respond(&req));
            let traced = Attempt {
                method: req.method(),
                upstream: &upstream.name,
                endpoint: "mock",
                number: 1,
            };
            span.end(env, &traced, &result);
            call.attempts = 1;
            Ok(result?)
        }
        UpstreamKind::Http { endpoints } => {
            attempts(env, upstream, endpoints, route, req, host, call).await
        }
        UpstreamKind::Discovered(d) => {
            // The live instances, looked up (briefly cached) per request,
            // balanced like static endpoints.
            let discovered = discovery.endpoints(d, env.clock.now_ms()).await?;
            attempts(env, upstream, &discovered, route, req, host, call).await
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The attempt loop: breaker check, one attempt, outcome recorded, then
/// retry (after backoff, within the deadline and the budget) or answer.
async fn attempts(
    env: &Env,
    upstream: &Upstream,
    endpoints: &[Endpoint],
    route: &RouteResilience,
    req: Request<Body>,
    host: Option<HeaderValue>,
    call: &mut UpstreamCall,
) -> Result<Response<Body>, GatewayError> {
    let r = &upstream.resilience;
    let plan = Plan::new((&r.timeouts, &r.retry), route);
    let start = env.clock.now_ms();
    let deadline = start.saturating_add(ms(plan.deadline));
    let (mut parts, body) = req.into_parts();
    let method = parts.method.clone();
    // The hash key for consistent hashing, read once for every attempt.
    let affinity = parts.extensions.remove::<Affinity>();
    let mut tried: Vec<Arc<str>> = Vec::new();
    let mut body = ReplayBody::prepare(body, &parts, &plan).await?;
    r.budget.record_request(start);
    // The previous attempt's result, answered if no further attempt is made.
    let mut last: Option<Result<Response<Body>, UpstreamError>> = None;
    let mut attempt: u32 = 0;
    loop {
        let admission = match &r.breaker {
            Some(b) => b.admit(env).await,
            None => Admission::Pass { generation: None },
        };
        if let Admission::Reject { retry_after } = admission {
            return match last {
                Some(result) => answer(result),
                None => Err(UpstreamError::CircuitOpen {
                    retry_after_secs: retry_after_secs(retry_after),
                }
                .into()),
            };
        }
        let Some(attempt_body) = body.next() else {
            return last.map_or(
                Err(GatewayError::Internal("request body already sent")),
                answer,
            );
        };
        let left = deadline.saturating_sub(env.clock.now_ms());
        if left == 0 {
            return Err(UpstreamError::Timeout.into());
        }
        attempt += 1;
        call.attempts = attempt;
        // The balancer picks among healthy endpoints, avoiding those this
        // request already tried where it can.
        let picked = upstream.balancer.pick(env, endpoints, affinity, &tried)?;
        let endpoint = picked.endpoint();
        tried.push(endpoint.id.clone());
        call.endpoint = Some(endpoint.id.clone());
        let span = ClientSpan::start(env, &parts.extensions);
        // The last attempt this request can make takes the parts instead
        // of a copy (most requests: one attempt).
        let last_try = attempt >= plan.attempts || !plan.may_retry(&method) || !body.replayable();
        let template = if last_try {
            std::mem::replace(&mut parts, Request::new(()).into_parts().0)
        } else {
            parts.clone()
        };
        let mut req = upstream_request(endpoint, template, attempt_body, host.as_ref())?;
        span.inject(req.headers_mut());
        let limit = plan.per_try.min(Duration::from_millis(left));
        let options = SendOptions {
            connect_timeout: plan.connect.min(limit),
            ca_file: upstream.ca_file.clone(),
        };
        let result = send_attempt(env, req, options, limit).await;
        let traced = Attempt {
            method: &method,
            upstream: &upstream.name,
            endpoint: &endpoint.id,
            number: attempt,
        };
        span.end(env, &traced, &result);
        let kind = Kind::of(&result);
        if let Some(b) = &r.breaker {
            b.record(env, &admission, kind).await;
        }
        upstream.balancer.report(env, picked, Outcome::of(&result));
        let retry = attempt < plan.attempts
            && !matches!(admission, Admission::Probe { .. })
            && !last_try
            && plan.may_retry(&method)
            && plan.retries_on(kind)
            && body.replayable();
        if !retry {
            return answer(result);
        }
        let delay = plan.backoff.delay(attempt, &*env.rng);
        let now = env.clock.now_ms();
        if now.saturating_add(ms(delay)) >= deadline || !r.budget.try_retry(now) {
            return answer(result);
        }
        last = Some(result);
        env.sleep.sleep(delay).await;
    }
}

/// The request one attempt sends to `endpoint`.
fn upstream_request(
    endpoint: &Endpoint,
    mut parts: request::Parts,
    body: Body,
    client_host: Option<&HeaderValue>,
) -> Result<Request<Body>, GatewayError> {
    parts.uri = endpoint
        .target_uri(&parts.uri)
        .ok_or(GatewayError::Internal("upstream URI could not be built"))?;
    parts.version = http::Version::HTTP_11;
    let host = client_host.unwrap_or(&endpoint.host).clone();
    parts.headers.insert(header::HOST, host);
    Ok(Request::from_parts(parts, body))
}

/// One attempt: sends `req`, waiting at most `limit` for the response head.
async fn send_attempt(
    env: &Env,
    req: Request<Body>,
    options: SendOptions,
    limit: Duration,
) -> Result<Response<Body>, UpstreamError> {
    let send = env.http.send(req, options);
    let timer = env.sleep.sleep(limit);
    match select(send, timer).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(UpstreamError::Timeout),
    }
}

/// The final attempt's result as the gateway's answer.
fn answer(result: Result<Response<Body>, UpstreamError>) -> Result<Response<Body>, GatewayError> {
    let mut resp = result?;
    strip_hop_by_hop(resp.headers_mut());
    Ok(resp)
}
