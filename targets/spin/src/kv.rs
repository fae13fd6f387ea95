//! Spin key-value as the core's [`KvStore`].
//!
//! Spin's key-value interface offers `get`, `set` and `delete` on opaque
//! bytes: no expiry, no atomic increment, no compare-and-swap. [`EnvelopeStore`]
//! builds the core's contract on any such [`RawKv`]:
//!
//! - expiry is stored with the value (a 9-byte header: tag and the Unix
//!   millisecond deadline, 0 for none) and enforced on read; an expired
//!   entry is deleted when it is next seen;
//! - `incr` and `compare_and_swap` are **read-modify-write**: correct within
//!   one instance, but two instances racing on a key can lose an update or
//!   both win a swap. Policies that need exact counters across instances
//!   must not rely on this store (the target declares that capability as
//!   missing).
//!
//! With the `spin-kv` feature the component wraps Spin's `default` store
//! (`SpinKv`, wasm only); the envelope logic is platform-free and tested
//! natively.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_core::env::{MaybeSend, MaybeSync};
use gateway_core::store::StorageError;
use gateway_core::{Clock, KvStore};

/// A plain byte store without expiry or atomics (Spin key-value).
pub trait RawKv: MaybeSend + MaybeSync {
    /// The bytes under `key`.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Stores `value` under `key`.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Removes `key` (absent is fine).
    fn delete(&self, key: &str) -> Result<(), StorageError>;
}

/// First byte of an enveloped value.
const TAG: u8 = 0x01;
/// Tag plus the big-endian deadline.
const HEADER: usize = 9;

/// The core's [`KvStore`] on a [`RawKv`], with expiry in an envelope and
/// non-atomic (read-modify-write) counters and compare-and-swap.
pub struct EnvelopeStore<K> {
    raw: K,
    clock: Arc<dyn Clock>,
}

impl<K> std::fmt::Debug for EnvelopeStore<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeStore").finish_non_exhaustive()
    }
}

/// A live entry: its value and deadline (Unix ms, 0 for none).
struct Entry {
    value: Vec<u8>,
    expires_ms: u64,
}

impl<K: RawKv> EnvelopeStore<K> {
    /// Wraps `raw`, reading time from `clock`.
    pub fn new(raw: K, clock: Arc<dyn Clock>) -> Self {
        Self { raw, clock }
    }

    fn deadline(&self, ttl: Option<Duration>) -> u64 {
        ttl.map_or(0, |ttl| {
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
            self.clock.now_ms().saturating_add(ms.max(1))
        })
    }

    fn encode(value: &[u8], expires_ms: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + value.len());
        out.push(TAG);
        out.extend_from_slice(&expires_ms.to_be_bytes());
        out.extend_from_slice(value);
        out
    }

    /// The live entry under `key`; an expired one is deleted.
    fn read(&self, key: &str) -> Result<Option<Entry>, StorageError> {
        let Some(stored) = self.raw.get(key)? else {
            return Ok(None);
        };
        let entry = match stored.split_first_chunk::<HEADER>() {
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
        };
        if entry.expires_ms != 0 && entry.expires_ms <= self.clock.now_ms() {
            self.raw.delete(key)?;
            return Ok(None);
        }
        Ok(Some(entry))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<K: RawKv> KvStore for EnvelopeStore<K> {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        Ok(self.read(key)?.map(|e| Bytes::from(e.value)))
    }

    async fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        self.raw.set(key, &Self::encode(&value, self.deadline(ttl)))
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let present = self.read(key)?.is_some();
        if present {
            self.raw.delete(key)?;
        }
        Ok(present)
    }

    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StorageError> {
        let (current, expires_ms) = match self.read(key)? {
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
        self.raw
            .set(key, &Self::encode(next.to_string().as_bytes(), expires_ms))?;
        Ok(next)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError> {
        let current = self.read(key)?;
        let matches = match (&current, expected) {
            (None, None) => true,
            (Some(e), Some(want)) => e.value == want,
            _ => false,
        };
        if matches {
            self.raw.set(key, &Self::encode(&new, self.deadline(ttl)))?;
        }
        Ok(matches)
    }
}

/// Spin's key-value store as a [`RawKv`].
#[cfg(all(target_arch = "wasm32", feature = "spin-kv"))]
pub struct SpinKv {
    store: Result<spin_sdk::key_value::Store, String>,
}

#[cfg(all(target_arch = "wasm32", feature = "spin-kv"))]
impl std::fmt::Debug for SpinKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpinKv").finish_non_exhaustive()
    }
}

#[cfg(all(target_arch = "wasm32", feature = "spin-kv"))]
impl SpinKv {
    /// Opens the component's `default` store. A failure (the manifest grants
    /// no `key_value_stores = ["default"]`) is kept and reported by every
    /// operation as [`StorageError::Unavailable`].
    pub fn open_default() -> Self {
        Self {
            store: spin_sdk::key_value::Store::open_default()
                .map_err(|e| format!("opening the default Spin key-value store: {e}")),
        }
    }

    fn store(&self) -> Result<&spin_sdk::key_value::Store, StorageError> {
        self.store
            .as_ref()
            .map_err(|e| StorageError::Unavailable(e.clone()))
    }
}

#[cfg(all(target_arch = "wasm32", feature = "spin-kv"))]
fn unavailable(e: spin_sdk::key_value::Error) -> StorageError {
    StorageError::Unavailable(format!("Spin key-value: {e}"))
}

#[cfg(all(target_arch = "wasm32", feature = "spin-kv"))]
impl RawKv for SpinKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.store()?.get(key).map_err(unavailable)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.store()?.set(key, value).map_err(unavailable)
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.store()?.delete(key).map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Default)]
    struct MapKv(Mutex<HashMap<String, Vec<u8>>>);

    impl RawKv for Arc<MapKv> {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            Ok(self.0.lock().expect("lock").get(key).cloned())
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
            self.0
                .lock()
                .expect("lock")
                .insert(key.to_owned(), value.to_vec());
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<(), StorageError> {
            self.0.lock().expect("lock").remove(key);
            Ok(())
        }
    }

    struct TestClock(AtomicU64);

    impl Clock for TestClock {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn store() -> (EnvelopeStore<Arc<MapKv>>, Arc<MapKv>, Arc<TestClock>) {
        let raw = Arc::new(MapKv::default());
        let clock = Arc::new(TestClock(AtomicU64::new(1_000)));
        (EnvelopeStore::new(raw.clone(), clock.clone()), raw, clock)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        f.now_or_never().expect("the store never waits")
    }

    #[test]
    fn put_get_delete() {
        let (s, _, _) = store();
        assert_eq!(run(s.get("k")).expect("get"), None);
        run(s.put("k", Bytes::from_static(b"v"), None)).expect("put");
        assert_eq!(run(s.get("k")).expect("get").as_deref(), Some(&b"v"[..]));
        assert!(run(s.delete("k")).expect("delete"));
        assert!(!run(s.delete("k")).expect("delete"));
    }

    #[test]
    fn expiry_is_enforced_and_cleans_up() {
        let (s, raw, clock) = store();
        run(s.put("k", Bytes::from_static(b"v"), Some(Duration::from_secs(1)))).expect("put");
        clock.0.store(1_999, Ordering::SeqCst);
        assert!(run(s.get("k")).expect("get").is_some());
        clock.0.store(2_000, Ordering::SeqCst);
        assert_eq!(run(s.get("k")).expect("get"), None);
        assert!(raw.0.lock().expect("lock").is_empty());
        assert!(!run(s.delete("k")).expect("delete"));
    }

    #[test]
    fn incr_creates_keeps_ttl_and_checks_type() {
        let (s, _, clock) = store();
        let ttl = Some(Duration::from_secs(10));
        assert_eq!(run(s.incr("c", 2, ttl)).expect("incr"), 2);
        clock.0.store(6_000, Ordering::SeqCst);
        // A later increment keeps the first deadline (11_000), not 16_000.
        assert_eq!(run(s.incr("c", -5, ttl)).expect("incr"), -3);
        clock.0.store(11_000, Ordering::SeqCst);
        assert_eq!(run(s.incr("c", 1, None)).expect("incr"), 1);
        run(s.put("text", Bytes::from_static(b"abc"), None)).expect("put");
        assert!(matches!(
            run(s.incr("text", 1, None)),
            Err(StorageError::WrongType { .. })
        ));
        run(s.put("max", Bytes::from(i64::MAX.to_string()), None)).expect("put");
        assert!(matches!(
            run(s.incr("max", 1, None)),
            Err(StorageError::Refused(_))
        ));
    }

    #[test]
    fn compare_and_swap_semantics() {
        let (s, _, clock) = store();
        let v = |b: &'static [u8]| Bytes::from_static(b);
        assert!(
            run(s.compare_and_swap("k", None, v(b"a"), Some(Duration::from_secs(1)))).expect("cas")
        );
        assert!(!run(s.compare_and_swap("k", None, v(b"b"), None)).expect("cas"));
        assert!(!run(s.compare_and_swap("k", Some(b"x"), v(b"b"), None)).expect("cas"));
        assert!(run(s.compare_and_swap("k", Some(b"a"), v(b"b"), None)).expect("cas"));
        assert_eq!(run(s.get("k")).expect("get").as_deref(), Some(&b"b"[..]));
        clock.0.store(5_000, Ordering::SeqCst);
        // No ttl on the swap: the value no longer expires.
        assert!(run(s.get("k")).expect("get").is_some());
        run(s.put("e", v(b"1"), Some(Duration::from_millis(1)))).expect("put");
        clock.0.store(6_000, Ordering::SeqCst);
        // Expired counts as absent.
        assert!(run(s.compare_and_swap("e", None, v(b"2"), None)).expect("cas"));
    }

    #[test]
    fn foreign_values_read_as_plain() {
        let (s, raw, _) = store();
        raw.set("plain", b"hello").expect("set");
        assert_eq!(
            run(s.get("plain")).expect("get").as_deref(),
            Some(&b"hello"[..])
        );
    }
}
