//! Every metric on small fixtures whose figures are computed by hand (see the comments and
//! docs/analytics.md).

use showrunner_analytics::{
    Prepared, ReportOptions, cohorts, content_report, daily_hours, demand_supply,
    effective_catalog_size, forecast, launch_curves, title_dashboard, title_performances, trending,
};
use showrunner_model::event::Thumbs;
use showrunner_model::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use showrunner_model::{
    FactsBuilder, RatingValue, Timestamp, Title, TitleKind, ViewRow, ViewingFacts,
};

/// 2026-09-01T00:00:00Z, a Tuesday.
const START: i64 = 1_788_220_800_000;

fn at(day: i64, hour: i64, minute: i64) -> i64 {
    START + day * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS
}

fn movie(id: &str, genre: &str, duration_s: u32) -> Title {
    let mut title = Title::new(id, TitleKind::Movie, id.to_uppercase());
    title.genres = vec![genre.to_owned()];
    title.duration_s = Some(duration_s);
    title.release_year = Some(2020);
    title.added_at = Some(Timestamp::from_millis(START - 30 * DAY_MS));
    title
}

fn series_with_episodes(builder: &mut FactsBuilder, id: &str, genre: &str, episodes: u32) {
    let mut series = Title::new(id, TitleKind::Series, id.to_uppercase());
    series.genres = vec![genre.to_owned()];
    series.release_year = Some(2024);
    series.added_at = Some(Timestamp::from_millis(START - 30 * DAY_MS));
    builder.add_title(&series);
    for number in 1..=episodes {
        let mut episode = Title::new(format!("{id}e{number}"), TitleKind::Episode, "ep");
        episode.series_id = Some(id.to_owned());
        episode.season_number = Some(1);
        episode.episode_number = Some(number);
        episode.duration_s = Some(1000);
        episode.genres = vec![genre.to_owned()];
        builder.add_title(&episode);
    }
}

fn view(builder: &mut FactsBuilder, title: &str, member: &str, start: i64, watched: u32, max: u32) {
    builder.add_view(ViewRow {
        title_id: title,
        member_id: member,
        country: Some("US"),
        device: Some("tv"),
        start_ms: start,
        last_ms: start + i64::from(watched) * 1000,
        watched_s: watched,
        max_position_s: max,
    });
}

/// The main fixture: 28 days; movie m1 (100 min, Drama), series s1 (3 episodes of 1000 s,
/// Anime), zero-length movie z0 (Drama), and n1 (Comedy, 2 h) released on day 20 at 07:00.
/// Members a, b and c are known; x is not (deleted).
fn fixture() -> ViewingFacts {
    let mut builder = FactsBuilder::new(START, START + 28 * DAY_MS);
    builder.add_title(&movie("m1", "Drama", 6000));
    series_with_episodes(&mut builder, "s1", "Anime", 3);
    builder.add_title(&movie("z0", "Drama", 0));
    let mut launch = movie("n1", "Comedy", 7200);
    launch.added_at = Some(Timestamp::from_millis(at(20, 7, 0)));
    builder.add_title(&launch);
    builder.add_member("a", Some(at(-17, 0, 0)), Some("basic"), Some("US"));
    builder.add_member("b", Some(at(-61, 0, 0)), Some("premium"), Some("GB"));
    builder.add_member("c", Some(at(-90, 0, 0)), Some("basic"), Some("US"));

    // m1: a completes it, b watches half, x a tenth, then a re-watches a fifth.
    view(&mut builder, "m1", "a", at(0, 10, 0), 6000, 6000);
    view(&mut builder, "m1", "b", at(0, 20, 0), 3000, 3000);
    view(&mut builder, "m1", "x", at(1, 12, 0), 600, 600);
    view(&mut builder, "m1", "a", at(2, 12, 0), 1200, 1200);
    // s1: a binges e1, e2 and half of e3 in one sitting, finishes e3 a week later; b
    // watches a fifth of e1 and moves on to e2 the next day.
    view(&mut builder, "s1e1", "a", at(3, 20, 0), 1000, 1000);
    view(&mut builder, "s1e2", "a", at(3, 20, 17), 1000, 1000);
    view(&mut builder, "s1e3", "a", at(3, 20, 35), 500, 500);
    view(&mut builder, "s1e3", "a", at(10, 20, 0), 1000, 1000);
    view(&mut builder, "s1e1", "b", at(3, 21, 0), 200, 200);
    view(&mut builder, "s1e2", "b", at(4, 21, 0), 100, 100);
    // z0 has no runtime.
    view(&mut builder, "z0", "a", at(5, 9, 0), 300, 300);
    // n1 launches on day 20 at 07:00.
    view(&mut builder, "n1", "a", at(20, 8, 0), 3600, 3600);
    view(&mut builder, "n1", "b", at(20, 9, 0), 1800, 1800);
    view(&mut builder, "n1", "b", at(21, 9, 0), 1800, 3600);
    view(&mut builder, "n1", "x", at(22, 9, 0), 600, 600);

    builder.add_rating("m1", "a", at(0, 12, 0), RatingValue::Stars(4.0));
    builder.add_rating("m1", "b", at(0, 22, 0), RatingValue::Thumbs(Thumbs::Up));
    builder.add_rating("m1", "x", at(1, 14, 0), RatingValue::Stars(2.0));
    for (member, day) in [("a", 0), ("a", 0), ("b", 0), ("c", 1)] {
        builder.add_impression("m1", member, at(day, 9, 0));
    }
    builder.finish()
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-6
}

#[track_caller]
fn check(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!(close(actual, expected), "{actual} != {expected}");
}

#[test]
fn movie_performance() {
    let facts = fixture();
    let prepared = Prepared::new(&facts);
    let m1 = facts.title_index("m1").unwrap() as u32;
    let performance = title_performances(&prepared, Some(&[m1])).remove(0);
    assert_eq!(performance.starts, 4);
    // a, b and the deleted member x.
    assert_eq!(performance.unique_viewers, 3);
    check(Some(performance.hours), 10_800.0 / 3600.0);
    // Only a's first view reached 90%.
    check(performance.completion_rate, 0.25);
    // Shares 0.1, 0.2, 0.5, 1.0: the median is (0.2 + 0.5) / 2.
    check(performance.median_share_watched, 0.35);
    let viewers: Vec<f64> = performance.retention.iter().map(|p| p.viewers).collect();
    assert_eq!(viewers.len(), 21);
    check(Some(viewers[0]), 1.0);
    check(Some(viewers[2]), 1.0); // 10%: the tenth-watcher is still there
    check(Some(viewers[3]), 0.75);
    check(Some(viewers[10]), 0.5);
    check(Some(viewers[11]), 0.25);
    check(Some(viewers[20]), 0.25);
    // Three segments each lose a quarter; the latest is reported.
    let drop = performance.steepest_drop.expect("a drop");
    check(Some(drop.from_position), 0.5);
    check(Some(drop.lost), 0.25);
    // a watched m1 again after completing it.
    assert_eq!(performance.rewatches, 1);
    check(performance.rewatch_share, 0.25);
    assert_eq!(performance.episodes_per_sitting, None);
    assert_eq!((performance.ratings, performance.thumbs_up), (3, 1));
    check(performance.mean_stars, 3.0);
    // Four impressions of three members (a, b, c); a and b watched.
    assert_eq!(
        (performance.impressions, performance.impressed_members),
        (4, 3)
    );
    check(performance.take_rate, 2.0 / 3.0);
}

#[test]
fn series_performance_counts_episodes_sittings_and_the_next_episode_as_complete() {
    let facts = fixture();
    let prepared = Prepared::new(&facts);
    let s1 = facts.title_index("s1").unwrap() as u32;
    let performance = title_performances(&prepared, Some(&[s1])).remove(0);
    assert_eq!(performance.kind, "series");
    assert_eq!((performance.starts, performance.unique_viewers), (6, 2));
    check(Some(performance.hours), 3800.0 / 3600.0);
    // Complete: a's e1, e2 and second e3 (share 1), and b's e1 (b went on to e2).
    check(performance.completion_rate, 4.0 / 6.0);
    // Sittings: a on day 3 (3 episodes), a on day 10, b on day 3, b on day 4.
    assert_eq!(performance.sittings, 4);
    check(performance.episodes_per_sitting, 1.5);
    // a's second e3 is not a re-watch: the first one was abandoned at half.
    assert_eq!(performance.rewatches, 0);
}

#[test]
fn zero_length_titles_count_hours_but_no_completion() {
    let facts = fixture();
    let prepared = Prepared::new(&facts);
    let z0 = facts.title_index("z0").unwrap() as u32;
    let performance = title_performances(&prepared, Some(&[z0])).remove(0);
    assert_eq!(performance.starts, 1);
    check(Some(performance.hours), 300.0 / 3600.0);
    assert_eq!(performance.completion_rate, None);
    assert_eq!(performance.median_share_watched, None);
    assert!(performance.retention.is_empty());
}

#[test]
fn launch_curve_counts_distinct_viewers_per_day_since_release() {
    let facts = fixture();
    let curves = launch_curves(&Prepared::new(&facts));
    assert_eq!(curves.len(), 1);
    let curve = &curves[0];
    assert_eq!(curve.title_id, "n1");
    // Released day 20 07:00; the range ends day 28 00:00: days 0..=7 are observed. Day 0:
    // a and b; day 1: b again; day 2: x.
    assert_eq!(curve.viewers_by_day, vec![2, 1, 1, 0, 0, 0, 0, 0]);
    assert_eq!(curve.day1_viewers, Some(2));
    assert_eq!(curve.day7_viewers, Some(3));
    assert_eq!(curve.day28_viewers, None);
    assert_eq!(curve.peak_day, 0);
    // Days 0-2: 4 viewers in 3 days; days 3-7: none.
    assert_eq!(curve.front_load, None);
    assert!(curve.peers_by_day.is_empty());
    assert_eq!(curve.day7_vs_peers, None);
}

#[test]
fn demand_and_supply_share_multi_genre_credit_and_rank_gaps() {
    let facts = fixture();
    let demand = demand_supply(&Prepared::new(&facts), 10);
    let drama = demand.genres.iter().find(|g| g.genre == "Drama").unwrap();
    // m1 and z0: 10,800 + 300 of 22,700 seconds; 2 of 4 available shows.
    check(Some(drama.hours_share), 11_100.0 / 22_700.0);
    check(Some(drama.titles_share), 0.5);
    check(drama.demand_index, (11_100.0 / 22_700.0) / 0.5);
    check(drama.hours_per_title, 11_100.0 / 3600.0 / 2.0);
    assert_eq!(drama.unique_viewers, 3);
    // Catalog hours: m1 6000 s + z0 0 s of 6000 + 3000 + 0 + 7200.
    check(Some(drama.catalog_hours_share), 6000.0 / 16_200.0);
    // No genre has the 3 titles a gap needs.
    assert!(demand.gaps.is_empty());
    assert_eq!((demand.titles_available, demand.titles_watched), (4, 4));
    let us_drama = demand
        .by_country
        .iter()
        .find(|cell| cell.genre == "Drama" && cell.key == "US")
        .unwrap();
    check(Some(us_drama.hours), 11_100.0 / 3600.0);
    assert!(demand.by_decade.iter().any(|cell| cell.key == "2020s"));
}

#[test]
fn gaps_rank_genres_watched_beyond_their_supply() {
    // Three Anime and six Drama movies; Anime gets as many hours as Drama.
    let mut builder = FactsBuilder::new(START, START + 7 * DAY_MS);
    for index in 0..3 {
        builder.add_title(&movie(&format!("a{index}"), "Anime", 3600));
        view(
            &mut builder,
            &format!("a{index}"),
            "m",
            at(1, index, 0),
            3600,
            3600,
        );
    }
    for index in 0..6 {
        builder.add_title(&movie(&format!("d{index}"), "Drama", 3600));
        view(
            &mut builder,
            &format!("d{index}"),
            "m",
            at(2, index, 0),
            1800,
            1800,
        );
    }
    let facts = builder.finish();
    let demand = demand_supply(&Prepared::new(&facts), 10);
    assert_eq!(demand.gaps.len(), 1);
    let gap = &demand.gaps[0];
    assert_eq!((gap.rank, gap.genre.as_str()), (1, "Anime"));
    // Half the hours on a third of the titles.
    check(Some(gap.demand_index), 1.5);
    check(Some(gap.hours_per_title), 1.0);
    check(Some(gap.catalog_hours_per_title), 6.0 / 9.0);
    assert!(
        gap.evidence
            .contains("50.0% of hours viewed but 33.3% of available titles")
    );
}

#[test]
fn effective_catalog_size_counts_the_titles_carrying_viewing() {
    assert!(close(effective_catalog_size(&[1.0, 1.0]), 2.0));
    assert!(close(effective_catalog_size(&[5.0, 0.0, 0.0]), 1.0));
    // Shares 0.75 and 0.25: 2 * (0.75 * 1 + 0.25 * 2) - 1.
    assert!(close(effective_catalog_size(&[1.0, 3.0]), 1.5));
    assert!(close(effective_catalog_size(&[]), 0.0));
}

#[test]
fn trending_compares_with_the_baseline_and_the_catalog() {
    let mut builder = FactsBuilder::new(START, START + 28 * DAY_MS);
    builder.add_title(&movie("steady", "Drama", 3600));
    builder.add_title(&movie("riser", "Drama", 3600));
    for day in 0..28 {
        view(
            &mut builder,
            "steady",
            &format!("s{day}"),
            at(day, 20, 0),
            3600,
            3600,
        );
    }
    for day in [0, 7, 14, 21, 22, 23, 24, 25, 26, 27] {
        view(
            &mut builder,
            "riser",
            &format!("r{day}"),
            at(day, 21, 0),
            3600,
            3600,
        );
    }
    let facts = builder.finish();
    let trending = trending(&Prepared::new(&facts), 10, 5);
    // Baseline days 0-20: 24 h, 8 h a week; recent days 21-27: 14 h.
    check(trending.catalog_growth, 14.0 / 8.0);
    assert_eq!(trending.rising.len(), 1);
    let riser = &trending.rising[0];
    assert_eq!(riser.title_id, "riser");
    check(riser.growth, 7.0);
    check(riser.lift, 7.0 / 1.75);
    check(Some(riser.excess_hours), 7.0 - 1.75);
    assert_eq!(trending.by_country.len(), 1);
    assert_eq!(trending.by_country[0].country, "US");
    assert_eq!(trending.by_country[0].rising[0].title_id, "riser");

    let short = FactsBuilder::new(START, START + 10 * DAY_MS).finish();
    assert!(trending_note(&short).is_some());
}

fn trending_note(facts: &ViewingFacts) -> Option<String> {
    trending(&Prepared::new(facts), 10, 5).note
}

#[test]
fn cohorts_by_signup_month_and_first_title() {
    let facts = fixture();
    let cohorts = cohorts(&Prepared::new(&facts));
    assert_eq!(cohorts.weeks, 4);
    let august = cohorts
        .by_signup_month
        .iter()
        .find(|c| c.month == "2026-08")
        .unwrap();
    // a watched on days 0, 2, 3, 5, 10 and 20: weeks 0, 1 and 2.
    assert_eq!((august.members, august.active), (1, 1));
    assert_eq!(august.weekly_active, vec![1.0, 1.0, 1.0, 0.0]);
    // c (June) never watched; x (deleted) has no signup month.
    let june = cohorts
        .by_signup_month
        .iter()
        .find(|c| c.month == "2026-06")
        .unwrap();
    assert_eq!((june.members, june.active), (1, 0));
    let unknown = cohorts
        .by_signup_month
        .iter()
        .find(|c| c.month == "unknown")
        .unwrap();
    assert_eq!((unknown.members, unknown.active), (1, 1));

    // Ten members start with m1 on day 0; the even ones come back on day 8.
    let mut builder = FactsBuilder::new(START, START + 28 * DAY_MS);
    builder.add_title(&movie("m1", "Drama", 3600));
    for member in 0..10 {
        let id = format!("p{member}");
        view(&mut builder, "m1", &id, at(0, 20, 0), 3600, 3600);
        if member % 2 == 0 {
            view(&mut builder, "m1", &id, at(8, 20, 0), 600, 600);
        }
    }
    let facts = builder.finish();
    let first = cohorts_by_first(&facts);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].members, first[0].retained), (10, 5));
    check(Some(first[0].retention), 0.5);
}

fn cohorts_by_first(facts: &ViewingFacts) -> Vec<showrunner_analytics::FirstTitleCohort> {
    cohorts(&Prepared::new(facts)).by_first_title
}

#[test]
fn views_count_on_the_day_they_start_even_across_midnight() {
    let mut builder = FactsBuilder::new(START, START + 3 * DAY_MS);
    builder.add_title(&movie("m1", "Drama", 7200));
    view(&mut builder, "m1", "a", at(1, 23, 30), 3600, 3600);
    let facts = builder.finish();
    let series = daily_hours(&Prepared::new(&facts));
    assert_eq!(series[0], vec![0.0, 1.0, 0.0]);
}

#[test]
fn forecast_of_steady_viewing_is_steady_and_the_backtest_scores_it() {
    let mut builder = FactsBuilder::new(START, START + 35 * DAY_MS);
    builder.add_title(&movie("m1", "Drama", 7200));
    for day in 0..35 {
        view(
            &mut builder,
            "m1",
            &format!("v{day}"),
            at(day, 20, 0),
            7200,
            7200,
        );
    }
    let facts = builder.finish();
    let forecast = forecast(&Prepared::new(&facts), &[0]);
    assert!(forecast.weekday_factors.iter().all(|f| close(*f, 1.0)));
    let title = &forecast.titles[0];
    check(Some(title.last_7_days_hours), 14.0);
    check(Some(title.next_7_days_hours), 14.0);
    check(Some(title.next_28_days_hours), 56.0);
    assert_eq!(forecast.backtest.origins, vec![28, 21, 14]);
    assert_eq!(forecast.backtest.forecasts, 3);
    check(forecast.backtest.mape, 0.0);
    check(forecast.backtest.naive_mape, 0.0);
    assert_eq!(forecast.backtest.ratio_to_naive, None);
}

#[test]
fn forecast_beats_the_naive_forecast_on_noisy_steady_viewing() {
    // Twenty titles watched 1 to 7 hours a day at random (a fixed sequence): last week's
    // total carries its noise into the forecast, the smoothed level much less of it.
    let mut builder = FactsBuilder::new(START, START + 35 * DAY_MS);
    let mut state: u64 = 12_345;
    for title in 0..20 {
        let id = format!("m{title}");
        builder.add_title(&movie(&id, "Drama", 36_000));
        for day in 0..35 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let hours = 1 + (state >> 33) % 7;
            view(
                &mut builder,
                &id,
                "a",
                at(day, 1, 0),
                (hours * 3600) as u32,
                36_000,
            );
        }
    }
    let facts = builder.finish();
    let backtest = forecast(&Prepared::new(&facts), &[]).backtest;
    assert_eq!(backtest.forecasts, 60);
    let ratio = backtest.ratio_to_naive.expect("both errors are positive");
    assert!(ratio < 1.0, "ratio to naive {ratio}");
}

#[test]
fn report_and_dashboard_hold_every_section() {
    let facts = fixture();
    let report = content_report(&facts, &ReportOptions::default());
    assert_eq!(report.days, 28);
    assert_eq!(report.totals.views, 15);
    assert_eq!(report.totals.unique_viewers, 3);
    check(Some(report.totals.hours), 22_700.0 / 3600.0);
    assert_eq!(report.titles[0].title_id, "m1");
    assert_eq!(report.launches.len(), 1);
    let plans: Vec<&str> = report
        .breakdowns
        .by_plan
        .iter()
        .map(|row| row.key.as_str())
        .collect();
    assert_eq!(plans, vec!["basic", "premium", "unknown"]);

    let dashboard = title_dashboard(&facts, "s1e2").expect("s1 is known");
    assert_eq!(dashboard.performance.title_id, "s1");
    assert_eq!(dashboard.daily_hours.len(), 28);
    check(Some(dashboard.daily_hours[3]), 2700.0 / 3600.0);
    assert_eq!(dashboard.breakdowns.by_country[0].key, "US");
    assert!(title_dashboard(&facts, "nope").is_none());
}

#[test]
fn html_is_one_self_contained_page_and_csv_has_a_row_per_figure() {
    let facts = fixture();
    let report = content_report(&facts, &ReportOptions::default());
    let html = showrunner_analytics::report_html(&report);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg") && html.contains("<polyline"));
    assert!(!html.contains("<script") && !html.contains("http"));
    assert!(html.contains("N1: viewers per day since release"));
    let csv = showrunner_analytics::to_csv(&report).unwrap();
    assert!(csv.starts_with("section,path,value\n"));
    assert!(csv.contains("\ntotals,views,15\n"));
    assert!(csv.contains("\ntitles,0.title_id,m1\n"));
    let dashboard = title_dashboard(&facts, "m1").unwrap();
    assert!(showrunner_analytics::dashboard_html(&dashboard).contains("<svg"));
}

#[test]
fn a_show_has_the_same_figures_alone_as_in_the_whole_catalog() {
    // a watches a fifth of s1e1, a minute of m1, then s1e2: one sitting of s1, and s1e1
    // complete (a moved on to the next episode), with or without m1 in the facts.
    let mut builder = FactsBuilder::new(START, START + 7 * DAY_MS);
    builder.add_title(&movie("m1", "Drama", 6000));
    series_with_episodes(&mut builder, "s1", "Anime", 3);
    view(&mut builder, "s1e1", "a", at(1, 20, 0), 200, 200);
    view(&mut builder, "m1", "a", at(1, 20, 4), 60, 60);
    view(&mut builder, "s1e2", "a", at(1, 20, 6), 1000, 1000);
    let facts = builder.finish();
    let whole = {
        let prepared = Prepared::new(&facts);
        let s1 = facts.title_index("s1").unwrap() as u32;
        title_performances(&prepared, Some(&[s1])).remove(0)
    };
    assert_eq!(whole.sittings, 1);
    check(whole.completion_rate, 1.0);
    let alone = title_dashboard(&facts, "s1").unwrap().performance;
    assert_eq!(whole, alone);
    let slice = showrunner_analytics::show_facts(&facts, "s1e1").unwrap();
    assert_eq!(slice.titles.id, vec!["s1", "s1e1", "s1e2", "s1e3"]);
    assert_eq!(slice.views.len(), 2);
}

#[test]
fn an_empty_range_gives_an_empty_report_not_a_failure() {
    let facts = FactsBuilder::new(START, START + DAY_MS).finish();
    let report = content_report(&facts, &ReportOptions::default());
    assert_eq!((report.days, report.totals.views), (1, 0));
    assert!(report.titles.is_empty() && report.launches.is_empty());
    assert_eq!(report.totals.completion_rate, None);
    assert!(report.trending.note.is_some() && report.forecast.backtest.note.is_some());
    assert!(showrunner_analytics::report_html(&report).contains("No title was released"));
}
