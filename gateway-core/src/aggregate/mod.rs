//! Service aggregation: a route that fans out to several backends and
//! merges their JSON answers into one document.
//!
//! Each backend names an upstream from `upstreams:` and is sent through the
//! same path as a proxied request ([`forward`](crate::gateway)), so the
//! upstream's timeouts, forwarding headers and mocks apply. Backends run in
//! parallel up to `max_concurrency`; one whose path uses
//! `{steps.NAME.body/POINTER}` waits for that earlier backend and takes a
//! value from its answer. A failing backend is listed as an RFC 9457 problem
//! under `_errors` in the merged document (with a `gateway-partial`
//! response header), or fails the whole request (502, 504 for a timeout)
//! when it is `required` or `on_error: fail`.

mod build;
mod config;
mod error;
mod merge;
mod run;
mod template;
#[cfg(test)]
mod tests;

use std::time::Duration;

use http::{HeaderName, Method};

pub use config::{AggregateSpec, BackendSpec, MappingSpec, MergeSpec, OnErrorSpec};
pub(crate) use merge::Merge;
pub(crate) use run::Ctx;
use template::PathTemplate;

/// The response header listing the backends missing from a partial answer.
pub const PARTIAL_HEADER: &str = "gateway-partial";

/// Default and Workers' limit of simultaneous outgoing requests.
pub(crate) const DEFAULT_MAX_CONCURRENCY: usize = 6;

/// A validated aggregate.
#[derive(Debug)]
pub(crate) struct Aggregate {
    pub(crate) backends: Vec<Backend>,
    pub(crate) merge: Merge,
    pub(crate) max_concurrency: usize,
    pub(crate) timeout: Duration,
    /// `on_error: fail`: any failure fails the request.
    pub(crate) fail_fast: bool,
}

/// One validated backend.
#[derive(Debug)]
pub(crate) struct Backend {
    pub(crate) name: String,
    pub(crate) upstream: usize,
    pub(crate) method: Method,
    pub(crate) path: PathTemplate,
    /// Earlier backends whose answers the path reads.
    pub(crate) deps: Vec<usize>,
    pub(crate) headers: Vec<HeaderName>,
    pub(crate) body: bool,
    pub(crate) required: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) select: Option<String>,
}

impl Aggregate {
    /// Whether some backend sends the client's body (so it is buffered).
    pub(crate) fn needs_request_body(&self) -> bool {
        self.backends.iter().any(|b| b.body)
    }
}
