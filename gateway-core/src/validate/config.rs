//! Settings of the `validate` policy.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Default deepest JSON nesting accepted.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Highest `max_depth` a config may set.
pub const MAX_MAX_DEPTH: usize = 128;

/// What to do when a response does not match its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// Replace it with a 502 problem.
    Enforce,
    /// Pass it through and record the failures (a response extension).
    Report,
}

/// Settings of the `validate` policy: either JSON Schemas (`body`, `query`,
/// `headers`) or an OpenAPI 3.0/3.1 document (`openapi`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateSpec {
    /// JSON Schema (draft 2020-12) of the request body.
    pub body: Option<Value>,
    /// File holding the body schema (JSON or YAML), relative to the config
    /// file; read by the self-hosted target's loader only.
    pub body_file: Option<String>,
    /// Whether a body must be sent when `body` is given. Default true.
    pub body_required: Option<bool>,
    /// Media types accepted for the body (default `application/json`);
    /// others are 415.
    pub content_types: Option<Vec<String>>,
    /// JSON Schema of the query as an object (values typed by each
    /// property's `type`).
    pub query: Option<Value>,
    /// JSON Schema of the headers it names, as an object with lowercase names.
    pub headers: Option<Value>,
    /// An OpenAPI 3.0 or 3.1 document (inline).
    pub openapi: Option<Value>,
    /// File holding the OpenAPI document (JSON or YAML), relative to the
    /// config file; read by the self-hosted target's loader only.
    pub openapi_file: Option<String>,
    /// With `openapi`: a prefix of the request path that the document's
    /// paths leave out, e.g. `/api`.
    pub strip_prefix: Option<String>,
    /// Deepest JSON nesting accepted (400 beyond). Default 64, at most 128.
    pub max_depth: Option<usize>,
    /// Check responses too: `enforce` (502 on failure) or `report`.
    pub response: Option<ResponseMode>,
    /// With JSON Schemas: the schema of 2xx JSON response bodies.
    pub response_body: Option<Value>,
    /// File holding the response body schema; self-hosted target only.
    pub response_body_file: Option<String>,
}

/// Config keys that name a file, and the inline key each becomes.
pub const FILE_KEYS: [(&str, &str); 3] = [
    ("body_file", "body"),
    ("response_body_file", "response_body"),
    ("openapi_file", "openapi"),
];
