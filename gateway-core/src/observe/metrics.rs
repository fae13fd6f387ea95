//! The per-request metric measurements, by the names every target uses:
//! the self-hosted target feeds them to the `metrics` facade, the edge
//! targets log them as one JSON event per request ([`metrics_line`]).

use http::{Method, StatusCode};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};

use super::{Decision, Exchange};

/// Whether a measurement adds to a counter or is one histogram sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Add `value` to the counter.
    Counter,
    /// Record `value` in the histogram.
    Histogram,
}

impl MetricKind {
    /// `counter` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Histogram => "histogram",
        }
    }
}

/// One measurement of one request.
#[derive(Debug, Clone, Copy)]
pub struct Measurement<'a> {
    /// The metric name, e.g. `gateway_requests_total`.
    pub name: &'static str,
    /// Counter or histogram.
    pub kind: MetricKind,
    /// Label names and values; values are bounded (route and upstream
    /// names from the config, status classes, fixed outcome words).
    pub labels: &'a [(&'static str, &'a str)],
    /// The amount (counters) or sample (histograms; seconds for durations).
    pub value: f64,
}

/// The status class label: `1xx` .. `5xx`.
pub fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// A bounded method label: the standard methods, else `other`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Calls `emit` with each measurement of `x`, without allocating:
///
/// - `gateway_requests_total{route,method,status_class}` counter
/// - `gateway_request_duration_seconds{route,status_class}` histogram
/// - `gateway_upstream_duration_seconds{upstream,status_class}` histogram (when an attempt reached the upstream; not for breaker refusals)
/// - `gateway_request_bytes_total{route}`, `gateway_response_bytes_total{route}` counters (when the sizes are known)
/// - `gateway_policy_decisions_total{route,policy,outcome}` counter (auth, rate_limit, waf, validate)
/// - `gateway_cache_lookups_total{route,result}` counter (caching routes)
pub fn measurements(x: &Exchange, mut emit: impl FnMut(Measurement<'_>)) {
    use MetricKind::{Counter, Histogram};
    let route = x.route_label();
    let class = status_class(x.status);
    emit(Measurement {
        name: "gateway_requests_total",
        kind: Counter,
        labels: &[
            ("route", route),
            ("method", method_label(&x.method)),
            ("status_class", class),
        ],
        value: 1.0,
    });
    emit(Measurement {
        name: "gateway_request_duration_seconds",
        kind: Histogram,
        labels: &[("route", route), ("status_class", class)],
        value: x.latency.as_secs_f64(),
    });
    if let (Some(upstream), Some(call)) = (x.upstream.as_deref(), &x.upstream_call)
        && call.attempts > 0
    {
        emit(Measurement {
            name: "gateway_upstream_duration_seconds",
            kind: Histogram,
            labels: &[("upstream", upstream), ("status_class", class)],
            value: call.latency_ms as f64 / 1000.0,
        });
    }
    if let Some(n) = x.bytes_in {
        emit(Measurement {
            name: "gateway_request_bytes_total",
            kind: Counter,
            labels: &[("route", route)],
            value: n as f64,
        });
    }
    if let Some(n) = x.bytes_out {
        emit(Measurement {
            name: "gateway_response_bytes_total",
            kind: Counter,
            labels: &[("route", route)],
            value: n as f64,
        });
    }
    let decisions: [(&'static str, Option<Decision>); 4] = [
        ("auth", x.auth),
        ("rate_limit", x.rate_limit),
        ("waf", x.waf),
        ("validate", x.validate),
    ];
    for (policy, decision) in decisions {
        if let Some(d) = decision {
            emit(Measurement {
                name: "gateway_policy_decisions_total",
                kind: Counter,
                labels: &[
                    ("route", route),
                    ("policy", policy),
                    ("outcome", d.as_str()),
                ],
                value: 1.0,
            });
        }
    }
    if let Some(c) = x.cache {
        emit(Measurement {
            name: "gateway_cache_lookups_total",
            kind: Counter,
            labels: &[("route", route), ("result", c.as_str())],
            value: 1.0,
        });
    }
}

struct Labels<'a>(&'a [(&'static str, &'a str)]);

impl Serialize for Labels<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct Sample<'a> {
    name: &'static str,
    kind: &'static str,
    labels: Labels<'a>,
    value: f64,
}

struct Samples<'a>(&'a Exchange);

impl Serialize for Samples<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut result = Ok(());
        measurements(self.0, |m| {
            if result.is_ok() {
                result = seq.serialize_element(&Sample {
                    name: m.name,
                    kind: m.kind.as_str(),
                    labels: Labels(m.labels),
                    value: m.value,
                });
            }
        });
        result?;
        seq.end()
    }
}

#[derive(Serialize)]
struct Event<'a> {
    log: &'static str,
    request_id: &'a str,
    metrics: Samples<'a>,
}

/// The metrics event for `x`, for targets without a metrics endpoint: one
/// JSON object, no newline, `{"log":"metrics","request_id":..,"metrics":
/// [{"name":..,"kind":"counter"|"histogram","labels":{..},"value":..},..]}`
/// with the measurements of [`measurements`].
pub fn metrics_line(x: &Exchange) -> String {
    let event = Event {
        log: "metrics",
        request_id: x.request_id.as_str(),
        metrics: Samples(x),
    };
    serde_json::to_string(&event).unwrap_or_default()
}
