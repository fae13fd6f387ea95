//! The config file format of timeouts, retries and circuit breakers, on an
//! upstream (defaults) and on a route (overrides).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::{ByteSize, DurationSpec};

/// Time limits for the calls to an upstream.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSpec {
    /// Longest time to establish a connection. Default 5s (the upstream's
    /// `connect_timeout` when given).
    pub connect: Option<DurationSpec>,
    /// Longest time one attempt may wait for the response head. Default 30s
    /// (the upstream's or route's `timeout` when given).
    pub per_try: Option<DurationSpec>,
    /// Longest time for the whole request: every attempt and the backoff
    /// between them; 504 beyond. Default: room for every attempt
    /// (`per_try` × attempts plus the longest backoff between them), which
    /// is `per_try` when retries are off.
    pub deadline: Option<DurationSpec>,
}

/// A transport failure that may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryErrorSpec {
    /// No connection could be made.
    Connect,
    /// The attempt's `per_try` time ran out (connecting included).
    Timeout,
    /// The connection failed or the upstream answered with something that
    /// is not HTTP before the response head.
    Reset,
}

/// Exponential backoff between attempts, with full jitter: before retry
/// `n` the gateway waits a random time between 0 and
/// `min(max, base × 2^(n-1))`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackoffSpec {
    /// The first retry's upper bound. Default 25ms.
    pub base: Option<DurationSpec>,
    /// The largest upper bound. Default 250ms.
    pub max: Option<DurationSpec>,
}

/// The retry budget of an upstream: retries may be at most `ratio` of the
/// recent requests, plus `min_per_second`, so that retries cannot multiply
/// the load on a failing upstream. Counted per gateway instance.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// Retries allowed per request in the window. Default 0.2.
    pub ratio: Option<f64>,
    /// Retries allowed per second regardless of traffic. Default 10.
    pub min_per_second: Option<u32>,
    /// How far back requests and retries count. Default 10s.
    pub window: Option<DurationSpec>,
}

/// When and how to send a request again.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Most attempts, the first included; `1` turns retries off. Default 3
    /// once a `retry` block is given (without one: 1).
    pub attempts: Option<u32>,
    /// Methods that may be retried. Default: the idempotent ones, GET,
    /// HEAD, OPTIONS, PUT, DELETE, TRACE.
    pub methods: Option<Vec<String>>,
    /// Transport failures to retry: `connect`, `timeout`, `reset`.
    /// Default `[connect, timeout]`.
    pub on_errors: Option<Vec<RetryErrorSpec>>,
    /// Upstream statuses to retry. Default `[502, 503, 504]`.
    pub on_statuses: Option<Vec<u16>>,
    /// Waiting between attempts.
    pub backoff: Option<BackoffSpec>,
    /// Request bodies up to this size (by `Content-Length`) are buffered so
    /// they can be sent again; larger or unsized streaming bodies are sent
    /// once. Default 64KiB.
    pub max_buffered_body: Option<ByteSize>,
    /// The upstream's retry budget (upstream only).
    pub budget: Option<BudgetSpec>,
}

/// The failure-rate trigger of a circuit breaker.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureRateSpec {
    /// Share of failed requests (0 to 1) that opens the breaker. Default 0.5.
    pub ratio: Option<f64>,
    /// Fewest requests in the window before the rate counts. Default 20.
    pub min_requests: Option<u32>,
    /// The rolling window. Default 10s.
    pub window: Option<DurationSpec>,
}

/// The half-open phase of a circuit breaker.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HalfOpenSpec {
    /// Probe requests let through once the open interval has passed.
    /// Default 1.
    pub probes: Option<u32>,
    /// Successful probes that close the breaker. Default: `probes`.
    pub successes: Option<u32>,
}

/// A circuit breaker for an upstream. Its state lives in the store's exact
/// counters, so gateway instances sharing the store share it.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerSpec {
    /// Consecutive failures that open the breaker; 0 turns this trigger
    /// off. Default 5.
    pub consecutive_failures: Option<u32>,
    /// Open on the failure rate over a rolling window (off unless given).
    pub failure_rate: Option<FailureRateSpec>,
    /// How long the breaker stays open before letting probes through.
    /// Default 30s.
    pub open_for: Option<DurationSpec>,
    /// Probing after the open interval.
    pub half_open: Option<HalfOpenSpec>,
    /// Upstream statuses that count as failures (besides connect errors,
    /// timeouts and broken connections). Default `[502, 503, 504]`.
    pub failure_statuses: Option<Vec<u16>>,
    /// How long an instance trusts its cached copy of the shared state
    /// before reading it again. Default 1s; 0 reads it on every request.
    pub refresh: Option<DurationSpec>,
}
