//! Content analytics: what members watch, finish and abandon, what is rising, where demand
//! outruns supply, which titles bring members who stay, and what viewing to expect next.
//!
//! Pure computation over a [`ViewingFacts`] snapshot (the store builds it with one scan per
//! table): no SQL, no HTTP, no IO. Every figure is defined in `docs/analytics.md`.
//!
//! The entry points are two functions whose results serialise as they are, so a report
//! command or an HTTP handler is a thin call:
//! - [`content_report`]: the whole report over the facts' range (every section);
//! - [`title_dashboard`]: one show's figures (performance with breakdowns, daily hours,
//!   launch curve, forecast).
//!
//! Each section is also public on its own ([`title_performances`], [`launch_curves`],
//! [`trending()`], [`demand_supply`], [`cohorts()`], [`forecast()`]) over a [`Prepared`].

mod cohorts;
mod forecast;
mod launch;
mod performance;
mod prepare;
mod render;
mod subset;
mod supply;
mod trending;

use serde::Serialize;
use showrunner_model::{Timestamp, ViewingFacts};

pub use cohorts::{Cohorts, FirstTitleCohort, MIN_FIRST_TITLE_MEMBERS, SignupCohort, cohorts};
pub use forecast::{
    Backtest, Forecast, ForecastModel, TitleForecast, daily_hours, forecast, forecast_with,
};
pub use launch::{LAUNCH_DAYS, LaunchCurve, launch_curves};
pub use performance::{
    BreakdownRow, Breakdowns, RETENTION_POINTS, RetentionDrop, RetentionPoint, TitlePerformance,
    breakdowns, title_performances,
};
pub use prepare::{COMPLETE_SHARE, Prepared, SITTING_GAP_MS};
pub use render::{bar_chart, dashboard_html, line_chart, report_html, to_csv};
pub use subset::show_facts;
pub use supply::{
    DemandSupply, Gap, GenreCell, GenreDemand, MIN_TITLES_FOR_GAP, demand_supply,
    effective_catalog_size,
};
pub use trending::{CountryTrending, Trending, TrendingTitle, trending};

/// How much of each list the report keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// Shows in the performance table and the forecast, by hours viewed.
    pub top_titles: usize,
    /// Rising shows overall, and per country.
    pub trending: usize,
    pub trending_per_country: usize,
    /// Ranked gaps.
    pub gaps: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            top_titles: 25,
            trending: 15,
            trending_per_country: 5,
            gaps: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub views: u64,
    pub unique_viewers: u64,
    pub hours: f64,
    pub titles_watched: u64,
    pub completion_rate: Option<f64>,
    pub ratings: u64,
    pub impressions: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentReport {
    pub from: String,
    pub to: String,
    pub days: usize,
    pub country: Option<String>,
    pub totals: Totals,
    pub breakdowns: Breakdowns,
    /// The top shows by hours viewed.
    pub titles: Vec<TitlePerformance>,
    pub launches: Vec<LaunchCurve>,
    pub trending: Trending,
    pub demand: DemandSupply,
    pub cohorts: Cohorts,
    pub forecast: Forecast,
}

/// One show's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TitleDashboard {
    pub from: String,
    pub to: String,
    pub performance: TitlePerformance,
    pub breakdowns: Breakdowns,
    /// Hours viewed on each day of the range.
    pub daily_hours: Vec<f64>,
    /// Present when the show was released in the range.
    pub launch: Option<LaunchCurve>,
    pub forecast: Option<TitleForecast>,
}

fn totals(prepared: &Prepared<'_>) -> Totals {
    let facts = prepared.facts;
    let views = &facts.views;
    let mut unique_viewers = 0;
    let mut previous = u32::MAX;
    for view in &prepared.by_member {
        let member = views.member[*view as usize];
        if member != previous {
            unique_viewers += 1;
            previous = member;
        }
    }
    let mut watched = vec![false; facts.titles.len()];
    for show in &prepared.show {
        watched[*show as usize] = true;
    }
    let timed = prepared.share.iter().filter(|s| !s.is_nan()).count();
    let complete = (0..prepared.view_count())
        .filter(|v| !prepared.share[*v].is_nan() && prepared.complete[*v])
        .count();
    Totals {
        views: views.len() as u64,
        unique_viewers,
        hours: (0..views.len()).map(|v| prepared.hours(v)).sum(),
        titles_watched: watched.iter().filter(|w| **w).count() as u64,
        completion_rate: prepare::ratio(complete as f64, timed as f64),
        ratings: facts.ratings.title.len() as u64,
        impressions: facts.impressions.title.len() as u64,
    }
}

/// The whole content report over the facts' range.
pub fn content_report(facts: &ViewingFacts, options: &ReportOptions) -> ContentReport {
    let prepared = Prepared::new(facts);
    let prepared = &prepared;
    // The sections are independent (the forecast needs only the top titles): each is
    // computed on its own, on the rayon pool, and the figures are those of one after another.
    let (
        (performances, forecast),
        (((totals, breakdowns), (launches, trending)), (demand, cohorts)),
    ) = rayon::join(
        || {
            let mut performances = title_performances(prepared, None);
            performances.sort_by(|a, b| {
                b.hours
                    .total_cmp(&a.hours)
                    .then(a.title_id.cmp(&b.title_id))
            });
            performances.truncate(options.top_titles);
            let top: Vec<u32> = performances
                .iter()
                .filter_map(|p| facts.title_index(&p.title_id).map(|i| i as u32))
                .collect();
            let forecast = forecast(prepared, &top);
            (performances, forecast)
        },
        || {
            rayon::join(
                || {
                    rayon::join(
                        || (totals(prepared), breakdowns(prepared, &|_| true)),
                        || {
                            (
                                launch_curves(prepared),
                                trending(prepared, options.trending, options.trending_per_country),
                            )
                        },
                    )
                },
                || {
                    rayon::join(
                        || demand_supply(prepared, options.gaps),
                        || cohorts(prepared),
                    )
                },
            )
        },
    );
    ContentReport {
        from: Timestamp::from_millis(facts.from_ms).to_rfc3339(),
        to: Timestamp::from_millis(facts.to_ms).to_rfc3339(),
        days: prepared.days,
        country: facts.country_filter.clone(),
        totals,
        breakdowns,
        titles: performances,
        launches,
        trending,
        demand,
        cohorts,
        forecast,
    }
}

/// One show's dashboard (`title_id` may name an episode or season: its series is used);
/// `None` when the facts do not hold the title. It reads only the show's slice of the facts
/// ([`show_facts`]), so the whole catalog's snapshot can stay in memory and serve any show.
/// Over one show's facts, the forecast's weekday factors come from the show's own viewing
/// and a launch has no peers.
pub fn title_dashboard(facts: &ViewingFacts, title_id: &str) -> Option<TitleDashboard> {
    let facts = &show_facts(facts, title_id)?;
    let prepared = Prepared::new(facts);
    // The show is the first row of its slice.
    let show = 0u32;
    let performance = title_performances(&prepared, Some(&[show]))
        .into_iter()
        .next()
        .unwrap_or_else(|| empty_performance(facts, show as usize));
    let daily = daily_hours(&prepared)
        .into_iter()
        .nth(show as usize)
        .filter(|series| !series.is_empty())
        .unwrap_or_else(|| vec![0.0; prepared.days]);
    let launch = launch_curves(&prepared)
        .into_iter()
        .find(|curve| curve.title_id == facts.titles.id[show as usize]);
    let forecast = forecast(&prepared, &[show]).titles.into_iter().next();
    Some(TitleDashboard {
        from: Timestamp::from_millis(facts.from_ms).to_rfc3339(),
        to: Timestamp::from_millis(facts.to_ms).to_rfc3339(),
        performance,
        breakdowns: breakdowns(&prepared, &|view| prepared.show[view] == show),
        daily_hours: daily,
        launch,
        forecast,
    })
}

fn empty_performance(facts: &ViewingFacts, show: usize) -> TitlePerformance {
    TitlePerformance {
        title_id: facts.titles.id[show].clone(),
        name: facts.titles.name[show].clone(),
        kind: facts.titles.kind[show].as_str(),
        starts: 0,
        unique_viewers: 0,
        hours: 0.0,
        completion_rate: None,
        median_share_watched: None,
        retention: Vec::new(),
        steepest_drop: None,
        sittings: 0,
        episodes_per_sitting: None,
        rewatches: 0,
        rewatch_share: None,
        ratings: 0,
        mean_stars: None,
        thumbs_up: 0,
        thumbs_down: 0,
        impressions: 0,
        impressed_members: 0,
        take_rate: None,
    }
}
