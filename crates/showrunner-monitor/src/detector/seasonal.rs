//! Robust seasonal baseline: predicts a point from the same time of day on the previous
//! days (median of up to 7) and the same time of week on the previous weeks (median of up
//! to 3), and scores the residual against the robust spread of past residuals. The sampling
//! period is inferred from the timestamps; past points are found by exact timestamp, so
//! missing points just shorten the median.

use crate::detector::period::PeriodEstimator;
use crate::detector::{Detector, ResidualScale, Surprise, points_per_day, surprise_to_score};

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
/// Previous days and weeks consulted.
const DAYS_BACK: i64 = 7;
const WEEKS_BACK: i64 = 3;
/// Same-time values needed before a pattern predicts.
const MIN_SEEN: usize = 1;
/// History kept: three weeks of points, at most this many slots per series.
const MAX_SLOTS: usize = 3 * 10_080;

/// Past values by timestamp, in a ring indexed by `timestamp / period`.
#[derive(Debug, Clone)]
struct History {
    period: i64,
    slots: Vec<Option<(i64, f64)>>,
}

impl History {
    fn new(period: i64) -> Self {
        let wanted = (WEEKS_BACK * WEEK / period.max(1)) as usize + 1;
        History {
            period: period.max(1),
            slots: vec![None; wanted.clamp(1, MAX_SLOTS)],
        }
    }

    fn slot(&self, timestamp: i64) -> usize {
        (timestamp.div_euclid(self.period) as usize) % self.slots.len()
    }

    fn insert(&mut self, timestamp: i64, value: f64) {
        let slot = self.slot(timestamp);
        self.slots[slot] = Some((timestamp, value));
    }

    fn get(&self, timestamp: i64) -> Option<f64> {
        match self.slots[self.slot(timestamp)] {
            Some((stored, value)) if stored == timestamp => Some(value),
            _ => None,
        }
    }

    /// Median of the values `step`, `2 * step`, ... `count * step` seconds ago, when at
    /// least `min_found` of them are known (a pattern seen once is not yet a pattern).
    fn median_back(&self, timestamp: i64, step: i64, count: i64, min_found: usize) -> Option<f64> {
        let mut values: Vec<f64> = (1..=count)
            .filter_map(|back| self.get(timestamp - back * step))
            .collect();
        if values.is_empty() || values.len() < min_found {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        Some(if values.len().is_multiple_of(2) {
            (values[middle - 1] + values[middle]) / 2.0
        } else {
            values[middle]
        })
    }
}

/// Daily and weekly predictions for a point, from the history before it.
#[derive(Debug, Clone, Default)]
pub struct SeasonalPredictor {
    period: PeriodEstimator,
    history: Option<History>,
}

/// What the seasonal predictor expects at one timestamp.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeasonalPrediction {
    pub daily: Option<f64>,
    pub weekly: Option<f64>,
}

impl SeasonalPredictor {
    /// Predicts `timestamp` from the past, then records `value` there.
    pub fn predict_then_learn(&mut self, timestamp: i64, value: f64) -> SeasonalPrediction {
        let period = self.period.observe(timestamp);
        if self.history.is_none()
            && let Some(period) = period
        {
            self.history = Some(History::new(period));
        }
        let Some(history) = self.history.as_mut() else {
            return SeasonalPrediction::default();
        };
        let prediction = SeasonalPrediction {
            daily: history.median_back(timestamp, DAY, DAYS_BACK, MIN_SEEN),
            weekly: history.median_back(timestamp, WEEK, WEEKS_BACK, MIN_SEEN),
        };
        history.insert(timestamp, value);
        prediction
    }

    pub fn period(&self) -> Option<i64> {
        self.period.period()
    }
}

/// The seasonal baseline as a detector on its own: the residual of the daily and of the
/// weekly prediction in robust spreads of their past residuals, the smaller of the two.
#[derive(Debug, Clone, Default)]
pub struct SeasonalDetector {
    predictor: SeasonalPredictor,
    daily: Option<ResidualScale>,
    weekly: Option<ResidualScale>,
}

impl Surprise for SeasonalDetector {
    fn surprise(&mut self, timestamp: i64, value: f64) -> Option<f64> {
        let prediction = self.predictor.predict_then_learn(timestamp, value);
        let per_day = points_per_day(self.predictor.period()?);
        let mut surprise: Option<f64> = None;
        for (scale, predicted) in [
            (&mut self.daily, prediction.daily),
            (&mut self.weekly, prediction.weekly),
        ] {
            let Some(predicted) = predicted else { continue };
            let scale = scale.get_or_insert_with(|| ResidualScale::new(per_day));
            if let Some(measured) = scale.observe(value - predicted, value) {
                // Surprising only if neither the daily nor the weekly pattern explains it.
                let candidate = measured.normalised.abs();
                surprise = Some(surprise.map_or(candidate, |other| other.min(candidate)));
            }
        }
        surprise
    }
}

impl Detector for SeasonalDetector {
    fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        surprise_to_score(self.surprise(timestamp, value))
    }
}
