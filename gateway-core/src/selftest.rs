//! Store self-test endpoints for test builds of the edge targets.
//!
//! Compiled only with the `selftest` feature, which the test scripts turn
//! on to hold a platform's real store (Workers KV and Durable Objects under
//! `wrangler dev`, Spin key-value under a key-value host) to the core's
//! [store contract](crate::store::contract) and to measure how exact its
//! counters are under concurrent requests. **Never enable it in a
//! deployment**: the endpoints are unauthenticated.
//!
//! All endpoints answer `POST` under [`PREFIX`]:
//!
//! - `store`, `counters`: run the contract on [`Env::store`] or
//!   [`Env::counters`]; 200 with `{"passed": N, "failed": [...]}`;
//! - `incr/{key}`, `incr-store/{key}`: add 1 to a counter in
//!   [`Env::counters`] or [`Env::store`]; 200 with the new value as text.

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};

use crate::body::Body;
use crate::env::Env;
use crate::store::KvStore;

/// Where the self-test endpoints live.
pub const PREFIX: &str = "/__gateway/selftest/";

/// Answers a self-test request, or `None` when `req` is not one.
pub async fn handle<B>(req: &http::Request<B>, env: &Env) -> Option<Response<Body>> {
    let rest = req.uri().path().strip_prefix(PREFIX)?;
    if req.method() != Method::POST {
        return Some(text(StatusCode::METHOD_NOT_ALLOWED, "POST only".into()));
    }
    let answer = match rest.split_once('/') {
        None => match rest {
            "store" => contract(env.store.as_ref(), env).await,
            "counters" => contract(env.counters.as_ref(), env).await,
            _ => text(StatusCode::NOT_FOUND, "no such self-test".into()),
        },
        Some(("incr", key)) => incr(env.counters.as_ref(), key).await,
        Some(("incr-store", key)) => incr(env.store.as_ref(), key).await,
        Some(_) => text(StatusCode::NOT_FOUND, "no such self-test".into()),
    };
    Some(answer)
}

async fn contract(store: &dyn KvStore, env: &Env) -> Response<Body> {
    let prefix = format!("selftest:{:016x}:", env.rng.next_u64());
    let report = crate::store::contract::check(store, env.sleep.as_ref(), &prefix).await;
    let body = serde_json::to_vec(&report).unwrap_or_default();
    let mut resp = Response::new(Body::full(Bytes::from(body)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn incr(store: &dyn KvStore, key: &str) -> Response<Body> {
    match store.incr(&format!("selftest:incr:{key}"), 1, None).await {
        Ok(n) => text(StatusCode::OK, n.to_string()),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::full(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::block_on;

    fn post(path: &str) -> http::Request<()> {
        http::Request::post(path).body(()).expect("request")
    }

    async fn body_text(resp: Response<Body>) -> String {
        let bytes = resp.into_body().collect(1 << 20).await.expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn endpoints_run_the_contract_and_count() {
        let env = crate::test_env::env_with_sleep();
        assert!(block_on(handle(&post("/api/x"), &env)).is_none());
        let resp = block_on(handle(&post("/__gateway/selftest/store"), &env)).expect("handled");
        assert_eq!(resp.status(), 200);
        let report: serde_json::Value =
            serde_json::from_str(&block_on(body_text(resp))).expect("json");
        assert_eq!(report["failed"], serde_json::json!([]));
        assert!(report["passed"].as_u64().expect("count") >= 8);
        for want in ["1", "2"] {
            let resp = block_on(handle(&post("/__gateway/selftest/incr/k"), &env)).expect("ok");
            assert_eq!(block_on(body_text(resp)), want);
        }
        let get = http::Request::get("/__gateway/selftest/store")
            .body(())
            .expect("request");
        assert_eq!(block_on(handle(&get, &env)).expect("handled").status(), 405);
    }
}
