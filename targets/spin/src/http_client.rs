//! Outbound HTTP through `spin_sdk::http::send` (`wasi:http/outgoing-handler`).
//!
//! The request body streams to the host while the response is awaited; the
//! response body streams back into the core as a [`Body`] stream.
//!
//! Limits of WASI HTTP 0.2 as the SDK exposes it: `SendOptions::connect_timeout`
//! is not passed to the host (`send` takes no request options; the core's
//! own upstream timeouts still apply), `ca_file` is ignored (the host owns
//! TLS), the `host` header cannot differ from the URI authority, and the
//! hop-by-hop names in [`FORBIDDEN_HEADERS`](crate::convert::FORBIDDEN_HEADERS)
//! are dropped. In Spin the upstream must be listed in the component's
//! `allowed_outbound_hosts`; otherwise the host answers `HTTP-request-denied`,
//! which becomes a connect error.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::{Either, select};
use futures_util::{SinkExt, Stream, StreamExt};
use gateway_core::error::UpstreamError;
use gateway_core::{Body, BodyError, HttpClient, SendOptions};
use spin_sdk::http::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingRequest, Scheme, SendError,
};

use crate::convert::{field_entries, header_map};

/// The component's [`HttpClient`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SpinHttpClient;

fn method(m: &http::Method) -> Method {
    match *m {
        http::Method::GET => Method::Get,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::DELETE => Method::Delete,
        http::Method::PATCH => Method::Patch,
        http::Method::HEAD => Method::Head,
        http::Method::OPTIONS => Method::Options,
        http::Method::CONNECT => Method::Connect,
        http::Method::TRACE => Method::Trace,
        ref other => Method::Other(other.as_str().to_owned()),
    }
}

fn protocol(why: &str) -> UpstreamError {
    UpstreamError::Protocol(Some(why.into()))
}

/// Classifies a host error the way the core's retry and status logic expects.
fn upstream_error(e: SendError) -> UpstreamError {
    match &e {
        SendError::Http(code) => match code {
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout => UpstreamError::Timeout,
            ErrorCode::HttpProtocolError
            | ErrorCode::HttpResponseIncomplete
            | ErrorCode::HttpResponseHeaderSectionSize(_)
            | ErrorCode::HttpResponseHeaderSize(_)
            | ErrorCode::HttpResponseBodySize(_)
            | ErrorCode::HttpResponseTransferCoding(_)
            | ErrorCode::HttpResponseContentCoding(_) => UpstreamError::Protocol(Some(Box::new(e))),
            _ => UpstreamError::Connect(Some(Box::new(e))),
        },
        _ => UpstreamError::Connect(Some(Box::new(e))),
    }
}

/// Builds the host request from the core's request head.
fn outgoing(parts: &http::request::Parts) -> Result<OutgoingRequest, UpstreamError> {
    let uri = &parts.uri;
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        _ => return Err(protocol("upstream URI needs an http or https scheme")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| protocol("upstream URI needs an authority"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let fields = Fields::from_list(&field_entries(&parts.headers, false))
        .map_err(|e| protocol(&format!("request headers refused by the host: {e:?}")))?;
    let req = OutgoingRequest::new(fields);
    req.set_method(&method(&parts.method))
        .and_then(|()| req.set_scheme(Some(&scheme)))
        .and_then(|()| req.set_authority(Some(authority.as_str())))
        .and_then(|()| req.set_path_with_query(Some(path)))
        .map_err(|()| protocol("request line refused by the host"))?;
    Ok(req)
}

/// Streams `body` into the host request body; hands the sink back so the
/// caller decides when the body is finished (dropping the sink finishes it).
async fn write_body<S>(mut sink: S, mut body: Body) -> (S, Result<(), UpstreamError>)
where
    S: futures_util::Sink<Vec<u8>> + Unpin,
{
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return (sink, Err(UpstreamError::RequestBody(e))),
        };
        if sink.send(chunk.to_vec()).await.is_err() {
            return (sink, Err(UpstreamError::Connect(None)));
        }
    }
    (sink, Ok(()))
}

/// A response body stream that keeps its `IncomingResponse` alive: the body
/// is a child resource and must be dropped first (field order).
struct ResponseBody {
    stream: Pin<Box<dyn Stream<Item = Result<Vec<u8>, wasi::io::streams::Error>>>>,
    _response: IncomingResponse,
}

impl Stream for ResponseBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream
            .as_mut()
            .poll_next(cx)
            .map(|o| o.map(|r| r.map(Bytes::from).map_err(|_| BodyError::Transport)))
    }
}

fn into_response(resp: IncomingResponse) -> Result<http::Response<Body>, UpstreamError> {
    let status = http::StatusCode::from_u16(resp.status())
        .map_err(|_| protocol("invalid upstream status"))?;
    let headers = header_map(resp.headers().entries());
    let stream = Box::pin(resp.take_body_stream());
    let body = Body::from_stream(ResponseBody {
        stream,
        _response: resp,
    });
    let mut out = http::Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

#[async_trait::async_trait(?Send)]
impl HttpClient for SpinHttpClient {
    async fn send(
        &self,
        request: http::Request<Body>,
        _options: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        let (parts, body) = request.into_parts();
        let req = outgoing(&parts)?;
        let sink = req.take_body();
        // Boxed so that dropping the remaining future below really drops it.
        let response = Box::pin(spin_sdk::http::send::<_, IncomingResponse>(req));
        let write = Box::pin(write_body(sink, body));
        let resp = match select(response, write).await {
            // The upstream answered before the body was written (e.g. it
            // refused it): stop writing; dropping the writer finishes the body.
            Either::Left((resp, write)) => {
                drop(write);
                resp
            }
            Either::Right(((sink, Ok(())), response)) => {
                drop(sink);
                response.await
            }
            Either::Right(((sink, Err(e)), response)) => {
                // Cancel the request before the body is finished, so the
                // upstream never sees a truncated body as complete.
                drop(response);
                drop(sink);
                return Err(e);
            }
        };
        into_response(resp.map_err(upstream_error)?)
    }
}
