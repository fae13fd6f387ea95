//! The core's environment on Workers.
//!
//! `DateClock`, `DelaySleep` and `worker_rng` (wasm only) use the Workers
//! runtime (`Date.now()`, `setTimeout`, `crypto.getRandomValues`).
//! Deferred work uses the core's
//! [`QueuedDeferred`](gateway_core::env::QueuedDeferred), handed to
//! `ctx.waitUntil`.

#[cfg(target_arch = "wasm32")]
pub use platform::{DateClock, DelaySleep, worker_rng};

#[cfg(target_arch = "wasm32")]
mod platform {
    use std::time::Duration;

    use gateway_core::env::SplitMix;
    use gateway_core::{Clock, Sleep};

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
