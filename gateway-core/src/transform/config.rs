//! Settings of the `transform` policy.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Settings of the `transform` policy. Header edits live in the `headers`
/// policy and path rewrites in `rewrite`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformSpec {
    /// Changes to the request before it goes upstream.
    #[serde(default)]
    pub request: TransformOpsSpec,
    /// Changes to the response before it goes to the client (`body` only).
    #[serde(default)]
    pub response: TransformOpsSpec,
}

/// The changes on one side.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformOpsSpec {
    /// Query parameter edits (requests only).
    #[serde(default)]
    pub query: QueryOpsSpec,
    /// JSON body edits; bodies that are not JSON pass untouched.
    #[serde(default)]
    pub body: BodyOpsSpec,
}

/// Query parameter edits, applied in the order remove, rename, set, add.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryOpsSpec {
    /// Parameters to drop.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Old name → new name.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Replace (or create) with this value; templates allowed (`{id}`, `{header.x-a}`).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Append this value; templates allowed.
    #[serde(default)]
    pub add: BTreeMap<String, String>,
}

/// JSON body edits by JSON pointer, applied in the order unwrap, remove,
/// rename, set, add, wrap.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodyOpsSpec {
    /// Replace the body by the value at this pointer (e.g. `/data`); a
    /// body without it is left as it is.
    pub unwrap: Option<String>,
    /// Pointers of values to drop (e.g. `/password`).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Move the value at one pointer to another (rename or move), e.g.
    /// `{ /userName: /user/name }`.
    #[serde(default, alias = "move")]
    pub rename: BTreeMap<String, String>,
    /// Put a value at a pointer, replacing what is there. Strings are
    /// templates (`"{id}"`, `"{header.x-tenant}"`); other values are
    /// inserted as written.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// Like `set`, but only where there is no value yet.
    #[serde(default)]
    pub add: BTreeMap<String, Value>,
    /// Wrap the body in an object under this key: `data` makes `{"data": <body>}`.
    pub wrap: Option<String>,
}
