//! Config of the registry API (`registry:`) and of discovered upstreams
//! (`service:` or `dns:` instead of `url:`).

use std::time::Duration;

use http::HeaderMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::DnsQuery;
use super::names::check_service_name;
use super::resolve::{Discovered, Source};
use crate::auth::{BearerToken, parse_key_hash};
use crate::config::spec::UpstreamSpec;
use crate::config::{DurationSpec, Problems};
use crate::error::GatewayError;

/// Shortest registration TTL.
pub(crate) const MIN_TTL: Duration = Duration::from_secs(1);
const DEFAULT_PREFIX: &str = "/registry";
const DEFAULT_TTL: Duration = Duration::from_secs(30);
const DEFAULT_MAX_TTL: Duration = Duration::from_secs(300);
/// How long resolved instances of a `service` upstream are reused by default.
const DEFAULT_DISCOVERY_CACHE: Duration = Duration::from_secs(1);
const MAX_DISCOVERY_CACHE: Duration = Duration::from_secs(60);

/// The registry's HTTP API, served by the gateway itself. Off unless this
/// section is present.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySpec {
    /// Path prefix of the API, e.g. `/registry` (the default). Routes may
    /// not live under it.
    pub prefix: Option<String>,
    /// SHA-256 of the bearer token that every API request must present, as
    /// 64 hex digits (`printf %s "$TOKEN" | local hash-key`).
    pub token_sha256: String,
    /// TTL of a registration that names none. Default 30s.
    pub default_ttl: Option<DurationSpec>,
    /// Longest TTL a registration may ask for. Default 5m.
    pub max_ttl: Option<DurationSpec>,
}

/// The scheme for instances of a discovered upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SchemeSpec {
    /// Plain HTTP.
    Http,
    /// HTTPS (rustls).
    Https,
}

/// An upstream found through DNS (self-hosted target only).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsSpec {
    /// Name to resolve: A/AAAA records, or with `srv: true` SRV records
    /// (e.g. `_http._tcp.users.internal`).
    pub name: String,
    /// Port of every address; required for A/AAAA, not allowed with SRV
    /// (the records carry the ports).
    pub port: Option<u16>,
    /// Resolve SRV records: targets, ports and weights (lowest priority
    /// group only).
    #[serde(default)]
    pub srv: bool,
}

/// A gateway-served HTTP API (registry, cache purge) under a path prefix,
/// protected by a bearer token kept as its SHA-256 digest.
pub(crate) struct ApiAccess {
    /// Path prefix without trailing slash.
    pub(crate) prefix: String,
    token: BearerToken,
}

impl std::fmt::Debug for ApiAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAccess")
            .field("prefix", &self.prefix)
            .field("token", &"redacted")
            .finish()
    }
}

impl ApiAccess {
    /// Whether the API answers `path` (normalised).
    pub(crate) fn owns(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Whether a route pattern lies under the prefix: its literal start
    /// (before any parameter) is the prefix or below it.
    pub(crate) fn shadows(&self, route_path: &str) -> bool {
        let literal = route_path.split('{').next().unwrap_or(route_path);
        literal == self.prefix || literal.starts_with(&format!("{}/", self.prefix))
    }

    /// `Ok` when the request carries the token, else a 401 problem that
    /// asks for a bearer token in `realm`.
    pub(crate) fn admit(
        &self,
        headers: &HeaderMap,
        realm: &'static str,
    ) -> Result<(), GatewayError> {
        self.token.admit(headers, realm)
    }
}

/// Validates an API's prefix and token hash; `at` names the section.
pub(crate) fn build_api_access(
    prefix: &str,
    token_sha256: &str,
    at: &str,
    p: &mut Problems,
) -> Option<ApiAccess> {
    let before = p.len();
    if let Err(e) = check_prefix(prefix) {
        p.push(format!("{at}.prefix"), e);
    }
    let token = parse_key_hash(token_sha256)
        .map_err(|_| {
            p.push(
                format!("{at}.token_sha256"),
                "the token is given as its SHA-256 digest: 64 hex digits (`printf %s \"$TOKEN\" | local hash-key`)",
            );
        })
        .ok();
    (p.len() == before).then(|| ApiAccess {
        prefix: prefix.to_owned(),
        token: BearerToken::from_digest(token.unwrap_or_default()),
    })
}

/// The validated `registry` section.
#[derive(Debug)]
pub(crate) struct RegistryConfig {
    /// Prefix and token.
    pub(crate) access: ApiAccess,
    pub(crate) default_ttl: Duration,
    pub(crate) max_ttl: Duration,
}

impl std::ops::Deref for RegistryConfig {
    type Target = ApiAccess;
    fn deref(&self) -> &ApiAccess {
        &self.access
    }
}

fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    let segments_ok = prefix.len() > 1
        && prefix.starts_with('/')
        && prefix[1..].split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
        });
    if segments_ok {
        Ok(())
    } else {
        Err(
            "a path like `/registry`: starts with `/`, no trailing `/`, segments of letters, digits, `-`, `_`, `.`, `~`",
        )
    }
}

/// Validates the `registry` section.
pub(crate) fn build_registry(spec: &RegistrySpec, p: &mut Problems) -> Option<RegistryConfig> {
    let before = p.len();
    let prefix = spec.prefix.as_deref().unwrap_or(DEFAULT_PREFIX);
    let access = build_api_access(prefix, &spec.token_sha256, "registry", p);
    let default_ttl = spec.default_ttl.map_or(DEFAULT_TTL, |d| d.0);
    let max_ttl = spec
        .max_ttl
        .map_or(DEFAULT_MAX_TTL.max(default_ttl), |d| d.0);
    if default_ttl < MIN_TTL {
        p.push("registry.default_ttl", "must be at least 1s");
    }
    if max_ttl < default_ttl {
        p.push(
            "registry.max_ttl",
            format!(
                "must be at least `default_ttl` ({} ms)",
                default_ttl.as_millis()
            ),
        );
    }
    match access {
        Some(access) if p.len() == before => Some(RegistryConfig {
            access,
            default_ttl,
            max_ttl,
        }),
        _ => None,
    }
}

fn check_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The discovered part of an upstream with `service` or `dns`; `None` (and
/// problems) when it is invalid. The caller has checked that exactly one of
/// `url`, `mock`, `service` and `dns` is given.
pub(crate) fn build_discovered(u: &UpstreamSpec, at: &str, p: &mut Problems) -> Option<Discovered> {
    let before = p.len();
    let source = match (&u.service, &u.dns) {
        (Some(name), None) => {
            if let Err(e) = check_service_name(name) {
                p.push(format!("{at}.service"), e);
            }
            Source::Service(name.clone())
        }
        (None, Some(d)) => {
            if !check_dns_name(&d.name) {
                p.push(
                    format!("{at}.dns.name"),
                    format!("`{}` is not a DNS name", d.name.escape_debug()),
                );
            }
            let port = match (d.srv, d.port) {
                (false, Some(0)) | (false, None) => {
                    p.push(
                        format!("{at}.dns.port"),
                        "give the port (1-65535) of the addresses the name resolves to",
                    );
                    0
                }
                (false, Some(port)) => port,
                (true, Some(_)) => {
                    p.push(
                        format!("{at}.dns.port"),
                        "SRV records carry their ports; remove `port` or `srv`",
                    );
                    0
                }
                (true, None) => 0,
            };
            if u.discovery_cache.is_some() {
                p.push(
                    format!("{at}.discovery_cache"),
                    "DNS answers are cached for their records' TTLs; `discovery_cache` applies to `service` upstreams",
                );
            }
            Source::Dns(DnsQuery {
                name: d.name.trim_end_matches('.').to_ascii_lowercase(),
                port,
                srv: d.srv,
            })
        }
        _ => return None,
    };
    let base_path = u.base_path.as_deref().unwrap_or("");
    let base_ok = base_path.is_empty()
        || (base_path.starts_with('/')
            && base_path.parse::<http::uri::PathAndQuery>().is_ok()
            && !base_path.contains(['?', '#', '%']));
    if !base_ok {
        p.push(
            format!("{at}.base_path"),
            "a path starting with `/`, without query or escapes, e.g. `/api`",
        );
    }
    let cache_for = match source {
        // The resolver caches answers for their records' TTLs.
        Source::Dns(_) => Duration::ZERO,
        Source::Service(_) => u.discovery_cache.map_or(DEFAULT_DISCOVERY_CACHE, |d| d.0),
    };
    if cache_for > MAX_DISCOVERY_CACHE {
        p.push(format!("{at}.discovery_cache"), "at most 1m");
    }
    (p.len() == before).then(|| Discovered {
        source,
        base_path: base_path.trim_end_matches('/').to_owned(),
        scheme: u.scheme.map(|s| match s {
            SchemeSpec::Http => "http",
            SchemeSpec::Https => "https",
        }),
        cache_for,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(prefix: &str) -> RegistryConfig {
        RegistryConfig {
            access: ApiAccess {
                prefix: prefix.to_owned(),
                token: BearerToken::from_token("secret"),
            },
            default_ttl: DEFAULT_TTL,
            max_ttl: DEFAULT_MAX_TTL,
        }
    }

    #[test]
    fn prefix_ownership_is_by_segment() {
        let r = registry("/registry");
        assert!(r.owns("/registry"));
        assert!(r.owns("/registry/services"));
        assert!(!r.owns("/registryx"));
        assert!(!r.owns("/other/registry"));
        assert!(r.shadows("/registry/{*rest}"));
        assert!(r.shadows("/registry"));
        assert!(r.shadows("/registry/services/x"));
        assert!(!r.shadows("/registryx"));
        assert!(
            !r.shadows("/{*rest}"),
            "parameters before the prefix are allowed"
        );
        assert!(!r.shadows("/api/registry"));
    }

    #[test]
    fn bearer_token_is_checked() {
        let r = registry("/registry");
        let mut h = HeaderMap::new();
        assert!(r.admit(&h, "registry").is_err());
        h.insert("authorization", "Bearer secret".parse().expect("header"));
        assert!(r.admit(&h, "registry").is_ok());
        h.insert("authorization", "bearer secret".parse().expect("header"));
        assert!(r.admit(&h, "registry").is_ok());
        h.insert("authorization", "Bearer secreT".parse().expect("header"));
        assert!(r.admit(&h, "registry").is_err());
        h.insert("authorization", "Basic secret".parse().expect("header"));
        assert!(r.admit(&h, "registry").is_err());
    }

    #[test]
    fn prefixes() {
        for ok in ["/registry", "/_/reg", "/a.b~c"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/",
            "registry",
            "/registry/",
            "/a//b",
            "/a/../b",
            "/{x}",
            "/a b",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_names() {
        assert!(check_dns_name("localhost"));
        assert!(check_dns_name("_http._tcp.users.internal."));
        assert!(!check_dns_name("a..b"));
        assert!(!check_dns_name("a/b"));
        assert!(!check_dns_name(""));
    }
}
