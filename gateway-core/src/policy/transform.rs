//! `transform`: query parameter and JSON body edits on requests, JSON body
//! edits on responses; see [`crate::transform`].

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Request, Response, Uri, header};
use serde_json::Value;

use super::registry::{BuildCx, PolicyFactory};
use super::template::Template;
use super::{Cx, Flow, Policy};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::error::{GatewayError, RequestError};
use crate::transform::{BodyOps, QueryOps, TransformSpec};
use crate::validate::params::{essence, is_json};

#[derive(Debug)]
struct Transform {
    query: QueryOps,
    request_body: BodyOps,
    response_body: BodyOps,
}

/// Edits a buffered JSON body in place and fixes `Content-Length`.
/// Bodies that are not JSON (by `Content-Type` or content) are left alone.
fn edit_body(
    headers: &mut HeaderMap,
    body: &mut Body,
    ops: &BodyOps,
    render: &dyn Fn(&Template) -> String,
) {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
        .unwrap_or_default();
    if !is_json(&media) || media == "application/problem+json" {
        return;
    }
    let Some(Ok(value)) = body
        .as_bytes()
        .filter(|b| !b.is_empty())
        .map(serde_json::from_slice::<Value>)
    else {
        return;
    };
    let Ok(bytes) = serde_json::to_vec(&ops.apply(value, render)) else {
        return;
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    headers.remove(header::TRANSFER_ENCODING);
    *body = Body::full(bytes);
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for Transform {
    fn name(&self) -> &'static str {
        "transform"
    }

    fn needs_request_body(&self) -> bool {
        !self.request_body.is_empty()
    }

    fn needs_response_body(&self) -> bool {
        !self.response_body.is_empty()
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        let source = req.headers().clone();
        let render = |t: &Template| t.render(cx, &source);
        if !self.query.is_empty() {
            let query = self.query.apply(req.uri().query(), &render);
            let path = req.uri().path();
            let pq = match query {
                Some(q) => format!("{path}?{q}"),
                None => path.to_owned(),
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(
                pq.parse()
                    .map_err(|_| RequestError::Malformed("transformed query is invalid"))?,
            );
            *req.uri_mut() = Uri::from_parts(parts)
                .map_err(|_| RequestError::Malformed("transformed query is invalid"))?;
        }
        if !self.request_body.is_empty() {
            let mut b = std::mem::take(req.body_mut());
            edit_body(req.headers_mut(), &mut b, &self.request_body, &render);
            *req.body_mut() = b;
        }
        Ok(Flow::Continue)
    }

    async fn on_response(
        &self,
        resp: &mut Response<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<(), GatewayError> {
        if !self.response_body.is_empty() {
            let source = resp.headers().clone();
            let render = |t: &Template| t.render(cx, &source);
            let mut b = std::mem::take(resp.body_mut());
            edit_body(resp.headers_mut(), &mut b, &self.response_body, &render);
            *resp.body_mut() = b;
        }
        Ok(())
    }
}

fn build(value: &Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: TransformSpec = cx.settings(value)?;
    let mut problems = Vec::new();
    let r = &spec.response.query;
    if !(r.remove.is_empty() && r.rename.is_empty() && r.set.is_empty() && r.add.is_empty()) {
        problems.push(cx.problem(
            "response.query",
            "a response has no query; query edits belong under `request`",
        ));
    }
    let query = QueryOps::build(spec.request.query, "request.query", cx, &mut problems);
    let request_body = BodyOps::build(spec.request.body, "request.body", cx, &mut problems);
    let response_body = BodyOps::build(spec.response.body, "response.body", cx, &mut problems);
    if query.is_empty()
        && request_body.is_empty()
        && response_body.is_empty()
        && problems.is_empty()
    {
        problems.push(cx.problem(
            "",
            "nothing to do: give `request.query`, `request.body` or `response.body` edits",
        ));
    }
    if problems.is_empty() {
        Ok(Arc::new(Transform {
            query,
            request_body,
            response_body,
        }))
    } else {
        Err(problems)
    }
}

pub(super) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "transform",
    build,
    schema: |g| g.subschema_for::<TransformSpec>(),
};
