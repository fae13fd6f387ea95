//! Read-only views of a running gateway for operators (the self-hosted
//! admin API and its metrics): upstream endpoints with their health,
//! circuit breakers, the service registry, and cache purges without the
//! purge API's own token.

use std::sync::Arc;

use http::Response;
use serde::Serialize;

use super::Gateway;
use crate::body::Body;
use crate::discovery::ServiceRegistry;
use crate::discovery::resolve::Source;
use crate::upstream::{StateInner, Upstream, UpstreamKind};

/// Where an upstream's endpoints come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpstreamSource {
    /// URLs listed in the config (`url` or `targets`).
    Static,
    /// The live instances of a service in the gateway's registry.
    Service {
        /// The service name.
        name: String,
    },
    /// The addresses a DNS name resolves to.
    Dns {
        /// The name resolved.
        name: String,
        /// Whether SRV records are asked for.
        srv: bool,
    },
    /// Answers from config; no endpoints.
    Mock,
}

/// One endpoint of an upstream and what the gateway knows of its health.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointStatus {
    /// The endpoint's id: its URL as configured, or the registry instance
    /// id / resolved address of a discovered upstream.
    pub id: String,
    /// Whether requests may go to it now: not ejected and passing its
    /// active checks.
    pub healthy: bool,
    /// Passing its active health checks (true when none run).
    pub active_healthy: bool,
    /// Ejected by passive health (outlier detection) until this Unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ejected_until_ms: Option<u64>,
    /// Failed attempts in a row.
    pub consecutive_failures: u32,
    /// Attempts in flight.
    pub in_flight: u32,
    /// Moving average of the time to the response head, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ewma_ms: Option<f64>,
}

/// A circuit breaker's state as stored (shared by the gateway instances
/// on one store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakerStatus {
    /// Requests pass.
    Closed,
    /// Requests are refused until this Unix ms, then probes are let through.
    Open {
        /// When probing may start (Unix ms).
        until_ms: u64,
    },
    /// A few probe requests pass.
    HalfOpen,
    /// The store could not be read.
    Unknown,
}

impl BreakerStatus {
    /// The Prometheus gauge value: 0 closed, 1 half-open, 2 open; `None`
    /// when unknown.
    pub fn gauge(&self) -> Option<f64> {
        match self {
            Self::Closed => Some(0.0),
            Self::HalfOpen => Some(1.0),
            Self::Open { .. } => Some(2.0),
            Self::Unknown => None,
        }
    }
}

/// One upstream of the config being served.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpstreamStatus {
    /// The upstream's name in the config.
    pub name: String,
    /// Where its endpoints come from.
    pub source: UpstreamSource,
    /// Its endpoints: the configured ones, or the discovered ones the
    /// gateway has sent requests to.
    pub endpoints: Vec<EndpointStatus>,
    /// The circuit breaker, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerStatus>,
}

fn endpoint_status(state: &StateInner, id: &Arc<str>, now_ms: u64) -> EndpointStatus {
    let stats = state.endpoints.get(id);
    let ejected_until_ms = stats
        .map(|s| s.passive.ejected_until_ms)
        .filter(|&until| now_ms < until);
    EndpointStatus {
        id: id.to_string(),
        healthy: stats.is_none_or(|s| s.available(now_ms)),
        active_healthy: stats.is_none_or(|s| s.active.healthy),
        ejected_until_ms,
        consecutive_failures: stats.map_or(0, |s| s.passive.consecutive_failures),
        in_flight: stats.map_or(0, |s| s.in_flight),
        latency_ewma_ms: stats.and_then(|s| s.latency_ewma_ms),
    }
}

fn source(u: &Upstream) -> UpstreamSource {
    match &u.kind {
        UpstreamKind::Http { .. } => UpstreamSource::Static,
        UpstreamKind::Mock(_) => UpstreamSource::Mock,
        UpstreamKind::Discovered(d) => match &d.source {
            Source::Service(name) => UpstreamSource::Service { name: name.clone() },
            Source::Dns(q) => UpstreamSource::Dns {
                name: q.name.clone(),
                srv: q.srv,
            },
        },
    }
}

impl Gateway {
    /// Every upstream of the config being served, in name order, with its
    /// endpoints' health (active checks and passive ejections, as kept by
    /// this instance) and its circuit breaker's state (read from the
    /// store, so shared by every instance on it).
    pub async fn upstream_status(&self) -> Vec<UpstreamStatus> {
        let config = self.config();
        let now_ms = self.env().clock.now_ms();
        let mut out = Vec::with_capacity(config.upstreams.len());
        for u in &config.upstreams {
            let endpoints = {
                let state = u.balancer.state.lock();
                match &u.kind {
                    UpstreamKind::Http { endpoints } => endpoints
                        .iter()
                        .map(|e| endpoint_status(&state, &e.id, now_ms))
                        .collect(),
                    UpstreamKind::Discovered(_) => {
                        let mut ids: Vec<&Arc<str>> = state.endpoints.keys().collect();
                        ids.sort();
                        ids.into_iter()
                            .map(|id| endpoint_status(&state, id, now_ms))
                            .collect()
                    }
                    UpstreamKind::Mock(_) => Vec::new(),
                }
            };
            let breaker = match &u.resilience.breaker {
                Some(b) => Some(b.status(self.env()).await),
                None => None,
            };
            out.push(UpstreamStatus {
                name: u.name.to_string(),
                source: source(u),
                endpoints,
                breaker,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The service registry this gateway resolves `service` upstreams
    /// through, when a target wired one in
    /// ([`Gateway::with_directory`]).
    pub fn registry(&self) -> Option<Arc<dyn ServiceRegistry>> {
        self.inner.discovery.registry.clone()
    }

    /// Purges the response cache as a purge API request body says
    /// (`{"url"|"prefix"|"tag": ..., "host"?: ...}`, see
    /// [`crate::cache`]), without the purge API's token: the caller has
    /// already authorised the request (e.g. the admin listener). Answers
    /// the ban as JSON, or a 400 problem for a bad body.
    pub async fn purge_cache(&self, body: &[u8]) -> Response<Body> {
        let config = self.config();
        match crate::cache::purge::purge(self.env(), &config, &self.inner.cache, body).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use http::Request;

    use super::*;
    use crate::ClientInfo;
    use crate::config::load_file_text;
    use crate::policy::PolicyRegistry;
    use crate::test_env;

    const CONFIG: &str = r#"
version: 1
upstreams:
  down:
    targets: [http://a.test, http://b.test]
    health: { passive: { consecutive_failures: 1, base_ejection: 10s } }
    circuit_breaker: { consecutive_failures: 2, open_for: 30s }
  canned: { mock: { status: 204 } }
routes:
  - { path: /down, upstream: down }
  - { path: /canned, upstream: canned }
"#;

    #[test]
    fn status_shows_breakers_ejections_and_sources() {
        let cfg = load_file_text("g.yaml", CONFIG, &PolicyRegistry::builtin()).expect("valid");
        let env = test_env::env();
        let now = env.clock.now_ms();
        let gw = Gateway::new(cfg, env);
        let before = block_on(gw.upstream_status());
        assert_eq!(before.len(), 2);
        assert_eq!(before[0].name, "canned");
        assert_eq!(before[0].source, UpstreamSource::Mock);
        assert!(before[0].endpoints.is_empty() && before[0].breaker.is_none());
        let down = &before[1];
        assert_eq!(down.source, UpstreamSource::Static);
        assert_eq!(down.breaker, Some(BreakerStatus::Closed));
        let ids: Vec<&str> = down.endpoints.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["http://a.test", "http://b.test"]);
        assert!(down.endpoints.iter().all(|e| e.healthy));

        // The test environment refuses every connection.
        for _ in 0..2 {
            let req = Request::get("/down").body(Body::empty()).expect("request");
            let resp = block_on(gw.handle(req, ClientInfo::default()));
            assert!(resp.status().is_server_error());
        }
        let after = block_on(gw.upstream_status());
        let down = &after[1];
        assert_eq!(
            down.breaker,
            Some(BreakerStatus::Open {
                until_ms: now + 30_000
            })
        );
        assert_eq!(down.breaker.and_then(|b| b.gauge()), Some(2.0));
        // One failure each; the first is ejected, the second may not be
        // (at most half of the endpoints are ejected).
        let (ejected, kept): (Vec<&EndpointStatus>, Vec<&EndpointStatus>) =
            down.endpoints.iter().partition(|e| !e.healthy);
        assert_eq!((ejected.len(), kept.len()), (1, 1), "{down:?}");
        assert!(ejected[0].active_healthy);
        assert_eq!(ejected[0].ejected_until_ms, Some(now + 10_000));
        assert_eq!(kept[0].consecutive_failures, 1);
        assert_eq!(kept[0].ejected_until_ms, None);
    }

    #[test]
    fn purge_without_the_purge_api_refuses_a_bad_body() {
        let cfg = load_file_text("g.yaml", CONFIG, &PolicyRegistry::builtin()).expect("valid");
        let gw = Gateway::new(cfg, test_env::env());
        let resp = block_on(gw.purge_cache(br#"{"prefix": "no-slash"}"#));
        assert_eq!(resp.status(), 400);
        let resp = block_on(gw.purge_cache(br#"{"prefix": "/items/"}"#));
        assert_eq!(resp.status(), 200);
    }
}
