//! Upstreams: where a route's requests go. Either a set of HTTP(S)
//! endpoints or a mock that answers from config.

mod endpoint;
mod mock;

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
    /// Timeouts, retries, budget and breaker.
    pub(crate) resilience: crate::resilience::UpstreamResilience,
    pub(crate) preserve_host: bool,
    pub(crate) ca_file: Option<std::sync::Arc<str>>,
}
