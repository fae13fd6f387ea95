//! Balancing settings: the file format (`targets`, `balance`, `hash_on`,
//! `zone` on an upstream) and the validated form.

use std::sync::Arc;

use http::HeaderName;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::Problems;
use crate::upstream::Endpoint;

/// One entry of `targets`: a URL, or a map with `url`, `weight` and `zone`.
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub enum TargetSpec {
    /// A base URL (`http://` or `https://`), weight 1, no zone.
    Url(String),
    /// A base URL with a weight and a zone.
    Detailed(TargetDetailSpec),
}

/// The long form of a target.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetDetailSpec {
    /// Base URL (`http://` or `https://`); the request path is appended to its path.
    pub url: String,
    /// Relative share of traffic for the weighted algorithms
    /// (`weighted_round_robin`, `least_request`, `consistent_hash`,
    /// `random`). At least 1; default 1.
    pub weight: Option<u32>,
    /// The zone the target runs in, for zone preference (see the
    /// upstream's `zone`).
    pub zone: Option<String>,
}

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TargetSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a URL or a map with `url`, `weight` and `zone`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TargetSpec, E> {
                Ok(TargetSpec::Url(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<TargetSpec, A::Error> {
                TargetDetailSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(TargetSpec::Detailed)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// How requests are spread over an upstream's endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BalanceSpec {
    /// Each endpoint in turn; weights are ignored.
    #[default]
    RoundRobin,
    /// Smooth weighted round robin (as nginx does it): in every run of
    /// `sum(weights)` requests each endpoint gets its weight's share,
    /// interleaved rather than in bursts.
    WeightedRoundRobin,
    /// Power of two random choices: of two endpoints drawn at random, the
    /// one with the lower `(requests in flight + 1) × latency EWMA / weight`.
    LeastRequest,
    /// A hash ring on the key named by `hash_on`: the same key goes to the
    /// same endpoint, and when one of N endpoints leaves only its own share
    /// (about 1/N) of the keys moves.
    ConsistentHash,
    /// A random endpoint, in proportion to the weights.
    Random,
}

/// What `consistent_hash` hashes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HashOnSpec {
    /// A request header, e.g. `{ header: x-user-id }`.
    Header(String),
    /// A cookie, e.g. `{ cookie: session }`.
    Cookie(String),
    /// A claim of the JWT that an earlier `auth` policy verified, e.g. `{ claim: sub }`.
    Claim(String),
    /// The client address (after the `trusted_proxies` rule).
    ClientIp,
}

/// The balancing algorithm, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Algorithm {
    RoundRobin,
    WeightedRoundRobin,
    LeastRequest,
    ConsistentHash(HashOn),
    Random,
}

/// The source of a `consistent_hash` key, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HashOn {
    Header(HeaderName),
    Cookie(String),
    Claim(String),
    ClientIp,
}

/// Validates `balance` and `hash_on`.
pub(crate) fn build_algorithm(
    balance: Option<BalanceSpec>,
    hash_on: Option<&HashOnSpec>,
    at: &str,
    p: &mut Problems,
) -> Algorithm {
    let balance = balance.unwrap_or_default();
    let hash_at = format!("{at}.hash_on");
    match (balance, hash_on) {
        (BalanceSpec::ConsistentHash, Some(h)) => {
            build_hash_on(h, &hash_at, p).map_or(Algorithm::RoundRobin, Algorithm::ConsistentHash)
        }
        (BalanceSpec::ConsistentHash, None) => {
            p.push(
                hash_at,
                "`balance: consistent_hash` needs `hash_on`: { header: NAME }, { cookie: NAME }, { claim: NAME } or client_ip",
            );
            Algorithm::RoundRobin
        }
        (other, Some(_)) => {
            p.push(
                hash_at,
                format!(
                    "`hash_on` applies only to `balance: consistent_hash`, not `{}`",
                    balance_name(other)
                ),
            );
            Algorithm::RoundRobin
        }
        (BalanceSpec::RoundRobin, None) => Algorithm::RoundRobin,
        (BalanceSpec::WeightedRoundRobin, None) => Algorithm::WeightedRoundRobin,
        (BalanceSpec::LeastRequest, None) => Algorithm::LeastRequest,
        (BalanceSpec::Random, None) => Algorithm::Random,
    }
}

fn balance_name(b: BalanceSpec) -> &'static str {
    match b {
        BalanceSpec::RoundRobin => "round_robin",
        BalanceSpec::WeightedRoundRobin => "weighted_round_robin",
        BalanceSpec::LeastRequest => "least_request",
        BalanceSpec::ConsistentHash => "consistent_hash",
        BalanceSpec::Random => "random",
    }
}

fn build_hash_on(h: &HashOnSpec, at: &str, p: &mut Problems) -> Option<HashOn> {
    match h {
        HashOnSpec::Header(name) => match HeaderName::from_bytes(name.as_bytes()) {
            Ok(n) => Some(HashOn::Header(n)),
            Err(_) => {
                p.push(
                    format!("{at}.header"),
                    format!("`{name}` is not a valid header name"),
                );
                None
            }
        },
        HashOnSpec::Cookie(name) => {
            // RFC 6265: a cookie name is an RFC 7230 token.
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if token {
                Some(HashOn::Cookie(name.clone()))
            } else {
                p.push(
                    format!("{at}.cookie"),
                    format!("`{name}` is not a valid cookie name"),
                );
                None
            }
        }
        HashOnSpec::Claim(name) if name.is_empty() => {
            p.push(format!("{at}.claim"), "name the claim, e.g. `sub`");
            None
        }
        HashOnSpec::Claim(name) => Some(HashOn::Claim(name.clone())),
        HashOnSpec::ClientIp => Some(HashOn::ClientIp),
    }
}

/// Validates `targets` into endpoints: each URL parsed, weights at least
/// 1, zones non-empty, no URL twice (endpoint state is keyed by it).
pub(crate) fn build_targets(targets: &[TargetSpec], at: &str, p: &mut Problems) -> Vec<Endpoint> {
    if targets.is_empty() {
        p.push(at, "list at least one target");
    }
    let mut out: Vec<Endpoint> = Vec::with_capacity(targets.len());
    let mut seen: Vec<(usize, Arc<str>)> = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let (url, weight, zone, url_at) = match t {
            TargetSpec::Url(u) => (u, None, None, format!("{at}[{i}]")),
            TargetSpec::Detailed(d) => (
                &d.url,
                d.weight,
                d.zone.as_deref(),
                format!("{at}[{i}].url"),
            ),
        };
        let mut e = match Endpoint::parse_url(url) {
            Ok(e) => e,
            Err(why) => {
                p.push(url_at, why);
                continue;
            }
        };
        if let Some((prev, _)) = seen.iter().find(|(_, id)| *id == e.id) {
            p.push(
                url_at,
                format!("`{url}` is already listed as {at}[{prev}]; list each target once"),
            );
            continue;
        }
        seen.push((i, e.id.clone()));
        match weight {
            Some(0) => p.push(format!("{at}[{i}].weight"), "must be at least 1"),
            Some(w) => e.weight = w,
            None => {}
        }
        match zone {
            Some("") => p.push(format!("{at}[{i}].zone"), "must not be empty"),
            Some(z) => e.zone = Some(Arc::from(z)),
            None => {}
        }
        out.push(e);
    }
    out
}
