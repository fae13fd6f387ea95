//! The registry over a memory store with a manual clock: register,
//! heartbeat, expiry, deregister, bounds, compare-and-swap contention, and
//! the HTTP API served through a gateway.

mod api;
mod store;

use gateway_core::discovery::Instance;

/// An instance of `service` at 10.0.0.1:`port`.
fn instance(service: &str, id: &str, port: u16) -> Instance {
    Instance {
        id: id.into(),
        service: service.into(),
        address: "10.0.0.1".into(),
        port,
        scheme: "http".into(),
        weight: 1,
        zone: None,
        version: None,
        metadata: Default::default(),
    }
}
