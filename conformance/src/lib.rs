//! The cross-target conformance suite: scenario files, merging their config
//! fragments into one config, a runner that aims at any base URL, and the
//! scenario x target matrix.

pub mod run;
pub mod scenario;

use gateway_core::Capabilities;

/// The declared capabilities of a target, by name.
pub fn capabilities(target: &str) -> Option<Capabilities> {
    match target {
        "local" => Some(gateway_local::CAPABILITIES),
        // The suite's config uses the embedded in-memory store.
        "lambda" => Some(gateway_lambda::capabilities(
            &gateway_core::config::StoreConfig::Memory,
        )),
        // The suite runs the default build (memory per instance).
        "spin" => Some(gateway_spin::capabilities::capabilities(false)),
        "workers" => Some(gateway_workers::capabilities::capabilities()),
        _ => None,
    }
}
