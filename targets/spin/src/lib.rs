//! Fermyon Spin adapter for the gateway: a WASI 0.2 HTTP component.
//!
//! The adapter converts Spin's (WASI HTTP) types to `http` types and
//! implements the core's environment traits; it holds no gateway logic.
//! Build it with `cargo build --release -p gateway-spin --target
//! wasm32-wasip2`: the output `gateway_spin.wasm` is a component that Spin
//! 3.x (`infra/spin.toml`) and `wasmtime serve -Scli` run as is.
//!
//! # Why `spin-sdk` 5.x
//!
//! `spin-sdk` 5.2 exports `wasi:http/incoming-handler@0.2.0` through
//! `#[http_component]`, which is what Spin 3.x runs and what every WASI 0.2
//! host (`wasmtime serve`) understands. The 7.x SDK targets WASI 0.3
//! (`wasi:http@0.3`, component-model async), which Spin 3.x does not run,
//! needs a newer rustc than the workspace's MSRV and, under wasmtime, extra
//! unstable flags. Moving to 7.x is a change of this crate only.
//!
//! # Shape
//!
//! - The config is embedded at build time (`build.rs`: `GATEWAY_CONFIG`,
//!   default the workspace's `gateway.yaml`, validated then, also against
//!   the target's [`capabilities`]) and the
//!   [`Gateway`] is built once per instance. Hosts may create an instance per
//!   request (`wasmtime serve` does), so nothing in memory is shared between
//!   requests there.
//! - Environment ([`env`](mod@env)): wall clock from `SystemTime` (WASI clocks), sleep
//!   on a `wasi:clocks/monotonic-clock` pollable driven by the SDK's executor,
//!   randomness from `wasi:random`, outbound HTTP through
//!   `spin_sdk::http::send`, deferred work queued and awaited after the
//!   response has been written, before the handler returns.
//! - State ([`kv`](mod@kv)): with the `spin-kv` feature, Spin's `default` key-value
//!   store; otherwise an in-memory store per instance. Spin key-value has no
//!   expiry, atomic increment nor compare-and-swap: expiry is kept in a small
//!   envelope, and increment and compare-and-swap are read-modify-write,
//!   **not atomic across concurrent instances**.
//!
//! Everything that touches the host is compiled only for `wasm32`; natively
//! the crate builds the platform-free parts (config, conversions, the
//! key-value envelope, the deferred queue) so the workspace can test them.

pub mod capabilities;
pub mod convert;
pub mod env;
pub mod kv;

/// The config embedded at build time by `build.rs` (through
/// `gateway-embed`, checked against this target's capabilities).
pub const EMBEDDED: gateway_embed::Embedded = gateway_embed::embedded!();

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
pub mod http_client;

pub use gateway_core::Gateway;
