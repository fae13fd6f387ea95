//! GCRA, the generic cell rate algorithm: a token bucket kept as one
//! number, the theoretical arrival time (TAT) of the next request.
//!
//! With emission interval `T` (window / rate) and burst `B`, a request at
//! `now` passes when `max(TAT, now) + T - now <= T * B`; passing moves the
//! TAT on by `T`. A full bucket lets `B` requests through at once, then one
//! every `T`.

use super::step::{LimitDecision, ceil_s};

/// Applies one request: whether it passes and the TAT to keep.
pub(crate) fn apply(tat: Option<u64>, now_ms: u64, interval_ms: u64, burst: u64) -> (bool, u64) {
    let tat = tat.unwrap_or(now_ms).max(now_ms);
    let next = tat.saturating_add(interval_ms);
    if next - now_ms <= interval_ms.saturating_mul(burst) {
        (true, next)
    } else {
        (false, tat)
    }
}

/// The decision after [`apply`] returned `tat_ms`.
pub(crate) fn decide(
    tat_ms: u64,
    allowed: bool,
    now_ms: u64,
    interval_ms: u64,
    burst: u64,
) -> LimitDecision {
    let capacity = interval_ms.saturating_mul(burst);
    let used = tat_ms.max(now_ms) - now_ms;
    let remaining = capacity.saturating_sub(used) / interval_ms.max(1);
    let retry_after_s = (!allowed).then(|| {
        // The request passes once `tat + T - now <= T * B`.
        let wait = (used + interval_ms).saturating_sub(capacity);
        ceil_s(wait).max(1)
    });
    LimitDecision {
        allowed,
        limit: burst,
        remaining: if allowed { remaining } else { 0 },
        reset_s: ceil_s(used),
        retry_after_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `n` requests at `now`, returning how many passed.
    fn burst_at(tat: &mut Option<u64>, now: u64, n: usize, t: u64, b: u64) -> usize {
        let mut passed = 0;
        for _ in 0..n {
            let (ok, next) = apply(*tat, now, t, b);
            *tat = Some(next);
            passed += usize::from(ok);
        }
        passed
    }

    #[test]
    fn a_full_bucket_allows_the_burst_then_one_per_interval() {
        // 10/s with burst 5: T = 100 ms.
        let mut tat = None;
        assert_eq!(burst_at(&mut tat, 1_000, 8, 100, 5), 5);
        // 100 ms later one token has come back.
        assert_eq!(burst_at(&mut tat, 1_100, 3, 100, 5), 1);
        assert_eq!(burst_at(&mut tat, 1_150, 1, 100, 5), 0);
        // After a quiet second the bucket is full again, never fuller.
        assert_eq!(burst_at(&mut tat, 5_000, 9, 100, 5), 5);
    }

    #[test]
    fn decisions_report_remaining_reset_and_retry() {
        let mut tat = None;
        let (ok, next) = apply(tat, 1_000, 100, 5);
        assert!(ok);
        let d = decide(next, ok, 1_000, 100, 5);
        assert_eq!((d.limit, d.remaining, d.reset_s), (5, 4, 1));
        assert_eq!(d.retry_after_s, None);
        tat = Some(next);
        burst_at(&mut tat, 1_000, 4, 100, 5);
        let (ok, same) = apply(tat, 1_000, 100, 5);
        assert!(!ok);
        assert_eq!(Some(same), tat, "a denial changes nothing");
        let d = decide(same, ok, 1_000, 100, 5);
        assert_eq!(d.remaining, 0);
        // One token back in 100 ms: retry after a (rounded up) second.
        assert_eq!(d.retry_after_s, Some(1));
        // Slow rate: 1/min, burst 1 -> wait a minute.
        let (_, t) = apply(None, 0, 60_000, 1);
        let (ok, t) = apply(Some(t), 10_000, 60_000, 1);
        let d = decide(t, ok, 10_000, 60_000, 1);
        assert_eq!(
            (d.allowed, d.retry_after_s, d.reset_s),
            (false, Some(50), 50)
        );
    }
}
