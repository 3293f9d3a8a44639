//! Change / level-shift detection: the median of the last few points against the median of
//! a longer reference window before them, in robust spreads of that reference. A lasting
//! shift keeps the recent median away from the reference until the reference catches up;
//! a lone spike moves neither median.

use crate::detector::period::PeriodEstimator;
use crate::detector::window::RollingWindow;
use crate::detector::{Detector, Surprise, points_per_day, surprise_to_score};

/// Learned sizes, in points, from the sampling period.
#[derive(Debug, Clone)]
struct Windows {
    recent: RollingWindow,
    reference: RollingWindow,
    /// Points that have left `recent` wait here before joining `reference`.
    recent_size: usize,
}

/// The level-shift detector.
#[derive(Debug, Clone)]
pub struct LevelShiftDetector {
    period: PeriodEstimator,
    windows: Option<Windows>,
    lowest: f64,
    highest: f64,
}

impl Default for LevelShiftDetector {
    fn default() -> Self {
        LevelShiftDetector {
            period: PeriodEstimator::default(),
            windows: None,
            lowest: f64::INFINITY,
            highest: f64::NEG_INFINITY,
        }
    }
}

impl LevelShiftDetector {
    /// The median of the recent window (about an hour of points, this one included), once
    /// the sampling period is known.
    pub fn recent_level(&self) -> Option<f64> {
        self.windows.as_ref()?.recent.median()
    }

    fn windows(&mut self, period: i64) -> &mut Windows {
        self.windows.get_or_insert_with(|| {
            let per_day = points_per_day(period);
            // About an hour of points (3 to 12) against about a day (100 to 1000).
            let recent_size = (3_600 / period.max(1)).clamp(3, 12) as usize;
            Windows {
                recent: RollingWindow::new(recent_size),
                reference: RollingWindow::new(per_day.clamp(100, 1_000)),
                recent_size,
            }
        })
    }
}

impl Surprise for LevelShiftDetector {
    fn surprise(&mut self, timestamp: i64, value: f64) -> Option<f64> {
        if value.is_finite() {
            self.lowest = self.lowest.min(value);
            self.highest = self.highest.max(value);
        }
        let period = self.period.observe(timestamp)?;
        let range = self.highest - self.lowest;
        let windows = self.windows(period);
        // The point leaving the recent window joins the reference.
        if windows.recent.is_full()
            && let Some(oldest) = windows.recent.recent(windows.recent_size).next()
        {
            windows.reference.push(oldest);
        }
        windows.recent.push(value);
        if !windows.reference.is_full() && windows.reference.len() < 100 {
            return None;
        }
        let reference = windows.reference.median()?;
        // As for residuals: moves below a thousandth of the range the series has ever
        // covered are resolution, not shifts (a long flat stretch has no spread at all).
        let floor = (1e-3 * range).max(1e-9 * (1.0 + reference.abs()));
        let spread = windows.reference.spread()?.max(floor);
        Some((windows.recent.median()? - reference).abs() / spread)
    }
}

impl Detector for LevelShiftDetector {
    fn update(&mut self, timestamp: i64, value: f64) -> f64 {
        surprise_to_score(self.surprise(timestamp, value))
    }
}
