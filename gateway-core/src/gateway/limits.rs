//! Checks on the request head that every target applies.

use http::{Request, header};

use crate::config::Limits;
use crate::error::RequestError;

/// The declared body length, if any. Several differing values are an error.
pub(crate) fn content_length<B>(req: &Request<B>) -> Result<Option<u64>, RequestError> {
    let mut found: Option<u64> = None;
    for v in req.headers().get_all(header::CONTENT_LENGTH) {
        let n = v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or(RequestError::Malformed("invalid Content-Length"))?;
        if found.is_some_and(|f| f != n) {
            return Err(RequestError::Malformed("conflicting Content-Length"));
        }
        found = Some(n);
    }
    Ok(found)
}

/// URI length (414) and header count and size (431). The declared body size
/// is checked against the matched route's limit, which may exceed the
/// server default.
pub(crate) fn check_head<B>(req: &Request<B>, limits: &Limits) -> Result<(), RequestError> {
    let target_len = req.uri().path_and_query().map_or(1, |pq| pq.as_str().len());
    if target_len > limits.max_uri_bytes {
        return Err(RequestError::UriTooLong);
    }
    let headers = req.headers();
    if headers.len() > limits.max_header_count {
        return Err(RequestError::HeadersTooLarge);
    }
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(RequestError::HeadersTooLarge);
    }
    if headers.contains_key(header::TRANSFER_ENCODING)
        && headers.contains_key(header::CONTENT_LENGTH)
    {
        return Err(RequestError::Malformed(
            "both Transfer-Encoding and Content-Length",
        ));
    }
    content_length(req)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_uri_bytes: 10,
            max_header_count: 2,
            max_header_bytes: 40,
            max_body_bytes: 5,
            ..Limits::default()
        };
        assert_eq!(
            check_head(&req("/0123456789", &[]), &limits),
            Err(RequestError::UriTooLong)
        );
        assert_eq!(
            check_head(&req("/", &[("a", "1"), ("b", "2"), ("c", "3")]), &limits),
            Err(RequestError::HeadersTooLarge)
        );
        assert_eq!(
            check_head(&req("/", &[("a", &"x".repeat(40))]), &limits),
            Err(RequestError::HeadersTooLarge)
        );
        assert!(
            check_head(&req("/", &[("content-length", "6")]), &limits).is_ok(),
            "routes decide"
        );
        assert_eq!(
            check_head(&req("/", &[("content-length", "x")]), &limits),
            Err(RequestError::Malformed("invalid Content-Length"))
        );
        assert!(
            check_head(
                &req(
                    "/",
                    &[("content-length", "5"), ("transfer-encoding", "chunked")]
                ),
                &limits
            )
            .is_err()
        );
    }
}
