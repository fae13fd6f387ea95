//! What the gateway remembers about each endpoint between requests:
//! requests in flight, latency, weighted-round-robin progress, passive
//! ejections and active check results.
//!
//! The state is in memory, per gateway instance, keyed by upstream name and
//! endpoint id. A [`StateRegistry`] hands the same state to every config the
//! gateway serves, so a reload keeps ejections, check results and latency
//! history for the endpoints that remain.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Endpoint, Upstream, UpstreamKind};
use crate::balance::Ring;
use crate::health::{PassiveState, ProbeState};

/// Everything remembered about one endpoint.
#[derive(Debug, Default)]
pub(crate) struct EndpointStats {
    /// Attempts picked and not yet reported.
    pub(crate) in_flight: u32,
    /// Exponentially weighted moving average of the time to the response
    /// head, in milliseconds; `None` before the first answer.
    pub(crate) latency_ewma_ms: Option<f64>,
    /// Smooth weighted round robin's current weight.
    pub(crate) wrr_current: i64,
    /// Consecutive failures and ejections.
    pub(crate) passive: PassiveState,
    /// Active health check results.
    pub(crate) active: ProbeState,
}

impl EndpointStats {
    /// Whether requests may go to the endpoint at `now_ms`: not ejected and
    /// not failing its active checks.
    pub(crate) fn available(&self, now_ms: u64) -> bool {
        !self.passive.ejected(now_ms) && self.active.healthy
    }
}

/// The mutable part of an upstream's state.
#[derive(Debug, Default)]
pub(crate) struct StateInner {
    /// Per endpoint, by [`Endpoint::id`].
    pub(crate) endpoints: HashMap<Arc<str>, EndpointStats>,
    /// Round robin's position.
    pub(crate) next: u64,
    /// The hash ring for the last candidate set, with that set's fingerprint.
    pub(crate) ring: Option<(u64, Arc<Ring>)>,
}

impl StateInner {
    /// The stats of `e`, created on first use.
    pub(crate) fn stats(&mut self, e: &Endpoint) -> &mut EndpointStats {
        // Look up first: the common case allocates nothing.
        if !self.endpoints.contains_key(&e.id) {
            self.endpoints
                .insert(e.id.clone(), EndpointStats::default());
        }
        self.endpoints
            .get_mut(&e.id)
            .expect("inserted just above when missing")
    }

    /// Whether `e` may take requests at `now_ms` (unknown endpoints may).
    pub(crate) fn available(&self, e: &Endpoint, now_ms: u64) -> bool {
        self.endpoints
            .get(&e.id)
            .is_none_or(|s| s.available(now_ms))
    }

    /// Forgets endpoints that are not among `keep`, have nothing in flight
    /// and are not ejected, once the map has grown well past `keep` (as
    /// discovered instances come and go).
    pub(crate) fn prune(&mut self, keep: &[Endpoint], now_ms: u64) {
        if self.endpoints.len() <= keep.len() * 2 + 16 {
            return;
        }
        self.endpoints.retain(|id, s| {
            s.in_flight > 0 || s.passive.ejected(now_ms) || keep.iter().any(|e| e.id == *id)
        });
    }
}

/// The state of one upstream's endpoints. Each pick and each report takes
/// the lock once, briefly, and never across an `await`.
#[derive(Debug, Default)]
pub(crate) struct UpstreamState {
    inner: Mutex<StateInner>,
}

impl UpstreamState {
    /// Locks the state. A panic while holding the lock leaves numbers that
    /// are still meaningful, so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, StateInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Endpoint state by upstream name, shared by every config a gateway
/// serves.
#[derive(Debug, Default)]
pub(crate) struct StateRegistry {
    by_upstream: Mutex<HashMap<String, Arc<UpstreamState>>>,
}

impl StateRegistry {
    /// Gives each upstream of a config about to be served the state its
    /// name already has, and forgets upstreams the config no longer has
    /// (requests still running on the old config keep theirs until they
    /// finish). For upstreams with a fixed endpoint list, endpoints no
    /// longer listed are forgotten too.
    pub(crate) fn adopt(&self, upstreams: &mut [Upstream]) {
        let mut map = self
            .by_upstream
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|name, _| upstreams.iter().any(|u| *u.name == **name));
        for u in upstreams.iter_mut() {
            let state = map
                .entry(u.name.to_string())
                .or_insert_with(|| u.balancer.state.clone())
                .clone();
            if let UpstreamKind::Http { endpoints } = &u.kind {
                state
                    .lock()
                    .endpoints
                    .retain(|id, _| endpoints.iter().any(|e| e.id == *id));
            }
            u.balancer.state = state;
        }
    }
}
