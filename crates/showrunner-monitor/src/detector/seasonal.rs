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

/// Bin means are stored as 16-bit codes on a grid over the range the series has covered:
/// code 0 is an empty bin, codes 1..=[`CODES`] are `low + (code - 1) * step`.
const CODES: u16 = u16::MAX;

/// The grid of the 16-bit codes. When a mean falls outside it, the grid is widened to cover
/// it with half the new range of headroom on each side and the stored codes are recoded, so
/// a series that keeps growing is regridded a logarithmic number of times. The step stays
/// about 1/32,000 of the series' range, far below the detectors' resolution floor (1e-3 of
/// the range).
#[derive(Debug, Clone, Copy)]
struct Grid {
    low: f64,
    step: f64,
}

impl Grid {
    fn high(&self) -> f64 {
        self.low + f64::from(CODES - 1) * self.step
    }

    fn covers(&self, value: f64) -> bool {
        value >= self.low && value <= self.high()
    }

    /// A grid covering `low..=high` with headroom.
    fn around(low: f64, high: f64) -> Grid {
        let pad = 0.5 * (high - low) + 1e-9 * (1.0 + low.abs().max(high.abs()));
        let low = low - pad;
        Grid {
            low,
            step: (high + pad - low) / f64::from(CODES - 1),
        }
    }

    fn encode(&self, value: f64) -> u16 {
        let code = ((value - self.low) / self.step)
            .round()
            .clamp(0.0, f64::from(CODES - 1));
        code as u16 + 1
    }

    fn decode(&self, code: u16) -> Option<f64> {
        (code > 0).then(|| self.low + f64::from(code - 1) * self.step)
    }
}

/// Past values by time bin, in a ring of three weeks of bins: the bin being filled keeps an
/// exact running sum, earlier bins their mean as a 16-bit code (2 bytes a bin).
#[derive(Debug, Clone)]
struct History {
    bin_seconds: i64,
    slots: Box<[u16]>,
    grid: Option<Grid>,
    /// The lowest and highest bin means stored (the range the grid covers, before headroom).
    lowest: f64,
    highest: f64,
    /// The bin being filled, and the sum and count of its values.
    open_bin: Option<i64>,
    open_sum: f64,
    open_count: u32,
}

impl History {
    fn new(period: i64) -> Self {
        let bin_seconds = period.max(MIN_BIN_SECONDS);
        let wanted = (WEEKS_BACK * WEEK / bin_seconds) as usize + 1;
        History {
            bin_seconds,
            slots: vec![0; wanted.max(1)].into_boxed_slice(),
            grid: None,
            lowest: f64::INFINITY,
            highest: f64::NEG_INFINITY,
            open_bin: None,
            open_sum: 0.0,
            open_count: 0,
        }
    }

    fn slot(&self, bin: i64) -> usize {
        bin.rem_euclid(self.slots.len() as i64) as usize
    }

    /// Learns a value. Values for a bin before the one being filled are ignored (the
    /// monitor feeds each series in time order), as are non-finite values.
    fn insert(&mut self, timestamp: i64, value: f64) {
        if !value.is_finite() {
            return;
        }
        let bin = timestamp.div_euclid(self.bin_seconds);
        match self.open_bin {
            Some(open) if bin < open => return,
            Some(open) if bin > open => {
                self.close(open);
                // Bins skipped since hold nothing (they may still hold three weeks ago).
                let skipped = (bin - open - 1).min(self.slots.len() as i64);
                for back in 1..=skipped {
                    let slot = self.slot(bin - back);
                    self.slots[slot] = 0;
                }
                self.open_bin = Some(bin);
            }
            Some(_) => {}
            None => self.open_bin = Some(bin),
        }
        self.open_sum += value;
        self.open_count += 1;
    }

    /// Stores the open bin's mean as a code, widening the grid first when it must.
    fn close(&mut self, bin: i64) {
        let slot = self.slot(bin);
        if self.open_count == 0 {
            self.slots[slot] = 0;
            return;
        }
        let mean = self.open_sum / f64::from(self.open_count);
        self.open_sum = 0.0;
        self.open_count = 0;
        self.lowest = self.lowest.min(mean);
        self.highest = self.highest.max(mean);
        let grid = match self.grid {
            Some(grid) if grid.covers(mean) => grid,
            Some(old) => {
                let wider = Grid::around(self.lowest, self.highest);
                for code in self.slots.iter_mut() {
                    *code = old.decode(*code).map_or(0, |value| wider.encode(value));
                }
                wider
            }
            None => Grid::around(mean, mean),
        };
        self.grid = Some(grid);
        self.slots[slot] = grid.encode(mean);
    }

    fn get(&self, timestamp: i64) -> Option<f64> {
        let bin = timestamp.div_euclid(self.bin_seconds);
        let open = self.open_bin?;
        if bin == open {
            return (self.open_count > 0).then(|| self.open_sum / f64::from(self.open_count));
        }
        if bin > open || open - bin >= self.slots.len() as i64 {
            return None;
        }
        self.grid?.decode(self.slots[self.slot(bin)])
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

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_700_006_400;

    #[test]
    fn bins_hold_their_mean_to_the_grid_step() {
        let mut history = History::new(60);
        assert_eq!(history.slots.len(), 6_049);
        assert_eq!(history.get(START), None);
        // Five minute points a bin; the values are the bin index, +-1.
        for minute in 0..600 {
            let bin = minute / 5;
            let wiggle = if minute % 2 == 0 { 1.0 } else { -1.0 };
            history.insert(START + minute * 60, bin as f64 + wiggle);
        }
        // Bins 0..=118 are closed, bin 119 is open (four points: two +1, two -1 but five
        // minutes: the open one has 0, +1, -1, +1... means of five alternate +-0.2).
        for bin in 0..119_i64 {
            let mean = bin as f64 + if bin % 2 == 0 { 0.2 } else { -0.2 };
            let got = history.get(START + bin * 300).unwrap_or(f64::NAN);
            // Each regridding rounds to the new grid's step (the range with headroom over
            // 65,534): within 1e-4 of the range (119) in all.
            assert!(
                (got - mean).abs() < 0.012,
                "bin {bin}: {got} against {mean}"
            );
        }
        assert!(history.get(START + 119 * 300).is_some());
        assert_eq!(history.get(START + 120 * 300), None);
    }

    #[test]
    fn gaps_late_points_and_nan_leave_bins_empty() {
        let mut history = History::new(300);
        history.insert(START, 10.0);
        history.insert(START + 300, f64::NAN);
        history.insert(START + 600, 12.0);
        // Late: a bin before the open one.
        history.insert(START + 300, 99.0);
        // A gap of four bins.
        history.insert(START + 7 * 300, 20.0);
        let near = |bin: i64, value: f64| {
            history
                .get(START + bin * 300)
                .is_some_and(|got| (got - value).abs() < 1e-3)
        };
        assert!(near(0, 10.0));
        assert_eq!(history.get(START + 300), None);
        assert!(near(2, 12.0));
        for bin in 3..7 {
            assert_eq!(history.get(START + bin * 300), None, "bin {bin}");
        }
        // The open bin is exact.
        assert_eq!(history.get(START + 7 * 300), Some(20.0));
    }

    #[test]
    fn three_weeks_are_kept_and_then_overwritten() {
        let mut history = History::new(300);
        let bins = history.slots.len() as i64;
        for bin in 0..bins + 10 {
            history.insert(START + bin * 300, 5.0);
        }
        // The oldest ten bins are gone; three weeks back from the open bin is kept.
        let open = bins + 9;
        assert_eq!(history.get(START + 9 * 300), None);
        assert_eq!(history.get(START + (open - 3 * 2_016) * 300), Some(5.0));
        // A gap longer than the ring empties it.
        history.insert(START + (open + 2 * bins) * 300, 7.0);
        assert_eq!(history.get(START + (open + 2 * bins - 1) * 300), None);
        assert_eq!(history.get(START + (open + 2 * bins - 2_016) * 300), None);
    }

    #[test]
    fn a_growing_series_is_regridded_without_losing_precision() {
        let mut history = History::new(300);
        // Means from 1e6 up to 1e9 (each bin's value is a known function of the bin).
        let value = |bin: i64| 1e6 * 1.01_f64.powf(bin as f64 / 10.0);
        let bins = 7_000;
        for bin in 0..bins {
            history.insert(START + bin * 300, value(bin));
        }
        let range = value(bins - 1) - value(0);
        let mut worst: f64 = 0.0;
        for bin in bins - 6_000..bins - 1 {
            let got = history.get(START + bin * 300).unwrap_or(f64::NAN);
            worst = worst.max((got - value(bin)).abs() / range);
        }
        // Well below the detectors' resolution floor of 1e-3 of the range.
        assert!(worst < 1e-4, "worst error {worst} of the range");
    }

    #[test]
    fn constant_series_is_exact() {
        let mut history = History::new(300);
        for bin in 0..100 {
            history.insert(START + bin * 300, 123_456.75);
        }
        let got = history.get(START + 50 * 300).unwrap_or(f64::NAN);
        assert!((got - 123_456.75).abs() < 1e-6, "{got}");
    }
}
