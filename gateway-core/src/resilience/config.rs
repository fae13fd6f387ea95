//! The validated settings: upstream defaults, route overrides, and the
//! [`Plan`] one request follows once both are combined.

use std::time::Duration;

use http::{Method, StatusCode};

use super::backoff::Backoff;
use super::outcome::{ErrorKind, Kind};

/// Connect time when nothing is configured.
pub(crate) const DEFAULT_CONNECT: Duration = Duration::from_secs(5);
/// Per-attempt time when nothing is configured.
pub(crate) const DEFAULT_PER_TRY: Duration = Duration::from_secs(30);
/// Attempts once a `retry` block is given without `attempts`.
pub(crate) const DEFAULT_ATTEMPTS: u32 = 3;
/// The idempotent methods (RFC 9110 §9.2.2).
pub(crate) const DEFAULT_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PUT,
    Method::DELETE,
    Method::TRACE,
];
/// Statuses retried, and counted as breaker failures, by default.
pub(crate) const DEFAULT_STATUSES: &[StatusCode] = &[
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
];
/// Largest body buffered for retries by default.
pub(crate) const DEFAULT_MAX_BUFFERED_BODY: u64 = 64 * 1024;

/// A set of transport failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ErrorSet {
    pub(crate) connect: bool,
    pub(crate) timeout: bool,
    pub(crate) reset: bool,
}

impl ErrorSet {
    /// Connect errors and timeouts.
    pub(crate) const DEFAULT: Self = Self {
        connect: true,
        timeout: true,
        reset: false,
    };

    /// Whether `kind` is in the set.
    pub(crate) fn contains(self, kind: ErrorKind) -> bool {
        match kind {
            ErrorKind::Connect => self.connect,
            ErrorKind::Timeout => self.timeout,
            ErrorKind::Reset => self.reset,
        }
    }
}

/// Time limits; unset fields fall back to the upstream's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) connect: Option<Duration>,
    pub(crate) per_try: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
}

/// Retry settings; unset fields fall back to the upstream's, then to the
/// defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RetrySettings {
    /// A `retry` block was given here (then `attempts` defaults to 3).
    pub(crate) given: bool,
    pub(crate) attempts: Option<u32>,
    pub(crate) methods: Option<Vec<Method>>,
    pub(crate) on_errors: Option<ErrorSet>,
    pub(crate) on_statuses: Option<Vec<StatusCode>>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) max_buffered_body: Option<u64>,
}

/// A route's overrides of its upstream's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RouteResilience {
    pub(crate) timeouts: Timeouts,
    pub(crate) retry: RetrySettings,
}

/// What one request follows: the route's settings over the upstream's
/// over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan<'a> {
    /// Longest time to connect, per attempt.
    pub(crate) connect: Duration,
    /// Longest wait for one attempt's response head.
    pub(crate) per_try: Duration,
    /// Longest time for everything.
    pub(crate) deadline: Duration,
    /// Most attempts, at least 1.
    pub(crate) attempts: u32,
    pub(crate) methods: &'a [Method],
    pub(crate) on_errors: ErrorSet,
    pub(crate) on_statuses: &'a [StatusCode],
    pub(crate) backoff: Backoff,
    pub(crate) max_buffered_body: u64,
}

impl<'a> Plan<'a> {
    /// Combines a route's overrides with its upstream's settings.
    pub(crate) fn new(
        upstream: (&'a Timeouts, &'a RetrySettings),
        route: &'a RouteResilience,
    ) -> Self {
        let (ut, ur) = upstream;
        let (rt, rr) = (&route.timeouts, &route.retry);
        let attempts = rr
            .attempts
            .or(ur.attempts)
            .or((rr.given || ur.given).then_some(DEFAULT_ATTEMPTS))
            .unwrap_or(1)
            .max(1);
        let backoff = rr.backoff.or(ur.backoff).unwrap_or_default();
        let per_try = rt.per_try.or(ut.per_try).unwrap_or(DEFAULT_PER_TRY);
        let deadline = rt
            .deadline
            .or(ut.deadline)
            .unwrap_or_else(|| room_for(attempts, per_try, backoff));
        Self {
            connect: rt.connect.or(ut.connect).unwrap_or(DEFAULT_CONNECT),
            per_try,
            deadline,
            attempts,
            methods: rr
                .methods
                .as_deref()
                .or(ur.methods.as_deref())
                .unwrap_or(DEFAULT_METHODS),
            on_errors: rr.on_errors.or(ur.on_errors).unwrap_or(ErrorSet::DEFAULT),
            on_statuses: rr
                .on_statuses
                .as_deref()
                .or(ur.on_statuses.as_deref())
                .unwrap_or(DEFAULT_STATUSES),
            backoff,
            max_buffered_body: rr
                .max_buffered_body
                .or(ur.max_buffered_body)
                .unwrap_or(DEFAULT_MAX_BUFFERED_BODY),
        }
    }

    /// Whether a request with this method may be retried at all.
    pub(crate) fn may_retry(&self, method: &Method) -> bool {
        self.attempts > 1 && self.methods.contains(method)
    }

    /// Whether an attempt that ended this way is worth another one.
    pub(crate) fn retries_on(&self, kind: Kind) -> bool {
        match kind {
            Kind::Status(s) => self.on_statuses.contains(&s),
            Kind::Error(e) => self.on_errors.contains(e),
            Kind::Other => false,
        }
    }
}

/// The default deadline: every attempt its full time, plus the longest
/// backoff before each retry.
fn room_for(attempts: u32, per_try: Duration, backoff: Backoff) -> Duration {
    let retries = attempts.saturating_sub(1);
    per_try
        .saturating_mul(attempts)
        .saturating_add(backoff.max.saturating_mul(retries))
}

/// Circuit breaker settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BreakerConfig {
    /// Consecutive failures that open it; 0: off.
    pub(crate) consecutive_failures: u32,
    pub(crate) failure_rate: Option<RateTrigger>,
    pub(crate) open_for: Duration,
    pub(crate) probes: u32,
    pub(crate) successes: u32,
    pub(crate) failure_statuses: Vec<StatusCode>,
    pub(crate) refresh: Duration,
}

/// Open when at least `ratio` of the requests in the window failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateTrigger {
    pub(crate) ratio: f64,
    pub(crate) min_requests: u32,
    pub(crate) window: Duration,
}

/// Retry budget settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BudgetConfig {
    pub(crate) ratio: f64,
    pub(crate) min_per_second: u32,
    pub(crate) window: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_second: 10,
            window: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn without_settings_one_attempt_bounded_by_per_try() {
        let route = RouteResilience::default();
        let (ut, ur) = (Timeouts::default(), RetrySettings::default());
        let p = Plan::new((&ut, &ur), &route);
        assert_eq!(p.attempts, 1);
        assert_eq!(p.per_try, DEFAULT_PER_TRY);
        assert_eq!(p.deadline, DEFAULT_PER_TRY);
        assert_eq!(p.connect, DEFAULT_CONNECT);
        assert!(!p.may_retry(&Method::GET));
    }

    #[test]
    fn route_overrides_field_by_field() {
        let ut = Timeouts {
            connect: Some(ms(100)),
            per_try: Some(ms(1000)),
            deadline: Some(ms(5000)),
        };
        let ur = RetrySettings {
            given: true,
            methods: Some(vec![Method::GET]),
            ..RetrySettings::default()
        };
        let route = RouteResilience {
            timeouts: Timeouts {
                per_try: Some(ms(200)),
                ..Timeouts::default()
            },
            retry: RetrySettings {
                given: true,
                attempts: Some(2),
                ..RetrySettings::default()
            },
        };
        let p = Plan::new((&ut, &ur), &route);
        assert_eq!(
            (p.connect, p.per_try, p.deadline, p.attempts),
            (ms(100), ms(200), ms(5000), 2)
        );
        assert!(p.may_retry(&Method::GET));
        assert!(!p.may_retry(&Method::PUT), "upstream's method list kept");
        assert!(!p.may_retry(&Method::POST));
    }

    #[test]
    fn a_retry_block_defaults_to_three_attempts_and_room_for_them() {
        let ut = Timeouts {
            per_try: Some(ms(100)),
            ..Timeouts::default()
        };
        let route = RouteResilience {
            retry: RetrySettings {
                given: true,
                ..RetrySettings::default()
            },
            ..RouteResilience::default()
        };
        let ur = RetrySettings::default();
        let p = Plan::new((&ut, &ur), &route);
        assert_eq!(p.attempts, 3);
        // 3 × 100ms + 2 × 250ms of backoff at most.
        assert_eq!(p.deadline, ms(800));
        assert!(p.may_retry(&Method::DELETE));
        assert!(!p.may_retry(&Method::POST));
        assert!(!p.may_retry(&Method::PATCH));
        assert!(p.retries_on(Kind::Status(StatusCode::SERVICE_UNAVAILABLE)));
        assert!(!p.retries_on(Kind::Status(StatusCode::INTERNAL_SERVER_ERROR)));
        assert!(p.retries_on(Kind::Error(ErrorKind::Connect)));
        assert!(p.retries_on(Kind::Error(ErrorKind::Timeout)));
        assert!(!p.retries_on(Kind::Error(ErrorKind::Reset)));
        assert!(!p.retries_on(Kind::Other));
    }
}
