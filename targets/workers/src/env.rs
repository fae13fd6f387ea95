//! The core's environment on Workers.
//!
//! [`SplitMix`] and [`QueuedDeferred`] are platform-free; `DateClock`,
//! `DelaySleep` and `worker_rng` (wasm only) use the Workers runtime
//! (`Date.now()`, `setTimeout`, `crypto.getRandomValues`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use gateway_core::env::BoxFuture;
use gateway_core::{Deferred, Rng};

/// SplitMix64 from a seed (on Workers the seed comes from
/// `crypto.getRandomValues`). Fast and good enough for jitter, balancing
/// and ids; not for secrets.
#[derive(Debug)]
pub struct SplitMix(AtomicU64);

impl SplitMix {
    /// A generator starting at `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Rng for SplitMix {
    fn next_u64(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Deferred work, queued while a request runs. The fetch handler hands the
/// queue to `ctx.waitUntil` ([`QueuedDeferred::run_all`]) before returning
/// the response, so the work completes after the response has been sent.
///
/// The queue belongs to the isolate, not to one request: whichever request
/// drains it runs every job queued so far. Work deferred after the handler
/// returned (while the runtime streams a response body) waits for the next
/// request's drain.
#[derive(Default)]
pub struct QueuedDeferred(Mutex<Vec<BoxFuture<'static, ()>>>);

impl std::fmt::Debug for QueuedDeferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedDeferred")
            .field("pending", &self.pending())
            .finish()
    }
}

impl QueuedDeferred {
    /// How many jobs wait.
    pub fn pending(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Runs every queued job concurrently, including jobs that those jobs
    /// queue, until the queue is empty.
    pub async fn run_all(&self) {
        loop {
            let batch = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
            if batch.is_empty() {
                return;
            }
            futures_util::future::join_all(batch).await;
        }
    }
}

impl Deferred for QueuedDeferred {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(work);
    }
}

#[cfg(target_arch = "wasm32")]
pub use platform::{DateClock, DelaySleep, worker_rng};

#[cfg(target_arch = "wasm32")]
mod platform {
    use std::time::Duration;

    use gateway_core::{Clock, Sleep};

    use super::SplitMix;

    /// Wall-clock time from `Date.now()`. Inside a request the Workers
    /// runtime advances it only after I/O (a Spectre mitigation), which is
    /// precise enough for expiry and rate windows.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct DateClock;

    impl Clock for DateClock {
        fn now_ms(&self) -> u64 {
            worker::Date::now().as_millis()
        }
    }

    /// Sleeps with `setTimeout` (`worker::Delay`).
    #[derive(Debug, Default, Clone, Copy)]
    pub struct DelaySleep;

    #[async_trait::async_trait(?Send)]
    impl Sleep for DelaySleep {
        async fn sleep(&self, duration: Duration) {
            worker::Delay::from(duration).await;
        }
    }

    /// A generator seeded from `crypto.getRandomValues`, falling back to
    /// the clock if that fails (it does not inside a request).
    pub fn worker_rng() -> SplitMix {
        let mut seed = [0u8; 8];
        let seed = match getrandom::getrandom(&mut seed) {
            Ok(()) => u64::from_le_bytes(seed),
            Err(_) => worker::Date::now().as_millis() ^ 0xA076_1D64_78BD_642F,
        };
        SplitMix::seeded(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::Arc;

    #[test]
    fn splitmix_is_deterministic_per_seed() {
        let a = SplitMix::seeded(7);
        let b = SplitMix::seeded(7);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
    }

    #[test]
    fn deferred_runs_queued_and_nested_work() {
        let q = Arc::new(QueuedDeferred::default());
        let hits = Arc::new(AtomicU64::new(0));
        let (q2, h1, h2) = (q.clone(), hits.clone(), hits.clone());
        q.defer(Box::pin(async move {
            h1.fetch_add(1, Ordering::SeqCst);
            q2.defer(Box::pin(async move {
                h2.fetch_add(10, Ordering::SeqCst);
            }));
        }));
        assert_eq!(q.pending(), 1);
        q.run_all()
            .now_or_never()
            .expect("ready futures finish at once");
        assert_eq!(hits.load(Ordering::SeqCst), 11);
        assert_eq!(q.pending(), 0);
    }
}
