//! Request ids: the client's when well-formed, otherwise generated.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::env::Rng;

/// The request id header's name, in a policy context's extensions for
/// code that builds upstream requests of its own (aggregation).
#[derive(Debug, Clone)]
pub(crate) struct RequestIdHeader(pub(crate) HeaderName);

/// Longest request id accepted from a client, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// One request's id. Always visible ASCII token characters (RFC 9110
/// `tchar`), so it is safe in headers, JSON and log lines as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id from the `name` header of `headers` when there is exactly one
    /// well-formed value, else a new one from `rng`.
    pub fn take_or_generate(headers: &HeaderMap, name: &HeaderName, rng: &dyn Rng) -> Self {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(v), None) if is_well_formed(v.as_bytes()) => Self(v.clone()),
            _ => Self::generate(rng),
        }
    }

    /// A new id: 128 random bits as 32 lower-case hex digits.
    pub fn generate(rng: &dyn Rng) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0u8; 32];
        let bits = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        for (i, digit) in id.iter_mut().enumerate() {
            *digit = HEX[((bits >> (124 - 4 * i)) & 0xF) as usize];
        }
        Self(HeaderValue::from_bytes(&id).expect("hex digits are a valid header value"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only token characters get in (checked or generated), all ASCII.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a client's request id is acceptable: 1 to [`MAX_REQUEST_ID_LEN`] bytes, all
/// RFC 9110 token characters (visible ASCII without separators, so no
/// spaces, quotes, backslashes or commas).
pub fn is_well_formed(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.iter().all(|&b| is_tchar(b))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}
