//! Fakes for the core's own unit tests (the `testkit` crate serves everyone else).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::body::Body;
use crate::env::{BoxFuture, Clock, Deferred, Env, HttpClient, Rng, SendOptions, Sleep};
use crate::error::UpstreamError;
use crate::store::MemoryStore;

/// A clock that moves only when told.
#[derive(Debug)]
pub(crate) struct ManualClock(AtomicU64);

impl ManualClock {
    pub(crate) fn new(ms: u64) -> Self {
        Self(AtomicU64::new(ms))
    }
    pub(crate) fn advance(&self, d: Duration) {
        self.0.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A sleep that advances a [`ManualClock`] and returns at once.
pub(crate) struct AdvanceSleep(pub(crate) Arc<ManualClock>);
#[async_trait::async_trait]
impl Sleep for AdvanceSleep {
    async fn sleep(&self, d: Duration) {
        self.0.advance(d);
    }
}

struct NeverSleep;
#[async_trait::async_trait]
impl Sleep for NeverSleep {
    async fn sleep(&self, _d: Duration) {
        futures_util::future::pending::<()>().await;
    }
}

struct Seq(AtomicU64);
impl Rng for Seq {
    fn next_u64(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

struct Drop_;
impl Deferred for Drop_ {
    fn defer(&self, _work: BoxFuture<'static, ()>) {}
}

struct NoHttp;
#[async_trait::async_trait]
impl HttpClient for NoHttp {
    async fn send(
        &self,
        _r: http::Request<Body>,
        _o: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        Err(UpstreamError::Connect(None))
    }
}

/// An environment whose upstreams are unreachable and whose sleeps never end.
pub(crate) fn env() -> Env {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new(clock.clone(), 1024));
    Env {
        counters: store.clone(),
        store,
        clock,
        sleep: Arc::new(NeverSleep),
        rng: Arc::new(Seq(AtomicU64::new(0))),
        http: Arc::new(NoHttp),
        deferred: Arc::new(Drop_),
    }
}

/// Like [`env`], but sleeps advance its clock and return at once.
#[cfg(feature = "selftest")]
pub(crate) fn env_with_sleep() -> Env {
    timed().0
}

/// Like [`env`], but sleeps advance its clock and return at once; with
/// the clock, to move it from the test.
pub(crate) fn timed() -> (Env, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new(clock.clone(), 1024));
    let env = Env {
        sleep: Arc::new(AdvanceSleep(clock.clone())),
        counters: store.clone(),
        store,
        clock: clock.clone(),
        ..env()
    };
    (env, clock)
}
