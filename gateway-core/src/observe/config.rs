//! `access_log:`: the access log line and request ids.

use http::HeaderName;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::Problems;

/// The access log and request ids. Every field is optional.
///
/// ```yaml
/// access_log:
///   enabled: true                  # one JSON line per request (default)
///   request_id_header: X-Request-Id
///   query: redact                  # or drop (default)
///   redact_query: [session]        # besides the built-in sensitive names
///   headers: [accept, referer]     # logged under `headers`; credentials always redacted
/// ```
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogSpec {
    /// Write one JSON access log line per request (default true). Request
    /// ids and metrics do not depend on it.
    pub enabled: Option<bool>,
    /// The request id header (default `X-Request-Id`). A well-formed id from
    /// the client (visible ASCII token characters, at most 128 bytes) is
    /// kept, anything else is replaced by a generated one; the id is sent
    /// upstream, returned to the client and put in the gateway's problem
    /// documents as `request_id`.
    pub request_id_header: Option<String>,
    /// The query string in the logged `path`: `drop` (default) logs the path
    /// only; `redact` keeps the query with the values of sensitive parameters
    /// replaced by `[redacted]`.
    pub query: Option<QueryMode>,
    /// More query parameter names whose values are redacted (case
    /// insensitive), besides the built-in ones (`access_token`, `api_key`,
    /// `token`, `password`, `signature`, ... and any name containing `token`,
    /// `secret`, `password`, `key`, `auth`, `session` or `sig`).
    #[serde(default)]
    pub redact_query: Vec<String>,
    /// Request headers to log under `headers`. Credentials (`Authorization`,
    /// `Cookie`, API key headers and any name containing `token`, `secret`,
    /// `key`, `auth`, `cookie`, `session` or `password`) are always
    /// logged as `[redacted]`.
    #[serde(default)]
    pub headers: Vec<String>,
}

/// What the access log keeps of the query string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueryMode {
    /// Log the path without the query string.
    #[default]
    Drop,
    /// Log the query with sensitive parameter values redacted.
    Redact,
}

/// The validated `access_log:` settings.
#[derive(Debug, Clone)]
pub struct AccessLogConfig {
    /// Whether access log lines are written.
    pub enabled: bool,
    /// The request id header.
    pub request_id_header: HeaderName,
    /// What is kept of the query string.
    pub query: QueryMode,
    /// Extra sensitive query parameter names, lower-case.
    pub redact_query: Vec<String>,
    /// Request headers logged under `headers`.
    pub headers: Vec<HeaderName>,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            request_id_header: HeaderName::from_static("x-request-id"),
            query: QueryMode::Drop,
            redact_query: Vec::new(),
            headers: Vec::new(),
        }
    }
}

/// Headers the gateway manages itself and so cannot carry request ids.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "authorization",
    "cookie",
    "set-cookie",
];

/// Validates `access_log:`.
pub(crate) fn build(spec: Option<&AccessLogSpec>, p: &mut Problems) -> AccessLogConfig {
    let mut cfg = AccessLogConfig::default();
    let Some(s) = spec else {
        return cfg;
    };
    cfg.enabled = s.enabled.unwrap_or(true);
    cfg.query = s.query.unwrap_or_default();
    if let Some(name) = &s.request_id_header {
        match HeaderName::try_from(name.as_str()) {
            Ok(h) if RESERVED.contains(&h.as_str()) => p.push(
                "access_log.request_id_header",
                format!("`{name}` is a header the gateway or HTTP itself uses; choose another name, e.g. X-Request-Id"),
            ),
            Ok(h) => cfg.request_id_header = h,
            Err(_) => p.push(
                "access_log.request_id_header",
                format!("`{name}` is not a valid header name"),
            ),
        }
    }
    for (i, q) in s.redact_query.iter().enumerate() {
        if q.is_empty() {
            p.push(
                format!("access_log.redact_query[{i}]"),
                "a query parameter name must not be empty",
            );
        } else {
            cfg.redact_query.push(q.to_ascii_lowercase());
        }
    }
    for (i, h) in s.headers.iter().enumerate() {
        match HeaderName::try_from(h.as_str()) {
            Ok(name) if !cfg.headers.contains(&name) => cfg.headers.push(name),
            Ok(_) => p.push(
                format!("access_log.headers[{i}]"),
                format!("`{h}` is listed twice"),
            ),
            Err(_) => p.push(
                format!("access_log.headers[{i}]"),
                format!("`{h}` is not a valid header name"),
            ),
        }
    }
    cfg
}
