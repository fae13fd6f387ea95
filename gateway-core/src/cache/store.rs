//! Where entries live: this instance's memory (a least-recently-used map
//! bounded in bytes) or the gateway's shared store (`Env.store`: Redis,
//! Workers KV, Spin key-value), which expires entries itself.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use lru::LruCache;

use super::config::{CacheSettings, CacheStoreSpec};
use super::entry::Record;
use crate::env::Env;
use crate::store::StorageError;

struct Slot {
    record: Record,
    expires_ms: u64,
    size: u64,
}

/// The in-memory store: least recently used entries go first once the
/// total size passes the bound.
#[derive(Default)]
pub(crate) struct MemoryCache {
    inner: Mutex<Lru>,
}

struct Lru {
    map: LruCache<String, Slot>,
    bytes: u64,
}

impl Default for Lru {
    fn default() -> Self {
        Self {
            map: LruCache::unbounded(),
            bytes: 0,
        }
    }
}

impl MemoryCache {
    fn lock(&self) -> MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The record under `key`, unless it expired.
    pub(crate) fn get(&self, key: &str, now_ms: u64) -> Option<Record> {
        let mut lru = self.lock();
        match lru.map.get(key) {
            Some(slot) if slot.expires_ms > now_ms => Some(slot.record.clone()),
            Some(_) => {
                if let Some(old) = lru.map.pop(key) {
                    lru.bytes -= old.size;
                }
                None
            }
            None => None,
        }
    }

    /// Stores `record`, evicting the least recently used beyond `max_bytes`.
    pub(crate) fn put(
        &self,
        key: &str,
        record: Record,
        ttl: Duration,
        now_ms: u64,
        max_bytes: u64,
    ) {
        let size = record.size() + key.len() as u64;
        if size > max_bytes {
            return;
        }
        let expires_ms = now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let mut lru = self.lock();
        if let Some(old) = lru.map.put(
            key.to_owned(),
            Slot {
                record,
                expires_ms,
                size,
            },
        ) {
            lru.bytes -= old.size;
        }
        lru.bytes += size;
        while lru.bytes > max_bytes {
            match lru.map.pop_lru() {
                Some((_, old)) => lru.bytes -= old.size,
                None => break,
            }
        }
    }

    /// Removes `key`.
    pub(crate) fn delete(&self, key: &str) {
        let mut lru = self.lock();
        if let Some(old) = lru.map.pop(key) {
            lru.bytes -= old.size;
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        self.lock().bytes
    }
}

/// The store a config uses.
pub(crate) struct Store<'a> {
    pub(crate) memory: &'a MemoryCache,
    pub(crate) env: &'a Env,
    pub(crate) settings: &'a CacheSettings,
}

impl Store<'_> {
    /// The record under `key`. A shared record that cannot be read counts
    /// as absent.
    pub(crate) async fn get(&self, key: &str) -> Result<Option<Record>, StorageError> {
        match self.settings.store {
            CacheStoreSpec::Memory => Ok(self.memory.get(key, self.env.clock.now_ms())),
            CacheStoreSpec::Shared => Ok(self
                .env
                .store
                .get(key)
                .await?
                .and_then(|b| Record::decode(&b))),
        }
    }

    /// Stores `record` for `ttl`.
    pub(crate) async fn put(
        &self,
        key: &str,
        record: Record,
        ttl: Duration,
    ) -> Result<(), StorageError> {
        if ttl.is_zero() {
            return Ok(());
        }
        match self.settings.store {
            CacheStoreSpec::Memory => {
                self.memory.put(
                    key,
                    record,
                    ttl,
                    self.env.clock.now_ms(),
                    self.settings.max_bytes,
                );
                Ok(())
            }
            CacheStoreSpec::Shared => match record.encode() {
                Some(bytes) => self.env.store.put(key, bytes, Some(ttl)).await,
                None => Ok(()),
            },
        }
    }

    /// Removes `key`.
    pub(crate) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.settings.store {
            CacheStoreSpec::Memory => {
                self.memory.delete(key);
                Ok(())
            }
            CacheStoreSpec::Shared => self.env.store.delete(key).await.map(drop),
        }
    }
}
