//! The gateway's [`KvStore`](gateway_core::KvStore) on a Redis server.
//!
//! [`RedisStore`] lets several gateway instances share rate-limit counters,
//! registry entries and other state. It talks to one Redis server through a
//! [`redis::aio::ConnectionManager`], which multiplexes concurrent commands
//! over a single connection and reconnects in the background after the
//! connection drops.
//!
//! Every operation is one round trip. Counters and compare-and-swap run as
//! Lua scripts, so they are atomic on the server across all instances.
//! Requires Redis 6.0 or newer.

mod error;
mod open;
mod script;
mod store;

pub use open::open_store;
pub use store::RedisStore;
