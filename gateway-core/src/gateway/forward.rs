//! Sending a request to its upstream, within the route's time budget.

use std::time::Duration;

use futures_util::future::{Either, select};
use http::{HeaderValue, Request, Response, header};

use super::ClientInfo;
use crate::body::Body;
use crate::config::GatewayConfig;
use crate::env::{Env, SendOptions};
use crate::error::{GatewayError, UpstreamError};
use crate::proxy::{set_forwarding_headers, strip_hop_by_hop};
use crate::upstream::{Upstream, UpstreamKind};

pub(crate) async fn forward(
    env: &Env,
    cfg: &GatewayConfig,
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
    match &upstream.kind {
        UpstreamKind::Mock(mock) => Ok(mock.respond(&req)),
        UpstreamKind::Http { endpoints } => {
            let endpoint = endpoints
                .first()
                .ok_or(GatewayError::Internal("upstream without endpoints"))?;
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
    }
}
