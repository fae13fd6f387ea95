//! [`ProbeStore`]: a store wrapper for tests that counts operations, can
//! fail them all, and can force the interleavings that compare-and-swap
//! users must survive.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::{KvStore, StorageError};

/// Wraps a store for tests: counts reads and writes, answers
/// [`StorageError::Unavailable`] while [`down`](Self::down) is set, yields
/// once after every read when [`yield_after_reads`](Self::yield_after_reads)
/// is set (so two writers both read before either writes), and makes every
/// compare-and-swap lose while [`lose_swaps`](Self::lose_swaps) is set.
pub struct ProbeStore {
    inner: Arc<dyn KvStore>,
    reads: AtomicUsize,
    writes: AtomicUsize,
    lost: AtomicUsize,
    /// Every operation fails while set.
    pub down: AtomicBool,
    /// Every read yields once before answering while set.
    pub yield_after_reads: AtomicBool,
    /// Every compare-and-swap loses while set.
    pub lose_swaps: AtomicBool,
}

impl std::fmt::Debug for ProbeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeStore")
            .field("ops", &self.ops())
            .field("lost", &self.lost())
            .finish_non_exhaustive()
    }
}

impl ProbeStore {
    /// A probe in front of `inner`, with every switch off.
    pub fn new(inner: Arc<dyn KvStore>) -> Self {
        Self {
            inner,
            reads: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            yield_after_reads: AtomicBool::new(false),
            lose_swaps: AtomicBool::new(false),
        }
    }

    /// Operations so far: `(reads, writes)`. Increments, deletes and
    /// compare-and-swaps count as writes.
    pub fn ops(&self) -> (usize, usize) {
        (
            self.reads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
        )
    }

    /// Compare-and-swaps that did not write.
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }

    fn enter(&self, write: bool) -> Result<(), StorageError> {
        let counter = if write { &self.writes } else { &self.reads };
        counter.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(StorageError::Unavailable("store down".into()))
        } else {
            Ok(())
        }
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

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl KvStore for ProbeStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.enter(false)?;
        let value = self.inner.get(key).await;
        if self.yield_after_reads.load(Ordering::SeqCst) {
            YieldOnce(false).await;
        }
        value
    }

    async fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        self.enter(true)?;
        self.inner.put(key, value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        self.enter(true)?;
        self.inner.delete(key).await
    }

    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StorageError> {
        self.enter(true)?;
        self.inner.incr(key, delta, ttl).await
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError> {
        self.enter(true)?;
        let won = !self.lose_swaps.load(Ordering::SeqCst)
            && self.inner.compare_and_swap(key, expected, new, ttl).await?;
        if !won {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        Ok(won)
    }
}
