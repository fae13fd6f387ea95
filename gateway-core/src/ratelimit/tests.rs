//! The policy through a gateway on the test env: refill on a manual clock,
//! missing keys, unlimited groups, and a failing store.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_executor::block_on;
use http::Request;

use crate::body::Body;
use crate::config::load_file_text;
use crate::store::{KvStore, StorageError};
use crate::{ClientInfo, Gateway, PolicyRegistry, test_env};

fn gateway(policies: &str, env: crate::Env) -> Gateway {
    let yaml = format!(
        "version: 1\nupstreams: {{ m: {{ mock: {{ body: ok }} }} }}\nroutes:\n  - path: /x\n    upstream: m\n    policies:\n{policies}"
    );
    let cfg = load_file_text("t.yaml", &yaml, &PolicyRegistry::builtin()).expect("valid config");
    Gateway::new(cfg, env)
}

fn get(gw: &Gateway, headers: &[(&str, &str)]) -> http::Response<Body> {
    let mut req = Request::get("/x");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    block_on(gw.handle(
        req.body(Body::empty()).expect("request"),
        ClientInfo::default(),
    ))
}

#[test]
fn the_bucket_refills_with_the_clock() {
    let (env, clock) = test_env::timed();
    let gw = gateway(
        "      - rate_limit: { limits: [{ name: b, rate: 2/s }] }\n",
        env,
    );
    let statuses = |n| {
        (0..n)
            .map(|_| get(&gw, &[]).status().as_u16())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(3), [200, 200, 429]);
    clock.advance(Duration::from_millis(500));
    assert_eq!(statuses(2), [200, 429]);
    clock.advance(Duration::from_secs(10));
    assert_eq!(statuses(3), [200, 200, 429]);
}

#[test]
fn missing_keys_and_unlimited_groups() {
    let gw = gateway(
        "      - rate_limit: { limits: [{ name: h, rate: 1/m, key: [header.x-tenant], on_missing_key: deny }] }\n",
        test_env::env(),
    );
    let denied = get(&gw, &[]);
    assert_eq!(denied.status(), 429);
    assert!(denied.headers().get("retry-after").is_none());
    assert_eq!(get(&gw, &[("x-tenant", "a")]).status(), 200);
    assert_eq!(get(&gw, &[("x-tenant", "a")]).status(), 429);
    assert_eq!(get(&gw, &[("x-tenant", "b")]).status(), 200, "per tenant");
    let skip = gateway(
        "      - rate_limit: { limits: [{ name: s, rate: 1/m, key: [header.x-tenant], on_missing_key: skip }] }\n",
        test_env::env(),
    );
    for _ in 0..3 {
        let resp = get(&skip, &[]);
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("ratelimit").is_none(), "not applied");
    }
}

/// A store that always fails.
#[derive(Debug)]
struct Down;

#[async_trait::async_trait]
impl KvStore for Down {
    async fn get(&self, _: &str) -> Result<Option<Bytes>, StorageError> {
        Err(StorageError::Unavailable("down".into()))
    }
    async fn put(&self, _: &str, _: Bytes, _: Option<Duration>) -> Result<(), StorageError> {
        Err(StorageError::Unavailable("down".into()))
    }
    async fn delete(&self, _: &str) -> Result<bool, StorageError> {
        Err(StorageError::Unavailable("down".into()))
    }
    async fn incr(&self, _: &str, _: i64, _: Option<Duration>) -> Result<i64, StorageError> {
        Err(StorageError::Unavailable("down".into()))
    }
    async fn compare_and_swap(
        &self,
        _: &str,
        _: Option<&[u8]>,
        _: Bytes,
        _: Option<Duration>,
    ) -> Result<bool, StorageError> {
        Err(StorageError::Unavailable("down".into()))
    }
}

#[test]
fn a_failing_store_fails_open_or_closed_counted_and_logged() {
    let env = || crate::Env {
        counters: Arc::new(Down),
        ..test_env::env()
    };
    let before = super::store_errors();
    let open = gateway(
        "      - rate_limit: { limits: [{ name: o, rate: 1/m }] }\n",
        env(),
    );
    let resp = get(&open, &[]);
    assert_eq!(resp.status(), 200);
    assert_eq!(
        crate::report::log_lines(&resp),
        ["rate limit store unavailable: status=200 on_store_error=allow limits=o"]
    );
    let closed = gateway(
        "      - rate_limit: { limits: [{ name: c, rate: 1/m, on_store_error: deny }] }\n",
        env(),
    );
    let resp = get(&closed, &[]);
    assert_eq!(resp.status(), 503);
    assert_eq!(
        crate::report::log_lines(&resp),
        ["rate limit store unavailable: status=503 on_store_error=deny limits=c"]
    );
    assert!(super::store_errors() >= before + 2);
    // Approximate limits use the bulk store, which still works.
    let approx = gateway(
        "      - rate_limit: { limits: [{ name: a, rate: 1/m, accuracy: approximate }] }\n",
        env(),
    );
    assert_eq!(get(&approx, &[]).status(), 200);
    assert_eq!(get(&approx, &[]).status(), 429);
}
