//! Exponential backoff with full jitter: retries of many clients spread
//! out instead of arriving together.

use std::time::Duration;

use crate::env::Rng;

/// The waiting time before a retry: uniformly random between zero and
/// `min(max, base × 2^(retry-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(25),
            max: Duration::from_millis(250),
        }
    }
}

impl Backoff {
    /// The upper bound before retry number `retry` (1 for the first retry).
    pub(crate) fn cap(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }

    /// A random wait before retry number `retry`.
    pub(crate) fn delay(&self, retry: u32, rng: &dyn Rng) -> Duration {
        let cap = u64::try_from(self.cap(retry).as_micros()).unwrap_or(u64::MAX);
        let micros = match cap.checked_add(1) {
            Some(n) => rng.next_u64() % n,
            None => rng.next_u64(),
        };
        Duration::from_micros(micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SplitMix;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn cap_doubles_up_to_max() {
        let b = Backoff {
            base: ms(10),
            max: ms(100),
        };
        let caps: Vec<Duration> = (1..=6).map(|r| b.cap(r)).collect();
        assert_eq!(caps, [ms(10), ms(20), ms(40), ms(80), ms(100), ms(100)]);
        assert_eq!(b.cap(1000), ms(100), "no overflow on many retries");
    }

    #[test]
    fn jitter_stays_within_bounds_and_spreads() {
        let b = Backoff {
            base: ms(10),
            max: ms(100),
        };
        let rng = SplitMix::seeded(7);
        for retry in 1..=5 {
            let cap = b.cap(retry);
            let delays: Vec<Duration> = (0..500).map(|_| b.delay(retry, &rng)).collect();
            assert!(delays.iter().all(|d| *d <= cap), "retry {retry}");
            // Full jitter: the waits cover the range, low and high.
            assert!(delays.iter().any(|d| *d < cap / 4), "retry {retry}");
            assert!(delays.iter().any(|d| *d > cap * 3 / 4), "retry {retry}");
        }
    }

    #[test]
    fn extreme_random_values_stay_in_bounds() {
        struct Max;
        impl Rng for Max {
            fn next_u64(&self) -> u64 {
                u64::MAX
            }
        }
        let b = Backoff::default();
        assert!(b.delay(3, &Max) <= b.cap(3));
        let huge = Backoff {
            base: Duration::MAX,
            max: Duration::MAX,
        };
        assert!(huge.delay(1, &Max) <= Duration::MAX);
    }
}
