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
//! - State ([`kv`](mod@kv)): the Workers KV binding `GATEWAY_KV`. Expiry is
//!   kept exactly in a small envelope (KV's own expiry, at least 60 s, only
//!   cleans up); increment and compare-and-swap are read-modify-write,
//!   **not atomic** (the target declares `atomic_counters: false`; Durable
//!   Objects would make them exact).
//!
//! Everything that touches the runtime is compiled only for `wasm32`;
//! natively the crate builds the platform-free parts (config, conversions,
//! the KV envelope, the deferred queue) so the workspace can test them.

pub mod capabilities;
pub mod config;
pub mod convert;
pub mod env;
pub mod kv;

#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
pub mod http_client;

pub use gateway_core::Gateway;
