//! Speed of content analytics on a store, in process: reading the whole snapshot, the full
//! report from it, and one show's dashboard from the snapshot in memory (as a server that
//! keeps the snapshot would serve it), for the most watched show and a median one.
//!
//! `cargo run --release -p showrunner-analytics --example report_speed -- DB FROM TO [RUNS]`
//! (FROM and TO as RFC 3339); prints one JSON line of medians. `cargo xtask bench analytics`
//! runs it.

use std::path::Path;
use std::time::Instant;

use showrunner_analytics::{ReportOptions, content_report, title_dashboard};
use showrunner_model::Timestamp;
use showrunner_store::{FactsFilter, SqliteStore, Store};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: report_speed DB FROM TO [RUNS]".into());
    }
    let store = SqliteStore::open_read_only(Path::new(&args[0]))?;
    let filter = FactsFilter {
        from: Timestamp::parse(&args[1])?,
        to: Timestamp::parse(&args[2])?,
        country: None,
        title_id: None,
    };
    let runs: usize = args.get(3).map_or(Ok(5), |runs| runs.parse())?;
    let mut read = Vec::new();
    let mut report_times = Vec::new();
    let mut facts = None;
    for _ in 0..runs.max(1) {
        let clock = Instant::now();
        let snapshot = store.viewing_facts(&filter)?;
        read.push(clock.elapsed().as_secs_f64());
        let clock = Instant::now();
        let report = content_report(&snapshot, &ReportOptions::default());
        report_times.push(clock.elapsed().as_secs_f64());
        std::hint::black_box(&report);
        facts = Some(snapshot);
    }
    let facts = facts.ok_or("no run")?;
    // Shows by hours, from the report's own table (top) and the middle of all shows.
    let report = content_report(
        &facts,
        &ReportOptions {
            top_titles: usize::MAX,
            ..ReportOptions::default()
        },
    );
    let top = report.titles.first().ok_or("no viewing")?.title_id.clone();
    let middle = report.titles[report.titles.len() / 2].title_id.clone();
    let dashboard = |title: &str| -> f64 {
        let times: Vec<f64> = (0..runs.max(1) * 4)
            .map(|_| {
                let clock = Instant::now();
                std::hint::black_box(title_dashboard(&facts, title));
                clock.elapsed().as_secs_f64()
            })
            .collect();
        median(times)
    };
    let top_ms = 1000.0 * dashboard(&top);
    let middle_ms = 1000.0 * dashboard(&middle);
    // The same dashboard read from the store for that show alone (its indexes), in process.
    let mut from_store = Vec::new();
    for _ in 0..runs.max(1) * 2 {
        let clock = Instant::now();
        let slice = store.viewing_facts(&FactsFilter {
            title_id: Some(top.clone()),
            ..filter.clone()
        })?;
        std::hint::black_box(title_dashboard(&slice, &top));
        from_store.push(clock.elapsed().as_secs_f64());
    }
    let top_store_ms = 1000.0 * median(from_store);
    println!(
        "{{\"views\":{},\"facts_s\":{:.3},\"report_s\":{:.3},\"top_title\":\"{top}\",\
         \"top_dashboard_ms\":{top_ms:.2},\"top_store_ms\":{top_store_ms:.2},\"median_title\":\"{middle}\",\
         \"median_dashboard_ms\":{middle_ms:.2}}}",
        facts.views.len(),
        median(read),
        median(report_times)
    );
    Ok(())
}
