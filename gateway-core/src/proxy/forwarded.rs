//! `X-Forwarded-*` and `Forwarded` (RFC 7239) on requests going upstream.

use std::fmt::Write as _;
use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, header};

static XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
static XFP: HeaderName = HeaderName::from_static("x-forwarded-proto");
static XFH: HeaderName = HeaderName::from_static("x-forwarded-host");

/// All lines of a list header as one comma-separated value.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut out: Option<String> = None;
    for v in headers.get_all(name) {
        let Ok(v) = v.to_str() else { continue };
        match &mut out {
            Some(s) => {
                s.push_str(", ");
                s.push_str(v);
            }
            None => out = Some(v.to_owned()),
        }
    }
    out
}

fn value(s: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(s)).ok()
}

/// Appends `ip` in its usual text form. IPv4 is written by hand: it is on
/// every request and `Display` for addresses goes through the formatter.
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// Sets the forwarding headers. When the peer is not a trusted proxy,
/// whatever the client sent is replaced; when it is, the chain is extended.
pub(crate) fn set_forwarding_headers(
    headers: &mut HeaderMap,
    peer: IpAddr,
    peer_trusted: bool,
    https: bool,
    host: Option<&HeaderValue>,
) {
    let proto = if https { "https" } else { "http" };

    let prev = if peer_trusted {
        joined(headers, &XFF)
    } else {
        None
    };
    let mut xff = prev.unwrap_or_default();
    if !xff.is_empty() {
        xff.push_str(", ");
    }
    push_ip(&mut xff, peer);
    if let Some(v) = value(xff) {
        headers.insert(&XFF, v);
    }
    if !peer_trusted || !headers.contains_key(&XFP) {
        headers.insert(&XFP, HeaderValue::from_static(proto));
    }
    let host_text = host.and_then(|h| h.to_str().ok());
    match host.filter(|_| host_text.is_some()) {
        // The client's own header value, shared rather than copied.
        Some(h) if !peer_trusted || !headers.contains_key(&XFH) => {
            headers.insert(&XFH, h.clone());
        }
        None if !peer_trusted => {
            headers.remove(&XFH);
        }
        _ => {}
    }

    let prev = if peer_trusted {
        joined(headers, &header::FORWARDED)
    } else {
        None
    };
    let mut fwd = String::with_capacity(64 + prev.as_ref().map_or(0, String::len));
    if let Some(prev) = prev {
        fwd.push_str(&prev);
        fwd.push_str(", ");
    }
    fwd.push_str("for=");
    if peer.is_ipv6() {
        fwd.push_str("\"[");
        push_ip(&mut fwd, peer);
        fwd.push_str("]\"");
    } else {
        push_ip(&mut fwd, peer);
    }
    fwd.push_str(";proto=");
    fwd.push_str(proto);
    if let Some(h) = host_text.filter(|h| h.bytes().all(|b| b.is_ascii_graphic() && b != b'"')) {
        fwd.push_str(";host=\"");
        fwd.push_str(h);
        fwd.push('"');
    }
    if let Some(v) = value(fwd) {
        headers.insert(header::FORWARDED, v);
    } else {
        headers.remove(header::FORWARDED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_peer_replaces_client_headers() {
        let mut h = HeaderMap::new();
        h.insert(&XFF, "6.6.6.6".parse().expect("v"));
        h.insert(header::FORWARDED, "for=6.6.6.6".parse().expect("v"));
        h.insert(&XFP, "https".parse().expect("v"));
        h.insert(&XFH, "evil.test".parse().expect("v"));
        set_forwarding_headers(
            &mut h,
            "203.0.113.5".parse().expect("ip"),
            false,
            false,
            Some(&HeaderValue::from_static("api.test")),
        );
        assert_eq!(h[&XFF], "203.0.113.5");
        assert_eq!(h[&XFP], "http");
        assert_eq!(h[&XFH], "api.test");
        assert_eq!(
            h[header::FORWARDED],
            "for=203.0.113.5;proto=http;host=\"api.test\""
        );
    }

    #[test]
    fn untrusted_peer_without_host_drops_client_host_header() {
        let mut h = HeaderMap::new();
        h.insert(&XFH, "evil.test".parse().expect("v"));
        set_forwarding_headers(
            &mut h,
            "203.0.113.5".parse().expect("ip"),
            false,
            false,
            None,
        );
        assert!(h.get(&XFH).is_none());
    }

    #[test]
    fn chain_over_several_lines_is_kept_whole() {
        let mut h = HeaderMap::new();
        h.append(&XFF, "198.51.100.1".parse().expect("v"));
        h.append(&XFF, "203.0.113.2".parse().expect("v"));
        set_forwarding_headers(&mut h, "127.0.0.1".parse().expect("ip"), true, false, None);
        assert_eq!(h[&XFF], "198.51.100.1, 203.0.113.2, 127.0.0.1");
        assert_eq!(h.get_all(&XFF).iter().count(), 1);
    }

    #[test]
    fn ipv4_is_written_like_display() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.20.30.40",
            "100.200.255.9",
            "255.255.255.255",
            "192.168.0.100",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            let mut s = String::new();
            push_ip(&mut s, ip);
            assert_eq!(s, ip.to_string());
        }
    }

    #[test]
    fn trusted_peer_extends_chain() {
        let mut h = HeaderMap::new();
        h.insert(&XFF, "198.51.100.1".parse().expect("v"));
        h.insert(&XFP, "https".parse().expect("v"));
        h.append(header::FORWARDED, "for=198.51.100.1".parse().expect("v"));
        set_forwarding_headers(&mut h, "::1".parse().expect("ip"), true, false, None);
        assert_eq!(h[&XFF], "198.51.100.1, ::1");
        assert_eq!(h[&XFP], "https", "a trusted proxy's proto is kept");
        assert_eq!(
            h[header::FORWARDED],
            "for=198.51.100.1, for=\"[::1]\";proto=http"
        );
    }
}
