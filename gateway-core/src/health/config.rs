//! Health settings: the file format (`health:` on an upstream) and the
//! validated form, with defaults.

use std::time::Duration;

use http::{StatusCode, Uri};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::{DurationSpec, Problems};

/// Endpoint health for an upstream that proxies (`url` or `targets`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// Outlier ejection from the answers to real requests; on by default
    /// on every target.
    pub passive: Option<PassiveSpec>,
    /// Periodic HTTP probes (self-hosted target only).
    pub active: Option<ActiveSpec>,
}

/// Passive health: an endpoint that fails `consecutive_failures` requests
/// in a row is taken out of rotation for a while.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PassiveSpec {
    /// `false` turns passive health off for this upstream. Default `true`.
    pub enabled: Option<bool>,
    /// Failures in a row that eject an endpoint. Default 5.
    pub consecutive_failures: Option<u32>,
    /// Ejection time the first time; it doubles with each ejection that
    /// follows within `max_ejection` of the previous one ending. Default 30s.
    pub base_ejection: Option<DurationSpec>,
    /// Longest ejection. Default 5m.
    pub max_ejection: Option<DurationSpec>,
    /// Most endpoints, in percent of the upstream's, that may be out of
    /// rotation at once (ejected or failing active checks) for passive
    /// health to eject another. Default 50: with two or three endpoints
    /// one may be ejected, a lone endpoint never is.
    pub max_ejected_percent: Option<u32>,
    /// Response statuses that count as failures. Default: every 5xx.
    /// Connection failures and timeouts always count.
    pub failure_statuses: Option<Vec<u16>>,
}

/// Active health checks: an HTTP `GET` to every endpoint each `interval`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveSpec {
    /// Path probed, appended to each endpoint's base path like a request's, e.g. `/healthz`.
    pub path: String,
    /// Time between probes. Default 10s.
    pub interval: Option<DurationSpec>,
    /// Longest wait for a probe's answer; a slower probe fails. Default 2s.
    pub timeout: Option<DurationSpec>,
    /// Passing probes in a row that bring an unhealthy endpoint back. Default 2.
    pub healthy_threshold: Option<u32>,
    /// Failing probes in a row that take an endpoint out. Default 3.
    pub unhealthy_threshold: Option<u32>,
    /// Statuses that pass. Default: any 2xx.
    pub expected_status: Option<Vec<u16>>,
}

/// Which statuses a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Statuses {
    /// Every status of a class (`2` for 2xx, `5` for 5xx).
    Class(u16),
    /// Exactly these.
    List(Vec<StatusCode>),
}

impl Statuses {
    pub(crate) fn contains(&self, s: StatusCode) -> bool {
        match self {
            Self::Class(c) => s.as_u16() / 100 == *c,
            Self::List(l) => l.contains(&s),
        }
    }
}

/// Passive health, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PassiveConfig {
    pub(crate) consecutive_failures: u32,
    pub(crate) base_ejection: Duration,
    pub(crate) max_ejection: Duration,
    pub(crate) max_ejected_percent: u32,
    pub(crate) failure_statuses: Statuses,
}

impl Default for PassiveConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 50,
            failure_statuses: Statuses::Class(5),
        }
    }
}

/// Active health checks, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActiveConfig {
    pub(crate) path: Uri,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) healthy_threshold: u32,
    pub(crate) unhealthy_threshold: u32,
    pub(crate) expected: Statuses,
}

fn statuses(
    list: &[u16],
    range: std::ops::RangeInclusive<u16>,
    at: &str,
    p: &mut Problems,
) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for (i, &code) in list.iter().enumerate() {
        match StatusCode::from_u16(code) {
            Ok(s) if range.contains(&code) => out.push(s),
            _ => p.push(
                format!("{at}[{i}]"),
                format!(
                    "`{code}` is not a status from {} to {}",
                    range.start(),
                    range.end()
                ),
            ),
        }
    }
    out
}

fn at_least_one(v: Option<u32>, default: u32, at: String, p: &mut Problems) -> u32 {
    match v {
        Some(0) => {
            p.push(at, "must be at least 1");
            default
        }
        Some(n) => n,
        None => default,
    }
}

/// Validates `health.passive`; `None` when switched off.
pub(crate) fn build_passive(
    spec: Option<&PassiveSpec>,
    at: &str,
    p: &mut Problems,
) -> Option<PassiveConfig> {
    let d = PassiveConfig::default();
    let Some(s) = spec else {
        return Some(d);
    };
    let base_ejection = s.base_ejection.map_or(d.base_ejection, |x| x.0);
    let max_ejection = s.max_ejection.map_or(d.max_ejection, |x| x.0);
    if base_ejection.is_zero() {
        p.push(format!("{at}.base_ejection"), "must be longer than 0");
    }
    if max_ejection < base_ejection {
        p.push(
            format!("{at}.max_ejection"),
            format!(
                "must be at least `base_ejection` ({} ms)",
                base_ejection.as_millis()
            ),
        );
    }
    let max_ejected_percent = s.max_ejected_percent.unwrap_or(d.max_ejected_percent);
    if max_ejected_percent > 100 {
        p.push(format!("{at}.max_ejected_percent"), "must be from 0 to 100");
    }
    let failure_statuses = match &s.failure_statuses {
        Some(l) => Statuses::List(statuses(l, 400..=599, &format!("{at}.failure_statuses"), p)),
        None => d.failure_statuses,
    };
    let cfg = PassiveConfig {
        consecutive_failures: at_least_one(
            s.consecutive_failures,
            d.consecutive_failures,
            format!("{at}.consecutive_failures"),
            p,
        ),
        base_ejection,
        max_ejection,
        max_ejected_percent,
        failure_statuses,
    };
    s.enabled.unwrap_or(true).then_some(cfg)
}

/// Validates `health.active`.
pub(crate) fn build_active(s: &ActiveSpec, at: &str, p: &mut Problems) -> Option<ActiveConfig> {
    let before = p.len();
    let path = match s.path.parse::<Uri>() {
        Ok(u) if s.path.starts_with('/') && u.scheme().is_none() => u,
        _ => {
            p.push(
                format!("{at}.path"),
                format!("`{}` is not a path starting with `/`", s.path),
            );
            Uri::from_static("/")
        }
    };
    let interval = s.interval.map_or(Duration::from_secs(10), |d| d.0);
    let timeout = s.timeout.map_or(Duration::from_secs(2), |d| d.0);
    if interval.is_zero() {
        p.push(format!("{at}.interval"), "must be longer than 0");
    }
    if timeout.is_zero() {
        p.push(format!("{at}.timeout"), "must be longer than 0");
    } else if timeout > interval {
        p.push(
            format!("{at}.timeout"),
            format!(
                "must not be longer than `interval` ({} ms)",
                interval.as_millis()
            ),
        );
    }
    let expected = match &s.expected_status {
        Some(l) if l.is_empty() => {
            p.push(format!("{at}.expected_status"), "list at least one status");
            Statuses::Class(2)
        }
        Some(l) => Statuses::List(statuses(l, 100..=599, &format!("{at}.expected_status"), p)),
        None => Statuses::Class(2),
    };
    let cfg = ActiveConfig {
        path,
        interval,
        timeout,
        healthy_threshold: at_least_one(
            s.healthy_threshold,
            2,
            format!("{at}.healthy_threshold"),
            p,
        ),
        unhealthy_threshold: at_least_one(
            s.unhealthy_threshold,
            3,
            format!("{at}.unhealthy_threshold"),
            p,
        ),
        expected,
    };
    (p.len() == before).then_some(cfg)
}
