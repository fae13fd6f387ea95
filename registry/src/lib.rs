//! Service registry for the gateway: register, heartbeat with TTL,
//! deregister and lookup, stored through the core's [`KvStore`].
//!
//! [`Registry`] implements the core's
//! [`ServiceRegistry`](gateway_core::discovery::ServiceRegistry); every
//! target builds one over its `Env.store` and hands it to the gateway with
//! [`Gateway::with_directory`](gateway_core::Gateway::with_directory). The
//! gateway then serves the registry's HTTP API (when the config has a
//! `registry:` section) and resolves `service:` upstreams through it.
//!
//! The store needs no key listing (Workers KV and Spin key-value have none
//! through the core's trait): see [`layout`] for the documents and how they
//! are updated. Input is checked and sizes are bounded ([`Limits`]).
//!
//! With the `client` feature, [`client::RegistryClient`] lets a service
//! register itself, heartbeat and look up other services over the HTTP API,
//! through the core's `HttpClient`, `Sleep` and `Clock` (no runtime
//! lock-in).

// On wasm the env traits are not `Send`/`Sync` by design (one thread).
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

mod cas;
#[cfg(feature = "client")]
pub mod client;
pub mod layout;
mod registry;
mod validate;

#[cfg(test)]
mod tests;

pub use gateway_core::KvStore;
pub use registry::Registry;
pub use validate::Limits;
