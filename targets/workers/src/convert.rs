//! Conversions between the Workers runtime's shapes and `http` types.
//!
//! The runtime hands over the method as a string, the full URL and a
//! `Headers` object; these helpers are pure so they are tested natively,
//! while the runtime calls around them live in the wasm-only modules.

use std::net::IpAddr;

use gateway_core::error::RequestError;
use gateway_core::{Body, ClientInfo, GatewayError};
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};

/// The header in which Cloudflare passes the client's IP address.
pub const CF_CONNECTING_IP: &str = "cf-connecting-ip";

/// Connection-level header names the runtime manages itself; they are
/// never copied into a runtime `Headers` object.
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
];

/// Whether `name` is connection-level (see [`HOP_BY_HOP`]).
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// `headers` without the connection-level names.
pub fn outbound_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_hop_by_hop(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Whether a response with `status` must not have a body (the runtime's
/// `Response` constructor refuses one).
pub fn is_null_body_status(status: u16) -> bool {
    matches!(status, 101 | 204 | 205 | 304)
}

/// Who is calling: Cloudflare's `cf-connecting-ip` when present (it is set
/// by the edge, which overwrites any value the client sent), otherwise
/// unspecified (e.g. `wrangler dev` without a proxy in front).
pub fn client_info(headers: &HeaderMap, https: bool) -> ClientInfo {
    let peer = headers
        .get(CF_CONNECTING_IP)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<IpAddr>().ok());
    match peer {
        Some(peer) => ClientInfo { peer, tls: https },
        None => ClientInfo {
            tls: https,
            ..ClientInfo::default()
        },
    }
}

/// Turns an incoming Workers request (method, absolute URL, headers) into
/// the core's request (origin-form URI and a `host` header, as a server
/// would see it) and the client info.
pub fn inbound_request(
    method: &str,
    url: &str,
    mut headers: HeaderMap,
    body: Body,
) -> Result<(Request<Body>, ClientInfo), GatewayError> {
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| RequestError::Malformed("invalid method"))?;
    let full: Uri = url
        .parse()
        .map_err(|_| RequestError::Malformed("invalid request target"))?;
    let https = full.scheme_str() == Some("https");
    let uri: Uri = full
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|_| RequestError::Malformed("invalid request target"))?;
    let client = client_info(&headers, https);
    if !headers.contains_key(HOST)
        && let Some(v) = full
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        headers.insert(HOST, v);
    }
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    Ok((req, client))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in list {
            map.append(*n, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn inbound_request_is_origin_form_with_host() {
        let (req, client) = inbound_request(
            "GET",
            "https://gw.example:8443/echo/a?x=1",
            headers(&[("accept", "*/*"), (CF_CONNECTING_IP, "10.1.2.3")]),
            Body::empty(),
        )
        .expect("valid");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().path(), "/echo/a");
        assert_eq!(req.uri().query(), Some("x=1"));
        assert!(req.uri().authority().is_none());
        assert_eq!(req.headers()["host"], "gw.example:8443");
        assert_eq!(client.peer, IpAddr::from([10, 1, 2, 3]));
        assert!(client.tls);
    }

    #[test]
    fn inbound_request_keeps_client_host_and_defaults_path() {
        let (req, client) = inbound_request(
            "DELETE",
            "http://127.0.0.1:8787",
            headers(&[("host", "api.example")]),
            Body::empty(),
        )
        .expect("valid");
        assert_eq!(req.uri().path(), "/");
        assert_eq!(req.headers()["host"], "api.example");
        assert_eq!(req.method(), Method::DELETE);
        assert!(!client.tls);
        assert!(client.peer.is_unspecified());
    }

    #[test]
    fn inbound_request_rejects_bad_method_and_url() {
        let bad_method = inbound_request("GE T", "http://a/", HeaderMap::new(), Body::empty());
        assert_eq!(bad_method.err().map(|e| e.status().as_u16()), Some(400));
        let bad_url = inbound_request("GET", "http://a/b c", HeaderMap::new(), Body::empty());
        assert_eq!(bad_url.err().map(|e| e.status().as_u16()), Some(400));
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let map = headers(&[
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("x-powered-by", "gateway"),
            ("vary", "a"),
            ("vary", "b"),
        ]);
        let out = outbound_headers(&map);
        assert_eq!(out.len(), 3);
        assert!(out.get("connection").is_none());
        assert_eq!(out.get_all("vary").iter().count(), 2);
    }

    #[test]
    fn null_body_statuses() {
        assert!(is_null_body_status(204));
        assert!(is_null_body_status(304));
        assert!(!is_null_body_status(200));
        assert!(!is_null_body_status(404));
    }
}
