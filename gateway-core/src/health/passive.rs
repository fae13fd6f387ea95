//! Passive health (outlier ejection): after `consecutive_failures` failed
//! attempts in a row an endpoint is ejected for `base_ejection ×
//! 2^(ejections − 1)`, at most `max_ejection`, then returns by itself. The
//! ejection count is forgiven once the endpoint has stayed in rotation for
//! `max_ejection` after its last ejection ended. Passive health never takes
//! the share of endpoints out of rotation above `max_ejected_percent`.

use std::time::Duration;

use super::config::PassiveConfig;
use crate::balance::Outcome;
use crate::upstream::{Endpoint, StateInner};

/// An endpoint's failure streak and ejections.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PassiveState {
    /// Failed attempts in a row.
    pub(crate) consecutive_failures: u32,
    /// Ejected while the clock is before this (Unix ms); 0 if never ejected.
    pub(crate) ejected_until_ms: u64,
    /// Ejections so far (the exponent of the next ejection time).
    pub(crate) times_ejected: u32,
}

impl PassiveState {
    /// Whether the endpoint is ejected at `now_ms`.
    pub(crate) fn ejected(&self, now_ms: u64) -> bool {
        now_ms < self.ejected_until_ms
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl PassiveConfig {
    /// Whether an outcome is a failure; `None` when it says nothing about
    /// the endpoint (the client's body failed, say).
    pub(crate) fn is_failure(&self, outcome: &Outcome) -> Option<bool> {
        match outcome {
            Outcome::Response(s) => Some(self.failure_statuses.contains(*s)),
            Outcome::ConnectFailed | Outcome::TimedOut | Outcome::BadResponse => Some(true),
            Outcome::NotAttributable => None,
        }
    }

    /// How long the `n`th ejection lasts (`n` ≥ 1).
    pub(crate) fn ejection_time(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_ejection
            .checked_mul(factor)
            .unwrap_or(self.max_ejection)
            .min(self.max_ejection)
    }

    /// Records whether an attempt at `endpoint` failed, and ejects it when
    /// its streak reaches the threshold and the cap allows. `candidates` is
    /// the endpoint set the attempt was picked from. Returns the ejection
    /// time when the endpoint was ejected.
    pub(crate) fn record(
        &self,
        st: &mut StateInner,
        endpoint: &Endpoint,
        candidates: &[Endpoint],
        failed: bool,
        now_ms: u64,
    ) -> Option<Duration> {
        let out = candidates
            .iter()
            .filter(|c| c.id != endpoint.id && !st.available(c, now_ms))
            .count();
        // An endpoint no longer known (a reload dropped it) is not tracked.
        let s = st.endpoints.get_mut(&endpoint.id)?;
        if s.passive.ejected(now_ms) {
            // Answers still arriving from before the ejection change nothing.
            return None;
        }
        if !failed {
            s.passive.consecutive_failures = 0;
            return None;
        }
        s.passive.consecutive_failures = s.passive.consecutive_failures.saturating_add(1);
        if s.passive.consecutive_failures < self.consecutive_failures {
            return None;
        }
        // The cap: this ejection must keep the share out of rotation within
        // `max_ejected_percent` of the candidates.
        let cap = candidates.len() * self.max_ejected_percent as usize / 100;
        if out + 1 > cap {
            return None;
        }
        let p = &mut s.passive;
        if p.ejected_until_ms > 0
            && now_ms >= p.ejected_until_ms.saturating_add(ms(self.max_ejection))
        {
            p.times_ejected = 0;
        }
        p.times_ejected = p.times_ejected.saturating_add(1);
        let time = self.ejection_time(p.times_ejected);
        p.ejected_until_ms = now_ms.saturating_add(ms(time));
        p.consecutive_failures = 0;
        Some(time)
    }
}
