//! Rate limiting and quotas: the `rate_limit` policy.
//!
//! Three algorithms, each a pure function of (state, now, parameters)
//! ([`step`]): GCRA (a token bucket), the sliding-window counter, and
//! calendar-aligned quota windows in an IANA time zone. Stores take one
//! decision per limit and request through
//! [`KvStore::rate_limit`](crate::KvStore::rate_limit), atomically where
//! the store can (memory, Redis, Durable Object) and by read-modify-write
//! elsewhere. Keys are hashed ([`key`]); responses carry the IETF draft's
//! `RateLimit` / `RateLimit-Policy` headers or the legacy `X-RateLimit-*`
//! ones; store failures fail open or closed per limit, are counted
//! ([`store_errors`]) and reported to the access log ([`RateLimitReport`]).

mod config;
mod gcra;
mod headers;
mod key;
mod policy;
mod quota;
mod sliding_window;
mod step;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};

pub use config::{
    AccuracySpec, AlgorithmSpec, GroupLimitSpec, LimitSpec, MissingKeySpec, StoreErrorSpec,
};
pub(crate) use config::{SharedLimits, build_shared};
pub use headers::HeaderStyle;
pub(crate) use policy::FACTORY;
pub use policy::RateLimitSpec;
pub use quota::{Period, window as quota_window};
pub use step::{LimitDecision, LimitState, LimitStep, apply, decide, ttl};

/// Rate-limit decisions that failed on the store since the process began.
static STORE_ERRORS: AtomicU64 = AtomicU64::new(0);

/// How many rate-limit decisions failed on the store since the process
/// began (each failed or closed open per its limit's `on_store_error`).
pub fn store_errors() -> u64 {
    STORE_ERRORS.load(Ordering::Relaxed)
}

/// Rate limits whose store failed on this request, for the access log
/// (in the response extensions, never sent to clients).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitReport {
    /// Names of the limits the store could not decide.
    pub store_errors: Vec<String>,
    /// The request was refused because of it (`on_store_error: deny`).
    pub fail_closed: bool,
}
