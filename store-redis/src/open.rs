//! Opening the store a config names, for the targets that run on tokio.

use std::sync::Arc;

use gateway_core::config::StoreConfig;
use gateway_core::store::StorageError;
use gateway_core::{Clock, KvStore, MemoryStore};

use crate::RedisStore;

/// Opens the configured state store: the bounded in-memory store (per
/// instance, `memory_entries` keys at most) or Redis (keys under `gw`).
/// `store: platform` is refused: only edge targets have a platform store,
/// and capability checks stop such configs before they get here.
pub async fn open_store(
    store: &StoreConfig,
    clock: Arc<dyn Clock>,
    memory_entries: usize,
) -> Result<Arc<dyn KvStore>, StorageError> {
    Ok(match store {
        StoreConfig::Memory => Arc::new(MemoryStore::new(clock, memory_entries)),
        StoreConfig::Redis { url } => Arc::new(RedisStore::connect(url, "gw").await?),
        StoreConfig::Platform => {
            return Err(StorageError::Unavailable(
                "this target has no platform store".into(),
            ));
        }
    })
}
