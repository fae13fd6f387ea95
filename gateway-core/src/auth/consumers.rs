//! Consumers: who may call the API, with their groups, scopes, hashed API
//! keys and hashed basic-auth passwords.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use super::api_key::{ApiKeys, parse_key_hash};
use super::basic::{BasicCredentials, parse_password_hash};
use crate::config::ConfigProblem;

/// One consumer of the API (top-level `consumers:` map, keyed by id).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    /// Groups the consumer belongs to; routes may require one of them.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Scopes granted to the consumer when it authenticates with an API
    /// key or a password (JWT scopes come from the token).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// SHA-256 of each API key, 64 hex digits (`local hash-key`). Never the key itself.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Basic-auth credentials.
    pub basic: Option<BasicSpec>,
}

/// Basic-auth credentials of a consumer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicSpec {
    /// The user name.
    pub username: String,
    /// Argon2 PHC string of the password (`local hash-password`), e.g. `$argon2id$v=19$m=19456,t=2,p=1$...`.
    pub password_hash: String,
}

/// A validated consumer.
#[derive(Debug, Clone)]
pub(crate) struct Consumer {
    pub(crate) id: Arc<str>,
    pub(crate) groups: Vec<String>,
    pub(crate) scopes: Vec<String>,
}

/// Every consumer, with lookups by API key and basic-auth user name.
#[derive(Debug, Default)]
pub(crate) struct Consumers {
    list: Vec<Consumer>,
    by_id: HashMap<String, usize>,
    pub(crate) api_keys: ApiKeys,
    pub(crate) basic: BasicCredentials,
}

impl Consumers {
    /// Validates the `consumers:` section.
    pub(crate) fn build(
        specs: &BTreeMap<String, ConsumerSpec>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let mut out = Self::default();
        for (id, spec) in specs {
            let at = format!("consumers.{id}");
            if id.is_empty() || id.chars().any(|c| c.is_control()) {
                problems.push(ConfigProblem::new(
                    at.clone(),
                    "a consumer id is non-empty text",
                ));
            }
            let index = out.list.len();
            for (i, k) in spec.api_keys.iter().enumerate() {
                match parse_key_hash(k) {
                    Ok(hash) => {
                        if !out.api_keys.insert(hash, index) {
                            problems.push(ConfigProblem::new(
                                format!("{at}.api_keys[{i}]"),
                                "this key hash is already given to another consumer",
                            ));
                        }
                    }
                    Err(why) => {
                        problems.push(ConfigProblem::new(format!("{at}.api_keys[{i}]"), why))
                    }
                }
            }
            if let Some(b) = &spec.basic {
                match parse_password_hash(&b.password_hash) {
                    Ok(hash) => {
                        if !out.basic.insert(&b.username, hash, index) {
                            problems.push(ConfigProblem::new(
                                format!("{at}.basic.username"),
                                format!("user name `{}` is already used", b.username),
                            ));
                        }
                    }
                    Err(why) => {
                        problems.push(ConfigProblem::new(format!("{at}.basic.password_hash"), why))
                    }
                }
                if b.username.is_empty() || b.username.contains(':') {
                    problems.push(ConfigProblem::new(
                        format!("{at}.basic.username"),
                        "a user name is non-empty and has no `:`",
                    ));
                }
            }
            out.by_id.insert(id.clone(), index);
            out.list.push(Consumer {
                id: id.as_str().into(),
                groups: spec.groups.clone(),
                scopes: spec.scopes.clone(),
            });
        }
        out
    }

    /// The consumer at `index` (as returned by the credential lookups).
    pub(crate) fn get(&self, index: usize) -> Option<&Consumer> {
        self.list.get(index)
    }

    /// The consumer with this id.
    pub(crate) fn by_id(&self, id: &str) -> Option<&Consumer> {
        self.by_id.get(id).and_then(|&i| self.list.get(i))
    }

    /// Whether any consumer has an API key.
    pub(crate) fn has_api_keys(&self) -> bool {
        !self.api_keys.is_empty()
    }

    /// Whether any consumer has basic-auth credentials.
    pub(crate) fn has_basic(&self) -> bool {
        !self.basic.is_empty()
    }
}
