//! The core's environment on tokio: system clock, tokio sleeps, spawned
//! deferred work and a fast non-cryptographic random source.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_core::env::BoxFuture;
use gateway_core::{Clock, Deferred, Env, HttpClient, KvStore, Rng, Sleep};

/// Wall-clock time from the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleep;

#[async_trait::async_trait]
impl Sleep for TokioSleep {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// `tokio::spawn` for work that outlives the response.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioDeferred;

impl Deferred for TokioDeferred {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        tokio::spawn(work);
    }
}

/// SplitMix64 seeded from the clock and the process id. Not for secrets.
#[derive(Debug)]
pub struct FastRng(AtomicU64);

impl Default for FastRng {
    fn default() -> Self {
        let seed = SystemClock.now_ms() ^ (u64::from(std::process::id()) << 32);
        Self(AtomicU64::new(seed))
    }
}

impl Rng for FastRng {
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

/// The environment of the self-hosted target.
pub fn tokio_env(store: Arc<dyn KvStore>, http: Arc<dyn HttpClient>) -> Env {
    Env {
        clock: Arc::new(SystemClock),
        sleep: Arc::new(TokioSleep),
        rng: Arc::new(FastRng::default()),
        store,
        http,
        deferred: Arc::new(TokioDeferred),
    }
}
