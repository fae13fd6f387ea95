//! The policy pipeline: ordered per-route stages with request and response
//! hooks. Requests pass policies in order; responses pass them in reverse
//! (an onion). A request hook may answer on its own with [`Flow::Respond`].

mod context;
mod deny;
mod headers;
mod registry;
mod request_size;
mod rewrite;
pub(crate) mod template;
mod transform;
mod validate;
mod waf;

pub use context::Cx;
pub use deny::DenySpec;
pub use headers::{HeaderOpsSpec, HeadersSpec};
pub use registry::{BuildCx, BuildFn, PolicyFactory, PolicyRegistry};
pub use request_size::RequestSizeSpec;
pub use rewrite::RewriteSpec;
pub use waf::WafSpec;

use http::{Request, Response};

use crate::body::Body;
use crate::env::{MaybeSend, MaybeSync};
use crate::error::GatewayError;

/// What a request hook decided.
#[derive(Debug)]
pub enum Flow {
    /// Go on to the next policy and then the upstream.
    Continue,
    /// Answer with this response; later policies and the upstream are skipped.
    Respond(Response<Body>),
}

/// One stage of a route's pipeline. Every hook has a no-op default.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Policy: MaybeSend + MaybeSync + std::fmt::Debug {
    /// The policy kind, as written in config.
    fn name(&self) -> &'static str;

    /// Whether `on_request` needs the whole request body buffered.
    fn needs_request_body(&self) -> bool {
        false
    }

    /// Whether `on_response` needs the whole response body buffered.
    fn needs_response_body(&self) -> bool {
        false
    }

    /// Field paths of settings that need exact counters across instances
    /// (checked against the target's `atomic_counters` capability).
    fn exact_counter_paths(&self) -> Vec<String> {
        Vec::new()
    }

    /// Runs before the upstream. `Err` aborts with that error's response.
    async fn on_request(
        &self,
        _req: &mut Request<Body>,
        _cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        Ok(Flow::Continue)
    }

    /// Runs on the way back, in reverse order.
    async fn on_response(
        &self,
        _resp: &mut Response<Body>,
        _cx: &mut Cx<'_>,
    ) -> Result<(), GatewayError> {
        Ok(())
    }
}
