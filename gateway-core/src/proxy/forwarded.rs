//! `X-Forwarded-*` and `Forwarded` (RFC 7239) on requests going upstream.

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue, header};

const XFF: &str = "x-forwarded-for";
const XFP: &str = "x-forwarded-proto";
const XFH: &str = "x-forwarded-host";

fn forwarded_node(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    }
}

/// All lines of a list header as one comma-separated value.
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
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
    if !peer_trusted {
        headers.remove(XFF);
        headers.remove(XFP);
        headers.remove(XFH);
        headers.remove(header::FORWARDED);
    }
    let xff = match joined(headers, XFF) {
        Some(prev) if peer_trusted => format!("{prev}, {peer}"),
        _ => peer.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(XFF, v);
    }
    if !headers.contains_key(XFP) {
        headers.insert(XFP, HeaderValue::from_static(proto));
    }
    if let Some(host) = host
        && !headers.contains_key(XFH)
        && let Ok(v) = HeaderValue::from_str(host)
    {
        headers.insert(XFH, v);
    }
    let mut element = format!("for={};proto={proto}", forwarded_node(peer));
    if let Some(host) = host.filter(|h| h.bytes().all(|b| b.is_ascii_graphic() && b != b'"')) {
        element.push_str(&format!(";host=\"{host}\""));
    }
    let fwd = match joined(headers, header::FORWARDED.as_str()) {
        Some(prev) if peer_trusted => format!("{prev}, {element}"),
        _ => element,
    };
    if let Ok(v) = HeaderValue::from_str(&fwd) {
        headers.insert(header::FORWARDED, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_peer_replaces_client_headers() {
        let mut h = HeaderMap::new();
        h.insert(XFF, "6.6.6.6".parse().expect("v"));
        h.insert(header::FORWARDED, "for=6.6.6.6".parse().expect("v"));
        h.insert(XFP, "https".parse().expect("v"));
        set_forwarding_headers(
            &mut h,
            "203.0.113.5".parse().expect("ip"),
            false,
            false,
            Some("api.test"),
        );
        assert_eq!(h[XFF], "203.0.113.5");
        assert_eq!(h[XFP], "http");
        assert_eq!(h[XFH], "api.test");
        assert_eq!(
            h[header::FORWARDED],
            "for=203.0.113.5;proto=http;host=\"api.test\""
        );
    }

    #[test]
    fn chain_over_several_lines_is_kept_whole() {
        let mut h = HeaderMap::new();
        h.append(XFF, "198.51.100.1".parse().expect("v"));
        h.append(XFF, "203.0.113.2".parse().expect("v"));
        set_forwarding_headers(&mut h, "127.0.0.1".parse().expect("ip"), true, false, None);
        assert_eq!(h[XFF], "198.51.100.1, 203.0.113.2, 127.0.0.1");
        assert_eq!(h.get_all(XFF).iter().count(), 1);
    }

    #[test]
    fn trusted_peer_extends_chain() {
        let mut h = HeaderMap::new();
        h.insert(XFF, "198.51.100.1".parse().expect("v"));
        set_forwarding_headers(&mut h, "::1".parse().expect("ip"), true, true, None);
        assert_eq!(h[XFF], "198.51.100.1, ::1");
        assert_eq!(h[XFP], "https");
        assert_eq!(h[header::FORWARDED], "for=\"[::1]\";proto=https");
    }
}
