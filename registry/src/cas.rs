//! Read-modify-write of one document by compare-and-swap, with bounded,
//! jittered retries when another writer changed it in between.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_core::discovery::DirectoryError;
use gateway_core::store::StorageError;
use gateway_core::{Clock, KvStore, Rng, Sleep};

use crate::layout::Document;

/// Attempts before giving up with [`DirectoryError::Contended`].
pub(crate) const MAX_ATTEMPTS: u32 = 8;

/// The store and the clock, sleep and randomness the retries use.
#[derive(Clone)]
pub(crate) struct Cas {
    pub(crate) store: Arc<dyn KvStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sleep: Arc<dyn Sleep>,
    pub(crate) rng: Arc<dyn Rng>,
}

impl Cas {
    /// The document under `key` (default when absent or unreadable).
    pub(crate) async fn read<D: Document>(&self, key: &str) -> Result<D, DirectoryError> {
        Ok(self
            .store
            .get(key)
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    /// Applies `change` to the document under `key` and writes it back if
    /// `change` says so, unless another writer changed it meanwhile; then
    /// reads again and retries. `change` gets the document and the time,
    /// and returns its result and whether to write. A document that cannot
    /// be parsed counts as empty (and is replaced).
    pub(crate) async fn update<D, T, F>(
        &self,
        key: &str,
        mut change: F,
    ) -> Result<T, DirectoryError>
    where
        D: Document,
        F: FnMut(&mut D, u64) -> Result<(T, bool), DirectoryError>,
    {
        for attempt in 0..MAX_ATTEMPTS {
            let raw = self.store.get(key).await?;
            let mut doc: D = raw
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            let now = self.clock.now_ms();
            let (out, write) = change(&mut doc, now)?;
            if !write {
                return Ok(out);
            }
            let bytes = serde_json::to_vec(&doc)
                .map_err(|_| StorageError::Refused("registry document".into()))?;
            let ttl = doc.key_ttl(now);
            if self
                .store
                .compare_and_swap(key, raw.as_deref(), Bytes::from(bytes), ttl)
                .await?
            {
                return Ok(out);
            }
            // Lost the race: wait 1..2^attempt ms (at most 64) and retry.
            let cap = 1u64 << attempt.min(6);
            let wait = 1 + self.rng.next_u64() % cap;
            self.sleep.sleep(Duration::from_millis(wait)).await;
        }
        Err(DirectoryError::Contended)
    }
}
