//! Spin key-value as the core's store.
//!
//! Spin's key-value interface offers `get`, `set` and `delete` on opaque
//! bytes: no expiry, no atomic increment, no compare-and-swap. [`SpinKv`]
//! is a [`RawKv`](gateway_core::store::RawKv) on the component's `default`
//! store, and the core's [`EnvelopeStore`](gateway_core::store::EnvelopeStore)
//! adds exact expiry and read-modify-write counters on top (so the target
//! declares no `atomic_counters`). Used for `store: platform`, with the
//! `spin-kv` feature; the manifest must grant `key_value_stores =
//! ["default"]`.

#[cfg(all(target_arch = "wasm32", feature = "spin-kv"))]
pub use platform::SpinKv;

#[cfg(all(target_arch = "wasm32", feature = "spin-kv"))]
mod platform {
    use std::time::Duration;

    use gateway_core::store::{RawKv, StorageError};

    /// Spin's `default` key-value store.
    pub struct SpinKv {
        store: Result<spin_sdk::key_value::Store, String>,
    }

    impl std::fmt::Debug for SpinKv {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("SpinKv").finish_non_exhaustive()
        }
    }

    impl SpinKv {
        /// Opens the component's `default` store. A failure (the manifest
        /// grants no `key_value_stores = ["default"]`) is kept and reported
        /// by every operation as [`StorageError::Unavailable`].
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

    fn unavailable(e: spin_sdk::key_value::Error) -> StorageError {
        StorageError::Unavailable(format!("Spin key-value: {e}"))
    }

    #[async_trait::async_trait(?Send)]
    impl RawKv for SpinKv {
        async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            self.store()?.get(key).map_err(unavailable)
        }

        async fn set(
            &self,
            key: &str,
            value: Vec<u8>,
            _expires_in: Option<Duration>,
        ) -> Result<(), StorageError> {
            // Spin key-value has no expiry: the envelope decides, and an
            // expired entry is deleted when next read.
            self.store()?.set(key, &value).map_err(unavailable)
        }

        async fn delete(&self, key: &str) -> Result<(), StorageError> {
            self.store()?.delete(key).map_err(unavailable)
        }
    }
}
