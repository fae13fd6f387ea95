//! Upstreams: where a route's requests go. A set of HTTP(S) endpoints or
//! the instances of a discovered service, balanced and health-checked, or
//! a mock that answers from config.

mod endpoint;
mod mock;
mod state;

pub(crate) use endpoint::Endpoint;
pub(crate) use mock::Mock;
pub(crate) use state::{StateInner, StateRegistry, UpstreamState};

use crate::balance::Balancer;
use crate::health::{ActiveConfig, ActiveHealthCheck};
use crate::resilience::config::{Plan, RouteResilience};

/// How an upstream answers.
#[derive(Debug)]
pub(crate) enum UpstreamKind {
    /// Proxy to one of these endpoints (never empty).
    Http {
        /// The configured endpoints.
        endpoints: Vec<Endpoint>,
    },
    /// Proxy to one of the live instances of a registry service or DNS
    /// name, resolved per request.
    Discovered(crate::discovery::resolve::Discovered),
    /// Answer from config.
    Mock(Mock),
}

/// A validated upstream.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) kind: UpstreamKind,
    /// Timeouts, retries, budget and breaker.
    pub(crate) resilience: crate::resilience::UpstreamResilience,
    pub(crate) preserve_host: bool,
    pub(crate) ca_file: Option<std::sync::Arc<str>>,
    /// How attempts are spread over the endpoints, and passive health.
    pub(crate) balancer: Balancer,
    /// Active health checks, run by targets that can.
    pub(crate) active_health: Option<ActiveConfig>,
}

impl Upstream {
    /// The upstream's active health checks, if it has any.
    pub(crate) fn active_health_check(&self) -> Option<ActiveHealthCheck> {
        let (Some(config), UpstreamKind::Http { endpoints }) = (&self.active_health, &self.kind)
        else {
            return None;
        };
        Some(ActiveHealthCheck {
            upstream: self.name.to_string(),
            config: config.clone(),
            endpoints: endpoints.clone(),
            state: self.balancer.state.clone(),
            // The connect timeout requests to this upstream get without
            // route overrides.
            connect_timeout: Plan::new(
                (&self.resilience.timeouts, &self.resilience.retry),
                &RouteResilience::default(),
            )
            .connect,
            ca_file: self.ca_file.clone(),
        })
    }
}
