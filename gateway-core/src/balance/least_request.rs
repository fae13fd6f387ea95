//! Least request by the power of two random choices: draw two different
//! endpoints at random and take the cheaper, where the cost is
//! `(requests in flight + 1) × latency EWMA / weight`. Comparing two random
//! endpoints instead of all of them avoids herding every gateway instance
//! onto the same "best" endpoint, and is almost as good.
//!
//! The latency EWMA follows each answer's time to the response head
//! (weight [`EWMA_ALPHA`] for the newest sample). Until an endpoint has
//! answered, it is costed at the other endpoint's latency, so new
//! endpoints neither starve nor get flooded.

use crate::env::Rng;
use crate::upstream::{Endpoint, StateInner};

/// Weight of the newest latency sample in the EWMA.
pub(crate) const EWMA_ALPHA: f64 = 0.3;

/// Latency (ms) charged for a connection failure, timeout or broken answer
/// when it was quicker than this, so failing fast never looks attractive.
pub(crate) const FAILURE_LATENCY_MS: f64 = 1_000.0;

/// The EWMA after a sample.
pub(crate) fn update_ewma(prev: Option<f64>, sample_ms: f64) -> f64 {
    match prev {
        None => sample_ms,
        Some(p) => p + EWMA_ALPHA * (sample_ms - p),
    }
}

/// Picks among `eligible` (indexes into `candidates`, at least one).
pub(crate) fn pick(
    st: &StateInner,
    candidates: &[Endpoint],
    eligible: &[usize],
    rng: &dyn Rng,
) -> usize {
    let n = eligible.len();
    if n < 2 {
        return eligible[0];
    }
    let first = (rng.next_u64() % n as u64) as usize;
    let mut second = (rng.next_u64() % (n as u64 - 1)) as usize;
    if second >= first {
        second += 1;
    }
    let (a, b) = (eligible[first], eligible[second]);
    let load = |i: usize| {
        let e = &candidates[i];
        let s = st.endpoints.get(&e.id);
        (
            s.map_or(0, |s| s.in_flight),
            s.and_then(|s| s.latency_ewma_ms),
            f64::from(e.weight.max(1)),
        )
    };
    let ((in_a, lat_a, w_a), (in_b, lat_b, w_b)) = (load(a), load(b));
    let (lat_a, lat_b) = match (lat_a, lat_b) {
        (Some(x), Some(y)) => (x, y),
        (Some(x), None) | (None, Some(x)) => (x, x),
        (None, None) => (1.0, 1.0),
    };
    // A floor keeps zero-latency answers comparable by load.
    let cost = |in_flight: u32, lat: f64, w: f64| (f64::from(in_flight) + 1.0) * lat.max(0.1) / w;
    if cost(in_b, lat_b, w_b) < cost(in_a, lat_a, w_a) {
        b
    } else {
        a
    }
}
