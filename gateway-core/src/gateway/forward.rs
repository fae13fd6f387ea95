//! Sending a request to its upstream, within the route's time budget.

use std::time::Duration;

use futures_util::future::{Either, select};
use http::{HeaderValue, Request, Response, header};

use super::ClientInfo;
use crate::body::Body;
use crate::config::GatewayConfig;
use crate::discovery::resolve::{Discovery, pick};
use crate::env::{Env, SendOptions};
use crate::error::{GatewayError, UpstreamError};
use crate::proxy::{set_forwarding_headers, strip_hop_by_hop};
use crate::upstream::{Endpoint, Upstream, UpstreamKind};

pub(super) async fn forward(
    env: &Env,
    cfg: &GatewayConfig,
    discovery: &Discovery,
    upstream: &Upstream,
    route_timeout: Option<Duration>,
    mut req: Request<Body>,
    client: ClientInfo,
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
        client_host.as_ref().and_then(|h| h.to_str().ok()),
    );
    let discovered;
    let endpoint = match &upstream.kind {
        UpstreamKind::Mock(mock) => return Ok(mock.respond(&req)),
        UpstreamKind::Http { endpoints } => endpoints
            .first()
            .ok_or(GatewayError::Internal("upstream without endpoints"))?,
        UpstreamKind::Discovered(d) => {
            discovered = discovery.endpoints(d, env.clock.now_ms()).await?;
            pick(&discovered, discovery.next_turn())
                .ok_or(GatewayError::Internal("discovered set without endpoints"))?
        }
    };
    send(env, upstream, endpoint, route_timeout, req, client_host).await
}

/// Sends `req` to `endpoint` within the time budget.
async fn send(
    env: &Env,
    upstream: &Upstream,
    endpoint: &Endpoint,
    route_timeout: Option<Duration>,
    mut req: Request<Body>,
    client_host: Option<HeaderValue>,
) -> Result<Response<Body>, GatewayError> {
    let upstream_host = &endpoint.host;
    let uri = endpoint
        .target_uri(req.uri())
        .ok_or(GatewayError::Internal("upstream URI could not be built"))?;
    *req.uri_mut() = uri;
    *req.version_mut() = http::Version::HTTP_11;
    let host = match client_host {
        Some(h) if upstream.preserve_host => h,
        _ => upstream_host.clone(),
    };
    req.headers_mut().insert(header::HOST, host);
    let timeout = route_timeout.unwrap_or(upstream.timeout);
    let options = SendOptions {
        connect_timeout: upstream.connect_timeout.min(timeout),
        ca_file: upstream.ca_file.clone(),
    };
    let send = env.http.send(req, options);
    let deadline = env.sleep.sleep(timeout);
    let mut resp = match select(send, deadline).await {
        Either::Left((result, _)) => result?,
        Either::Right(((), _)) => return Err(UpstreamError::Timeout.into()),
    };
    strip_hop_by_hop(resp.headers_mut());
    Ok(resp)
}
