//! [`RedisStore`]: the [`KvStore`] operations as Redis commands.

use std::time::Duration;

use bytes::Bytes;
use gateway_core::KvStore;
use gateway_core::ratelimit::{self, LimitDecision, LimitState, LimitStep};
use gateway_core::store::StorageError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::storage_error;
use crate::script::Scripts;

/// Longest expiry sent to Redis, in ms (about 146 million years).
///
/// Redis rejects expiry times that overflow when added to its clock, so
/// longer TTLs are shortened to this.
const MAX_TTL_MS: u64 = 1 << 62;

/// Connection attempts after the first before a (re)connect fails.
const RECONNECT_RETRIES: usize = 3;

/// A [`KvStore`] on a Redis server, shared by every gateway instance that
/// uses the same server and prefix.
///
/// Keys are stored as `{prefix}:{key}` (just `{key}` when the prefix is
/// empty), so several gateways or test runs can share one server. Cloning is
/// cheap and clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    /// The prefix followed by `:`, or empty.
    namespace: String,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection's details name the server; leave them out.
        f.debug_struct("RedisStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the server at `url` (`redis://[user:password@]host[:port][/db]`)
    /// and namespaces all keys under `prefix`.
    ///
    /// Fails with [`StorageError::Unavailable`] when the URL is invalid or
    /// the server cannot be reached or refuses to authenticate; the message
    /// never contains the URL. The connection is re-established in the
    /// background if it drops later.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StorageError> {
        let client = redis::Client::open(url).map_err(|e| storage_error("connect", &e))?;
        let conn = client
            .get_connection_manager_with_config(manager_config())
            .await
            .map_err(|e| storage_error("connect", &e))?;
        Ok(Self::from_manager(conn, prefix))
    }

    /// Uses an existing connection, for callers that tune its timeouts and
    /// retries with [`ConnectionManagerConfig`] themselves.
    pub fn from_manager(conn: ConnectionManager, prefix: &str) -> Self {
        let namespace = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}:")
        };
        Self {
            conn,
            namespace,
            scripts: std::sync::Arc::new(Scripts::new()),
        }
    }

    /// The Redis key for the store key `key`.
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.namespace)
    }

    /// A handle for one command; handles share the underlying connection.
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

/// Reconnection settings for [`RedisStore::connect`].
///
/// Commands issued while the connection is down wait for the reconnect, so
/// it gives up after under a second of retries (plus the library's 1 s
/// connect timeout per attempt) and lets the caller fail the request; the
/// next command tries again. Responses time out after the library's 500 ms.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_max_delay(Duration::from_millis(500))
}

/// `ttl` in whole ms (truncated, as the in-memory store does), capped at
/// [`MAX_TTL_MS`]. Zero means already expired.
fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .min(MAX_TTL_MS)
}

/// The TTL as a script argument: `""` for none, else ms.
fn ttl_arg(ttl: Option<Duration>) -> String {
    ttl.map(|t| ttl_ms(t).to_string()).unwrap_or_default()
}

/// `SET` with the optional expiry, or `DEL` when the value would arrive expired.
fn put_cmd(key: &str, value: &[u8], ttl: Option<Duration>) -> redis::Cmd {
    let ms = ttl.map(ttl_ms);
    let mut cmd = redis::cmd(if ms == Some(0) { "DEL" } else { "SET" });
    cmd.arg(key);
    match ms {
        // Expired on arrival: the old value goes and nothing replaces it.
        Some(0) => {}
        Some(ms) => {
            cmd.arg(value).arg("PX").arg(ms);
        }
        None => {
            cmd.arg(value);
        }
    }
    cmd
}

#[async_trait::async_trait]
impl KvStore for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| storage_error("get", &e))
    }

    async fn put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<(), StorageError> {
        put_cmd(&self.key(key), &value, ttl)
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(|e| storage_error("put", &e))
    }

    async fn delete(&self, key: &str) -> Result<bool, StorageError> {
        let removed: u64 = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut self.conn())
            .await
            .map_err(|e| storage_error("delete", &e))?;
        Ok(removed > 0)
    }

    async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Option<Duration>,
    ) -> Result<i64, StorageError> {
        let value: Option<i64> = self
            .scripts
            .incr
            .key(self.key(key))
            .arg(delta)
            .arg(ttl_arg(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| storage_error("incr", &e))?;
        value.ok_or_else(|| StorageError::WrongType {
            key: key.to_owned(),
        })
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
        ttl: Option<Duration>,
    ) -> Result<bool, StorageError> {
        let written: u8 = self
            .scripts
            .compare_and_swap
            .key(self.key(key))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(&new[..])
            .arg(ttl_arg(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| storage_error("compare_and_swap", &e))?;
        Ok(written == 1)
    }

    /// One round trip: the decision runs in a server-side script
    /// (`EVALSHA`, loaded on first use), atomic across every instance.
    async fn rate_limit(
        &self,
        key: &str,
        step: &LimitStep,
        now_ms: u64,
    ) -> Result<LimitDecision, StorageError> {
        let mut call = self.scripts.rate_limit.key(self.key(key));
        match *step {
            LimitStep::Gcra { interval_ms, burst } => {
                call.arg("g").arg(now_ms).arg(interval_ms).arg(burst);
            }
            LimitStep::Window {
                start_ms,
                end_ms,
                limit,
                sliding,
            } => {
                call.arg("w")
                    .arg(now_ms)
                    .arg(start_ms)
                    .arg(end_ms)
                    .arg(limit)
                    .arg(if sliding { "1" } else { "0" });
            }
        }
        let (allowed, state): (i64, String) = call
            .invoke_async(&mut self.conn())
            .await
            .map_err(|e| storage_error("rate_limit", &e))?;
        let state =
            LimitState::decode(state.as_bytes()).ok_or_else(|| StorageError::WrongType {
                key: key.to_owned(),
            })?;
        Ok(ratelimit::decide(step, &state, allowed == 1, now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_capped_milliseconds() {
        assert_eq!(ttl_ms(Duration::from_micros(1_999)), 1);
        assert_eq!(ttl_ms(Duration::from_micros(999)), 0);
        assert_eq!(ttl_ms(Duration::MAX), MAX_TTL_MS);
        assert_eq!(ttl_arg(None), "");
        assert_eq!(ttl_arg(Some(Duration::from_millis(150))), "150");
    }

    #[test]
    fn put_with_zero_ttl_deletes() {
        let args = |cmd: &redis::Cmd| -> Vec<Vec<u8>> {
            cmd.args_iter()
                .filter_map(|a| match a {
                    redis::Arg::Simple(b) => Some(b.to_vec()),
                    _ => None,
                })
                .collect()
        };
        let zero = put_cmd("p:k", b"v", Some(Duration::ZERO));
        assert_eq!(args(&zero), [&b"DEL"[..], b"p:k"]);
        let ttl = put_cmd("p:k", b"v", Some(Duration::from_millis(150)));
        assert_eq!(args(&ttl), [&b"SET"[..], b"p:k", b"v", b"PX", b"150"]);
        let plain = put_cmd("p:k", b"v", None);
        assert_eq!(args(&plain), [&b"SET"[..], b"p:k", b"v"]);
    }
}
