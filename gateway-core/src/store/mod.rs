//! Shared state: the [`KvStore`] trait and the embedded in-memory store.

pub mod contract;
mod envelope;
mod error;
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
}
