//! Endpoint health: passive outlier ejection from the outcomes of real
//! requests (every target), and active HTTP probes (targets that can run
//! timers; see [`Capabilities::active_health_checks`](crate::Capabilities::active_health_checks)).
//!
//! An endpoint takes requests while it is neither ejected nor failing its
//! active checks. Both kinds of state live in memory per gateway instance
//! and survive config reloads (see `upstream::state`).

mod active;
pub(crate) mod config;
mod passive;

pub(crate) use active::ProbeState;
pub use active::{ActiveHealthCheck, HealthChange};
pub(crate) use config::{ActiveConfig, PassiveConfig};
pub use config::{ActiveSpec, HealthSpec, PassiveSpec};
pub(crate) use passive::PassiveState;

#[cfg(test)]
mod tests;
