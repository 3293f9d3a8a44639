//! The combined detector. Two views of each point:
//!
//! - the *local* view: the residual from a short rolling median and the level-shift
//!   component (recent median against a day-long reference);
//! - the *seasonal* view: the residuals from the same time on previous days and on previous
//!   weeks; a point is seasonally surprising only if neither pattern explains it (a Saturday
//!   is normal for the weekly one), both judged by the spread of the tighter pattern (a
//!   pattern always far off explains nothing).
//!
//! Each residual is measured in robust spreads of its own past residuals, both as a single
//! point and as the median of the last few hours (a deviation that persists). Each view's
//! surprise is then divided by that view's own usual surprise (a high quantile of its past
//! week, or of its last 500 surprises when a week holds fewer): the local view of a seasonal series is surprised by every daily rise, the seasonal
//! view is not, and a series with heavy tails is not judged by the standards of a smooth one.
//! A third view counts how many recent points were nearly as surprising as the local view's
//! usual surprise, against its own usual count: the same spikes as always, arriving more
//! often (a point-process view of the series). A fourth, the range view, measures how far
//! the last hour's level lies outside the levels of the previous week (yesterday back), in
//! local residual spreads, against its own usual excursion learned a day late: a drift too
//! slow for any residual still leaves the range the series has covered. The largest ratio
//! wins. Finally a score only stands when its ratio exceeds every alert that stood in the
//! preceding suppression horizon by a margin (20%, or twice within the hour after the last
//! one): one incident, one alert, and another only when it has clearly grown.

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
    /// A score is a repeat unless its surprise exceeds every alert that stood in the last
    /// `suppress_seconds` by the factor `escalation`...
    pub suppress_seconds: i64,
    pub escalation: f64,
    /// ...or, within `near_seconds` of the last alert that stood, by `near_escalation`
    /// (the same incident an hour later needs to be of another order to page again)...
    pub near_seconds: i64,
    pub near_escalation: f64,
    /// ...and repeats are scaled by this factor.
    pub repeat_factor: f64,
    /// A residual that persists this long (the median of its normalised residuals) counts
    /// as a surprise of its own, weighted by `persist_weight`.
    pub persist_seconds: i64,
    pub persist_weight: f64,
    /// Surprises are compared with this quantile of the series' own past surprises...
    pub history_quantile: f64,
    /// ...over this many seconds of history (sampled down to at most `history_points`,
    /// itself at most 65,535), or over the last `history_min_points` surprises when those
    /// span longer (a week of an hourly series is too few samples for a 99th percentile)...
    pub history_seconds: i64,
    pub history_points: usize,
    pub history_min_points: usize,
    /// ...but never with less than this (quiet series still need a real deviation).
    pub history_floor: f64,
    /// The density view counts the points of the last `persist_seconds` (at most 48 points)
    /// whose single-point local surprise reached `density_event` times the local view's
    /// usual surprise, and compares the count with the same quantile of its own past counts,
    /// never with less than `density_floor`.
    pub density_event: f64,
    pub density_floor: f64,
    /// The range view: how far the recent level (the median of about the last hour) lies
    /// outside the range of levels of the previous `range_days` days (yesterday back), in
    /// the local view's residual spreads, against the same quantile of its own past values,
    /// never less than `range_floor`. 0 days turns it off.
    pub range_days: i64,
    pub range_floor: f64,
    /// Its past values join its history this many seconds late, so an ongoing drift is not
    /// judged by its own earlier part.
    pub range_delay_seconds: i64,
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
            "near_seconds" => self.near_seconds = integer()?,
            "near_escalation" => self.near_escalation = float()?,
            "repeat_factor" => self.repeat_factor = float()?,
            "persist_seconds" => self.persist_seconds = integer()?,
            "persist_weight" => self.persist_weight = float()?,
            "history_quantile" => self.history_quantile = float()?,
            "history_seconds" => self.history_seconds = integer()?,
            "history_points" => self.history_points = integer()?.max(1) as usize,
            "history_min_points" => self.history_min_points = integer()?.max(1) as usize,
            "history_floor" => self.history_floor = float()?,
            "density_floor" => self.density_floor = float()?,
            "density_event" => self.density_event = float()?,
            "range_days" => self.range_days = integer()?,
            "range_floor" => self.range_floor = float()?,
            "range_delay_seconds" => self.range_delay_seconds = integer()?,
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
            escalation: 1.2,
            near_seconds: 3_600,
            near_escalation: 2.0,
            persist_seconds: 14_400,
            persist_weight: 1.0,
            history_quantile: 0.99,
            history_seconds: 7 * 86_400,
            history_points: 2_016,
            history_min_points: 500,
            history_floor: 1.0,
            density_floor: 2.0,
            density_event: 0.75,
            range_days: 7,
            range_floor: 1.0,
            range_delay_seconds: 86_400,
        }
    }
}

/// Days of levels the range view keeps (today and up to 7 before it).
const RANGE_DAYS: usize = 8;

/// One view's past values, sampled, for its usual value (a high quantile); each value joins
/// the quantile window only after waiting `delay` samples in a queue, so an incident in
/// progress is judged by what came before it rather than by its own earlier part.
#[derive(Debug, Clone)]
struct Calibration {
    window: LogWindow,
    pending: VecDeque<f32>,
}

impl Calibration {
    fn new(points: usize) -> Self {
        Calibration {
            window: LogWindow::new(points),
            pending: VecDeque::new(),
        }
    }

    /// The `quantile` of the past values, never below `floor`; `None` until 100 are known.
    fn usual(&mut self, quantile: f64, floor: f64) -> Option<f64> {
        if self.window.len() < 100 {
            return None;
        }
        Some(self.window.quantile(quantile).unwrap_or(0.0).max(floor))
    }

    /// Queues `value`; the values queued more than `delay` samples ago join the window.
    fn learn(&mut self, value: f64, delay: usize) {
        if value.is_nan() {
            return;
        }
        self.pending.push_back(value as f32);
        while self.pending.len() > delay {
            if let Some(old) = self.pending.pop_front() {
                self.window.push(f64::from(old));
            }
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
    /// The alerts that stood in the suppression horizon (timestamp, ratio). Each exceeded
    /// every one before it, so the ratios increase and the oldest leave first.
    standing: VecDeque<(i64, f64)>,
    /// The series' own past surprises: local view, seasonal view; and how many each saw.
    histories: [Option<Calibration>; 2],
    history_seen: [u64; 2],
    /// The density view: the last (up to 48) points, a bit set for each one whose local
    /// point surprise reached `density_event` times the local view's usual surprise; and
    /// the past counts.
    exceedances: u64,
    density_history: Option<Calibration>,
    /// The range view: the lowest and highest level of each of the last days (day number,
    /// low, high), and the view's past surprises.
    day_levels: [(i64, f64, f64); RANGE_DAYS],
    range_history: Option<Calibration>,
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
            standing: VecDeque::new(),
            histories: [None, None],
            history_seen: [0, 0],
            exceedances: 0,
            density_history: None,
            day_levels: [(i64::MIN, f64::INFINITY, f64::NEG_INFINITY); RANGE_DAYS],
            range_history: None,
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
        // The history spans `history_seconds`, or `history_min_points` surprises for a sparse
        // series (five or more above its 99th percentile); a fine series keeps every
        // `stride`-th surprise so it holds at most `history_points` (the quantile barely
        // moves).
        let horizon = ((config.history_seconds / period.max(1)).max(1) as usize)
            .max(config.history_min_points);
        let points = horizon.min(config.history_points.clamp(1, usize::from(u16::MAX)));
        let stride = horizon.div_ceil(points) as u64;
        let delay = |seconds: i64| (seconds / period.max(1)) as usize / stride as usize;
        let (local, seasonal, local_scale) = views.unwrap_or((None, None, None));
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
            let history = history.get_or_insert_with(|| Calibration::new(points));
            let usual = history.usual(config.history_quantile, config.history_floor);
            if (*seen).is_multiple_of(stride) {
                history.learn(surprise, 0);
            }
            *seen += 1;
            if let Some(usual) = usual {
                if local_usual.is_none() {
                    local_usual = Some(usual);
                }
                let ratio = surprise / usual;
                best = Some(best.map_or(ratio, |other| other.max(ratio)));
            }
        }
        let range_delay = delay(config.range_delay_seconds);
        if let Some(density) = self.density(period, local_point, local_usual, (points, stride)) {
            best = Some(best.map_or(density, |other| other.max(density)));
        }
        if let Some(range) = self.range(timestamp, local_scale, (points, stride, range_delay)) {
            best = Some(best.map_or(range, |other| other.max(range)));
        }
        best
    }

    /// The range view: how far the recent level lies outside the levels of the previous
    /// days, in the local view's residual spreads, against its own usual value (learned a
    /// day late, so a drift is not judged by its own first hours). A drift too slow for any
    /// residual to notice still ends outside the range the series has covered; a series
    /// that makes new highs (or lows) all the time learns that it does.
    fn range(
        &mut self,
        timestamp: i64,
        scale: Option<f64>,
        (points, stride, delay): (usize, u64, usize),
    ) -> Option<f64> {
        let days = self.config.range_days.clamp(0, RANGE_DAYS as i64 - 1);
        let level = self.level_shift.recent_level()?;
        let today = timestamp.div_euclid(86_400);
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut covered = 0;
        for &(day, day_low, day_high) in &self.day_levels {
            if day < today && day >= today - days {
                low = low.min(day_low);
                high = high.max(day_high);
                covered += 1;
            }
        }
        if level.is_finite() {
            let slot = &mut self.day_levels[today.rem_euclid(RANGE_DAYS as i64) as usize];
            if slot.0 != today {
                *slot = (today, level, level);
            } else {
                slot.1 = slot.1.min(level);
                slot.2 = slot.2.max(level);
            }
        }
        let scale = scale?;
        if covered == 0 || !level.is_finite() {
            return None;
        }
        let outside = (low - level).max(level - high).max(0.0) / scale;
        let history = self
            .range_history
            .get_or_insert_with(|| Calibration::new(points));
        let usual = history.usual(self.config.history_quantile, self.config.range_floor);
        if self.history_seen[0].is_multiple_of(stride) {
            history.learn(outside, delay);
        }
        // Beyond its usual value the excursion counts by its order of magnitude (1 + ln r,
        // which meets r at 1 with the same slope): a level still moving away is the same
        // drift, so a standing escalation has to multiply the distance, not add to it.
        usual.map(|usual| {
            let ratio = outside / usual;
            if ratio > 1.0 { 1.0 + ratio.ln() } else { ratio }
        })
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
            .get_or_insert_with(|| Calibration::new(points));
        let typical = history.usual(self.config.history_quantile, self.config.density_floor);
        if self.history_seen[0].is_multiple_of(stride) {
            history.learn(count, 0);
        }
        typical.map(|typical| count / typical)
    }

    /// The (point, persistent) surprise of the local view and of the seasonal view.
    #[allow(clippy::type_complexity)]
    fn point_surprise(
        &mut self,
        timestamp: i64,
        value: f64,
    ) -> Option<(Option<(f64, f64)>, Option<(f64, f64)>, Option<f64>)> {
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
        // the weekly pattern explains it (a Saturday is normal for the weekly one), each
        // judged by the accuracy of the better one (the smaller residual spread). A pattern
        // that is always far off (the daily one of a series whose days differ) explains
        // nothing by being as far off as usual.
        let seasonal = match (measured[1], measured[2]) {
            (Some(daily), Some(weekly)) => {
                let scale = daily.0.min(weekly.0);
                // From each pattern's own spreads to the better pattern's.
                let nearer = |in_daily: f64, in_weekly: f64| {
                    (in_daily * daily.0).min(in_weekly * weekly.0) / scale
                };
                Some((scale, nearer(daily.1, weekly.1), nearer(daily.2, weekly.2)))
            }
            (daily, weekly) => daily.or(weekly),
        };
        let view = |measured: Option<(f64, f64, f64)>| {
            measured.map(|(_, point, persistent)| (point, persistent))
        };
        Some((
            view(measured[0]),
            view(seasonal),
            measured[0].map(|(scale, _, _)| scale),
        ))
    }

    /// Scales a score down unless its surprise ratio is `escalation` times every alert that
    /// stood in the horizon before it: one alert per incident, and again only when it gets
    /// clearly worse. Only standing alerts set the bar, so a surprise that rises slowly
    /// (a drift, a growing outage) stands again each time it has grown by that factor
    /// rather than being held down by its own repeats. Within the hour after an alert stood
    /// the factor is `near_escalation`: the next points of a spike or a dip that deepens
    /// are the same incident, and a second page so soon is only worth it for one clearly
    /// worse (twice the surprise).
    fn suppress_repeats(&mut self, timestamp: i64, ratio: f64) -> f64 {
        let score = surprise_to_score(Some(3.0 * ratio));
        let horizon_start = timestamp - self.config.suppress_seconds;
        while self
            .standing
            .front()
            .is_some_and(|&(at, _)| at < horizon_start)
        {
            self.standing.pop_front();
        }
        let bar = self.standing.back().map_or(0.0, |&(at, last)| {
            let near = timestamp - at <= self.config.near_seconds;
            last * if near {
                self.config.near_escalation
            } else {
                self.config.escalation
            }
        });
        if ratio <= bar {
            score * self.config.repeat_factor
        } else {
            self.standing.push_back((timestamp, ratio));
            score
        }
    }
}

impl Detector for CombinedDetector {
    fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        match self.calibrated(timestamp, value) {
            Some(ratio) => self.suppress_repeats(timestamp, ratio),
            None => 0.0,
        }
    }
}
