//! Spec → validated settings, with problems that name the field.

use std::time::Duration;

use http::{Method, StatusCode};

use super::UpstreamResilience;
use super::backoff::Backoff;
use super::breaker::Breaker;
use super::budget::RetryBudget;
use super::config::{
    BreakerConfig, BudgetConfig, DEFAULT_STATUSES, ErrorSet, RateTrigger, RetrySettings,
    RouteResilience, Timeouts,
};
use super::spec::{
    BackoffSpec, BudgetSpec, CircuitBreakerSpec, RetryErrorSpec, RetrySpec, TimeoutsSpec,
};
use crate::config::{ConfigProblem, DurationSpec};

/// Most attempts a request may make.
const MAX_ATTEMPTS: u32 = 10;

struct Problems<'a>(&'a mut Vec<ConfigProblem>);

impl Problems<'_> {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem::new(path, message));
    }
}

/// An alias (`timeout`, `connect_timeout`) or its field in `timeouts`, not both.
fn one_of(
    old: Option<DurationSpec>,
    old_name: &str,
    new: Option<DurationSpec>,
    new_at: &str,
    p: &mut Problems<'_>,
) -> Option<Duration> {
    if let (Some(_), Some(_)) = (old, new) {
        p.push(
            new_at,
            format!("`{old_name}` says the same; give only one of them"),
        );
    }
    new.or(old).map(|d| d.0)
}

fn positive(d: Option<Duration>, at: String, p: &mut Problems<'_>) -> Option<Duration> {
    if d.is_some_and(|d| d.is_zero()) {
        p.push(at, "must be longer than 0");
    }
    d
}

fn timeouts(
    connect_alias: Option<(Option<DurationSpec>, &str)>,
    per_try_alias: (Option<DurationSpec>, &str),
    spec: Option<&TimeoutsSpec>,
    at: &str,
    p: &mut Problems<'_>,
) -> Timeouts {
    let d = TimeoutsSpec::default();
    let s = spec.unwrap_or(&d);
    let connect = match connect_alias {
        Some((old, name)) => one_of(old, name, s.connect, &format!("{at}.timeouts.connect"), p),
        None => s.connect.map(|d| d.0),
    };
    let per_try = one_of(
        per_try_alias.0,
        per_try_alias.1,
        s.per_try,
        &format!("{at}.timeouts.per_try"),
        p,
    );
    Timeouts {
        connect: positive(connect, format!("{at}.timeouts.connect"), p),
        per_try: positive(per_try, format!("{at}.timeouts.per_try"), p),
        deadline: positive(
            s.deadline.map(|d| d.0),
            format!("{at}.timeouts.deadline"),
            p,
        ),
    }
}

fn statuses(list: &[u16], at: &str, p: &mut Problems<'_>) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for (i, &code) in list.iter().enumerate() {
        match StatusCode::from_u16(code) {
            Ok(s) if (400..=599).contains(&code) => out.push(s),
            _ => p.push(
                format!("{at}[{i}]"),
                format!("{code} is not an error status (400-599)"),
            ),
        }
    }
    out
}

fn methods(list: &[String], at: &str, p: &mut Problems<'_>) -> Vec<Method> {
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
            Ok(m) => out.push(m),
            Err(_) => p.push(format!("{at}[{i}]"), format!("`{m}` is not an HTTP method")),
        }
    }
    out
}

fn backoff(s: &BackoffSpec, at: &str, p: &mut Problems<'_>) -> Backoff {
    let d = Backoff::default();
    let base = s.base.map_or(d.base, |b| b.0);
    let max = s.max.map_or(d.max.max(base), |m| m.0);
    if base.is_zero() {
        p.push(format!("{at}.base"), "must be longer than 0");
    }
    if max < base {
        p.push(
            format!("{at}.max"),
            format!("must not be shorter than `base` ({}ms)", base.as_millis()),
        );
    }
    Backoff { base, max }
}

fn retry(s: &RetrySpec, at: &str, p: &mut Problems<'_>) -> RetrySettings {
    if let Some(n) = s.attempts
        && !(1..=MAX_ATTEMPTS).contains(&n)
    {
        p.push(
            format!("{at}.attempts"),
            format!("must be between 1 and {MAX_ATTEMPTS}"),
        );
    }
    let on_errors = s.on_errors.as_ref().map(|list| ErrorSet {
        connect: list.contains(&RetryErrorSpec::Connect),
        timeout: list.contains(&RetryErrorSpec::Timeout),
        reset: list.contains(&RetryErrorSpec::Reset),
    });
    RetrySettings {
        given: true,
        attempts: s.attempts,
        methods: s
            .methods
            .as_ref()
            .map(|m| methods(m, &format!("{at}.methods"), p)),
        on_errors,
        on_statuses: s
            .on_statuses
            .as_ref()
            .map(|l| statuses(l, &format!("{at}.on_statuses"), p)),
        backoff: s
            .backoff
            .as_ref()
            .map(|b| backoff(b, &format!("{at}.backoff"), p)),
        max_buffered_body: s.max_buffered_body.map(|b| b.0),
    }
}

fn ratio(v: Option<f64>, default: f64, range: (f64, f64), at: String, p: &mut Problems<'_>) -> f64 {
    let v = v.unwrap_or(default);
    if !v.is_finite() || v < range.0 || v > range.1 {
        p.push(at, format!("must be between {} and {}", range.0, range.1));
        return default;
    }
    v
}

fn budget(s: &BudgetSpec, at: &str, p: &mut Problems<'_>) -> BudgetConfig {
    let d = BudgetConfig::default();
    let window = s.window.map_or(d.window, |w| w.0);
    if window < Duration::from_secs(1) {
        p.push(format!("{at}.window"), "must be at least 1s");
    }
    BudgetConfig {
        ratio: ratio(s.ratio, d.ratio, (0.0, 10.0), format!("{at}.ratio"), p),
        min_per_second: s.min_per_second.unwrap_or(d.min_per_second),
        window: window.max(Duration::from_secs(1)),
    }
}

fn breaker(s: &CircuitBreakerSpec, at: &str, p: &mut Problems<'_>) -> BreakerConfig {
    let consecutive_failures = s.consecutive_failures.unwrap_or(5);
    let failure_rate = s.failure_rate.as_ref().map(|r| {
        let rat = format!("{at}.failure_rate");
        let window = r.window.map_or(Duration::from_secs(10), |w| w.0);
        if window < Duration::from_secs(1) {
            p.push(format!("{rat}.window"), "must be at least 1s");
        }
        let min_requests = r.min_requests.unwrap_or(20);
        if min_requests == 0 {
            p.push(format!("{rat}.min_requests"), "must be at least 1");
        }
        RateTrigger {
            ratio: ratio(r.ratio, 0.5, (0.01, 1.0), format!("{rat}.ratio"), p),
            min_requests: min_requests.max(1),
            window: window.max(Duration::from_secs(1)),
        }
    });
    if consecutive_failures == 0 && failure_rate.is_none() {
        p.push(
            at,
            "the breaker has no trigger: set `consecutive_failures` above 0 or give `failure_rate`",
        );
    }
    let open_for = s.open_for.map_or(Duration::from_secs(30), |d| d.0);
    if open_for.is_zero() || open_for > Duration::from_secs(24 * 3600) {
        p.push(format!("{at}.open_for"), "must be between 1ms and 24h");
    }
    let half = s.half_open.clone().unwrap_or_default();
    let probes = half.probes.unwrap_or(1);
    let successes = half.successes.unwrap_or(probes);
    if probes == 0 {
        p.push(format!("{at}.half_open.probes"), "must be at least 1");
    }
    if successes == 0 || successes > probes {
        p.push(
            format!("{at}.half_open.successes"),
            format!("must be between 1 and `probes` ({probes})"),
        );
    }
    BreakerConfig {
        consecutive_failures,
        failure_rate,
        open_for,
        probes,
        successes,
        failure_statuses: s.failure_statuses.as_ref().map_or_else(
            || DEFAULT_STATUSES.to_vec(),
            |l| statuses(l, &format!("{at}.failure_statuses"), p),
        ),
        refresh: s.refresh.map_or(Duration::from_secs(1), |d| d.0),
    }
}

/// The settings an upstream's fields give.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UpstreamFields<'a> {
    /// The upstream's name (keys the shared breaker state).
    pub(crate) name: &'a str,
    /// Proxies to URLs (not a mock).
    pub(crate) proxied: bool,
    pub(crate) connect_timeout: Option<DurationSpec>,
    pub(crate) timeout: Option<DurationSpec>,
    pub(crate) timeouts: Option<&'a TimeoutsSpec>,
    pub(crate) retry: Option<&'a RetrySpec>,
    pub(crate) circuit_breaker: Option<&'a CircuitBreakerSpec>,
}

impl UpstreamResilience {
    /// Validates an upstream's settings; `at` is its field path.
    pub(crate) fn build(
        f: UpstreamFields<'_>,
        at: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Self {
        let p = &mut Problems(problems);
        let timeouts = timeouts(
            Some((f.connect_timeout, "connect_timeout")),
            (f.timeout, "timeout"),
            f.timeouts,
            at,
            p,
        );
        if !f.proxied {
            for (given, field) in [
                (f.retry.is_some(), "retry"),
                (f.circuit_breaker.is_some(), "circuit_breaker"),
            ] {
                if given {
                    p.push(
                        format!("{at}.{field}"),
                        "applies only to an upstream with a `url`; a mock answers itself",
                    );
                }
            }
        }
        let retry_at = format!("{at}.retry");
        let retry_settings = f.retry.map(|r| retry(r, &retry_at, p)).unwrap_or_default();
        let budget_cfg = f
            .retry
            .and_then(|r| r.budget.as_ref())
            .map(|b| budget(b, &format!("{retry_at}.budget"), p))
            .unwrap_or_default();
        let breaker = f
            .circuit_breaker
            .map(|b| Breaker::new(f.name, breaker(b, &format!("{at}.circuit_breaker"), p)));
        Self {
            timeouts,
            retry: retry_settings,
            budget: RetryBudget::new(budget_cfg),
            breaker,
        }
    }
}

/// Validates a route's overrides; `at` is its field path.
pub(crate) fn route(
    timeout: Option<DurationSpec>,
    timeouts_spec: Option<&TimeoutsSpec>,
    retry_spec: Option<&RetrySpec>,
    at: &str,
    problems: &mut Vec<ConfigProblem>,
) -> RouteResilience {
    let p = &mut Problems(problems);
    let timeouts = timeouts(None, (timeout, "timeout"), timeouts_spec, at, p);
    let retry_at = format!("{at}.retry");
    if retry_spec.is_some_and(|r| r.budget.is_some()) {
        p.push(
            format!("{retry_at}.budget"),
            "the retry budget belongs to the upstream: set it under `upstreams.NAME.retry.budget`",
        );
    }
    RouteResilience {
        timeouts,
        retry: retry_spec
            .map(|r| retry(r, &retry_at, p))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_file_text;
    use crate::policy::PolicyRegistry;

    fn problems(upstream: &str, route: &str) -> Vec<String> {
        let yaml = format!(
            "version: 1\nupstreams:\n  u:\n    url: http://127.0.0.1:9\n{upstream}\n  m: {{ mock: {{ body: x }} }}\nroutes:\n  - path: /x\n    upstream: u\n{route}\n"
        );
        match load_file_text("gw.yaml", &yaml, &PolicyRegistry::builtin()) {
            Ok(_) => Vec::new(),
            Err(e) => e.to_string().lines().map(str::to_owned).collect(),
        }
    }

    fn has(list: &[String], line: &str) -> bool {
        list.iter().any(|l| l.starts_with(line))
    }

    #[test]
    fn a_full_config_loads() {
        let p = problems(
            "    connect_timeout: 1s\n    timeout: 2s\n    timeouts: { deadline: 5s }\n    retry:\n      attempts: 4\n      methods: [get, post]\n      on_errors: [connect, timeout, reset]\n      on_statuses: [429, 503]\n      backoff: { base: 10ms, max: 1s }\n      max_buffered_body: 1MiB\n      budget: { ratio: 0.5, min_per_second: 2, window: 30s }\n    circuit_breaker:\n      consecutive_failures: 0\n      failure_rate: { ratio: 0.25, min_requests: 50, window: 1m }\n      open_for: 5s\n      half_open: { probes: 3, successes: 2 }\n      failure_statuses: [500, 502]\n      refresh: 0",
            "    timeout: 1s\n    timeouts: { connect: 100ms, deadline: 3s }\n    retry: { attempts: 2, on_statuses: [502] }",
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn bad_values_are_named_by_field() {
        let p = problems(
            "    timeout: 2s\n    timeouts: { per_try: 1s, deadline: 0 }\n    retry:\n      attempts: 0\n      methods: [\"NOT A METHOD\"]\n      on_statuses: [200]\n      backoff: { base: 1s, max: 10ms }\n      budget: { ratio: -1 }\n    circuit_breaker:\n      consecutive_failures: 0\n      half_open: { probes: 1, successes: 2 }",
            "    retry: { budget: { ratio: 1 } }",
        );
        for line in [
            "gw.yaml: upstreams.u.timeouts.per_try: `timeout` says the same",
            "gw.yaml: upstreams.u.timeouts.deadline: must be longer than 0",
            "gw.yaml: upstreams.u.retry.attempts: must be between 1 and 10",
            "gw.yaml: upstreams.u.retry.methods[0]: `NOT A METHOD` is not an HTTP method",
            "gw.yaml: upstreams.u.retry.on_statuses[0]: 200 is not an error status",
            "gw.yaml: upstreams.u.retry.backoff.max: must not be shorter than `base`",
            "gw.yaml: upstreams.u.retry.budget.ratio: must be between 0 and 10",
            "gw.yaml: upstreams.u.circuit_breaker: the breaker has no trigger",
            "gw.yaml: upstreams.u.circuit_breaker.half_open.successes: must be between 1 and `probes` (1)",
            "gw.yaml: routes[0].retry.budget: the retry budget belongs to the upstream",
        ] {
            assert!(has(&p, line), "missing {line:?} in {p:#?}");
        }
    }

    #[test]
    fn mocks_take_no_retry_or_breaker() {
        let yaml = "version: 1\nupstreams:\n  m:\n    mock: { body: x }\n    timeout: 1s\n    retry: {}\n    circuit_breaker: {}\nroutes: []\n";
        let err = load_file_text("gw.yaml", yaml, &PolicyRegistry::builtin()).expect_err("bad");
        let text = err.to_string();
        assert!(
            text.contains("upstreams.m.retry: applies only to an upstream with a `url`"),
            "{text}"
        );
        assert!(
            text.contains("upstreams.m.circuit_breaker: applies only"),
            "{text}"
        );
        assert!(
            !text.contains("timeout"),
            "old timeouts on mocks stay accepted: {text}"
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let p = problems("    retry: { attempt: 3 }", "");
        assert!(
            p.iter().any(|l| l.contains("unknown field `attempt`")),
            "{p:?}"
        );
    }
}
