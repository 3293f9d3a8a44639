//! The combined detector. Two views of each point:
//!
//! - the *local* view: the residual from a short rolling median and the level-shift
//!   component (recent median against a day-long reference);
//! - the *seasonal* view: the residuals from the same time on previous days and on previous
//!   weeks; a point is seasonally surprising only if neither pattern explains it (a Saturday
//!   is normal for the weekly one).
//!
//! Each residual is measured in robust spreads of its own past residuals, both as a single
//! point and as the median of the last few hours (a deviation that persists). Each view's
//! surprise is then divided by that view's own usual surprise (a high quantile of its past
//! week): the local view of a seasonal series is surprised by every daily rise, the seasonal
//! view is not, and a series with heavy tails is not judged by the standards of a smooth one.
//! A third view counts how many recent points were nearly as surprising as the local view's
//! usual surprise, against its own usual count: the same spikes as always, arriving more
//! often (a point-process view of the series). The largest ratio wins. Finally a score only
//! stands when its ratio is higher than every ratio in the preceding suppression horizon:
//! one incident, one alert.

use std::collections::VecDeque;

use crate::detector::deviation::LocalPredictor;
use crate::detector::{
    Detector, LevelShiftDetector, LogWindow, ResidualScale, RollingWindow, SeasonalPredictor,
    Surprise, points_per_day, surprise_to_score,
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
    /// Within `quick_seconds` (and never fewer than `quick_points` points) of a larger
    /// surprise, a surprise must exceed it by `quick_escalation` to stand: the next few
    /// points of a rising incident are the same incident, not a worse one.
    pub quick_seconds: i64,
    pub quick_points: i64,
    pub quick_escalation: f64,
    /// A residual that persists this long (the median of its normalised residuals) counts
    /// as a surprise of its own, weighted by `persist_weight`.
    pub persist_seconds: i64,
    pub persist_weight: f64,
    /// Surprises are compared with this quantile of the series' own past surprises...
    pub history_quantile: f64,
    /// ...over this many seconds of history (sampled down to at most `history_points`,
    /// itself at most 65,535)...
    pub history_seconds: i64,
    pub history_points: usize,
    /// ...but never with less than this (quiet series still need a real deviation).
    pub history_floor: f64,
    /// The density view counts the points of the last `persist_seconds` (at most 48 points)
    /// whose single-point local surprise reached `density_event` times the local view's
    /// usual surprise, and compares the count with the same quantile of its own past counts,
    /// never with less than `density_floor`.
    pub density_event: f64,
    pub density_floor: f64,
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
            "quick_seconds" => self.quick_seconds = integer()?,
            "quick_points" => self.quick_points = integer()?,
            "quick_escalation" => self.quick_escalation = float()?,
            "persist_seconds" => self.persist_seconds = integer()?,
            "persist_weight" => self.persist_weight = float()?,
            "history_quantile" => self.history_quantile = float()?,
            "history_seconds" => self.history_seconds = integer()?,
            "history_points" => self.history_points = integer()?.max(1) as usize,
            "history_floor" => self.history_floor = float()?,
            "density_floor" => self.density_floor = float()?,
            "density_event" => self.density_event = float()?,
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
            escalation: 1.05,
            quick_seconds: 3_600,
            quick_points: 4,
            quick_escalation: 1.2,
            persist_seconds: 14_400,
            persist_weight: 1.0,
            history_quantile: 0.99,
            history_seconds: 7 * 86_400,
            history_points: 2_016,
            history_floor: 1.0,
            density_floor: 2.0,
            density_event: 0.75,
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
    /// The same over the quick horizon.
    quick_maxima: VecDeque<(i64, f64)>,
    /// The series' own past surprises: local view, seasonal view; and how many each saw.
    histories: [Option<LogWindow>; 2],
    history_seen: [u64; 2],
    /// The density view: the last (up to 48) points, a bit set for each one whose local
    /// point surprise reached `density_event` times the local view's usual surprise; and
    /// the past counts.
    exceedances: u64,
    density_history: Option<LogWindow>,
    /// The range of values seen so far.
    lowest: f64,
    highest: f64,
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
            quick_maxima: VecDeque::new(),
            histories: [None, None],
            history_seen: [0, 0],
            exceedances: 0,
            density_history: None,
            lowest: f64::INFINITY,
            highest: f64::NEG_INFINITY,
        }
    }

    /// Each view's surprise relative to that view's own usual surprises, the largest ratio.
    /// The local view (recent level, level shift) of a seasonal series is surprised by every
    /// daily rise; the seasonal view is not, so each is judged against its own history.
    fn calibrated(&mut self, timestamp: i64, value: f64) -> Option<f64> {
        let views = self.point_surprise(timestamp, value);
        let shift = self.level_shift.surprise(timestamp, value);
        let period = self.seasonal.period()?;
        let config = &self.config;
        // The history spans `history_seconds`; a fine series keeps every `stride`-th
        // surprise so it holds at most `history_points` (the quantile barely moves).
        let horizon = (config.history_seconds / period.max(1)).max(1) as usize;
        let points = horizon.min(config.history_points.clamp(1, usize::from(u16::MAX)));
        let stride = horizon.div_ceil(points) as u64;
        let (local, seasonal) = views.unwrap_or((None, None));
        let local_point = local.map(|(point, _)| point);
        let merge = |view: Option<(f64, f64)>| {
            view.map(|(point, persistent)| point.max(persistent * config.persist_weight))
        };
        let shift = shift.map(|z| z * config.level_shift_weight);
        let local = match (merge(local), shift) {
            (Some(local), Some(shift)) => Some(local.max(shift)),
            (local, shift) => local.or(shift),
        };
        let surprises = [local, merge(seasonal)];
        let mut best: Option<f64> = None;
        let mut local_usual = None;
        for ((history, seen), surprise) in self
            .histories
            .iter_mut()
            .zip(&mut self.history_seen)
            .zip(surprises)
        {
            let Some(surprise) = surprise else { continue };
            let history = history.get_or_insert_with(|| LogWindow::new(points));
            let usual = history
                .quantile(config.history_quantile)
                .unwrap_or(0.0)
                .max(config.history_floor);
            let enough = history.len() >= 100;
            if (*seen).is_multiple_of(stride) {
                history.push(surprise);
            }
            *seen += 1;
            if enough {
                if local_usual.is_none() {
                    local_usual = Some(usual);
                }
                let ratio = surprise / usual;
                best = Some(best.map_or(ratio, |other| other.max(ratio)));
            }
        }
        if let Some(density) = self.density(period, local_point, local_usual, (points, stride)) {
            best = Some(best.map_or(density, |other| other.max(density)));
        }
        best
    }

    /// The density view: the count of recent points whose local point surprise came near
    /// the local view's usual surprise (the top of the series' own surprises), against the
    /// usual such count. Spikes the series always has are not surprising one by one; the
    /// same spikes arriving more often are.
    fn density(
        &mut self,
        period: i64,
        point: Option<f64>,
        usual: Option<f64>,
        (points, stride): (usize, u64),
    ) -> Option<f64> {
        let (point, usual) = (point?, usual?);
        let span = (self.config.persist_seconds / period.max(1)).clamp(4, 48) as u32;
        let mask = (1u64 << span) - 1;
        self.exceedances = ((self.exceedances << 1)
            | u64::from(point >= usual * self.config.density_event))
            & mask;
        let count = f64::from(self.exceedances.count_ones());
        let history = self
            .density_history
            .get_or_insert_with(|| LogWindow::new(points));
        let typical = history
            .quantile(self.config.history_quantile)
            .unwrap_or(0.0)
            .max(self.config.density_floor);
        let enough = history.len() >= 100;
        if self.history_seen[0].is_multiple_of(stride) {
            history.push(count);
        }
        enough.then(|| count / typical)
    }

    /// The (point, persistent) surprise of the local view and of the seasonal view.
    #[allow(clippy::type_complexity)]
    fn point_surprise(
        &mut self,
        timestamp: i64,
        value: f64,
    ) -> Option<(Option<(f64, f64)>, Option<(f64, f64)>)> {
        let local = self.local.predict_then_learn(value);
        let seasonal = self.seasonal.predict_then_learn(timestamp, value);
        if value.is_finite() {
            self.lowest = self.lowest.min(value);
            self.highest = self.highest.max(value);
        }
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
            tracker.scale.widen(self.lowest, self.highest);
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
        let view = |measured: Option<(f64, f64, f64)>| {
            measured.map(|(_, point, persistent)| (point, persistent))
        };
        Some((view(measured[0]), view(seasonal)))
    }

    /// Scales a score down unless its surprise ratio is `escalation` times every ratio in
    /// the horizon before it: one alert per incident, and again only when it gets worse.
    fn suppress_repeats(&mut self, timestamp: i64, ratio: f64) -> f64 {
        let score = surprise_to_score(Some(3.0 * ratio));
        let recent_max = sliding_max(
            &mut self.recent_maxima,
            timestamp - self.config.suppress_seconds,
            timestamp,
            ratio,
        );
        let period = self.seasonal.period().unwrap_or(0).max(1);
        let quick = self
            .config
            .quick_seconds
            .max(self.config.quick_points.saturating_mul(period));
        while self
            .quick_maxima
            .front()
            .is_some_and(|&(at, _)| at < timestamp - quick)
        {
            self.quick_maxima.pop_front();
        }
        let quick_max = self.quick_maxima.front().map_or(0.0, |&(_, max)| max);
        let bar =
            (recent_max * self.config.escalation).max(quick_max * self.config.quick_escalation);
        if ratio > 0.0 && ratio <= bar {
            score * self.config.repeat_factor
        } else {
            // A standing alert: the quick horizon remembers it.
            while self
                .quick_maxima
                .back()
                .is_some_and(|&(_, previous)| previous <= ratio)
            {
                self.quick_maxima.pop_back();
            }
            self.quick_maxima.push_back((timestamp, ratio));
            score
        }
    }
}

/// The largest ratio in `maxima` at or after `start` (0 when none), then adds `ratio` at
/// `timestamp`; `maxima` holds decreasing ratios (a sliding maximum).
fn sliding_max(maxima: &mut VecDeque<(i64, f64)>, start: i64, timestamp: i64, ratio: f64) -> f64 {
    while maxima.front().is_some_and(|&(at, _)| at < start) {
        maxima.pop_front();
    }
    let max = maxima.front().map_or(0.0, |&(_, max)| max);
    while maxima
        .back()
        .is_some_and(|&(_, previous)| previous <= ratio)
    {
        maxima.pop_back();
    }
    maxima.push_back((timestamp, ratio));
    max
}

impl Detector for CombinedDetector {
    fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        match self.calibrated(timestamp, value) {
            Some(ratio) => self.suppress_repeats(timestamp, ratio),
            None => 0.0,
        }
    }
}
