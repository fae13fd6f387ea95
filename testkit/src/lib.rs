//! Deterministic fakes of the core's environment traits: a manual clock,
//! a sequence "random" source, sleeps that follow the manual clock, a
//! scripted HTTP client, and an [`Env`] built from them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_core::env::BoxFuture;
use gateway_core::error::UpstreamError;
pub use gateway_core::store::ProbeStore;
use gateway_core::{Body, Clock, Deferred, Env, HttpClient, MemoryStore, Rng, SendOptions, Sleep};

/// A clock that moves only when told.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock at `ms` Unix milliseconds.
    pub fn new(ms: u64) -> Self {
        Self(AtomicU64::new(ms))
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Sleeps that complete at once and advance the manual clock by their length.
#[derive(Debug)]
pub struct InstantSleep(pub Arc<ManualClock>);

#[async_trait::async_trait]
impl Sleep for InstantSleep {
    async fn sleep(&self, d: Duration) {
        self.0.advance(d);
    }
}

/// "Randomness" that counts up from a seed.
#[derive(Debug, Default)]
pub struct SeqRng(AtomicU64);

impl SeqRng {
    /// Starts at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Rng for SeqRng {
    fn next_u64(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

/// Deferred work collected for the test to run when it likes.
#[derive(Default)]
pub struct CollectDeferred(Mutex<Vec<BoxFuture<'static, ()>>>);

impl CollectDeferred {
    /// Takes the work deferred so far.
    pub fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Deferred for CollectDeferred {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(work);
    }
}

/// A scripted upstream: answers with queued responses, records requests.
#[derive(Default)]
pub struct MockHttpClient {
    answers: Mutex<VecDeque<Result<http::Response<Body>, UpstreamError>>>,
    seen: Mutex<Vec<http::Request<()>>>,
}

impl MockHttpClient {
    /// Queues the next answer.
    pub fn push(&self, answer: Result<http::Response<Body>, UpstreamError>) {
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(answer);
    }

    /// Request heads received so far.
    pub fn requests(&self) -> Vec<http::Request<()>> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .map(|r| {
                let mut b = http::Request::builder().method(r.method()).uri(r.uri());
                for (k, v) in r.headers() {
                    b = b.header(k, v);
                }
                b.body(()).unwrap_or_default()
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl HttpClient for MockHttpClient {
    async fn send(
        &self,
        request: http::Request<Body>,
        _options: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let (parts, _) = request.into_parts();
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(http::Request::from_parts(parts, ()));
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .unwrap_or(Err(UpstreamError::Connect(None)))
    }
}

/// The fakes behind an [`Env`], kept for the test to steer.
pub struct TestEnv {
    /// The environment to hand to a gateway.
    pub env: Env,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// Its HTTP client.
    pub http: Arc<MockHttpClient>,
    /// Its deferred work.
    pub deferred: Arc<CollectDeferred>,
}

/// A deterministic environment with a memory store of `max_entries`.
pub fn test_env(max_entries: usize) -> TestEnv {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let http = Arc::new(MockHttpClient::default());
    let deferred = Arc::new(CollectDeferred::default());
    let store = Arc::new(MemoryStore::new(clock.clone(), max_entries));
    let env = Env {
        clock: clock.clone(),
        sleep: Arc::new(InstantSleep(clock.clone())),
        rng: Arc::new(SeqRng::new(1)),
        counters: store.clone(),
        store,
        http: http.clone(),
        deferred: deferred.clone(),
    };
    TestEnv {
        env,
        clock,
        http,
        deferred,
    }
}
