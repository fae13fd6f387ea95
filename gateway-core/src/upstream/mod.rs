//! Upstreams: where a route's requests go. Either a set of HTTP(S)
//! endpoints or a mock that answers from config.

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
