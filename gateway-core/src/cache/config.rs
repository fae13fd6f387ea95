//! Config of response caching: the top-level `cache:` section (store, size
//! bounds, purge API) and a route's `cache:` field (lifetimes, methods, key).

use std::time::Duration;

use http::{HeaderName, Method};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::{ByteSize, DurationSpec, Problems};
use crate::discovery::config::{ApiAccess, build_api_access};

const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
const DEFAULT_MAX_OBJECT_BYTES: u64 = 1024 * 1024;
const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_PURGE_PREFIX: &str = "/cache";
/// Most bans kept; older ones are folded into one broader ban.
pub(crate) const DEFAULT_MAX_BANS: usize = 1000;

/// Where cached responses live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheStoreSpec {
    /// In this instance's memory: a least-recently-used cache bounded by
    /// `max_bytes`. Each instance has its own.
    #[default]
    Memory,
    /// The gateway's shared store (`store:`): Redis, Workers KV, Spin
    /// key-value. Instances sharing the store share the cache.
    Shared,
}

/// The top-level `cache:` section: where responses are stored and the purge
/// API. Routes opt in with their own `cache:` field.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSpec {
    /// `memory` (default) or `shared`.
    #[serde(default)]
    pub store: CacheStoreSpec,
    /// With `store: memory`: most bytes of responses kept; the least
    /// recently used go first. Default 64MiB.
    pub max_bytes: Option<ByteSize>,
    /// Largest response body stored (routes may lower it). Default 1MiB.
    pub max_object_bytes: Option<ByteSize>,
    /// Longest time an entry is kept, stale windows included; purges are
    /// remembered as long. Default 24h.
    pub max_lifetime: Option<DurationSpec>,
    /// Response headers whose values (comma or space separated) tag an
    /// entry for purging by tag. Default `Cache-Tag` and `Surrogate-Key`.
    pub tag_headers: Option<Vec<String>>,
    /// The purge API, under a path prefix and protected by a bearer token.
    /// Off unless given.
    pub purge: Option<PurgeSpec>,
}

/// The purge API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeSpec {
    /// Path prefix of the API, e.g. `/cache` (the default). Routes may not
    /// live under it.
    pub prefix: Option<String>,
    /// SHA-256 of the bearer token every purge request must present, as 64
    /// hex digits (`printf %s "$TOKEN" | local hash-key`).
    pub token_sha256: String,
}

/// What a route's cache key is made of, besides method, host, path and API
/// version.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheKeySpec {
    /// Query parameters in the key (sorted). Default: all of them. Others
    /// are removed before the request goes upstream.
    pub query: Option<Vec<String>>,
    /// Request headers in the key. Other client headers (except `Accept`,
    /// `Accept-Encoding` and `Accept-Language`, which count through `Vary`)
    /// are not sent upstream.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Key by the consumer an `auth` policy identified: authenticated
    /// requests are then cached per consumer. Without it they are never
    /// cached.
    #[serde(default)]
    pub consumer: bool,
}

/// A route's `cache:` field: its responses are stored and reused as RFC 9111
/// allows a shared cache.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteCacheSpec {
    /// Freshness lifetime for responses that give none (no `max-age`,
    /// `s-maxage` or `Expires`), or for every response with `override`.
    pub ttl: Option<DurationSpec>,
    /// Use `ttl` even when the response gives a lifetime.
    #[serde(default, rename = "override")]
    pub override_ttl: bool,
    /// Longest freshness lifetime, whatever the response says.
    pub max_ttl: Option<DurationSpec>,
    /// Methods cached: `GET` and/or `HEAD`. Default both.
    pub methods: Option<Vec<String>>,
    /// Largest body stored for this route. Default: the top-level setting.
    pub max_object_bytes: Option<ByteSize>,
    /// What the key is made of.
    #[serde(default)]
    pub key: CacheKeySpec,
}

/// The validated top-level section.
#[derive(Debug, Clone)]
pub(crate) struct CacheSettings {
    pub(crate) store: CacheStoreSpec,
    pub(crate) max_bytes: u64,
    pub(crate) max_object_bytes: u64,
    pub(crate) max_lifetime: Duration,
    pub(crate) tag_headers: Vec<HeaderName>,
    pub(crate) max_bans: usize,
    pub(crate) purge: Option<std::sync::Arc<ApiAccess>>,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            store: CacheStoreSpec::Memory,
            max_bytes: DEFAULT_MAX_BYTES,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            tag_headers: vec![
                HeaderName::from_static("cache-tag"),
                HeaderName::from_static("surrogate-key"),
            ],
            max_bans: DEFAULT_MAX_BANS,
            purge: None,
        }
    }
}

/// A route's validated cache settings.
#[derive(Debug, Clone)]
pub(crate) struct RouteCache {
    pub(crate) ttl: Option<Duration>,
    pub(crate) override_ttl: bool,
    pub(crate) max_ttl: Option<Duration>,
    pub(crate) methods: Vec<Method>,
    pub(crate) max_object_bytes: u64,
    /// Sorted, deduplicated; `None`: every parameter.
    pub(crate) key_query: Option<Vec<String>>,
    /// Lower-case, sorted.
    pub(crate) key_headers: Vec<HeaderName>,
    pub(crate) key_consumer: bool,
}

fn header_names(names: &[String], at: &str, p: &mut Problems) -> Vec<HeaderName> {
    let mut out: Vec<HeaderName> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            HeaderName::from_bytes(n.trim().as_bytes())
                .map_err(|_| p.push(format!("{at}[{i}]"), format!("`{n}` is not a header name")))
                .ok()
        })
        .collect();
    out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    out.dedup();
    out
}

/// Validates the top-level section (defaults when absent).
pub(crate) fn build_settings(spec: Option<&CacheSpec>, p: &mut Problems) -> CacheSettings {
    let d = CacheSettings::default();
    let Some(spec) = spec else { return d };
    let max_object_bytes = spec.max_object_bytes.map_or(d.max_object_bytes, |b| b.0);
    let max_bytes = spec.max_bytes.map_or(d.max_bytes, |b| b.0);
    if spec.max_bytes.is_some() && spec.store == CacheStoreSpec::Shared {
        p.push(
            "cache.max_bytes",
            "bounds the `memory` store only; the shared store is bounded by its own settings",
        );
    }
    if max_object_bytes == 0 {
        p.push("cache.max_object_bytes", "must be at least 1 byte");
    }
    if spec.store == CacheStoreSpec::Memory && max_object_bytes > max_bytes {
        p.push(
            "cache.max_object_bytes",
            format!("must not exceed `max_bytes` ({max_bytes})"),
        );
    }
    let max_lifetime = spec.max_lifetime.map_or(d.max_lifetime, |t| t.0);
    if max_lifetime < Duration::from_secs(1) {
        p.push("cache.max_lifetime", "must be at least 1s");
    }
    let tag_headers = match &spec.tag_headers {
        Some(names) => header_names(names, "cache.tag_headers", p),
        None => d.tag_headers,
    };
    let purge = spec.purge.as_ref().and_then(|s| {
        build_api_access(
            s.prefix.as_deref().unwrap_or(DEFAULT_PURGE_PREFIX),
            &s.token_sha256,
            "cache.purge",
            p,
        )
        .map(std::sync::Arc::new)
    });
    CacheSettings {
        store: spec.store,
        max_bytes,
        max_object_bytes,
        max_lifetime,
        tag_headers,
        max_bans: d.max_bans,
        purge,
    }
}

/// Validates a route's `cache` field.
pub(crate) fn build_route_cache(
    spec: &RouteCacheSpec,
    settings: &CacheSettings,
    at: &str,
    p: &mut Problems,
) -> Option<RouteCache> {
    let before = p.len();
    let methods = match &spec.methods {
        None => vec![Method::GET, Method::HEAD],
        Some(list) => {
            let mut out = Vec::new();
            for (i, m) in list.iter().enumerate() {
                match m.to_ascii_uppercase().as_str() {
                    "GET" => out.push(Method::GET),
                    "HEAD" => out.push(Method::HEAD),
                    _ => p.push(
                        format!("{at}.methods[{i}]"),
                        format!(
                            "`{m}` cannot be cached: only `GET` and `HEAD` (request bodies are not part of the key)"
                        ),
                    ),
                }
            }
            out.dedup();
            if list.is_empty() {
                p.push(format!("{at}.methods"), "name `GET`, `HEAD` or both");
            }
            out
        }
    };
    let ttl = spec.ttl.map(|t| t.0);
    if ttl.is_some_and(|t| t < Duration::from_secs(1)) {
        p.push(format!("{at}.ttl"), "must be at least 1s");
    }
    if spec.override_ttl && ttl.is_none() {
        p.push(format!("{at}.override"), "needs `ttl`");
    }
    let max_ttl = spec.max_ttl.map(|t| t.0);
    if max_ttl.is_some_and(|t| t < Duration::from_secs(1)) {
        p.push(format!("{at}.max_ttl"), "must be at least 1s");
    }
    if let (Some(t), Some(m)) = (ttl, max_ttl)
        && t > m
    {
        p.push(format!("{at}.ttl"), "must not exceed `max_ttl`");
    }
    let max_object_bytes = spec
        .max_object_bytes
        .map_or(settings.max_object_bytes, |b| b.0);
    if max_object_bytes == 0 || max_object_bytes > settings.max_object_bytes {
        p.push(
            format!("{at}.max_object_bytes"),
            format!(
                "must be between 1 and `cache.max_object_bytes` ({})",
                settings.max_object_bytes
            ),
        );
    }
    let key_query = spec.key.query.as_ref().map(|q| {
        let mut q: Vec<String> = q.clone();
        for (i, name) in q.iter().enumerate() {
            if name.is_empty() || name.contains(['&', '=', '#']) {
                p.push(
                    format!("{at}.key.query[{i}]"),
                    format!("`{name}` is not a query parameter name"),
                );
            }
        }
        q.sort();
        q.dedup();
        q
    });
    let key_headers = header_names(&spec.key.headers, &format!("{at}.key.headers"), p);
    for (i, h) in key_headers.iter().enumerate() {
        if matches!(h.as_str(), "authorization" | "cookie") && !spec.key.consumer {
            p.push(
                format!("{at}.key.headers[{i}]"),
                format!(
                    "`{h}` carries credentials: key by `consumer: true` (with an `auth` policy) instead"
                ),
            );
        }
    }
    (p.len() == before).then(|| RouteCache {
        ttl,
        override_ttl: spec.override_ttl,
        max_ttl,
        methods,
        max_object_bytes,
        key_query,
        key_headers,
        key_consumer: spec.key.consumer,
    })
}
