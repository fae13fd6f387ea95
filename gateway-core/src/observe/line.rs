//! The JSON access log line.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Exchange;
use super::redact::{REDACTED, logged_path, sensitive_header};

/// The line's fields, in order. Absent values are `null`, so every line
/// has the same members.
#[derive(Serialize)]
struct Line<'a> {
    log: &'static str,
    timestamp: String,
    request_id: &'a str,
    trace_id: Option<String>,
    span_id: Option<String>,
    client_ip: String,
    method: &'a str,
    path: String,
    route: &'a str,
    upstream: Option<&'a str>,
    endpoint: Option<&'a str>,
    attempts: Option<u32>,
    status: u16,
    latency_ms: f64,
    upstream_latency_ms: Option<u64>,
    bytes_in: Option<u64>,
    bytes_out: Option<u64>,
    consumer: Option<&'a str>,
    auth: Option<&'static str>,
    rate_limit: Option<&'static str>,
    waf: Option<&'static str>,
    validate: Option<&'static str>,
    cache: Option<&'static str>,
    answered_by: Option<&'static str>,
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<&'a str, &'a str>,
}

/// The access log line for `x`: one JSON object, no newline. Fields:
/// `log` (`"access"`), `timestamp` (RFC 3339, UTC), `request_id`,
/// `trace_id` and `span_id` (the gateway's server span), `client_ip`, `method`, `path` (normalised; the query dropped or
/// redacted per `access_log.query`), `route` (`unmatched` when none),
/// `upstream`, `endpoint`, `attempts`, `status`, `latency_ms`,
/// `upstream_latency_ms`, `bytes_in`, `bytes_out`, `consumer`, `auth`,
/// `rate_limit`, `waf`, `validate`, `cache`, `answered_by`, `user_agent`
/// and, when configured, `headers` (credentials as `[redacted]`).
pub fn log_line(x: &Exchange) -> String {
    let settings = x.settings();
    let call = x.upstream_call.as_ref();
    let timestamp = i64::try_from(x.started_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let line = Line {
        log: "access",
        timestamp,
        request_id: x.request_id.as_str(),
        trace_id: x.trace.map(|(t, _)| t.to_string()),
        span_id: x.trace.map(|(_, s)| s.to_string()),
        client_ip: x.client_ip.to_string(),
        method: x.method.as_str(),
        path: logged_path(&x.uri, settings),
        route: x.route_label(),
        upstream: x.upstream.as_deref(),
        endpoint: call.and_then(|c| c.endpoint.as_deref()),
        attempts: call.map(|c| c.attempts),
        status: x.status.as_u16(),
        latency_ms: (x.latency.as_micros() as f64) / 1000.0,
        upstream_latency_ms: call.map(|c| c.latency_ms),
        bytes_in: x.bytes_in,
        bytes_out: x.bytes_out,
        consumer: x.consumer.as_deref(),
        auth: x.auth.map(|d| d.as_str()),
        rate_limit: x.rate_limit.map(|d| d.as_str()),
        waf: x.waf.map(|d| d.as_str()),
        validate: x.validate.map(|d| d.as_str()),
        cache: x.cache.map(|c| c.as_str()),
        answered_by: x.answered_by,
        user_agent: x.user_agent.as_ref().and_then(|v| v.to_str().ok()),
        headers: x
            .headers
            .iter()
            .map(|(k, v)| {
                let value = if sensitive_header(k) {
                    REDACTED
                } else {
                    v.to_str().unwrap_or("[binary]")
                };
                (k.as_str(), value)
            })
            .collect(),
    };
    serde_json::to_string(&line).unwrap_or_default()
}
