//! The `traceparent` and `tracestate` headers (W3C Trace Context level 1).

use bytes::{BufMut, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::ids::{SpanId, TraceId, decode, encode};

/// The `traceparent` request header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` request header.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Most list members a `tracestate` may have; a longer one is dropped.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Most bytes a `tracestate` may have; a longer one is dropped.
pub const MAX_TRACESTATE_BYTES: usize = 512;

/// The `sampled` bit of the trace flags.
const SAMPLED: u8 = 0x01;
/// Length of a version-00 `traceparent`.
const LEN: usize = 55;

/// A caller's valid `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    /// The trace the caller is part of.
    pub trace_id: TraceId,
    /// The caller's span.
    pub span_id: SpanId,
    /// The caller's sampled flag.
    pub sampled: bool,
}

/// Parses one `traceparent` value. Version `00` must be exactly
/// `00-<32 hex>-<16 hex>-<2 hex>`; a later version is read the same way
/// and may carry more after a `-` (the spec's forward compatibility);
/// `ff`, upper-case hex and all-zero ids are invalid.
pub fn parse_traceparent(value: &[u8]) -> Option<Parent> {
    let v = value.trim_ascii();
    if v.len() < LEN {
        return None;
    }
    let [version] = decode::<1>(&v[..2])?;
    match version {
        0xff => return None,
        0 if v.len() != LEN => return None,
        _ if v.len() > LEN && v[LEN] != b'-' => return None,
        _ => {}
    }
    if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let trace_id = TraceId::from_bytes(decode::<16>(&v[3..35])?)?;
    let span_id = SpanId::from_bytes(decode::<8>(&v[36..52])?)?;
    let [flags] = decode::<1>(&v[53..55])?;
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags & SAMPLED != 0,
    })
}

/// The caller's context from its headers: `None` unless there is exactly
/// one valid `traceparent`.
pub fn read_parent(headers: &HeaderMap) -> Option<Parent> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse_traceparent(first.as_bytes())
}

/// `00-<trace id>-<span id>-<flags>` for a request the gateway sends.
pub fn traceparent(trace_id: TraceId, span_id: SpanId, sampled: bool) -> Option<HeaderValue> {
    let mut out = [0u8; LEN];
    out[..3].copy_from_slice(b"00-");
    encode(&trace_id.to_bytes(), &mut out[3..35]);
    out[35] = b'-';
    encode(&span_id.to_bytes(), &mut out[36..52]);
    out[52] = b'-';
    encode(&[u8::from(sampled)], &mut out[53..55]);
    HeaderValue::from_bytes(&out).ok()
}

/// The caller's `tracestate` to pass on: the header fields joined, or
/// `None` when absent, malformed, or beyond the bounds
/// ([`MAX_TRACESTATE_MEMBERS`], [`MAX_TRACESTATE_BYTES`]).
pub fn read_tracestate(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut values = headers.get_all(TRACESTATE).iter();
    let first = values.next()?;
    let joined = match values.next() {
        None => first.clone(),
        Some(second) => {
            let mut buf = BytesMut::from(first.as_bytes());
            for v in std::iter::once(second).chain(values) {
                if buf.len() > MAX_TRACESTATE_BYTES {
                    return None;
                }
                buf.put_u8(b',');
                buf.put_slice(v.as_bytes());
            }
            HeaderValue::from_maybe_shared(buf.freeze()).ok()?
        }
    };
    valid_tracestate(joined.as_bytes()).then_some(joined)
}

/// Whether `v` is a well-formed `tracestate` within the bounds: members
/// `key=value` separated by commas (empty members allowed), unique keys.
fn valid_tracestate(v: &[u8]) -> bool {
    if v.len() > MAX_TRACESTATE_BYTES {
        return false;
    }
    let mut keys: Vec<&[u8]> = Vec::new();
    for member in v.split(|&b| b == b',') {
        let member = member.trim_ascii();
        if member.is_empty() {
            continue;
        }
        let Some(eq) = member.iter().position(|&b| b == b'=') else {
            return false;
        };
        let (key, value) = (&member[..eq], &member[eq + 1..]);
        if !valid_key(key) || !valid_value(value) || keys.contains(&key) {
            return false;
        }
        if keys.len() == MAX_TRACESTATE_MEMBERS {
            return false;
        }
        keys.push(key);
    }
    true
}

/// `lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/")`, or the
/// multi-tenant `tenant@system` form.
fn valid_key(key: &[u8]) -> bool {
    let part = |s: &[u8], max: usize, digit_first: bool| {
        !s.is_empty()
            && s.len() <= max
            && (s[0].is_ascii_lowercase() || (digit_first && s[0].is_ascii_digit()))
            && s.iter().all(|&c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'_' | b'-' | b'*' | b'/')
            })
    };
    match key.iter().position(|&b| b == b'@') {
        None => part(key, 256, false),
        Some(at) => part(&key[..at], 241, true) && part(&key[at + 1..], 14, false),
    }
}

/// Up to 256 printable ASCII characters except `,` and `=`, not ending in
/// a space.
fn valid_value(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value.last() != Some(&b' ')
        && value
            .iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(s: &str) -> Option<Parent> {
        parse_traceparent(s.as_bytes())
    }

    #[test]
    fn a_version_00_traceparent_parses() {
        let p = parse(GOOD).expect("valid");
        assert_eq!(p.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p.span_id.to_hex(), "00f067aa0ba902b7");
        assert!(p.sampled);
        let unsampled = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert!(!unsampled.expect("valid").sampled);
        // Unknown flags are ignored; only the sampled bit counts.
        assert!(
            !parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe")
                .expect("valid")
                .sampled
        );
        // Surrounding whitespace is not part of the value.
        assert!(parse(&format!(" \t{GOOD} ")).is_some());
    }

    #[test]
    fn malformed_traceparents_are_rejected() {
        for bad in [
            "",
            "00",
            // Upper-case hex.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // All-zero ids.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // Version ff is invalid forever.
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Version 00 has exactly this length.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            // Wrong separators, non-hex.
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "-0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn future_versions_are_read_by_the_version_00_layout() {
        let p =
            parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds")
                .expect("a later version may append after a dash");
        assert_eq!(p.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(p.sampled);
        assert!(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());
        assert_eq!(
            parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what"),
            None,
            "more after the flags must start with a dash"
        );
        assert_eq!(
            parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"),
            None
        );
    }

    #[test]
    fn two_traceparent_fields_are_no_context() {
        let mut h = HeaderMap::new();
        h.append(TRACEPARENT, HeaderValue::from_static(GOOD));
        assert!(read_parent(&h).is_some());
        h.append(TRACEPARENT, HeaderValue::from_static(GOOD));
        assert_eq!(read_parent(&h), None);
    }

    #[test]
    fn traceparent_is_formatted_as_version_00() {
        let p = parse(GOOD).expect("valid");
        let v = traceparent(p.trace_id, p.span_id, true).expect("ascii");
        assert_eq!(v, GOOD);
        let v = traceparent(p.trace_id, p.span_id, false).expect("ascii");
        assert_eq!(v, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    }

    fn state(fields: &[&str]) -> Option<String> {
        let mut h = HeaderMap::new();
        for f in fields {
            h.append(TRACESTATE, HeaderValue::from_str(f).expect("valid header"));
        }
        read_tracestate(&h).map(|v| v.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn tracestate_is_carried_and_fields_are_joined() {
        assert_eq!(state(&[]), None);
        assert_eq!(
            state(&["congo=t61rcWkgMzE"]).as_deref(),
            Some("congo=t61rcWkgMzE")
        );
        assert_eq!(
            state(&["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]).as_deref(),
            Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        );
        assert_eq!(
            state(&["a=1, ,tenant@vendor=x"]).as_deref(),
            Some("a=1, ,tenant@vendor=x")
        );
    }

    #[test]
    fn tracestate_beyond_bounds_or_malformed_is_dropped() {
        let members = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert!(state(&[&members(32)]).is_some());
        assert_eq!(state(&[&members(33)]), None, "33 members");
        let v = |n: usize| "v".repeat(n);
        let near = format!("a={},b={},c={}", v(166), v(166), v(172));
        assert_eq!(near.len(), MAX_TRACESTATE_BYTES);
        assert!(state(&[&near]).is_some());
        assert_eq!(state(&[&near, "c=1"]), None, "over 512 bytes once joined");
        for bad in ["novalue", "Upper=1", "k=a,k=b", "k=a=b", "1k=v", "=v"] {
            assert_eq!(state(&[bad]), None, "{bad:?}");
        }
    }
}
