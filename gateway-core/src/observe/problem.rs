//! The `request_id` member of the gateway's own problem documents.

use http::{HeaderValue, Response, header};

use super::RequestId;
use crate::body::Body;

/// Marks a response whose body is a problem document the gateway wrote
/// itself (set by `GatewayError::into_response`), as opposed to one an
/// upstream sent, which is never touched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GatewayProblem;

/// Adds `"request_id": id` to `resp`'s body if it is the gateway's own
/// buffered problem document.
pub(crate) fn add_request_id(resp: &mut Response<Body>, id: &RequestId) {
    if resp.extensions_mut().remove::<GatewayProblem>().is_none() {
        return;
    }
    let Some(bytes) = resp.body().as_bytes() else {
        return;
    };
    let Some(open) = bytes.strip_suffix(b"}") else {
        return;
    };
    let mut out = Vec::with_capacity(bytes.len() + 16 + id.as_str().len());
    out.extend_from_slice(open);
    if open.trim_ascii() != b"{" {
        out.push(b',');
    }
    out.extend_from_slice(b"\"request_id\":\"");
    // Token characters only: nothing to escape in a JSON string.
    out.extend_from_slice(id.as_str().as_bytes());
    out.extend_from_slice(b"\"}");
    if resp.headers().contains_key(header::CONTENT_LENGTH) {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(out.len()));
    }
    *resp.body_mut() = Body::full(out);
}
