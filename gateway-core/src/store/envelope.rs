//! The core's [`KvStore`] contract on a plain byte store.
//!
//! Platform stores such as Spin key-value and Workers KV offer `get`, `set`
//! and `delete` on opaque bytes, with coarse or no expiry and no atomic
//! operations. [`EnvelopeStore`] builds the full contract on any such
//! [`RawKv`]:
//!
//! - every value is stored in a small envelope (a tag byte and the
//!   big-endian Unix-millisecond deadline, 0 for none), so expiry is exact
//!   to the millisecond on read; an expired entry is deleted when it is
//!   next seen, and the raw store's own expiry (if any) only cleans up;
//! - `incr` and `compare_and_swap` are **read-modify-write**: correct
//!   within one instance, but two instances racing on a key can lose an
//!   update or both win a swap. Targets built on this store declare
//!   `atomic_counters: false`, so a config that needs exact counters is
//!   refused for them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{KvStore, StorageError};
use crate::env::{Clock, MaybeSend, MaybeSync};

/// A plain byte store without exact expiry or atomics.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait RawKv: MaybeSend + MaybeSync {
    /// The bytes under `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` under `key`. `expires_in` is how long the value
    /// lives, as a hint for the store's own clean-up (the envelope decides
    /// expiry); `None` means forever.
    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_in: Option<Duration>,
    ) -> Result<(), StorageError>;
    /// Removes `key` (absent is fine).
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
}

/// First byte of an enveloped value.
const TAG: u8 = 0x01;
/// Tag plus the big-endian deadline.
const HEADER: usize = 9;

/// A live entry: its value and deadline (Unix ms, 0 for none).
struct Entry {
    value: Vec<u8>,
    expires_ms: u64,
}

fn encode(value: &[u8], expires_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + value.len());
    out.push(TAG);
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn decode(stored: Vec<u8>) -> Entry {
    match stored.split_first_chunk::<HEADER>() {
        Some((head, value)) if head[0] == TAG => {
            let mut deadline = [0u8; 8];
            deadline.copy_from_slice(&head[1..]);
            Entry {
                value: value.to_vec(),
                expires_ms: u64::from_be_bytes(deadline),
            }
        }
        // Written by something else: a value without expiry.
        _ => Entry {
            value: stored,
            expires_ms: 0,
        },
    }
}

/// The core's [`KvStore`] on a [`RawKv`] (see the module documentation).
pub struct EnvelopeStore<K> {
    raw: K,
    clock: Arc<dyn Clock>,
}

impl<K> std::fmt::Debug for EnvelopeStore<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeStore").finish_non_exhaustive()
    }
}

impl<K: RawKv> EnvelopeStore<K> {
    /// Wraps `raw`, reading time from `clock`.
    pub fn new(raw: K, clock: Arc<dyn Clock>) -> Self {
        Self { raw, clock }
    }

    /// The deadline for `ttl` from now (0 for none). A zero ttl still
    /// expires (1 ms later); it never means "forever".
    fn deadline(&self, ttl: Option<Duration>) -> u64 {
        ttl.map_or(0, |ttl| {
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
            self.clock.now_ms().saturating_add(ms.max(1))
        })
    }

    /// The live entry under `key`; an expired one is deleted.
    async fn read(&self, key: &str) -> Result<Option<Entry>, StorageError> {
        let Some(stored) = self.raw.get(key).await? else {
            return Ok(None);
        };
        let entry = decode(stored);
        if entry.expires_ms != 0 && entry.expires_ms <= self.clock.now_ms() {
            self.raw.delete(key).await?;
            return Ok(None);
        }
        Ok(Some(entry))
    }

    async fn write(&self, key: &str, value: &[u8], expires_ms: u64) -> Result<(), StorageError> {
        let expires_in = (expires_ms != 0)
            .then(|| Duration::from_millis(expires_ms.saturating_sub(self.clock.now_ms()).max(1)));
        self.raw
            .set(key, encode(value, expires_ms), expires_in)
            .await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<K: RawKv> KvStore for EnvelopeStore<K> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        Ok(self.read(key).await?.map(|e| Bytes::from(e.value)))
    }

    async fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        self.write(key, &value, self.deadline(ttl)).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let present = self.read(key).await?.is_some();
        if present {
            self.raw.delete(key).await?;
        }
        Ok(present)
    }

    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StorageError> {
        let (current, expires_ms) = match self.read(key).await? {
            Some(e) => {
                let n = std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| StorageError::WrongType {
                        key: key.to_owned(),
                    })?;
                (n, e.expires_ms)
            }
            None => (0, self.deadline(ttl)),
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| StorageError::Refused(format!("counter `{key}` would overflow")))?;
        self.write(key, next.to_string().as_bytes(), expires_ms)
            .await?;
        Ok(next)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError> {
        let current = self.read(key).await?;
        let matches = match (&current, expected) {
            (None, None) => true,
            (Some(e), Some(want)) => e.value == want,
            _ => false,
        };
        if matches {
            self.write(key, &new, self.deadline(ttl)).await?;
        }
        Ok(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contract;
    use crate::test_env::ManualClock;
    use futures_executor::block_on;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// A raw store that records the clean-up hints it was given.
    #[derive(Default)]
    struct MapKv {
        map: Mutex<HashMap<String, Vec<u8>>>,
        hints: Mutex<Vec<Option<Duration>>>,
    }

    #[async_trait::async_trait]
    impl RawKv for Arc<MapKv> {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            Ok(self.map.lock().expect("lock").get(key).cloned())
        }
        async fn set(
            &self,
            key: &str,
            value: Vec<u8>,
            expires_in: Option<Duration>,
        ) -> Result<(), StorageError> {
            self.hints.lock().expect("lock").push(expires_in);
            self.map.lock().expect("lock").insert(key.to_owned(), value);
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StorageError> {
            self.map.lock().expect("lock").remove(key);
            Ok(())
        }
    }

    fn store() -> (EnvelopeStore<Arc<MapKv>>, Arc<MapKv>, Arc<ManualClock>) {
        let raw = Arc::new(MapKv::default());
        let clock = Arc::new(ManualClock::new(1_000));
        (EnvelopeStore::new(raw.clone(), clock.clone()), raw, clock)
    }

    #[test]
    fn meets_the_store_contract() {
        let (s, _, clock) = store();
        let sleep = crate::test_env::AdvanceSleep(clock.clone());
        let report = block_on(contract::check(&s, &sleep, "t:"));
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert!(report.passed >= 8);
    }

    #[test]
    fn expired_entries_are_cleaned_up_and_hints_passed() {
        let (s, raw, clock) = store();
        block_on(s.put("k", Bytes::from_static(b"v"), Some(Duration::from_secs(1)))).expect("put");
        assert_eq!(
            raw.hints.lock().expect("lock").as_slice(),
            [Some(Duration::from_secs(1))]
        );
        clock.advance(Duration::from_millis(999));
        assert!(block_on(s.get("k")).expect("get").is_some());
        clock.advance(Duration::from_millis(1));
        assert_eq!(block_on(s.get("k")).expect("get"), None);
        assert!(raw.map.lock().expect("lock").is_empty());
    }

    #[test]
    fn overflow_is_refused_and_foreign_values_read_as_plain() {
        let (s, raw, _) = store();
        block_on(s.put("max", Bytes::from(i64::MAX.to_string()), None)).expect("put");
        assert!(matches!(
            block_on(s.incr("max", 1, None)),
            Err(StorageError::Refused(_))
        ));
        block_on(raw.set("plain", b"hello".to_vec(), None)).expect("set");
        assert_eq!(
            block_on(s.get("plain")).expect("get").as_deref(),
            Some(&b"hello"[..])
        );
    }
}
