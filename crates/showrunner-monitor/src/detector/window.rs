//! A fixed-capacity window of recent values with order statistics, kept in one sorted array
//! of 32-bit entries (4 bytes a value), so medians, quantiles and robust spreads cost one
//! array read and a push costs a binary search, a scan and one short memmove.
//!
//! Each entry packs the value and its arrival tag. The value is stored as an offset from an
//! origin (the first value pushed) in 32-bit floating point, turned into an order-preserving
//! integer key and rounded to its top `32 - tag_bits` bits; the low `tag_bits` bits hold the
//! arrival number modulo `2^tag_bits` (at least the capacity, so the live tags are distinct).
//! Sorting the entries sorts by value; the oldest value is the entry whose tag is the
//! arrival number `capacity` pushes back, found by a scan of the tags. A window of 1,000
//! values keeps 10 tag bits and 22 value bits: each value to about 6e-5 of its distance
//! from the origin (the detectors' windows hold values within the series' range of each
//! other, and their resolution floor is 1e-3 of that range).

/// The largest capacity (12 tag bits, leaving 20 bits: values to about 2.4e-4 relative).
pub const MAX_CAPACITY: usize = 4_096;

/// The last `capacity` values, with order statistics.
#[derive(Debug, Clone)]
pub struct RollingWindow {
    /// Entries sorted ascending: value key in the high bits, arrival tag in the low bits.
    entries: Vec<u32>,
    capacity: usize,
    tag_bits: u32,
    /// The tag the next value gets.
    next_tag: u32,
    /// Values are stored relative to this (the first value pushed; NaN before).
    origin: f64,
}

impl RollingWindow {
    /// A window of the last `capacity` values (at least 1, at most [`MAX_CAPACITY`]).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        RollingWindow {
            entries: Vec::with_capacity(capacity),
            capacity,
            tag_bits: capacity.next_power_of_two().trailing_zeros(),
            next_tag: 0,
            origin: f64::NAN,
        }
    }

    fn tag_mask(&self) -> u32 {
        // `1 << 0 - 1` is 0: a window of one value needs no tag.
        (1u32 << self.tag_bits) - 1
    }

    /// The value key of `value` (its offset from the origin, order-preserving, rounded to
    /// the value bits) already shifted into the high bits; the low tag bits are zero.
    fn key(&self, value: f64) -> u32 {
        let offset = ((value - self.origin) as f32).clamp(-1e38, 1e38);
        let bits = offset.to_bits();
        let step = 1u32 << self.tag_bits;
        // The magnitude rounded to a multiple of `step` (carrying into the exponent when
        // it must: that is the next binade).
        let magnitude = ((bits & 0x7FFF_FFFF) + step / 2) & !(step - 1);
        if bits >> 31 == 0 || magnitude == 0 {
            // Positive: above every negative.
            0x8000_0000 | magnitude
        } else {
            // Negative: a larger magnitude sorts lower, mirrored around the positive keys.
            0x8000_0000 - magnitude - step
        }
    }

    /// The value an entry holds.
    fn decode(&self, entry: u32) -> f64 {
        let ordered = entry & !self.tag_mask();
        let bits = if ordered >= 0x8000_0000 {
            ordered & 0x7FFF_FFFF
        } else {
            (0x8000_0000 - ordered - (1u32 << self.tag_bits)) | 0x8000_0000
        };
        self.origin + f64::from(f32::from_bits(bits))
    }

    /// The index of the entry with arrival tag `tag` (scanned in blocks so the compiler can
    /// vectorise the comparisons).
    fn find_tag(&self, tag: u32) -> Option<usize> {
        const BLOCK: usize = 32;
        let mask = self.tag_mask();
        let mut start = 0;
        for block in self.entries.chunks(BLOCK) {
            let hit = block
                .iter()
                .fold(false, |hit, &entry| hit | (entry & mask == tag));
            if hit {
                return block
                    .iter()
                    .position(|&entry| entry & mask == tag)
                    .map(|at| start + at);
            }
            start += block.len();
        }
        None
    }

    /// Adds a value, dropping the oldest when full. Non-finite values are ignored.
    pub fn push(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.origin.is_nan() {
            self.origin = value;
        }
        let entry = self.key(value) | self.next_tag;
        let mask = self.tag_mask();
        let oldest = self
            .is_full()
            .then(|| self.find_tag(self.next_tag.wrapping_sub(self.capacity as u32) & mask))
            .flatten();
        // Every live arrival keeps its tag, so a full window always finds its oldest.
        debug_assert!(oldest.is_some() || !self.is_full(), "oldest tag missing");
        self.next_tag = (self.next_tag + 1) & mask;
        let at = self.entries.partition_point(|&probe| probe < entry);
        match oldest {
            // One memmove between the leaving entry and the arriving one's place.
            Some(leaving) if leaving < at => {
                self.entries.copy_within(leaving + 1..at, leaving);
                self.entries[at - 1] = entry;
            }
            Some(leaving) => {
                self.entries.copy_within(at..leaving, at + 1);
                self.entries[at] = entry;
            }
            None => self.entries.insert(at, entry),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() == self.capacity
    }

    /// The `q` quantile (nearest rank), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let last = self.entries.len().checked_sub(1)?;
        let rank = (q.clamp(0.0, 1.0) * last as f64).round() as usize;
        self.entries.get(rank).map(|&entry| self.decode(entry))
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// A robust standard deviation: the interquartile range over 1.349 (exact for a normal
    /// distribution), `None` when empty.
    pub fn spread(&self) -> Option<f64> {
        Some((self.quantile(0.75)? - self.quantile(0.25)?) / 1.349)
    }

    /// A robust standard deviation that still measures something when most values are
    /// equal: the interquartile range, else the 10-90% range, else the 1-99% range, each
    /// scaled to a normal distribution's standard deviation.
    pub fn tail_spread(&self) -> Option<f64> {
        for (low, high, normal_width) in
            [(0.25, 0.75, 1.349), (0.1, 0.9, 2.563), (0.01, 0.99, 4.653)]
        {
            let width = self.quantile(high)? - self.quantile(low)?;
            if width > 0.0 {
                return Some(width / normal_width);
            }
        }
        Some(0.0)
    }

    /// The most recent values, newest last (each found by a scan: meant for short windows).
    pub fn recent(&self, count: usize) -> impl Iterator<Item = f64> + '_ {
        let count = count.min(self.entries.len());
        let mask = self.tag_mask();
        (1..=count).rev().filter_map(move |back| {
            let tag = self.next_tag.wrapping_sub(back as u32) & mask;
            self.find_tag(tag).map(|at| self.decode(self.entries[at]))
        })
    }

    /// Heap bytes held (for memory accounting in tests).
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::test_data::{exact_quantile, uniform};

    #[test]
    fn order_statistics_follow_the_window() {
        let mut window = RollingWindow::new(5);
        assert_eq!(window.median(), None);
        for value in [5.0, 1.0, 4.0, 2.0, 3.0] {
            window.push(value);
        }
        assert_eq!(window.median(), Some(3.0));
        assert_eq!(window.quantile(0.0), Some(1.0));
        assert_eq!(window.quantile(1.0), Some(5.0));
        // 5.0 (the oldest) leaves; 10.0 arrives.
        window.push(10.0);
        assert_eq!(window.quantile(1.0), Some(10.0));
        assert_eq!(window.median(), Some(3.0));
        assert_eq!(window.recent(2).collect::<Vec<_>>(), vec![3.0, 10.0]);
        window.push(f64::NAN);
        window.push(f64::INFINITY);
        assert_eq!(window.len(), 5);
        assert_eq!(
            window.recent(9).collect::<Vec<_>>(),
            vec![1.0, 4.0, 2.0, 3.0, 10.0]
        );
    }

    #[test]
    fn negative_offsets_sort_below_positive_ones() {
        let mut window = RollingWindow::new(8);
        for value in [0.0, -4.0, -0.5, 3.0, -0.0, 1e-30, -1e-30] {
            window.push(value);
        }
        assert_eq!(window.quantile(0.0), Some(-4.0));
        assert_eq!(window.quantile(1.0 / 6.0), Some(-0.5));
        assert_eq!(window.quantile(1.0), Some(3.0));
        assert_eq!(window.median().map(f64::abs), Some(0.0));
    }

    #[test]
    fn empty_window_has_no_statistics() {
        let window = RollingWindow::new(10);
        assert!(window.is_empty());
        assert_eq!(window.median(), None);
        assert_eq!(window.spread(), None);
        assert_eq!(window.tail_spread(), None);
        assert_eq!(window.recent(3).count(), 0);
        let mut only_nan = RollingWindow::new(10);
        only_nan.push(f64::NAN);
        assert!(only_nan.is_empty());
    }

    #[test]
    fn values_leave_in_arrival_order() {
        // Descending values: the oldest is always the largest, so every eviction must take
        // the top entry; then ascending: the oldest is the smallest.
        let mut window = RollingWindow::new(100);
        for step in 0..300 {
            window.push(1_000.0 - f64::from(step));
            let newest = 1_000.0 - f64::from(step);
            let oldest = newest + (window.len() - 1) as f64;
            assert_eq!(window.quantile(1.0), Some(oldest), "step {step}");
            assert_eq!(window.quantile(0.0), Some(newest), "step {step}");
        }
        for step in 0..300 {
            window.push(f64::from(step));
        }
        assert_eq!(window.quantile(0.0), Some(200.0));
        assert_eq!(window.quantile(1.0), Some(299.0));
        let recent: Vec<f64> = window.recent(3).collect();
        assert_eq!(recent, vec![297.0, 298.0, 299.0]);
    }

    #[test]
    fn all_equal_values_have_no_spread() {
        let mut window = RollingWindow::new(1_000);
        for _ in 0..2_500 {
            window.push(42.5);
        }
        assert!(window.is_full());
        assert_eq!(window.median(), Some(42.5));
        assert_eq!(window.spread(), Some(0.0));
        assert_eq!(window.tail_spread(), Some(0.0));
        // One different value is the 1-99% range's doing only when it is past the 1%.
        window.push(50.0);
        assert_eq!(window.quantile(1.0), Some(50.0));
        assert_eq!(window.tail_spread(), Some(0.0));
    }

    #[test]
    fn quantiles_match_exact_ones_on_random_data() {
        let mut state = 0x2545_F491_4F6C_DD1D;
        for (capacity, scale, offset) in [
            (1_000, 1.0, 0.0),
            (2_016, 50.0, 3.0),
            (288, 1e6, 1e9),
            (48, 1e-3, -7.0),
            (MAX_CAPACITY, 10.0, 0.0),
        ] {
            let mut window = RollingWindow::new(capacity);
            let mut all = Vec::new();
            for step in 0..capacity * 3 + 17 {
                // Heavy-ish tails: the square of a uniform, signed.
                let u = uniform(&mut state) - 0.5;
                let value = offset + scale * u * u.abs() * 4.0;
                window.push(value);
                all.push(value);
                if step % 97 != 0 {
                    continue;
                }
                let live = &all[all.len().saturating_sub(capacity)..];
                assert_eq!(window.len(), live.len());
                let width = exact_quantile(live, 1.0) - exact_quantile(live, 0.0);
                for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0] {
                    let exact = exact_quantile(live, q);
                    let got = window.quantile(q).unwrap_or(f64::NAN);
                    // Values are kept to 2.4e-4 of their distance from the origin (the first
                    // value), which is within the values' width of them.
                    assert!(
                        (got - exact).abs() <= 3e-4 * width.max(f64::MIN_POSITIVE),
                        "capacity {capacity}, q {q}: {got} against exact {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn capacity_is_clamped_and_memory_exact() {
        let window = RollingWindow::new(0);
        assert_eq!(window.capacity, 1);
        let mut one = RollingWindow::new(1);
        one.push(3.0);
        one.push(-4.0);
        assert_eq!(one.len(), 1);
        assert_eq!(one.median(), Some(-4.0));
        let mut window = RollingWindow::new(1_000);
        for step in 0..5_000 {
            window.push(f64::from(step % 37));
        }
        assert_eq!(window.heap_bytes(), 4_000);
        assert_eq!(RollingWindow::new(1_000_000).capacity, MAX_CAPACITY);
    }
}
