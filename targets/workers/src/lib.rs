//! Cloudflare Workers adapter for the gateway: a `wasm32-unknown-unknown`
//! worker built with `worker-build` (crate `worker` 0.8).
//!
//! The adapter converts the runtime's types to `http` types and implements
//! the core's environment traits; it holds no gateway logic. Build and run
//! it with `scripts/targets/workers.sh` (worker-build, then `wrangler dev`
//! with `infra/wrangler.toml`).
//!
//! # Shape
//!
//! - The config is embedded at build time (`build.rs`: `GATEWAY_CONFIG`,
//!   default the workspace's `gateway.yaml`, validated then, also against
//!   the target's [`capabilities`]) and the [`Gateway`] is built once per
//!   isolate, on its first request.
//! - Environment ([`env`](mod@env)): wall clock from `Date.now()`, sleep with
//!   `setTimeout` (`worker::Delay`), randomness seeded from
//!   `crypto.getRandomValues`, outbound HTTP through `fetch`
//!   (`http_client`, wasm only), deferred work queued and handed to
//!   `ctx.waitUntil` so it finishes after the response has been sent.
//! - State, with `store: platform`, in two stores:
//!   - `store` ([`kv`](mod@kv)), the bulk state (caches, idempotency
//!     records): the Workers KV binding `GATEWAY_KV`. Expiry is kept
//!     exactly in a small envelope (KV's own expiry, at least 60 s, only
//!     cleans up); increment and compare-and-swap on it are
//!     read-modify-write and **not atomic**, and KV may serve another
//!     location a stale value for up to a minute.
//!   - `counters` ([`durable`](mod@durable)), state that must be exact
//!     across isolates (rate limits, quotas): with the feature
//!     `durable-objects` (default), the Durable Object class
//!     `GatewayCounters` on the binding `GATEWAY_COUNTERS`, one object per
//!     key, which serialises that key's operations. Without the feature
//!     the counters are KV too, and the build refuses `counters: exact`
//!     (the target then declares `atomic_counters: false`).
//!
//!   With `store: memory` both are one per-isolate memory store.
//!
//! Everything that touches the runtime is compiled only for `wasm32`;
//! natively the crate builds the platform-free parts (config, conversions,
//! the KV envelope, the Durable Object protocol and operations, the
//! deferred queue) so the workspace can test them.

pub mod capabilities;
pub mod convert;
pub mod durable;
pub mod env;
pub mod kv;

/// The config embedded at build time by `build.rs` (through
/// `gateway-embed`, checked against this target's capabilities).
pub const EMBEDDED: gateway_embed::Embedded = gateway_embed::embedded!();

#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
pub mod http_client;

pub use gateway_core::Gateway;
// worker-build's shim exports the Durable Object classes wasm-bindgen
// exports; the class must be reachable from the crate root.
#[cfg(all(target_arch = "wasm32", feature = "durable-objects"))]
pub use durable::GatewayCounters;
