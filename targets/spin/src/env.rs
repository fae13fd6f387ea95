//! The core's environment on Spin.
//!
//! [`WallClock`] reads the WASI wall clock through `std`; `PollableSleep`
//! and `spin_rng` (wasm only) use WASI clocks and random through the Spin
//! SDK's executor. Deferred work uses the core's
//! [`QueuedDeferred`](gateway_core::env::QueuedDeferred), drained after the
//! response has been written.

use std::time::{SystemTime, UNIX_EPOCH};

use gateway_core::Clock;

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

/// A generator seeded from `wasi:random/random`.
#[cfg(target_arch = "wasm32")]
pub fn spin_rng() -> gateway_core::env::SplitMix {
    gateway_core::env::SplitMix::seeded(wasi::random::random::get_random_u64())
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

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(WallClock.now_ms() > 1_577_836_800_000);
    }
}
