//! The rate-limit half of the store contract: a store's
//! [`KvStore::rate_limit`] must take the same decisions as the pure
//! [`ratelimit`](crate::ratelimit) functions for the same sequence of
//! requests, whether it overrides the method (memory, Redis, Durable
//! Object) or keeps the compare-and-swap default (Workers KV, Spin KV).
//!
//! [`contract::check`](super::contract::check) runs these checks too, so
//! every store that is held to the contract is held to this one.

use super::KvStore;
use crate::ratelimit::{LimitDecision, LimitState, LimitStep, apply, decide};

/// A fixed instant for the sequences: the decisions depend on the `now`
/// passed in, not the store's clock, so the checks never wait.
const T0: u64 = 1_000_000_000_000;

/// One named sequence: `(step, now)` per request, and which must pass.
struct Sequence {
    name: &'static str,
    calls: Vec<(LimitStep, u64)>,
    allowed: Vec<bool>,
}

fn sequences() -> Vec<Sequence> {
    let gcra = LimitStep::Gcra {
        interval_ms: 1000,
        burst: 3,
    };
    let sliding = |start: u64| LimitStep::Window {
        start_ms: start,
        end_ms: start + 10_000,
        limit: 4,
        sliding: true,
    };
    let quota = |start: u64| LimitStep::Window {
        start_ms: start,
        end_ms: start + 60_000,
        limit: 2,
        sliding: false,
    };
    vec![
        Sequence {
            name: "limit_gcra_burst_and_refill",
            calls: vec![
                (gcra, T0),
                (gcra, T0),
                (gcra, T0),
                (gcra, T0),
                (gcra, T0 + 1000),
                (gcra, T0 + 1500),
            ],
            allowed: vec![true, true, true, false, true, false],
        },
        Sequence {
            name: "limit_sliding_window_weighting",
            calls: vec![
                (sliding(T0), T0 + 1000),
                (sliding(T0), T0 + 1000),
                (sliding(T0), T0 + 1000),
                (sliding(T0), T0 + 1000),
                (sliding(T0), T0 + 2000),
                // Half way through the next window half of the 4 still count.
                (sliding(T0 + 10_000), T0 + 15_000),
                (sliding(T0 + 10_000), T0 + 15_000),
                (sliding(T0 + 10_000), T0 + 15_000),
            ],
            allowed: vec![true, true, true, true, false, true, true, false],
        },
        Sequence {
            name: "limit_quota_rollover",
            calls: vec![
                (quota(T0), T0),
                (quota(T0), T0 + 30_000),
                (quota(T0), T0 + 59_999),
                (quota(T0 + 60_000), T0 + 60_000),
            ],
            allowed: vec![true, true, false, true],
        },
    ]
}

/// Runs the sequences against `store` under keys starting with `prefix`;
/// `(check name, Err(what differed))` for each.
pub(crate) async fn check(
    store: &dyn KvStore,
    prefix: &str,
) -> Vec<(&'static str, Result<(), String>)> {
    let mut out = Vec::new();
    for seq in sequences() {
        out.push((
            seq.name,
            run(store, &format!("{prefix}{}", seq.name), &seq).await,
        ));
    }
    out
}

async fn run(store: &dyn KvStore, key: &str, seq: &Sequence) -> Result<(), String> {
    let mut model: Option<LimitState> = None;
    let mut allowed = Vec::new();
    for (i, (step, now)) in seq.calls.iter().enumerate() {
        let got = store
            .rate_limit(key, step, *now)
            .await
            .map_err(|e| format!("request {i}: rate_limit failed: {e}"))?;
        let (ok, next) = apply(step, model, *now);
        if ok {
            model = Some(next);
        }
        let want: LimitDecision = decide(step, &next, ok, *now);
        if got != want {
            return Err(format!("request {i}: got {got:?}, want {want:?}"));
        }
        allowed.push(got.allowed);
    }
    store
        .delete(key)
        .await
        .map_err(|e| format!("delete failed: {e}"))?;
    if allowed == seq.allowed {
        Ok(())
    } else {
        Err(format!("allowed {allowed:?}, want {:?}", seq.allowed))
    }
}
