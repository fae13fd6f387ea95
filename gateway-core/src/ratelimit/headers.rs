//! Response headers that tell clients about their limits.
//!
//! `ietf` follows draft-ietf-httpapi-ratelimit-headers (-10): structured
//! field lists `RateLimit-Policy: "name";q=QUOTA;w=WINDOW` for every limit
//! and `RateLimit: "name";r=REMAINING;t=RESET` for the most restrictive
//! one. `legacy` sends `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (seconds) for the most restrictive limit.

use http::{HeaderMap, HeaderName, HeaderValue};
use schemars::JsonSchema;
use serde::Deserialize;

use super::step::LimitDecision;

/// Which rate-limit headers responses carry.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeaderStyle {
    /// `RateLimit` and `RateLimit-Policy` (IETF draft).
    #[default]
    Ietf,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
    Legacy,
    /// None.
    None,
}

/// One limit's answer for the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The limit's name.
    pub(crate) name: String,
    /// The decision.
    pub(crate) decision: LimitDecision,
    /// The policy window in seconds.
    pub(crate) window_s: u64,
}

/// The most restrictive outcome: denied first, then fewest remaining,
/// then the longest wait.
pub(crate) fn most_restrictive(outcomes: &[Outcome]) -> Option<&Outcome> {
    outcomes.iter().min_by_key(|o| {
        (
            o.decision.allowed,
            o.decision.remaining,
            std::cmp::Reverse(o.decision.reset_s),
        )
    })
}

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Writes the headers for `outcomes` in `style`.
pub(crate) fn write(style: HeaderStyle, outcomes: &[Outcome], headers: &mut HeaderMap) {
    let Some(top) = most_restrictive(outcomes) else {
        return;
    };
    let d = &top.decision;
    match style {
        HeaderStyle::None => {}
        HeaderStyle::Ietf => {
            let policy: Vec<String> = outcomes
                .iter()
                .map(|o| format!("\"{}\";q={};w={}", o.name, o.decision.limit, o.window_s))
                .collect();
            // Names are letters, digits, `_` and `-` (checked at load).
            if let Ok(v) = HeaderValue::from_str(&policy.join(", ")) {
                headers.insert(RATELIMIT_POLICY, v);
            }
            let now = format!("\"{}\";r={};t={}", top.name, d.remaining, d.reset_s);
            if let Ok(v) = HeaderValue::from_str(&now) {
                headers.insert(RATELIMIT, v);
            }
        }
        HeaderStyle::Legacy => {
            headers.insert(X_LIMIT, d.limit.into());
            headers.insert(X_REMAINING, d.remaining.into());
            headers.insert(X_RESET, d.reset_s.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, allowed: bool, limit: u64, remaining: u64, reset_s: u64) -> Outcome {
        Outcome {
            name: name.into(),
            decision: LimitDecision {
                allowed,
                limit,
                remaining,
                reset_s,
                retry_after_s: (!allowed).then_some(reset_s),
            },
            window_s: 60,
        }
    }

    #[test]
    fn ietf_lists_every_policy_and_the_tightest_state() {
        let o = [
            outcome("per_ip", true, 100, 42, 18),
            outcome("per_key", true, 10, 3, 50),
        ];
        let mut h = HeaderMap::new();
        write(HeaderStyle::Ietf, &o, &mut h);
        assert_eq!(
            h["ratelimit-policy"],
            "\"per_ip\";q=100;w=60, \"per_key\";q=10;w=60"
        );
        assert_eq!(h["ratelimit"], "\"per_key\";r=3;t=50");
        assert!(h.get("x-ratelimit-limit").is_none());
    }

    #[test]
    fn a_denial_wins_and_legacy_has_three_headers() {
        let o = [
            outcome("a", true, 5, 0, 90),
            outcome("b", false, 100, 0, 10),
        ];
        assert_eq!(most_restrictive(&o).map(|o| o.name.as_str()), Some("b"));
        let mut h = HeaderMap::new();
        write(HeaderStyle::Legacy, &o, &mut h);
        assert_eq!(h["x-ratelimit-limit"], "100");
        assert_eq!(h["x-ratelimit-remaining"], "0");
        assert_eq!(h["x-ratelimit-reset"], "10");
        assert!(h.get("ratelimit").is_none());
        let mut none = HeaderMap::new();
        write(HeaderStyle::None, &o, &mut none);
        assert!(none.is_empty());
    }
}
