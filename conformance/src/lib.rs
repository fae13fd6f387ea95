//! The cross-target conformance suite: scenario files, merging their config
//! fragments into one config, a runner that aims at any base URL, and the
//! scenario x target matrix.

pub mod run;
pub mod scenario;

use gateway_core::Capabilities;
use gateway_core::config::StoreConfig;

/// The store of the suite's config.
const MEMORY: StoreConfig = StoreConfig::Memory;

/// The declared capabilities of a target, by name.
pub fn capabilities(target: &str) -> Option<Capabilities> {
    match target {
        "local" => Some(gateway_local::CAPABILITIES),
        // The suite's config uses the embedded in-memory store, and the
        // default builds of the edge targets.
        "lambda" => Some(gateway_lambda::capabilities(&MEMORY)),
        "spin" => Some(gateway_spin::capabilities::capabilities(&MEMORY, false)),
        "workers" => Some(gateway_workers::capabilities::capabilities(&MEMORY, true)),
        _ => None,
    }
}
