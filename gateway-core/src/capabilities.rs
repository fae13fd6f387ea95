//! What a target's platform offers, and checking a config against it.
//!
//! Each adapter declares its [`Capabilities`]. A config that needs something
//! the target lacks is refused at validation with a message naming the
//! target and the capability; settings the platform handles itself (its own
//! listener, TLS termination) are accepted with a warning that they do not
//! apply there.

use crate::config::{ConfigError, ConfigProblem, GatewayConfig, RouteTarget, StoreConfig};
use crate::discovery::resolve::Source;
use crate::upstream::UpstreamKind;

/// The platform features a target offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The target's name, as used in messages (`local`, `workers`, ...).
    pub target: &'static str,
    /// State is shared between the target's instances (a shared store).
    pub shared_state: bool,
    /// Counters and compare-and-swap are exact across instances.
    pub atomic_counters: bool,
    /// What would give exact counters where `atomic_counters` is false,
    /// for the refusal message (e.g. "bind the Durable Object ...").
    pub exact_counters_hint: &'static str,
    /// The platform's own store behind `store: platform`, if any.
    pub platform_store: Option<&'static str>,
    /// Work may continue after the response has been sent.
    pub background_work: bool,
    /// Files named in the config (CA bundles, certificates) can be read.
    pub file_system: bool,
    /// The gateway owns its listening sockets (address, TLS, read timeouts).
    pub listener: bool,
    /// Redis can be reached over TCP.
    pub redis: bool,
    /// Most outbound requests one request may have in flight at once.
    pub max_concurrent_subrequests: Option<u32>,
    /// Background timers can probe upstreams (`health.active`).
    pub active_health_checks: bool,
    /// Upstreams can be found through DNS (`dns:`, A/AAAA and SRV).
    pub dns_discovery: bool,
}

/// A setting that is accepted but has no effect on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityWarning {
    /// The field path.
    pub path: String,
    /// Why it does not apply.
    pub message: String,
}

impl Capabilities {
    /// Checks `config` against these capabilities: an error for what the
    /// target cannot honour, warnings for what it ignores.
    pub fn check(&self, config: &GatewayConfig) -> Result<Vec<CapabilityWarning>, ConfigError> {
        let t = self.target;
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        if matches!(config.store, StoreConfig::Redis { .. }) && !self.redis {
            problems.push(ConfigProblem::new(
                "store",
                format!(
                    "target `{t}` cannot reach Redis (capability `redis`); use the platform's store"
                ),
            ));
        }
        if config.store == StoreConfig::Platform && self.platform_store.is_none() {
            problems.push(ConfigProblem::new(
                "store",
                format!(
                    "target `{t}` has no platform store (capability `platform_store`); use `memory` or a redis:// URL"
                ),
            ));
        }
        if config.exact_counters && !self.atomic_counters {
            problems.push(ConfigProblem::new(
                "store.counters",
                format!(
                    "target `{t}` cannot keep exact counters with this store (capability `atomic_counters`); {}",
                    self.exact_counters_hint
                ),
            ));
        }
        if !self.atomic_counters {
            let mut seen = std::collections::BTreeSet::new();
            let paths = config
                .routes
                .iter()
                .flat_map(|r| r.policies.iter())
                .flat_map(|p| p.exact_counter_paths());
            for path in paths.filter(|p| seen.insert(p.clone())) {
                problems.push(ConfigProblem::new(
                    path,
                    format!(
                        "target `{t}` cannot keep exact counters with this store (capability `atomic_counters`); {}, or set `accuracy: approximate`",
                        self.exact_counters_hint
                    ),
                ));
            }
        }
        for u in &config.upstreams {
            if u.ca_file.is_some() && !self.file_system {
                problems.push(ConfigProblem::new(
                    format!("upstreams.{}.ca_file", u.name),
                    format!("target `{t}` cannot read files (capability `file_system`)"),
                ));
            }
            if u.active_health.is_some() && !self.active_health_checks {
                problems.push(ConfigProblem::new(
                    format!("upstreams.{}.health.active", u.name),
                    format!(
                        "target `{t}` cannot run active health checks (capability `active_health_checks`); passive health works on every target"
                    ),
                ));
            }
            if let UpstreamKind::Discovered(d) = &u.kind
                && matches!(d.source, Source::Dns(_))
                && !self.dns_discovery
            {
                problems.push(ConfigProblem::new(
                    format!("upstreams.{}.dns", u.name),
                    format!(
                        "target `{t}` cannot resolve DNS names for upstreams (capability `dns_discovery`); register the instances in the registry and use `service`"
                    ),
                ));
            }
        }
        if !self.shared_state {
            for u in config
                .upstreams
                .iter()
                .filter(|u| u.resilience.breaker.is_some())
            {
                warnings.push(CapabilityWarning {
                    path: format!("upstreams.{}.circuit_breaker", u.name),
                    message: format!(
                        "each instance of target `{t}` keeps its own breaker state with this store (capability `shared_state`)"
                    ),
                });
            }
        }
        if config.registry.is_some() && !self.shared_state {
            warnings.push(CapabilityWarning {
                path: "registry".into(),
                message: format!(
                    "on target `{t}` this store is not shared (capability `shared_state`): each instance keeps its own registry; use a shared store"
                ),
            });
        }
        if let Some(cap) = self.max_concurrent_subrequests {
            for (i, r) in config.routes.iter().enumerate() {
                if let RouteTarget::Aggregate(a) = &r.target
                    && a.max_concurrency > usize::try_from(cap).unwrap_or(usize::MAX)
                {
                    problems.push(ConfigProblem::new(
                        format!("routes[{i}].aggregate.max_concurrency"),
                        format!(
                            "target `{t}` allows at most {cap} outgoing requests in flight per request (capability `max_concurrent_subrequests`); set `max_concurrency` to {cap} or less"
                        ),
                    ));
                }
            }
        }
        if !self.listener {
            if config.server.listen.is_some() {
                warnings.push(CapabilityWarning {
                    path: "server.listen".into(),
                    message: format!("ignored on target `{t}`: the platform owns the listener"),
                });
            }
            if config.server.tls.is_some() {
                warnings.push(CapabilityWarning {
                    path: "server.tls".into(),
                    message: format!("ignored on target `{t}`: the platform terminates TLS"),
                });
            }
        }
        if problems.is_empty() {
            Ok(warnings)
        } else {
            Err(ConfigError {
                file: config.source().to_owned(),
                problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyRegistry;
    use crate::config::load_file_text;

    const EDGE: Capabilities = Capabilities {
        target: "edge",
        shared_state: true,
        atomic_counters: false,
        exact_counters_hint: "use a shared store",
        platform_store: Some("edge KV"),
        background_work: true,
        file_system: false,
        listener: false,
        redis: false,
        max_concurrent_subrequests: Some(6),
        active_health_checks: false,
        dns_discovery: false,
    };

    fn load(text: &str) -> GatewayConfig {
        load_file_text("gw.yaml", text, &PolicyRegistry::builtin()).expect("valid config")
    }

    #[test]
    fn missing_capabilities_are_refused_naming_target_and_capability() {
        let cfg = load(
            "version: 1\nstore: redis://127.0.0.1:6379\nupstreams:\n  a: { url: 'https://x.test', ca_file: ca.pem, health: { active: { path: /healthz } } }\n",
        );
        let err = EDGE.check(&cfg).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("gw.yaml: upstreams.a.health.active: target `edge` cannot run active health checks (capability `active_health_checks`)"),
            "{text}"
        );
        assert!(
            text.contains("gw.yaml: store: target `edge` cannot reach Redis (capability `redis`)"),
            "{text}"
        );
        assert!(text.contains("gw.yaml: upstreams.a.ca_file: target `edge` cannot read files (capability `file_system`)"), "{text}");
    }

    #[test]
    fn dns_upstreams_need_dns_discovery() {
        let cfg = load(
            "version: 1\nupstreams:\n  d: { dns: { name: users.internal, port: 80 } }\n  s: { service: users }\n",
        );
        let text = EDGE.check(&cfg).expect_err("refused").to_string();
        assert!(
            text.contains("gw.yaml: upstreams.d.dns: target `edge` cannot resolve DNS names for upstreams (capability `dns_discovery`)"),
            "{text}"
        );
        assert!(
            !text.contains("upstreams.s"),
            "registry services work everywhere: {text}"
        );
        let dns = Capabilities {
            dns_discovery: true,
            ..EDGE
        };
        assert_eq!(dns.check(&cfg).expect("accepted"), vec![]);
    }

    #[test]
    fn a_registry_without_shared_state_only_warns() {
        let cfg = load(&format!(
            "version: 1\nregistry: {{ token_sha256: {} }}\n",
            "a".repeat(64)
        ));
        assert_eq!(EDGE.check(&cfg).expect("accepted"), vec![]);
        let alone = Capabilities {
            shared_state: false,
            ..EDGE
        };
        let w = alone.check(&cfg).expect("accepted");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].path, "registry");
        assert!(
            w[0].message.contains("capability `shared_state`"),
            "{:?}",
            w[0]
        );
    }

    #[test]
    fn exact_counters_and_platform_store_need_the_capabilities() {
        let cfg = load("version: 1\nstore: { backend: platform, counters: exact }\n");
        let text = EDGE.check(&cfg).expect_err("refused").to_string();
        assert!(
            text.contains("gw.yaml: store.counters: target `edge` cannot keep exact counters with this store (capability `atomic_counters`); use a shared store"),
            "{text}"
        );
        let exact = Capabilities {
            atomic_counters: true,
            ..EDGE
        };
        assert_eq!(exact.check(&cfg).expect("accepted"), vec![]);
        let none = Capabilities {
            platform_store: None,
            ..exact
        };
        let text = none.check(&cfg).expect_err("refused").to_string();
        assert!(
            text.contains(
                "store: target `edge` has no platform store (capability `platform_store`)"
            ),
            "{text}"
        );
        // Approximate counters are fine anywhere.
        let coarse = load("version: 1\nstore: { backend: platform, counters: approximate }\n");
        assert!(EDGE.check(&coarse).is_ok());
    }

    #[test]
    fn aggregate_concurrency_above_the_platform_limit_is_refused() {
        let cfg = |n: u32| {
            load(&format!(
                "version: 1\nupstreams: {{ a: {{ mock: {{ json: {{}} }} }} }}\nroutes:\n  - path: /x\n    upstream: a\n  - path: /y\n    aggregate: {{ max_concurrency: {n}, backends: [{{ name: a, upstream: a, path: /a }}] }}\n"
            ))
        };
        let text = EDGE.check(&cfg(7)).expect_err("refused").to_string();
        assert_eq!(
            text,
            "gw.yaml: routes[1].aggregate.max_concurrency: target `edge` allows at most 6 outgoing requests in flight per request (capability `max_concurrent_subrequests`); set `max_concurrency` to 6 or less"
        );
        assert_eq!(EDGE.check(&cfg(6)).expect("accepted"), vec![]);
        let unlimited = Capabilities {
            max_concurrent_subrequests: None,
            ..EDGE
        };
        assert_eq!(unlimited.check(&cfg(64)).expect("accepted"), vec![]);
    }

    #[test]
    fn platform_owned_settings_only_warn() {
        let cfg = load(
            "version: 1\nserver:\n  listen: 127.0.0.1:8080\n  tls: { cert: c.pem, key: k.pem }\n",
        );
        let warnings = EDGE.check(&cfg).expect("accepted");
        let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, ["server.listen", "server.tls"]);
    }

    #[test]
    fn a_breaker_without_a_shared_store_warns() {
        let cfg = load(
            "version: 1\nupstreams:\n  a: { url: 'http://x.test', circuit_breaker: {} }\n  b: { url: 'http://y.test' }\n",
        );
        let alone = Capabilities {
            shared_state: false,
            ..EDGE
        };
        let warnings = alone.check(&cfg).expect("accepted");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].path, "upstreams.a.circuit_breaker");
        assert!(
            warnings[0]
                .message
                .contains("`edge` keeps its own breaker state")
        );
        assert_eq!(EDGE.check(&cfg).expect("accepted"), vec![]);
    }

    #[test]
    fn a_capable_target_accepts_everything() {
        let local = Capabilities {
            target: "local",
            file_system: true,
            listener: true,
            redis: true,
            active_health_checks: true,
            ..EDGE
        };
        let cfg = load(
            "version: 1\nserver:\n  listen: 127.0.0.1:8080\nstore: redis://127.0.0.1:6379\nupstreams:\n  a: { targets: [http://a.test, http://b.test], health: { active: { path: /healthz } } }\n",
        );
        assert_eq!(local.check(&cfg).expect("accepted"), vec![]);
    }
}
