//! Resilience of upstream calls: timeouts, retries with backoff and a
//! budget, and circuit breaking.
//!
//! The request path (`gateway/forward.rs`) runs attempts in a loop; this
//! module decides around each one:
//! - [`config::Plan`]: the route's settings over the upstream's: connect,
//!   per-try and total deadline; attempts, methods and conditions to retry
//!   on, backoff.
//! - [`breaker::Breaker`]: whether an attempt may go out at all, and what
//!   its outcome does to the shared breaker state.
//! - [`budget::RetryBudget`]: whether a retry fits in the upstream's
//!   budget.
//! - [`retry::ReplayBody`]: the request body for each attempt.
//!
//! The config format is in [`spec`]; see `docs/resilience.md`.

pub(crate) mod backoff;
pub(crate) mod breaker;
pub(crate) mod budget;
mod build;
pub(crate) mod config;
pub(crate) mod outcome;
pub(crate) mod retry;
pub mod spec;

pub(crate) use build::{UpstreamFields, route};
pub(crate) use config::{Plan, RouteResilience};

/// An upstream's settings and the state kept for it.
#[derive(Debug)]
pub(crate) struct UpstreamResilience {
    /// Time limits (routes may override them).
    pub(crate) timeouts: config::Timeouts,
    /// Retry settings (routes may override them).
    pub(crate) retry: config::RetrySettings,
    /// Retries in flight against the recent requests, per instance.
    pub(crate) budget: budget::RetryBudget,
    /// The circuit breaker, if configured.
    pub(crate) breaker: Option<breaker::Breaker>,
}
