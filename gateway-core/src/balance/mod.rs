//! Load balancing: which endpoint an attempt goes to.
//!
//! The candidates come with each request (a fixed list from config, or the
//! instances a registry returned), so every choice is made over the slice
//! it is given and per-endpoint state is kept by [`Endpoint::id`]. A pick:
//!
//! 1. drops endpoints that are ejected or failing active checks;
//! 2. with a `zone`, keeps to the endpoints in that zone while at least
//!    half of them (and at least one) are healthy, else uses every zone;
//! 3. avoids endpoints the caller already tried, when it can: first other
//!    endpoints in the preferred pool, then in any zone, and only then one
//!    already tried;
//! 4. lets the algorithm choose among what is left.
//!
//! When nothing is left the attempt fails with
//! [`UpstreamError::NoHealthyEndpoint`] (503). Each pick is followed by one
//! [`Balancer::report`] of its outcome, which feeds the latency average and
//! passive health; a pick dropped without a report only ends its in-flight
//! count.

mod config;
mod key;
mod least_request;
mod ring;
#[cfg(test)]
mod tests;
mod wrr;

use std::sync::Arc;

use http::{HeaderMap, Response, StatusCode};

pub(crate) use config::{Algorithm, build_algorithm, build_targets};
pub use config::{BalanceSpec, HashOnSpec, TargetDetailSpec, TargetSpec};
pub(crate) use key::Affinity;
pub(crate) use ring::Ring;

use crate::body::Body;
use crate::env::Env;
use crate::error::UpstreamError;
use crate::health::PassiveConfig;
use crate::policy::Cx;
use crate::upstream::{Endpoint, UpstreamState};

/// How one attempt ended, as far as the endpoint is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The endpoint answered with this status.
    Response(StatusCode),
    /// No connection could be made.
    ConnectFailed,
    /// No answer in time.
    TimedOut,
    /// The answer was not valid HTTP.
    BadResponse,
    /// The attempt failed for a reason that says nothing about the
    /// endpoint (the client's request body broke, say).
    NotAttributable,
}

impl Outcome {
    /// The outcome of a send.
    pub(crate) fn of(result: &Result<Response<Body>, UpstreamError>) -> Self {
        match result {
            Ok(r) => Self::Response(r.status()),
            Err(UpstreamError::Connect(_)) => Self::ConnectFailed,
            Err(UpstreamError::Timeout) => Self::TimedOut,
            Err(UpstreamError::Protocol(_)) => Self::BadResponse,
            Err(_) => Self::NotAttributable,
        }
    }
}

/// An upstream's balancing settings and the endpoint state they use.
#[derive(Debug)]
pub(crate) struct Balancer {
    pub(crate) algorithm: Algorithm,
    /// This gateway's zone, if it prefers endpoints there.
    pub(crate) zone: Option<Arc<str>>,
    /// Passive health; `None` when switched off.
    pub(crate) passive: Option<PassiveConfig>,
    /// Shared with every config serving an upstream of the same name.
    pub(crate) state: Arc<UpstreamState>,
}

/// The endpoint chosen for one attempt. Hand it back to
/// [`Balancer::report`] when the attempt has an outcome.
#[derive(Debug)]
pub(crate) struct Picked<'a> {
    endpoint: &'a Endpoint,
    candidates: &'a [Endpoint],
    state: &'a UpstreamState,
    started_ms: u64,
    released: bool,
}

impl<'a> Picked<'a> {
    /// Where the attempt goes.
    pub(crate) fn endpoint(&self) -> &'a Endpoint {
        self.endpoint
    }
}

impl Drop for Picked<'_> {
    fn drop(&mut self) {
        if !self.released {
            let mut st = self.state.lock();
            if let Some(s) = st.endpoints.get_mut(&self.endpoint.id) {
                s.in_flight = s.in_flight.saturating_sub(1);
            }
        }
    }
}

impl Balancer {
    /// The request's hash key, for `consistent_hash`.
    pub(crate) fn affinity(&self, headers: &HeaderMap, cx: &Cx<'_>) -> Option<Affinity> {
        match &self.algorithm {
            Algorithm::ConsistentHash(on) => on.key(headers, cx),
            _ => None,
        }
    }

    /// Chooses the endpoint for an attempt among `candidates`, avoiding the
    /// ids in `tried` when another healthy endpoint exists.
    pub(crate) fn pick<'a>(
        &'a self,
        env: &Env,
        candidates: &'a [Endpoint],
        affinity: Option<Affinity>,
        tried: &[Arc<str>],
    ) -> Result<Picked<'a>, UpstreamError> {
        let now = env.clock.now_ms();
        let mut st = self.state.lock();
        st.prune(candidates, now);
        let zone = self.zone.as_deref();
        let in_zone = |e: &Endpoint| e.zone.as_deref() == zone;
        let local_only = zone.is_some() && {
            let (mut n, mut healthy) = (0usize, 0usize);
            for e in candidates.iter().filter(|e| in_zone(e)) {
                n += 1;
                healthy += usize::from(st.available(e, now));
            }
            healthy > 0 && healthy * 2 >= n
        };
        let fresh = |e: &Endpoint| !tried.contains(&e.id);
        let select = |keep: &dyn Fn(&Endpoint) -> bool| -> Vec<usize> {
            (0..candidates.len())
                .filter(|&i| st.available(&candidates[i], now) && keep(&candidates[i]))
                .collect()
        };
        let mut eligible = select(&|e| (!local_only || in_zone(e)) && fresh(e));
        if eligible.is_empty() {
            eligible = select(&fresh);
        }
        if eligible.is_empty() {
            eligible = select(&|e| !local_only || in_zone(e));
        }
        if eligible.is_empty() {
            return Err(UpstreamError::NoHealthyEndpoint);
        }
        let i = match (&self.algorithm, affinity) {
            (Algorithm::ConsistentHash(_), Some(Affinity(key))) => {
                let ring = ring_for(&mut st, candidates);
                ring.lookup(key, |i| eligible.binary_search(&i).is_ok())
                    .unwrap_or(eligible[0])
            }
            (Algorithm::RoundRobin | Algorithm::ConsistentHash(_), _) => {
                let k = st.next;
                st.next = k.wrapping_add(1);
                eligible[(k % eligible.len() as u64) as usize]
            }
            (Algorithm::WeightedRoundRobin, _) => wrr::pick(&mut st, candidates, &eligible),
            (Algorithm::LeastRequest, _) => {
                least_request::pick(&st, candidates, &eligible, env.rng.as_ref())
            }
            (Algorithm::Random, _) => weighted_random(candidates, &eligible, env),
        };
        let endpoint = &candidates[i];
        let s = st.stats(endpoint);
        s.in_flight = s.in_flight.saturating_add(1);
        Ok(Picked {
            endpoint,
            candidates,
            state: &self.state,
            started_ms: now,
            released: false,
        })
    }

    /// Records how the attempt ended: its latency (from the pick to now),
    /// and success or failure for passive health, which may eject the
    /// endpoint.
    pub(crate) fn report(&self, env: &Env, mut picked: Picked<'_>, outcome: Outcome) {
        debug_assert!(std::ptr::eq(picked.state, Arc::as_ptr(&self.state)));
        let now = env.clock.now_ms();
        let latency = now.saturating_sub(picked.started_ms) as f64;
        let state = picked.state;
        let mut st = state.lock();
        if let Some(s) = st.endpoints.get_mut(&picked.endpoint.id) {
            s.in_flight = s.in_flight.saturating_sub(1);
            let sample = match outcome {
                Outcome::Response(_) => Some(latency),
                Outcome::NotAttributable => None,
                _ => Some(latency.max(least_request::FAILURE_LATENCY_MS)),
            };
            if let Some(sample) = sample {
                s.latency_ewma_ms = Some(least_request::update_ewma(s.latency_ewma_ms, sample));
            }
        }
        picked.released = true;
        if let Some(cfg) = &self.passive
            && let Some(failed) = cfg.is_failure(&outcome)
        {
            cfg.record(&mut st, picked.endpoint, picked.candidates, failed, now);
        }
    }
}

/// The ring for `candidates`, rebuilt only when the list changed.
fn ring_for(st: &mut crate::upstream::StateInner, candidates: &[Endpoint]) -> Arc<Ring> {
    let fp = ring::fingerprint(candidates);
    match &st.ring {
        Some((f, r)) if *f == fp => r.clone(),
        _ => {
            let r = Arc::new(Ring::build(candidates));
            st.ring = Some((fp, r.clone()));
            r
        }
    }
}

/// A random endpoint among `eligible`, in proportion to the weights.
fn weighted_random(candidates: &[Endpoint], eligible: &[usize], env: &Env) -> usize {
    let total: u64 = eligible
        .iter()
        .map(|&i| u64::from(candidates[i].weight.max(1)))
        .sum();
    let mut r = env.rng.next_u64() % total.max(1);
    for &i in eligible {
        let w = u64::from(candidates[i].weight.max(1));
        if r < w {
            return i;
        }
        r -= w;
    }
    eligible[0]
}
