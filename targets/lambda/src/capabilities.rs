//! What AWS Lambda offers the gateway. Shared with `build.rs`, which checks
//! the embedded config against it.

use gateway_core::Capabilities;
use gateway_core::config::StoreConfig;

/// The Lambda target's capabilities for a config using `store`.
///
/// Instances share nothing in memory, so state is shared (and counters are
/// exact) only when the config names a Redis store. Deferred work is awaited
/// before the invocation returns, so it always completes. The function URL,
/// API Gateway or ALB owns the listener and terminates TLS.
pub fn capabilities(store: &StoreConfig) -> Capabilities {
    let redis = matches!(store, StoreConfig::Redis { .. });
    Capabilities {
        target: "lambda",
        shared_state: redis,
        atomic_counters: redis,
        exact_counters_hint: "use a redis:// store (instances share no memory)",
        platform_store: None,
        background_work: true,
        file_system: true,
        listener: false,
        redis: true,
        max_concurrent_subrequests: None,
        active_health_checks: false,
        dns_discovery: false,
    }
}
