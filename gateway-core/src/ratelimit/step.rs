//! One rate-limit decision as a pure function of (state, now, parameters),
//! shared by every store: the memory store applies it under its lock, the
//! default [`KvStore::rate_limit`](crate::KvStore::rate_limit) in a
//! compare-and-swap loop, the Durable Object inside the object, and the
//! Redis store mirrors it in a server-side script.
//!
//! All times are Unix milliseconds from the gateway's clock, so every store
//! agrees on the windows whatever its own clock says.

use std::time::Duration;

use super::{gcra, sliding_window};

/// The algorithm and its parameters for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LimitStep {
    /// Generic cell rate algorithm (a token bucket): one request every
    /// `interval_ms`, up to `burst` at once.
    Gcra {
        /// Emission interval: the window divided by the rate, in ms (≥ 1).
        interval_ms: u64,
        /// Requests allowed at once from a full bucket (≥ 1).
        burst: u64,
    },
    /// A counter over the window `[start_ms, end_ms)`: a calendar quota
    /// (`sliding: false`) or the sliding-window estimate that also weighs
    /// the previous window of the same length by its overlap.
    Window {
        /// Start of the current window.
        start_ms: u64,
        /// End of the current window (exclusive).
        end_ms: u64,
        /// Requests allowed per window (≥ 1).
        limit: u64,
        /// Weigh the previous window in (sliding window counter).
        sliding: bool,
    },
}

/// What a store keeps per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitState {
    /// GCRA: the theoretical arrival time of the next request.
    Gcra {
        /// Unix ms.
        tat_ms: u64,
    },
    /// A window counter.
    Window {
        /// Start of the window `current` counts.
        start_ms: u64,
        /// Requests allowed in that window.
        current: u64,
        /// Requests allowed in the window before it (sliding only).
        previous: u64,
    },
}

impl LimitState {
    /// The stored form: `g:TAT` or `w:START:CURRENT:PREVIOUS` (the Redis
    /// script reads and writes the same text).
    pub fn encode(&self) -> String {
        match self {
            Self::Gcra { tat_ms } => format!("g:{tat_ms}"),
            Self::Window {
                start_ms,
                current,
                previous,
            } => format!("w:{start_ms}:{current}:{previous}"),
        }
    }

    /// Parses [`encode`](Self::encode)'s text; `None` for anything else
    /// (a value written by another version counts as no state).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.split(':');
        let kind = parts.next()?;
        let mut num = || parts.next()?.parse::<u64>().ok();
        let state = match kind {
            "g" => Self::Gcra { tat_ms: num()? },
            "w" => Self::Window {
                start_ms: num()?,
                current: num()?,
                previous: num()?,
            },
            _ => return None,
        };
        parts.next().is_none().then_some(state)
    }
}

/// The answer for one request under one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDecision {
    /// The request may pass.
    pub allowed: bool,
    /// Requests allowed per window (the burst for GCRA).
    pub limit: u64,
    /// Requests still allowed now.
    pub remaining: u64,
    /// Seconds until the window ends or the bucket is full again.
    pub reset_s: u64,
    /// Seconds to wait before a retry can pass (denied decisions only).
    pub retry_after_s: Option<u64>,
}

/// Applies `step` to `state` at `now_ms`: whether the request passes and
/// the state to store. A denied request leaves the count unchanged.
pub fn apply(step: &LimitStep, state: Option<LimitState>, now_ms: u64) -> (bool, LimitState) {
    match *step {
        LimitStep::Gcra { interval_ms, burst } => {
            let tat = match state {
                Some(LimitState::Gcra { tat_ms }) => Some(tat_ms),
                _ => None,
            };
            let (allowed, tat_ms) = gcra::apply(tat, now_ms, interval_ms, burst);
            (allowed, LimitState::Gcra { tat_ms })
        }
        LimitStep::Window {
            start_ms,
            end_ms,
            limit,
            sliding,
        } => {
            let counts = match state {
                Some(LimitState::Window {
                    start_ms: s,
                    current,
                    previous,
                }) => Some((s, current, previous)),
                _ => None,
            };
            let w = sliding_window::Window {
                start_ms,
                end_ms,
                limit,
                sliding,
            };
            let (allowed, (current, previous)) = w.apply(counts, now_ms);
            (
                allowed,
                LimitState::Window {
                    start_ms,
                    current,
                    previous,
                },
            )
        }
    }
}

/// Describes the outcome of [`apply`] for the response headers.
pub fn decide(step: &LimitStep, state: &LimitState, allowed: bool, now_ms: u64) -> LimitDecision {
    match (*step, *state) {
        (LimitStep::Gcra { interval_ms, burst }, LimitState::Gcra { tat_ms }) => {
            gcra::decide(tat_ms, allowed, now_ms, interval_ms, burst)
        }
        (
            LimitStep::Window {
                start_ms,
                end_ms,
                limit,
                sliding,
            },
            LimitState::Window {
                current, previous, ..
            },
        ) => sliding_window::Window {
            start_ms,
            end_ms,
            limit,
            sliding,
        }
        .decide(current, previous, allowed, now_ms),
        // `apply` always returns the state kind of its step.
        _ => LimitDecision {
            allowed,
            limit: 0,
            remaining: 0,
            reset_s: 0,
            retry_after_s: None,
        },
    }
}

/// How long a store keeps `state`: until it no longer matters (GCRA: the
/// bucket is full again; a window: it and, when sliding, the next one end).
pub fn ttl(step: &LimitStep, state: &LimitState, now_ms: u64) -> Duration {
    let until = match (*step, *state) {
        (_, LimitState::Gcra { tat_ms }) => tat_ms,
        (
            LimitStep::Window {
                start_ms,
                end_ms,
                sliding,
                ..
            },
            _,
        ) => {
            if sliding {
                end_ms + (end_ms - start_ms)
            } else {
                end_ms
            }
        }
        (LimitStep::Gcra { .. }, _) => now_ms,
    };
    // At least 1 ms: a zero TTL would delete the value at once.
    Duration::from_millis(until.saturating_sub(now_ms).max(1))
}

/// Whole seconds covering `ms` (rounded up).
pub(crate) fn ceil_s(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_junk_is_no_state() {
        for s in [
            LimitState::Gcra { tat_ms: 17 },
            LimitState::Window {
                start_ms: 60_000,
                current: 3,
                previous: 9,
            },
        ] {
            assert_eq!(LimitState::decode(s.encode().as_bytes()), Some(s));
        }
        for junk in [&b"g:"[..], b"w:1:2", b"w:1:2:3:4", b"x:1", b"g:-1", b"\xff"] {
            assert_eq!(LimitState::decode(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn a_state_of_another_kind_counts_as_none() {
        let step = LimitStep::Window {
            start_ms: 0,
            end_ms: 1000,
            limit: 1,
            sliding: false,
        };
        let (ok, s) = apply(&step, Some(LimitState::Gcra { tat_ms: 5 }), 10);
        assert!(ok);
        assert_eq!(
            s,
            LimitState::Window {
                start_ms: 0,
                current: 1,
                previous: 0
            }
        );
    }

    #[test]
    fn ttl_covers_what_the_state_still_decides() {
        let g = LimitStep::Gcra {
            interval_ms: 100,
            burst: 5,
        };
        assert_eq!(
            ttl(&g, &LimitState::Gcra { tat_ms: 1_300 }, 1_000),
            Duration::from_millis(300)
        );
        let w = LimitStep::Window {
            start_ms: 60_000,
            end_ms: 120_000,
            limit: 5,
            sliding: true,
        };
        let s = LimitState::Window {
            start_ms: 60_000,
            current: 1,
            previous: 0,
        };
        assert_eq!(ttl(&w, &s, 90_000), Duration::from_millis(90_000));
    }
}
