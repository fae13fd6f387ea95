//! How the registry lies in a key-value store that cannot list its keys
//! (Workers KV and Spin key-value through the core's envelope, Redis, the
//! memory store all look alike):
//!
//! - `registry:v1:service:{service}`: one JSON document per service,
//!   `{"instances": {"<id>": <registration>}}`, each registration with its
//!   `expires_at_ms`. Writers update it by compare-and-swap on the bytes
//!   they read, retrying when another writer got there first. Lapsed
//!   registrations are filtered out by the clock on every read and dropped
//!   on every write; the key itself expires a while after its last
//!   registration would have (so an abandoned service disappears).
//! - `registry:v1:services`: the index of service names, `{"services":
//!   [...]}`, for listing. A name is added when an instance of it
//!   registers; names whose documents hold no live registration are
//!   filtered out when listing and pruned when the index is full.
//!
//! Reading the instances of one service is one `get`; a heartbeat is one
//! `get` and one compare-and-swap.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gateway_core::discovery::Registration;
use serde::{Deserialize, Serialize};

/// The key of the index of service names.
pub(crate) const INDEX_KEY: &str = "registry:v1:services";

/// How long a service document outlives its last registration's expiry.
const DOCUMENT_GRACE: Duration = Duration::from_secs(60);

/// The key of a service's document.
pub(crate) fn service_key(service: &str) -> String {
    format!("registry:v1:service:{service}")
}

/// A document kept under one key and updated by compare-and-swap.
pub(crate) trait Document: Default + Serialize + for<'de> Deserialize<'de> {
    /// The TTL to store the document with at `now_ms`.
    fn key_ttl(&self, now_ms: u64) -> Option<Duration>;
}

/// The registrations of one service, by instance id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ServiceDoc {
    pub(crate) instances: BTreeMap<String, Registration>,
}

impl ServiceDoc {
    /// The registrations that have not lapsed at `now_ms`.
    pub(crate) fn live(&self, now_ms: u64) -> impl Iterator<Item = &Registration> {
        self.instances
            .values()
            .filter(move |r| r.expires_at_ms > now_ms)
    }

    /// Drops lapsed registrations; tells whether any was dropped.
    pub(crate) fn prune(&mut self, now_ms: u64) -> bool {
        let before = self.instances.len();
        self.instances.retain(|_, r| r.expires_at_ms > now_ms);
        self.instances.len() != before
    }
}

impl Document for ServiceDoc {
    fn key_ttl(&self, now_ms: u64) -> Option<Duration> {
        let last = self
            .instances
            .values()
            .map(|r| r.expires_at_ms)
            .max()
            .unwrap_or(now_ms);
        Some(Duration::from_millis(last.saturating_sub(now_ms)) + DOCUMENT_GRACE)
    }
}

/// The names of services that have registered.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Index {
    pub(crate) services: BTreeSet<String>,
}

impl Document for Index {
    fn key_ttl(&self, _now_ms: u64) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::discovery::Instance;

    fn reg(id: &str, expires_at_ms: u64) -> Registration {
        Registration {
            instance: Instance {
                id: id.into(),
                service: "s".into(),
                address: "10.0.0.1".into(),
                port: 80,
                scheme: "http".into(),
                weight: 1,
                zone: None,
                version: None,
                metadata: Default::default(),
            },
            ttl_ms: 1000,
            expires_at_ms,
        }
    }

    #[test]
    fn live_prune_and_key_ttl() {
        let mut doc = ServiceDoc::default();
        doc.instances.insert("a".into(), reg("a", 1_000));
        doc.instances.insert("b".into(), reg("b", 5_000));
        assert_eq!(doc.live(1_000).count(), 1, "expiry instant is lapsed");
        assert_eq!(
            doc.key_ttl(1_000),
            Some(Duration::from_millis(4_000) + DOCUMENT_GRACE)
        );
        assert!(doc.prune(1_000));
        assert!(!doc.prune(1_000));
        assert_eq!(doc.instances.keys().collect::<Vec<_>>(), ["b"]);
        let text = serde_json::to_string(&doc).expect("json");
        assert!(
            text.starts_with(r#"{"instances":{"b":{"id":"b","service":"s""#),
            "{text}"
        );
        assert_eq!(ServiceDoc::default().key_ttl(7), Some(DOCUMENT_GRACE));
        assert_eq!(Index::default().key_ttl(7), None);
    }
}
