//! Embeds the gateway config in the function, checked against the Lambda
//! target's capabilities (see `gateway-embed`).

#[path = "src/capabilities.rs"]
#[allow(unreachable_pub, dead_code)]
mod capabilities;

fn main() {
    gateway_embed::embed_config(|cfg| capabilities::capabilities(&cfg.store));
}
