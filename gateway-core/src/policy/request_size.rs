//! `request_size`: a tighter body limit for a route, enforced from
//! `Content-Length` before reading and while streaming otherwise.

use std::sync::Arc;

use http::{Request, header};
use schemars::JsonSchema;
use serde::Deserialize;

use super::registry::{BuildCx, PolicyFactory};
use super::{Cx, Flow, Policy};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::config::units::ByteSize;
use crate::error::{GatewayError, RequestError};

/// Settings of the `request_size` policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSizeSpec {
    /// Largest request body accepted (413 beyond).
    pub max_bytes: ByteSize,
}

#[derive(Debug)]
struct RequestSize {
    max: u64,
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for RequestSize {
    fn name(&self) -> &'static str {
        "request_size"
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        _cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max) {
            return Err(RequestError::BodyTooLarge { limit: self.max }.into());
        }
        let body = std::mem::take(req.body_mut());
        *req.body_mut() = body.limited(self.max)?;
        Ok(Flow::Continue)
    }
}

fn build(value: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: RequestSizeSpec = cx.settings(value)?;
    Ok(Arc::new(RequestSize {
        max: spec.max_bytes.0,
    }))
}

pub(super) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "request_size",
    build,
    schema: |g| g.subschema_for::<RequestSizeSpec>(),
};
