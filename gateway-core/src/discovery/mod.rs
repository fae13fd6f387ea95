//! Service discovery as the gateway sees it: the instances registered for
//! a service name, the traits through which the gateway reads and writes
//! them, the registry's HTTP API, and resolving a discovered upstream to
//! endpoints at request time.
//!
//! The registry itself (the store layout, bounds, and the client library)
//! lives in the `gateway-registry` crate, which implements
//! [`ServiceRegistry`] over the core's store; targets hand it to the
//! gateway with [`Gateway::with_directory`](crate::Gateway::with_directory).
//! DNS names (self-hosted target only) come through a [`NameResolver`].

pub(crate) mod api;
pub(crate) mod config;
mod error;
mod names;
pub(crate) mod resolve;
pub mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::env::{MaybeSend, MaybeSync};

pub use config::{DnsSpec, RegistrySpec, SchemeSpec};
pub use error::DirectoryError;
pub use names::{check_instance_id, check_names, check_service_name};

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

/// A live registration: the instance and when it expires unless renewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The registered instance.
    #[serde(flatten)]
    pub instance: Instance,
    /// Time to live that each heartbeat renews, in milliseconds.
    pub ttl_ms: u64,
    /// Unix milliseconds at which the registration lapses without a heartbeat.
    pub expires_at_ms: u64,
}

/// A service with at least one live instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSummary {
    /// The service name.
    pub name: String,
    /// How many of its instances are live.
    pub instances: usize,
}

/// Where the gateway looks up the healthy instances of a service
/// (server-side discovery).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait ServiceDirectory: MaybeSend + MaybeSync {
    /// The instances of `service` whose registration has not expired; empty
    /// for a service nobody registered.
    async fn healthy_instances(&self, service: &str) -> Result<Vec<Instance>, DirectoryError>;
}

/// A directory the gateway can also write to: what the registry's HTTP API
/// needs. Implementations validate what they store and bound its size.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait ServiceRegistry: ServiceDirectory {
    /// Registers (or replaces) `instance` for `ttl`.
    async fn register(
        &self,
        instance: Instance,
        ttl: Duration,
    ) -> Result<Registration, DirectoryError>;

    /// Renews a live registration for `ttl`, or for the TTL it was
    /// registered with. [`DirectoryError::NotRegistered`] if it has lapsed
    /// or never existed: the instance must register again.
    async fn heartbeat(
        &self,
        service: &str,
        id: &str,
        ttl: Option<Duration>,
    ) -> Result<Registration, DirectoryError>;

    /// Removes a registration; tells whether it was live.
    async fn deregister(&self, service: &str, id: &str) -> Result<bool, DirectoryError>;

    /// The live registrations of `service` (empty for an unknown service).
    async fn registrations(&self, service: &str) -> Result<Vec<Registration>, DirectoryError>;

    /// The services that have at least one live instance, by name.
    async fn services(&self) -> Result<Vec<ServiceSummary>, DirectoryError>;
}

/// A DNS question for a discovered upstream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsQuery {
    /// The name to resolve (for SRV, e.g. `_http._tcp.users.internal`).
    pub name: String,
    /// The port of every address (A/AAAA); unused for SRV, whose records
    /// carry their ports.
    pub port: u16,
    /// Ask for SRV records (targets, ports and weights) instead of A/AAAA.
    pub srv: bool,
}

/// Resolves DNS names to instances, honouring the records' TTLs (the
/// self-hosted target implements it with a caching resolver).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait NameResolver: MaybeSend + MaybeSync {
    /// The instances `query` resolves to; empty when the name has no
    /// records. Lookup failures are [`DirectoryError::Lookup`].
    async fn resolve(&self, query: &DnsQuery) -> Result<Vec<Instance>, DirectoryError>;
}
