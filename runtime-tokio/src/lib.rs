//! The gateway's environment on tokio, shared by the targets that run on it
//! (the self-hosted server and AWS Lambda): system clock, tokio sleeps,
//! spawned deferred work, a fast random source, hyper body conversion, and a
//! pooled HTTP/1.1 client with rustls.

pub mod body;
pub mod client;
pub mod env;

pub use client::HyperClient;
pub use env::{SystemClock, TokioDeferred, TokioSleep, fast_rng, tokio_env};
