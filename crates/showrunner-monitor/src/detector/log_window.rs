//! A sliding window of non-negative values (surprises) with quantiles, at 2 bytes a value.
//!
//! Each value is kept as a 16-bit logarithmic code (a step of 0.063% between codes from
//! 1e-6 to 1e12; code 0 for zero and anything below 1e-6) in a ring in arrival order. Counts
//! of the codes by their high byte (256 coarse buckets) find the bucket holding a rank; the
//! counts of the low byte within one coarse bucket are kept too, and rebuilt by one scan of
//! the ring only when a query lands in another coarse bucket (a high quantile of surprises
//! moves slowly, so that is rare). A query costs a walk of at most 512 counts, and the
//! last answer is kept until the next push.

/// The smallest value with its own code; smaller ones (and zero) are code 0.
const SMALLEST: f64 = 1e-6;
/// The largest coded value; larger ones get the top code.
const LARGEST: f64 = 1e12;

/// The natural-log step between consecutive codes.
fn step() -> f64 {
    (LARGEST / SMALLEST).ln() / f64::from(u16::MAX - 1)
}

fn encode(value: f64) -> u16 {
    if value.is_nan() || value < SMALLEST {
        return 0;
    }
    let code = ((value / SMALLEST).ln() / step()).round();
    code.clamp(0.0, f64::from(u16::MAX - 1)) as u16 + 1
}

fn decode(code: u16) -> f64 {
    if code == 0 {
        0.0
    } else {
        SMALLEST * (f64::from(code - 1) * step()).exp()
    }
}

/// The last `capacity` non-negative values, with quantiles to 0.032% of the value.
#[derive(Debug, Clone)]
pub struct LogWindow {
    /// Codes in arrival order: the oldest at `next` once full.
    ring: Box<[u16]>,
    len: usize,
    next: usize,
    /// Counts by the codes' high byte.
    coarse: Box<[u16; 256]>,
    /// Counts by low byte of the codes in coarse bucket `fine_bucket` (when `Some`).
    fine: Box<[u16; 256]>,
    fine_bucket: Option<u8>,
    /// The last query's (rank, value), until the next push.
    cached: Option<(usize, f64)>,
}

impl LogWindow {
    /// A window of the last `capacity` values (at least 1, at most 65,535).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, usize::from(u16::MAX));
        LogWindow {
            ring: vec![0; capacity].into_boxed_slice(),
            len: 0,
            next: 0,
            coarse: Box::new([0; 256]),
            fine: Box::new([0; 256]),
            fine_bucket: None,
            cached: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn count(&mut self, code: u16, add: bool) {
        let [high, low] = code.to_be_bytes();
        let adjust = |count: &mut u16| {
            *count = if add {
                *count + 1
            } else {
                count.saturating_sub(1)
            }
        };
        adjust(&mut self.coarse[usize::from(high)]);
        if self.fine_bucket == Some(high) {
            adjust(&mut self.fine[usize::from(low)]);
        }
    }

    /// Adds a value, dropping the oldest when full. NaN is ignored; negative values count
    /// as zero.
    pub fn push(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        let code = encode(value);
        if self.len == self.ring.len() {
            let oldest = self.ring[self.next];
            self.count(oldest, false);
        } else {
            self.len += 1;
        }
        self.ring[self.next] = code;
        self.next = (self.next + 1) % self.ring.len();
        self.count(code, true);
        self.cached = None;
    }

    /// The `q` quantile (nearest rank, as [`RollingWindow`](super::RollingWindow) has it),
    /// `None` when empty.
    pub fn quantile(&mut self, q: f64) -> Option<f64> {
        let last = self.len.checked_sub(1)?;
        let rank = (q.clamp(0.0, 1.0) * last as f64).round() as usize;
        if let Some((cached_rank, value)) = self.cached
            && cached_rank == rank
        {
            return Some(value);
        }
        // The coarse bucket holding `rank`, and the rank within it.
        let mut below = 0;
        let mut found = None;
        for (bucket, &count) in self.coarse.iter().enumerate() {
            let count = usize::from(count);
            if rank < below + count {
                found = Some((bucket as u8, rank - below));
                break;
            }
            below += count;
        }
        let (bucket, mut within) = found?;
        if self.fine_bucket != Some(bucket) {
            self.fine.fill(0);
            for &code in &self.ring[..self.len] {
                let [high, low] = code.to_be_bytes();
                if high == bucket {
                    self.fine[usize::from(low)] += 1;
                }
            }
            self.fine_bucket = Some(bucket);
        }
        let mut low = 0;
        for (index, &count) in self.fine.iter().enumerate() {
            let count = usize::from(count);
            if within < count {
                low = index as u8;
                break;
            }
            within -= count;
        }
        let value = decode(u16::from_be_bytes([bucket, low]));
        self.cached = Some((rank, value));
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::test_data::{exact_quantile, uniform};

    #[test]
    fn codes_round_trip_within_the_step() {
        for value in [1e-6, 3.7e-4, 0.5, 1.0, 2.0, 3.0, 99.0, 12_345.678, 9e11] {
            let back = decode(encode(value));
            assert!(
                (back / value - 1.0).abs() < 3.2e-4,
                "{value} came back as {back}"
            );
        }
        assert_eq!(decode(encode(0.0)), 0.0);
        assert_eq!(decode(encode(-5.0)), 0.0);
        assert_eq!(decode(encode(1e-9)), 0.0);
        assert!(decode(encode(1e15)) <= 1.0001e12);
        // Codes are monotone.
        let mut previous = 0;
        for exponent in -70..130 {
            let code = encode(10f64.powf(f64::from(exponent) / 10.0));
            assert!(code >= previous);
            previous = code;
        }
    }

    #[test]
    fn empty_window_and_nan() {
        let mut window = LogWindow::new(10);
        assert!(window.is_empty());
        assert_eq!(window.quantile(0.5), None);
        window.push(f64::NAN);
        assert_eq!(window.len(), 0);
        assert_eq!(window.quantile(0.99), None);
        window.push(f64::INFINITY);
        assert_eq!(window.len(), 1);
        assert!(window.quantile(0.5).is_some_and(|top| top > 0.99e12));
    }

    #[test]
    fn all_equal_values() {
        let mut window = LogWindow::new(2_016);
        for _ in 0..5_000 {
            window.push(2.5);
        }
        assert_eq!(window.len(), 2_016);
        for q in [0.0, 0.5, 0.99, 1.0] {
            let got = window.quantile(q).unwrap_or(f64::NAN);
            assert!((got / 2.5 - 1.0).abs() < 3.2e-4, "q {q}: {got}");
        }
    }

    #[test]
    fn values_leave_in_arrival_order() {
        let mut window = LogWindow::new(100);
        for step in 0..300 {
            // Descending: the oldest is the largest, so the maximum falls every push.
            let newest = 1_000.0 - f64::from(step);
            window.push(newest);
            let oldest = newest + (window.len() - 1) as f64;
            let top = window.quantile(1.0).unwrap_or(f64::NAN);
            let bottom = window.quantile(0.0).unwrap_or(f64::NAN);
            assert!((top / oldest - 1.0).abs() < 3.2e-4, "step {step}: {top}");
            assert!(
                (bottom / newest - 1.0).abs() < 3.2e-4,
                "step {step}: {bottom}"
            );
        }
    }

    #[test]
    fn quantiles_match_exact_ones_on_random_data() {
        let mut state = 0x9E37_79B9_7F4A_7C15;
        for (capacity, spread) in [(2_016, 1.0), (1_000, 5.0), (288, 0.1), (7, 2.0)] {
            let mut window = LogWindow::new(capacity);
            let mut all = Vec::new();
            for step in 0..capacity * 4 + 5 {
                // Log-normal-ish with some exact zeros, and a drifting level so the coarse
                // bucket of a quantile changes.
                let drift = (step as f64 / capacity as f64).sin();
                let u = uniform(&mut state);
                let value = if u < 0.05 {
                    0.0
                } else {
                    (spread * 6.0 * (u - 0.5) + drift).exp()
                };
                window.push(value);
                all.push(value);
                if step % 13 != 0 {
                    continue;
                }
                let live = &all[all.len().saturating_sub(capacity)..];
                for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
                    let exact = exact_quantile(live, q);
                    let got = window.quantile(q).unwrap_or(f64::NAN);
                    let close = if exact == 0.0 {
                        got == 0.0
                    } else {
                        (got / exact - 1.0).abs() < 3.2e-4
                    };
                    assert!(close, "capacity {capacity}, q {q}: {got} against {exact}");
                }
            }
        }
    }
}
