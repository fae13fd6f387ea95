//! A circuit breaker per upstream, its state shared through the store's
//! exact counters ([`Env::counters`]) so every gateway instance on the same
//! store sees the same breaker.
//!
//! - **Closed**: requests pass. Failures (connect errors, timeouts, broken
//!   connections, configured statuses) are counted: consecutively, and
//!   over a rolling window for the failure rate. Either trigger opens it.
//! - **Open**: requests are refused with 503 and `Retry-After`, without
//!   contacting the upstream, until the open interval has passed.
//! - **Half-open**: a configured number of probe requests pass; enough
//!   successes close the breaker, one failure opens it again. Probes that
//!   never report (an instance died) are given up after the open interval
//!   and a new set is let through.
//!
//! Transitions are compare-and-swap on one state value (see [`state`]).
//! To keep the request path cheap, each instance caches the state for
//! `refresh` (an open breaker until it may probe; probes all taken for
//! `refresh`) and writes to the store only when something happened: a
//! failure, the first success after failures, and the window's request
//! count, added in one increment per refresh. The failure rate is hence
//! approximate by up to one refresh interval of other instances'
//! successes.
//!
//! When the store fails the breaker fails open: requests pass, and for a
//! short while the store is not asked again.

mod state;
#[cfg(test)]
mod tests;

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use self::state::{Keys, State};
use super::config::BreakerConfig;
use super::outcome::Kind;
use crate::env::Env;
use crate::store::StorageError;

/// How long the state lives untouched.
const STATE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long consecutive-failure and probe counters live untouched.
const COUNTER_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long the store is left alone after it failed, at least.
const DEGRADED_FOR: Duration = Duration::from_secs(1);
/// `Retry-After` when the probes of a half-open breaker are taken.
const HALF_OPEN_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Whether a request may go to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// It may; its outcome counts in this closed generation (`None`: the
    /// store is unavailable and nothing is counted).
    Pass { generation: Option<u64> },
    /// It may, as a probe of a half-open breaker whose stored state is
    /// `raw`.
    Probe { generation: u64, raw: Bytes },
    /// It may not; try again after this long.
    Reject { retry_after: Duration },
}

/// The state as this instance last saw it.
#[derive(Debug, Clone)]
struct Known {
    state: State,
    /// The stored value, for compare-and-swap (`None`: absent).
    raw: Option<Bytes>,
    /// When it was read or written (Unix ms).
    at: u64,
}

/// The previous window bucket's totals, read once per bucket.
#[derive(Debug, Clone, Copy)]
struct Previous {
    generation: u64,
    bucket: u64,
    requests: i64,
    failures: i64,
}

#[derive(Debug, Default)]
struct Local {
    known: Option<Known>,
    /// Leave the store alone, and pass everything, until then (Unix ms).
    degraded_until: u64,
    /// The half-open probes are taken: refuse without asking the store
    /// until then (Unix ms).
    probes_taken_until: u64,
    /// The consecutive-failure count last seen; a success resets the
    /// shared counter only when this is above zero.
    consecutive_seen: i64,
    /// Passed requests not yet added to the shared window count.
    pending: i64,
    /// The generation and bucket `pending` belongs to.
    pending_at: (u64, u64),
    previous: Option<Previous>,
}

/// One upstream's circuit breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    cfg: BreakerConfig,
    keys: Keys,
    local: Mutex<Local>,
}

/// Whole seconds for `Retry-After`, at least 1.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn parse_count(raw: Option<Bytes>) -> i64 {
    raw.and_then(|b| std::str::from_utf8(&b).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

impl Breaker {
    /// A breaker for `upstream` (its name keys the shared state).
    pub(crate) fn new(upstream: &str, cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            keys: Keys::new(upstream),
            local: Mutex::new(Local::default()),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state as stored now, for operators; the request path's cached
    /// view is left alone.
    pub(crate) async fn status(&self, env: &Env) -> crate::gateway::BreakerStatus {
        use crate::gateway::BreakerStatus;
        match env.counters.get(&self.keys.state()).await {
            Ok(raw) => match State::decode(raw.as_deref()) {
                State::Closed { .. } => BreakerStatus::Closed,
                State::Open { until, .. } => BreakerStatus::Open { until_ms: until },
                State::HalfOpen { .. } => BreakerStatus::HalfOpen,
            },
            Err(_) => BreakerStatus::Unknown,
        }
    }

    /// Decides whether a request may go to the upstream.
    pub(crate) async fn admit(&self, env: &Env) -> Admission {
        let now = env.clock.now_ms();
        if let Some(a) = self.cached(now) {
            return a;
        }
        for _ in 0..3 {
            let known = match self.refresh(env, now).await {
                Ok(k) => k,
                Err(_) => return self.degrade(now),
            };
            match self.decide(env, known, now).await {
                Ok(Some(a)) => return a,
                // The state changed under us: read it again.
                Ok(None) => continue,
                Err(_) => return self.degrade(now),
            }
        }
        // Three races in a row: let this request through uncounted.
        Admission::Pass { generation: None }
    }

    /// The decision from the cached state, when that is enough.
    fn cached(&self, now: u64) -> Option<Admission> {
        let mut local = self.local();
        if let Some(k) = &local.known
            && let State::Open { until, .. } = k.state
            && now < until
        {
            return Some(Admission::Reject {
                retry_after: Duration::from_millis(until - now),
            });
        }
        if now < local.probes_taken_until {
            return Some(Admission::Reject {
                retry_after: HALF_OPEN_RETRY_AFTER,
            });
        }
        if now < local.degraded_until {
            return Some(Admission::Pass { generation: None });
        }
        let refresh = ms(self.cfg.refresh);
        match &mut local.known {
            Some(k) if matches!(k.state, State::Closed { .. }) => {
                if now.saturating_sub(k.at) < refresh {
                    return Some(Admission::Pass {
                        generation: Some(k.state.generation()),
                    });
                }
                // This request refreshes; concurrent ones keep using the
                // cached state meanwhile.
                k.at = now;
                None
            }
            _ => None,
        }
    }

    fn degrade(&self, now: u64) -> Admission {
        let mut local = self.local();
        local.degraded_until = now.saturating_add(ms(self.cfg.refresh.max(DEGRADED_FOR)));
        local.known = None;
        Admission::Pass { generation: None }
    }

    fn remember(&self, state: State, raw: Option<Bytes>, now: u64) -> Known {
        let known = Known {
            state,
            raw,
            at: now,
        };
        self.local().known = Some(known.clone());
        known
    }

    fn forget(&self) {
        self.local().known = None;
    }

    /// Reads the shared state; while closed also the consecutive-failure
    /// count, and adds the pending request count to the window.
    async fn refresh(&self, env: &Env, now: u64) -> Result<Known, StorageError> {
        let raw = env.counters.get(&self.keys.state()).await?;
        let state = State::decode(raw.as_deref());
        if let State::Closed { generation } = state {
            if self.cfg.consecutive_failures > 0 {
                let n = parse_count(env.counters.get(&self.keys.consecutive(generation)).await?);
                self.local().consecutive_seen = n;
            }
            self.flush(env, None).await?;
        }
        Ok(self.remember(state, raw, now))
    }

    /// Acts on a freshly read state. `None`: a transition lost a race.
    async fn decide(
        &self,
        env: &Env,
        known: Known,
        now: u64,
    ) -> Result<Option<Admission>, StorageError> {
        match known.state {
            State::Closed { generation } => Ok(Some(Admission::Pass {
                generation: Some(generation),
            })),
            State::Open { until, .. } if now < until => Ok(Some(Admission::Reject {
                retry_after: Duration::from_millis(until - now),
            })),
            State::Open { generation, .. } => {
                let next = State::HalfOpen {
                    generation,
                    since: now,
                };
                if !self.swap(env, &known, next, now).await? {
                    return Ok(None);
                }
                self.take_probe(env, generation, next.encode())
                    .await
                    .map(Some)
            }
            State::HalfOpen { generation, since }
                if now.saturating_sub(since) >= ms(self.cfg.open_for) =>
            {
                // The probes never reported: let a new set through.
                let next = State::HalfOpen {
                    generation: generation + 1,
                    since: now,
                };
                if !self.swap(env, &known, next, now).await? {
                    return Ok(None);
                }
                self.take_probe(env, generation + 1, next.encode())
                    .await
                    .map(Some)
            }
            State::HalfOpen { generation, .. } => {
                let raw = known.raw.clone().unwrap_or_default();
                self.take_probe(env, generation, raw).await.map(Some)
            }
        }
    }

    /// One of the half-open probe slots, if any is left.
    async fn take_probe(
        &self,
        env: &Env,
        generation: u64,
        raw: Bytes,
    ) -> Result<Admission, StorageError> {
        let n = env
            .counters
            .incr(&self.keys.probes(generation), 1, Some(COUNTER_TTL))
            .await?;
        if n <= i64::from(self.cfg.probes) {
            return Ok(Admission::Probe { generation, raw });
        }
        // Until the next refresh, this instance refuses without asking.
        let now = env.clock.now_ms();
        self.local().probes_taken_until = now.saturating_add(ms(self.cfg.refresh));
        Ok(Admission::Reject {
            retry_after: HALF_OPEN_RETRY_AFTER,
        })
    }

    /// Compare-and-swap from `from` to `to`; remembers the outcome.
    async fn swap(
        &self,
        env: &Env,
        from: &Known,
        to: State,
        now: u64,
    ) -> Result<bool, StorageError> {
        let raw = to.encode();
        let swapped = env
            .counters
            .compare_and_swap(
                &self.keys.state(),
                from.raw.as_deref(),
                raw.clone(),
                Some(STATE_TTL),
            )
            .await?;
        if swapped {
            self.remember(to, Some(raw), now);
            self.local().probes_taken_until = 0;
        } else {
            self.forget();
        }
        Ok(swapped)
    }

    /// Records how an admitted request ended.
    pub(crate) async fn record(&self, env: &Env, admission: &Admission, kind: Kind) {
        let failed = match kind {
            Kind::Status(s) => self.cfg.failure_statuses.contains(&s),
            Kind::Error(_) => true,
            Kind::Other => {
                if let Admission::Probe { generation, .. } = admission {
                    // Give the probe slot back.
                    let _ = env
                        .counters
                        .incr(&self.keys.probes(*generation), -1, None)
                        .await;
                }
                return;
            }
        };
        let now = env.clock.now_ms();
        let result = match admission {
            Admission::Pass {
                generation: Some(g),
            } if failed => self.closed_failure(env, *g, now).await,
            Admission::Pass {
                generation: Some(g),
            } => self.closed_success(env, *g, now).await,
            Admission::Probe { generation, raw } => {
                self.probe_result(env, *generation, raw, failed, now).await
            }
            Admission::Pass { generation: None } | Admission::Reject { .. } => Ok(()),
        };
        if result.is_err() {
            self.degrade(now);
        }
    }

    fn bucket(&self, now: u64) -> Option<u64> {
        let rate = self.cfg.failure_rate?;
        Some(now / ms(rate.window).max(1))
    }

    async fn closed_success(
        &self,
        env: &Env,
        generation: u64,
        now: u64,
    ) -> Result<(), StorageError> {
        let bucket = self.bucket(now);
        let (reset, flush) = {
            let mut local = self.local();
            let reset = local.consecutive_seen > 0;
            local.consecutive_seen = 0;
            let flush =
                bucket.is_some_and(|b| local.pending > 0 && local.pending_at != (generation, b));
            (reset, flush)
        };
        if flush {
            self.flush(env, None).await?;
        }
        if let Some(b) = bucket {
            let mut local = self.local();
            local.pending_at = (generation, b);
            local.pending += 1;
        }
        if reset && self.cfg.consecutive_failures > 0 {
            env.counters
                .delete(&self.keys.consecutive(generation))
                .await?;
        }
        Ok(())
    }

    /// Adds the pending request count to its window bucket; with a
    /// failure at `(generation, bucket)`, also that failed request, and
    /// returns that bucket's new (requests, failures).
    async fn flush(
        &self,
        env: &Env,
        failure: Option<(u64, u64)>,
    ) -> Result<Option<(i64, i64)>, StorageError> {
        let Some(rate) = self.cfg.failure_rate else {
            return Ok(None);
        };
        let ttl = rate.window.saturating_mul(2) + Duration::from_secs(1);
        let (pending, at) = {
            let mut local = self.local();
            (std::mem::take(&mut local.pending), local.pending_at)
        };
        if pending > 0 && Some(at) != failure {
            env.counters
                .incr(&self.keys.requests(at.0, at.1), pending, Some(ttl))
                .await?;
        }
        let Some((g, b)) = failure else {
            return Ok(None);
        };
        let with = if Some(at) == failure { pending } else { 0 };
        let requests = env
            .counters
            .incr(&self.keys.requests(g, b), with + 1, Some(ttl))
            .await?;
        let failures = env
            .counters
            .incr(&self.keys.failures(g, b), 1, Some(ttl))
            .await?;
        Ok(Some((requests, failures)))
    }

    /// The previous bucket's (requests, failures), read once per bucket.
    async fn previous(
        &self,
        env: &Env,
        generation: u64,
        bucket: u64,
    ) -> Result<(i64, i64), StorageError> {
        let prev = bucket.saturating_sub(1);
        if let Some(p) = self.local().previous
            && (p.generation, p.bucket) == (generation, prev)
        {
            return Ok((p.requests, p.failures));
        }
        let requests = parse_count(
            env.counters
                .get(&self.keys.requests(generation, prev))
                .await?,
        );
        let failures = parse_count(
            env.counters
                .get(&self.keys.failures(generation, prev))
                .await?,
        );
        self.local().previous = Some(Previous {
            generation,
            bucket: prev,
            requests,
            failures,
        });
        Ok((requests, failures))
    }

    async fn closed_failure(
        &self,
        env: &Env,
        generation: u64,
        now: u64,
    ) -> Result<(), StorageError> {
        let mut trip = false;
        if self.cfg.consecutive_failures > 0 {
            let n = env
                .counters
                .incr(&self.keys.consecutive(generation), 1, Some(COUNTER_TTL))
                .await?;
            self.local().consecutive_seen = n;
            trip |= n >= i64::from(self.cfg.consecutive_failures);
        }
        if let (Some(rate), Some(bucket)) = (self.cfg.failure_rate, self.bucket(now))
            && let Some((requests, failures)) = self.flush(env, Some((generation, bucket))).await?
        {
            let (prev_requests, prev_failures) = self.previous(env, generation, bucket).await?;
            // Sliding window: the previous bucket weighs by how much of it
            // is still inside the window.
            let window = ms(rate.window).max(1);
            let weight = 1.0 - (now % window) as f64 / window as f64;
            let requests = requests as f64 + prev_requests as f64 * weight;
            let failures = failures as f64 + prev_failures as f64 * weight;
            trip |= requests >= f64::from(rate.min_requests)
                && requests > 0.0
                && failures / requests >= rate.ratio;
        }
        if trip {
            self.open(env, generation, now).await?;
        }
        Ok(())
    }

    /// Opens a closed breaker of `generation`, unless it changed meanwhile.
    async fn open(&self, env: &Env, generation: u64, now: u64) -> Result<(), StorageError> {
        let next = State::Open {
            generation: generation + 1,
            until: now.saturating_add(ms(self.cfg.open_for)),
        };
        for _ in 0..2 {
            let cached = self.local().known.clone();
            let known = match cached {
                Some(k) => k,
                None => {
                    let raw = env.counters.get(&self.keys.state()).await?;
                    let state = State::decode(raw.as_deref());
                    self.remember(state, raw, now)
                }
            };
            if known.state != (State::Closed { generation }) {
                // Opened by someone else, or already a later phase.
                return Ok(());
            }
            if self.swap(env, &known, next, now).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn probe_result(
        &self,
        env: &Env,
        generation: u64,
        raw: &Bytes,
        failed: bool,
        now: u64,
    ) -> Result<(), StorageError> {
        let from = Known {
            state: State::decode(Some(raw)),
            raw: Some(raw.clone()),
            at: now,
        };
        if failed {
            let next = State::Open {
                generation: generation + 1,
                until: now.saturating_add(ms(self.cfg.open_for)),
            };
            self.swap(env, &from, next, now).await?;
            return Ok(());
        }
        let n = env
            .counters
            .incr(&self.keys.probe_successes(generation), 1, Some(COUNTER_TTL))
            .await?;
        if n >= i64::from(self.cfg.successes) {
            let next = State::Closed {
                generation: generation + 1,
            };
            if self.swap(env, &from, next, now).await? {
                let mut local = self.local();
                local.consecutive_seen = 0;
                local.pending = 0;
            }
        }
        Ok(())
    }
}
