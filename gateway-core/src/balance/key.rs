//! The key `consistent_hash` hashes, read from the request as it leaves
//! the route's policies: a header, a cookie, a claim of the verified JWT, or
//! the client address. A missing key gives no affinity; the request is then
//! balanced round robin.

use std::net::IpAddr;

use http::{HeaderMap, header};

use super::config::HashOn;
use super::ring::hash_key;
use crate::auth::{Identity, claim_text};
use crate::policy::Cx;

/// The hashed key of a request, handed from the policy pipeline to the
/// balancer in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Affinity(pub(crate) u64);

impl HashOn {
    /// The request's key, if it has one.
    pub(crate) fn key(&self, headers: &HeaderMap, cx: &Cx<'_>) -> Option<Affinity> {
        let h = match self {
            Self::Header(name) => headers
                .get(name)
                .map(|v| v.as_bytes())
                .filter(|v| !v.is_empty())
                .map(hash_key)?,
            Self::Cookie(name) => hash_key(cookie(headers, name)?.as_bytes()),
            Self::Claim(name) => {
                hash_key(claim_text(&cx.extensions.get::<Identity>()?.claims, name)?.as_bytes())
            }
            Self::ClientIp => match cx.client_ip {
                IpAddr::V4(ip) => hash_key(&ip.octets()),
                IpAddr::V6(ip) => hash_key(&ip.octets()),
            },
        };
        Some(Affinity(h))
    }
}

/// The value of cookie `name` from the `Cookie` headers (HTTP/2 may send
/// several), without quotes; `None` when absent or empty.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|v| !v.is_empty())
}
