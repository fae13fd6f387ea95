//! Builds policies from config: kind name → constructor, with settings
//! checked at load time.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::{Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

use super::Policy;
use crate::auth::AuthConfig;
use crate::config::ConfigProblem;
use crate::config::spec::PolicySpec;

/// What a policy constructor knows about the route it is built for.
#[derive(Debug, Clone)]
pub struct BuildCx {
    /// Field path of the policy's settings, for error messages.
    pub path: String,
    /// Names of the route's path parameters.
    pub params: Vec<String>,
    /// The config's consumers and JWT issuers, for `auth` policies.
    pub auth: Arc<AuthConfig>,
    /// The top-level `rate_limits`, for `rate_limit` policies that `use` them.
    pub(crate) rate_limits: Arc<crate::ratelimit::SharedLimits>,
}

impl BuildCx {
    /// Deserialises settings, reporting problems with their full field path.
    pub fn settings<T: DeserializeOwned>(
        &self,
        value: &serde_json::Value,
    ) -> Result<T, Vec<ConfigProblem>> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." {
                self.path.clone()
            } else {
                format!("{}.{}", self.path, inner)
            };
            vec![ConfigProblem::new(path, e.into_inner().to_string())]
        })
    }

    /// A problem at a field below the policy's settings.
    pub fn problem(&self, field: &str, message: impl Into<String>) -> ConfigProblem {
        let path = if field.is_empty() {
            self.path.clone()
        } else {
            format!("{}.{}", self.path, field)
        };
        ConfigProblem::new(path, message)
    }
}

/// Constructs a policy from its settings.
pub type BuildFn = fn(&serde_json::Value, &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>>;

/// One policy kind.
#[derive(Clone, Copy)]
pub struct PolicyFactory {
    /// The key used in config (`headers`, `rewrite`, ...).
    pub kind: &'static str,
    /// Validates settings and builds the policy.
    pub build: BuildFn,
    /// JSON Schema of the settings, for the generated config schema.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

impl std::fmt::Debug for PolicyFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyFactory")
            .field("kind", &self.kind)
            .finish()
    }
}

/// The set of policy kinds a gateway understands.
#[derive(Debug, Clone, Default)]
pub struct PolicyRegistry {
    kinds: BTreeMap<&'static str, PolicyFactory>,
}

impl PolicyRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The policies that ship with the core.
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        r.register(super::headers::FACTORY);
        r.register(super::rewrite::FACTORY);
        r.register(super::deny::FACTORY);
        r.register(super::request_size::FACTORY);
        r.register(super::waf::FACTORY);
        r.register(crate::auth::FACTORY);
        r.register(super::validate::FACTORY);
        r.register(super::transform::FACTORY);
        r.register(crate::ratelimit::FACTORY);
        r
    }

    /// Adds (or replaces) a kind.
    pub fn register(&mut self, factory: PolicyFactory) {
        self.kinds.insert(factory.kind, factory);
    }

    /// The registered kinds, sorted by name.
    pub fn kinds(&self) -> impl Iterator<Item = &PolicyFactory> {
        self.kinds.values()
    }

    /// Builds one policy entry of a route.
    pub fn build(
        &self,
        spec: &PolicySpec,
        cx: &BuildCx,
    ) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
        let mut entries = spec.iter();
        let (kind, settings) = match (entries.next(), entries.next()) {
            (Some(one), None) => one,
            _ => {
                return Err(vec![ConfigProblem::new(
                    cx.path.clone(),
                    format!(
                        "a policy entry must have exactly one key naming its kind ({})",
                        self.names()
                    ),
                )]);
            }
        };
        let Some(factory) = self.kinds.get(kind.as_str()) else {
            return Err(vec![ConfigProblem::new(
                cx.path.clone(),
                format!("unknown policy `{kind}`; known policies: {}", self.names()),
            )]);
        };
        let cx = BuildCx {
            path: format!("{}.{}", cx.path, kind),
            params: cx.params.clone(),
            auth: cx.auth.clone(),
            rate_limits: cx.rate_limits.clone(),
        };
        (factory.build)(settings, &cx)
    }

    fn names(&self) -> String {
        self.kinds.keys().copied().collect::<Vec<_>>().join(", ")
    }
}
