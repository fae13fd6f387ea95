//! Answering the client's own conditional request (RFC 9110 §13) on a
//! cacheable route: a `200` whose validators match the client's
//! `If-None-Match` (weak comparison) or, without one, whose `Last-Modified`
//! is not after `If-Modified-Since`, goes out as `304 Not Modified`.
//!
//! The client's validators never reach the upstream (they are not part of
//! the key), so this is the only place they count.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use super::serve::X_CACHE;
use crate::body::Body;

/// Fields about the body that a `304` does not carry.
const BODY_FIELDS: [header::HeaderName; 4] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::CONTENT_RANGE,
    header::TRANSFER_ENCODING,
];

/// `resp` as a `304 Not Modified` when `request` (the client's headers as
/// sent) holds validators that match it; otherwise `resp` unchanged.
/// Answers the stage did not take from or for the cache (`BYPASS`) are left
/// alone: their upstream saw the client's validators itself.
pub(crate) fn answer(request: &HeaderMap, mut resp: Response<Body>) -> Response<Body> {
    let bypassed = resp
        .headers()
        .get(&X_CACHE)
        .is_none_or(|v| v.as_bytes() == b"BYPASS");
    if resp.status() != StatusCode::OK || bypassed || !not_modified(request, resp.headers()) {
        return resp;
    }
    *resp.status_mut() = StatusCode::NOT_MODIFIED;
    *resp.body_mut() = Body::empty();
    for name in &BODY_FIELDS {
        resp.headers_mut().remove(name);
    }
    resp
}

/// Whether the client's validators in `request` match the response with
/// `headers`.
fn not_modified(request: &HeaderMap, headers: &HeaderMap) -> bool {
    let inm: Vec<&HeaderValue> = request.get_all(header::IF_NONE_MATCH).iter().collect();
    if !inm.is_empty() {
        let etag = headers.get(header::ETAG).map(|v| opaque(v.as_bytes()));
        return inm
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .map(|t| t.trim_ascii())
            .any(|t| t == b"*" || etag.is_some_and(|e| opaque(t) == e));
    }
    let since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
    let modified = headers
        .get(header::LAST_MODIFIED)
        .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
    matches!((since, modified), (Some(s), Some(m)) if m <= s)
}

/// An entity tag without its weakness indicator, for weak comparison.
fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.parse::<header::HeaderName>().expect("name"),
                    HeaderValue::from_str(v).expect("value"),
                )
            })
            .collect()
    }

    fn stored(x_cache: &str) -> Response<Body> {
        let mut resp = Response::new(Body::full("body"));
        *resp.headers_mut() = headers(&[
            ("etag", "\"v1\""),
            ("last-modified", "Tue, 01 Jan 2030 00:00:00 GMT"),
            ("content-type", "text/plain"),
            ("content-length", "4"),
            ("cache-control", "max-age=60"),
            ("x-cache", x_cache),
        ]);
        resp
    }

    #[test]
    fn matching_validators_give_304_with_the_cache_headers_and_no_body() {
        for request in [
            [("if-none-match", "\"v1\"")],
            [("if-none-match", "\"v0\", W/\"v1\"")],
            [("if-none-match", "*")],
            [("if-modified-since", "Tue, 01 Jan 2030 00:00:00 GMT")],
            [("if-modified-since", "Wed, 02 Jan 2030 00:00:00 GMT")],
        ] {
            let resp = answer(&headers(&request), stored("HIT"));
            assert_eq!(resp.status(), StatusCode::NOT_MODIFIED, "{request:?}");
            assert!(resp.body().as_bytes().is_some_and(<[u8]>::is_empty));
            let h = resp.headers();
            assert_eq!(h.get("etag").map(|v| v.as_bytes()), Some(&b"\"v1\""[..]));
            assert!(h.get("cache-control").is_some() && h.get("x-cache").is_some());
            assert!(h.get("content-length").is_none() && h.get("content-type").is_none());
        }
    }

    #[test]
    fn other_validators_and_answers_pass_through() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[("if-none-match", "\"v2\"")], "HIT"),
            // If-None-Match wins over a matching If-Modified-Since.
            (
                &[
                    ("if-none-match", "\"v2\""),
                    ("if-modified-since", "Wed, 02 Jan 2030 00:00:00 GMT"),
                ],
                "HIT",
            ),
            (
                &[("if-modified-since", "Mon, 31 Dec 2029 00:00:00 GMT")],
                "HIT",
            ),
            (&[], "HIT"),
            (&[("if-none-match", "\"v1\"")], "BYPASS"),
        ];
        for (request, x_cache) in cases {
            let resp = answer(&headers(request), stored(x_cache));
            assert_eq!(resp.status(), StatusCode::OK, "{request:?} {x_cache}");
        }
        let mut error = stored("MISS");
        *error.status_mut() = StatusCode::NOT_FOUND;
        let resp = answer(&headers(&[("if-none-match", "*")]), error);
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
}
