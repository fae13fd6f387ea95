//! The shared breaker state as stored, and the store keys of one breaker.
//!
//! The state is one small text value changed only by compare-and-swap:
//! `closed G`, `open G UNTIL_MS` or `half_open G SINCE_MS`. `G` is the
//! generation, raised on every change that starts a new phase, so counters
//! of an old phase (consecutive failures, window counts, probes) are never
//! mistaken for the current one and need no cleanup. A missing value is
//! closed, generation 0.

use bytes::Bytes;

/// The state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Requests pass; failures are counted.
    Closed { generation: u64 },
    /// Requests are refused until `until` (Unix ms).
    Open { generation: u64, until: u64 },
    /// A few probe requests pass, counted under `generation`; probing
    /// started at `since` (Unix ms).
    HalfOpen { generation: u64, since: u64 },
}

impl State {
    /// The stored form.
    pub(crate) fn encode(&self) -> Bytes {
        Bytes::from(match self {
            Self::Closed { generation } => format!("closed {generation}"),
            Self::Open { generation, until } => format!("open {generation} {until}"),
            Self::HalfOpen { generation, since } => format!("half_open {generation} {since}"),
        })
    }

    /// Reads the stored form; a missing or unreadable value is closed.
    pub(crate) fn decode(raw: Option<&[u8]>) -> Self {
        raw.and_then(|r| Self::parse(std::str::from_utf8(r).ok()?))
            .unwrap_or(Self::Closed { generation: 0 })
    }

    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let kind = parts.next()?;
        let generation = parts.next()?.parse().ok()?;
        let mut at = || parts.next()?.parse::<u64>().ok();
        match kind {
            "closed" => Some(Self::Closed { generation }),
            "open" => Some(Self::Open {
                generation,
                until: at()?,
            }),
            "half_open" => Some(Self::HalfOpen {
                generation,
                since: at()?,
            }),
            _ => None,
        }
    }

    /// The generation.
    pub(crate) fn generation(&self) -> u64 {
        match self {
            Self::Closed { generation }
            | Self::Open { generation, .. }
            | Self::HalfOpen { generation, .. } => *generation,
        }
    }
}

/// The store keys of one upstream's breaker.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    base: String,
}

impl Keys {
    /// Keys under `breaker:{upstream}:`.
    pub(crate) fn new(upstream: &str) -> Self {
        Self {
            base: format!("breaker:{upstream}:"),
        }
    }

    /// The state.
    pub(crate) fn state(&self) -> String {
        format!("{}state", self.base)
    }

    /// Consecutive failures while closed in `generation`.
    pub(crate) fn consecutive(&self, generation: u64) -> String {
        format!("{}{generation}:consecutive", self.base)
    }

    /// Requests in a window bucket.
    pub(crate) fn requests(&self, generation: u64, bucket: u64) -> String {
        format!("{}{generation}:requests:{bucket}", self.base)
    }

    /// Failures in a window bucket.
    pub(crate) fn failures(&self, generation: u64, bucket: u64) -> String {
        format!("{}{generation}:failures:{bucket}", self.base)
    }

    /// Probe requests let through in half-open `generation`.
    pub(crate) fn probes(&self, generation: u64) -> String {
        format!("{}{generation}:probes", self.base)
    }

    /// Successful probes in half-open `generation`.
    pub(crate) fn probe_successes(&self, generation: u64) -> String {
        format!("{}{generation}:probe_successes", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_defaults_to_closed() {
        for s in [
            State::Closed { generation: 3 },
            State::Open {
                generation: 4,
                until: 1_700_000_000_123,
            },
            State::HalfOpen {
                generation: 4,
                since: 1_700_000_000_456,
            },
        ] {
            assert_eq!(State::decode(Some(&s.encode())), s);
        }
        assert_eq!(State::decode(None), State::Closed { generation: 0 });
        assert_eq!(
            State::decode(Some(b"open x")),
            State::Closed { generation: 0 }
        );
        assert_eq!(
            State::decode(Some(b"\xff")),
            State::Closed { generation: 0 }
        );
    }
}
