//! Exact counters on a Durable Object (binding `GATEWAY_COUNTERS`, class
//! `GatewayCounters`).
//!
//! Workers KV is eventually consistent and has no atomic operations, so the
//! config's `counters` store (rate limits, quotas, compare-and-swap) goes
//! to a Durable Object instead when the crate is built with the feature
//! `durable-objects` (default on):
//!
//! - [`op`]: the request/response protocol between the worker and the
//!   object; [`apply`](mod@apply): what one operation does to the stored
//!   entry at a given time. Both platform-free, tested natively.
//! - `GatewayCounters` (wasm): the class, one object per key, keeping the
//!   key's entry in its transactional storage; it serialises the key's
//!   operations (one event at a time, storage calls only).
//! - `DurableCounters` (wasm): the worker's [`KvStore`](gateway_core::KvStore)
//!   that posts each operation to the key's object.
//!
//! Expiry is exact to the millisecond against the object's clock and
//! enforced on read; expired entries are deleted when next touched (lazy)
//! and by the object's alarm at the deadline.

pub mod apply;
pub mod op;

#[cfg(all(target_arch = "wasm32", feature = "durable-objects"))]
mod client;
#[cfg(all(target_arch = "wasm32", feature = "durable-objects"))]
mod object;

pub use crate::capabilities::COUNTERS_BINDING;
#[cfg(all(target_arch = "wasm32", feature = "durable-objects"))]
pub use client::DurableCounters;
#[cfg(all(target_arch = "wasm32", feature = "durable-objects"))]
pub use object::GatewayCounters;
