//! Authentication and authorization: JWT (static keys and JWKS), API keys
//! and basic auth for the consumers defined in config, group and scope
//! requirements per route and method, and identity headers for upstreams.
//!
//! The `auth` policy is built in [`policy`]; the top-level `consumers:` and
//! `jwt_issuers:` sections are validated into an [`AuthConfig`] shared by
//! every route.

mod api_key;
mod basic;
mod bearer;
mod config;
mod consumers;
mod jwks;
mod jwt;
mod policy;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use api_key::hash_api_key;
pub(crate) use api_key::{parse_key_hash, sha256};
pub use basic::hash_password;
pub use bearer::BearerToken;
pub use config::{
    ApiKeyAuthSpec, AuthSpec, BasicAuthSpec, ForwardSpec, JwtAuthSpec, MethodRequireSpec,
    RequireSpec,
};
pub use consumers::{BasicSpec, ConsumerSpec};
pub use jwks::JwksSpec;
pub use jwt::{AlgorithmSpec, IssuerSpec, KeySpec, OneOrMany, Secret};

use crate::config::ConfigProblem;
use consumers::Consumers;
use jwt::Issuer;

pub(crate) use policy::FACTORY;

/// The validated `consumers:` and `jwt_issuers:` sections, shared by every
/// `auth` policy of a config.
#[derive(Debug, Default)]
pub struct AuthConfig {
    consumers: Consumers,
    issuers: BTreeMap<String, Arc<Issuer>>,
}

impl AuthConfig {
    /// Validates the sections, adding every problem found.
    pub fn build(
        consumers: &BTreeMap<String, ConsumerSpec>,
        issuers: &BTreeMap<String, IssuerSpec>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        Self {
            consumers: Consumers::build(consumers, problems),
            issuers: issuers
                .iter()
                .filter_map(|(name, spec)| {
                    Issuer::build(name, spec, problems).map(|i| (name.clone(), Arc::new(i)))
                })
                .collect(),
        }
    }
}

/// Claim `name` as text: strings as they are, other JSON values in their
/// JSON form; `None` when absent or `null`. Templates, identity headers,
/// rate-limit keys and hash affinity all read claims this way.
pub(crate) fn claim_text<'c>(
    claims: &'c serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<Cow<'c, str>> {
    match claims.get(name)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// Which API key authenticated a request: the first 16 hex digits of its
/// SHA-256, the start of the digest configured in `consumers.*.api_keys`
/// (never the key). An `auth` policy puts it in
/// [`Cx::extensions`](crate::policy::Cx::extensions) next to the
/// [`Identity`], for rate limits keyed by `api_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyId(pub String);

/// Who made a request, as decided by an `auth` policy. Later policies find
/// it in [`Cx::extensions`](crate::policy::Cx::extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The consumer id (for a JWT: the consumer claim, `sub` by default).
    pub consumer: Option<String>,
    /// The mechanism that authenticated the request: `jwt`, `api_key` or `basic`.
    pub mechanism: &'static str,
    /// Groups of the consumer.
    pub groups: Vec<String>,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// The name of the JWT issuer, for `jwt`.
    pub issuer: Option<String>,
    /// The verified JWT claims (empty for API keys and basic auth), for
    /// `{claim.NAME}` templates.
    pub claims: serde_json::Map<String, serde_json::Value>,
}
