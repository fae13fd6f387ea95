//! Answers the gateway writes itself from its own APIs (registry, cache
//! purge, the self-hosted admin listener): a body with its content type,
//! never cached.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use crate::body::Body;
use crate::error::GatewayError;

/// `body` as `content_type` with `status` and `Cache-Control: no-store`.
pub fn with_type(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &'static str,
) -> Response<Body> {
    let mut resp = Response::new(Body::full(body.into()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `value` as `application/json` with `status`; a 500 problem if it
/// cannot be written as JSON.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_type(status, bytes, "application/json"),
        Err(_) => GatewayError::Internal("an answer could not be written as JSON").into_response(),
    }
}
