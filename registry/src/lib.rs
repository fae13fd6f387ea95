//! Service registry for the gateway: register, heartbeat with TTL,
//! deregister and lookup, stored through the core's [`gateway_core::KvStore`].
//!
//! The registry itself arrives with the upstream-side work; this crate fixes
//! its place in the workspace (targets → registry → core).

pub use gateway_core::KvStore;
