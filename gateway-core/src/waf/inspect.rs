//! Splits a request into the values the rules see: path, query parameters,
//! chosen headers (cookies by value), JSON keys and strings, form fields.

use http::{HeaderMap, Uri, header};

use super::engine::Scan;
use super::{InspectConfig, Location};

/// Runs the scan over every inspected part. Returns whether the body was cut
/// at the inspection cap.
pub(super) fn request(
    scan: &mut Scan<'_>,
    cfg: &InspectConfig,
    uri: &Uri,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> bool {
    if cfg.path {
        scan.value(uri.path(), Location::Path, false);
    }
    if cfg.query
        && let Some(q) = uri.query()
    {
        pairs(scan, q, Location::Query);
    }
    for name in &cfg.headers {
        for value in headers.get_all(name) {
            let text = String::from_utf8_lossy(value.as_bytes());
            if name == header::COOKIE {
                for c in text.split(';') {
                    let (k, v) = c.trim().split_once('=').unwrap_or(("", c));
                    scan.value(k, Location::Header, false);
                    scan.value(v, Location::Header, false);
                }
            } else {
                scan.value(&text, Location::Header, false);
            }
        }
    }
    match body {
        Some(b) if cfg.body && !b.is_empty() => body_parts(scan, cfg, headers, b),
        _ => false,
    }
}

/// `a=1&b=2` pairs, names and values, `+` as space.
fn pairs(scan: &mut Scan<'_>, text: &str, location: Location) {
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        scan.value(k, location, true);
        scan.value(v, location, true);
    }
}

fn body_parts(scan: &mut Scan<'_>, cfg: &InspectConfig, headers: &HeaderMap, body: &[u8]) -> bool {
    let truncated = body.len() > cfg.body_limit;
    let body = &body[..body.len().min(cfg.body_limit)];
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if media == "application/x-www-form-urlencoded" {
        pairs(scan, &String::from_utf8_lossy(body), Location::Form);
    } else if media == "application/json" || media.ends_with("+json") {
        match (truncated, serde_json::from_slice::<serde_json::Value>(body)) {
            (false, Ok(v)) => json(scan, &v, 0),
            _ => scan.value(&String::from_utf8_lossy(body), Location::Body, false),
        }
    }
    truncated
}

/// Deepest JSON nesting walked; deeper values are still seen as text below.
const MAX_DEPTH: usize = 64;

fn json(scan: &mut Scan<'_>, v: &serde_json::Value, depth: usize) {
    use serde_json::Value;
    match v {
        Value::String(s) => scan.value(s, Location::Json, false),
        Value::Array(items) if depth < MAX_DEPTH => {
            for i in items {
                json(scan, i, depth + 1);
            }
        }
        Value::Object(map) if depth < MAX_DEPTH => {
            for (k, i) in map {
                scan.value(k, Location::Json, false);
                json(scan, i, depth + 1);
            }
        }
        Value::Array(_) | Value::Object(_) => scan.value(&v.to_string(), Location::Json, false),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Waf, WafConfig};
    use http::HeaderMap;

    fn inspect(uri: &str, headers: &[(&str, &str)], body: Option<&str>) -> Vec<u32> {
        let waf = Waf::new(WafConfig::default());
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        let uri: http::Uri = uri.parse().expect("uri");
        waf.inspect(&uri, &h, body.map(str::as_bytes))
            .hits
            .iter()
            .map(|h| h.rule)
            .collect()
    }

    #[test]
    fn parts_are_inspected() {
        assert!(!inspect("/a?q=1%27+OR+%271%27%3D%271", &[], None).is_empty());
        assert!(!inspect("/a", &[("cookie", "s=1; t=<script>x")], None).is_empty());
        assert!(!inspect("/a", &[("user-agent", "() { :; }; /bin/bash -c id")], None).is_empty());
        let json = r#"{"a":{"b":["x","${jndi:ldap://e/a}"]}}"#;
        assert!(!inspect("/a", &[("content-type", "application/json")], Some(json)).is_empty());
        assert!(
            !inspect(
                "/a",
                &[("content-type", "application/x-www-form-urlencoded")],
                Some("name=x&cmd=%3B+cat+%2Fetc%2Fpasswd")
            )
            .is_empty()
        );
    }

    #[test]
    fn uninspected_headers_and_media_types_are_ignored() {
        assert!(inspect("/a", &[("x-other", "<script>")], None).is_empty());
        assert!(inspect("/a", &[("content-type", "image/png")], Some("<script>")).is_empty());
    }
}
