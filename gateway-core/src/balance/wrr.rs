//! Smooth weighted round robin, as nginx does it: every pick adds each
//! endpoint's weight to its current value, takes the endpoint with the
//! highest current value and lowers that by the sum of the weights. Over
//! `sum(weights)` picks each endpoint is chosen exactly `weight` times,
//! spread out (weights 5, 1, 1 give `a a b a c a a`), and endpoints that
//! leave or return do not disturb the others' order.

use crate::upstream::{Endpoint, StateInner};

/// Picks among `eligible` (indexes into `candidates`).
pub(crate) fn pick(st: &mut StateInner, candidates: &[Endpoint], eligible: &[usize]) -> usize {
    let mut total: i64 = 0;
    let mut best: Option<(usize, i64)> = None;
    for &i in eligible {
        let e = &candidates[i];
        let w = i64::from(e.weight);
        let s = st.stats(e);
        s.wrr_current = s.wrr_current.saturating_add(w);
        total = total.saturating_add(w);
        if best.is_none_or(|(_, c)| s.wrr_current > c) {
            best = Some((i, s.wrr_current));
        }
    }
    let Some((i, _)) = best else {
        return eligible[0];
    };
    let s = st.stats(&candidates[i]);
    s.wrr_current = s.wrr_current.saturating_sub(total);
    i
}
