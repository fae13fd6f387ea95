//! Embeds the gateway config in the component, checked against the Spin
//! target's capabilities (see `gateway-embed`).

#[path = "src/capabilities.rs"]
#[allow(unreachable_pub, dead_code)]
mod capabilities;

fn main() {
    let spin_kv = std::env::var_os("CARGO_FEATURE_SPIN_KV").is_some();
    gateway_embed::embed_config(|cfg| capabilities::capabilities(&cfg.store, spin_kv));
}
