//! The core's environment on Spin.
//!
//! [`WallClock`], [`SplitMix`] and [`QueuedDeferred`] are platform-free;
//! `PollableSleep` and `spin_rng` (wasm only) use WASI clocks and
//! random through the Spin SDK's executor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use gateway_core::env::BoxFuture;
use gateway_core::{Clock, Deferred, Rng};

/// Wall-clock time. `SystemTime` reads `wasi:clocks/wall-clock` on
/// `wasm32-wasip2`.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// SplitMix64 from a seed (on Spin the seed comes from `wasi:random`).
/// Fast and good enough for jitter, balancing and ids; not for secrets.
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

/// A generator seeded from `wasi:random/random`.
#[cfg(target_arch = "wasm32")]
pub fn spin_rng() -> SplitMix {
    SplitMix::seeded(wasi::random::random::get_random_u64())
}

/// Deferred work, queued while the request runs and awaited by the
/// handler after the response has been written ([`QueuedDeferred::run_all`]).
///
/// A WASI HTTP guest has no background tasks: the instance lives until the
/// handler returns, so running the queue there is Spin's `wait_until`.
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
pub use sleep::PollableSleep;

#[cfg(target_arch = "wasm32")]
mod sleep {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use gateway_core::Sleep;
    use spin_executor::CancelOnDropToken;
    use wasi::clocks::monotonic_clock;

    /// Sleeps on a `wasi:clocks/monotonic-clock` pollable registered with
    /// the Spin SDK's executor, which waits on it in `wasi:io/poll` together
    /// with the HTTP streams, so a timeout and an upstream call race fairly.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct PollableSleep;

    #[async_trait::async_trait(?Send)]
    impl Sleep for PollableSleep {
        async fn sleep(&self, duration: Duration) {
            let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
            Delay {
                deadline: monotonic_clock::now().saturating_add(nanos),
                token: None,
            }
            .await;
        }
    }

    /// Ready once the monotonic clock has passed `deadline`.
    struct Delay {
        deadline: monotonic_clock::Instant,
        /// The registration of the current pollable; dropping it cancels it.
        token: Option<CancelOnDropToken>,
    }

    impl Future for Delay {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if monotonic_clock::now() >= self.deadline {
                self.token = None;
                return Poll::Ready(());
            }
            let pollable = monotonic_clock::subscribe_instant(self.deadline);
            self.token = Some(CancelOnDropToken::from(
                spin_executor::push_waker_and_get_token(pollable, cx.waker().clone()),
            ));
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::Arc;

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(WallClock.now_ms() > 1_577_836_800_000);
    }

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
