//! Admin answers: JSON and Prometheus text through the core's
//! [`answer`](gateway_core::answer) helpers, and problem+json for errors.

use gateway_core::error::Rejection;
use gateway_core::{Body, GatewayError};
use http::{Response, StatusCode};

pub(crate) use gateway_core::answer::{json, with_type};

/// A problem+json answer (through the core's one error vocabulary).
pub(crate) fn problem(
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: impl Into<String>,
) -> Response<Body> {
    GatewayError::from(Rejection::new(status, kind, title).with_detail(detail)).into_response()
}
