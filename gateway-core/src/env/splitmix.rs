//! A small, fast, seedable generator for the core's [`Rng`] trait.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Rng;

/// SplitMix64 from a seed. Each target seeds it from its platform's entropy
/// (`wasi:random`, `crypto.getRandomValues`, the clock and process id).
/// Fast and good enough for jitter, balancing and ids; **not** for secrets.
#[derive(Debug)]
pub struct SplitMix(AtomicU64);

impl SplitMix {
    /// A generator starting at `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Rng for SplitMix {
    fn next_u64(&self) -> u64 {
        let mut z = self
            .0
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_seed_and_varied() {
        let a = SplitMix::seeded(7);
        let b = SplitMix::seeded(7);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
        assert_ne!(SplitMix::seeded(8).next_u64(), xs[0]);
    }
}
