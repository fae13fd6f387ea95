//! What happened to each request, for operators: the per-request record
//! ([`Exchange`]), request ids, the JSON access log line and the metric
//! measurements.
//!
//! [`Gateway::handle`](crate::Gateway::handle) fills an [`Exchange`] along
//! the request path and puts it in the response extensions (never sent to
//! clients). Adapters read it after the call: the self-hosted target emits
//! the access log through `tracing` and the metrics through the `metrics`
//! facade; the edge targets write [`log_line`] and [`metrics_line`] to their
//! platform's log. Nothing here formats a string unless a line is asked for.

mod config;
mod exchange;
mod line;
mod metrics;
mod problem;
mod redact;
mod request_id;
#[cfg(test)]
mod tests;

pub(crate) use config::build as build_access_log;
pub use config::{AccessLogConfig, AccessLogSpec, QueryMode};
pub use exchange::{CacheResult, Decision, Exchange, UpstreamCall};
pub use line::log_line;
pub use metrics::{Measurement, MetricKind, measurements, metrics_line, status_class};
pub(crate) use problem::{GatewayProblem, add_request_id};
pub(crate) use request_id::RequestIdHeader;
pub use request_id::{MAX_REQUEST_ID_LEN, RequestId, is_well_formed};

/// The route label for requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The lines an edge target writes for `resp`: the access log line (when
/// `access_log.enabled`) and the metrics event, in that order. Empty when
/// the response carries no [`Exchange`].
pub fn edge_lines<B>(resp: &http::Response<B>) -> Vec<String> {
    let Some(x) = resp.extensions().get::<Exchange>() else {
        return Vec::new();
    };
    let mut lines = Vec::with_capacity(2);
    if x.settings().enabled {
        lines.push(log_line(x));
    }
    lines.push(metrics_line(x));
    lines
}

/// [`edge_lines`] for a target that timed the request itself (its own
/// monotonic clock): `elapsed` becomes the record's latency first.
pub fn edge_lines_timed<B>(
    resp: &mut http::Response<B>,
    elapsed: std::time::Duration,
) -> Vec<String> {
    if let Some(x) = resp.extensions_mut().get_mut::<Exchange>() {
        x.latency = elapsed;
    }
    edge_lines(resp)
}
