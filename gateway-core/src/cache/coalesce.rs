//! Request coalescing: while one request for a key is on its way upstream
//! (the leader), others for the same key in this instance (followers) wait
//! for it, then look the key up again, as nginx's `proxy_cache_lock` does.
//! Followers wait at most a bounded time and then go upstream themselves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_channel::oneshot;
use futures_util::FutureExt;
use futures_util::future::Shared;

type Signal = Shared<oneshot::Receiver<()>>;

/// The keys being fetched in this instance.
#[derive(Default)]
pub(crate) struct Locks {
    map: Mutex<HashMap<String, Signal>>,
}

/// A request's turn for a key.
pub(crate) enum Turn {
    /// Fetch it; followers are released when the guard drops.
    Leader(LeaderGuard),
    /// Another request fetches it: wait for this, then look again.
    Follower(Signal),
}

/// Held by the leader; dropping it releases the followers.
pub(crate) struct LeaderGuard {
    locks: Arc<Locks>,
    key: String,
    _done: oneshot::Sender<()>,
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        self.locks
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl Locks {
    /// Leads the fetch of `key`, or follows the request that does.
    pub(crate) fn acquire(self: &Arc<Self>, key: &str) -> Turn {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(signal) = map.get(key) {
            return Turn::Follower(signal.clone());
        }
        let (tx, rx) = oneshot::channel();
        map.insert(key.to_owned(), rx.shared());
        Turn::Leader(LeaderGuard {
            locks: self.clone(),
            key: key.to_owned(),
            _done: tx,
        })
    }

    /// Keys being fetched.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_leader_per_key_and_followers_wake_when_it_drops() {
        let locks = Arc::new(Locks::default());
        let Turn::Leader(guard) = locks.acquire("k") else {
            panic!("the first request leads");
        };
        let Turn::Follower(signal) = locks.acquire("k") else {
            panic!("the second request follows");
        };
        assert!(matches!(locks.acquire("other"), Turn::Leader(_)));
        assert_eq!(signal.peek(), None);
        drop(guard);
        assert_eq!(locks.len(), 0);
        // The sender is gone: the follower's wait ends.
        assert!(futures_executor::block_on(signal).is_err());
        assert!(matches!(locks.acquire("k"), Turn::Leader(_)));
    }
}
