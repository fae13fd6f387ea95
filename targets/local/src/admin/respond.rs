//! Admin answers: JSON, Prometheus text, and problem+json for errors.

use gateway_core::error::Rejection;
use gateway_core::{Body, GatewayError};
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

/// A JSON answer with `status`.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => with_type(status, bytes, "application/json"),
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the answer could not be written as JSON",
        ),
    }
}

/// A body with its content type; never cached.
pub(crate) fn with_type(
    status: StatusCode,
    body: impl Into<bytes::Bytes>,
    content_type: &'static str,
) -> Response<Body> {
    let mut resp = Response::new(Body::full(body.into()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A problem+json answer (through the core's one error vocabulary).
pub(crate) fn problem(
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: impl Into<String>,
) -> Response<Body> {
    GatewayError::from(Rejection::new(status, kind, title).with_detail(detail)).into_response()
}
