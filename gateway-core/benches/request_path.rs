//! The core's own cost per request, without sockets: normalisation, routing,
//! versioning, a header policy and a mock upstream.
//!
//! `cargo bench -p gateway-core --bench request_path`

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_executor::block_on;
use gateway_core::normalize::{PathConfig, normalize_path};
use gateway_core::{Body, ClientInfo, Gateway, PolicyRegistry};

const CONFIG: &str = r#"
version: 1
upstreams:
  ok: { mock: { body: ok } }
routes:
  - { path: /health, upstream: ok }
  - path: "/api/{version}/users/{id}"
    upstream: ok
    versioning: { from: path, versions: { v1: { deprecated: "2026-01-01" }, v2: {} } }
    policies:
      - headers: { request: { set: { x-user: "{id}" } }, response: { set: { x-powered-by: gateway } } }
  - { path: "/files/{*rest}", upstream: ok }
"#;

fn gateway() -> Gateway {
    let env = gateway_testkit::test_env(1024).env;
    let cfg =
        gateway_core::config::load_file_text("bench.yaml", CONFIG, &PolicyRegistry::builtin())
            .expect("config");
    Gateway::new(cfg, env)
}

fn request_path(c: &mut Criterion) {
    let gw = gateway();
    let client = ClientInfo {
        peer: "203.0.113.9".parse().expect("ip"),
        tls: false,
    };
    let mut g = c.benchmark_group("handle");
    g.bench_function("static route, mock upstream", |b| {
        b.iter(|| {
            let req = http::Request::get("/health")
                .body(Body::empty())
                .expect("request");
            black_box(block_on(gw.handle(req, client)))
        })
    });
    g.bench_function("versioned route with params and a header policy", |b| {
        b.iter(|| {
            let req = http::Request::get("/api/v1/users/42")
                .header("host", "api.test")
                .body(Body::empty())
                .expect("request");
            black_box(block_on(gw.handle(req, client)))
        })
    });
    g.bench_function("not found", |b| {
        b.iter(|| {
            let req = http::Request::get("/nope")
                .body(Body::empty())
                .expect("request");
            black_box(block_on(gw.handle(req, client)))
        })
    });
    g.finish();

    let cfg = PathConfig::default();
    let mut g = c.benchmark_group("normalize_path");
    g.bench_function("already normal", |b| {
        b.iter(|| black_box(normalize_path(black_box("/api/v1/users/42"), &cfg)))
    });
    g.bench_function("dots and escapes", |b| {
        b.iter(|| {
            black_box(normalize_path(
                black_box("/api/./v1//users/%7Efoo/../42"),
                &cfg,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, request_path);
criterion_main!(benches);
