//! The gateway: holds the current config and turns requests into responses.

mod forward;
pub(crate) use forward::forward;
use forward::forward_observed;
mod handle;
mod inspect;
pub use inspect::{BreakerStatus, EndpointStatus, UpstreamSource, UpstreamStatus};
mod limits;
mod origin;
#[cfg(test)]
mod resilience_tests;
#[cfg(feature = "tower")]
mod service;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{Request, Response};

use crate::body::Body;
use crate::cache::CacheRuntime;
use crate::config::GatewayConfig;
use crate::discovery::resolve::Discovery;
use crate::discovery::{NameResolver, ServiceRegistry};
use crate::env::Env;
use crate::observe::Exchange;
use crate::trace::ServerSpan;
use crate::upstream::StateRegistry;

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
    /// Cache state (memory store, in-flight fetches, purges), kept across reloads.
    cache: Arc<CacheRuntime>,
    config: ArcSwap<GatewayConfig>,
    /// Endpoint state by upstream name, carried from config to config.
    upstream_state: Arc<StateRegistry>,
    /// The registry and resolver that discovered upstreams use.
    discovery: Discovery,
    /// Whether sampled requests record their spans (for an exporter).
    record_spans: bool,
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
    pub fn new(mut config: GatewayConfig, env: Env) -> Self {
        let upstream_state = Arc::new(StateRegistry::default());
        upstream_state.adopt(&mut config.upstreams);
        Self {
            inner: Arc::new(Inner {
                env,
                cache: Arc::default(),
                config: ArcSwap::from_pointee(config),
                upstream_state,
                discovery: Discovery::default(),
                record_spans: false,
            }),
        }
    }

    /// This gateway with `registry` as its service directory: `service`
    /// upstreams resolve through it and the registry API (when the config
    /// enables it) reads and writes it. Call before cloning the gateway:
    /// earlier clones keep the previous wiring.
    pub fn with_directory(self, registry: Arc<dyn ServiceRegistry>) -> Self {
        let record = self.inner.record_spans;
        self.rewired(Some(registry), None, record)
    }

    /// This gateway with `resolver` for `dns` upstreams (self-hosted
    /// target). Call before cloning the gateway.
    pub fn with_resolver(self, resolver: Arc<dyn NameResolver>) -> Self {
        let record = self.inner.record_spans;
        self.rewired(None, Some(resolver), record)
    }

    fn rewired(
        self,
        registry: Option<Arc<dyn ServiceRegistry>>,
        resolver: Option<Arc<dyn NameResolver>>,
        record_spans: bool,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                env: self.inner.env.clone(),
                cache: self.inner.cache.clone(),
                config: ArcSwap::new(self.inner.config.load_full()),
                upstream_state: self.inner.upstream_state.clone(),
                discovery: self.inner.discovery.rewired(registry, resolver),
                record_spans,
            }),
        }
    }

    /// This gateway recording the spans of sampled requests: each
    /// response then carries a [`trace::Trace`](crate::trace::Trace) in
    /// its extensions for the target to export. Off by default (trace
    /// context is propagated either way). Call before cloning the gateway.
    pub fn with_span_recording(self) -> Self {
        self.rewired(None, None, true)
    }

    /// Swaps in a new config. In-flight requests finish on the old one.
    /// Endpoint state (ejections, health check results, latency) carries
    /// over for upstreams and endpoints that keep their name and URL.
    pub fn reload(&self, mut config: GatewayConfig) {
        self.inner.upstream_state.adopt(&mut config.upstreams);
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
    ///
    /// The response carries the request id header and, in its extensions,
    /// the request's [`Exchange`] record for the adapter's access log and
    /// metrics, and its [`TraceContext`](crate::trace::TraceContext).
    pub async fn handle(&self, mut req: Request<Body>, client: ClientInfo) -> Response<Body> {
        let config = self.inner.config.load_full();
        let env = &self.inner.env;
        let span = ServerSpan::begin(&config.tracing, env, self.inner.record_spans, &mut req);
        let client_ip = config
            .server
            .trusted_proxies
            .client_ip(client.peer, req.headers());
        let mut exchange = Exchange::begin(env, &config.access_log, &mut req, client_ip);
        let mut resp = match handle::process(&self.inner, &config, req, client, &mut exchange).await
        {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        };
        span.finish(env, &mut resp);
        exchange.finish(env, &mut resp);
        resp.extensions_mut().insert(exchange);
        resp
    }
}
