//! What Spin offers the gateway. Shared with `build.rs`, which checks the
//! embedded config against it.

use gateway_core::Capabilities;

/// The Spin target's capabilities; `spin_kv` tells whether the build uses
/// Spin key-value (feature `spin-kv`) rather than memory per instance.
///
/// Spin may run any number of instances (and `wasmtime serve` one per
/// request), so state is shared only through Spin key-value, and even then
/// counters and compare-and-swap are read-modify-write, not exact. Deferred
/// work is awaited before the handler returns, so it always completes. The
/// host owns the listener and TLS; a component reads no files and cannot
/// reach Redis through this adapter.
pub fn capabilities(spin_kv: bool) -> Capabilities {
    Capabilities {
        target: "spin",
        shared_state: spin_kv,
        atomic_counters: false,
        background_work: true,
        file_system: false,
        listener: false,
        redis: false,
        max_concurrent_subrequests: None,
    }
}

/// The capabilities of this build.
pub fn this_build() -> Capabilities {
    capabilities(cfg!(feature = "spin-kv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> gateway_core::GatewayConfig {
        gateway_core::config::load_file_text(
            "gw.yaml",
            text,
            &gateway_core::PolicyRegistry::builtin(),
        )
        .expect("valid config")
    }

    #[test]
    fn redis_and_files_are_refused_naming_spin() {
        let cfg = load(
            "version: 1\nstore: redis://127.0.0.1:6379\nupstreams:\n  a: { url: 'https://x.test', ca_file: ca.pem }\n",
        );
        let text = capabilities(true)
            .check(&cfg)
            .expect_err("refused")
            .to_string();
        assert!(text.contains("target `spin` cannot reach Redis"), "{text}");
        assert!(text.contains("capability `file_system`"), "{text}");
    }

    #[test]
    fn state_is_shared_only_with_spin_kv_and_never_atomic() {
        assert!(capabilities(true).shared_state);
        assert!(!capabilities(false).shared_state);
        assert!(!capabilities(true).atomic_counters);
        assert_eq!(this_build().shared_state, cfg!(feature = "spin-kv"));
    }
}
