//! Outbound HTTP through the runtime's `fetch` (`worker::Fetch`).
//!
//! The request body is buffered (up to [`MAX_REQUEST_BODY`]) and sent as a
//! byte array; the response body streams back into the core as a [`Body`]
//! stream. Redirects are passed back to the client, not followed.
//!
//! Limits of `fetch` on Workers: `SendOptions::connect_timeout` is not
//! passed on (`fetch` has no connect timeout; the core's own upstream
//! timeouts still apply), `ca_file` is ignored (the platform owns TLS), and
//! the connection-level headers in
//! [`HOP_BY_HOP`](crate::convert::HOP_BY_HOP) are dropped. A Workers
//! invocation may have at most six connections open at once (the target's
//! `max_concurrent_subrequests`).

use bytes::Bytes;
use futures_util::StreamExt;
use gateway_core::error::UpstreamError;
use gateway_core::{Body, BodyError, HttpClient, SendOptions};
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use crate::convert::outbound_headers;

/// The largest request body sent upstream (Workers' own request body limit
/// on most plans).
pub const MAX_REQUEST_BODY: u64 = 100 * 1024 * 1024;

/// The worker's [`HttpClient`].
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchHttpClient;

fn protocol(why: &str) -> UpstreamError {
    UpstreamError::Protocol(Some(why.into()))
}

/// The runtime's method for `m`; methods `worker::Method` cannot name are
/// refused rather than silently sent as `GET`.
fn method(m: &http::Method) -> Result<Method, UpstreamError> {
    let out = Method::from(m.as_str().to_owned());
    if out.as_ref() == m.as_str() {
        Ok(out)
    } else {
        Err(protocol("method not supported by the Workers fetch API"))
    }
}

#[async_trait::async_trait(?Send)]
impl HttpClient for FetchHttpClient {
    async fn send(
        &self,
        request: http::Request<Body>,
        _options: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let (parts, body) = request.into_parts();
        let uri = parts.uri.to_string();
        if !matches!(parts.uri.scheme_str(), Some("http" | "https")) {
            return Err(protocol("upstream URI needs an http or https scheme"));
        }
        let method = method(&parts.method)?;
        let bytes = body
            .collect(MAX_REQUEST_BODY)
            .await
            .map_err(UpstreamError::RequestBody)?;
        let mut init = RequestInit::new();
        init.with_method(method)
            .with_headers(Headers::from(&outbound_headers(&parts.headers)))
            .with_redirect(RequestRedirect::Manual);
        if !bytes.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(bytes.as_ref()).into()));
        }
        let req = Request::new_with_init(&uri, &init)
            .map_err(|e| protocol(&format!("invalid upstream request: {e}")))?;
        let mut resp = Fetch::Request(req)
            .send()
            .await
            .map_err(|e| UpstreamError::Connect(Some(e.to_string().into())))?;
        let status = http::StatusCode::from_u16(resp.status_code())
            .map_err(|_| protocol("invalid upstream status"))?;
        let headers = http::HeaderMap::from(resp.headers());
        let body = match resp.stream() {
            Ok(stream) => Body::from_stream(
                stream.map(|r| r.map(Bytes::from).map_err(|_| BodyError::Transport)),
            ),
            // No body (e.g. 204, or an answer to HEAD).
            Err(_) => Body::empty(),
        };
        let mut out = http::Response::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}
