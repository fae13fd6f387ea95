//! Window counters: the sliding-window counter (as Kong and Cloudflare
//! count) and the fixed windows quotas use.
//!
//! The sliding estimate at `now` in window `[start, end)` of length `L` is
//! `previous * (end - now) / L + current`: the previous window's count
//! weighted by how much of it the sliding window still overlaps. A request
//! passes when the estimate including it stays within the limit, computed
//! in integers as `previous * (end - now) + (current + 1) * L <= limit * L`.

use super::step::{LimitDecision, ceil_s};

/// The current window and its limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start_ms: u64,
    pub(crate) end_ms: u64,
    pub(crate) limit: u64,
    pub(crate) sliding: bool,
}

impl Window {
    fn len(&self) -> u64 {
        (self.end_ms - self.start_ms).max(1)
    }

    /// `(current, previous)` counts for this window, from the stored
    /// `(start, current, previous)`.
    fn counts(&self, stored: Option<(u64, u64, u64)>) -> (u64, u64) {
        match stored {
            Some((s, c, p)) if s == self.start_ms => (c, p),
            Some((s, c, _)) if self.sliding && s + self.len() == self.start_ms => (0, c),
            _ => (0, 0),
        }
    }

    /// Weighted count of the previous window, scaled by the window length.
    fn carried(&self, previous: u64, now_ms: u64) -> u128 {
        if !self.sliding {
            return 0;
        }
        let left = self.end_ms.saturating_sub(now_ms).min(self.len());
        u128::from(previous) * u128::from(left)
    }

    /// Applies one request: whether it passes and the `(current,
    /// previous)` counts to keep for this window.
    pub(crate) fn apply(&self, stored: Option<(u64, u64, u64)>, now_ms: u64) -> (bool, (u64, u64)) {
        let (current, previous) = self.counts(stored);
        let len = u128::from(self.len());
        let used = self.carried(previous, now_ms) + u128::from(current + 1) * len;
        if used <= u128::from(self.limit) * len {
            (true, (current + 1, previous))
        } else {
            (false, (current, previous))
        }
    }

    /// The decision after [`apply`](Self::apply) kept these counts.
    pub(crate) fn decide(
        &self,
        current: u64,
        previous: u64,
        allowed: bool,
        now_ms: u64,
    ) -> LimitDecision {
        let len = u128::from(self.len());
        let room = (u128::from(self.limit) * len).saturating_sub(self.carried(previous, now_ms));
        let remaining = u64::try_from(room / len)
            .unwrap_or(u64::MAX)
            .saturating_sub(current);
        let to_end = self.end_ms.saturating_sub(now_ms);
        let retry_after_s =
            (!allowed).then(|| ceil_s(self.wait_ms(current, previous, now_ms)).max(1));
        LimitDecision {
            allowed,
            limit: self.limit,
            remaining: if allowed { remaining } else { 0 },
            reset_s: ceil_s(to_end),
            retry_after_s,
        }
    }

    /// How long until one more request passes.
    fn wait_ms(&self, current: u64, previous: u64, now_ms: u64) -> u64 {
        let to_end = self.end_ms.saturating_sub(now_ms);
        if !self.sliding {
            return to_end;
        }
        let len = self.len();
        if current < self.limit && previous > 0 {
            // Within this window, once the previous one's weight has
            // shrunk enough: previous * (end - t) <= (limit - current - 1) * len.
            let keep =
                (u128::from(self.limit - current - 1) * u128::from(len)) / u128::from(previous);
            let keep = u64::try_from(keep).unwrap_or(u64::MAX);
            return to_end.saturating_sub(keep).max(1);
        }
        // In the next window this one's count carries over:
        // current * (end + len - t) <= (limit - 1) * len.
        let keep = (u128::from(self.limit.saturating_sub(1)) * u128::from(len))
            / u128::from(current.max(1));
        let keep = u64::try_from(keep).unwrap_or(u64::MAX).min(len);
        (to_end + len - keep).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn window(now: u64, limit: u64, sliding: bool) -> Window {
        let start = now / MIN * MIN;
        Window {
            start_ms: start,
            end_ms: start + MIN,
            limit,
            sliding,
        }
    }

    /// Sends `n` requests at `now`, returning how many passed.
    fn send(stored: &mut Option<(u64, u64, u64)>, now: u64, n: u64, limit: u64) -> u64 {
        let w = window(now, limit, true);
        let mut passed = 0;
        for _ in 0..n {
            let (ok, (c, p)) = w.apply(*stored, now);
            *stored = Some((w.start_ms, c, p));
            passed += u64::from(ok);
        }
        passed
    }

    #[test]
    fn the_previous_window_counts_by_its_overlap() {
        let mut s = None;
        // 10 per minute: all 10 in the first minute.
        assert_eq!(send(&mut s, MIN, 15, 10), 10);
        // A quarter into the next minute, 3/4 of the 10 still count: 2 pass.
        assert_eq!(send(&mut s, 2 * MIN + MIN / 4, 5, 10), 2);
        // Three quarters in, 1/4 of 10 (2.5) plus 2: 5 more pass.
        assert_eq!(send(&mut s, 2 * MIN + 3 * MIN / 4, 9, 10), 5);
        // Two minutes of silence forget everything.
        assert_eq!(send(&mut s, 5 * MIN, 20, 10), 10);
    }

    #[test]
    fn remaining_and_retry_follow_the_weighting() {
        let w = window(MIN, 10, true);
        let mut s = None;
        send(&mut s, MIN, 10, 10);
        // Half way through the next minute: 5 carried, 0 current.
        let next = window(2 * MIN, 10, true);
        let (ok, (c, p)) = next.apply(s, 2 * MIN + MIN / 2);
        assert!(ok);
        let d = next.decide(c, p, ok, 2 * MIN + MIN / 2);
        assert_eq!((d.limit, d.remaining, d.reset_s), (10, 4, 30));
        // Full window: the last request waits for the next one.
        let (ok, (c, p)) = w.apply(Some((MIN, 10, 0)), MIN + 1_000);
        assert!(!ok);
        let d = w.decide(c, p, ok, MIN + 1_000);
        // Needs 10 * (end + 60s - t) <= 9 * 60s: t = end + 6s -> 65 s.
        assert_eq!(d.retry_after_s, Some(65));
    }

    #[test]
    fn fixed_windows_ignore_the_previous_one() {
        let w = window(MIN, 2, false);
        let (ok, _) = w.apply(Some((0, 2, 0)), MIN);
        assert!(ok, "a new window starts from zero");
        let (ok, counts) = w.apply(Some((MIN, 2, 0)), MIN + 15_000);
        assert!(!ok);
        let d = w.decide(counts.0, counts.1, ok, MIN + 15_000);
        assert_eq!((d.retry_after_s, d.reset_s, d.remaining), (Some(45), 45, 0));
    }
}
