//! The config file format (`*Spec` types). Deserialised from YAML or JSON,
//! then validated into [`GatewayConfig`](super::GatewayConfig).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::units::{ByteSize, DurationSpec};
use crate::aggregate::AggregateSpec;
use crate::auth::{ConsumerSpec, IssuerSpec};
pub use crate::balance::{BalanceSpec, HashOnSpec, TargetDetailSpec, TargetSpec};
use crate::cache::{CacheSpec, RouteCacheSpec};
use crate::discovery::{DnsSpec, RegistrySpec, SchemeSpec};
pub use crate::health::{ActiveSpec, HealthSpec, PassiveSpec};
use crate::normalize::{EncodedSlash, Semicolons};
use crate::resilience::spec::{CircuitBreakerSpec, RetrySpec, TimeoutsSpec};

/// The whole config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewaySpec {
    /// Config format version. Only `1` exists.
    pub version: u32,
    /// Listener, limits and client-address settings.
    #[serde(default)]
    pub server: ServerSpec,
    /// Where shared state lives: `memory` (default), `platform` (the
    /// target's own store: Workers KV and Durable Objects, Spin key-value)
    /// or a `redis://` URL; or a map with `backend` and `counters`.
    #[serde(default)]
    pub store: Option<StoreSpec>,
    /// Named upstreams that routes forward to.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamSpec>,
    /// Routes, matched by host, method and path.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    /// Consumers of the API, by id: groups, scopes, hashed API keys and
    /// basic-auth passwords, for `auth` policies.
    #[serde(default)]
    pub consumers: BTreeMap<String, ConsumerSpec>,
    /// JWT issuers, by name, that `auth` policies accept tokens from.
    #[serde(default)]
    pub jwt_issuers: BTreeMap<String, IssuerSpec>,
    /// Rate limits by name, shared by the routes whose `rate_limit`
    /// policies `use` them (see docs/rate-limiting.md).
    #[serde(default)]
    pub rate_limits: BTreeMap<String, crate::ratelimit::LimitSpec>,
    /// The service registry's HTTP API, served by the gateway under a path
    /// prefix and protected by a bearer token. Off unless given.
    pub registry: Option<RegistrySpec>,
    /// API documentation: the OpenAPI document built from the routes and a
    /// docs page, served by the gateway itself. Off unless given.
    pub docs: Option<crate::openapi::DocsSpec>,
    /// Response caching: where responses are stored and the purge API.
    /// Routes opt in with their own `cache` field (see docs/caching.md).
    pub cache: Option<CacheSpec>,
    /// Distributed tracing: which traces are sampled. The gateway passes a
    /// W3C `traceparent` to upstreams either way (see docs/tracing.md).
    pub tracing: Option<crate::trace::TracingSpec>,
    /// The per-request JSON access log and request ids (see
    /// docs/observability.md). On by default.
    pub access_log: Option<crate::observe::AccessLogSpec>,
}

/// Listener and request-handling settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// Address to listen on (self-hosted target), e.g. `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// TLS termination with PEM files; HTTP/1.1 and HTTP/2 are offered by ALPN.
    pub tls: Option<TlsSpec>,
    /// Request limits.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Proxies (IPs or CIDRs) whose `X-Forwarded-For` / `Forwarded` headers
    /// are believed. Empty by default: the peer address is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Path normalisation options.
    #[serde(default)]
    pub path: PathSpec,
    /// Time allowed for in-flight requests to finish on shutdown.
    pub shutdown_grace: Option<DurationSpec>,
}

/// TLS certificate and key files (PEM).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// Certificate chain file.
    pub cert: String,
    /// Private key file.
    pub key: String,
}

/// Request limits; each has a safe default.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Longest request target (path and query); 414 beyond. Default 8KiB.
    pub max_uri_bytes: Option<ByteSize>,
    /// Most header bytes in all; 431 beyond. Default 32KiB.
    pub max_header_bytes: Option<ByteSize>,
    /// Most header fields; 431 beyond. Default 100.
    pub max_header_count: Option<usize>,
    /// Largest request body; 413 beyond. Default 10MiB. Routes may lower or raise it.
    pub max_body_bytes: Option<ByteSize>,
    /// Time allowed to receive the request head; 408 beyond. Default 10s.
    pub header_read_timeout: Option<DurationSpec>,
    /// Longest pause while receiving the request body; 408 beyond. Default 30s.
    pub body_idle_timeout: Option<DurationSpec>,
}

/// Path normalisation options.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    /// `%2F` in a path: `reject` (default) or `keep` (stays encoded).
    #[serde(default)]
    pub encoded_slash: EncodedSlash,
    /// `;` in a path: `reject` (default) or `allow`.
    #[serde(default)]
    pub semicolons: Semicolons,
}

/// An upstream: a URL or several targets to proxy to, a registered service
/// or DNS name whose instances are looked up per request, or a mock that
/// answers from config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// Base URL (`http://` or `https://`); the request path is appended to its path.
    pub url: Option<String>,
    /// Several base URLs to spread requests over, instead of `url`: plain
    /// URLs or `{ url, weight, zone }`.
    pub targets: Option<Vec<TargetSpec>>,
    /// How requests are spread over the targets. Default `round_robin`.
    pub balance: Option<BalanceSpec>,
    /// The key `balance: consistent_hash` hashes: `{ header: NAME }`,
    /// `{ cookie: NAME }`, `{ claim: NAME }` (of the JWT an `auth` policy
    /// verified) or `client_ip`. Requests without the key are balanced
    /// round robin.
    pub hash_on: Option<HashOnSpec>,
    /// This gateway's zone: requests stay on targets in the same zone while
    /// at least half of them are healthy.
    pub zone: Option<String>,
    /// Endpoint health: passive outlier ejection (on by default) and
    /// active checks (self-hosted target).
    pub health: Option<HealthSpec>,
    /// Answer from config instead of proxying.
    pub mock: Option<MockSpec>,
    /// Proxy to the live instances of this service in the gateway's
    /// registry (server-side discovery); 503 when it has none.
    pub service: Option<String>,
    /// Proxy to the addresses a DNS name resolves to (self-hosted target,
    /// capability `dns_discovery`).
    pub dns: Option<DnsSpec>,
    /// With `service` or `dns`: path prepended to the request path, e.g. `/api`.
    pub base_path: Option<String>,
    /// With `service` or `dns`: the scheme for every instance, overriding
    /// what instances registered (default: theirs; `http` for DNS).
    pub scheme: Option<SchemeSpec>,
    /// With `service`: how long looked-up instances are reused. Default 1s;
    /// `0` looks up on every request.
    pub discovery_cache: Option<DurationSpec>,
    /// Longest time to connect. Default 5s. Same as `timeouts.connect`.
    pub connect_timeout: Option<DurationSpec>,
    /// Longest time one attempt waits for the response head. Default 30s.
    /// Same as `timeouts.per_try`.
    pub timeout: Option<DurationSpec>,
    /// Connect, per-attempt and total time limits (routes may override them).
    pub timeouts: Option<TimeoutsSpec>,
    /// Retries of failed attempts (off unless given; routes may override
    /// all but the budget).
    pub retry: Option<RetrySpec>,
    /// A circuit breaker shared by the gateway instances on the same store.
    pub circuit_breaker: Option<CircuitBreakerSpec>,
    /// PEM file of the certificate authorities trusted for this `https`
    /// upstream, instead of the public roots (self-hosted target).
    pub ca_file: Option<String>,
    /// Forward the client's `Host` instead of the upstream's.
    #[serde(default)]
    pub preserve_host: bool,
}

/// A static response defined in config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MockSpec {
    /// Status code. Default 200.
    pub status: Option<u16>,
    /// Response headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A text body.
    pub body: Option<String>,
    /// A JSON body (sets `content-type: application/json`).
    pub json: Option<serde_json::Value>,
    /// Answer with a JSON description of the request as it reached the
    /// upstream (method, path, query, headers): handy to see what policies did.
    #[serde(default)]
    pub echo: bool,
}

/// One route.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Name used in logs and errors. Default: `METHODS path`.
    pub name: Option<String>,
    /// Hosts this route serves (`api.example.com`, `*.example.com`). Default: any.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Methods this route accepts. Default: any.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Path pattern: `/users/{id}`, catch-all `/files/{*rest}`.
    pub path: String,
    /// Request headers that must be present with these values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Higher wins among routes with the same pattern. Default 0.
    #[serde(default)]
    pub priority: i32,
    /// The upstream to forward to (by name). A route has either
    /// `upstream` or `aggregate`.
    pub upstream: Option<String>,
    /// Fan out to several backends and merge their JSON answers, instead of
    /// forwarding to one `upstream` (see docs/aggregation.md).
    pub aggregate: Option<AggregateSpec>,
    /// Largest request body for this route.
    pub max_body_bytes: Option<ByteSize>,
    /// Overrides the upstream's `timeout` for this route. Same as
    /// `timeouts.per_try` (for an `aggregate`: each backend's default
    /// timeout).
    pub timeout: Option<DurationSpec>,
    /// Overrides the upstream's `timeouts`, field by field.
    pub timeouts: Option<TimeoutsSpec>,
    /// Overrides the upstream's `retry` settings, field by field (not the
    /// budget).
    pub retry: Option<RetrySpec>,
    /// API versioning.
    pub versioning: Option<VersioningSpec>,
    /// Ordered policies; requests pass them in order, responses in reverse.
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
    /// Cache responses (RFC 9111, shared cache): lifetimes, methods and
    /// the key. Not for `aggregate` routes.
    pub cache: Option<RouteCacheSpec>,
}

/// One policy entry: a single key naming the kind, its settings as value,
/// e.g. `- headers: { request: { add: { x-a: "1" } } }`.
pub type PolicySpec = BTreeMap<String, serde_json::Value>;

/// Where the API version is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionSource {
    /// A route path parameter, e.g. `/{version}/users`.
    Path,
    /// A request header (default `Api-Version`).
    Header,
    /// A query parameter (default `version`).
    Query,
    /// The `Accept` media type: `application/vnd.acme.v2+json` or `application/json; version=2`.
    MediaType,
}

/// API versioning for a route.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersioningSpec {
    /// Where the version comes from.
    pub from: VersionSource,
    /// Path parameter, header or query parameter name.
    pub name: Option<String>,
    /// Version used when the request names none (not for `path`).
    pub default: Option<String>,
    /// The versions served.
    pub versions: BTreeMap<String, VersionSpec>,
}

/// One API version.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    /// Upstream for this version; default: the route's.
    pub upstream: Option<String>,
    /// Upstream path template for this version, with route parameters, e.g. `/v1/users/{id}`.
    pub path: Option<String>,
    /// When the version was (or will be) deprecated, RFC 3339 (`2026-01-31T00:00:00Z`) or a date.
    /// Sends the `Deprecation` header.
    pub deprecated: Option<String>,
    /// When the version stops working, RFC 3339 or a date. Sends the `Sunset` header.
    pub sunset: Option<String>,
    /// Documentation of the deprecation (`Link: <...>; rel="deprecation"`).
    pub link: Option<String>,
    /// Answer 410 Gone.
    #[serde(default)]
    pub retired: bool,
}

/// The `store` setting: a backend name or URL, or the long form.
#[derive(Debug, JsonSchema)]
#[serde(untagged)]
pub enum StoreSpec {
    /// `memory`, `platform` or a `redis://` URL.
    Backend(String),
    /// The backend and how exact counters must be.
    Detailed(StoreDetailSpec),
}

/// The long form of `store`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreDetailSpec {
    /// `memory`, `platform` or a `redis://` URL.
    pub backend: String,
    /// `exact` refuses the config on a target whose store cannot count
    /// exactly across instances (capability `atomic_counters`);
    /// `approximate` (default) accepts read-modify-write counters.
    #[serde(default)]
    pub counters: Option<CountersSpec>,
}

/// How exact counters and compare-and-swap must be across instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountersSpec {
    /// Exact across every instance sharing the store.
    Exact,
    /// Read-modify-write is acceptable (may lose updates under races).
    Approximate,
}

impl<'de> Deserialize<'de> for StoreSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = StoreSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`memory`, `platform`, a redis:// URL or a map with `backend`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StoreSpec, E> {
                Ok(StoreSpec::Backend(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<StoreSpec, A::Error> {
                StoreDetailSpec::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(StoreSpec::Detailed)
            }
        }
        d.deserialize_any(Visitor)
    }
}
