//! The WAF's cost per request, engine only: a benign JSON request and an
//! attack, at paranoia 1 and 2.
//!
//! `cargo bench -p gateway-core --bench waf`

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use gateway_core::waf::{Waf, WafConfig};
use http::{HeaderMap, HeaderValue, Uri, header};

const BENIGN: &str = r#"{"order":{"id":1234,"customer":{"name":"Ada O'Reilly","email":"ada.oreilly+shop@example.com"},"items":[{"sku":"A-1","qty":2,"note":"select a date from the calendar and update your order"},{"sku":"B-7","qty":1}],"shipping":{"street":"1 Main St.","city":"Springfield","url":"https://example.com/track?id=1234&lang=en"},"comment":"Leave it at the door, please. Don't ring!"}}"#;
const ATTACK: &str = r#"{"order":{"id":1234,"customer":{"name":"x' UNION SELECT password FROM users--","email":"a@example.com"},"comment":"<img src=x onerror=alert(document.cookie)>"}}"#;

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::USER_AGENT,
        HeaderValue::from_static(
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        ),
    );
    h.insert(
        header::COOKIE,
        HeaderValue::from_static("session=abc123; theme=dark"),
    );
    h
}

fn waf(c: &mut Criterion) {
    let uri: Uri = "/api/orders?expand=items&page=2".parse().expect("uri");
    let h = headers();
    let mut g = c.benchmark_group("waf");
    for pl in [1u8, 2] {
        let waf = Waf::new(WafConfig {
            paranoia: pl,
            ..WafConfig::default()
        });
        g.bench_function(format!("benign JSON order, PL{pl}"), |b| {
            b.iter(|| black_box(waf.inspect(&uri, &h, Some(BENIGN.as_bytes()))))
        });
        g.bench_function(format!("SQLi and XSS in JSON, PL{pl}"), |b| {
            b.iter(|| black_box(waf.inspect(&uri, &h, Some(ATTACK.as_bytes()))))
        });
    }
    g.finish();
}

criterion_group!(benches, waf);
criterion_main!(benches);
