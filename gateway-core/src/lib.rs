//! Runtime-agnostic core of the gateway.
//!
//! The core owns everything that decides what happens to a request: config
//! loading and validation, path normalisation, routing, API versioning, the
//! policy pipeline, proxying rules and the error vocabulary. It reaches the
//! world only through the traits in [`env`] and [`store`], so the same code
//! runs on a self-hosted server, Cloudflare Workers, AWS Lambda and Spin.

// On wasm the env traits are not `Send`/`Sync` by design (one thread).
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

pub mod aggregate;
pub mod answer;
pub mod auth;
mod balance;
pub mod body;
pub mod cache;
pub mod capabilities;
pub mod config;
pub mod discovery;
pub mod env;
pub mod error;
pub mod gateway;
pub mod health;
pub mod normalize;
pub mod observe;
pub mod openapi;
pub mod policy;
pub mod proxy;
pub mod ratelimit;
pub mod report;
pub mod resilience;
mod router;
#[cfg(feature = "selftest")]
pub mod selftest;
pub mod store;
pub mod trace;
pub mod transform;
mod upstream;
pub mod validate;
mod version;
pub mod waf;

#[cfg(test)]
pub(crate) mod test_env;

pub use body::{Body, BodyError};
pub use capabilities::Capabilities;
pub use config::{ConfigError, GatewayConfig};
pub use env::{Clock, Deferred, Env, HttpClient, Rng, SendOptions, Sleep};
pub use error::GatewayError;
pub use gateway::{ClientInfo, Gateway};
pub use policy::PolicyRegistry;
pub use store::{KvStore, MemoryStore};
