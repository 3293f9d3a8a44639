//! The combined detector: three predictors of each point (a short rolling median, the same
//! time on previous days, the same time on previous weeks), each with the robust spread of
//! its own past residuals; the point's surprise is its residual under whichever predictor
//! has been tightest lately, so a seasonal series is judged against its season and a
//! non-seasonal one against its recent level. The level-shift component adds lasting
//! moves. Finally a score only stands when it is higher than every score in the preceding
//! suppression horizon: one incident, one alert.

use std::collections::VecDeque;

use crate::detector::deviation::LocalPredictor;
use crate::detector::{
    Detector, LevelShiftDetector, ResidualScale, RollingWindow, SeasonalPredictor, Surprise,
    points_per_day, surprise_to_score,
};

/// The combined detector's settings (the same for every series).
#[derive(Debug, Clone, PartialEq)]
pub struct CombinedConfig {
    /// Multiplies the level-shift surprise before it competes with the point surprise.
    pub level_shift_weight: f64,
    /// A score is a repeat when a score at least as high occurred this many seconds before.
    pub suppress_seconds: i64,
    /// Repeats are scaled by this factor.
    pub repeat_factor: f64,
    /// Within the horizon, a surprise must exceed the largest before it by this factor to
    /// stand as a new alert.
    pub escalation: f64,
    /// A residual that persists this long (the median of its normalised residuals) counts
    /// as a surprise of its own, weighted by `persist_weight`.
    pub persist_seconds: i64,
    pub persist_weight: f64,
    /// Surprises are compared with this quantile of the series' own past surprises...
    pub history_quantile: f64,
    /// ...over this many seconds of history (at most `history_points` points)...
    pub history_seconds: i64,
    pub history_points: usize,
    /// ...but never with less than this (quiet series still need a real deviation).
    pub history_floor: f64,
}

impl CombinedConfig {
    /// Sets one field by name (for experiments from the command line).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let float = || {
            value
                .parse::<f64>()
                .map_err(|error| format!("{name}={value}: {error}"))
        };
        let integer = || {
            value
                .parse::<i64>()
                .map_err(|error| format!("{name}={value}: {error}"))
        };
        match name {
            "level_shift_weight" => self.level_shift_weight = float()?,
            "suppress_seconds" => self.suppress_seconds = integer()?,
            "escalation" => self.escalation = float()?,
            "repeat_factor" => self.repeat_factor = float()?,
            "persist_seconds" => self.persist_seconds = integer()?,
            "persist_weight" => self.persist_weight = float()?,
            "history_quantile" => self.history_quantile = float()?,
            "history_seconds" => self.history_seconds = integer()?,
            "history_points" => self.history_points = integer()?.max(1) as usize,
            "history_floor" => self.history_floor = float()?,
            _ => return Err(format!("unknown setting {name:?}")),
        }
        Ok(())
    }
}

impl Default for CombinedConfig {
    fn default() -> Self {
        CombinedConfig {
            level_shift_weight: 1.0,
            suppress_seconds: 86_400,
            repeat_factor: 0.25,
            escalation: 1.0,
            persist_seconds: 14_400,
            persist_weight: 1.0,
            history_quantile: 0.99,
            history_seconds: 7 * 86_400,
            history_points: 5_000,
            history_floor: 1.0,
        }
    }
}

/// One predictor's residual scale and its recent normalised residuals.
#[derive(Debug, Clone)]
struct PredictorTracker {
    scale: ResidualScale,
    recent: RollingWindow,
}

/// The combined detector.
#[derive(Debug, Clone)]
pub struct CombinedDetector {
    config: CombinedConfig,
    local: LocalPredictor,
    seasonal: SeasonalPredictor,
    level_shift: LevelShiftDetector,
    /// Residual trackers for the local, daily and weekly predictors.
    predictors: [Option<PredictorTracker>; 3],
    /// Recent (timestamp, raw score), decreasing scores: the sliding maximum.
    recent_maxima: VecDeque<(i64, f64)>,
    /// The series' own past surprises.
    history: Option<RollingWindow>,
}

impl CombinedDetector {
    pub fn new(config: CombinedConfig) -> Self {
        CombinedDetector {
            config,
            local: LocalPredictor::default(),
            seasonal: SeasonalPredictor::default(),
            level_shift: LevelShiftDetector::default(),
            predictors: [None, None, None],
            recent_maxima: VecDeque::new(),
            history: None,
        }
    }

    /// The surprise relative to the series' own usual surprises, then learns it.
    fn calibrate(&mut self, surprise: Option<f64>) -> Option<f64> {
        let surprise = surprise?;
        let period = self.seasonal.period()?;
        let history = self.history.get_or_insert_with(|| {
            let points = (self.config.history_seconds / period.max(1)).max(1) as usize;
            RollingWindow::new(points.min(self.config.history_points))
        });
        let usual = history
            .quantile(self.config.history_quantile)
            .unwrap_or(0.0)
            .max(self.config.history_floor);
        let enough = history.len() >= 100;
        history.push(surprise);
        enough.then_some(surprise / usual)
    }

    /// The point surprise and the persistent surprise under the tightest predictor.
    fn point_surprise(&mut self, timestamp: i64, value: f64) -> Option<(f64, f64)> {
        let local = self.local.predict_then_learn(value);
        let seasonal = self.seasonal.predict_then_learn(timestamp, value);
        let period = self.seasonal.period()?;
        let per_day = points_per_day(period);
        let persist_points = (self.config.persist_seconds / period.max(1)).clamp(4, 48) as usize;
        // (scale, point, persistent) for the local, daily and weekly predictors.
        let mut measured: [Option<(f64, f64, f64)>; 3] = [None; 3];
        for ((tracker, predicted), slot) in self
            .predictors
            .iter_mut()
            .zip([local, seasonal.daily, seasonal.weekly])
            .zip(&mut measured)
        {
            let Some(predicted) = predicted else { continue };
            let tracker = tracker.get_or_insert_with(|| PredictorTracker {
                scale: ResidualScale::new(per_day),
                recent: RollingWindow::new(persist_points),
            });
            let Some(residual) = tracker.scale.observe(value - predicted, value) else {
                continue;
            };
            tracker.recent.push(residual.normalised);
            // The median of k standard normals has a standard deviation of about
            // 1.2533 / sqrt(k): rescale so a persistent shift reads in the same units.
            let persistent = if tracker.recent.is_full() {
                let median = tracker.recent.median().unwrap_or(0.0);
                median.abs() * (persist_points as f64).sqrt() / 1.2533
            } else {
                0.0
            };
            *slot = Some((residual.scale, residual.normalised.abs(), persistent));
        }
        // The seasonal view: a point is only seasonally surprising if neither the daily nor
        // the weekly pattern explains it (a Saturday is normal for the weekly one).
        let seasonal = match (measured[1], measured[2]) {
            (Some(daily), Some(weekly)) => Some((
                daily.0.min(weekly.0),
                daily.1.min(weekly.1),
                daily.2.min(weekly.2),
            )),
            (daily, weekly) => daily.or(weekly),
        };
        // Then the tighter of the local and the seasonal view.
        let best = match (measured[0], seasonal) {
            (Some(local), Some(seasonal)) => Some(if seasonal.0 < local.0 {
                seasonal
            } else {
                local
            }),
            (local, seasonal) => local.or(seasonal),
        };
        best.map(|(_, point, persistent)| (point, persistent))
    }

    /// Scales a score down unless its surprise ratio is `escalation` times every ratio in
    /// the horizon before it: one alert per incident, and again only when it gets worse.
    fn suppress_repeats(&mut self, timestamp: i64, ratio: f64) -> f64 {
        let score = surprise_to_score(Some(3.0 * ratio));
        let horizon_start = timestamp - self.config.suppress_seconds;
        while self
            .recent_maxima
            .front()
            .is_some_and(|&(at, _)| at < horizon_start)
        {
            self.recent_maxima.pop_front();
        }
        let recent_max = self.recent_maxima.front().map_or(0.0, |&(_, max)| max);
        while self
            .recent_maxima
            .back()
            .is_some_and(|&(_, previous)| previous <= ratio)
        {
            self.recent_maxima.pop_back();
        }
        self.recent_maxima.push_back((timestamp, ratio));
        if ratio > 0.0 && ratio <= recent_max * self.config.escalation {
            score * self.config.repeat_factor
        } else {
            score
        }
    }
}

impl Surprise for CombinedDetector {
    fn surprise(&mut self, timestamp: i64, value: f64) -> Option<f64> {
        let point = self
            .point_surprise(timestamp, value)
            .map(|(point, persistent)| point.max(persistent * self.config.persist_weight));
        let shift = self
            .level_shift
            .surprise(timestamp, value)
            .map(|z| z * self.config.level_shift_weight);
        match (point, shift) {
            (Some(point), Some(shift)) => Some(point.max(shift)),
            (point, shift) => point.or(shift),
        }
    }
}

impl Detector for CombinedDetector {
    fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        let surprise = self.surprise(timestamp, value);
        match self.calibrate(surprise) {
            Some(ratio) => self.suppress_repeats(timestamp, ratio),
            None => 0.0,
        }
    }
}
