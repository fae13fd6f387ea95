//! Hop-by-hop headers belong to one connection and are never forwarded.

use http::header::Entry;
use http::{HeaderMap, HeaderName, HeaderValue, header};

const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];

/// Removes the headers a `Connection` value names.
fn remove_named(headers: &mut HeaderMap, value: &HeaderValue) {
    let Ok(list) = value.to_str() else { return };
    for token in list.split(',') {
        let token = token.trim();
        // The usual values name no extra header.
        if token.eq_ignore_ascii_case("keep-alive")
            || token.eq_ignore_ascii_case("close")
            || token.is_empty()
        {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
            headers.remove(name);
        }
    }
}

/// Removes hop-by-hop headers and every header named in `Connection`.
/// `Transfer-Encoding` goes too: the outgoing connection frames the body itself.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names finds which hop-by-hop headers are present.
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    if present & 1 != 0 {
        let mut connection: Vec<HeaderValue> = Vec::new();
        if let Entry::Occupied(e) = headers.entry(header::CONNECTION) {
            connection.extend(e.remove_entry_mult().1);
        }
        for v in &connection {
            remove_named(headers, v);
        }
    }
    for (i, h) in HOP_BY_HOP.iter().enumerate().skip(1) {
        if present & (1 << i) != 0 {
            headers.remove(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_listed_and_named() {
        let mut h = HeaderMap::new();
        h.insert("connection", "close, x-secret-hop".parse().expect("v"));
        h.insert("x-secret-hop", "1".parse().expect("v"));
        h.insert("keep-alive", "timeout=5".parse().expect("v"));
        h.insert("transfer-encoding", "chunked".parse().expect("v"));
        h.insert("proxy-authorization", "Basic x".parse().expect("v"));
        h.insert("te", "trailers".parse().expect("v"));
        h.insert("upgrade", "websocket".parse().expect("v"));
        h.insert("x-kept", "1".parse().expect("v"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn no_hop_headers_is_untouched() {
        let mut h = HeaderMap::new();
        h.insert("x-a", "1".parse().expect("v"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
    }
}
