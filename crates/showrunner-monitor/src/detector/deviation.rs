//! Robust deviation: each point against the median of the few points before it, in robust
//! spreads (interquartile range) of the past residuals. Fires on spikes and dips and at the
//! onset of level shifts.

use crate::detector::period::PeriodEstimator;
use crate::detector::window::RollingWindow;
use crate::detector::{Detector, ResidualScale, Surprise, points_per_day, surprise_to_score};

/// Points in the rolling median that predicts the next point.
pub(crate) const LOCAL_POINTS: usize = 5;

/// The short rolling median as a predictor.
#[derive(Debug, Clone)]
pub struct LocalPredictor {
    recent: RollingWindow,
}

impl Default for LocalPredictor {
    fn default() -> Self {
        LocalPredictor {
            recent: RollingWindow::new(LOCAL_POINTS),
        }
    }
}

impl LocalPredictor {
    /// The prediction for the next point, then learns `value`.
    pub fn predict_then_learn(&mut self, value: f64) -> Option<f64> {
        let predicted = self.recent.median();
        self.recent.push(value);
        predicted
    }
}

/// The deviation detector.
#[derive(Debug, Clone, Default)]
pub struct DeviationDetector {
    period: PeriodEstimator,
    predictor: LocalPredictor,
    scale: Option<ResidualScale>,
}

impl Surprise for DeviationDetector {
    fn surprise(&mut self, timestamp: i64, value: f64) -> Option<f64> {
        let period = self.period.observe(timestamp);
        let predicted = self.predictor.predict_then_learn(value)?;
        let per_day = points_per_day(period?);
        let scale = self
            .scale
            .get_or_insert_with(|| ResidualScale::new(per_day));
        scale
            .observe(value - predicted, value)
            .map(|measured| measured.normalised.abs())
    }
}

impl Detector for DeviationDetector {
    fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        surprise_to_score(self.surprise(timestamp, value))
    }
}
