//! A fixed-capacity window of recent values kept both in arrival order and sorted, so
//! medians, quantiles and robust spreads cost a binary search and a short memmove per point.

use std::collections::VecDeque;

/// The last `capacity` values, with order statistics.
#[derive(Debug, Clone)]
pub struct RollingWindow {
    capacity: usize,
    arrival: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl RollingWindow {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        RollingWindow {
            capacity,
            arrival: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
        }
    }

    /// Adds a value, dropping the oldest when full. Non-finite values are ignored.
    pub fn push(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.arrival.len() == self.capacity
            && let Some(oldest) = self.arrival.pop_front()
        {
            let at = self
                .sorted
                .partition_point(|probe| probe.total_cmp(&oldest).is_lt());
            self.sorted.remove(at);
        }
        self.arrival.push_back(value);
        let at = self
            .sorted
            .partition_point(|probe| probe.total_cmp(&value).is_lt());
        self.sorted.insert(at, value);
    }

    pub fn len(&self) -> usize {
        self.arrival.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arrival.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.arrival.len() == self.capacity
    }

    /// The `q` quantile (nearest rank), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let last = self.sorted.len().checked_sub(1)?;
        let rank = (q.clamp(0.0, 1.0) * last as f64).round() as usize;
        self.sorted.get(rank).copied()
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

    /// The most recent values, newest last.
    pub fn recent(&self, count: usize) -> impl Iterator<Item = f64> + '_ {
        self.arrival
            .iter()
            .skip(self.arrival.len().saturating_sub(count))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(window.len(), 5);
    }
}
