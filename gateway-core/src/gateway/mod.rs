//! The gateway: holds the current config and turns requests into responses.

mod forward;
pub(crate) use forward::forward;
mod handle;
mod limits;
#[cfg(feature = "tower")]
mod service;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{Request, Response};

use crate::body::Body;
use crate::config::GatewayConfig;
use crate::env::Env;

/// Who sent a request, as seen by the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The peer address of the connection (or the platform's client address).
    pub peer: IpAddr,
    /// Whether the client connected over TLS.
    pub tls: bool,
}

impl Default for ClientInfo {
    fn default() -> Self {
        Self {
            peer: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tls: false,
        }
    }
}

struct Inner {
    env: Env,
    config: ArcSwap<GatewayConfig>,
}

/// A running gateway. Cheap to clone; clones share config and environment.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.inner.config.load().source())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway serving `config` through `env`.
    pub fn new(config: GatewayConfig, env: Env) -> Self {
        Self {
            inner: Arc::new(Inner {
                env,
                config: ArcSwap::from_pointee(config),
            }),
        }
    }

    /// Swaps in a new config. In-flight requests finish on the old one.
    pub fn reload(&self, config: GatewayConfig) {
        self.inner.config.store(Arc::new(config));
    }

    /// The config currently served.
    pub fn config(&self) -> Arc<GatewayConfig> {
        self.inner.config.load_full()
    }

    /// The platform capabilities.
    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// Handles one request. Never fails: errors become problem+json responses.
    pub async fn handle(&self, req: Request<Body>, client: ClientInfo) -> Response<Body> {
        let config = self.inner.config.load_full();
        match handle::process(&self.inner.env, &config, req, client).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }
}
