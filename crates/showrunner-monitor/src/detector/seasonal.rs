//! Robust seasonal baseline: predicts a point from the same time of day on the previous
//! days (median of up to 7) and the same time of week on the previous weeks (median of up
//! to 3), and scores the residual against the robust spread of past residuals. The sampling
//! period is inferred from the timestamps; past points are found by their time bin (the
//! sampling period, at least five minutes), so missing points just shorten the median.

use crate::detector::period::PeriodEstimator;
use crate::detector::{Detector, ResidualScale, Surprise, points_per_day, surprise_to_score};

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
/// Previous days and weeks consulted.
const DAYS_BACK: i64 = 7;
const WEEKS_BACK: i64 = 3;
/// Same-time values needed before a pattern predicts.
const MIN_SEEN: usize = 1;
/// Seasonal history is kept in bins of at least five minutes: finer series are averaged
/// into them (a same-time-last-week lookup needs no finer resolution, and a minute series
/// then costs five times less).
const MIN_BIN_SECONDS: i64 = 300;

/// One bin: which bin it holds (its index + 1, 0 when empty), and the values seen in it.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    stamp: u32,
    count: u32,
    sum: f32,
}

/// Past values by time bin, in a ring of three weeks of bins.
#[derive(Debug, Clone)]
struct History {
    bin_seconds: i64,
    slots: Vec<Slot>,
}

impl History {
    fn new(period: i64) -> Self {
        let bin_seconds = period.max(MIN_BIN_SECONDS);
        let wanted = (WEEKS_BACK * WEEK / bin_seconds) as usize + 1;
        History {
            bin_seconds,
            slots: vec![Slot::default(); wanted.max(1)],
        }
    }

    /// The ring slot and stamp of the bin holding `timestamp` (`None` outside the u32 range).
    fn locate(&self, timestamp: i64) -> Option<(usize, u32)> {
        let bin = timestamp.div_euclid(self.bin_seconds);
        let stamp = u32::try_from(bin.checked_add(1)?).ok()?;
        Some((bin.rem_euclid(self.slots.len() as i64) as usize, stamp))
    }

    fn insert(&mut self, timestamp: i64, value: f64) {
        let Some((slot, stamp)) = self.locate(timestamp) else {
            return;
        };
        let entry = &mut self.slots[slot];
        if entry.stamp != stamp {
            *entry = Slot {
                stamp,
                count: 0,
                sum: 0.0,
            };
        }
        entry.count += 1;
        entry.sum += value as f32;
    }

    fn get(&self, timestamp: i64) -> Option<f64> {
        let (slot, stamp) = self.locate(timestamp)?;
        let entry = self.slots[slot];
        (entry.stamp == stamp && entry.count > 0)
            .then(|| f64::from(entry.sum) / f64::from(entry.count))
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
