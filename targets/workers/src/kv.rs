//! Workers KV (binding `GATEWAY_KV`) as the core's store.
//!
//! Workers KV is an eventually consistent byte store with expiry in whole
//! seconds of at least 60 and no atomic operations. [`WorkersKv`] is a
//! [`RawKv`](gateway_core::store::RawKv) on the binding; the core's
//! [`EnvelopeStore`](gateway_core::store::EnvelopeStore) keeps expiry exact
//! to the millisecond on top, while KV's own `expirationTtl` (rounded up,
//! at least [`MIN_KV_TTL_SECS`]) only cleans up. Counters and
//! compare-and-swap on it are read-modify-write and KV may serve a stale
//! value for up to a minute elsewhere: exact counters live in the Durable
//! Object instead (see `durable`).

use std::time::Duration;

/// The shortest `expirationTtl` Workers KV accepts.
pub const MIN_KV_TTL_SECS: u64 = 60;

/// The binding name of the KV namespace in `wrangler.toml`.
pub const KV_BINDING: &str = "GATEWAY_KV";

/// The KV `expirationTtl` (seconds) for a value living `expires_in`:
/// rounded up, at least [`MIN_KV_TTL_SECS`]; `None` for no expiry.
pub fn kv_ttl_secs(expires_in: Option<Duration>) -> Option<u64> {
    expires_in.map(|d| {
        u64::try_from(d.as_millis())
            .unwrap_or(u64::MAX)
            .div_ceil(1000)
            .max(MIN_KV_TTL_SECS)
    })
}

#[cfg(target_arch = "wasm32")]
pub use platform::WorkersKv;

#[cfg(target_arch = "wasm32")]
mod platform {
    use std::time::Duration;

    use gateway_core::store::{RawKv, StorageError};

    use super::kv_ttl_secs;

    /// The Workers KV binding as a raw byte store.
    pub struct WorkersKv {
        kv: Result<worker::KvStore, String>,
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
        pub fn new(kv: Result<worker::KvStore, String>) -> Self {
            Self { kv }
        }

        fn kv(&self) -> Result<&worker::KvStore, StorageError> {
            self.kv
                .as_ref()
                .map_err(|e| StorageError::Unavailable(e.clone()))
        }
    }

    #[async_trait::async_trait(?Send)]
    impl RawKv for WorkersKv {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            self.kv()?.get(key).bytes().await.map_err(unavailable)
        }

        async fn set(
            &self,
            key: &str,
            value: Vec<u8>,
            expires_in: Option<Duration>,
        ) -> Result<(), StorageError> {
            let mut put = self.kv()?.put_bytes(key, &value).map_err(unavailable)?;
            if let Some(secs) = kv_ttl_secs(expires_in) {
                put = put.expiration_ttl(secs);
            }
            put.execute().await.map_err(unavailable)
        }

        async fn delete(&self, key: &str) -> Result<(), StorageError> {
            self.kv()?.delete(key).await.map_err(unavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_ttl_is_rounded_up_to_at_least_a_minute() {
        assert_eq!(kv_ttl_secs(None), None);
        assert_eq!(
            kv_ttl_secs(Some(Duration::from_secs(1))),
            Some(MIN_KV_TTL_SECS)
        );
        assert_eq!(kv_ttl_secs(Some(Duration::from_millis(90_001))), Some(91));
        assert_eq!(kv_ttl_secs(Some(Duration::ZERO)), Some(MIN_KV_TTL_SECS));
    }
}
