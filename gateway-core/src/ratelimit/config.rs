//! Limit settings: the file format (`*Spec`) and the validated [`Limit`].

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::Deserialize;

use super::key::{KeyPart, Missing};
use super::quota::{self, Period};
use super::step::LimitStep;
use crate::config::ConfigProblem;

/// One limit: an algorithm, its rate and what it counts by.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    /// Name used in store keys and the `RateLimit` headers (letters,
    /// digits, `_` and `-`). Required in a route's `limits`; the map key
    /// names a top-level one.
    pub name: Option<String>,
    /// `gcra` (default; a token bucket), `sliding_window` or `quota`
    /// (calendar-aligned fixed windows).
    #[serde(default)]
    pub algorithm: AlgorithmSpec,
    /// `COUNT/PERIOD`. For `gcra` and `sliding_window` the period is `s`,
    /// `m`, `h`, `d` or a duration (`100/30s`); for `quota` it is
    /// `minute`, `hour`, `day`, `week` or `month` (`10000/month`).
    pub rate: String,
    /// `gcra` only: requests allowed at once from a full bucket. Default:
    /// the rate's count.
    pub burst: Option<u64>,
    /// `quota` only: the IANA time zone whose calendar the windows follow
    /// (`Europe/Paris`). Default `UTC`.
    pub time_zone: Option<String>,
    /// What is counted separately: a list of `client_ip` (default),
    /// `consumer`, `group`, `api_key`, `route`, `claim.NAME`,
    /// `header.NAME`. Without `route`, every route using the limit shares
    /// its counters.
    pub key: Option<Vec<String>>,
    /// IPv6 clients are counted by this many leading bits. Default 64.
    pub ipv6_prefix: Option<u8>,
    /// `exact` (default) needs a store with exact counters across
    /// instances (capability `atomic_counters`); `approximate` uses the
    /// bulk store (Workers KV), which may let a few extra requests through.
    #[serde(default)]
    pub accuracy: AccuracySpec,
    /// A request without a key part: `client_ip` (default; the client
    /// address stands in for it), `skip` (the limit does not apply),
    /// `shared` (all such requests share one counter) or `deny` (429).
    #[serde(default)]
    pub on_missing_key: MissingKeySpec,
    /// The store fails: `allow` (default; the request passes) or `deny` (503).
    #[serde(default)]
    pub on_store_error: StoreErrorSpec,
    /// Other rates for consumers in these groups (set by `auth`): the
    /// consumer's first group listed here wins; others get the default.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupLimitSpec>,
}

/// A consumer group's rate.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupLimitSpec {
    /// The group's rate, as the limit's `rate`.
    pub rate: Option<String>,
    /// The group's burst (`gcra`).
    pub burst: Option<u64>,
    /// The group is not limited.
    #[serde(default)]
    pub unlimited: bool,
}

/// The algorithm of a limit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmSpec {
    /// Token bucket as GCRA: a steady rate with bursts.
    #[default]
    Gcra,
    /// Sliding-window counter.
    SlidingWindow,
    /// Calendar-aligned fixed windows.
    Quota,
}

/// Which store counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccuracySpec {
    /// Exact across instances (`Env::counters`).
    #[default]
    Exact,
    /// Read-modify-write on the bulk store (`Env::store`).
    Approximate,
}

/// A request lacking a key part.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingKeySpec {
    /// Count by the client address instead.
    #[default]
    ClientIp,
    /// The limit does not apply.
    Skip,
    /// One counter for all such requests.
    Shared,
    /// Refuse with 429.
    Deny,
}

/// What to do when the store fails.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreErrorSpec {
    /// Let the request through (fail open).
    #[default]
    Allow,
    /// Refuse with 503 (fail closed).
    Deny,
}

/// A validated rate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rate {
    /// GCRA.
    Gcra { interval_ms: u64, burst: u64 },
    /// Sliding window of `window_ms` aligned to the epoch.
    Sliding { window_ms: u64, limit: u64 },
    /// Calendar quota.
    Quota {
        period: Period,
        tz: TimeZone,
        limit: u64,
    },
}

/// Largest `limit * window_ms` of a sliding window: the Redis script
/// computes in doubles, exact up to 2^53.
const MAX_SLIDING_PRODUCT: u128 = 1 << 53;

impl Rate {
    /// The step for a decision at `now_ms`, with the policy window in
    /// seconds for `RateLimit-Policy`.
    pub(crate) fn step(&self, now_ms: u64) -> Option<(LimitStep, u64)> {
        Some(match self {
            Self::Gcra { interval_ms, burst } => (
                LimitStep::Gcra {
                    interval_ms: *interval_ms,
                    burst: *burst,
                },
                (interval_ms * burst).div_ceil(1000),
            ),
            Self::Sliding { window_ms, limit } => {
                let start_ms = now_ms / window_ms * window_ms;
                (
                    LimitStep::Window {
                        start_ms,
                        end_ms: start_ms + window_ms,
                        limit: *limit,
                        sliding: true,
                    },
                    window_ms.div_ceil(1000),
                )
            }
            Self::Quota { period, tz, limit } => {
                let (start_ms, end_ms) = quota::window(*period, tz, now_ms)?;
                (
                    LimitStep::Window {
                        start_ms,
                        end_ms,
                        limit: *limit,
                        sliding: false,
                    },
                    (end_ms - start_ms).div_ceil(1000),
                )
            }
        })
    }

    fn parse(
        algorithm: AlgorithmSpec,
        rate: &str,
        burst: Option<u64>,
        tz: &TimeZone,
    ) -> Result<Self, (&'static str, String)> {
        let (count, per) = rate.split_once('/').ok_or((
            "rate",
            format!("`{rate}` is not a rate: write COUNT/PERIOD, e.g. `10/s`"),
        ))?;
        let count: u64 = count.trim().parse().ok().filter(|c| *c > 0).ok_or((
            "rate",
            format!("`{rate}`: the count is a whole number above 0"),
        ))?;
        let per = per.trim();
        if algorithm == AlgorithmSpec::Quota {
            let period = Period::parse(per).ok_or((
                "rate",
                format!("`{per}` is not a quota period: use minute, hour, day, week or month"),
            ))?;
            return Ok(Self::Quota {
                period,
                tz: tz.clone(),
                limit: count,
            });
        }
        let window_ms = window_ms(per).ok_or((
            "rate",
            format!("`{per}` is not a period: use s, m, h, d or a duration such as `30s`"),
        ))?;
        if algorithm == AlgorithmSpec::SlidingWindow {
            if u128::from(count) * u128::from(window_ms) > MAX_SLIDING_PRODUCT {
                return Err((
                    "rate",
                    format!("`{rate}` is too large for a sliding window"),
                ));
            }
            return Ok(Self::Sliding {
                window_ms,
                limit: count,
            });
        }
        let interval_ms = window_ms / count;
        if interval_ms == 0 {
            return Err((
                "rate",
                format!(
                    "`{rate}` is more than one request per millisecond; use a larger period or `sliding_window`"
                ),
            ));
        }
        let burst = burst.unwrap_or(count);
        if burst == 0 {
            return Err(("burst", "the burst is at least 1".into()));
        }
        Ok(Self::Gcra { interval_ms, burst })
    }
}

/// `s`, `m`, `h`, `d` or a duration (`30s`, `2m`, `1h`) in ms.
fn window_ms(per: &str) -> Option<u64> {
    let text = match per {
        "s" | "second" => "1s",
        "m" | "minute" => "1m",
        "h" | "hour" => "1h",
        "d" | "day" => "24h",
        other => other,
    };
    let value = serde_json::Value::String(text.to_owned());
    let d: crate::config::units::DurationSpec = serde_json::from_value(value).ok()?;
    u64::try_from(d.0.as_millis()).ok().filter(|ms| *ms > 0)
}

/// A validated limit.
#[derive(Debug)]
pub(crate) struct Limit {
    pub(crate) name: String,
    pub(crate) rate: Rate,
    /// Per-group rates, `None` = unlimited, in the limit's order.
    pub(crate) groups: Vec<(String, Option<Rate>)>,
    pub(crate) key: Vec<KeyPart>,
    pub(crate) ipv6_prefix: u8,
    pub(crate) exact: bool,
    pub(crate) missing: Missing,
    pub(crate) fail_closed: bool,
    /// Field path of `accuracy`, for the capability check.
    pub(crate) path: String,
}

impl Limit {
    /// Validates `spec` found at `at`; `name` from the map key of a
    /// top-level limit, else from `spec.name`.
    pub(crate) fn build(
        spec: &LimitSpec,
        name: Option<&str>,
        at: &str,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Self> {
        let before = problems.len();
        let mut problem = |field: &str, msg: String| {
            problems.push(ConfigProblem::new(format!("{at}.{field}"), msg));
        };
        let name = match (name, &spec.name) {
            (Some(n), _) => n.to_owned(),
            (None, Some(n)) => n.clone(),
            (None, None) => {
                problem("name", "each limit of a route needs a `name`".into());
                String::new()
            }
        };
        if !name.is_empty()
            && !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            problem(
                "name",
                format!("`{name}`: use letters, digits, `_` and `-` only"),
            );
        }
        let is_quota = spec.algorithm == AlgorithmSpec::Quota;
        let tz = match &spec.time_zone {
            Some(_) if !is_quota => {
                problem("time_zone", "only `quota` limits have a time zone".into());
                TimeZone::UTC
            }
            Some(z) => TimeZone::get(z).unwrap_or_else(|_| {
                problem(
                    "time_zone",
                    format!("`{z}` is not an IANA time zone (e.g. `Europe/Paris`)"),
                );
                TimeZone::UTC
            }),
            None => TimeZone::UTC,
        };
        if spec.burst.is_some() && spec.algorithm != AlgorithmSpec::Gcra {
            problem("burst", "only `gcra` limits have a burst".into());
        }
        let rate = Rate::parse(spec.algorithm, &spec.rate, spec.burst, &tz)
            .map_err(|(f, m)| problem(f, m))
            .ok();
        let mut groups = Vec::new();
        for (g, o) in &spec.groups {
            let rate = match (o.unlimited, &o.rate) {
                (true, None) if o.burst.is_none() => None,
                (true, _) => {
                    problem(
                        &format!("groups.{g}"),
                        "`unlimited` takes no `rate` or `burst`".into(),
                    );
                    None
                }
                (false, r) => {
                    let text = r.as_deref().unwrap_or(&spec.rate);
                    match Rate::parse(spec.algorithm, text, o.burst.or(spec.burst), &tz) {
                        Ok(r) => Some(r),
                        Err((f, m)) => {
                            problem(&format!("groups.{g}.{f}"), m);
                            None
                        }
                    }
                }
            };
            groups.push((g.clone(), rate));
        }
        let mut key = Vec::new();
        let parts: &[String] = spec.key.as_deref().unwrap_or_default();
        if spec.key.is_some() && parts.is_empty() {
            problem("key", "name at least one key part".into());
        }
        for (i, part) in parts.iter().enumerate() {
            match KeyPart::parse(part) {
                Ok(p) => key.push(p),
                Err(m) => problem(&format!("key[{i}]"), m),
            }
        }
        if spec.key.is_none() {
            key.push(KeyPart::ClientIp);
        }
        let ipv6_prefix = spec.ipv6_prefix.unwrap_or(64);
        if ipv6_prefix > 128 {
            problem("ipv6_prefix", "a prefix is 0 to 128 bits".into());
        }
        if problems.len() != before {
            return None;
        }
        Some(Self {
            name,
            rate: rate?,
            groups,
            key,
            ipv6_prefix,
            exact: spec.accuracy == AccuracySpec::Exact,
            missing: match spec.on_missing_key {
                MissingKeySpec::ClientIp => Missing::ClientIp,
                MissingKeySpec::Skip => Missing::Skip,
                MissingKeySpec::Shared => Missing::Shared,
                MissingKeySpec::Deny => Missing::Deny,
            },
            fail_closed: spec.on_store_error == StoreErrorSpec::Deny,
            path: format!("{at}.accuracy"),
        })
    }

    /// The rate for a consumer in `groups` (`None`: unlimited), with the
    /// group it came from (empty for the default).
    pub(crate) fn rate_for<'a>(&'a self, groups: &[String]) -> (Option<&'a Rate>, &'a str) {
        for g in groups {
            if let Some((name, rate)) = self.groups.iter().find(|(n, _)| n == g) {
                return (rate.as_ref(), name);
            }
        }
        (Some(&self.rate), "")
    }
}

/// The top-level `rate_limits:` section, validated: limits routes share
/// by name.
pub(crate) type SharedLimits = BTreeMap<String, std::sync::Arc<Limit>>;

/// Validates the top-level `rate_limits:` section.
pub(crate) fn build_shared(
    specs: &BTreeMap<String, LimitSpec>,
    problems: &mut Vec<ConfigProblem>,
) -> SharedLimits {
    let mut out = BTreeMap::new();
    for (name, spec) in specs {
        let at = format!("rate_limits.{name}");
        if spec.name.as_ref().is_some_and(|n| n != name) {
            problems.push(ConfigProblem::new(
                format!("{at}.name"),
                "a top-level limit is named by its key; leave `name` out",
            ));
            continue;
        }
        if let Some(l) = Limit::build(spec, Some(name), &at, problems) {
            out.insert(name.clone(), std::sync::Arc::new(l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(yaml: &str) -> Result<Limit, Vec<String>> {
        let spec: LimitSpec = serde_saphyr::from_str(yaml).expect("spec");
        let mut problems = Vec::new();
        Limit::build(&spec, None, "l", &mut problems).ok_or_else(|| {
            problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect()
        })
    }

    #[test]
    fn rates_become_steps() {
        let l = build("{ name: a, rate: 10/s, burst: 20 }").expect("valid");
        assert_eq!(
            l.rate,
            Rate::Gcra {
                interval_ms: 100,
                burst: 20
            }
        );
        assert_eq!(l.key, [KeyPart::ClientIp]);
        assert!(l.exact);
        let l = build("{ name: a, rate: 600/m }").expect("valid");
        assert_eq!(
            l.rate,
            Rate::Gcra {
                interval_ms: 100,
                burst: 600
            }
        );
        let l = build("{ name: a, algorithm: sliding_window, rate: 100/30s }").expect("valid");
        assert_eq!(
            l.rate.step(95_000).map(|s| s.0),
            Some(LimitStep::Window {
                start_ms: 90_000,
                end_ms: 120_000,
                limit: 100,
                sliding: true
            })
        );
        let l = build("{ name: a, algorithm: quota, rate: 1000/month, time_zone: Europe/Paris }")
            .expect("valid");
        assert!(matches!(
            l.rate,
            Rate::Quota {
                period: Period::Month,
                limit: 1000,
                ..
            }
        ));
    }

    #[test]
    fn mistakes_name_their_field() {
        let e = build("{ rate: 10 }").expect_err("invalid");
        assert!(
            e.iter()
                .any(|m| m.contains("l.name: each limit of a route needs a `name`")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("l.rate: `10` is not a rate")),
            "{e:?}"
        );
        let e = build("{ name: 'a b', algorithm: quota, rate: 5/fortnight, time_zone: Mars/Base, key: [cookie.x] }")
            .expect_err("invalid");
        let want = [
            "l.name: `a b`: use letters",
            "l.time_zone: `Mars/Base` is not an IANA time zone",
            "l.rate: `fortnight` is not a quota period",
            "l.key[0]: `cookie.x` is not a key part",
        ];
        for w in want {
            assert!(e.iter().any(|m| m.contains(w)), "{w}: {e:?}");
        }
        let e = build("{ name: a, rate: 5000/s }").expect_err("invalid");
        assert!(
            e[0].contains("more than one request per millisecond"),
            "{e:?}"
        );
        let e = build("{ name: a, rate: 1/s, burst: 0, time_zone: UTC }").expect_err("invalid");
        assert!(
            e.iter()
                .any(|m| m.contains("l.burst: the burst is at least 1")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m.contains("l.time_zone: only `quota`")),
            "{e:?}"
        );
        let e = build("{ name: a, rate: 1/s, groups: { gold: { unlimited: true, rate: 2/s }, free: { rate: x } } }")
            .expect_err("invalid");
        assert!(
            e.iter()
                .any(|m| m.contains("l.groups.gold: `unlimited` takes no")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("l.groups.free.rate: `x` is not a rate")),
            "{e:?}"
        );
    }

    #[test]
    fn groups_override_in_the_consumers_order() {
        let l = build(
            "{ name: a, rate: 1/s, groups: { gold: { rate: 100/s }, staff: { unlimited: true } } }",
        )
        .expect("valid");
        let g = |gs: &[&str]| {
            let gs: Vec<String> = gs.iter().map(|s| (*s).to_owned()).collect();
            let (rate, name) = l.rate_for(&gs);
            (rate.cloned(), name.to_owned())
        };
        assert_eq!(
            g(&[]),
            (
                Some(Rate::Gcra {
                    interval_ms: 1000,
                    burst: 1
                }),
                String::new()
            )
        );
        assert_eq!(
            g(&["free", "gold"]),
            (
                Some(Rate::Gcra {
                    interval_ms: 10,
                    burst: 100
                }),
                "gold".into()
            )
        );
        assert_eq!(g(&["staff", "gold"]), (None, "staff".into()));
    }
}
