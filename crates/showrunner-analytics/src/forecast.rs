//! Forecast (docs/analytics.md, "Forecast"): expected hours of each show over the next 7
//! and 28 days, from a damped-trend exponential smoothing of its daily hours with the
//! catalog's day-of-week factors, and a backtest on the range's own past against the naive
//! "same as last week" forecast.

use serde::Serialize;

use crate::prepare::{Prepared, ratio};

/// The smoothing model: level smoothing, trend smoothing, and the trend's damping per day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastModel {
    pub alpha: f64,
    pub beta: f64,
    pub phi: f64,
}

/// Chosen by the backtest on the synthetic platform at 1M and 10M events (the
/// `forecast_tune` example): 7-day MAPE 0.91 of the naive forecast's at both sizes; a
/// faster level (alpha 0.25) follows daily noise and loses to naive.
impl Default for ForecastModel {
    fn default() -> Self {
        ForecastModel {
            alpha: 0.1,
            beta: 0.05,
            phi: 0.8,
        }
    }
}
/// Backtest errors are measured on shows with at least this many hours in the week
/// forecast (a percentage error of a near-zero actual says nothing).
pub const MIN_ACTUAL_HOURS: f64 = 1.0;
/// The model needs this many days of history before a forecast origin.
pub const MIN_HISTORY_DAYS: usize = 14;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TitleForecast {
    pub title_id: String,
    pub name: String,
    pub last_7_days_hours: f64,
    pub next_7_days_hours: f64,
    pub next_28_days_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Backtest {
    /// Forecast origins tried (days from the start of the range).
    pub origins: Vec<usize>,
    /// (show, origin) pairs scored.
    pub forecasts: u64,
    /// Mean absolute percentage error of 7-day totals.
    pub mape: Option<f64>,
    pub naive_mape: Option<f64>,
    /// `mape / naive_mape`: below 1 beats the naive forecast.
    pub ratio_to_naive: Option<f64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Forecast {
    /// Day-of-week factors, Monday first, from the catalog's daily hours.
    pub weekday_factors: Vec<f64>,
    pub backtest: Backtest,
    pub titles: Vec<TitleForecast>,
}

/// Per show, hours per day of the range.
pub fn daily_hours(prepared: &Prepared<'_>) -> Vec<Vec<f64>> {
    let titles = prepared.facts.titles.len();
    let mut series = vec![Vec::new(); titles];
    for view in 0..prepared.view_count() {
        let show = prepared.show[view] as usize;
        if series[show].is_empty() {
            series[show] = vec![0.0; prepared.days];
        }
        series[show][prepared.day[view] as usize] += prepared.hours(view);
    }
    series
}

/// Day of the week (0 = Monday) of day `day` of the range.
fn weekday(prepared: &Prepared<'_>, day: usize) -> usize {
    // 1970-01-01 was a Thursday.
    let epoch_day = prepared
        .facts
        .from_ms
        .div_euclid(showrunner_model::time::DAY_MS)
        + day as i64;
    (epoch_day + 3).rem_euclid(7) as usize
}

/// Weekday factors from the catalog's daily totals over `days` (1 each without two weeks).
fn weekday_factors(prepared: &Prepared<'_>, totals: &[f64], days: usize) -> [f64; 7] {
    let mut factors = [1.0; 7];
    if days < 14 {
        return factors;
    }
    let mean = totals[..days].iter().sum::<f64>() / days as f64;
    if mean <= 0.0 {
        return factors;
    }
    let mut sums = [0.0; 7];
    let mut counts = [0.0; 7];
    for (day, total) in totals[..days].iter().enumerate() {
        sums[weekday(prepared, day)] += total;
        counts[weekday(prepared, day)] += 1.0;
    }
    for weekday in 0..7 {
        if counts[weekday] > 0.0 {
            factors[weekday] = sums[weekday] / counts[weekday] / mean;
        }
    }
    factors
}

/// Forecast totals for the next `horizons` days after `history` (daily hours, the last
/// element is the day before the origin).
fn forecast_totals(
    model: &ForecastModel,
    prepared: &Prepared<'_>,
    history: &[f64],
    factors: &[f64; 7],
    horizons: &[usize],
) -> Vec<f64> {
    let factor = |day: usize| factors[weekday(prepared, day)].max(1e-6);
    let warmup = history.len().min(7);
    let mut level = (0..warmup).map(|d| history[d] / factor(d)).sum::<f64>() / warmup.max(1) as f64;
    let mut trend = 0.0;
    for (day, value) in history.iter().enumerate().skip(warmup) {
        let observed = value / factor(day);
        let previous_level = level;
        level = model.alpha * observed + (1.0 - model.alpha) * (previous_level + model.phi * trend);
        trend = model.beta * (level - previous_level) + (1.0 - model.beta) * model.phi * trend;
    }
    let origin = history.len();
    let longest = horizons.iter().copied().max().unwrap_or(0);
    let mut totals = Vec::with_capacity(horizons.len());
    let mut running = 0.0;
    let mut damped = 0.0;
    let mut power = 1.0;
    let mut by_horizon = Vec::with_capacity(longest);
    for step in 1..=longest {
        power *= model.phi;
        damped += power;
        running += ((level + damped * trend) * factor(origin + step - 1)).max(0.0);
        by_horizon.push(running);
    }
    for horizon in horizons {
        totals.push(if *horizon == 0 {
            0.0
        } else {
            by_horizon[horizon - 1]
        });
    }
    totals
}

/// Forecasts for `shows` and a backtest over every show with viewing.
pub fn forecast(prepared: &Prepared<'_>, shows: &[u32]) -> Forecast {
    forecast_with(&ForecastModel::default(), prepared, shows)
}

/// [`forecast`] with another model (for tuning against the backtest).
pub fn forecast_with(model: &ForecastModel, prepared: &Prepared<'_>, shows: &[u32]) -> Forecast {
    let days = prepared.days;
    let series = daily_hours(prepared);
    let mut totals = vec![0.0; days];
    for show in &series {
        for (day, hours) in show.iter().enumerate() {
            totals[day] += hours;
        }
    }

    // Backtest: origins 7, 14 and 21 days before the end, each with 14 days of history.
    let origins: Vec<usize> = [7usize, 14, 21]
        .iter()
        .filter(|back| days >= **back + MIN_HISTORY_DAYS)
        .map(|back| days - back)
        .collect();
    let mut model_errors = Vec::new();
    let mut naive_errors = Vec::new();
    for &origin in &origins {
        let factors = weekday_factors(prepared, &totals, origin);
        for show in series.iter().filter(|s| !s.is_empty()) {
            let actual: f64 = show[origin..origin + 7].iter().sum();
            if actual < MIN_ACTUAL_HOURS {
                continue;
            }
            let history = &show[..origin];
            let predicted = forecast_totals(model, prepared, history, &factors, &[7])[0];
            let naive: f64 = show[origin - 7..origin].iter().sum();
            model_errors.push((predicted - actual).abs() / actual);
            naive_errors.push((naive - actual).abs() / actual);
        }
    }
    let mean = |errors: &[f64]| ratio(errors.iter().sum(), errors.len() as f64);
    let mape = mean(&model_errors);
    let naive_mape = mean(&naive_errors);
    let backtest = Backtest {
        note: origins.is_empty().then(|| {
            format!(
                "needs at least {} days in the range (has {days})",
                MIN_HISTORY_DAYS + 7
            )
        }),
        origins,
        forecasts: model_errors.len() as u64,
        mape,
        naive_mape,
        ratio_to_naive: mape.zip(naive_mape).and_then(|(m, n)| ratio(m, n)),
    };

    let factors = weekday_factors(prepared, &totals, days);
    let titles = shows
        .iter()
        .filter_map(|show| {
            let history = series.get(*show as usize)?;
            if history.is_empty() {
                return None;
            }
            let next = forecast_totals(model, prepared, history, &factors, &[7, 28]);
            let facts = prepared.facts;
            Some(TitleForecast {
                title_id: facts.titles.id[*show as usize].clone(),
                name: facts.titles.name[*show as usize].clone(),
                last_7_days_hours: history[history.len().saturating_sub(7)..].iter().sum(),
                next_7_days_hours: next[0],
                next_28_days_hours: next[1],
            })
        })
        .collect();
    // Monday first: the weekday index is already Monday = 0.
    Forecast {
        weekday_factors: factors.to_vec(),
        backtest,
        titles,
    }
}
