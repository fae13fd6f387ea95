//! The embedded, bounded, TTL-aware in-memory store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use super::{KvStore, StorageError};
use crate::env::Clock;
use crate::ratelimit::{LimitDecision, LimitState, LimitStep};

struct Entry {
    value: Bytes,
    /// Unix ms after which the entry is gone.
    expires_at: Option<u64>,
}

/// An in-process store, bounded by entry count, that honours TTLs.
///
/// When full it first drops expired entries, then those that expire soonest.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    max_entries: usize,
    map: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store holding at most `max_entries` keys.
    pub fn new(clock: Arc<dyn Clock>, max_entries: usize) -> Self {
        Self {
            clock,
            max_entries: max_entries.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Number of live and not yet purged entries.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expiry(&self, now: u64, ttl: Option<Duration>) -> Option<u64> {
        ttl.map(|t| now.saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)))
    }

    fn live<'m>(map: &'m HashMap<String, Entry>, key: &str, now: u64) -> Option<&'m Entry> {
        map.get(key)
            .filter(|e| e.expires_at.is_none_or(|t| t > now))
    }

    /// Makes room for one more key.
    fn make_room(&self, map: &mut HashMap<String, Entry>, now: u64) {
        if map.len() < self.max_entries {
            return;
        }
        map.retain(|_, e| e.expires_at.is_none_or(|t| t > now));
        if map.len() < self.max_entries {
            return;
        }
        // Evict an eighth of the entries, soonest-expiring first.
        let mut by_expiry: Vec<(u64, String)> = map
            .iter()
            .map(|(k, e)| (e.expires_at.unwrap_or(u64::MAX), k.clone()))
            .collect();
        by_expiry.sort_unstable();
        let n = (self.max_entries / 8).max(1);
        for (_, k) in by_expiry.into_iter().take(n) {
            map.remove(&k);
        }
    }

    fn insert(&self, map: &mut HashMap<String, Entry>, key: &str, entry: Entry, now: u64) {
        if !map.contains_key(key) {
            self.make_room(map, now);
        }
        map.insert(key.to_owned(), entry);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl KvStore for MemoryStore {
    async fn rate_limit(
        &self,
        key: &str,
        step: &LimitStep,
        now_ms: u64,
    ) -> Result<LimitDecision, StorageError> {
        let now = self.clock.now_ms();
        let mut map = self.lock();
        let state = Self::live(&map, key, now).and_then(|e| LimitState::decode(&e.value));
        let (allowed, new) = crate::ratelimit::apply(step, state, now_ms);
        if allowed {
            let ttl = crate::ratelimit::ttl(step, &new, now_ms);
            let entry = Entry {
                value: Bytes::from(new.encode()),
                expires_at: self.expiry(now, Some(ttl)),
            };
            self.insert(&mut map, key, entry, now);
        }
        Ok(crate::ratelimit::decide(step, &new, allowed, now_ms))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let now = self.clock.now_ms();
        Ok(Self::live(&self.lock(), key, now).map(|e| e.value.clone()))
    }

    async fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        let now = self.clock.now_ms();
        let entry = Entry {
            value,
            expires_at: self.expiry(now, ttl),
        };
        self.insert(&mut self.lock(), key, entry, now);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let now = self.clock.now_ms();
        let removed = self.lock().remove(key);
        Ok(removed.is_some_and(|e| e.expires_at.is_none_or(|t| t > now)))
    }

    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StorageError> {
        let now = self.clock.now_ms();
        let mut map = self.lock();
        let (current, expires_at) = match Self::live(&map, key, now) {
            Some(e) => {
                let n = std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| StorageError::WrongType {
                        key: key.to_owned(),
                    })?;
                (n, e.expires_at)
            }
            None => (0, self.expiry(now, ttl)),
        };
        let next = current.saturating_add(delta);
        let entry = Entry {
            value: Bytes::from(next.to_string()),
            expires_at,
        };
        self.insert(&mut map, key, entry, now);
        Ok(next)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError> {
        let now = self.clock.now_ms();
        let mut map = self.lock();
        let current = Self::live(&map, key, now).map(|e| &e.value[..]);
        if current != expected {
            return Ok(false);
        }
        let entry = Entry {
            value: new,
            expires_at: self.expiry(now, ttl),
        };
        self.insert(&mut map, key, entry, now);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_env::ManualClock;
    use futures_executor::block_on;

    fn store(max: usize) -> (Arc<ManualClock>, MemoryStore) {
        let clock = Arc::new(ManualClock::new(1_000));
        (clock.clone(), MemoryStore::new(clock, max))
    }

    #[test]
    fn meets_the_store_contract() {
        let (clock, s) = store(64);
        let sleep = crate::test_env::AdvanceSleep(clock);
        let report = block_on(crate::store::contract::check(&s, &sleep, "t:"));
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert!(report.passed >= 8);
    }

    #[test]
    fn bounded_evicts_soonest_expiring_first() {
        let (_, s) = store(8);
        for i in 0..8 {
            let ttl = Duration::from_secs(100 + i);
            block_on(s.put(&format!("k{i}"), Bytes::from("v"), Some(ttl))).expect("put");
        }
        block_on(s.put("new", Bytes::from("v"), None)).expect("put");
        assert!(s.len() <= 8);
        assert_eq!(
            block_on(s.get("k0")).expect("get"),
            None,
            "soonest to expire went first"
        );
        assert!(block_on(s.get("k7")).expect("get").is_some());
        assert!(block_on(s.get("new")).expect("get").is_some());
    }
}
