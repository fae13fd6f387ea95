//! The per-request context handed to every policy hook.

use std::net::IpAddr;

use crate::env::Env;

/// What a policy knows about the request beyond the request itself.
#[derive(Debug)]
pub struct Cx<'a> {
    /// Platform capabilities.
    pub env: &'a Env,
    /// Name of the matched route.
    pub route: &'a str,
    /// Path parameters captured by the route pattern (still percent-encoded).
    pub params: &'a [(String, String)],
    /// The client address, as decided by the trusted-proxies rule.
    pub client_ip: IpAddr,
    /// The API version chosen for this request, if the route is versioned.
    pub version: Option<&'a str>,
    /// The request's method as the client sent it.
    pub method: http::Method,
    /// The request's (normalised) URI before any policy rewrote it.
    pub uri: http::Uri,
    /// Typed values policies hand to later policies (e.g. an authenticated consumer).
    pub extensions: http::Extensions,
}

impl Cx<'_> {
    /// The value of path parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
