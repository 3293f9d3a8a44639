//! A/B tests of models: which arm serves a member, and how sure the per-arm figures are.
//!
//! Assignment is a keyed hash: HMAC-SHA256 under the experiment's secret salt over the
//! experiment id and the member id. Its first 8 bytes, read as a number in `[0, 1)`, pick an
//! arm by cumulative weight. So a member's arm is deterministic (every replica, every
//! request agrees), uniform in proportion to the weights, unpredictable without the salt,
//! and independent between experiments (another experiment changes nothing here).
//!
//! Intervals are two-sided at 95%:
//! - [`wilson`]: a proportion (take rate);
//! - [`newcombe`]: the difference of two proportions (Newcombe's hybrid score interval,
//!   built from the two Wilson intervals);
//! - [`mean_interval`]: a mean (Student's t);
//! - [`welch`]: the difference of two means with unequal variances (Welch–Satterthwaite).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The standard normal quantile of 0.975: intervals are at 95%.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The index of the arm serving `member_id`, given the arms' weights (at least one > 0).
///
/// # Panics
/// When every weight is 0 (experiments are validated to have weights > 0).
pub fn assign(salt: &[u8], experiment_id: i64, member_id: &str, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    assert!(total > 0, "an experiment's arms need a weight > 0");
    let mut mac = Hmac::<Sha256>::new_from_slice(salt).expect("HMAC takes keys of any length");
    mac.update(&experiment_id.to_be_bytes());
    mac.update(member_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    let draw = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    // `draw / 2^64 * total`, exactly, in [0, total).
    let point = ((u128::from(draw) * u128::from(total)) >> 64) as u64;
    let mut upto = 0;
    for (index, &weight) in weights.iter().enumerate() {
        upto += u64::from(weight);
        if point < upto {
            return index;
        }
    }
    unreachable!("point < total")
}

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The Wilson score interval of `successes` out of `trials`; `None` without trials.
pub fn wilson(successes: u64, trials: u64) -> Option<Interval> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z_95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// Newcombe's hybrid score interval of `p1 - p2` (proportions `s1/n1`, `s2/n2`); `None`
/// when either has no trials.
pub fn newcombe(s1: u64, n1: u64, s2: u64, n2: u64) -> Option<Interval> {
    let (w1, w2) = (wilson(s1, n1)?, wilson(s2, n2)?);
    let p1 = s1 as f64 / n1 as f64;
    let p2 = s2 as f64 / n2 as f64;
    let difference = p1 - p2;
    Some(Interval {
        low: difference - ((p1 - w1.low).powi(2) + (w2.high - p2).powi(2)).sqrt(),
        high: difference + ((w1.high - p1).powi(2) + (p2 - w2.low).powi(2)).sqrt(),
    })
}

/// A sample's size, mean and (n − 1) variance, from its sum and sum of squares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub n: u64,
    pub mean: f64,
    pub variance: f64,
}

impl Sample {
    /// `None` for an empty sample; the variance is 0 for a sample of one.
    pub fn from_sums(n: u64, sum: f64, sum_squares: f64) -> Option<Sample> {
        if n == 0 {
            return None;
        }
        let count = n as f64;
        let mean = sum / count;
        let variance = if n > 1 {
            ((sum_squares - sum * sum / count) / (count - 1.0)).max(0.0)
        } else {
            0.0
        };
        Some(Sample { n, mean, variance })
    }
}

/// The t interval of a sample's mean; `None` below two observations.
pub fn mean_interval(sample: &Sample) -> Option<Interval> {
    if sample.n < 2 {
        return None;
    }
    let n = sample.n as f64;
    let half = t_quantile_975(n - 1.0) * (sample.variance / n).sqrt();
    Some(Interval {
        low: sample.mean - half,
        high: sample.mean + half,
    })
}

/// Welch's interval of `a.mean - b.mean`; `None` when either sample has fewer than two
/// observations.
pub fn welch(a: &Sample, b: &Sample) -> Option<Interval> {
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let va = a.variance / a.n as f64;
    let vb = b.variance / b.n as f64;
    let difference = a.mean - b.mean;
    let se2 = va + vb;
    if se2 == 0.0 {
        return Some(Interval {
            low: difference,
            high: difference,
        });
    }
    let df = se2 * se2 / (va * va / (a.n as f64 - 1.0) + vb * vb / (b.n as f64 - 1.0));
    let half = t_quantile_975(df) * se2.sqrt();
    Some(Interval {
        low: difference - half,
        high: difference + half,
    })
}

/// Student's t quantile of 0.975 with `df` degrees of freedom (df > 0, fractional allowed,
/// as Welch's are): the `t` whose two-sided tail `I_{df/(df+t²)}(df/2, 1/2)` is 0.05, found
/// by bisection on the regularized incomplete beta function.
pub fn t_quantile_975(df: f64) -> f64 {
    let tail = |t: f64| regularized_beta(df / (df + t * t), df / 2.0, 0.5);
    let (mut low, mut high) = (0.0_f64, 1.0e4_f64);
    for _ in 0..200 {
        let middle = (low + high) / 2.0;
        if tail(middle) > 0.05 {
            low = middle;
        } else {
            high = middle;
        }
    }
    (low + high) / 2.0
}

/// ln Γ(x) for x ≥ 0.5 (Lanczos, g = 7, nine terms; relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (index, coefficient) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += coefficient / (x + index as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction.
fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let nonzero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..1_000 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / nonzero(1.0 + even * d);
        c = nonzero(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / nonzero(1.0 + odd * d);
        c = nonzero(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    #[test]
    fn assignment_is_deterministic_and_keyed() {
        let weights = [1, 1];
        let first = assign(b"salt", 7, "m42", &weights);
        assert_eq!(assign(b"salt", 7, "m42", &weights), first);
        // Across 200 members, another salt or another experiment id moves some of them.
        let moved_by_salt = (0..200)
            .filter(|i| {
                let m = format!("m{i}");
                assign(b"salt", 7, &m, &weights) != assign(b"other", 7, &m, &weights)
            })
            .count();
        let moved_by_id = (0..200)
            .filter(|i| {
                let m = format!("m{i}");
                assign(b"salt", 7, &m, &weights) != assign(b"salt", 8, &m, &weights)
            })
            .count();
        assert!((60..140).contains(&moved_by_salt), "{moved_by_salt}");
        assert!((60..140).contains(&moved_by_id), "{moved_by_id}");
    }

    #[test]
    fn the_split_follows_the_weights() {
        // 10,000 ids, weights 1:3:6. Each count is binomial; 4 standard deviations of
        // tolerance (at most 4 * sqrt(10000 * 0.6 * 0.4) ≈ 196) make a false failure
        // practically impossible while a wrong mapping (e.g. equal thirds) fails.
        let weights = [1, 3, 6];
        let mut counts = [0u32; 3];
        for i in 0..10_000 {
            counts[assign(b"k3y", 1, &format!("member-{i}"), &weights)] += 1;
        }
        for (count, expected) in counts.iter().zip([1_000.0, 3_000.0, 6_000.0]) {
            let p: f64 = expected / 10_000.0;
            let sd = (10_000.0 * p * (1.0 - p)).sqrt();
            assert!(
                (f64::from(*count) - expected).abs() <= 4.0 * sd,
                "{counts:?} against weights {weights:?}"
            );
        }
    }

    #[test]
    fn experiments_split_independently() {
        // Two 50/50 experiments over the same 10,000 members: each of the four
        // combinations holds about a quarter (sd ≈ 43; tolerance 4 sd).
        let mut cells = [[0u32; 2]; 2];
        for i in 0..10_000 {
            let m = format!("member-{i}");
            cells[assign(b"a", 1, &m, &[1, 1])][assign(b"b", 2, &m, &[1, 1])] += 1;
        }
        for row in cells {
            for cell in row {
                assert!((f64::from(cell) - 2_500.0).abs() <= 175.0, "{cells:?}");
            }
        }
    }

    #[test]
    fn a_zero_weight_arm_gets_nobody() {
        for i in 0..500 {
            assert_ne!(assign(b"s", 1, &format!("m{i}"), &[1, 0, 1]), 1);
        }
    }

    #[test]
    fn wilson_matches_hand_computation() {
        // 8 of 10: p = 0.8, z² = 3.8415; centre = (0.8 + 0.19207) / 1.38415 = 0.71674,
        // half = 1.95996 / 1.38415 × sqrt(0.016 + 0.0096037) = 0.22658.
        let interval = wilson(8, 10).unwrap();
        close(interval.low, 0.4902, 1e-4);
        close(interval.high, 0.9433, 1e-4);
        // 0 of 20 starts at 0 and is not degenerate.
        let zero = wilson(0, 20).unwrap();
        assert_eq!(zero.low, 0.0);
        close(zero.high, 0.1611, 1e-4);
        assert!(wilson(0, 0).is_none());
        assert!(wilson(3, 2).is_none());
    }

    #[test]
    fn newcombe_matches_the_published_example() {
        // Newcombe (1998), example (a): 56/70 against 48/80, difference 0.2000,
        // hybrid score interval 0.0524 to 0.3339.
        let interval = newcombe(56, 70, 48, 80).unwrap();
        close(interval.low, 0.0524, 1e-4);
        close(interval.high, 0.3339, 1e-4);
        assert!(newcombe(1, 2, 0, 0).is_none());
    }

    #[test]
    fn t_quantiles_match_the_table() {
        for (df, expected) in [
            (1.0, 12.7062),
            (2.0, 4.3027),
            (3.0, 3.1824),
            (5.0, 2.5706),
            (10.0, 2.2281),
            (18.0, 2.1009),
            (30.0, 2.0423),
            (1_000.0, 1.9623),
            (1e6, 1.9600),
        ] {
            close(t_quantile_975(df), expected, 1e-4);
        }
    }

    #[test]
    fn welch_matches_hand_computation() {
        // n = 10, mean 5, variance 4 against n = 10, mean 3, variance 4:
        // se = sqrt(0.4 + 0.4) = 0.894427; df = 0.64 / (2 × 0.16 / 9) = 18;
        // t(18) = 2.100922; half = 1.879124.
        let a = Sample {
            n: 10,
            mean: 5.0,
            variance: 4.0,
        };
        let b = Sample {
            n: 10,
            mean: 3.0,
            variance: 4.0,
        };
        let interval = welch(&a, &b).unwrap();
        close(interval.low, 2.0 - 1.879124, 1e-5);
        close(interval.high, 2.0 + 1.879124, 1e-5);
        assert!(welch(&a, &Sample { n: 1, ..b }).is_none());
    }

    #[test]
    fn samples_from_sums() {
        // 1, 2, 3, 6: sum 12, squares 50; mean 3, variance (50 - 36) / 3 = 14/3.
        let sample = Sample::from_sums(4, 12.0, 50.0).unwrap();
        close(sample.mean, 3.0, 1e-12);
        close(sample.variance, 14.0 / 3.0, 1e-12);
        // mean ± t(3) × sqrt(14/3 / 4) = 3 ± 3.18245 × 1.080123.
        let interval = mean_interval(&sample).unwrap();
        close(interval.low, 3.0 - 3.43744, 1e-4);
        close(interval.high, 3.0 + 3.43744, 1e-4);
        assert!(Sample::from_sums(0, 0.0, 0.0).is_none());
        assert_eq!(Sample::from_sums(1, 2.0, 4.0).unwrap().variance, 0.0);
        assert!(mean_interval(&Sample::from_sums(1, 2.0, 4.0).unwrap()).is_none());
    }
}
