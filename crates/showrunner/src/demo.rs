//! `showrunner demo`: the whole product on a fresh machine in one command. It synthesises a
//! platform, imports it into a fresh embedded database with full cleaning, and prints what it
//! did. Later stages (training, analytics, detection, serving) join this same command.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use showrunner_store::{SqliteStore, Store, ViewFilter};
use showrunner_synth::Truth;

use crate::exit::Outcome;
use crate::import::{format_report, import_into, open_store, thousands};
use crate::progress::cancel_flag;
use crate::synth::{SynthParams, describe, synthesise};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    params: SynthParams,
    /// Working folder for the synthetic files and the database (replaced if it holds an
    /// earlier demo).
    #[arg(long, default_value = "showrunner-demo")]
    dir: PathBuf,
    /// Where the API is served at the end (on a terminal; until Ctrl-C).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Do not serve the API at the end (it is never served when stdout is not a terminal).
    #[arg(long)]
    no_serve: bool,
    /// Serve even when stdout is not a terminal (for tests that run the printed commands).
    #[arg(long, hide = true, conflicts_with = "no_serve")]
    serve: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let cancel = cancel_flag();
    let clock = Instant::now();
    let config = args.params.config()?;
    let data_dir = args.dir.join("data");
    let db_path = args.dir.join("showrunner.db");
    // A demo always starts from a fresh database so its figures are reproducible.
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db_path.display()));
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing old {}", path.display()))?;
        }
    }

    println!(
        "== 1/2 synthesising a platform (seed {}) into {}",
        config.seed,
        data_dir.display()
    );
    let synth_clock = Instant::now();
    let output = synthesise(&config, &data_dir, &cancel)?;
    print!("{}", describe(&output));
    println!(
        "  in {:.1} s ({} events/s)",
        synth_clock.elapsed().as_secs_f64(),
        thousands((output.events as f64 / synth_clock.elapsed().as_secs_f64().max(1e-9)) as u64)
    );

    println!(
        "== 2/2 importing with full cleaning into {}",
        db_path.display()
    );
    let mut store = SqliteStore::open(&db_path)?;
    let inputs = showrunner_ingest::plan_inputs(
        &[
            output.catalog_path.clone(),
            output.members_path.clone(),
            output.events_path.clone(),
        ],
        None,
    )?;
    let report = import_into(
        &mut store,
        &inputs,
        &showrunner_ingest::ImportOptions::default(),
        &cancel,
    )?;
    store
        .checkpoint()
        .context("checkpointing the write-ahead log")?;
    print!("{}", format_report(&report));
    if report.summary.interrupted {
        return Ok(Outcome::Interrupted);
    }

    let truth: Truth = serde_json::from_slice(
        &std::fs::read(&output.truth_path)
            .with_context(|| format!("reading {}", output.truth_path.display()))?,
    )
    .with_context(|| format!("parsing {}", output.truth_path.display()))?;
    println!("== what the foundation found, checked against truth.json");
    print!("{}", non_human_findings(&store, &truth)?);
    println!("== content analytics, checked against truth.json");
    let report_path = args.dir.join("content-report.html");
    print!("{}", content_findings(&store, &truth, &report_path)?);
    println!("== recommendations");
    let (recommendations, member) = crate::recs::demo_section(&db_path, &args.dir.join("model"))?;
    print!("{recommendations}");
    println!("== playback monitoring, checked against truth.json");
    print!("{}", monitor_findings(&store, &truth)?);
    println!("== planted for the detectors of later stages");
    print!("{}", planted(&truth));
    println!();
    println!(
        "demo finished in {:.1} s; database: {}; ground truth: {}",
        clock.elapsed().as_secs_f64(),
        db_path.display(),
        output.truth_path.display()
    );
    drop(store);
    use std::io::IsTerminal;
    if args.no_serve || !(args.serve || std::io::stdout().is_terminal()) {
        println!(
            "to serve the API: showrunner serve --db {} (keys: showrunner keys create --db {} --scope read)",
            db_path.display(),
            db_path.display()
        );
        return Ok(Outcome::Success);
    }
    serve_demo(&db_path, &args.listen, member.as_deref())
}

/// Creates a read, an ingest and an admin key, prints curl commands that work as printed, and serves
/// the API on `listen` until Ctrl-C.
fn serve_demo(db: &std::path::Path, listen: &str, member: Option<&str>) -> anyhow::Result<Outcome> {
    let mut store = open_store(db)?;
    let (read_key, read_hash) = showrunner_server::generate_key();
    store.create_api_key(&read_hash, "read")?;
    let (ingest_key, ingest_hash) = showrunner_server::generate_key();
    store.create_api_key(&ingest_hash, "ingest")?;
    let (admin_key, admin_hash) = showrunner_server::generate_key();
    store.create_api_key(&admin_hash, "admin")?;
    drop(store);
    let member = member.unwrap_or("m1");
    let base = format!("http://{listen}");
    println!("== serving the API on {base} (Ctrl-C to stop); try:");
    println!("  curl -s {base}/healthz");
    println!(
        "  curl -s -H 'Authorization: Bearer {read_key}' '{base}/v1/members/{member}/recommendations?n=5'"
    );
    println!("  curl -s -H 'Authorization: Bearer {read_key}' {base}/v1/members/{member}/home");
    println!("  curl -s -H 'Authorization: Bearer {read_key}' {base}/v1/trending");
    println!(
        "  curl -s -H 'Authorization: Bearer {ingest_key}' -H 'Content-Type: application/x-ndjson' \\\n      --data-binary '{{\"type\":\"rating\",\"ts\":\"2026-09-30T12:00:00Z\",\"member_id\":\"{member}\",\"title_id\":\"t1\",\"thumbs\":\"up\"}}' {base}/v1/events"
    );
    println!("  curl -s -H 'Authorization: Bearer {admin_key}' {base}/metrics | head");
    println!("  curl -s {base}/openapi.json | head -c 300");
    let mut config = showrunner_server::Config::load(None, std::env::vars())?;
    config.db = db.to_owned();
    config.listen = listen.to_owned();
    crate::serve::serve_with(config)
}

/// Writes the content report over the synthetic window and checks that it finds the
/// planted release spikes and the over-watched genre.
fn content_findings(
    store: &SqliteStore,
    truth: &Truth,
    report_path: &std::path::Path,
) -> anyhow::Result<String> {
    use std::fmt::Write;
    let filter = showrunner_store::FactsFilter {
        from: truth.config.start,
        to: truth.config.end,
        country: None,
        title_id: None,
    };
    let clock = Instant::now();
    let report = crate::report::content_report(store, &filter)?;
    let seconds = clock.elapsed().as_secs_f64();
    crate::report::write(report_path, &showrunner_analytics::report_html(&report))?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  content report ({seconds:.2} s): {}",
        report_path.display()
    );
    // A launch with a handful of viewers (a tiny demo) is too noisy to show a spike.
    const MIN_EARLY_VIEWERS: u64 = 30;
    let (mut spiked, mut judged) = (0, 0);
    for release in &truth.releases {
        let Some(launch) = report
            .launches
            .iter()
            .find(|launch| launch.title_id == release.title_id)
        else {
            judged += 1;
            continue;
        };
        if launch.viewers_by_day.iter().take(3).sum::<u64>() < MIN_EARLY_VIEWERS {
            continue;
        }
        judged += 1;
        if launch.front_load.is_some_and(|front_load| front_load > 1.0) {
            spiked += 1;
        }
    }
    let _ = writeln!(
        out,
        "  release spikes: {spiked} of {judged} planted releases with at least {MIN_EARLY_VIEWERS} early viewers found as front-loaded launches ({} too small to judge){}",
        truth.releases.len() - judged,
        if spiked == judged {
            ""
        } else {
            " (MISSED some)"
        }
    );
    let top_gap = report.demand.gaps.first();
    let planted = &truth.overwatched_genre.genre;
    let _ = writeln!(
        out,
        "  over-watched genre: the report's top gap is {} (planted: {planted}){}",
        top_gap.map_or("none", |gap| gap.genre.as_str()),
        if top_gap.is_some_and(|gap| &gap.genre == planted) {
            ""
        } else {
            " (MISSED)"
        }
    );
    if let Some(ratio) = report.forecast.backtest.ratio_to_naive {
        let _ = writeln!(
            out,
            "  forecast backtest: MAPE {:.1}% against {:.1}% for naive last week (ratio {ratio:.2})",
            100.0 * report.forecast.backtest.mape.unwrap_or(0.0),
            100.0 * report.forecast.backtest.naive_mape.unwrap_or(0.0)
        );
    }
    Ok(out)
}

/// Which member+device pairs the store flagged as non-human, and whether that is the one
/// the generator planted.
fn non_human_findings(store: &SqliteStore, truth: &Truth) -> anyhow::Result<String> {
    use std::collections::BTreeMap;
    use std::fmt::Write;
    let flagged = store.views(&ViewFilter {
        non_human: Some(true),
        ..ViewFilter::default()
    })?;
    let mut by_device: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for view in &flagged {
        let entry = by_device
            .entry((
                view.member_id.clone(),
                view.device.clone().unwrap_or_default(),
            ))
            .or_default();
        entry.0 += 1;
        entry.1 += u64::from(view.watched_s);
    }
    let mut out = String::new();
    if by_device.is_empty() {
        let _ = writeln!(out, "  non-human viewing: none flagged");
    }
    for ((member, device), (views, watched_s)) in &by_device {
        let planted = truth
            .non_human_viewer
            .as_ref()
            .is_some_and(|viewer| &viewer.member_id == member && &viewer.device == device);
        let _ = writeln!(
            out,
            "  non-human viewing: member {member} on {device}: {views} views, {:.0} h watched ({})",
            *watched_s as f64 / 3600.0,
            if planted {
                "the planted round-the-clock device"
            } else {
                "NOT planted: a false positive"
            }
        );
    }
    if let Some(viewer) = &truth.non_human_viewer
        && !by_device.contains_key(&(viewer.member_id.clone(), viewer.device.clone()))
    {
        let _ = writeln!(
            out,
            "  non-human viewing: MISSED the planted device ({} on {})",
            viewer.member_id, viewer.device
        );
    }
    Ok(out)
}

fn planted(truth: &Truth) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let incident = &truth.cdn_incident;
    let _ = writeln!(
        out,
        "  playback: {} degrades in {} from {} to {} (startup x{:.1})",
        incident.cdn, incident.country, incident.start, incident.end, incident.startup_multiplier
    );
    let stuffing = &truth.credential_stuffing;
    let _ = writeln!(
        out,
        "  logins: credential stuffing {} to {}: {} attempts from {} IPs on {} accounts, {} taken over",
        stuffing.start,
        stuffing.end,
        thousands(stuffing.attempts),
        stuffing.attacker_ip_count,
        thousands(stuffing.targeted_accounts),
        stuffing.successful_accounts.len()
    );
    let brute = &truth.brute_force;
    let _ = writeln!(
        out,
        "  logins: brute force on {} from {}: {} attempts from {}",
        brute.member_id, brute.ip, brute.attempts, brute.start
    );
    if let Some(travel) = truth.impossible_travel.first() {
        let _ = writeln!(
            out,
            "  logins: impossible travel on {} accounts, e.g. {}: {} then {}",
            truth.impossible_travel.len(),
            travel.member_id,
            travel.first.city,
            travel.second.city
        );
    }
    let _ = writeln!(
        out,
        "  logins: {} accounts shared across households; {} titles released during the window",
        truth.shared_accounts.len(),
        truth.releases.len()
    );
    out
}

/// Finds the playback incident in the stored QoE events, names what explains it, checks it
/// against `truth.json`, and prints the alert it would send (Alertmanager webhook payload).
fn monitor_findings(store: &SqliteStore, truth: &Truth) -> anyhow::Result<String> {
    use std::fmt::Write;

    use showrunner_model::{EventBody, EventKind};
    use showrunner_store::EventFilter;

    let sessions: Vec<(i64, showrunner_model::Qoe)> = store
        .events(&EventFilter::all(EventKind::Qoe))?
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Qoe(q) => Some((e.ts.millis(), q)),
            _ => None,
        })
        .collect();
    let mut out = String::new();
    let Some(found) = showrunner_monitor::incident::find_playback_incident(&sessions, 3_600) else {
        writeln!(
            out,
            "  too few playback sessions to watch ({})",
            sessions.len()
        )?;
        return Ok(out);
    };
    let incident = &truth.cdn_incident;
    let named = found
        .explanations
        .first()
        .map(|e| e.describe_segment())
        .unwrap_or_else(|| "nothing".into());
    let expected = format!("cdn = {}, country = {}", incident.cdn, incident.country);
    let in_window = (incident.start.seconds() - found.bucket_s..incident.end.seconds())
        .contains(&found.start_s);
    writeln!(
        out,
        "  {} QoE sessions in hourly series per CDN and country; strongest anomaly on {} at {} (score {:.2}, {:.1}% failed to play)",
        thousands(sessions.len() as u64),
        found.series,
        showrunner_model::Timestamp::from_seconds(found.start_s),
        found.score,
        found.failed_pct
    )?;
    let found_it = named == expected && in_window;
    writeln!(
        out,
        "  drill-down: {named} -> {} (planted: {expected} from {} to {})",
        if found_it {
            "found"
        } else {
            "NOT the planted incident"
        },
        incident.start,
        incident.end
    )?;
    if !found_it {
        let hours = sessions
            .iter()
            .map(|(t, _)| t / 3_600_000)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            .max(1);
        writeln!(
            out,
            "  (with {} sessions an hour the incident's hour is within the noise; the default size, --events 1000000, finds it)",
            sessions.len() / hours
        )?;
        return Ok(out);
    }
    let alert = found.alert();
    let payload = showrunner_monitor::notify::alertmanager_webhook(
        &alert,
        "playback-oncall",
        "http://127.0.0.1:8080",
    );
    writeln!(
        out,
        "  the alert it would send (Alertmanager webhook, version 4):"
    )?;
    for line in serde_json::to_string_pretty(&payload)?.lines() {
        writeln!(out, "    {line}")?;
    }
    Ok(out)
}
