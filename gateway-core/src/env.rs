//! The capabilities through which the core reaches the world.
//!
//! Every side effect of the gateway (time, waiting, randomness, shared state,
//! outbound HTTP and work that outlives a request) goes through one of these
//! traits. Each target implements them with its platform's primitives; the
//! core never names a runtime.

use std::sync::Arc;
use std::time::Duration;

use crate::body::Body;
use crate::error::UpstreamError;
use crate::store::KvStore;

mod queued;
mod splitmix;

pub use queued::QueuedDeferred;
pub use splitmix::SplitMix;

/// `Send` on native targets, nothing on wasm, where platform futures are not `Send`.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets, nothing on wasm, where platform futures are not `Send`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on wasm.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets, nothing on wasm.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// A boxed future, `Send` where the platform allows it.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = futures_util::future::BoxFuture<'a, T>;
/// A boxed future, `Send` where the platform allows it.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = futures_util::future::LocalBoxFuture<'a, T>;

/// Wall-clock time as Unix milliseconds.
pub trait Clock: MaybeSend + MaybeSync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// Waiting without blocking the runtime.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Sleep: MaybeSend + MaybeSync {
    /// Completes after `duration` has passed.
    async fn sleep(&self, duration: Duration);
}

/// A source of randomness (jitter, load-balancer choices, request ids).
pub trait Rng: MaybeSend + MaybeSync {
    /// The next random 64-bit value.
    fn next_u64(&self) -> u64;
}

/// Work that may finish after the response has been sent.
pub trait Deferred: MaybeSend + MaybeSync {
    /// Runs `work` in the background. Targets that cannot outlive the
    /// response (Lambda) await it before returning.
    fn defer(&self, work: BoxFuture<'static, ()>);
}

/// Per-call settings for an outbound request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOptions {
    /// Longest time to establish a connection.
    pub connect_timeout: Duration,
    /// PEM file of trusted certificate authorities for `https`, replacing
    /// the public roots. Targets without a file system ignore it.
    pub ca_file: Option<Arc<str>>,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

/// Outbound HTTP.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait HttpClient: MaybeSend + MaybeSync {
    /// Sends `request` (absolute URI) and returns the response head with a
    /// streaming body.
    async fn send(
        &self,
        request: http::Request<Body>,
        options: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError>;
}

/// Everything the core needs from its platform.
#[derive(Clone)]
pub struct Env {
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// Non-blocking waits.
    pub sleep: Arc<dyn Sleep>,
    /// Randomness.
    pub rng: Arc<dyn Rng>,
    /// Shared state: cached documents, keys, registrations, coarse
    /// counters. May be eventually consistent (Workers KV).
    pub store: Arc<dyn KvStore>,
    /// State that must be exact across instances: counters and
    /// compare-and-swap for exact rate limits and breaker state. The same
    /// store as [`Env::store`] except where the platform splits them
    /// (Workers: KV for `store`, a Durable Object for `counters`).
    pub counters: Arc<dyn KvStore>,
    /// Outbound HTTP.
    pub http: Arc<dyn HttpClient>,
    /// Background work.
    pub deferred: Arc<dyn Deferred>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").finish_non_exhaustive()
    }
}
