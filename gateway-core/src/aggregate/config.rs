//! The `aggregate:` section of a route, as written in the config file.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::DurationSpec;

/// A route that fans out to several backends and merges their JSON
/// answers into one document, instead of forwarding to one `upstream`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// The backends, in order. A backend whose `path` uses
    /// `{steps.NAME.body/...}` waits for that earlier backend; the others
    /// start at once, at most `max_concurrency` at a time.
    pub backends: Vec<BackendSpec>,
    /// How the answers become one document: `key` (default: each answer
    /// under its backend's name), `deep` (objects merged recursively, later
    /// backends win), `{ concat: /items }` (arrays concatenated at that
    /// pointer) or `{ map: [...] }` (values copied by JSON pointer).
    #[serde(default)]
    pub merge: MergeSpec,
    /// Most backend requests in flight at once. Default 6 (the most
    /// Cloudflare Workers allows); refused above the target's limit.
    pub max_concurrency: Option<u32>,
    /// Deadline for the whole aggregate: backends still running then count
    /// as timed out (504). Default 30s.
    pub timeout: Option<DurationSpec>,
    /// What a failing optional backend does: `partial` (default) answers
    /// with what succeeded and lists the failures under `_errors`; `fail`
    /// answers 502 (504 for a timeout) as soon as any backend fails.
    #[serde(default)]
    pub on_error: OnErrorSpec,
}

/// One backend of an aggregate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// Name: the key of its answer with `merge: key`, and how errors and
    /// later steps refer to it. Letters, digits, `-` and `_`; not starting
    /// with `_`.
    pub name: String,
    /// The upstream (from `upstreams:`) the request goes to; its timeouts
    /// and settings apply.
    pub upstream: String,
    /// Path and optional query appended to the upstream's base path, e.g.
    /// `/users/{id}/orders?limit={query.limit}&team={steps.user.body/team_id}`.
    /// Each inserted value is percent-encoded as one path segment (or one
    /// query value); a value with `/`, `\`, control characters or equal to
    /// `.` or `..` is refused.
    pub path: String,
    /// HTTP method. Default `GET`.
    pub method: Option<String>,
    /// Client request headers passed on to this backend (after the route's
    /// policies ran). Default none; `accept` is always `application/json`
    /// unless listed here.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Send the client's request body (and its `content-type`). Default false.
    #[serde(default)]
    pub body: bool,
    /// When this backend fails, the whole request fails (502, or 504 for a
    /// timeout) whatever `on_error` says. Default false.
    #[serde(default)]
    pub required: bool,
    /// Time allowed for this backend's whole answer. Default: the route's
    /// `timeout`, else the upstream's.
    pub timeout: Option<DurationSpec>,
    /// JSON pointer to the part of the answer that is merged (e.g.
    /// `/data`). Default the whole answer. A missing part is a failure.
    pub select: Option<String>,
}

/// How backend answers are merged.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MergeSpec {
    /// `{"<backend>": <answer>, ...}`.
    #[default]
    Key,
    /// Objects merged recursively in backend order; later values win,
    /// arrays are replaced. Answers must be objects.
    Deep,
    /// `{ concat: /items }`: the answers (arrays) concatenated in backend
    /// order at this JSON pointer.
    Concat(String),
    /// `{ map: [{ backend: orders, from: /data/items, to: /items }] }`:
    /// each value copied from a backend's answer to a place in the result.
    Map(Vec<MappingSpec>),
}

/// One copy of a value from a backend's answer into the result.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// The backend's name.
    pub backend: String,
    /// JSON pointer into its answer. Default the whole answer. A value that
    /// is not there is left out (not an error).
    pub from: Option<String>,
    /// JSON pointer where the value goes in the result (not the root).
    pub to: String,
}

/// What failing optional backends do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnErrorSpec {
    /// Answer with what succeeded; list the failures under `_errors`.
    #[default]
    Partial,
    /// Fail the whole request.
    Fail,
}
