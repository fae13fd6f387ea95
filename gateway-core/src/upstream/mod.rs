//! Upstreams: where a route's requests go. A set of HTTP(S) endpoints,
//! the instances of a discovered service, or a mock that answers from config.

mod endpoint;
mod mock;

use std::time::Duration;

pub(crate) use endpoint::Endpoint;
pub(crate) use mock::Mock;

/// How an upstream answers.
#[derive(Debug)]
pub(crate) enum UpstreamKind {
    /// Proxy to one of these endpoints (never empty).
    Http {
        /// The configured endpoints.
        endpoints: Vec<Endpoint>,
    },
    /// Proxy to one of the live instances of a registry service or DNS
    /// name, resolved per request.
    Discovered(crate::discovery::resolve::Discovered),
    /// Answer from config.
    Mock(Mock),
}

/// A validated upstream.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) name: String,
    pub(crate) kind: UpstreamKind,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) preserve_host: bool,
    pub(crate) ca_file: Option<std::sync::Arc<str>>,
}
