//! The core's own cost per request, without sockets: normalisation, routing,
//! versioning, a header policy and a mock upstream.
//!
//! `cargo bench -p gateway-core --bench request_path`

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_executor::block_on;
use gateway_core::env::BoxFuture;
use gateway_core::error::UpstreamError;
use gateway_core::normalize::{PathConfig, normalize_path};
use gateway_core::{
    Body, ClientInfo, Clock, Deferred, Env, Gateway, HttpClient, MemoryStore, PolicyRegistry, Rng,
    SendOptions, Sleep,
};

struct FixedClock;
impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000
    }
}
struct NoSleep;
#[async_trait::async_trait]
impl Sleep for NoSleep {
    async fn sleep(&self, _d: Duration) {
        futures_util::future::pending::<()>().await;
    }
}
struct Counter(AtomicU64);
impl Rng for Counter {
    fn next_u64(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}
struct Drop_;
impl Deferred for Drop_ {
    fn defer(&self, _w: BoxFuture<'static, ()>) {}
}
struct NoHttp;
#[async_trait::async_trait]
impl HttpClient for NoHttp {
    async fn send(
        &self,
        _r: http::Request<Body>,
        _o: SendOptions,
    ) -> Result<http::Response<Body>, UpstreamError> {
        Err(UpstreamError::Connect(None))
    }
}

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
    let clock = Arc::new(FixedClock);
    let env = Env {
        store: Arc::new(MemoryStore::new(clock.clone(), 1024)),
        clock,
        sleep: Arc::new(NoSleep),
        rng: Arc::new(Counter(AtomicU64::new(0))),
        http: Arc::new(NoHttp),
        deferred: Arc::new(Drop_),
    };
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
