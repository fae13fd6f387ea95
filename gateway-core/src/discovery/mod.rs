//! Service discovery as the gateway sees it: the instances registered for
//! a service name, and the trait through which the gateway asks for them.
//!
//! The registry itself (register, heartbeat, deregister, lookup, its HTTP
//! API and the client library) lives in the `gateway-registry` crate, which
//! implements [`ServiceDirectory`] over the core's store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::env::{MaybeSend, MaybeSync};
use crate::store::StorageError;

/// One registered instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Unique within its service, chosen by the instance (e.g. host:port).
    pub id: String,
    /// The service name it serves.
    pub service: String,
    /// Host name or IP address.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// `http` (default) or `https`.
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Relative share of traffic; 1 by default.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Zone (e.g. `eu-west-1a`), for zone-preferring balancing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Version of the service the instance runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

fn default_scheme() -> String {
    "http".to_owned()
}

fn default_weight() -> u32 {
    1
}

/// Where the gateway looks up the healthy instances of a service.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait ServiceDirectory: MaybeSend + MaybeSync {
    /// The instances of `service` whose registration has not expired.
    async fn healthy_instances(&self, service: &str) -> Result<Vec<Instance>, StorageError>;
}
