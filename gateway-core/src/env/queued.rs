//! Deferred work for platforms without background tasks.

use std::sync::{Mutex, PoisonError};

use super::{BoxFuture, Deferred};

/// Deferred work queued while a request runs and driven by the adapter with
/// [`QueuedDeferred::run_all`]: on Workers inside `ctx.waitUntil`, on Spin
/// after the response has been written (the instance lives until the
/// handler returns).
///
/// The queue may belong to an isolate rather than one request: whichever
/// request drains it runs every job queued so far.
#[derive(Default)]
pub struct QueuedDeferred(Mutex<Vec<BoxFuture<'static, ()>>>);

impl std::fmt::Debug for QueuedDeferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedDeferred")
            .field("pending", &self.pending())
            .finish()
    }
}

impl QueuedDeferred {
    /// How many jobs wait.
    pub fn pending(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Runs every queued job concurrently, including jobs that those jobs
    /// queue, until the queue is empty.
    pub async fn run_all(&self) {
        loop {
            let batch = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
            if batch.is_empty() {
                return;
            }
            futures_util::future::join_all(batch).await;
        }
    }
}

impl Deferred for QueuedDeferred {
    fn defer(&self, work: BoxFuture<'static, ()>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn runs_queued_and_nested_work() {
        let q = Arc::new(QueuedDeferred::default());
        let hits = Arc::new(AtomicU64::new(0));
        let (q2, h1, h2) = (q.clone(), hits.clone(), hits.clone());
        q.defer(Box::pin(async move {
            h1.fetch_add(1, Ordering::SeqCst);
            q2.defer(Box::pin(async move {
                h2.fetch_add(10, Ordering::SeqCst);
            }));
        }));
        assert_eq!(q.pending(), 1);
        q.run_all()
            .now_or_never()
            .expect("ready futures finish at once");
        assert_eq!(hits.load(Ordering::SeqCst), 11);
        assert_eq!(q.pending(), 0);
    }
}
