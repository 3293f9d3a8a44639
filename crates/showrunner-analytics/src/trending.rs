//! Trending and rising (docs/analytics.md, "Trending"): hours of each show in the last 7
//! days of the range against its own baseline (the weekly rate of up to 21 days before),
//! relative to the whole catalog's change over the same days, overall and per country.

use serde::Serialize;
use showrunner_model::facts::NO_CODE;

use crate::prepare::{Prepared, ratio};

pub const RECENT_DAYS: usize = 7;
pub const BASELINE_DAYS: usize = 21;
/// A show is rising when its growth is at least this multiple of the catalog's.
pub const RISING_LIFT: f64 = 1.5;
/// ... and it had at least this many views in the recent days.
pub const MIN_RECENT_VIEWS: u64 = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendingTitle {
    pub title_id: String,
    pub name: String,
    pub recent_hours: f64,
    pub recent_views: u64,
    /// Hours per 7 days in the baseline days.
    pub baseline_weekly_hours: f64,
    /// `recent / baseline`; absent when the show had no baseline viewing (new to viewers).
    pub growth: Option<f64>,
    /// `growth / catalog growth`.
    pub lift: Option<f64>,
    /// The size of the jump: recent hours beyond what the baseline grown at the catalog's
    /// rate predicts.
    pub excess_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountryTrending {
    pub country: String,
    pub catalog_growth: Option<f64>,
    pub rising: Vec<TrendingTitle>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Trending {
    pub recent_days: usize,
    pub baseline_days: usize,
    /// Catalog hours in the recent days over its weekly baseline rate.
    pub catalog_growth: Option<f64>,
    pub rising: Vec<TrendingTitle>,
    pub by_country: Vec<CountryTrending>,
    /// Why the section is empty, when it is.
    pub note: Option<String>,
}

/// `limit` rising shows overall and `per_country` in each country.
pub fn trending(prepared: &Prepared<'_>, limit: usize, per_country: usize) -> Trending {
    let days = prepared.days;
    if days < RECENT_DAYS + 7 {
        return Trending {
            note: Some(format!(
                "needs at least {} days in the range (has {days})",
                RECENT_DAYS + 7
            )),
            ..Trending::default()
        };
    }
    let facts = prepared.facts;
    let recent_from = days - RECENT_DAYS;
    let baseline_days = (days - RECENT_DAYS).min(BASELINE_DAYS);
    let baseline_from = recent_from - baseline_days;
    let countries = facts.countries.len() + 1; // the last column: unknown country
    let titles = facts.titles.len();
    // [show][country] -> (recent hours, recent views, baseline hours)
    let mut overall = vec![(0.0f64, 0u64, 0.0f64); titles];
    let mut by_country = vec![(0.0f64, 0u64, 0.0f64); titles * countries];
    for view in 0..prepared.view_count() {
        let day = prepared.day[view] as usize;
        if day < baseline_from {
            continue;
        }
        let show = prepared.show[view] as usize;
        let code = facts.views.country[view];
        let country = if code == NO_CODE {
            countries - 1
        } else {
            usize::from(code)
        };
        let hours = prepared.hours(view);
        for cell in [
            &mut overall[show],
            &mut by_country[show * countries + country],
        ] {
            if day >= recent_from {
                cell.0 += hours;
                cell.1 += 1;
            } else {
                cell.2 += hours;
            }
        }
    }
    let weekly = |baseline: f64| baseline / baseline_days as f64 * 7.0;
    let rank = |cells: &dyn Fn(usize) -> (f64, u64, f64), limit: usize| {
        let (recent_total, baseline_total) = (0..titles)
            .map(cells)
            .fold((0.0, 0.0), |acc, c| (acc.0 + c.0, acc.1 + c.2));
        let catalog_growth = ratio(recent_total, weekly(baseline_total));
        let mut rising: Vec<TrendingTitle> = (0..titles)
            .filter_map(|show| {
                let (recent, views, baseline) = cells(show);
                if views < MIN_RECENT_VIEWS {
                    return None;
                }
                let baseline_weekly = weekly(baseline);
                let growth = ratio(recent, baseline_weekly);
                let lift = growth.zip(catalog_growth).map(|(g, c)| g / c);
                let excess = recent - baseline_weekly * catalog_growth.unwrap_or(1.0);
                let is_rising = match lift {
                    Some(lift) => lift >= RISING_LIFT,
                    None => true,
                };
                (is_rising && excess > 0.0).then(|| TrendingTitle {
                    title_id: facts.titles.id[show].clone(),
                    name: facts.titles.name[show].clone(),
                    recent_hours: recent,
                    recent_views: views,
                    baseline_weekly_hours: baseline_weekly,
                    growth,
                    lift,
                    excess_hours: excess,
                })
            })
            .collect();
        rising.sort_by(|a, b| {
            b.excess_hours
                .total_cmp(&a.excess_hours)
                .then(a.title_id.cmp(&b.title_id))
        });
        rising.truncate(limit);
        (catalog_growth, rising)
    };
    let (catalog_growth, rising) = rank(&|show| overall[show], limit);
    let mut per: Vec<CountryTrending> = (0..countries)
        .map(|country| {
            let (growth, rising) =
                rank(&|show| by_country[show * countries + country], per_country);
            CountryTrending {
                country: facts
                    .countries
                    .get(country)
                    .cloned()
                    .unwrap_or_else(|| "unknown".into()),
                catalog_growth: growth,
                rising,
            }
        })
        .filter(|country| !country.rising.is_empty())
        .collect();
    per.sort_by(|a, b| a.country.cmp(&b.country));
    Trending {
        recent_days: RECENT_DAYS,
        baseline_days,
        catalog_growth,
        rising,
        by_country: per,
        note: None,
    }
}
