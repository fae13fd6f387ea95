//! The cache key, and the request a cacheable route sends upstream.
//!
//! The key is built from the method, host, path, the keyed query parameters
//! (sorted, percent-encoding normalised), the keyed headers, the consumer
//! (when the route keys by it) and the API version. The request sent
//! upstream carries only those inputs (plus the content-negotiation headers
//! that `Vary` accounts for and headers the gateway set itself), so nothing
//! outside the key can change what gets stored: no cache poisoning by
//! unkeyed inputs.

use std::fmt::Write as _;

use http::{HeaderMap, HeaderName, Method, Request, Uri, header};

use super::config::RouteCache;
use crate::auth::{Identity, sha256};
use crate::body::Body;
use crate::normalize::{hex, is_unreserved};

/// Client headers forwarded on a cacheable route although not keyed: they
/// select a representation, which the upstream must declare with `Vary`.
const NEGOTIATION: [HeaderName; 3] = [
    header::ACCEPT,
    header::ACCEPT_ENCODING,
    header::ACCEPT_LANGUAGE,
];

/// Store keys start with this (and a format version).
pub(crate) const KEY_PREFIX: &str = "gwc1:";

/// What identifies a cached response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheKey {
    /// The store key of the primary entry (hashed inputs).
    pub(crate) primary: String,
    /// Lower-case host.
    pub(crate) host: String,
    /// The path as the client sent it (normalised): what purges match.
    pub(crate) path: String,
    /// The client's keyed query, normalised (empty when none).
    pub(crate) query: String,
}

impl CacheKey {
    /// The store key of the variant a response with `Vary: names` stored
    /// for a request with `headers`.
    pub(crate) fn variant(&self, names: &[HeaderName], headers: &HeaderMap) -> String {
        let mut text = self.primary.clone();
        for name in names {
            text.push('\n');
            text.push_str(name.as_str());
            for v in headers.get_all(name) {
                text.push('\0');
                text.push_str(&String::from_utf8_lossy(v.as_bytes()));
            }
        }
        hashed(&text)
    }
}

fn hashed(text: &str) -> String {
    let mut out = String::with_capacity(KEY_PREFIX.len() + 64);
    out.push_str(KEY_PREFIX);
    for b in sha256(text.as_bytes()) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// RFC 3986 §6.2.2 normalisation of one query component: percent-encoded
/// unreserved characters are decoded, other escapes get upper-case hex.
/// Nothing else changes (`+` stays `+`), so the meaning is kept.
fn normalize_component(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            let v = h * 16 + l;
            if is_unreserved(v) {
                out.push(char::from(v));
            } else {
                let _ = write!(out, "%{v:02X}");
            }
            i += 3;
            continue;
        }
        // Query text is ASCII in a valid URI.
        out.push(char::from(b[i]));
        i += 1;
    }
    out
}

/// The query with only the keyed parameters, normalised and sorted.
/// `keep: None` keeps every parameter.
pub(crate) fn normalize_query(query: Option<&str>, keep: Option<&[String]>) -> String {
    let Some(query) = query else {
        return String::new();
    };
    let mut pairs: Vec<(String, Option<String>)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (normalize_component(k), Some(normalize_component(v))),
            None => (normalize_component(p), None),
        })
        .filter(|(k, _)| keep.is_none_or(|names| names.binary_search(k).is_ok()))
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len());
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&k);
        if let Some(v) = v {
            out.push('=');
            out.push_str(&v);
        }
    }
    out
}

/// Why a request is not served from (or stored in) the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bypass {
    /// The route does not cache this method.
    Method,
    /// The request carries credentials and the route does not key by consumer.
    Credentials,
}

/// Whether the route may cache this request, and for whom.
pub(crate) fn admit<'a>(
    route: &RouteCache,
    method: &Method,
    headers: &HeaderMap,
    identity: Option<&'a Identity>,
) -> Result<Option<&'a str>, Bypass> {
    if !route.methods.contains(method) {
        return Err(Bypass::Method);
    }
    let consumer = identity.and_then(|i| i.consumer.as_deref());
    let credentials = headers.contains_key(header::AUTHORIZATION) || identity.is_some();
    match (credentials, route.key_consumer, consumer) {
        (false, _, _) => Ok(None),
        (true, true, Some(c)) => Ok(Some(c)),
        (true, _, _) => Err(Bypass::Credentials),
    }
}

/// Turns `req` into the request a cacheable route sends upstream and
/// returns its key. `original` holds the headers as the client sent them
/// (before the route's policies), so headers a policy set are kept;
/// `client_uri` is the (normalised) URI before the policies, which purges
/// match. Both it and the URI sent upstream are in the key.
pub(crate) fn prepare(
    req: &mut Request<Body>,
    original: &HeaderMap,
    client_uri: &Uri,
    route: &RouteCache,
    host: &str,
    consumer: Option<&str>,
    version: Option<&str>,
) -> CacheKey {
    let query = normalize_query(req.uri().query(), route.key_query.as_deref());
    let path = req.uri().path().to_owned();
    if req.uri().query().is_some_and(|q| q != query) {
        let pq = if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{query}")
        };
        let mut parts = req.uri().clone().into_parts();
        // Rebuilt from a path that was already valid and a normalised query.
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    let keep_credentials = consumer.is_some();
    let headers = req.headers_mut();
    let names: Vec<HeaderName> = headers.keys().cloned().collect();
    for name in names {
        let keyed = route.key_headers.contains(&name)
            || NEGOTIATION.contains(&name)
            || name == header::HOST
            || (keep_credentials && name == header::AUTHORIZATION);
        if keyed {
            continue;
        }
        // Set (or changed) by a policy: the gateway's own, kept.
        let from_client = original.contains_key(&name)
            && headers
                .get_all(&name)
                .iter()
                .eq(original.get_all(&name).iter());
        if from_client {
            headers.remove(&name);
        }
    }
    // A GET or HEAD body is not part of the key: it is not sent.
    *req.body_mut() = Body::empty();
    for h in [header::CONTENT_LENGTH, header::TRANSFER_ENCODING] {
        req.headers_mut().remove(h);
    }

    let client_path = client_uri.path().to_owned();
    let client_query = normalize_query(client_uri.query(), route.key_query.as_deref());
    let mut text = String::with_capacity(128);
    let _ = write!(
        text,
        "{}\n{host}\n{client_path}\n{client_query}\n{path}\n{query}\n{}\n{}",
        req.method(),
        consumer.unwrap_or(""),
        version.unwrap_or("")
    );
    for name in &route.key_headers {
        text.push('\n');
        text.push_str(name.as_str());
        for v in req.headers().get_all(name) {
            text.push('\0');
            text.push_str(&String::from_utf8_lossy(v.as_bytes()));
        }
    }
    CacheKey {
        primary: hashed(&text),
        host: host.to_owned(),
        path: client_path,
        query: client_query,
    }
}
