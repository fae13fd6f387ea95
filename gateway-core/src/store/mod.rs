//! Shared state: the [`KvStore`] trait and the embedded in-memory store.

pub mod contract;
mod envelope;
mod error;
mod limit_contract;
mod memory;
#[cfg(any(test, feature = "test-util"))]
mod probe;

pub use envelope::{EnvelopeStore, RawKv};
pub use error::StorageError;
pub use memory::MemoryStore;
#[cfg(any(test, feature = "test-util"))]
pub use probe::ProbeStore;

use std::time::Duration;

use bytes::Bytes;

use crate::env::{MaybeSend, MaybeSync};
use crate::ratelimit::{LimitDecision, LimitState, LimitStep};

/// Compare-and-swap attempts of the default [`KvStore::rate_limit`] before
/// it gives up under contention.
const RATE_LIMIT_ATTEMPTS: usize = 16;

/// A key-value store with expiry, atomic counters and compare-and-swap.
///
/// Implemented by the in-memory store, Redis, Workers KV / Durable Objects
/// and Spin KV. Keys are UTF-8; values are opaque bytes.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait KvStore: MaybeSend + MaybeSync {
    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError>;

    /// Stores `value` under `key`, expiring after `ttl` when given.
    async fn put(&self, key: &str, value: Bytes, ttl: Option<Duration>)
    -> Result<(), StorageError>;

    /// Removes `key`; tells whether it was present.
    async fn delete(&self, key: &str) -> Result<bool, StorageError>;

    /// Adds `delta` to the integer under `key` (missing counts as 0) and
    /// returns the new value. `ttl` applies when the counter is created and
    /// is kept on later increments.
    async fn incr(&self, key: &str, delta: i64, ttl: Option<Duration>)
    -> Result<i64, StorageError>;

    /// Writes `new` only if the current value equals `expected` (`None`:
    /// only if absent). Tells whether the write happened.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError>;

    /// Takes one rate-limit decision for `key` at `now_ms` (the gateway's
    /// clock, so every store agrees on windows) and stores the new state.
    ///
    /// The default reads the state and writes it back with
    /// [`compare_and_swap`](Self::compare_and_swap), retrying a bounded
    /// number of times: exact where compare-and-swap is exact, read-modify-
    /// write where it is not (Workers KV, Spin key-value). Stores that can
    /// decide in one atomic step override it (memory under its lock, Redis
    /// in a server-side script, the Durable Object inside the object).
    async fn rate_limit(
        &self,
        key: &str,
        step: &LimitStep,
        now_ms: u64,
    ) -> Result<LimitDecision, StorageError> {
        for _ in 0..RATE_LIMIT_ATTEMPTS {
            let old = self.get(key).await?;
            let state = old.as_deref().and_then(LimitState::decode);
            let (allowed, new) = crate::ratelimit::apply(step, state, now_ms);
            if allowed {
                let ttl = crate::ratelimit::ttl(step, &new, now_ms);
                let value = Bytes::from(new.encode());
                if !self
                    .compare_and_swap(key, old.as_deref(), value, Some(ttl))
                    .await?
                {
                    continue;
                }
            }
            return Ok(crate::ratelimit::decide(step, &new, allowed, now_ms));
        }
        Err(StorageError::Refused(
            "rate-limit state kept changing under concurrent updates".into(),
        ))
    }
}
