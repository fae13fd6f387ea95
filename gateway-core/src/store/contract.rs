//! The behaviour every [`KvStore`] promises, as checks that run against a
//! live store.
//!
//! It includes the rate-limit checks of
//! [`limit_contract`](super::limit_contract): the same decisions as the
//! pure algorithms for the same requests.
//!
//! Unit tests run them against the memory and envelope stores, the Redis
//! tests against a real server, and the edge targets' self-test builds
//! against their platform stores (Workers KV and Durable Objects under
//! `wrangler dev`, Spin key-value under a Spin key-value host), so every
//! store is held to one contract. Expiry checks wait on real time through
//! [`Sleep`], a few hundred milliseconds in all.

use std::time::Duration;

use bytes::Bytes;

use super::{KvStore, StorageError};
use crate::env::Sleep;

/// The outcome of [`check`].
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContractReport {
    /// How many checks passed.
    pub passed: usize,
    /// `name: what went wrong` for each failed check.
    pub failed: Vec<String>,
}

/// A check's result: `Err` says what was seen instead.
type Outcome = Result<(), String>;

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn op<T>(what: &str, r: Result<T, StorageError>) -> Result<T, String> {
    r.map_err(|e| format!("{what} failed: {e}"))
}

/// How long expiring entries live in the checks.
const TTL: Duration = Duration::from_millis(300);
/// Comfortably past [`TTL`].
const PAST_TTL: Duration = Duration::from_millis(400);

/// Runs every check against `store`, with keys under `prefix` (make it
/// unique per run on shared stores).
pub async fn check(store: &dyn KvStore, sleep: &dyn Sleep, prefix: &str) -> ContractReport {
    let k = |name: &str| format!("{prefix}{name}");
    let mut report = ContractReport::default();
    let mut record = |name: &str, outcome: Outcome| match outcome {
        Ok(()) => report.passed += 1,
        Err(e) => report.failed.push(format!("{name}: {e}")),
    };

    record("get_missing", get_missing(store, &k("missing")).await);
    record(
        "put_get_overwrite",
        put_get_overwrite(store, &k("pg")).await,
    );
    record("delete_reports_presence", delete(store, &k("del")).await);
    record("incr_counts", incr_counts(store, &k("ctr")).await);
    record("incr_wrong_type", incr_wrong_type(store, &k("txt")).await);
    record("cas_semantics", cas(store, &k("cas")).await);
    // The timed checks run together so the suite waits only twice.
    let timed = timed(store, sleep, &k("ttl"), &k("wnd"), &k("casx")).await;
    for (name, outcome) in timed {
        record(name, outcome);
    }
    for (name, outcome) in super::limit_contract::check(store, &k("limit:")).await {
        record(name, outcome);
    }
    report
}

async fn get_missing(s: &dyn KvStore, key: &str) -> Outcome {
    expect_eq("get of a missing key", op("get", s.get(key).await)?, None)
}

async fn put_get_overwrite(s: &dyn KvStore, key: &str) -> Outcome {
    op("put", s.put(key, Bytes::from_static(b"one"), None).await)?;
    expect_eq(
        "get after put",
        op("get", s.get(key).await)?,
        Some(Bytes::from_static(b"one")),
    )?;
    op(
        "put",
        s.put(key, Bytes::from_static(b"\x00two"), None).await,
    )?;
    expect_eq(
        "get after overwrite (binary)",
        op("get", s.get(key).await)?,
        Some(Bytes::from_static(b"\x00two")),
    )?;
    op("delete", s.delete(key).await).map(drop)
}

async fn delete(s: &dyn KvStore, key: &str) -> Outcome {
    op("put", s.put(key, Bytes::from_static(b"v"), None).await)?;
    expect_eq(
        "delete of a present key",
        op("delete", s.delete(key).await)?,
        true,
    )?;
    expect_eq("get after delete", op("get", s.get(key).await)?, None)?;
    expect_eq(
        "delete of an absent key",
        op("delete", s.delete(key).await)?,
        false,
    )
}

async fn incr_counts(s: &dyn KvStore, key: &str) -> Outcome {
    expect_eq(
        "incr of a missing key",
        op("incr", s.incr(key, 2, None).await)?,
        2,
    )?;
    expect_eq("second incr", op("incr", s.incr(key, 5, None).await)?, 7)?;
    expect_eq(
        "negative incr",
        op("incr", s.incr(key, -10, None).await)?,
        -3,
    )?;
    expect_eq(
        "the counter reads as its decimal text",
        op("get", s.get(key).await)?,
        Some(Bytes::from_static(b"-3")),
    )?;
    op("delete", s.delete(key).await).map(drop)
}

async fn incr_wrong_type(s: &dyn KvStore, key: &str) -> Outcome {
    op("put", s.put(key, Bytes::from_static(b"abc"), None).await)?;
    let r = s.incr(key, 1, None).await;
    op("delete", s.delete(key).await)?;
    match r {
        Err(StorageError::WrongType { .. }) => Ok(()),
        other => Err(format!("incr of text: got {other:?}, want WrongType")),
    }
}

async fn cas(s: &dyn KvStore, key: &str) -> Outcome {
    let v = Bytes::from_static;
    let swap = |expected: Option<&'static [u8]>, new: &'static [u8]| async move {
        op(
            "compare_and_swap",
            s.compare_and_swap(key, expected, v(new), None).await,
        )
    };
    expect_eq(
        "swap on absent, expecting absent",
        swap(None, b"a").await?,
        true,
    )?;
    expect_eq(
        "swap on present, expecting absent",
        swap(None, b"b").await?,
        false,
    )?;
    expect_eq(
        "swap with a wrong expectation",
        swap(Some(b"x"), b"b").await?,
        false,
    )?;
    expect_eq(
        "swap with the right expectation",
        swap(Some(b"a"), b"b").await?,
        true,
    )?;
    expect_eq(
        "value after swaps",
        op("get", s.get(key).await)?,
        Some(v(b"b")),
    )?;
    op("delete", s.delete(key).await).map(drop)
}

/// Expiry of values, counter windows that keep their first deadline, and
/// expired values counting as absent for compare-and-swap.
async fn timed(
    s: &dyn KvStore,
    sleep: &dyn Sleep,
    ttl_key: &str,
    window_key: &str,
    cas_key: &str,
) -> [(&'static str, Outcome); 3] {
    let setup = async {
        op(
            "put",
            s.put(ttl_key, Bytes::from_static(b"v"), Some(TTL)).await,
        )?;
        expect_eq(
            "get before expiry",
            op("get", s.get(ttl_key).await)?.is_some(),
            true,
        )?;
        expect_eq(
            "incr opening a window",
            op("incr", s.incr(window_key, 1, Some(TTL)).await)?,
            1,
        )?;
        op(
            "put",
            s.put(cas_key, Bytes::from_static(b"old"), Some(TTL)).await,
        )
    };
    if let Err(e) = setup.await {
        return [
            ("ttl_expires", Err(e.clone())),
            ("incr_keeps_first_ttl", Err(e.clone())),
            ("cas_sees_expired_as_absent", Err(e)),
        ];
    }
    sleep.sleep(TTL / 2).await;
    let mid = op("incr", s.incr(window_key, 1, Some(TTL)).await)
        .and_then(|n| expect_eq("incr inside the window", n, 2));
    sleep.sleep(PAST_TTL - TTL / 2).await;
    let ttl = async { expect_eq("get after expiry", op("get", s.get(ttl_key).await)?, None) }.await;
    let window = async {
        mid?;
        // The second incr must not have pushed the deadline out.
        let n = op("incr", s.incr(window_key, 1, Some(TTL)).await)?;
        op("delete", s.delete(window_key).await)?;
        expect_eq("incr after the first deadline starts afresh", n, 1)
    }
    .await;
    let cas = async {
        let swapped = op(
            "compare_and_swap",
            s.compare_and_swap(cas_key, None, Bytes::from_static(b"new"), None)
                .await,
        )?;
        op("delete", s.delete(cas_key).await)?;
        expect_eq("swap expecting absent over an expired value", swapped, true)
    }
    .await;
    [
        ("ttl_expires", ttl),
        ("incr_keeps_first_ttl", window),
        ("cas_sees_expired_as_absent", cas),
    ]
}
