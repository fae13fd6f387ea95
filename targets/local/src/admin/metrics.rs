//! Prometheus exposition: the `metrics` facade's recorder
//! (`metrics-exporter-prometheus`, installed once per process, without a
//! listener of its own: `GET /metrics` on the admin listener renders it),
//! and the state gauges refreshed at each scrape.
//!
//! Every metric named `*_seconds` is a histogram with [`SECONDS_BUCKETS`].
//! Exported here:
//! - `gateway_breaker_state{upstream}`: 0 closed, 1 half-open, 2 open;
//! - `gateway_endpoint_healthy{upstream,endpoint}`: 1 in rotation, 0 not;
//! - `gateway_config_reloads_total{result}`: `ok` or `error` (counted by
//!   [`crate::reload::reload_now`], whoever asked: file watcher, SIGHUP,
//!   `POST /reload`);
//! - `gateway_config_reload_duration_seconds`: time to read, validate and
//!   swap in a config file;
//! - `gateway_rate_limit_store_errors_total`: rate-limit decisions the
//!   store could not take (see `gateway_core::ratelimit::store_errors`).

use std::sync::OnceLock;

use gateway_core::Gateway;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets (seconds) for every `*_seconds` metric.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the Prometheus recorder as the process's `metrics` recorder,
/// once; later calls get the same handle. `None` (logged) when another
/// recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    describe();
                    crate::access_log::enable_metrics();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no Prometheus metrics: the recorder could not be installed");
                    None
                }
            }
        })
        .clone()
}

fn describe() {
    describe_gauge!(
        "gateway_breaker_state",
        "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open."
    );
    describe_gauge!(
        "gateway_endpoint_healthy",
        "Whether an upstream endpoint is in rotation (active checks and passive ejection)."
    );
    describe_counter!(
        "gateway_config_reloads_total",
        "Config reloads by result (ok, error)."
    );
    describe_histogram!(
        "gateway_config_reload_duration_seconds",
        Unit::Seconds,
        "Time to read, validate and swap in the config file."
    );
    describe_counter!(
        "gateway_rate_limit_store_errors_total",
        "Rate-limit decisions the store could not take."
    );
}

/// Counts a reload and records how long it took.
pub(crate) fn record_reload(ok: bool, seconds: f64) {
    let result = if ok { "ok" } else { "error" };
    counter!("gateway_config_reloads_total", "result" => result).increment(1);
    metrics::histogram!("gateway_config_reload_duration_seconds").record(seconds);
}

/// Sets the state gauges from what the gateway knows now.
pub(crate) async fn refresh(gateway: &Gateway) {
    for u in gateway.upstream_status().await {
        if let Some(value) = u.breaker.as_ref().and_then(|b| b.gauge()) {
            gauge!("gateway_breaker_state", "upstream" => u.name.clone()).set(value);
        }
        for e in &u.endpoints {
            gauge!(
                "gateway_endpoint_healthy",
                "upstream" => u.name.clone(),
                "endpoint" => e.id.clone()
            )
            .set(if e.healthy { 1.0 } else { 0.0 });
        }
    }
    counter!("gateway_rate_limit_store_errors_total")
        .absolute(gateway_core::ratelimit::store_errors());
}
