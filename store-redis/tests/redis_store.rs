//! `RedisStore` against a real Redis server.
//!
//! Uses the server at `REDIS_URL` when set (keys go under a unique prefix
//! and are removed at the end of each test); otherwise each test starts its
//! own `redis-server` on a free loopback port. With neither, tests fail.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gateway_core::KvStore;
use gateway_core::ratelimit::LimitStep;
use gateway_core::store::StorageError;
use gateway_store_redis::RedisStore;

use harness::Redis;

const TTL: Duration = Duration::from_millis(150);

/// Long enough for a `TTL` entry to be gone.
const PAST_TTL: Duration = Duration::from_millis(400);

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn meets_the_store_contract() {
    let redis = Redis::start().await;
    let s = redis.store("contract").await;
    let report = gateway_core::store::contract::check(&s, &gateway_tokio::TokioSleep, "c:").await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(report.passed >= 8, "{report:?}");
    redis.cleanup("contract").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn put_get_and_ttl_expiry() {
    let redis = Redis::start().await;
    let s = redis.store("put").await;

    assert_eq!(s.get("k").await.expect("get"), None);
    s.put("k", b("v"), None).await.expect("put");
    assert_eq!(s.get("k").await.expect("get"), Some(b("v")));

    let binary = Bytes::from_static(&[0, 159, 146, 150, 255]);
    s.put("bin", binary.clone(), None).await.expect("put");
    assert_eq!(s.get("bin").await.expect("get"), Some(binary));

    s.put("short", b("v"), Some(TTL)).await.expect("put");
    s.put("kept", b("old"), Some(TTL)).await.expect("put");
    s.put("kept", b("new"), None)
        .await
        .expect("put without ttl clears the expiry");
    assert_eq!(s.get("short").await.expect("get"), Some(b("v")));
    tokio::time::sleep(PAST_TTL).await;
    assert_eq!(s.get("short").await.expect("get"), None, "expired");
    assert_eq!(s.get("kept").await.expect("get"), Some(b("new")));

    s.put("k", b("v2"), Some(Duration::ZERO))
        .await
        .expect("put");
    assert_eq!(
        s.get("k").await.expect("get"),
        None,
        "zero ttl: expired on arrival"
    );

    redis.cleanup("put").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_reports_presence() {
    let redis = Redis::start().await;
    let s = redis.store("delete").await;

    assert!(!s.delete("k").await.expect("delete"));
    s.put("k", b("v"), None).await.expect("put");
    assert!(s.delete("k").await.expect("delete"));
    assert!(!s.delete("k").await.expect("delete"));
    assert_eq!(s.get("k").await.expect("get"), None);

    s.put("short", b("v"), Some(TTL)).await.expect("put");
    tokio::time::sleep(PAST_TTL).await;
    assert!(
        !s.delete("short").await.expect("delete"),
        "expired counts as absent"
    );

    redis.cleanup("delete").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incr_counts_from_zero() {
    let redis = Redis::start().await;
    let s = redis.store("incr").await;

    assert_eq!(s.incr("c", 5, None).await.expect("incr"), 5);
    assert_eq!(s.incr("c", -7, None).await.expect("incr"), -2);
    assert_eq!(s.get("c").await.expect("get"), Some(b("-2")));

    // Beyond 2^53, where Lua numbers (doubles) would round.
    s.put("big", b("9007199254740993"), None)
        .await
        .expect("put");
    assert_eq!(
        s.incr("big", 1, None).await.expect("incr"),
        9_007_199_254_740_994
    );

    // Overflow saturates, like the in-memory store.
    s.put("max", Bytes::from(i64::MAX.to_string()), None)
        .await
        .expect("put");
    assert_eq!(s.incr("max", 1, None).await.expect("incr"), i64::MAX);
    assert_eq!(s.incr("max", -1, None).await.expect("incr"), i64::MAX - 1);
    assert_eq!(s.incr("min", i64::MIN, None).await.expect("incr"), i64::MIN);
    assert_eq!(s.incr("min", -1, None).await.expect("incr"), i64::MIN);

    redis.cleanup("incr").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incr_sets_ttl_only_on_creation() {
    let redis = Redis::start().await;
    let s = redis.store("incr-ttl").await;
    let ttl = Duration::from_millis(300);

    // Created with a TTL that later increments keep, not refresh.
    assert_eq!(s.incr("c", 1, Some(ttl)).await.expect("incr"), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.incr("c", 2, Some(ttl)).await.expect("incr"), 3);
    let left = redis.pttl("incr-ttl", "c").await;
    assert!(
        (1..=100).contains(&left),
        "ttl kept, not refreshed: {left} ms left"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.get("c").await.expect("get"), None, "window over");
    assert_eq!(
        s.incr("c", 1, Some(ttl)).await.expect("incr"),
        1,
        "window restarted"
    );

    // An existing counter without a TTL does not get one, even when the
    // result equals the delta.
    s.put("plain", b("0"), None).await.expect("put");
    assert_eq!(s.incr("plain", 5, Some(TTL)).await.expect("incr"), 5);
    assert_eq!(redis.pttl("incr-ttl", "plain").await, -1, "no expiry added");

    // A counter created without a TTL has none.
    assert_eq!(s.incr("forever", 1, None).await.expect("incr"), 1);
    assert_eq!(redis.pttl("incr-ttl", "forever").await, -1);

    // Zero TTL: created expired.
    assert_eq!(
        s.incr("gone", 4, Some(Duration::ZERO)).await.expect("incr"),
        4
    );
    assert_eq!(s.get("gone").await.expect("get"), None);

    redis.cleanup("incr-ttl").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incr_on_non_integer_is_wrong_type() {
    let redis = Redis::start().await;
    let s = redis.store("wrongtype").await;

    for (key, value) in [
        ("text", "x"),
        ("float", "1.5"),
        ("huge", "99999999999999999999"),
    ] {
        s.put(key, b(value), None).await.expect("put");
        match s.incr(key, 1, None).await {
            Err(StorageError::WrongType { key: k }) => assert_eq!(k, key, "key without prefix"),
            other => panic!("{key}: expected WrongType, got {other:?}"),
        }
        assert_eq!(s.get(key).await.expect("get"), Some(b(value)), "unchanged");
    }

    redis.cleanup("wrongtype").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_and_swap_checks_current_value() {
    let redis = Redis::start().await;
    let s = redis.store("cas").await;

    assert!(
        s.compare_and_swap("k", None, b("a"), None)
            .await
            .expect("cas"),
        "absent"
    );
    assert!(
        !s.compare_and_swap("k", None, b("b"), None)
            .await
            .expect("cas"),
        "present"
    );
    assert!(
        !s.compare_and_swap("k", Some(b"x"), b("b"), None)
            .await
            .expect("cas"),
        "mismatch"
    );
    assert_eq!(s.get("k").await.expect("get"), Some(b("a")));
    assert!(
        s.compare_and_swap("k", Some(b"a"), b("b"), None)
            .await
            .expect("cas"),
        "match"
    );
    assert_eq!(s.get("k").await.expect("get"), Some(b("b")));

    assert!(
        !s.compare_and_swap("missing", Some(b"a"), b("b"), None)
            .await
            .expect("cas")
    );
    assert_eq!(s.get("missing").await.expect("get"), None);

    // Binary values compare byte for byte.
    let bin = [0u8, 255, 1];
    assert!(
        s.compare_and_swap("bin", None, Bytes::copy_from_slice(&bin), None)
            .await
            .expect("cas")
    );
    assert!(
        !s.compare_and_swap("bin", Some(&[0, 255]), b("x"), None)
            .await
            .expect("cas")
    );
    assert!(
        s.compare_and_swap("bin", Some(&bin), b("x"), None)
            .await
            .expect("cas")
    );

    // The written value takes the new TTL; once expired the key is absent.
    assert!(
        s.compare_and_swap("t", None, b("a"), Some(TTL))
            .await
            .expect("cas")
    );
    tokio::time::sleep(PAST_TTL).await;
    assert_eq!(s.get("t").await.expect("get"), None);
    assert!(
        s.compare_and_swap("t", None, b("c"), None)
            .await
            .expect("cas"),
        "expired is absent"
    );
    assert_eq!(redis.pttl("cas", "t").await, -1);

    redis.cleanup("cas").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prefixes_isolate_stores() {
    let redis = Redis::start().await;
    let a = redis.store("iso-a").await;
    let other = redis.store("iso-b").await;

    a.put("k", b("from a"), None).await.expect("put");
    assert_eq!(other.get("k").await.expect("get"), None);
    other.put("k", b("from b"), None).await.expect("put");
    assert_eq!(a.get("k").await.expect("get"), Some(b("from a")));
    assert!(a.delete("k").await.expect("delete"));
    assert_eq!(other.get("k").await.expect("get"), Some(b("from b")));
    assert_eq!(other.incr("n", 1, None).await.expect("incr"), 1);
    assert_eq!(a.incr("n", 1, None).await.expect("incr"), 1);
    assert_eq!(
        redis.raw_get("iso-b", "k").await,
        Some(b"from b".to_vec()),
        "stored as prefix:key"
    );

    redis.cleanup("iso-a").await;
    redis.cleanup("iso-b").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_incr_on_two_connections_sums_exactly() {
    let redis = Redis::start().await;
    let stores = [
        Arc::new(redis.store("conc-incr").await),
        Arc::new(redis.store("conc-incr").await),
    ];

    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = stores[i % 2].clone();
            tokio::spawn(async move { s.incr("hits", 1, Some(Duration::from_secs(60))).await })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.expect("task").expect("incr"));
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<i64>>(),
        "each increment saw a distinct value"
    );
    assert_eq!(stores[0].get("hits").await.expect("get"), Some(b("50")));

    redis.cleanup("conc-incr").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_compare_and_swap_has_one_winner() {
    let redis = Redis::start().await;
    let stores = [
        Arc::new(redis.store("conc-cas").await),
        Arc::new(redis.store("conc-cas").await),
    ];
    stores[0].put("leader", b("none"), None).await.expect("put");

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = stores[i % 2].clone();
            tokio::spawn(async move {
                let won = s
                    .compare_and_swap("leader", Some(b"none"), b(&format!("task-{i}")), None)
                    .await;
                (i, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (i, won) = t.await.expect("task");
        if won.expect("cas") {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    let expected = format!("task-{}", winners[0]);
    assert_eq!(
        stores[1].get("leader").await.expect("get"),
        Some(b(&expected))
    );

    redis.cleanup("conc-cas").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_errors_do_not_leak_the_url() {
    let bad_url = "redis://:hunter2@[not a host/0";
    match RedisStore::connect(bad_url, "x").await {
        Err(StorageError::Unavailable(msg)) => assert!(!msg.contains("hunter2"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }

    let port = harness::free_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    match RedisStore::connect(&url, "x").await {
        Err(StorageError::Unavailable(msg)) => {
            assert!(
                !msg.contains("hunter2") && !msg.contains(&port.to_string()),
                "{msg}"
            );
            assert!(msg.starts_with("redis connect failed"), "{msg}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnects_after_the_server_comes_back() {
    let Some(mut redis) = Redis::start_own().await else {
        eprintln!("REDIS_URL is set; the restart test needs its own redis-server");
        return;
    };
    let s = redis.store("restart").await;
    s.put("k", b("v"), None).await.expect("put");

    // While the server is down, commands fail fast with a redacted error.
    let port = redis.stop();
    for _ in 0..2 {
        match s.get("k").await {
            Err(StorageError::Unavailable(msg)) => {
                assert!(!msg.contains(&port.to_string()), "{msg}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    // Once it is back, the same store reconnects without help.
    redis.resume().await;
    let mut result = s.get("k").await;
    for _ in 0..50 {
        if result.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        result = s.get("k").await;
    }
    // The new server has no data (no persistence), but answers.
    assert_eq!(result.expect("reconnected"), None);
    s.put("k", b("again"), None).await.expect("put");
    assert_eq!(s.get("k").await.expect("get"), Some(b("again")));
}

mod harness {
    use std::net::{Ipv4Addr, TcpListener};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use gateway_store_redis::RedisStore;

    /// A Redis server for one test: `REDIS_URL`, or a `redis-server` child
    /// process that is killed on drop.
    pub(crate) struct Redis {
        url: String,
        /// Unique per test run, so runs against a shared server do not meet.
        run: String,
        child: Option<(Child, u16)>,
        /// The port of a server stopped by [`Redis::stop`].
        stopped: Option<u16>,
    }

    impl Redis {
        pub(crate) async fn start() -> Self {
            match std::env::var("REDIS_URL") {
                Ok(url) if !url.is_empty() => Self {
                    url,
                    run: run_id(),
                    child: None,
                    stopped: None,
                },
                _ => Self::spawn().await,
            }
        }

        /// A server this test may restart; `None` when `REDIS_URL` is set.
        pub(crate) async fn start_own() -> Option<Self> {
            match std::env::var("REDIS_URL") {
                Ok(url) if !url.is_empty() => None,
                _ => Some(Self::spawn().await),
            }
        }

        async fn spawn() -> Self {
            // The port may be taken between probing and binding; try a few.
            for _ in 0..5 {
                let port = free_port();
                if let Some(child) = start_server(port).await {
                    return Self {
                        url: format!("redis://127.0.0.1:{port}/"),
                        run: run_id(),
                        child: Some((child, port)),
                        stopped: None,
                    };
                }
            }
            panic!("redis-server did not start on a free loopback port after 5 attempts");
        }

        /// Kills the server; returns its port.
        pub(crate) fn stop(&mut self) -> u16 {
            let (mut child, port) = self.child.take().expect("own server");
            child.kill().expect("kill redis-server");
            child.wait().expect("reap redis-server");
            self.stopped = Some(port);
            port
        }

        /// Starts a fresh server on the port of the stopped one.
        pub(crate) async fn resume(&mut self) {
            let port = self.stopped.take().expect("stopped server");
            for _ in 0..20 {
                if let Some(child) = start_server(port).await {
                    self.child = Some((child, port));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("redis-server did not restart on port {port}");
        }

        fn prefix(&self, name: &str) -> String {
            format!("{}:{name}", self.run)
        }

        pub(crate) async fn store(&self, name: &str) -> RedisStore {
            RedisStore::connect(&self.url, &self.prefix(name))
                .await
                .expect("connect to the test Redis")
        }

        async fn raw(&self) -> redis::aio::MultiplexedConnection {
            redis::Client::open(self.url.as_str())
                .expect("redis url")
                .get_multiplexed_async_connection()
                .await
                .expect("raw connection")
        }

        /// `PTTL` of a store key: ms left, -1 without expiry, -2 if absent.
        pub(crate) async fn pttl(&self, name: &str, key: &str) -> i64 {
            let full = format!("{}:{key}", self.prefix(name));
            redis::cmd("PTTL")
                .arg(full)
                .query_async(&mut self.raw().await)
                .await
                .expect("PTTL")
        }

        /// The raw value under `{prefix}:{key}`.
        pub(crate) async fn raw_get(&self, name: &str, key: &str) -> Option<Vec<u8>> {
            let full = format!("{}:{key}", self.prefix(name));
            redis::cmd("GET")
                .arg(full)
                .query_async(&mut self.raw().await)
                .await
                .expect("GET")
        }

        /// Removes the keys a test left behind on a shared server.
        pub(crate) async fn cleanup(&self, name: &str) {
            if self.child.is_some() || self.stopped.is_some() {
                return; // Private server, gone with the test.
            }
            let mut conn = self.raw().await;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", self.prefix(name)))
                .query_async(&mut conn)
                .await
                .expect("KEYS");
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<()>(&mut conn)
                    .await
                    .expect("DEL");
            }
        }
    }

    impl Drop for Redis {
        fn drop(&mut self) {
            if let Some((child, _)) = self.child.as_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    fn run_id() -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("gw-store-redis-test:{}-{nanos}", std::process::id())
    }

    /// A loopback port that was free a moment ago.
    pub(crate) fn free_port() -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a probe socket");
        listener.local_addr().expect("probe address").port()
    }

    /// Starts `redis-server` on `port` and waits until it accepts
    /// connections; `None` if it exited (e.g. the port was taken).
    async fn start_server(port: u16) -> Option<Child> {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "these tests need Redis: set REDIS_URL=redis://host:port/ or put \
                 `redis-server` on PATH (e.g. `apt-get install -y redis-server`)"
            ),
            Err(e) => panic!("could not start redis-server: {e}"),
        };
        for _ in 0..200 {
            if child.try_wait().expect("poll redis-server").is_some() {
                return None;
            }
            if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_ok()
            {
                return Some(child);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server on port {port} did not accept connections within 5 s");
    }
}

/// Counts how many of `total` concurrent decisions (64 at a time) pass.
async fn concurrent_allowed(s: &RedisStore, key: &str, step: LimitStep, total: usize) -> usize {
    use futures_util::stream::{self, StreamExt};
    let now = 1_000_000_000_000;
    stream::iter(0..total)
        .map(|_| {
            let s = s.clone();
            async move {
                s.rate_limit(key, &step, now)
                    .await
                    .expect("decision")
                    .allowed
            }
        })
        .buffer_unordered(64)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_exact_under_concurrency() {
    let redis = Redis::start().await;
    let s = redis.store("limits").await;
    let n = 50;
    let gcra = LimitStep::Gcra {
        interval_ms: 3_600_000,
        burst: n,
    };
    let window = |sliding| LimitStep::Window {
        start_ms: 999_999_960_000,
        end_ms: 1_000_000_020_000,
        limit: n,
        sliding,
    };
    for (key, step) in [
        ("gcra", gcra),
        ("quota", window(false)),
        ("sliding", window(true)),
    ] {
        let allowed = concurrent_allowed(&s, key, step, 4 * n as usize).await;
        assert_eq!(allowed, n as usize, "{key}");
    }
    redis.cleanup("limits").await;
}
