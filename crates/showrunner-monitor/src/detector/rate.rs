//! Rate detector for counted outcomes (failed sessions out of sessions per bucket): the
//! binomial surprise of this bucket's count against the rate of the preceding buckets.
//! Percentages of a handful of sessions swing too much for the value detectors; counting
//! keeps the evidence in proportion (3 failures out of 20 where 0.3 were due is a lot; 1 out
//! of 2 is not).

use std::collections::VecDeque;

use crate::detector::surprise_to_score;

/// Online rate detector over (trials, events) per bucket.
#[derive(Debug, Clone)]
pub struct RateDetector {
    /// Buckets of history the baseline rate is taken from.
    lookback: usize,
    history: VecDeque<(u64, u64)>,
    trials: u64,
    events: u64,
}

impl RateDetector {
    /// A detector whose baseline is the rate over the last `lookback` buckets.
    pub fn new(lookback: usize) -> Self {
        RateDetector {
            lookback: lookback.max(1),
            history: VecDeque::new(),
            trials: 0,
            events: 0,
        }
    }

    /// Scores a bucket with `events` out of `trials` in [0, 1] (only excess counts: fewer
    /// failures than usual are good news), then learns it. 0 until a full lookback is seen.
    pub fn update(&mut self, trials: u64, events: u64) -> f64 {
        let warm = self.history.len() >= self.lookback;
        // The baseline rate, with one pseudo-event in twice the expected trials so a clean
        // history does not make the first failure infinitely surprising.
        let rate = (self.events as f64 + 1.0) / (self.trials as f64 + 2.0);
        let expected = trials as f64 * rate;
        let deviation = (trials as f64 * rate * (1.0 - rate)).sqrt().max(0.5);
        let surprise = (events as f64 - expected) / deviation;
        self.history.push_back((trials, events));
        self.trials += trials;
        self.events += events;
        while self.history.len() > self.lookback {
            if let Some((old_trials, old_events)) = self.history.pop_front() {
                self.trials -= old_trials;
                self.events -= old_events;
            }
        }
        if warm {
            surprise_to_score(Some(surprise.max(0.0)))
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess_failures_score_high_and_normal_ones_low() {
        let mut detector = RateDetector::new(100);
        let mut normal = 0.0_f64;
        for bucket in 0..300_u64 {
            // 20 sessions a bucket, one failure every fifth bucket (1%).
            let score = detector.update(20, u64::from(bucket % 5 == 0));
            if bucket >= 100 {
                normal = normal.max(score);
            }
        }
        let incident = detector.update(20, 6);
        let quiet = detector.update(20, 0);
        assert!(incident > 0.7, "6 failures out of 20 scored {incident}");
        assert!(normal < 0.5, "normal buckets reached {normal}");
        assert_eq!(quiet, 0.0);
    }
}
