//! [`DurableCounters`]: the worker's side, a [`KvStore`] that sends each
//! operation to the key's object (wasm, feature `durable-objects`).

use std::time::Duration;

use bytes::Bytes;
use gateway_core::KvStore;
use gateway_core::store::StorageError;
use wasm_bindgen::JsValue;
use worker::{Method, ObjectNamespace, Request, RequestInit};

use gateway_core::ratelimit::{self, LimitDecision, LimitStep};

use super::op::{Op, Reply, ttl_ms};

/// The URL the worker posts operations to; the object ignores it.
const OBJECT_URL: &str = "https://gateway-counters.internal/op";

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("Durable Object `GatewayCounters`: {e}"))
}

/// Exact counters and compare-and-swap on the `GatewayCounters` Durable
/// Object: one object per key (`idFromName(key)`), so each key's operations
/// are serialised by its object while different keys spread over objects.
pub struct DurableCounters {
    namespace: Result<ObjectNamespace, String>,
}

impl std::fmt::Debug for DurableCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableCounters").finish_non_exhaustive()
    }
}

impl DurableCounters {
    /// Wraps the namespace binding; a missing binding is kept and reported
    /// by every operation as [`StorageError::Unavailable`].
    pub fn new(namespace: Result<ObjectNamespace, String>) -> Self {
        Self { namespace }
    }

    /// Sends `op` to its key's object and returns the object's reply.
    async fn call(&self, op: Op) -> Result<Reply, StorageError> {
        let namespace = self
            .namespace
            .as_ref()
            .map_err(|e| StorageError::Unavailable(e.clone()))?;
        let stub = namespace
            .id_from_name(op.key())
            .and_then(|id| id.get_stub())
            .map_err(unavailable)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_body(Some(JsValue::from_str(&op.encode())));
        let req = Request::new_with_init(OBJECT_URL, &init).map_err(unavailable)?;
        let mut resp = stub.fetch_with_request(req).await.map_err(unavailable)?;
        let text = resp.text().await.map_err(unavailable)?;
        Reply::decode(&text)
    }
}

#[async_trait::async_trait(?Send)]
impl KvStore for DurableCounters {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let op = Op::Get {
            key: key.to_owned(),
        };
        Ok(self.call(op).await?.into_value()?.map(Bytes::from))
    }

    async fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        let op = Op::Put {
            key: key.to_owned(),
            value: value.to_vec(),
            ttl_ms: ttl_ms(ttl),
        };
        self.call(op).await?.into_stored()
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let op = Op::Delete {
            key: key.to_owned(),
        };
        self.call(op).await?.into_deleted()
    }

    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StorageError> {
        let op = Op::Incr {
            key: key.to_owned(),
            delta,
            ttl_ms: ttl_ms(ttl),
        };
        self.call(op).await?.into_count(key)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError> {
        let op = Op::Cas {
            key: key.to_owned(),
            expected: expected.map(<[u8]>::to_vec),
            value: new.to_vec(),
            ttl_ms: ttl_ms(ttl),
        };
        self.call(op).await?.into_swapped()
    }

    /// One request to the key's object, which decides alone: exact.
    async fn rate_limit(
        &self,
        key: &str,
        step: &LimitStep,
        now_ms: u64,
    ) -> Result<LimitDecision, StorageError> {
        let op = Op::RateLimit {
            key: key.to_owned(),
            step: *step,
            now_ms,
        };
        let (allowed, state) = self.call(op).await?.into_limited(key)?;
        Ok(ratelimit::decide(step, &state, allowed, now_ms))
    }
}
