//! The JSON documents of the registry's HTTP API, shared by the gateway
//! (which serves them) and the client library (which sends and reads them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Instance, Registration, ServiceSummary};

/// Body of `PUT {prefix}/services/{service}/instances/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Host name or IP address the gateway sends requests to.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// `http` (default) or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Relative share of traffic (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Zone, e.g. `eu-west-1a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Version of the service the instance runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Time to live in milliseconds, renewed by each heartbeat; default the
    /// registry's `default_ttl`, at most its `max_ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

impl RegisterRequest {
    /// The instance this request registers as `id` of `service`.
    pub fn into_instance(self, service: &str, id: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            service: service.to_owned(),
            address: self.address,
            port: self.port,
            scheme: self.scheme.unwrap_or_else(|| "http".to_owned()),
            weight: self.weight.unwrap_or(1),
            zone: self.zone,
            version: self.version,
            metadata: self.metadata,
        }
    }
}

/// Optional body of `POST {prefix}/services/{service}/instances/{id}/heartbeat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// A new TTL in milliseconds; default the one registered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

/// Answer of `GET {prefix}/services/{service}/instances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancesResponse {
    /// The service asked for.
    pub service: String,
    /// Its live registrations (empty when none, or unknown service).
    pub instances: Vec<Registration>,
}

/// Answer of `GET {prefix}/services`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicesResponse {
    /// Services with at least one live instance, by name.
    pub services: Vec<ServiceSummary>,
}
