//! What Cloudflare Workers offers the gateway. Shared with `build.rs`,
//! which checks the embedded config against it.

use gateway_core::Capabilities;

/// The Workers target's capabilities.
///
/// State is shared between isolates through the Workers KV binding
/// `GATEWAY_KV`, but KV is eventually consistent and has no atomic
/// operations: counters and compare-and-swap are read-modify-write, not
/// exact (Durable Objects would make them exact). Deferred work continues
/// after the response through `ctx.waitUntil`. The platform owns the
/// listener and TLS, a worker reads no files and this adapter cannot reach
/// Redis. A Workers invocation may have at most six outbound connections
/// open at once.
pub fn capabilities() -> Capabilities {
    Capabilities {
        target: "workers",
        shared_state: true,
        atomic_counters: false,
        background_work: true,
        file_system: false,
        listener: false,
        redis: false,
        max_concurrent_subrequests: Some(6),
    }
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
    fn redis_and_files_are_refused_naming_workers() {
        let cfg = load(
            "version: 1\nstore: redis://127.0.0.1:6379\nupstreams:\n  a: { url: 'https://x.test', ca_file: ca.pem }\n",
        );
        let text = capabilities().check(&cfg).expect_err("refused").to_string();
        assert!(
            text.contains("target `workers` cannot reach Redis"),
            "{text}"
        );
        assert!(text.contains("capability `file_system`"), "{text}");
    }

    #[test]
    fn shared_but_not_atomic_with_six_subrequests() {
        let c = capabilities();
        assert!(c.shared_state);
        assert!(!c.atomic_counters);
        assert!(c.background_work);
        assert_eq!(c.max_concurrent_subrequests, Some(6));
    }
}
