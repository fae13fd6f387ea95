//! Sending a request to its upstream, within the route's time budget.

use std::time::Duration;

use futures_util::future::{Either, select};
use http::{Request, Response, header};

use super::ClientInfo;
use crate::body::Body;
use crate::config::GatewayConfig;
use crate::env::{Env, SendOptions};
use crate::error::{GatewayError, UpstreamError};
use crate::proxy::{set_forwarding_headers, strip_hop_by_hop};
use crate::upstream::{Upstream, UpstreamKind};

pub(super) async fn forward(
    env: &Env,
    cfg: &GatewayConfig,
    upstream: &Upstream,
    route_timeout: Option<Duration>,
    mut req: Request<Body>,
    client: ClientInfo,
    host: Option<&str>,
) -> Result<Response<Body>, GatewayError> {
    strip_hop_by_hop(req.headers_mut());
    let trusted = cfg.server.trusted_proxies.is_trusted(client.peer);
    let original_host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| host.map(str::to_owned));
    set_forwarding_headers(
        req.headers_mut(),
        client.peer,
        trusted,
        client.tls,
        original_host.as_deref(),
    );
    match &upstream.kind {
        UpstreamKind::Mock(mock) => Ok(mock.respond(&req)),
        UpstreamKind::Http {
            host: upstream_host,
            ..
        } => {
            let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let uri = upstream
                .target_uri(pq)
                .ok_or(GatewayError::Internal("upstream URI could not be built"))?;
            *req.uri_mut() = uri;
            *req.version_mut() = http::Version::HTTP_11;
            if !upstream.preserve_host || !req.headers().contains_key(header::HOST) {
                req.headers_mut()
                    .insert(header::HOST, upstream_host.clone());
            }
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
