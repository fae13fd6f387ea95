//! File model → validated model, collecting every problem found.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};

use super::error::{ConfigError, Problems};
use super::model::{
    GatewayConfig, Limits, Route, RouteTarget, ServerConfig, StoreConfig, TlsFiles,
};
use super::spec::{
    CountersSpec, GatewaySpec, MockSpec, RouteSpec, ServerSpec, StoreSpec, UpstreamSpec,
    VersionSource, VersioningSpec,
};
use crate::aggregate::Aggregate;
use crate::auth::AuthConfig;
use crate::balance::{Balancer, build_algorithm, build_targets};
use crate::cache::config::{CacheSettings, build_route_cache, build_settings};
use crate::discovery::SchemeSpec;
use crate::discovery::config::{build_discovered, build_registry};
use crate::health::config::{build_active, build_passive};
use crate::normalize::PathConfig;
use crate::openapi::{ApiDocs, DocsConfig};
use crate::policy::template::Template;
use crate::policy::{BuildCx, PolicyRegistry};
use crate::proxy::{TrustedProxies, parse_net};
use crate::resilience::{UpstreamFields, UpstreamResilience};
use crate::router::{RouteKey, Router};
use crate::upstream::{Endpoint, Mock, Upstream, UpstreamKind};
use crate::version::{Source, VersionEntry, Versioning, parse_date};

impl GatewayConfig {
    /// Validates a parsed file. `file` names the source in errors.
    pub fn from_spec(
        file: &str,
        spec: GatewaySpec,
        registry: &PolicyRegistry,
    ) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        if spec.version != 1 {
            p.push(
                "version",
                format!(
                    "unsupported config version {}; this gateway reads version 1",
                    spec.version
                ),
            );
        }
        let server = build_server(&spec.server, &mut p);
        let cache = build_settings(spec.cache.as_ref(), &mut p);
        let tracing = crate::trace::config::build(spec.tracing.as_ref(), &mut p);
        let access_log = Arc::new(crate::observe::build_access_log(
            spec.access_log.as_ref(),
            &mut p,
        ));
        let (store, exact_counters) = build_store(spec.store.as_ref(), &mut p);
        let mut upstreams = Vec::new();
        let mut upstream_index = HashMap::new();
        for (name, u) in &spec.upstreams {
            if let Some(up) = build_upstream(name, u, &format!("upstreams.{name}"), &mut p) {
                upstream_index.insert(name.clone(), upstreams.len());
                upstreams.push(up);
            }
        }
        let mut auth_problems = Vec::new();
        let auth = Arc::new(AuthConfig::build(
            &spec.consumers,
            &spec.jwt_issuers,
            &mut auth_problems,
        ));
        p.extend(auth_problems);
        let mut limit_problems = Vec::new();
        let rate_limits = Arc::new(crate::ratelimit::build_shared(
            &spec.rate_limits,
            &mut limit_problems,
        ));
        p.extend(limit_problems);
        let mut routes = Vec::new();
        let mut keys = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, r) in spec.routes.iter().enumerate() {
            let at = format!("routes[{i}]");
            let Some((route, key)) = build_route(
                i,
                r,
                &at,
                &server,
                &spec.upstreams,
                &upstream_index,
                registry,
                &auth,
                &rate_limits,
                &cache,
                &mut p,
            ) else {
                continue;
            };
            if let Some(name) = &r.name
                && let Some(prev) = names.insert(name.clone(), i)
            {
                p.push(
                    format!("{at}.name"),
                    format!(
                        "route name `{}` is already used by routes[{prev}]",
                        route.name
                    ),
                );
            }
            keys.push(key);
            routes.push(route);
        }
        let registry = spec
            .registry
            .as_ref()
            .and_then(|r| build_registry(r, &mut p));
        if let Some(reg) = &registry {
            for (i, r) in spec.routes.iter().enumerate() {
                if reg.shadows(&r.path) {
                    p.push(
                        format!("routes[{i}].path"),
                        format!(
                            "`{}` is under the registry API prefix `{}`, which the gateway answers itself; move the route or change `registry.prefix`",
                            r.path, reg.prefix
                        ),
                    );
                }
            }
        }
        let docs = spec
            .docs
            .as_ref()
            .and_then(|d| DocsConfig::build(d, &mut p));
        if let Some(d) = &docs {
            for (i, r) in spec.routes.iter().enumerate() {
                if let Some((field, owned)) = d.shadowed_by(&r.path) {
                    p.push(
                        format!("routes[{i}].path"),
                        format!(
                            "`{}` is under `docs.{field}` (`{owned}`), which the gateway answers itself; move the route or change `docs.{field}`",
                            r.path
                        ),
                    );
                }
            }
            if let Some(reg) = &registry {
                for (field, path) in [("path", &d.path), ("openapi_path", &d.openapi_path)] {
                    if reg.shadows(path) {
                        p.push(
                            format!("docs.{field}"),
                            format!("`{path}` is under the registry API prefix `{}`", reg.prefix),
                        );
                    }
                }
            }
        }
        if let Some(purge) = &cache.purge {
            for (i, r) in spec.routes.iter().enumerate() {
                if purge.shadows(&r.path) {
                    p.push(
                        format!("routes[{i}].path"),
                        format!(
                            "`{}` is under the cache purge API prefix `{}`, which the gateway answers itself; move the route or change `cache.purge.prefix`",
                            r.path, purge.prefix
                        ),
                    );
                }
            }
            if let Some(reg) = &registry
                && (reg.shadows(&purge.prefix) || purge.shadows(&reg.prefix))
            {
                p.push(
                    "cache.purge.prefix",
                    format!(
                        "`{}` overlaps the registry API prefix `{}`",
                        purge.prefix, reg.prefix
                    ),
                );
            }
        }
        let router = match Router::build(&keys) {
            Ok(r) => r,
            Err(conflicts) => {
                for c in conflicts {
                    p.push(format!("routes[{}].path", c.route), c.message);
                }
                Router::default()
            }
        };
        if !p.is_empty() {
            return Err(p.into_error(file));
        }
        // Routes were pushed in spec order only when valid; with no problems
        // every route is present, so indices agree with `keys`.
        let names: Vec<String> = routes.iter().map(|r| r.name.to_string()).collect();
        let api = ApiDocs::build(&spec, &names, docs);
        Ok(Self {
            source: file.to_owned(),
            redacted: None,
            server,
            store,
            exact_counters,
            upstreams,
            routes,
            router,
            registry,
            api,
            cache,
            tracing,
            access_log,
        })
    }
}

/// Hides credentials in a URL for error messages.
fn redact_url(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://***{}", &s[..a], &s[b..]),
        _ => s.to_owned(),
    }
}

fn build_server(s: &ServerSpec, p: &mut Problems) -> ServerConfig {
    let listen = s
        .listen
        .as_deref()
        .and_then(|l| match l.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                p.push(
                    "server.listen",
                    format!("`{l}` is not an address like 127.0.0.1:8080"),
                );
                None
            }
        });
    let d = Limits::default();
    let l = &s.limits;
    let limits = Limits {
        max_uri_bytes: l.max_uri_bytes.map_or(d.max_uri_bytes, |b| {
            usize::try_from(b.0).unwrap_or(usize::MAX)
        }),
        max_header_bytes: l.max_header_bytes.map_or(d.max_header_bytes, |b| {
            usize::try_from(b.0).unwrap_or(usize::MAX)
        }),
        max_header_count: l.max_header_count.unwrap_or(d.max_header_count),
        max_body_bytes: l.max_body_bytes.map_or(d.max_body_bytes, |b| b.0),
        header_read_timeout: l.header_read_timeout.map_or(d.header_read_timeout, |t| t.0),
        body_idle_timeout: l.body_idle_timeout.map_or(d.body_idle_timeout, |t| t.0),
    };
    if limits.max_uri_bytes < 64 {
        p.push("server.limits.max_uri_bytes", "must be at least 64");
    }
    if limits.max_header_bytes < 1024 {
        p.push("server.limits.max_header_bytes", "must be at least 1KiB");
    }
    if limits.max_header_count == 0 {
        p.push("server.limits.max_header_count", "must be at least 1");
    }
    let nets = s
        .trusted_proxies
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            parse_net(n)
                .map_err(|e| p.push(format!("server.trusted_proxies[{i}]"), e))
                .ok()
        })
        .collect();
    let tls = s.tls.as_ref().map(|t| TlsFiles {
        cert: t.cert.clone(),
        key: t.key.clone(),
    });
    ServerConfig {
        listen,
        tls,
        path: PathConfig {
            encoded_slash: s.path.encoded_slash,
            semicolons: s.path.semicolons,
            max_len: limits.max_uri_bytes,
        },
        limits,
        trusted_proxies: TrustedProxies::new(nets),
        shutdown_grace: s.shutdown_grace.map_or(Duration::from_secs(10), |d| d.0),
    }
}

fn build_upstream(name: &str, u: &UpstreamSpec, at: &str, p: &mut Problems) -> Option<Upstream> {
    let before = p.len();
    let given: Vec<&str> = [
        ("url", u.url.is_some()),
        ("targets", u.targets.is_some()),
        ("mock", u.mock.is_some()),
        ("service", u.service.is_some()),
        ("dns", u.dns.is_some()),
    ]
    .iter()
    .filter_map(|(k, set)| set.then_some(*k))
    .collect();
    let discovered = u.service.is_some() || u.dns.is_some();
    if given.len() > 1 {
        p.push(
            at,
            format!(
                "give one of `url`, `targets`, `mock`, `service` and `dns`, not {}",
                given.join(" and ")
            ),
        );
        return None;
    }
    if !discovered {
        for (field, set) in [
            ("base_path", u.base_path.is_some()),
            ("scheme", u.scheme.is_some()),
            ("discovery_cache", u.discovery_cache.is_some()),
        ] {
            if set {
                p.push(
                    format!("{at}.{field}"),
                    "applies only to `service` and `dns` upstreams",
                );
            }
        }
    }
    let kind = match (&u.url, &u.targets, &u.mock) {
        _ if discovered => UpstreamKind::Discovered(build_discovered(u, at, p)?),
        (Some(url), None, None) => match Endpoint::parse_url(url) {
            Ok(e) => UpstreamKind::Http { endpoints: vec![e] },
            Err(e) => {
                p.push(format!("{at}.url"), e);
                return None;
            }
        },
        (None, Some(targets), None) => UpstreamKind::Http {
            endpoints: build_targets(targets, &format!("{at}.targets"), p),
        },
        (None, None, Some(m)) => UpstreamKind::Mock(build_mock(m, &format!("{at}.mock"), p)?),
        _ => {
            p.push(
                at,
                "an upstream needs `url` (http:// or https://), `targets`, `service`, `dns` or `mock`",
            );
            return None;
        }
    };
    let proxies = match &kind {
        UpstreamKind::Http { endpoints } => {
            if u.ca_file.is_some()
                && !endpoints
                    .iter()
                    .all(|e| e.scheme == http::uri::Scheme::HTTPS)
            {
                p.push(
                    format!("{at}.ca_file"),
                    "`ca_file` applies only to https:// URLs",
                );
            }
            true
        }
        UpstreamKind::Discovered(_) => {
            if u.ca_file.is_some() && u.scheme != Some(SchemeSpec::Https) {
                p.push(
                    format!("{at}.ca_file"),
                    "`ca_file` applies to `service` or `dns` only with `scheme: https`",
                );
            }
            if u.health.as_ref().is_some_and(|h| h.active.is_some()) {
                p.push(
                    format!("{at}.health.active"),
                    "active checks apply to `url` and `targets`; registered instances leave when they stop heartbeating",
                );
            }
            true
        }
        UpstreamKind::Mock(_) => {
            let set = [
                ("ca_file", u.ca_file.is_some()),
                ("balance", u.balance.is_some()),
                ("hash_on", u.hash_on.is_some()),
                ("zone", u.zone.is_some()),
                ("health", u.health.is_some()),
            ];
            for (field, _) in set.iter().filter(|(_, s)| *s) {
                p.push(
                    format!("{at}.{field}"),
                    format!(
                        "`{field}` applies only to an upstream that proxies (`url`, `targets`, `service` or `dns`)"
                    ),
                );
            }
            false
        }
    };
    let algorithm = build_algorithm(u.balance, u.hash_on.as_ref(), at, p);
    let zone = match u.zone.as_deref() {
        Some("") => {
            p.push(format!("{at}.zone"), "must not be empty");
            None
        }
        z => z.map(Arc::from),
    };
    let health = u.health.as_ref();
    let passive = build_passive(
        health.and_then(|h| h.passive.as_ref()),
        &format!("{at}.health.passive"),
        p,
    )
    .filter(|_| proxies);
    let active_health = health
        .and_then(|h| h.active.as_ref())
        .and_then(|a| build_active(a, &format!("{at}.health.active"), p));
    if p.len() != before {
        return None;
    }
    let mut problems = Vec::new();
    let resilience = UpstreamResilience::build(
        UpstreamFields {
            name,
            proxied: proxies,
            connect_timeout: u.connect_timeout,
            timeout: u.timeout,
            timeouts: u.timeouts.as_ref(),
            retry: u.retry.as_ref(),
            circuit_breaker: u.circuit_breaker.as_ref(),
        },
        at,
        &mut problems,
    );
    if !problems.is_empty() {
        p.extend(problems);
        return None;
    }
    Some(Upstream {
        name: name.into(),
        kind,
        resilience,
        preserve_host: u.preserve_host,
        ca_file: u.ca_file.as_deref().map(Into::into),
        balancer: Balancer {
            algorithm,
            zone,
            passive,
            state: Arc::default(),
        },
        active_health,
    })
}

fn build_mock(m: &MockSpec, at: &str, p: &mut Problems) -> Option<Mock> {
    let before = p.len();
    let status = match StatusCode::from_u16(m.status.unwrap_or(200)) {
        Ok(s) => s,
        Err(_) => {
            p.push(format!("{at}.status"), "not a valid HTTP status");
            StatusCode::OK
        }
    };
    let mut headers = HeaderMap::new();
    for (k, v) in &m.headers {
        match (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            (Ok(k), Ok(v)) => {
                headers.append(k, v);
            }
            _ => p.push(format!("{at}.headers.{k}"), "not a valid header"),
        }
    }
    let body = match (&m.body, &m.json, m.echo) {
        (Some(b), None, false) => Bytes::from(b.clone()),
        (None, Some(j), false) => {
            headers
                .entry(header::CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            Bytes::from(serde_json::to_vec(j).unwrap_or_default())
        }
        (None, None, _) => Bytes::new(),
        _ => {
            p.push(at, "give at most one of `body`, `json` and `echo`");
            Bytes::new()
        }
    };
    (p.len() == before).then_some(Mock {
        status,
        headers,
        body,
        echo: m.echo,
    })
}

/// Parameter names in a matchit pattern.
fn pattern_params(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(s) = rest.find('{') {
        if rest[s..].starts_with("{{") {
            rest = &rest[s + 2..];
            continue;
        }
        let Some(e) = rest[s..].find('}') else { break };
        out.push(rest[s + 1..s + e].trim_start_matches('*').to_owned());
        rest = &rest[s + e + 1..];
    }
    out
}

fn parse_methods(methods: &[String], at: &str, p: &mut Problems) -> Vec<Method> {
    let mut out = Vec::new();
    for (i, m) in methods.iter().enumerate() {
        let up = m.to_ascii_uppercase();
        match Method::from_bytes(up.as_bytes()) {
            Ok(m) if !out.contains(&m) => out.push(m),
            Ok(_) => p.push(
                format!("{at}.methods[{i}]"),
                format!("`{m}` is listed twice"),
            ),
            Err(_) => p.push(
                format!("{at}.methods[{i}]"),
                format!("`{m}` is not an HTTP method"),
            ),
        }
    }
    out
}

fn parse_hosts(hosts: &[String], at: &str, p: &mut Problems) -> Vec<String> {
    let mut out = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        let h = h.trim().to_ascii_lowercase();
        let bare = h.strip_prefix("*.").unwrap_or(&h);
        let ok = !bare.is_empty()
            && !bare.contains('*')
            && bare.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if ok {
            out.push(h);
        } else {
            p.push(
                format!("{at}.hosts[{i}]"),
                format!("`{h}` is not a host name (wildcards: `*.example.com`)"),
            );
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn build_route(
    i: usize,
    r: &RouteSpec,
    at: &str,
    server: &ServerConfig,
    upstream_specs: &BTreeMap<String, UpstreamSpec>,
    upstreams: &HashMap<String, usize>,
    registry: &PolicyRegistry,
    auth: &Arc<AuthConfig>,
    rate_limits: &Arc<crate::ratelimit::SharedLimits>,
    cache_settings: &CacheSettings,
    p: &mut Problems,
) -> Option<(Route, RouteKey)> {
    let before = p.len();
    if !r.path.starts_with('/') {
        p.push(format!("{at}.path"), "a path starts with `/`");
    }
    let methods = parse_methods(&r.methods, at, p);
    let hosts = parse_hosts(&r.hosts, at, p);
    let mut headers = Vec::new();
    for (k, v) in &r.headers {
        match (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            (Ok(k), Ok(v)) => headers.push((k, v)),
            _ => p.push(format!("{at}.headers.{k}"), "not a valid header"),
        }
    }
    let params = pattern_params(&r.path);
    let target = build_target(r, at, &params, upstream_specs, upstreams, p);
    let mut policies = Vec::new();
    for (j, spec) in r.policies.iter().enumerate() {
        let cx = BuildCx {
            path: format!("{at}.policies[{j}]"),
            params: params.clone(),
            auth: auth.clone(),
            rate_limits: rate_limits.clone(),
        };
        match registry.build(spec, &cx) {
            Ok(pol) => policies.push(pol),
            Err(problems) => p.extend(problems),
        }
    }
    let mut problems = Vec::new();
    let resilience = crate::resilience::route(
        r.timeout,
        r.timeouts.as_ref(),
        r.retry.as_ref(),
        at,
        &mut problems,
    );
    p.extend(problems);
    let versioning = r.versioning.as_ref().and_then(|v| {
        build_versioning(
            v,
            &format!("{at}.versioning"),
            &params,
            upstream_specs,
            upstreams,
            p,
        )
    });
    if matches!(target, Some(RouteTarget::Aggregate(_)))
        && let Some(v) = &r.versioning
    {
        for (name, spec) in &v.versions {
            if spec.upstream.is_some() || spec.path.is_some() {
                p.push(
                    format!("{at}.versioning.versions.{name}"),
                    "an aggregate route's versions cannot set `upstream` or `path`",
                );
            }
        }
    }
    let cache = r.cache.as_ref().and_then(|c| {
        if r.aggregate.is_some() {
            p.push(
                format!("{at}.cache"),
                "an `aggregate` route cannot be cached; cache its backends' routes instead",
            );
            return None;
        }
        build_route_cache(c, cache_settings, &format!("{at}.cache"), p)
    });
    if p.len() != before {
        return None;
    }
    // Default name: `[METHODS ][hosts]path`, e.g. `GET api.example.com/users`.
    let name = r.name.clone().unwrap_or_else(|| {
        let m: Vec<&str> = methods.iter().map(Method::as_str).collect();
        let target = format!("{}{}", hosts.join(","), r.path);
        if m.is_empty() {
            target
        } else {
            format!("{} {target}", m.join(","))
        }
    });
    let route = Route {
        name: name.into(),
        buffer_request: policies.iter().any(|p| p.needs_request_body())
            || matches!(&target, Some(RouteTarget::Aggregate(a)) if a.needs_request_body()),
        target: target?,
        buffer_response: policies.iter().any(|p| p.needs_response_body()),
        policies,
        max_body: r
            .max_body_bytes
            .map_or(server.limits.max_body_bytes, |b| b.0),
        resilience,
        versioning,
        cache,
    };
    let key = RouteKey {
        route: i,
        hosts,
        methods,
        path: r.path.clone(),
        headers,
        priority: r.priority,
    };
    Some((route, key))
}

/// The route's `upstream` or `aggregate`, exactly one of them.
fn build_target(
    r: &RouteSpec,
    at: &str,
    params: &[String],
    specs: &BTreeMap<String, UpstreamSpec>,
    upstreams: &HashMap<String, usize>,
    p: &mut Problems,
) -> Option<RouteTarget> {
    match (&r.upstream, &r.aggregate) {
        (Some(u), None) => lookup_upstream(u, &format!("{at}.upstream"), specs, upstreams, p)
            .map(RouteTarget::Upstream),
        (None, Some(a)) => {
            let at = format!("{at}.aggregate");
            let resolved: Vec<Option<usize>> = a
                .backends
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let field = format!("{at}.backends[{i}].upstream");
                    lookup_upstream(&b.upstream, &field, specs, upstreams, p)
                })
                .collect();
            Aggregate::build(a, &at, &r.path, params, &resolved, p)
                .map(|a| RouteTarget::Aggregate(Box::new(a)))
        }
        (Some(_), Some(_)) => {
            p.push(at, "give either `upstream` or `aggregate`, not both");
            None
        }
        (None, None) => {
            p.push(
                at,
                "a route needs `upstream` (an upstream's name) or `aggregate`",
            );
            None
        }
    }
}

fn lookup_upstream(
    name: &str,
    at: &str,
    specs: &BTreeMap<String, UpstreamSpec>,
    built: &HashMap<String, usize>,
    p: &mut Problems,
) -> Option<usize> {
    if let Some(&i) = built.get(name) {
        return Some(i);
    }
    if !specs.contains_key(name) {
        let known: Vec<&str> = specs.keys().map(String::as_str).collect();
        p.push(
            at,
            format!(
                "unknown upstream `{name}`; defined upstreams: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        );
    }
    None
}

fn build_versioning(
    v: &VersioningSpec,
    at: &str,
    params: &[String],
    specs: &BTreeMap<String, UpstreamSpec>,
    upstreams: &HashMap<String, usize>,
    p: &mut Problems,
) -> Option<Versioning> {
    let before = p.len();
    let source = match v.from {
        VersionSource::Path => {
            let name = v.name.clone().unwrap_or_else(|| "version".to_owned());
            if !params.contains(&name) {
                p.push(
                    format!("{at}.name"),
                    format!(
                        "the route path has no `{{{name}}}` parameter to read the version from"
                    ),
                );
            }
            if v.default.is_some() {
                p.push(
                    format!("{at}.default"),
                    "a path version is always present; `default` does not apply",
                );
            }
            Source::Path(name)
        }
        VersionSource::Header => {
            let name = v.name.as_deref().unwrap_or("api-version");
            match HeaderName::from_bytes(name.as_bytes()) {
                Ok(h) => Source::Header(h),
                Err(_) => {
                    p.push(format!("{at}.name"), "not a valid header name");
                    return None;
                }
            }
        }
        VersionSource::Query => {
            Source::Query(v.name.clone().unwrap_or_else(|| "version".to_owned()))
        }
        VersionSource::MediaType => Source::MediaType,
    };
    if v.versions.is_empty() {
        p.push(format!("{at}.versions"), "list at least one version");
    }
    let mut versions = Vec::new();
    for (name, spec) in &v.versions {
        let vat = format!("{at}.versions.{name}");
        let upstream = spec
            .upstream
            .as_deref()
            .and_then(|u| lookup_upstream(u, &format!("{vat}.upstream"), specs, upstreams, p));
        let path = spec.path.as_deref().and_then(|t| {
            if !t.starts_with('/') {
                p.push(format!("{vat}.path"), "the path must start with `/`");
                return None;
            }
            Template::parse(t, params)
                .map_err(|e| p.push(format!("{vat}.path"), e))
                .ok()
        });
        let mut date = |field: &str, value: &Option<String>| {
            value.as_deref().and_then(|s| {
                let d = parse_date(s);
                if d.is_none() {
                    p.push(
                        format!("{vat}.{field}"),
                        format!("`{s}` is not a date (2027-06-30 or 2027-06-30T00:00:00Z)"),
                    );
                }
                d
            })
        };
        let deprecated = date("deprecated", &spec.deprecated);
        let sunset = date("sunset", &spec.sunset);
        let headers = VersionEntry::lifecycle_headers(deprecated, sunset, spec.link.as_deref())
            .map_err(|e| p.push(format!("{vat}.link"), e))
            .unwrap_or_default();
        versions.push(VersionEntry {
            name: name.clone(),
            upstream,
            path,
            retired: spec.retired,
            headers,
        });
    }
    let default = v.default.as_deref().and_then(|d| {
        let i = versions.iter().position(|e| e.name == d);
        match i {
            Some(i) if versions[i].retired => {
                p.push(
                    format!("{at}.default"),
                    format!("the default version `{d}` is retired"),
                );
                None
            }
            Some(i) => Some(i),
            None => {
                p.push(
                    format!("{at}.default"),
                    format!("`{d}` is not one of the listed versions"),
                );
                None
            }
        }
    });
    (p.len() == before).then_some(Versioning {
        source,
        default,
        versions,
    })
}

/// The store backend and whether counters must be exact.
fn build_store(spec: Option<&StoreSpec>, p: &mut Problems) -> (StoreConfig, bool) {
    let (backend, at, exact) = match spec {
        None => return (StoreConfig::Memory, false),
        Some(StoreSpec::Backend(b)) => (b.as_str(), "store", false),
        Some(StoreSpec::Detailed(d)) => (
            d.backend.as_str(),
            "store.backend",
            d.counters == Some(CountersSpec::Exact),
        ),
    };
    let store = match backend {
        "memory" => StoreConfig::Memory,
        "platform" => StoreConfig::Platform,
        url if url.starts_with("redis://") || url.starts_with("rediss://") => StoreConfig::Redis {
            url: url.to_owned(),
        },
        other => {
            p.push(
                at,
                format!(
                    "`{}` is not a store: use `memory`, `platform` or a redis:// URL",
                    redact_url(other)
                ),
            );
            StoreConfig::Memory
        }
    };
    (store, exact)
}
