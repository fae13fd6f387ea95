//! The validated internal model. Only [`GatewayConfig::from_spec`] makes one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::aggregate::Aggregate;
use crate::cache::config::{CacheSettings, RouteCache};
use crate::discovery::config::RegistryConfig;
use crate::health::ActiveHealthCheck;
use crate::normalize::PathConfig;
use crate::policy::Policy;
use crate::proxy::TrustedProxies;
use crate::router::Router;
use crate::upstream::Upstream;
use crate::version::Versioning;

/// Request limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest request target in bytes (414).
    pub max_uri_bytes: usize,
    /// Most header bytes (names, values and separators) in all (431).
    pub max_header_bytes: usize,
    /// Most header fields (431).
    pub max_header_count: usize,
    /// Largest request body by default (413).
    pub max_body_bytes: u64,
    /// Time to receive the request head (408).
    pub header_read_timeout: Duration,
    /// Longest pause within the request body (408).
    pub body_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 32 * 1024,
            max_header_count: 100,
            max_body_bytes: 10 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
        }
    }
}

/// TLS certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: String,
    /// PEM private key.
    pub key: String,
}

/// Listener and request-handling settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the self-hosted target listens.
    pub listen: Option<SocketAddr>,
    /// TLS termination.
    pub tls: Option<TlsFiles>,
    /// Request limits.
    pub limits: Limits,
    /// Who may set forwarding headers.
    pub trusted_proxies: TrustedProxies,
    /// Path normalisation.
    pub path: PathConfig,
    /// Time for in-flight requests on shutdown.
    pub shutdown_grace: Duration,
}

/// Where shared state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded in-memory store (one per instance).
    Memory,
    /// The target's own store: Workers KV (and a Durable Object for exact
    /// counters), Spin key-value.
    Platform,
    /// A Redis server.
    Redis {
        /// `redis://` or `rediss://` URL.
        url: String,
    },
}

/// Where a route's requests go.
#[derive(Debug)]
pub(crate) enum RouteTarget {
    /// Forward to this upstream (index into `GatewayConfig::upstreams`).
    Upstream(usize),
    /// Fan out to several backends and merge.
    Aggregate(Box<Aggregate>),
}

/// A compiled route.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) name: Arc<str>,
    pub(crate) target: RouteTarget,
    pub(crate) policies: Vec<Arc<dyn Policy>>,
    pub(crate) buffer_request: bool,
    pub(crate) buffer_response: bool,
    pub(crate) max_body: u64,
    pub(crate) resilience: crate::resilience::RouteResilience,
    pub(crate) versioning: Option<Versioning>,
    /// Response caching, when the route opts in.
    pub(crate) cache: Option<RouteCache>,
}

/// One route, for listings (the `routes` command, the admin API).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteSummary {
    /// Route name.
    pub name: String,
    /// Upstream name, or `aggregate(backend, ...)`.
    pub upstream: String,
    /// Policy kinds in order.
    pub policies: Vec<&'static str>,
    /// What it matches and how it is versioned.
    #[serde(flatten)]
    pub info: crate::openapi::RouteInfo,
}

/// A validated config, ready to serve.
#[derive(Debug)]
pub struct GatewayConfig {
    pub(crate) source: String,
    /// Listener and limits.
    pub server: ServerConfig,
    /// Shared state backend.
    pub store: StoreConfig,
    /// Whether counters must be exact across instances (`store.counters:
    /// exact`); checked against the target's `atomic_counters`.
    pub exact_counters: bool,
    pub(crate) upstreams: Vec<Upstream>,
    pub(crate) routes: Vec<Route>,
    pub(crate) router: Router,
    /// The registry API, when enabled.
    pub(crate) registry: Option<RegistryConfig>,
    /// The OpenAPI document and, with `docs:`, the site serving it.
    pub(crate) api: crate::openapi::ApiDocs,
    /// Cache store and purge settings.
    pub(crate) cache: CacheSettings,
    /// Trace sampling.
    pub(crate) tracing: crate::trace::TracingConfig,
    /// The file's values with secrets redacted, when loaded from text.
    pub(crate) redacted: Option<std::sync::Arc<serde_json::Value>>,
    /// Access log and request id settings.
    pub(crate) access_log: Arc<crate::observe::AccessLogConfig>,
}

impl GatewayConfig {
    /// The access log and request id settings (`access_log:`).
    pub fn access_log(&self) -> &crate::observe::AccessLogConfig {
        &self.access_log
    }

    /// The file this config came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The config file's values as written, with every secret replaced by
    /// [`REDACTED`](super::redact::REDACTED) (see [`super::redact`]):
    /// what an operator may be shown. `None` for a config built from a
    /// spec rather than loaded from text.
    pub fn redacted(&self) -> Option<&serde_json::Value> {
        self.redacted.as_deref()
    }

    /// The active health checks of the upstreams that configure them.
    /// Take them from the config a gateway serves
    /// ([`Gateway::config`](crate::Gateway::config)): the gateway binds
    /// its endpoint state to that config, so probe results reach its
    /// balancing.
    pub fn active_health_checks(&self) -> Vec<ActiveHealthCheck> {
        self.upstreams
            .iter()
            .filter_map(Upstream::active_health_check)
            .collect()
    }

    /// The path prefix of the registry API, when the config enables it.
    pub fn registry_prefix(&self) -> Option<&str> {
        self.registry.as_ref().map(|r| r.prefix.as_str())
    }

    /// The API description: the OpenAPI document built from the routes.
    pub fn api(&self) -> &crate::openapi::ApiDocs {
        &self.api
    }

    /// The path prefix of the cache purge API, when the config enables it.
    pub fn purge_prefix(&self) -> Option<&str> {
        self.cache.purge.as_ref().map(|a| a.prefix.as_str())
    }

    /// The routes in config order.
    pub fn routes(&self) -> Vec<RouteSummary> {
        self.routes
            .iter()
            .zip(self.api.routes())
            .map(|(r, info)| RouteSummary {
                name: r.name.to_string(),
                info: info.clone(),
                upstream: match &r.target {
                    RouteTarget::Upstream(u) => self.upstreams[*u].name.to_string(),
                    RouteTarget::Aggregate(a) => {
                        let names: Vec<&str> = a.backends.iter().map(|b| b.name.as_str()).collect();
                        format!("aggregate({})", names.join(", "))
                    }
                },
                policies: r.policies.iter().map(|p| p.name()).collect(),
            })
            .collect()
    }
}
