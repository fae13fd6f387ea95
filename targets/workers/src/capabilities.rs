//! What Cloudflare Workers offers the gateway. Shared with `build.rs`,
//! which checks the embedded config against it.

use gateway_core::Capabilities;
use gateway_core::config::StoreConfig;

/// The Durable Object binding that keeps exact counters.
pub const COUNTERS_BINDING: &str = "GATEWAY_COUNTERS";

/// The Workers target's capabilities for a config using `store`;
/// `durable_objects` tells whether the build includes the counter Durable
/// Object (feature `durable-objects`, bound as [`COUNTERS_BINDING`]).
///
/// With `store: platform`, state is shared between isolates through the
/// Workers KV binding `GATEWAY_KV`; KV is eventually consistent and has no
/// atomic operations, so exact counters and compare-and-swap go to the
/// Durable Object, which serialises them. With `store: memory` each isolate
/// keeps its own state. Deferred work continues after the response through
/// `ctx.waitUntil`. The platform owns the listener and TLS, a worker reads
/// no files and this adapter cannot reach Redis. A Workers invocation may
/// have at most six outbound connections open at once.
pub fn capabilities(store: &StoreConfig, durable_objects: bool) -> Capabilities {
    let platform = *store == StoreConfig::Platform;
    Capabilities {
        target: "workers",
        shared_state: platform,
        atomic_counters: platform && durable_objects,
        exact_counters_hint: "use `store: platform` with the `durable-objects` feature and bind the Durable Object `GATEWAY_COUNTERS` (class `GatewayCounters`)",
        platform_store: Some("Workers KV"),
        background_work: true,
        file_system: false,
        listener: false,
        redis: false,
        max_concurrent_subrequests: Some(6),
        active_health_checks: false,
        dns_discovery: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_embed::Embedded;

    fn check(text: &'static str, durable_objects: bool) -> Result<(), String> {
        let cfg = Embedded {
            name: "gw.yaml",
            text,
        }
        .load(&gateway_core::config::vars::no_vars)
        .expect("valid config");
        capabilities(&cfg.store, durable_objects)
            .check(&cfg)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn redis_and_files_are_refused_naming_workers() {
        let text = check(
            "version: 1\nstore: redis://127.0.0.1:6379\nupstreams:\n  a: { url: 'https://x.test', ca_file: ca.pem }\n",
            true,
        )
        .expect_err("refused");
        assert!(
            text.contains("target `workers` cannot reach Redis"),
            "{text}"
        );
        assert!(text.contains("capability `file_system`"), "{text}");
    }

    #[test]
    fn exact_counters_need_the_durable_object() {
        const EXACT: &str = "version: 1\nstore: { backend: platform, counters: exact }\n";
        assert!(check(EXACT, true).is_ok());
        let text = check(EXACT, false).expect_err("refused");
        assert!(
            text.contains("gw.yaml: store.counters: target `workers` cannot keep exact counters with this store (capability `atomic_counters`)"),
            "{text}"
        );
        assert!(text.contains("GATEWAY_COUNTERS"), "{text}");
        // Per-isolate memory is never exact across isolates.
        let text = check(
            "version: 1\nstore: { backend: memory, counters: exact }\n",
            true,
        )
        .expect_err("refused");
        assert!(text.contains("atomic_counters"), "{text}");
        assert!(check("version: 1\nstore: platform\n", false).is_ok());
    }

    #[test]
    fn six_subrequests_and_background_work() {
        let c = capabilities(&StoreConfig::Platform, true);
        assert!(c.shared_state && c.atomic_counters && c.background_work);
        assert_eq!(c.max_concurrent_subrequests, Some(6));
        assert!(!capabilities(&StoreConfig::Memory, true).shared_state);
    }
}
