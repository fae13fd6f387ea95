//! The retry budget: retries may be at most a share of the recent requests
//! (plus a small allowance per second), so that when an upstream fails
//! for everyone, retries add a bounded share of load instead of
//! multiplying it.
//!
//! Counted in memory, per upstream and per gateway instance: a budget is
//! about the load this instance adds, and it must cost nothing on the
//! request path. Instances do not share it, and a config reload starts it
//! afresh.

use std::sync::Mutex;

use super::config::BudgetConfig;

/// Buckets the window is split into.
const SLOTS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Which bucket of time (`now / slot length`) the counts belong to.
    index: u64,
    requests: u64,
    retries: u64,
}

/// Requests and retries over a rolling window.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    cfg: BudgetConfig,
    slots: Mutex<[Slot; SLOTS]>,
}

impl RetryBudget {
    /// An empty budget.
    pub(crate) fn new(cfg: BudgetConfig) -> Self {
        Self {
            cfg,
            slots: Mutex::new([Slot::default(); SLOTS]),
        }
    }

    fn slot_ms(&self) -> u64 {
        let window = u64::try_from(self.cfg.window.as_millis()).unwrap_or(u64::MAX);
        (window / SLOTS as u64).max(1)
    }

    fn with_slots<T>(&self, f: impl FnOnce(&mut [Slot; SLOTS]) -> T) -> T {
        f(&mut self.slots.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn current(slots: &mut [Slot; SLOTS], index: u64) -> &mut Slot {
        let slot = &mut slots[(index % SLOTS as u64) as usize];
        if slot.index != index {
            *slot = Slot {
                index,
                ..Slot::default()
            };
        }
        slot
    }

    /// Counts a request (its first attempt).
    pub(crate) fn record_request(&self, now_ms: u64) {
        let index = now_ms / self.slot_ms();
        self.with_slots(|s| Self::current(s, index).requests += 1);
    }

    /// Whether one more retry fits in the budget; if so it is counted.
    pub(crate) fn try_retry(&self, now_ms: u64) -> bool {
        let index = now_ms / self.slot_ms();
        let allowance = self.cfg.min_per_second as f64 * self.cfg.window.as_secs_f64();
        self.with_slots(|slots| {
            let (requests, retries) = slots
                .iter()
                .filter(|s| index.saturating_sub(s.index) < SLOTS as u64)
                .fold((0, 0), |(q, r), s| (q + s.requests, r + s.retries));
            let allowed = self.cfg.ratio * requests as f64 + allowance;
            if (retries + 1) as f64 <= allowed {
                Self::current(slots, index).retries += 1;
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn budget(ratio: f64, min_per_second: u32) -> RetryBudget {
        RetryBudget::new(BudgetConfig {
            ratio,
            min_per_second,
            window: Duration::from_secs(10),
        })
    }

    #[test]
    fn retries_are_capped_at_the_ratio_of_requests_during_an_outage() {
        let b = budget(0.2, 0);
        let mut granted = 0;
        // 100 failing requests, each wanting two retries.
        for i in 0..100 {
            let now = T0 + i * 10;
            b.record_request(now);
            for _ in 0..2 {
                if b.try_retry(now) {
                    granted += 1;
                }
            }
        }
        assert_eq!(granted, 20, "20% of 100 requests");
    }

    #[test]
    fn the_minimum_allows_retries_without_traffic() {
        let b = budget(0.0, 1);
        // 1 per second over a 10s window.
        let granted = (0..50).filter(|_| b.try_retry(T0)).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn old_requests_and_retries_leave_the_window() {
        let b = budget(0.5, 0);
        for _ in 0..10 {
            b.record_request(T0);
        }
        let granted = (0..10).filter(|_| b.try_retry(T0)).count();
        assert_eq!(granted, 5);
        assert!(!b.try_retry(T0 + 5_000), "still within the window");
        // Eleven seconds later, nothing of that is remembered.
        let later = T0 + 11_000;
        assert!(!b.try_retry(later), "no requests, no minimum");
        b.record_request(later);
        b.record_request(later);
        assert!(b.try_retry(later));
        assert!(!b.try_retry(later));
    }
}
