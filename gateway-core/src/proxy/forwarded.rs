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

/// Sets the forwarding headers. When the peer is not a trusted proxy,
/// whatever the client sent is replaced; when it is, the chain is extended.
pub(crate) fn set_forwarding_headers(
    headers: &mut HeaderMap,
    peer: IpAddr,
    peer_trusted: bool,
    https: bool,
    host: Option<&str>,
) {
    let proto = if https { "https" } else { "http" };
    let mut ip = String::with_capacity(48);
    let _ = write!(ip, "{peer}");

    let xff = match joined(headers, &XFF) {
        Some(prev) if peer_trusted => format!("{prev}, {ip}"),
        _ => ip.clone(),
    };
    if let Some(v) = value(xff) {
        headers.insert(&XFF, v);
    }
    if !peer_trusted || !headers.contains_key(&XFP) {
        headers.insert(&XFP, HeaderValue::from_static(proto));
    }
    match host {
        Some(h) if !peer_trusted || !headers.contains_key(&XFH) => match HeaderValue::from_str(h) {
            Ok(v) => {
                headers.insert(&XFH, v);
            }
            Err(_) => {
                headers.remove(&XFH);
            }
        },
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
    match peer {
        IpAddr::V4(_) => {
            let _ = write!(fwd, "for={ip}");
        }
        IpAddr::V6(_) => {
            let _ = write!(fwd, "for=\"[{ip}]\"");
        }
    }
    let _ = write!(fwd, ";proto={proto}");
    if let Some(h) = host.filter(|h| h.bytes().all(|b| b.is_ascii_graphic() && b != b'"')) {
        let _ = write!(fwd, ";host=\"{h}\"");
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
            Some("api.test"),
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
