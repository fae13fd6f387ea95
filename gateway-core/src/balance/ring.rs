//! A consistent-hash ring (ketama style). Each endpoint owns points on a
//! 64-bit circle, in proportion to its weight; a key goes to the owner of
//! the first point at or after the key's hash. An endpoint's points depend
//! only on its id, so when one of N endpoints leaves (or is skipped as
//! unhealthy), only the keys on its points move, about 1/N of them, and
//! every other key keeps its endpoint.
//!
//! Hashes are xxHash64, the same on every platform and in every process, so
//! several gateway instances send a key to the same endpoint.

use xxhash_rust::xxh64::{Xxh64, xxh64};

use crate::upstream::Endpoint;

/// Points per endpoint of average weight.
const POINTS_PER_ENDPOINT: usize = 160;
/// Most points in a ring, whatever the number of endpoints.
const MAX_POINTS: usize = 1 << 16;

/// Points on the circle, sorted, each with the index of its endpoint in
/// the candidate list the ring was built from.
#[derive(Debug)]
pub(crate) struct Ring {
    points: Vec<(u64, u32)>,
}

/// The hash of a key.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    xxh64(key, 0)
}

/// Identifies a candidate list (ids and weights, in order): the cached ring
/// is reused while the list is the same.
pub(crate) fn fingerprint(endpoints: &[Endpoint]) -> u64 {
    let mut h = Xxh64::new(0);
    for e in endpoints {
        h.update(e.id.as_bytes());
        h.update(&[0xff]);
        h.update(&e.weight.to_le_bytes());
    }
    h.digest()
}

impl Ring {
    /// The ring for `endpoints` (at most `u32::MAX` of them).
    pub(crate) fn build(endpoints: &[Endpoint]) -> Self {
        let total_weight: u64 = endpoints.iter().map(|e| u64::from(e.weight)).sum();
        let budget = (endpoints.len() * POINTS_PER_ENDPOINT).min(MAX_POINTS) as u64;
        let mut points = Vec::with_capacity(budget as usize + endpoints.len());
        for (i, e) in endpoints.iter().enumerate() {
            let share = budget * u64::from(e.weight) / total_weight.max(1);
            let Ok(idx) = u32::try_from(i) else { break };
            for k in 0..share.max(1) {
                points.push((xxh64(e.id.as_bytes(), k), idx));
            }
        }
        points.sort_unstable();
        Self { points }
    }

    /// The first endpoint at or after `key` on the circle for which
    /// `usable` holds.
    pub(crate) fn lookup(&self, key: u64, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let start = self.points.partition_point(|&(h, _)| h < key);
        let n = self.points.len();
        (0..n)
            .map(|k| self.points[(start + k) % n].1 as usize)
            .find(|&i| usable(i))
    }
}
