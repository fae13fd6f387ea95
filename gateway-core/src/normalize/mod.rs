//! Path normalisation, done before routing.
//!
//! The gateway routes on, and forwards, the normalised path only, so no
//! encoding trick can make a request match one route while an upstream
//! resolves it to another:
//! - percent-encoded unreserved characters are decoded (`%7E` → `~`), other
//!   escapes are kept with upper-case hex;
//! - encoded `/` is rejected by default (or kept encoded), encoded `\` and
//!   NUL are always rejected, as is a raw `\`;
//! - `;` path parameters are rejected by default (`/..;/` tricks);
//! - `//` runs are merged and `.` / `..` segments removed (RFC 3986 §5.2.4).

mod config;

use std::borrow::Cow;

pub use config::{EncodedSlash, PathConfig, Semicolons};

use crate::error::RequestError;

/// The value of one hexadecimal digit.
pub(crate) fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `b` is an RFC 3986 unreserved character.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes unreserved escapes and canonicalises the rest, segment by segment.
fn decode_segment(seg: &str, cfg: &PathConfig, out: &mut String) -> Result<(), RequestError> {
    let bytes = seg.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let (h, l) = match (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => (h, l),
                    _ => return Err(RequestError::BadPath("malformed percent-encoding")),
                };
                let d = h << 4 | l;
                match d {
                    0 => return Err(RequestError::BadPath("encoded NUL")),
                    b'\\' => return Err(RequestError::BadPath("encoded backslash")),
                    b'/' if cfg.encoded_slash == EncodedSlash::Reject => {
                        return Err(RequestError::BadPath("encoded slash"));
                    }
                    _ if is_unreserved(d) => out.push(d as char),
                    _ => {
                        out.push('%');
                        out.push(HEX[usize::from(d >> 4)] as char);
                        out.push(HEX[usize::from(d & 0xF)] as char);
                    }
                }
                i += 3;
                continue;
            }
            b'\\' => return Err(RequestError::BadPath("backslash")),
            b';' if cfg.semicolons == Semicolons::Reject => {
                return Err(RequestError::BadPath("path parameters (;) are not allowed"));
            }
            0..=0x20 | 0x7F.. => return Err(RequestError::BadPath("invalid character")),
            _ => out.push(b as char),
        }
        i += 1;
    }
    Ok(())
}

/// Normalises a request path (without query). Returns an error for paths that
/// cannot be made safe.
pub fn normalize_path<'a>(raw: &'a str, cfg: &PathConfig) -> Result<Cow<'a, str>, RequestError> {
    if !raw.starts_with('/') {
        return Err(RequestError::BadPath("path must start with /"));
    }
    if raw.len() > cfg.max_len {
        return Err(RequestError::UriTooLong);
    }
    // Fast path: nothing to decode, no dot segments, no empty segments.
    if is_already_normal(raw, cfg) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut segments: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    let mut parts = raw[1..].split('/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        let mut seg = String::with_capacity(part.len());
        decode_segment(part, cfg, &mut seg)?;
        match seg.as_str() {
            "" => trailing_slash = last,
            "." => trailing_slash = last,
            ".." => {
                segments.pop();
                trailing_slash = last;
            }
            _ => {
                segments.push(seg);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(raw.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// True when `raw` has no escapes, no dot or empty segments and no forbidden bytes.
fn is_already_normal(raw: &str, cfg: &PathConfig) -> bool {
    let b = raw.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'%' | b'\\' | 0..=0x20 | 0x7F.. => return false,
            b';' if cfg.semicolons == Semicolons::Reject => return false,
            b'/' if i + 1 < b.len() && b[i + 1] == b'/' => return false,
            b'.' if b[i - 1] == b'/' => {
                let rest = &b[i + 1..];
                if rest.is_empty()
                    || rest[0] == b'/'
                    || (rest[0] == b'.' && (rest.len() == 1 || rest[1] == b'/'))
                {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests;
