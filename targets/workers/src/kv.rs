//! State in Workers KV (binding `GATEWAY_KV`).
//!
//! Workers KV is an eventually consistent byte store with expiry in whole
//! seconds of at least 60 and no atomic operations. On top of it:
//!
//! - every value is stored in a small envelope (a tag byte and the
//!   big-endian Unix-millisecond deadline, 0 for none), so expiry is exact
//!   to the millisecond on read; KV's own `expirationTtl` (rounded up, at
//!   least [`MIN_KV_TTL_SECS`]) only cleans up afterwards;
//! - `incr` and `compare_and_swap` are **read-modify-write, not atomic**:
//!   two requests racing on a key (in one isolate or in several) can lose an
//!   update or both win a swap, and KV may serve a stale value for up to a
//!   minute in other locations. The target declares `atomic_counters:
//!   false`; exact counters need Durable Objects, which come later.
//!
//! The envelope logic is platform-free and tested natively; `WorkersKv`
//! (wasm only) talks to the binding.

use std::time::Duration;

/// First byte of an enveloped value.
const TAG: u8 = 0x01;
/// Tag plus the big-endian deadline.
const HEADER: usize = 9;

/// The shortest `expirationTtl` Workers KV accepts.
pub const MIN_KV_TTL_SECS: u64 = 60;

/// The binding name of the KV namespace in `wrangler.toml`.
pub const KV_BINDING: &str = "GATEWAY_KV";

/// A live or expired entry decoded from its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value.
    pub value: Vec<u8>,
    /// Unix milliseconds after which the entry is gone (0: never).
    pub expires_ms: u64,
}

impl Entry {
    /// Whether the entry is expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_ms != 0 && self.expires_ms <= now_ms
    }
}

/// The deadline for `ttl` from `now_ms` (0 for no ttl).
pub fn deadline(now_ms: u64, ttl: Option<Duration>) -> u64 {
    ttl.map_or(0, |ttl| {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        now_ms.saturating_add(ms.max(1))
    })
}

/// The KV `expirationTtl` (seconds) for an entry expiring at `expires_ms`:
/// rounded up, at least [`MIN_KV_TTL_SECS`]; `None` for no expiry.
pub fn kv_ttl_secs(now_ms: u64, expires_ms: u64) -> Option<u64> {
    (expires_ms != 0).then(|| {
        expires_ms
            .saturating_sub(now_ms)
            .div_ceil(1000)
            .max(MIN_KV_TTL_SECS)
    })
}

/// The stored bytes for `value` expiring at `expires_ms`.
pub fn encode(value: &[u8], expires_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + value.len());
    out.push(TAG);
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Decodes stored bytes; a value written by something else reads as a
/// value without expiry.
pub fn decode(stored: Vec<u8>) -> Entry {
    match stored.split_first_chunk::<HEADER>() {
        Some((head, value)) if head[0] == TAG => {
            let mut deadline = [0u8; 8];
            deadline.copy_from_slice(&head[1..]);
            Entry {
                value: value.to_vec(),
                expires_ms: u64::from_be_bytes(deadline),
            }
        }
        _ => Entry {
            value: stored,
            expires_ms: 0,
        },
    }
}

#[cfg(target_arch = "wasm32")]
pub use platform::WorkersKv;

#[cfg(target_arch = "wasm32")]
mod platform {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use gateway_core::store::StorageError;
    use gateway_core::{Clock, KvStore};

    use super::{Entry, deadline, decode, encode, kv_ttl_secs};

    /// The core's [`KvStore`] on the Workers KV binding `GATEWAY_KV`.
    /// Counters and compare-and-swap are read-modify-write (see the module
    /// documentation).
    pub struct WorkersKv {
        kv: Result<worker::KvStore, String>,
        clock: Arc<dyn Clock>,
    }

    impl std::fmt::Debug for WorkersKv {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("WorkersKv").finish_non_exhaustive()
        }
    }

    fn unavailable(e: impl std::fmt::Display) -> StorageError {
        StorageError::Unavailable(format!("Workers KV: {e}"))
    }

    impl WorkersKv {
        /// Wraps the binding `kv`; a missing binding is kept and reported by
        /// every operation as [`StorageError::Unavailable`].
        pub fn new(kv: Result<worker::KvStore, String>, clock: Arc<dyn Clock>) -> Self {
            Self { kv, clock }
        }

        fn kv(&self) -> Result<&worker::KvStore, StorageError> {
            self.kv
                .as_ref()
                .map_err(|e| StorageError::Unavailable(e.clone()))
        }

        /// The live entry under `key`; an expired one is deleted.
        async fn read(&self, key: &str) -> Result<Option<Entry>, StorageError> {
            let Some(stored) = self.kv()?.get(key).bytes().await.map_err(unavailable)? else {
                return Ok(None);
            };
            let entry = decode(stored);
            if entry.is_expired(self.clock.now_ms()) {
                self.kv()?.delete(key).await.map_err(unavailable)?;
                return Ok(None);
            }
            Ok(Some(entry))
        }

        async fn write(
            &self,
            key: &str,
            value: &[u8],
            expires_ms: u64,
        ) -> Result<(), StorageError> {
            let mut put = self
                .kv()?
                .put_bytes(key, &encode(value, expires_ms))
                .map_err(unavailable)?;
            if let Some(secs) = kv_ttl_secs(self.clock.now_ms(), expires_ms) {
                put = put.expiration_ttl(secs);
            }
            put.execute().await.map_err(unavailable)
        }
    }

    #[async_trait::async_trait(?Send)]
    impl KvStore for WorkersKv {
        async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
            Ok(self.read(key).await?.map(|e| Bytes::from(e.value)))
        }

        async fn put(
            &self,
            key: &str,
            value: Bytes,
            ttl: Option<Duration>,
        ) -> Result<(), StorageError> {
            self.write(key, &value, deadline(self.clock.now_ms(), ttl))
                .await
        }

        async fn delete(&self, key: &str) -> Result<bool, StorageError> {
            let present = self.read(key).await?.is_some();
            if present {
                self.kv()?.delete(key).await.map_err(unavailable)?;
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
                None => (0, deadline(self.clock.now_ms(), ttl)),
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
                self.write(key, &new, deadline(self.clock.now_ms(), ttl))
                    .await?;
            }
            Ok(matches)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_foreign_values_read_plain() {
        let e = decode(encode(b"hello", 12_345));
        assert_eq!(e.value, b"hello");
        assert_eq!(e.expires_ms, 12_345);
        let plain = decode(b"hi".to_vec());
        assert_eq!(plain.value, b"hi");
        assert_eq!(plain.expires_ms, 0);
        assert_eq!(decode(encode(b"", 0)).value, b"");
    }

    #[test]
    fn expiry_is_exact_to_the_millisecond() {
        let e = decode(encode(b"v", deadline(1_000, Some(Duration::from_secs(1)))));
        assert!(!e.is_expired(1_999));
        assert!(e.is_expired(2_000));
        assert!(!decode(encode(b"v", deadline(1_000, None))).is_expired(u64::MAX));
        // A zero ttl still expires (1 ms later), it never means "forever".
        assert_eq!(deadline(1_000, Some(Duration::ZERO)), 1_001);
    }

    #[test]
    fn kv_ttl_is_rounded_up_to_at_least_a_minute() {
        assert_eq!(kv_ttl_secs(1_000, 0), None);
        assert_eq!(kv_ttl_secs(1_000, 2_000), Some(MIN_KV_TTL_SECS));
        assert_eq!(kv_ttl_secs(0, 90_001), Some(91));
        assert_eq!(kv_ttl_secs(5_000, 1_000), Some(MIN_KV_TTL_SECS));
    }
}
