//! Trace and span ids: 16 and 8 random bytes, written as lower-case hex.

use std::fmt;

use crate::env::Rng;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The value of one lower-case hex digit; upper case is not accepted
/// (W3C Trace Context writes ids in lower case only).
fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Reads `2 * N` lower-case hex digits into `N` bytes.
pub(super) fn decode<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// Writes `bytes` as lower-case hex into `out` (twice as long).
pub(super) fn encode(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0xF)];
    }
}

/// A trace id: 16 bytes, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId([u8; 16]);

/// A span id: 8 bytes, never all zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId([u8; 8]);

impl TraceId {
    /// The id with these bytes, unless they are all zero (invalid).
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(Self(bytes))
    }

    /// A new random id.
    pub fn random(rng: &dyn Rng) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
        bytes[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
        if bytes == [0; 16] {
            bytes[15] = 1;
        }
        Self(bytes)
    }

    /// The 16 bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// The 32 hex digits.
    pub fn to_hex(self) -> String {
        self.to_string()
    }
}

impl SpanId {
    /// The id with these bytes, unless they are all zero (invalid).
    pub fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        (bytes != [0; 8]).then_some(Self(bytes))
    }

    /// A new random id.
    pub fn random(rng: &dyn Rng) -> Self {
        match rng.next_u64() {
            0 => Self(1u64.to_be_bytes()),
            n => Self(n.to_be_bytes()),
        }
    }

    /// The 8 bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// The 16 hex digits.
    pub fn to_hex(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 32];
        encode(&self.0, &mut out);
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 16];
        encode(&self.0, &mut out);
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SplitMix;

    #[test]
    fn hex_round_trip_is_lower_case() {
        let id = TraceId::from_bytes(
            *b"\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36",
        )
        .expect("non-zero");
        assert_eq!(id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(decode::<16>(id.to_hex().as_bytes()), Some(id.to_bytes()));
        assert_eq!(decode::<8>(b"00F067AA0BA902B7"), None, "upper case");
        assert_eq!(decode::<8>(b"00f067aa0ba902b"), None, "short");
        assert_eq!(decode::<8>(b"00f067aa0ba902bg"), None, "not hex");
    }

    #[test]
    fn all_zero_ids_are_invalid_and_never_generated() {
        assert!(TraceId::from_bytes([0; 16]).is_none());
        assert!(SpanId::from_bytes([0; 8]).is_none());
        struct Zero;
        impl Rng for Zero {
            fn next_u64(&self) -> u64 {
                0
            }
        }
        assert_ne!(TraceId::random(&Zero).to_bytes(), [0; 16]);
        assert_ne!(SpanId::random(&Zero).to_bytes(), [0; 8]);
        let rng = SplitMix::seeded(7);
        assert_ne!(TraceId::random(&rng), TraceId::random(&rng));
    }
}
