//! Online anomaly detectors with per-series state.
//!
//! A [`Detector`] sees one series' points in time order and gives each an anomaly score in
//! `[0, 1]` using only the points before it (no look-ahead). Each detector is one file and
//! one line in [`REGISTRY`]:
//!
//! - `deviation` (deviation.rs): the residual from a short rolling median, in robust
//!   spreads of past residuals;
//! - `seasonal` (seasonal.rs): the residual from the same time on previous days and weeks;
//! - `level-shift` (level_shift.rs): how far the recent median has moved from the reference
//!   level, in robust spreads;
//! - `combined` (combined.rs): all three; the point residual of whichever predictor has
//!   been tightest, the level shift, and suppression of repeated alerts.
//!
//!
//! Counted outcomes (failed sessions out of sessions) have their own [`RateDetector`]
//! (rate.rs), outside the registry since it takes two numbers per bucket.
//!
//! Components first measure *surprise* (a robust z-score, [`Surprise`]); one fixed mapping,
//! [`surprise_to_score`], turns it into a score.

mod combined;
mod deviation;
mod level_shift;
mod log_window;
mod period;
mod rate;
mod seasonal;
mod window;

pub use combined::{CombinedConfig, CombinedDetector};
pub use deviation::DeviationDetector;
pub use level_shift::LevelShiftDetector;
pub use log_window::LogWindow;
pub use period::PeriodEstimator;
pub use rate::RateDetector;
pub use seasonal::{SeasonalDetector, SeasonalPrediction, SeasonalPredictor};
pub use window::RollingWindow;

use crate::MonitorError;

/// An online detector for one series.
pub trait Detector: Send {
    /// Feeds the next point (timestamp in seconds, value) and returns its anomaly score in
    /// `[0, 1]`, computed from this point and the ones before it only.
    fn update(&mut self, timestamp: i64, value: f64) -> f64;
}

/// A component that measures how surprising a point is, in robust standard deviations;
/// `None` while it is still learning.
pub trait Surprise {
    fn surprise(&mut self, timestamp: i64, value: f64) -> Option<f64>;
}

/// A registered detector: its name, what it does, and how to build one with defaults.
#[derive(Debug, Clone, Copy)]
pub struct DetectorInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub build: fn() -> Box<dyn Detector>,
}

/// Every detector, by name. The first is the default.
pub const REGISTRY: &[DetectorInfo] = &[
    DetectorInfo {
        name: "combined",
        description: "seasonal, deviation and level-shift combined, repeated alerts suppressed",
        build: || Box::new(CombinedDetector::new(CombinedConfig::default())),
    },
    DetectorInfo {
        name: "deviation",
        description: "residual from a short rolling median in robust spreads",
        build: || Box::new(DeviationDetector::default()),
    },
    DetectorInfo {
        name: "seasonal",
        description: "residual from the same time on previous days and weeks",
        build: || Box::new(SeasonalDetector::default()),
    },
    DetectorInfo {
        name: "level-shift",
        description: "recent median against the reference level",
        build: || Box::new(LevelShiftDetector::default()),
    },
];

/// Builds a registered detector by name.
pub fn build(name: &str) -> Result<Box<dyn Detector>, MonitorError> {
    REGISTRY
        .iter()
        .find(|info| info.name == name)
        .map(|info| (info.build)())
        .ok_or_else(|| MonitorError::Unknown {
            what: "detector",
            name: name.to_owned(),
            known: REGISTRY
                .iter()
                .map(|info| info.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Runs a detector over a whole series, one score per point.
pub fn run(detector: &mut dyn Detector, timestamps: &[i64], values: &[f64]) -> Vec<f64> {
    timestamps
        .iter()
        .zip(values)
        .map(|(&timestamp, &value)| detector.update(timestamp, value))
        .collect()
}

/// Surprise (robust z) to score: `1 - 1 / sqrt(1 + z)`. 0 stays 0, 3 spreads give 0.5,
/// 99 give 0.9; strictly monotone without saturating, so thresholds on the score are
/// thresholds on the surprise and very large surprises stay distinguishable.
pub fn surprise_to_score(surprise: Option<f64>) -> f64 {
    match surprise {
        Some(z) if z > 0.0 => (1.0 - 1.0 / (1.0 + z).sqrt()).clamp(0.0, 1.0),
        _ => 0.0,
    }
}

/// Points per day at a sampling period, at least 1.
pub(crate) fn points_per_day(period: i64) -> usize {
    (86_400 / period.max(1)).max(1) as usize
}

/// The robust scale of one predictor's residuals, learned online, and the surprise of each
/// new residual against it. Deviations below a thousandth of the range the series has ever
/// covered are never surprising (that is measurement resolution, and keeps flat stretches
/// from turning the least change into an infinite surprise).
#[derive(Debug, Clone)]
pub(crate) struct ResidualScale {
    residuals: RollingWindow,
    min_points: usize,
    lowest: f64,
    highest: f64,
}

/// One residual measured against the scale in force before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    /// The robust spread used (floored).
    pub scale: f64,
    /// The residual minus the usual residual, in spreads (signed).
    pub normalised: f64,
}

impl ResidualScale {
    pub(crate) fn new(per_day: usize) -> Self {
        let capacity = per_day.clamp(100, 1_000);
        ResidualScale {
            residuals: RollingWindow::new(capacity),
            min_points: (capacity / 2).max(30),
            lowest: f64::INFINITY,
            highest: f64::NEG_INFINITY,
        }
    }

    /// Widens the range used for the floor to what the series covered before this scale
    /// existed (a seasonal scale starts a day or a week into the series).
    pub(crate) fn widen(&mut self, lowest: f64, highest: f64) {
        self.lowest = self.lowest.min(lowest);
        self.highest = self.highest.max(highest);
    }

    /// Measures `residual` against the past (`None` while warming up), then learns it.
    pub(crate) fn observe(&mut self, residual: f64, value: f64) -> Option<Measured> {
        let measured = self.measure(residual, value);
        self.residuals.push(residual);
        if value.is_finite() {
            self.lowest = self.lowest.min(value);
            self.highest = self.highest.max(value);
        }
        measured
    }

    fn measure(&self, residual: f64, value: f64) -> Option<Measured> {
        if self.residuals.len() < self.min_points {
            return None;
        }
        let center = self.residuals.median()?;
        let range = self.highest.max(value) - self.lowest.min(value);
        let floor = (1e-3 * range).max(1e-9 * (1.0 + value.abs()));
        let scale = self.residuals.tail_spread()?.max(floor);
        Some(Measured {
            scale,
            normalised: (residual - center) / scale,
        })
    }
}

/// Test data shared by the detectors' unit tests.
#[cfg(test)]
pub(crate) mod test_data {
    /// A small deterministic generator (xorshift): uniform in [0, 1).
    pub(crate) fn uniform(state: &mut u64) -> f64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The `q` quantile of `values` by nearest rank, as the windows define it.
    pub(crate) fn exact_quantile(values: &[f64], q: f64) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = (q * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank]
    }
}
