//! Conversions between WASI HTTP's shapes and `http` types.
//!
//! WASI HTTP hands headers over as `(name, bytes)` lists and refuses some
//! hop-by-hop names outright; these helpers are pure so they are tested
//! natively, while the host calls around them live in the wasm-only modules.

use std::net::{IpAddr, SocketAddr};

use gateway_core::error::RequestError;
use gateway_core::{Body, ClientInfo, GatewayError};
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};

/// Header names a WASI HTTP host refuses in `fields` made by the guest
/// (wasmtime's default list, which Spin uses). They are connection-level,
/// so dropping them is what a proxy does anyway; the authority of an
/// outgoing request carries the host.
pub const FORBIDDEN_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

/// The header through which Spin passes the client's socket address.
pub const SPIN_CLIENT_ADDR: &str = "spin-client-addr";

/// Whether a WASI HTTP host refuses `name` from the guest.
pub fn is_forbidden(name: &HeaderName) -> bool {
    FORBIDDEN_HEADERS.contains(&name.as_str())
}

/// Builds a header map from WASI `fields` entries, skipping entries that are
/// not valid HTTP (the host validated them already).
pub fn header_map(entries: Vec<(String, Vec<u8>)>) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(entries.len());
    for (name, value) in entries {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// The entries for WASI `fields`, without the names the host refuses.
/// With `drop_length`, `content-length` is left out too (answers to `HEAD`,
/// whose body the host would otherwise expect to match it).
pub fn field_entries(headers: &HeaderMap, drop_length: bool) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .filter(|(name, _)| !is_forbidden(name))
        .filter(|(name, _)| !(drop_length && *name == http::header::CONTENT_LENGTH))
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect()
}

/// Who is calling: Spin's `spin-client-addr` (`ip:port`) when present,
/// otherwise unspecified (`wasmtime serve` passes no address).
pub fn client_info(headers: &HeaderMap, https: bool) -> ClientInfo {
    let peer = headers
        .get(SPIN_CLIENT_ADDR)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| {
            s.parse::<SocketAddr>()
                .map(|a| a.ip())
                .or_else(|_| s.parse::<IpAddr>())
                .ok()
        });
    match peer {
        Some(peer) => ClientInfo { peer, tls: https },
        None => ClientInfo {
            tls: https,
            ..ClientInfo::default()
        },
    }
}

/// The parts of an incoming WASI request, already read from the host.
#[derive(Debug)]
pub struct Incoming {
    /// The method as the host spelled it.
    pub method: String,
    /// Path and query (`None` means `/`).
    pub path_with_query: Option<String>,
    /// The authority the client addressed, if the host knows it.
    pub authority: Option<String>,
    /// Whether the client used `https`.
    pub https: bool,
    /// Header entries as the host gave them.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Turns an incoming WASI request into the core's request (origin-form URI
/// and a `host` header, as a server would see it) and the client info.
///
/// Spin's own `spin-*` metadata headers are read, then removed so they never
/// reach an upstream.
pub fn inbound_request(
    incoming: Incoming,
    body: Body,
) -> Result<(Request<Body>, ClientInfo), GatewayError> {
    let method = Method::from_bytes(incoming.method.as_bytes())
        .map_err(|_| RequestError::Malformed("invalid method"))?;
    let target = incoming.path_with_query.unwrap_or_else(|| "/".to_owned());
    let uri: Uri = target
        .parse()
        .map_err(|_| RequestError::Malformed("invalid request target"))?;
    let mut headers = header_map(incoming.headers);
    let client = client_info(&headers, incoming.https);
    let spin: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("spin-"))
        .cloned()
        .collect();
    for name in spin {
        headers.remove(&name);
    }
    if !headers.contains_key(HOST)
        && let Some(v) = incoming
            .authority
            .and_then(|a| HeaderValue::from_str(&a).ok())
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

    fn entries(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    fn incoming(method: &str, target: Option<&str>, headers: &[(&str, &str)]) -> Incoming {
        Incoming {
            method: method.to_owned(),
            path_with_query: target.map(str::to_owned),
            authority: Some("gw.example:8080".to_owned()),
            https: false,
            headers: entries(headers),
        }
    }

    #[test]
    fn header_map_keeps_repeats_and_skips_invalid() {
        let map = header_map(entries(&[
            ("accept", "a"),
            ("accept", "b"),
            ("bad name", "x"),
            ("x-ok", "1"),
        ]));
        assert_eq!(map.get_all("accept").iter().count(), 2);
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn field_entries_drop_forbidden_names() {
        let mut map = HeaderMap::new();
        map.insert("connection", HeaderValue::from_static("close"));
        map.insert("host", HeaderValue::from_static("a"));
        map.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        map.insert("content-length", HeaderValue::from_static("3"));
        map.insert("x-powered-by", HeaderValue::from_static("gateway"));
        let names = |v: Vec<(String, Vec<u8>)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        let mut got = names(field_entries(&map, false));
        got.sort();
        assert_eq!(got, ["content-length", "x-powered-by"]);
        assert_eq!(names(field_entries(&map, true)), ["x-powered-by"]);
    }

    #[test]
    fn client_info_from_spin_header() {
        let map = header_map(entries(&[(SPIN_CLIENT_ADDR, "10.1.2.3:5555")]));
        let info = client_info(&map, true);
        assert_eq!(info.peer, IpAddr::from([10, 1, 2, 3]));
        assert!(info.tls);
        let map = header_map(entries(&[(SPIN_CLIENT_ADDR, "::1")]));
        assert!(client_info(&map, false).peer.is_loopback());
        assert!(client_info(&HeaderMap::new(), false).peer.is_unspecified());
    }

    #[test]
    fn inbound_request_is_origin_form_with_host() {
        let (req, client) = inbound_request(
            incoming(
                "GET",
                Some("/echo/a?x=1"),
                &[
                    ("accept", "*/*"),
                    (SPIN_CLIENT_ADDR, "127.0.0.1:4000"),
                    ("spin-full-url", "http://x/echo/a?x=1"),
                ],
            ),
            Body::empty(),
        )
        .expect("valid");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().path(), "/echo/a");
        assert_eq!(req.uri().query(), Some("x=1"));
        assert_eq!(req.headers()["host"], "gw.example:8080");
        assert!(
            req.headers()
                .keys()
                .all(|n| !n.as_str().starts_with("spin-"))
        );
        assert!(client.peer.is_loopback());
    }

    #[test]
    fn inbound_request_keeps_client_host_and_defaults_path() {
        let (req, _) = inbound_request(
            incoming("DELETE", None, &[("host", "api.example")]),
            Body::empty(),
        )
        .expect("valid");
        assert_eq!(req.uri().path(), "/");
        assert_eq!(req.headers()["host"], "api.example");
        assert_eq!(req.method(), Method::DELETE);
    }

    #[test]
    fn inbound_request_rejects_bad_method_and_target() {
        let bad_method = inbound_request(incoming("GE T", Some("/"), &[]), Body::empty());
        assert_eq!(bad_method.err().map(|e| e.status().as_u16()), Some(400));
        let bad_target = inbound_request(incoming("GET", Some("/a b"), &[]), Body::empty());
        assert_eq!(bad_target.err().map(|e| e.status().as_u16()), Some(400));
    }
}
