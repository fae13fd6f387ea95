//! Bearer tokens that protect the gateway's own APIs (registry, cache
//! purge, and the self-hosted target's admin listener): the token is kept
//! only as its SHA-256 digest, and a presented token is hashed and the
//! digests compared in constant time.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;

use super::sha256;
use crate::error::{GatewayError, Rejection};

/// A bearer token, kept as its SHA-256 digest.
#[derive(Clone, Copy, Default)]
pub struct BearerToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(redacted)")
    }
}

impl BearerToken {
    /// The token whose SHA-256 digest is `digest`.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self { digest }
    }

    /// The token `token` itself (only its digest is kept).
    pub fn from_token(token: &str) -> Self {
        Self::from_digest(sha256(token.as_bytes()))
    }

    /// Whether `Authorization: Bearer <token>` carries this token.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
        else {
            return false;
        };
        bool::from(sha256(token.as_bytes()).ct_eq(&self.digest))
    }

    /// `Ok` when the request carries the token, else a 401 problem with a
    /// `WWW-Authenticate` challenge for a bearer token in `realm`.
    pub fn admit(&self, headers: &HeaderMap, realm: &str) -> Result<(), GatewayError> {
        if self.authorized(headers) {
            return Ok(());
        }
        let challenge = HeaderValue::from_str(&format!("Bearer realm=\"{realm}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
        Err(Rejection::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .with_header(header::WWW_AUTHENTICATE, challenge)
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(v).expect("header value"),
        );
        h
    }

    #[test]
    fn admits_only_the_token_and_challenges_otherwise() {
        let t = BearerToken::from_token("s3cret-token");
        assert!(t.authorized(&bearer("Bearer s3cret-token")));
        assert!(t.authorized(&bearer("bearer s3cret-token")));
        assert!(!t.authorized(&bearer("Bearer s3cret-tokeN")));
        assert!(!t.authorized(&bearer("Basic s3cret-token")));
        assert!(!t.authorized(&HeaderMap::new()));
        let resp = t
            .admit(&HeaderMap::new(), "admin")
            .expect_err("no token")
            .into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"admin\""
        );
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
