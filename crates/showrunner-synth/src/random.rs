//! Seeded randomness. Every independent unit of work (the catalog, the members, one member's
//! day, the injected attacks) gets its own ChaCha generator derived from the run's seed and
//! the unit's coordinates, so the output never depends on how rayon schedules the work.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The generator used everywhere: ChaCha with 8 rounds is fast and reproducible across
/// platforms and versions of rand_chacha.
pub type SynthRng = ChaCha8Rng;

/// The independent random streams of a run; the discriminant is mixed into the seed.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Network = 1,
    Catalog = 2,
    Members = 3,
    MemberDay = 4,
    Injections = 5,
}

/// A generator for one unit of work, identified by `(stream, a, b)`.
pub fn rng_for(seed: u64, stream: Stream, a: u64, b: u64) -> SynthRng {
    let mut state = splitmix(seed ^ 0x5eed_5eed_5eed_5eed);
    state = splitmix(state ^ stream as u64);
    state = splitmix(state ^ a);
    state = splitmix(state ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    SynthRng::seed_from_u64(state)
}

/// SplitMix64's finaliser: spreads nearby inputs (member 1, member 2) over the whole range.
fn splitmix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn uniform(rng: &mut SynthRng) -> f64 {
    rng.random::<f64>()
}

pub fn uniform_between(rng: &mut SynthRng, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

pub fn chance(rng: &mut SynthRng, probability: f64) -> bool {
    rng.random::<f64>() < probability
}

/// A whole number in `low..=high`.
pub fn int_between(rng: &mut SynthRng, low: u64, high: u64) -> u64 {
    if high <= low {
        low
    } else {
        rng.random_range(low..=high)
    }
}

/// An index in `0..len` (len must be positive).
pub fn index(rng: &mut SynthRng, len: usize) -> usize {
    rng.random_range(0..len.max(1))
}

pub fn normal(rng: &mut SynthRng) -> f64 {
    rng.sample(StandardNormal)
}

/// A log-normal draw described by its median, which is how latencies are usually quoted.
pub fn lognormal(rng: &mut SynthRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// A Poisson draw: exact (Knuth) for small means, a rounded normal for large ones.
pub fn poisson(rng: &mut SynthRng, mean: f64) -> u32 {
    if mean <= 0.0 || !mean.is_finite() {
        return 0;
    }
    if mean < 30.0 {
        let limit = (-mean).exp();
        let mut product = uniform(rng);
        let mut count = 0u32;
        while product > limit {
            count += 1;
            product *= uniform(rng);
        }
        count
    } else {
        (mean + mean.sqrt() * normal(rng)).round().max(0.0) as u32
    }
}

pub fn sigmoid(value: f64) -> f64 {
    1.0 / (1.0 + (-value).exp())
}

/// Picks an index with probability proportional to its weight (linear scan: for the short
/// tables of countries, devices and genres).
pub fn pick_weighted(rng: &mut SynthRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return index(rng, weights.len());
    }
    let mut target = uniform(rng) * total;
    for (position, weight) in weights.iter().enumerate() {
        if target < *weight {
            return position;
        }
        target -= weight;
    }
    weights.len().saturating_sub(1)
}

/// Walker's alias method: draws from a fixed discrete distribution in constant time, which
/// matters when thousands of titles are sampled per member-day.
#[derive(Debug, Clone)]
pub struct AliasTable {
    probability: Vec<f64>,
    alias: Vec<u32>,
}

impl AliasTable {
    /// Builds the table; `weights` must be non-empty with a positive sum.
    pub fn new(weights: &[f64]) -> Self {
        let count = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights
            .iter()
            .map(|weight| weight * count as f64 / total)
            .collect();
        let mut probability = vec![1.0; count];
        let mut alias: Vec<u32> = (0..count as u32).collect();
        let mut small: Vec<usize> = Vec::new();
        let mut large: Vec<usize> = Vec::new();
        for (position, value) in scaled.iter().enumerate() {
            if *value < 1.0 {
                small.push(position);
            } else {
                large.push(position);
            }
        }
        while let (Some(&less), Some(&more)) = (small.last(), large.last()) {
            small.pop();
            probability[less] = scaled[less];
            alias[less] = more as u32;
            scaled[more] = (scaled[more] + scaled[less]) - 1.0;
            if scaled[more] < 1.0 {
                large.pop();
                small.push(more);
            }
        }
        AliasTable { probability, alias }
    }

    pub fn sample(&self, rng: &mut SynthRng) -> usize {
        let column = index(rng, self.probability.len());
        if uniform(rng) < self.probability[column] {
            column
        } else {
            self.alias[column] as usize
        }
    }
}
