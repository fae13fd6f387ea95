//! Preparing requests for upstreams and responses for clients: the client
//! address rule, forwarding headers and hop-by-hop stripping.

mod forwarded;
mod hop;
mod trusted;

pub(crate) use forwarded::set_forwarding_headers;
pub(crate) use hop::strip_hop_by_hop;
pub use trusted::TrustedProxies;
pub(crate) use trusted::parse_net;
