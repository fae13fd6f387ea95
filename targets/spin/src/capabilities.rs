//! What Spin offers the gateway. Shared with `build.rs`, which checks the
//! embedded config against it.

use gateway_core::Capabilities;
use gateway_core::config::StoreConfig;

/// The Spin target's capabilities for a config using `store`; `spin_kv`
/// tells whether the build links Spin key-value (feature `spin-kv`), which
/// `store: platform` needs.
///
/// Spin may run any number of instances (and a fresh one per request), so
/// state is shared only through Spin key-value, and even then counters and
/// compare-and-swap are read-modify-write, not exact: Spin key-value has no
/// atomic operations. Deferred work is awaited before the handler returns,
/// so it always completes. The host owns the listener and TLS; a component
/// reads no files and cannot reach Redis through this adapter.
pub fn capabilities(store: &StoreConfig, spin_kv: bool) -> Capabilities {
    Capabilities {
        target: "spin",
        shared_state: spin_kv && *store == StoreConfig::Platform,
        atomic_counters: false,
        exact_counters_hint: "Spin key-value has no atomic operations; use approximate counters",
        platform_store: spin_kv.then_some("Spin key-value"),
        background_work: true,
        file_system: false,
        listener: false,
        redis: false,
        max_concurrent_subrequests: None,
        active_health_checks: false,
        dns_discovery: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_embed::Embedded;

    fn check(text: &'static str, spin_kv: bool) -> Result<(), String> {
        let cfg = Embedded {
            name: "gw.yaml",
            text,
        }
        .load(&gateway_core::config::vars::no_vars)
        .expect("valid config");
        capabilities(&cfg.store, spin_kv)
            .check(&cfg)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn redis_and_files_are_refused_naming_spin() {
        let text = check(
            "version: 1\nstore: redis://127.0.0.1:6379\nupstreams:\n  a: { url: 'https://x.test', ca_file: ca.pem }\n",
            true,
        )
        .expect_err("refused");
        assert!(text.contains("target `spin` cannot reach Redis"), "{text}");
        assert!(text.contains("capability `file_system`"), "{text}");
    }

    #[test]
    fn platform_store_needs_spin_kv_and_is_never_exact() {
        assert!(check("version: 1\nstore: platform\n", true).is_ok());
        let text = check("version: 1\nstore: platform\n", false).expect_err("refused");
        assert!(text.contains("capability `platform_store`"), "{text}");
        let text = check(
            "version: 1\nstore: { backend: platform, counters: exact }\n",
            true,
        )
        .expect_err("refused");
        assert!(
            text.contains("store.counters: target `spin` cannot keep exact counters"),
            "{text}"
        );
        assert!(capabilities(&StoreConfig::Platform, true).shared_state);
        assert!(!capabilities(&StoreConfig::Memory, true).shared_state);
    }
}
