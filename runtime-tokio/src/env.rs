//! The core's environment on tokio: system clock, tokio sleeps, spawned
//! deferred work and a fast non-cryptographic random source.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_core::env::{BoxFuture, SplitMix};
use gateway_core::{Clock, Deferred, Env, HttpClient, KvStore, Sleep};

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

/// A [`SplitMix`] seeded from the clock and the process id. Not for secrets.
pub fn fast_rng() -> SplitMix {
    SplitMix::seeded(SystemClock.now_ms() ^ (u64::from(std::process::id()) << 32))
}

/// The environment of the self-hosted target.
pub fn tokio_env(store: Arc<dyn KvStore>, http: Arc<dyn HttpClient>) -> Env {
    Env {
        clock: Arc::new(SystemClock),
        sleep: Arc::new(TokioSleep),
        rng: Arc::new(fast_rng()),
        counters: store.clone(),
        store,
        http,
        deferred: Arc::new(TokioDeferred),
    }
}
