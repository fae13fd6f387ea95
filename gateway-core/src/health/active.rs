//! Active health checks: a `GET` to each endpoint every `interval`. An
//! endpoint starts healthy, is taken out after `unhealthy_threshold`
//! failing probes in a row, and comes back after `healthy_threshold`
//! passing ones. The core holds the state machine and one round of probes;
//! a target that can run timers calls [`ActiveHealthCheck::run_once`] every
//! [`ActiveHealthCheck::interval`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, join_all, select};
use http::{Request, header};

use super::config::ActiveConfig;
use crate::body::Body;
use crate::env::{Env, SendOptions};
use crate::upstream::{Endpoint, UpstreamState};

/// The result of the probes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeState {
    /// Whether the endpoint is in rotation as far as probes go.
    pub(crate) healthy: bool,
    /// Passing probes in a row.
    pub(crate) passes: u32,
    /// Failing probes in a row.
    pub(crate) fails: u32,
}

impl Default for ProbeState {
    fn default() -> Self {
        Self {
            healthy: true,
            passes: 0,
            fails: 0,
        }
    }
}

impl ProbeState {
    /// Records a probe; returns the new health when it changed.
    pub(crate) fn record(&mut self, passed: bool, cfg: &ActiveConfig) -> Option<bool> {
        if passed {
            self.fails = 0;
            self.passes = self.passes.saturating_add(1);
            if !self.healthy && self.passes >= cfg.healthy_threshold {
                self.healthy = true;
                return Some(true);
            }
        } else {
            self.passes = 0;
            self.fails = self.fails.saturating_add(1);
            if self.healthy && self.fails >= cfg.unhealthy_threshold {
                self.healthy = false;
                return Some(false);
            }
        }
        None
    }
}

/// An endpoint whose health changed in a round of probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// The endpoint's id (its URL as configured).
    pub endpoint: String,
    /// Whether it is now in rotation.
    pub healthy: bool,
}

/// The active health checks of one upstream, bound to the state the
/// gateway balances with. Get them from the config the gateway serves
/// ([`GatewayConfig::active_health_checks`](crate::GatewayConfig::active_health_checks)
/// on [`Gateway::config`](crate::Gateway::config)).
#[derive(Debug, Clone)]
pub struct ActiveHealthCheck {
    pub(crate) upstream: String,
    pub(crate) config: ActiveConfig,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) state: Arc<UpstreamState>,
    pub(crate) connect_timeout: Duration,
    pub(crate) ca_file: Option<Arc<str>>,
}

impl ActiveHealthCheck {
    /// The upstream's name.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Time between rounds.
    pub fn interval(&self) -> Duration {
        self.config.interval
    }

    /// Probes every endpoint once, at the same time, records the results
    /// and returns the endpoints whose health changed.
    pub async fn run_once(&self, env: &Env) -> Vec<HealthChange> {
        let results = join_all(self.endpoints.iter().map(|e| self.probe(env, e))).await;
        let mut st = self.state.lock();
        let mut changes = Vec::new();
        for (e, passed) in self.endpoints.iter().zip(results) {
            if let Some(healthy) = st.stats(e).active.record(passed, &self.config) {
                changes.push(HealthChange {
                    endpoint: e.id.to_string(),
                    healthy,
                });
            }
        }
        changes
    }

    /// One probe: whether `e` answered an expected status in time.
    async fn probe(&self, env: &Env, e: &Endpoint) -> bool {
        let Some(uri) = e.target_uri(&self.config.path) else {
            return false;
        };
        let Ok(req) = Request::get(uri)
            .header(header::HOST, e.host.clone())
            .header(header::USER_AGENT, "gateway-health-check")
            .body(Body::empty())
        else {
            return false;
        };
        let timeout = self.config.timeout;
        let options = SendOptions {
            connect_timeout: self.connect_timeout.min(timeout),
            ca_file: self.ca_file.clone(),
        };
        let send = env.http.send(req, options);
        match select(send, env.sleep.sleep(timeout)).await {
            Either::Left((Ok(resp), _)) => self.config.expected.contains(resp.status()),
            _ => false,
        }
    }
}
