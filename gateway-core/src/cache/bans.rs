//! Purges by URL, path prefix or tag, as Varnish-style bans: rules with a
//! time, kept in the shared store (`Env.store`) for as long as an entry can
//! live, and checked at lookup against the entry's stored time, host, path,
//! query and tags. Each instance keeps a copy of the list for about a
//! second; the instance that takes a purge refreshes its copy at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::config::CacheSettings;
use super::entry::Entry;
use crate::env::Env;
use crate::store::StorageError;

/// Store key of the ban list.
const BANS_KEY: &str = "gwc1:bans";
/// How long an instance reuses its copy of the list.
const REFRESH_MS: u64 = 1_000;
/// Attempts to update the list against concurrent purges.
const CAS_ATTEMPTS: usize = 16;

/// What a ban matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Rule {
    /// One URL: this path and keyed query (every method, variant and consumer).
    Url {
        /// Path.
        path: String,
        /// Keyed, normalised query.
        query: String,
    },
    /// Paths starting with this.
    Prefix(String),
    /// Entries with this tag.
    Tag(String),
}

/// A purge: entries stored before `at_ms` that match are gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ban {
    /// When the purge was taken (Unix ms).
    pub(crate) at_ms: u64,
    /// When it can be forgotten: no entry stored before `at_ms` lives longer.
    pub(crate) expires_ms: u64,
    /// Only entries for this host, when given.
    pub(crate) host: Option<String>,
    /// What it matches.
    pub(crate) rule: Rule,
}

impl Ban {
    /// Whether it removes `entry`.
    pub(crate) fn matches(&self, entry: &Entry) -> bool {
        entry.stored_ms < self.at_ms
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && match &self.rule {
                Rule::Url { path, query } => *path == entry.path && *query == entry.query,
                Rule::Prefix(p) => entry.path.starts_with(p.as_str()),
                Rule::Tag(t) => entry.tags.iter().any(|x| x == t),
            }
    }
}

fn decode(bytes: Option<&Bytes>) -> Vec<Ban> {
    bytes
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default()
}

/// Drops expired bans and folds the oldest into one ban of every path when
/// more than `max` remain (purging more than asked, never less).
fn trim(mut bans: Vec<Ban>, now_ms: u64, max: usize) -> Vec<Ban> {
    bans.retain(|b| b.expires_ms > now_ms);
    if bans.len() > max {
        bans.sort_by_key(|b| b.at_ms);
        let cut = bans.len() - max + 1;
        let folded: Vec<Ban> = bans.drain(..cut).collect();
        let at_ms = folded.iter().map(|b| b.at_ms).max().unwrap_or(now_ms);
        let expires_ms = folded.iter().map(|b| b.expires_ms).max().unwrap_or(now_ms);
        bans.insert(
            0,
            Ban {
                at_ms,
                expires_ms,
                host: None,
                rule: Rule::Prefix("/".into()),
            },
        );
    }
    bans
}

/// This instance's copy of the ban list.
#[derive(Default)]
pub(crate) struct BanCache {
    copy: Mutex<Option<(u64, Arc<Vec<Ban>>)>>,
}

impl BanCache {
    fn set(&self, now_ms: u64, bans: Arc<Vec<Ban>>) {
        *self.copy.lock().unwrap_or_else(|p| p.into_inner()) = Some((now_ms, bans));
    }

    /// The current list: the copy when under a second old, else read again.
    /// When the store cannot be read the old copy serves.
    pub(crate) async fn current(&self, env: &Env) -> Arc<Vec<Ban>> {
        let now = env.clock.now_ms();
        let old = self.copy.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((at, bans)) = &old
            && now.saturating_sub(*at) < REFRESH_MS
        {
            return bans.clone();
        }
        match env.store.get(BANS_KEY).await {
            Ok(b) => {
                let bans = Arc::new(decode(b.as_ref()));
                self.set(now, bans.clone());
                bans
            }
            Err(_) => old.map(|(_, b)| b).unwrap_or_default(),
        }
    }

    /// Adds `rule` at the current time and refreshes this instance's copy.
    pub(crate) async fn add(
        &self,
        env: &Env,
        settings: &CacheSettings,
        host: Option<String>,
        rule: Rule,
    ) -> Result<Ban, StorageError> {
        let keep = settings.max_lifetime;
        let ttl_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        for _ in 0..CAS_ATTEMPTS {
            let now = env.clock.now_ms();
            let ban = Ban {
                at_ms: now,
                expires_ms: now.saturating_add(ttl_ms),
                host: host.clone(),
                rule: rule.clone(),
            };
            let old = env.store.get(BANS_KEY).await?;
            let mut bans = trim(decode(old.as_ref()), now, settings.max_bans);
            bans.push(ban.clone());
            let bytes = Bytes::from(serde_json::to_vec(&bans).unwrap_or_default());
            let ttl = Some(keep + Duration::from_secs(1));
            if env
                .store
                .compare_and_swap(BANS_KEY, old.as_deref(), bytes, ttl)
                .await?
            {
                self.set(now, Arc::new(bans));
                return Ok(ban);
            }
        }
        Err(StorageError::Unavailable(
            "the ban list kept changing".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(at_ms: u64, rule: Rule) -> Ban {
        Ban {
            at_ms,
            expires_ms: at_ms + 1000,
            host: None,
            rule,
        }
    }

    #[test]
    fn folding_keeps_the_newest_and_bans_everything_older() {
        let bans: Vec<Ban> = (0..5)
            .map(|i| ban(100 + i, Rule::Tag(format!("t{i}"))))
            .collect();
        let out = trim(bans, 100, 3);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].rule, Rule::Prefix("/".into()));
        assert_eq!(out[0].at_ms, 102);
        assert_eq!(out[1].rule, Rule::Tag("t3".into()));
        assert_eq!(out[2].rule, Rule::Tag("t4".into()));
    }

    #[test]
    fn expired_bans_are_dropped() {
        let out = trim(
            vec![
                ban(0, Rule::Tag("a".into())),
                ban(5000, Rule::Tag("b".into())),
            ],
            2000,
            10,
        );
        assert_eq!(out, vec![ban(5000, Rule::Tag("b".into()))]);
    }
}
