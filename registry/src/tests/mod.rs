//! The registry over a memory store with a manual clock: register,
//! heartbeat, expiry, deregister, bounds, compare-and-swap contention, and
//! the HTTP API served through a gateway.

mod api;
mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::KvStore;
use gateway_core::discovery::Instance;
use gateway_core::store::StorageError;

/// An instance of `service` at 10.0.0.1:`port`.
fn instance(service: &str, id: &str, port: u16) -> Instance {
    Instance {
        id: id.into(),
        service: service.into(),
        address: "10.0.0.1".into(),
        port,
        scheme: "http".into(),
        weight: 1,
        zone: None,
        version: None,
        metadata: Default::default(),
    }
}

/// Pending once, then ready: lets another future run in between.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A store that yields after each read, so that two writers both read
/// before either writes; counts compare-and-swaps that lost. With
/// `always_lose`, every compare-and-swap loses.
struct Interleaved {
    inner: Arc<dyn KvStore>,
    lost: AtomicUsize,
    always_lose: bool,
}

impl Interleaved {
    fn new(inner: Arc<dyn KvStore>, always_lose: bool) -> Self {
        Self {
            inner,
            lost: AtomicUsize::new(0),
            always_lose,
        }
    }
}

#[async_trait::async_trait]
impl KvStore for Interleaved {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let v = self.inner.get(key).await;
        YieldOnce(false).await;
        v
    }
    async fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.inner.delete(key).await
    }
    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StorageError> {
        self.inner.incr(key, delta, ttl).await
    }
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError> {
        let won = !self.always_lose && self.inner.compare_and_swap(key, expected, new, ttl).await?;
        if !won {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        Ok(won)
    }
}
