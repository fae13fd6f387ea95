//! A route's upstream call as an owned value, for the cache stage (which
//! may refresh a stale entry after the response has gone).

use std::sync::Arc;

use http::{Request, Response};

use super::forward::forward;
use super::{ClientInfo, Inner};
use crate::body::Body;
use crate::cache::Origin;
use crate::config::GatewayConfig;
use crate::env::BoxFuture;
use crate::error::GatewayError;

/// Forwards to the upstream of one route of one config.
pub(super) struct RouteOrigin {
    pub(super) inner: Arc<Inner>,
    pub(super) config: Arc<GatewayConfig>,
    pub(super) route: usize,
    pub(super) upstream: usize,
    pub(super) client: ClientInfo,
}

impl Origin for RouteOrigin {
    fn fetch(
        self: Arc<Self>,
        req: Request<Body>,
    ) -> BoxFuture<'static, Result<Response<Body>, GatewayError>> {
        Box::pin(async move {
            let cfg = &*self.config;
            let route = cfg
                .routes
                .get(self.route)
                .ok_or(GatewayError::Internal("route index out of range"))?;
            let upstream = cfg
                .upstreams
                .get(self.upstream)
                .ok_or(GatewayError::Internal("upstream index out of range"))?;
            forward(
                &self.inner.env,
                cfg,
                &self.inner.discovery,
                upstream,
                &route.resilience,
                req,
                self.client,
            )
            .await
        })
    }
}
