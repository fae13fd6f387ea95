use super::*;
use crate::policy::PolicyRegistry;

fn load(text: &str) -> Result<GatewayConfig, ConfigError> {
    load_file_text("gw.yaml", text, &PolicyRegistry::builtin())
}

fn problems(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("config should be refused:\n{text}"),
        Err(e) => {
            assert_eq!(e.file, "gw.yaml");
            e.to_string().lines().map(str::to_owned).collect()
        }
    }
}

const UPSTREAMS: &str = "upstreams:\n  a: { url: http://127.0.0.1:9000 }\n";

#[test]
fn minimal_config_loads() {
    let cfg = load(&format!(
        "version: 1\n{UPSTREAMS}routes:\n  - {{ path: /x, upstream: a }}\n"
    ))
    .expect("valid");
    assert_eq!(cfg.routes().len(), 1);
    assert_eq!(cfg.routes()[0].name, "/x");
    assert_eq!(cfg.store, StoreConfig::Memory);
}

#[test]
fn json_is_accepted() {
    let text = r#"{"version": 1, "upstreams": {"a": {"mock": {"body": "hi"}}}, "routes": [{"path": "/", "upstream": "a"}]}"#;
    assert!(load_file_text("gw.json", text, &PolicyRegistry::builtin()).is_ok());
}

#[test]
fn malformed_yaml_names_the_file() {
    let err = load("version: 1\nroutes: [ {path: /x\n").expect_err("bad");
    assert_eq!(err.problems.len(), 1);
    let first = err.to_string();
    assert!(first.starts_with("gw.yaml: invalid YAML"), "{first}");
    assert!(
        first.contains("line 2 column 11: unclosed bracket"),
        "{first}"
    );
}

#[test]
fn malformed_json_gives_line_and_column() {
    let err = load_file_text("gw.json", "{\"version\": 1,,}", &PolicyRegistry::builtin())
        .expect_err("bad");
    assert!(
        err.to_string()
            .contains("gw.json: invalid JSON at line 1 column"),
        "{err}"
    );
}

#[test]
fn unknown_field_is_named_with_its_path() {
    let p = problems(&format!(
        "version: 1\n{UPSTREAMS}routes:\n  - {{ path: /x, upstream: a, polices: [] }}\n"
    ));
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("gw.yaml: routes[0]"), "{p:?}");
    assert!(p[0].contains("unknown field `polices`"), "{p:?}");
}

#[test]
fn wrong_type_is_named_with_its_path() {
    let p = problems("version: 1\nserver:\n  limits:\n    max_header_count: lots\n");
    assert!(
        p[0].starts_with("gw.yaml: server.limits.max_header_count:"),
        "{p:?}"
    );
}

#[test]
fn bad_duration_says_why() {
    let p = problems("version: 1\nupstreams:\n  a: { url: http://x, timeout: 3 days }\n");
    assert!(p[0].contains("upstreams.a.timeout"), "{p:?}");
    assert!(p[0].contains("invalid duration `3 days`"), "{p:?}");
}

#[test]
fn undefined_upstream_lists_known_ones() {
    let p = problems(&format!(
        "version: 1\n{UPSTREAMS}routes:\n  - {{ path: /x, upstream: nope }}\n"
    ));
    assert_eq!(
        p,
        vec!["gw.yaml: routes[0].upstream: unknown upstream `nope`; defined upstreams: a"]
    );
}

#[test]
fn duplicate_route_points_at_the_first() {
    let p = problems(&format!(
        "version: 1\n{UPSTREAMS}routes:\n  - {{ path: /x, methods: [GET], upstream: a }}\n  - {{ path: /x, methods: [get, post], upstream: a }}\n"
    ));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("gw.yaml: routes[1].path: duplicate route: routes[0]"),
        "{p:?}"
    );
    assert!(p[0].contains("method GET"), "{p:?}");
}

#[test]
fn conflicting_patterns_are_reported() {
    let p = problems(&format!(
        "version: 1\n{UPSTREAMS}routes:\n  - {{ path: '/x/{{a}}', upstream: a }}\n  - {{ path: '/x/{{b}}', upstream: a }}\n"
    ));
    assert!(p[0].starts_with("gw.yaml: routes[1].path:"), "{p:?}");
}

#[test]
fn several_problems_are_reported_at_once() {
    let text = r#"
version: 2
server:
  listen: not-an-address
  trusted_proxies: [10.0.0.0/99]
upstreams:
  a: { url: ftp://x }
  b: {}
  c: { mock: { status: 99 } }
routes:
  - { path: x, upstream: a, methods: [G ET] }
  - path: /y
    upstream: missing
    policies:
      - headers: { request: { set: { "bad name": v } } }
      - nosuch: {}
      - { headers: {}, rewrite: {} }
  - { path: /z, upstream: b, hosts: ["bad host"] }
"#;
    let p = problems(text);
    let expect = [
        "gw.yaml: version: unsupported config version 2",
        "gw.yaml: server.listen: `not-an-address` is not an address",
        "gw.yaml: server.trusted_proxies[0]: `10.0.0.0/99` is not an IP address or CIDR network",
        "gw.yaml: upstreams.a.url: unsupported scheme `ftp`",
        "gw.yaml: upstreams.b: an upstream needs `url`",
        "gw.yaml: upstreams.c.mock.status: not a valid HTTP status",
        "gw.yaml: routes[0].path: a path starts with `/`",
        "gw.yaml: routes[0].methods[0]: `G ET` is not an HTTP method",
        "gw.yaml: routes[1].upstream: unknown upstream `missing`",
        "gw.yaml: routes[1].policies[0].headers.request.set.bad name: `bad name` is not a valid header name",
        "gw.yaml: routes[1].policies[1]: unknown policy `nosuch`; known policies: auth, deny, headers, rate_limit, request_size, rewrite, transform, validate, waf",
        "gw.yaml: routes[1].policies[2]: a policy entry must have exactly one key",
        "gw.yaml: routes[2].hosts[0]: `bad host` is not a host name",
    ];
    for e in expect {
        assert!(
            p.iter().any(|l| l.starts_with(e)),
            "missing `{e}` in:\n{}",
            p.join("\n")
        );
    }
}

#[test]
fn policy_settings_errors_have_full_paths() {
    let p = problems(&format!(
        "version: 1\n{UPSTREAMS}routes:\n  - path: /x/{{id}}\n    upstream: a\n    policies:\n      - rewrite: {{ path: '/y/{{nope}}' }}\n      - request_size: {{ max_bytes: huge }}\n      - deny: {{ status: 500 }}\n"
    ));
    let all = p.join("\n");
    assert!(
        all.contains("routes[0].policies[0].rewrite.path: unknown variable `{nope}`"),
        "{all}"
    );
    assert!(
        all.contains("routes[0].policies[1].request_size.max_bytes: invalid size `huge`"),
        "{all}"
    );
    assert!(
        all.contains("routes[0].policies[2].deny.status: must be a 4xx status"),
        "{all}"
    );
}

#[test]
fn versioning_is_validated() {
    let p = problems(&format!(
        "version: 1\n{UPSTREAMS}routes:\n  - path: /x\n    upstream: a\n    versioning:\n      from: path\n      versions:\n        v1: {{ upstream: zz, sunset: tomorrow }}\n"
    ));
    let all = p.join("\n");
    assert!(
        all.contains("routes[0].versioning.name: the route path has no `{version}` parameter"),
        "{all}"
    );
    assert!(
        all.contains("routes[0].versioning.versions.v1.upstream: unknown upstream `zz`"),
        "{all}"
    );
    assert!(
        all.contains("routes[0].versioning.versions.v1.sunset: `tomorrow` is not a date"),
        "{all}"
    );
}

#[test]
fn store_urls_are_checked_without_leaking_credentials() {
    let p = problems("version: 1\nstore: mysql://user:secret@db/x\n");
    assert!(p[0].contains("store"), "{p:?}");
    assert!(!p[0].contains("secret"), "{p:?}");
    let cfg = load("version: 1\nstore: redis://127.0.0.1:6379/0\n").expect("valid");
    assert_eq!(
        cfg.store,
        StoreConfig::Redis {
            url: "redis://127.0.0.1:6379/0".into()
        }
    );
}

#[test]
fn limits_have_defaults_and_overrides() {
    let cfg =
        load("version: 1\nserver:\n  limits: { max_body_bytes: 2MiB, header_read_timeout: 2s }\n")
            .expect("valid");
    assert_eq!(cfg.server.limits.max_body_bytes, 2 * 1024 * 1024);
    assert_eq!(
        cfg.server.limits.header_read_timeout,
        std::time::Duration::from_secs(2)
    );
    assert_eq!(
        cfg.server.limits.max_header_count,
        Limits::default().max_header_count
    );
}

#[test]
fn committed_schema_is_current() {
    let generated = json_schema(&PolicyRegistry::builtin());
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../../schema/gateway.schema.json"))
            .expect("committed schema is JSON");
    assert_eq!(
        generated, committed,
        "run `cargo run -p local -- schema > schema/gateway.schema.json`"
    );
}

#[test]
fn schema_lists_policy_kinds() {
    let s = json_schema(&PolicyRegistry::builtin());
    let kinds = s
        .pointer("/$defs/RouteSpec/properties/policies/items/oneOf")
        .expect("policy oneOf");
    let registered = PolicyRegistry::builtin().kinds().count();
    assert!(registered >= 6, "validate and transform are built in");
    assert_eq!(kinds.as_array().map(Vec::len), Some(registered));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Arbitrary text is refused with problems, never a panic.
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            let _ = load(&text);
        }

        /// Config-shaped documents with random values load or fail cleanly,
        /// and every failure names the file.
        #[test]
        fn shaped_documents(
            path in "[/a-z{}*.%;]{0,12}",
            method in "[A-Za-z ]{0,6}",
            status in 0u16..700,
            size in "[0-9]{0,3}[kKmMiB]{0,3}",
        ) {
            let text = format!(
                "version: 1\nupstreams:\n  a: {{ mock: {{ status: {status} }} }}\nroutes:\n  - {{ path: '{path}', methods: ['{method}'], upstream: a, max_body_bytes: '{size}' }}\n"
            );
            if let Err(e) = load(&text) {
                prop_assert!(!e.problems.is_empty());
                prop_assert!(e.to_string().starts_with("gw.yaml: "));
            }
        }
    }
}

const TOKEN_SHA: &str = "registry: { token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }\n";

#[test]
fn discovered_upstreams_are_validated() {
    let p = problems(
        "version: 1\nupstreams:\n  a: { url: 'http://x', service: users }\n  b: { service: 'users/x' }\n  c: { dns: { name: 'a..b', port: 80 } }\n  d: { dns: { name: users.internal } }\n  e: { dns: { name: _http._tcp.users, srv: true, port: 80 } }\n  f: { url: 'http://x', base_path: /api }\n  g: { service: users, base_path: 'api' }\n  h: { dns: { name: users.internal, port: 80 }, discovery_cache: 1s }\n  i: { service: users, discovery_cache: 2m }\n  j: { service: users, ca_file: ca.pem }\n",
    );
    let expected = [
        "gw.yaml: upstreams.a: give one of `url`, `targets`, `mock`, `service` and `dns`, not url and service",
        "gw.yaml: upstreams.b.service: a service name starts with a letter or digit",
        "gw.yaml: upstreams.c.dns.name: `a..b` is not a DNS name",
        "gw.yaml: upstreams.d.dns.port: give the port",
        "gw.yaml: upstreams.e.dns.port: SRV records carry their ports",
        "gw.yaml: upstreams.f.base_path: applies only to `service` and `dns` upstreams",
        "gw.yaml: upstreams.g.base_path: a path starting with `/`",
        "gw.yaml: upstreams.h.discovery_cache: DNS answers are cached for their records' TTLs",
        "gw.yaml: upstreams.i.discovery_cache: at most 1m",
        "gw.yaml: upstreams.j.ca_file: `ca_file` applies to `service` or `dns` only with `scheme: https`",
    ];
    assert_eq!(p.len(), expected.len(), "{p:#?}");
    for (got, want) in p.iter().zip(expected) {
        assert!(got.starts_with(want), "{got}\nwant: {want}");
    }
    assert!(
        load("version: 1\nupstreams:\n  s: { service: users, scheme: https, base_path: /v1/, ca_file: ca.pem, discovery_cache: 0 }\n  d: { dns: { name: _http._tcp.users.internal., srv: true } }\n")
            .is_ok()
    );
}

#[test]
fn registry_section_is_validated() {
    let cfg = load(&format!("version: 1\n{TOKEN_SHA}")).expect("valid");
    assert_eq!(
        cfg.registry_prefix(),
        Some("/registry"),
        "the default prefix"
    );
    assert_eq!(
        load("version: 1\n").expect("valid").registry_prefix(),
        None,
        "off by default"
    );
    let p = problems(
        "version: 1\nregistry: { prefix: 'registry/', token_sha256: 'secret', default_ttl: 500ms, max_ttl: 100ms }\n",
    );
    let expected = [
        "gw.yaml: registry.prefix: a path like `/registry`",
        "gw.yaml: registry.token_sha256: the token is given as its SHA-256 digest",
        "gw.yaml: registry.default_ttl: must be at least 1s",
        "gw.yaml: registry.max_ttl: must be at least `default_ttl` (500 ms)",
    ];
    assert_eq!(p.len(), expected.len(), "{p:#?}");
    for (got, want) in p.iter().zip(expected) {
        assert!(got.starts_with(want), "{got}\nwant: {want}");
    }
    assert!(
        !p.iter().any(|l| l.contains("secret")),
        "the token value is not echoed: {p:#?}"
    );
}

#[test]
fn routes_under_the_registry_prefix_are_refused() {
    let p = problems(&format!(
        "version: 1\n{TOKEN_SHA}upstreams: {{ m: {{ mock: {{ body: x }} }} }}\nroutes:\n  - {{ path: /registry, upstream: m }}\n  - {{ path: '/registry/{{*rest}}', upstream: m }}\n  - {{ path: /registryx, upstream: m }}\n  - {{ path: '/{{*rest}}', upstream: m }}\n"
    ));
    assert_eq!(
        p,
        [
            "gw.yaml: routes[0].path: `/registry` is under the registry API prefix `/registry`, which the gateway answers itself; move the route or change `registry.prefix`",
            "gw.yaml: routes[1].path: `/registry/{*rest}` is under the registry API prefix `/registry`, which the gateway answers itself; move the route or change `registry.prefix`",
        ]
    );
}

#[test]
fn rate_limit_references_and_exact_limits_are_checked() {
    let text = "version: 1\nupstreams: { a: { mock: { json: {} } } }\nrate_limits:\n  global: { rate: 100/s }\n  bad: { rate: 1/fortnight }\nroutes:\n  - path: /x\n    upstream: a\n    policies:\n      - rate_limit: { use: [global, nosuch], limits: [{ name: global, rate: 1/s }] }\n";
    let err = load_file_text("gw.yaml", text, &PolicyRegistry::builtin())
        .expect_err("invalid")
        .to_string();
    for want in [
        "gw.yaml: rate_limits.bad.rate: `fortnight` is not a period",
        "gw.yaml: routes[0].policies[0].rate_limit.use[1]: no top-level rate limit is named `nosuch`",
        "gw.yaml: routes[0].policies[0].rate_limit: the limit name `global` is used twice on this route",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
    let ok = "version: 1\nupstreams: { a: { mock: { json: {} } } }\nrate_limits:\n  global: { rate: 100/s }\nroutes:\n  - path: /x\n    upstream: a\n    policies:\n      - rate_limit: { use: [global], limits: [{ name: coarse, rate: 10/m, accuracy: approximate }] }\n";
    let cfg = load_file_text("gw.yaml", ok, &PolicyRegistry::builtin()).expect("valid");
    let edge = crate::Capabilities {
        target: "edge",
        shared_state: true,
        atomic_counters: false,
        exact_counters_hint: "bind the Durable Object",
        platform_store: Some("KV"),
        background_work: true,
        file_system: false,
        listener: false,
        redis: false,
        max_concurrent_subrequests: None,
        active_health_checks: false,
        dns_discovery: false,
    };
    assert_eq!(
        edge.check(&cfg).expect_err("refused").to_string(),
        "gw.yaml: rate_limits.global.accuracy: target `edge` cannot keep exact counters with this store (capability `atomic_counters`); bind the Durable Object, or set `accuracy: approximate`"
    );
    let exact = crate::Capabilities {
        atomic_counters: true,
        ..edge
    };
    assert!(exact.check(&cfg).is_ok());
}

const PURGE: &str = "cache: { purge: { token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 } }\n";

#[test]
fn cache_settings_are_validated() {
    let cfg = load(&format!("version: 1\n{PURGE}")).expect("valid");
    assert_eq!(cfg.purge_prefix(), Some("/cache"), "the default prefix");
    assert_eq!(
        load("version: 1\n").expect("valid").purge_prefix(),
        None,
        "off by default"
    );
    let p = problems(
        "version: 1\ncache: { store: shared, max_bytes: 1MiB, max_object_bytes: 0, max_lifetime: 10ms, tag_headers: ['bad header'], purge: { prefix: cache, token_sha256: secret } }\n",
    );
    let expected = [
        "gw.yaml: cache.max_bytes: bounds the `memory` store only",
        "gw.yaml: cache.max_object_bytes: must be at least 1 byte",
        "gw.yaml: cache.max_lifetime: must be at least 1s",
        "gw.yaml: cache.tag_headers[0]: `bad header` is not a header name",
        "gw.yaml: cache.purge.prefix: a path like `/registry`",
        "gw.yaml: cache.purge.token_sha256: the token is given as its SHA-256 digest",
    ];
    assert_eq!(p.len(), expected.len(), "{p:#?}");
    for (got, want) in p.iter().zip(expected) {
        assert!(got.starts_with(want), "{got}\nwant: {want}");
    }
}

#[test]
fn route_cache_settings_are_validated() {
    let p = problems(
        "version: 1\nupstreams: { m: { mock: { body: x } } }\nroutes:\n  - path: /a\n    upstream: m\n    cache: { methods: [POST], ttl: 2h, max_ttl: 1h, max_object_bytes: 2MiB, key: { headers: [authorization], query: ['a=b'] } }\n  - path: /b\n    upstream: m\n    cache: { override: true }\n  - path: /c\n    aggregate: { backends: [ { name: x, upstream: m, path: /x } ] }\n    cache: {}\n",
    );
    let expected = [
        "gw.yaml: routes[0].cache.methods[0]: `POST` cannot be cached",
        "gw.yaml: routes[0].cache.ttl: must not exceed `max_ttl`",
        "gw.yaml: routes[0].cache.max_object_bytes: must be between 1 and `cache.max_object_bytes` (1048576)",
        "gw.yaml: routes[0].cache.key.query[0]: `a=b` is not a query parameter name",
        "gw.yaml: routes[0].cache.key.headers[0]: `authorization` carries credentials",
        "gw.yaml: routes[1].cache.override: needs `ttl`",
        "gw.yaml: routes[2].cache: an `aggregate` route cannot be cached",
    ];
    assert_eq!(p.len(), expected.len(), "{p:#?}");
    for (got, want) in p.iter().zip(expected) {
        assert!(got.starts_with(want), "{got}\nwant: {want}");
    }
}

#[test]
fn routes_under_the_purge_prefix_and_overlapping_prefixes_are_refused() {
    let p = problems(&format!(
        "version: 1\n{PURGE}registry: {{ prefix: /cache/reg, token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 }}\nupstreams: {{ m: {{ mock: {{ body: x }} }} }}\nroutes:\n  - {{ path: '/cache/{{*rest}}', upstream: m }}\n  - {{ path: /cachex, upstream: m }}\n"
    ));
    assert_eq!(
        p,
        [
            "gw.yaml: routes[0].path: `/cache/{*rest}` is under the cache purge API prefix `/cache`, which the gateway answers itself; move the route or change `cache.purge.prefix`",
            "gw.yaml: cache.purge.prefix: `/cache` overlaps the registry API prefix `/cache/reg`",
        ]
    );
}
