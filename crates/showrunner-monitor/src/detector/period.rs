//! The sampling period of a series, inferred online from its timestamps: the most common
//! positive gap among the first gaps seen (NAB files and metric scrapes are regular, with
//! occasional missing points that make some gaps longer).

/// Gaps to look at before deciding.
const GAPS_TO_DECIDE: usize = 16;

/// Learns the sampling period (seconds) from the first timestamps of a series.
#[derive(Debug, Clone, Default)]
pub struct PeriodEstimator {
    last_timestamp: Option<i64>,
    gaps: Vec<i64>,
    period: Option<i64>,
}

impl PeriodEstimator {
    /// Feeds one timestamp; returns the period once it is known.
    pub fn observe(&mut self, timestamp: i64) -> Option<i64> {
        if self.period.is_none() {
            if let Some(last) = self.last_timestamp
                && timestamp > last
            {
                self.gaps.push(timestamp - last);
            }
            if self.gaps.len() >= GAPS_TO_DECIDE {
                self.period = most_common(&mut self.gaps);
                self.gaps = Vec::new();
            }
        }
        self.last_timestamp = Some(timestamp);
        self.period
    }

    pub fn period(&self) -> Option<i64> {
        self.period
    }
}

/// The most common value (the smallest on ties).
fn most_common(values: &mut [i64]) -> Option<i64> {
    values.sort_unstable();
    let mut best: Option<(i64, usize)> = None;
    for run in values.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, count)| run.len() > count) {
            best = Some((run[0], run.len()));
        }
    }
    best.map(|(value, _)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_series_with_a_gap() {
        let mut estimator = PeriodEstimator::default();
        let mut period = None;
        let mut timestamp = 1_000;
        for step in 0..40 {
            // One missing point: a single 600 s gap among 300 s gaps.
            timestamp += if step == 3 { 600 } else { 300 };
            period = estimator.observe(timestamp);
        }
        assert_eq!(period, Some(300));
    }
}
