//! Embeds the gateway config in the worker, checked against the Workers
//! target's capabilities (see `gateway-embed`).

#[path = "src/capabilities.rs"]
#[allow(unreachable_pub, dead_code)]
mod capabilities;

fn main() {
    let durable_objects = std::env::var_os("CARGO_FEATURE_DURABLE_OBJECTS").is_some();
    gateway_embed::embed_config(|cfg| capabilities::capabilities(&cfg.store, durable_objects));
}
