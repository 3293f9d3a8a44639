//! `cargo xtask bench ingest`: synthesis speed, and import speed and memory against the raw
//! floor of the `sqlite3` command-line tool's `.import` of the same events as CSV.
//! `cargo xtask bench analytics`: the content report and one show's dashboard over a
//! synthetic month, as processes and in process (the `report_speed` example), and over
//! HTTP from `showrunner serve`, first read from the store, then from the range kept in
//! memory.
//!
//! Everything runs the release binary as a user would, in a scratch folder under
//! `target/bench`, so the figures include process start, file reading and fsyncs.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

#[derive(Debug, clap::Subcommand)]
pub enum Bench {
    /// Import of synthetic JSONL events into a fresh SQLite store with full cleaning, against
    /// `sqlite3 .import` of the same events as CSV; also synthesis speed.
    Ingest {
        /// Event counts to measure (each is synthesised once, imported --runs times).
        #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
        events: Vec<u64>,
        /// Runs per measurement; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Skip the sqlite3 floor (when the sqlite3 tool is not installed).
        #[arg(long)]
        no_floor: bool,
    },
    /// The same synthetic import into SQLite and into PostgreSQL in one run (events/s per
    /// backend), and `showrunner migrate` from the one into the other.
    Store(crate::store::StoreArgs),
    /// Ingest through NATS JetStream: `showrunner consume` with 1 and 2 consumers into
    /// PostgreSQL and into SQLite, in one run.
    Bus(crate::bus::BusArgs),
    /// Recommendation: iALS fit and top-20 speed against implicit, quality by the yardstick.
    Recs(crate::recs::RecsArgs),
    /// The HTTP service under load: recommendations, home page, ingest.
    Serve(crate::serve::ServeArgs),
    /// The combined detector over many synthetic one-minute series: CPU per point and memory
    /// per series.
    Detect {
        /// How many series.
        #[arg(long, default_value_t = 1_000)]
        series: usize,
        /// Days of one-minute points per series.
        #[arg(long, default_value_t = 7)]
        days: usize,
    },
    /// A detector on the Numenta Anomaly Benchmark corpus, scored with NAB's published
    /// scoring beside the published detectors.
    Nab {
        /// The NAB-layout corpus (data/, labels/combined_windows.json, config/profiles.json).
        /// Default: ../shared/data/nab-subset from the checkout root; skipped when absent.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Which registered detector to run (or whose result files to score).
        #[arg(long, default_value = "combined")]
        detector: String,
        /// Score existing NAB-format result files under this folder instead of running.
        #[arg(long)]
        results: Option<PathBuf>,
        /// Also print each file's part of the standard-profile score.
        #[arg(long)]
        per_file: bool,
        /// Override a setting of the combined detector, `name=value` (repeatable).
        #[arg(long = "set")]
        settings: Vec<String>,
        /// Also write each file's scores as `DIR/<category>/<file>.csv` (timestamp, value,
        /// score, label: 1 inside an anomaly window), for looking at where points are lost.
        #[arg(long)]
        dump: Option<PathBuf>,
    },
    /// The full content report and one show's dashboard over a synthetic month in a fresh
    /// store, at each size: how the time grows from 1M to 10M events.
    Analytics {
        #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
        events: Vec<u64>,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The threat detectors on synthetic platforms: precision and recall per finding kind
    /// against truth.json, and detector throughput.
    Security {
        /// Event counts to synthesise.
        #[arg(long, value_delimiter = ',', default_value = "200000,1000000,5000000")]
        events: Vec<u64>,
        /// Seeds: every size is synthesised once per seed.
        #[arg(long, value_delimiter = ',', default_value = "42")]
        seeds: Vec<u64>,
        /// Also print false positives and misses.
        #[arg(long)]
        verbose: bool,
        /// A JSON file of detector settings overriding the defaults (see docs/security.md).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub fn run(bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Ingest {
            events,
            runs,
            no_floor,
        } => ingest(&events, runs.max(1), no_floor),
        Bench::Store(args) => crate::store::run(args),
        Bench::Bus(args) => crate::bus::run(args),
        Bench::Recs(args) => crate::recs::recs(args),
        Bench::Serve(args) => crate::serve::run(args),
        Bench::Detect { series, days } => {
            crate::detect::run(crate::detect::DetectArgs { series, days })
        }
        Bench::Nab {
            data,
            detector,
            results,
            per_file,
            settings,
            dump,
        } => crate::nab::run(crate::nab::NabArgs {
            data,
            detector,
            results,
            per_file,
            settings,
            dump,
        }),
        Bench::Analytics { events, runs } => analytics(&events, runs.max(1)),
        Bench::Security {
            events,
            seeds,
            verbose,
            config,
        } => crate::security::run(crate::security::SecurityArgs {
            events,
            seeds,
            verbose,
            config,
        }),
    }
}

/// The checkout `cargo xtask` was run in: the nearest folder up from the current one that
/// holds `xtask/Cargo.toml`. (Not the compile-time manifest path: clones that share a target
/// folder share the xtask binary too.)
pub fn workspace_root() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    here.ancestors()
        .find(|folder| folder.join("xtask").join("Cargo.toml").exists())
        .map_or(here.clone(), Path::to_path_buf)
}

pub fn build_release() -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "-p", "showrunner"])
        .current_dir(&root)
        .status()
        .context("running cargo build --release")?;
    if !status.success() {
        bail!("cargo build --release -p showrunner failed");
    }
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    Ok(target.join("release").join("showrunner"))
}

/// Writes the synthetic platform of about `events` events (seed 7, the benchmarks' own)
/// into `out` with the release binary.
pub fn synth(binary: &Path, events: u64, out: &Path) -> anyhow::Result<()> {
    let status = Command::new(binary)
        .args(["synth", "--events", &events.to_string(), "--seed", "7"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .context("running showrunner synth")?;
    if !status.success() {
        bail!("showrunner synth failed");
    }
    Ok(())
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

struct ImportRun {
    seconds: f64,
    accepted: u64,
    rows: u64,
    peak_rss_mb: f64,
}

fn ingest(sizes: &[u64], runs: usize, no_floor: bool) -> anyhow::Result<()> {
    let binary = build_release()?;
    let scratch = workspace_root().join("target").join("bench").join("ingest");
    std::fs::create_dir_all(&scratch)?;
    let floor_available = !no_floor && Command::new("sqlite3").arg("-version").output().is_ok();
    if !no_floor && !floor_available {
        eprintln!(
            "note: the sqlite3 tool is not installed: skipping the floor (apt-get install sqlite3)"
        );
    }
    println!(
        "machine: {} cores; runs per figure: {runs} (median)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut lines = Vec::new();
    for &size in sizes {
        let data = scratch.join(format!("synth-{size}"));
        let _ = std::fs::remove_dir_all(&data);
        // Synthesis speed.
        let mut synth_rates = Vec::new();
        let mut events_written = 0;
        for _ in 0..runs {
            let _ = std::fs::remove_dir_all(&data);
            let clock = Instant::now();
            let output = Command::new(&binary)
                .args([
                    "synth",
                    "--events",
                    &size.to_string(),
                    "--seed",
                    "7",
                    "--out",
                ])
                .arg(&data)
                .stderr(Stdio::inherit())
                .output()
                .context("running showrunner synth")?;
            if !output.status.success() {
                bail!(
                    "showrunner synth failed: {}",
                    String::from_utf8_lossy(&output.stdout)
                );
            }
            let seconds = clock.elapsed().as_secs_f64();
            events_written = count_lines(&data.join("events.jsonl"))?;
            synth_rates.push(events_written as f64 / seconds);
        }
        let synth_rate = median(&mut synth_rates);

        // Import with full cleaning into a fresh store.
        let inputs = ["catalog.jsonl", "members.jsonl", "events.jsonl"].map(|name| data.join(name));
        let mut import_runs = Vec::new();
        for _ in 0..runs {
            let db = scratch.join("bench.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            let clock = Instant::now();
            let output = Command::new(&binary)
                .arg("import")
                .arg("--db")
                .arg(&db)
                .arg("--json")
                .args(&inputs)
                .stderr(Stdio::inherit())
                .output()
                .context("running showrunner import")?;
            let seconds = clock.elapsed().as_secs_f64();
            if output.status.code() == Some(2) {
                bail!("showrunner import failed");
            }
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)
                .context("reading the import's JSON summary")?;
            import_runs.push(ImportRun {
                seconds,
                accepted: report["summary"]["events_accepted"].as_u64().unwrap_or(0),
                rows: report["summary"]["rows_read"].as_u64().unwrap_or(0),
                peak_rss_mb: report["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1e6,
            });
        }
        let mut seconds: Vec<f64> = import_runs.iter().map(|run| run.seconds).collect();
        let import_seconds = median(&mut seconds);
        let mut rss: Vec<f64> = import_runs.iter().map(|run| run.peak_rss_mb).collect();
        let peak_rss = median(&mut rss);
        let accepted = import_runs[0].accepted;
        let rows = import_runs[0].rows;
        let import_rate = events_written as f64 / import_seconds;

        // The floor: sqlite3's .import of the same events as CSV into a bare table.
        let floor_seconds = if floor_available {
            let csv = data.join("events.csv");
            jsonl_to_csv(&data.join("events.jsonl"), &csv)?;
            let mut floor_times = Vec::new();
            for _ in 0..runs {
                let db = scratch.join("floor.db");
                let _ = std::fs::remove_file(&db);
                let clock = Instant::now();
                let status = Command::new("sqlite3")
                    .arg(&db)
                    .arg(format!(".import --csv {} events", csv.display()))
                    .status()
                    .context("running sqlite3")?;
                if !status.success() {
                    bail!("sqlite3 .import failed");
                }
                floor_times.push(clock.elapsed().as_secs_f64());
            }
            let _ = std::fs::remove_file(&csv);
            Some(median(&mut floor_times))
        } else {
            None
        };

        lines.push(format!(
            "| {} | {:.0} | {} | {} | {:.2} | {:.0} | {:.0} | {} | {} |",
            events_written,
            synth_rate,
            rows,
            accepted,
            import_seconds,
            import_rate,
            peak_rss,
            floor_seconds.map_or("-".into(), |s| format!("{s:.2}")),
            floor_seconds.map_or("-".into(), |s| format!("{:.2}", import_seconds / s)),
        ));
        let _ = std::fs::remove_dir_all(&data);
    }
    println!();
    println!(
        "| events | synth events/s | rows read | accepted | import s | import events/s | peak RSS MB | sqlite3 .import s | ratio (ours / floor) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for line in lines {
        println!("{line}");
    }
    Ok(())
}

fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let reader = BufReader::with_capacity(
        1 << 20,
        File::open(path).with_context(|| format!("opening {}", path.display()))?,
    );
    let mut count = 0;
    for chunk in reader.split(b'\n') {
        chunk?;
        count += 1;
    }
    Ok(count)
}

/// The floor's input: the same events as one CSV table, one column per event field.
fn jsonl_to_csv(input: &Path, output: &Path) -> anyhow::Result<()> {
    const COLUMNS: &[&str] = &[
        "type",
        "ts",
        "member_id",
        "profile_id",
        "title_id",
        "session_id",
        "action",
        "position_s",
        "watched_s",
        "device",
        "country",
        "request_id",
        "thumbs",
        "stars",
        "row",
        "rank",
        "account",
        "outcome",
        "ip",
        "city",
        "latitude",
        "longitude",
        "asn",
        "user_agent",
        "startup_ms",
        "exit_before_start",
        "rebuffer_count",
        "rebuffer_ms",
        "watch_s",
        "avg_bitrate_kbps",
        "bitrate_switches",
        "error_code",
        "cdn",
        "isp",
        "player",
        "query",
        "clicked_title_id",
    ];
    let reader = BufReader::with_capacity(1 << 20, File::open(input)?);
    let mut writer = BufWriter::with_capacity(1 << 20, File::create(output)?);
    writeln!(writer, "{}", COLUMNS.join(","))?;
    let mut cells = Vec::with_capacity(COLUMNS.len());
    for line in reader.lines() {
        let line = line?;
        let value: serde_json::Value = serde_json::from_str(&line)?;
        cells.clear();
        for column in COLUMNS {
            let cell = match &value[column] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            if cell.contains([',', '"', '\n']) {
                cells.push(format!("\"{}\"", cell.replace('"', "\"\"")));
            } else {
                cells.push(cell);
            }
        }
        writeln!(writer, "{}", cells.join(","))?;
    }
    writer.flush()?;
    Ok(())
}

/// Times one run of the binary (the whole process: open, read the facts, compute, render).
fn time_run(binary: &Path, args: &[String]) -> anyhow::Result<f64> {
    let clock = Instant::now();
    let output = Command::new(binary)
        .args(args)
        .output()
        .context("running showrunner")?;
    let seconds = clock.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "showrunner {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(seconds)
}

fn analytics(sizes: &[u64], runs: usize) -> anyhow::Result<()> {
    let binary = build_release()?;
    let scratch = workspace_root()
        .join("target")
        .join("bench")
        .join("analytics");
    std::fs::create_dir_all(&scratch)?;
    println!(
        "machine: {} cores; runs per figure: {runs} (median)",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let mut lines = Vec::new();
    let mut http_lines = Vec::new();
    let mut previous: Option<(u64, f64, f64)> = None;
    for &size in sizes {
        let data = scratch.join(format!("synth-{size}"));
        let _ = std::fs::remove_dir_all(&data);
        let db = scratch.join(format!("analytics-{size}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        synth(&binary, size, &data)?;
        let status = Command::new(&binary)
            .arg("import")
            .arg("--db")
            .arg(&db)
            .args(["catalog.jsonl", "members.jsonl", "events.jsonl"].map(|name| data.join(name)))
            .stdout(Stdio::null())
            .status()
            .context("running showrunner import")?;
        if status.code() == Some(2) {
            bail!("showrunner import failed");
        }
        let events = count_lines(&data.join("events.jsonl"))?;
        let _ = std::fs::remove_dir_all(&data);
        let db_arg = db.display().to_string();
        let base: Vec<String> = [
            "report",
            "content",
            "--db",
            &db_arg,
            "--from",
            "2026-09-01",
            "--to",
            "2026-10-01",
            "--format",
            "json",
            "--out",
            "/dev/null",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // The most watched show, from the report itself.
        let json = Command::new(&binary)
            .args(&base[..base.len() - 2])
            .output()
            .context("running showrunner report")?;
        let report: serde_json::Value =
            serde_json::from_slice(&json.stdout).context("reading the report's JSON")?;
        let top = report["titles"][0]["title_id"]
            .as_str()
            .unwrap_or("t1")
            .to_owned();
        let mut full = Vec::new();
        let mut single = Vec::new();
        for _ in 0..runs {
            full.push(time_run(&binary, &base)?);
            let mut args = base.clone();
            args.extend(["--title".to_string(), top.clone()]);
            single.push(time_run(&binary, &args)?);
        }
        let full = median(&mut full);
        let single = median(&mut single);
        // In process: the snapshot kept in memory serves any show's dashboard.
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "run",
                "--release",
                "--quiet",
                "-p",
                "showrunner-analytics",
                "--example",
                "report_speed",
                "--",
            ])
            .arg(&db)
            .args([
                "2026-09-01T00:00:00Z",
                "2026-10-01T00:00:00Z",
                &runs.to_string(),
            ])
            .current_dir(workspace_root())
            .stderr(Stdio::inherit())
            .output()
            .context("running the report_speed example")?;
        if !output.status.success() {
            bail!("the report_speed example failed");
        }
        let warm: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("reading report_speed's JSON")?;
        let growth = previous.map_or("-".to_string(), |(count, full_before, single_before)| {
            format!(
                "events x{:.1}: report x{:.1}, title x{:.1}",
                events as f64 / count as f64,
                full / full_before,
                single / single_before
            )
        });
        lines.push(format!(
            "| {events} | {:.0} | {full:.2} | {:.2} + {:.2} | {top} | {:.0} | {:.1} | {:.1} | {} {:.1} | {growth} |",
            report["totals"]["views"].as_f64().unwrap_or(0.0),
            warm["facts_s"].as_f64().unwrap_or(f64::NAN),
            warm["report_s"].as_f64().unwrap_or(f64::NAN),
            single * 1000.0,
            warm["top_store_ms"].as_f64().unwrap_or(f64::NAN),
            warm["top_dashboard_ms"].as_f64().unwrap_or(f64::NAN),
            warm["median_title"].as_str().unwrap_or("-"),
            warm["median_dashboard_ms"].as_f64().unwrap_or(f64::NAN),
        ));
        previous = Some((events, full, single));
        let shows: Vec<String> = report["titles"]
            .as_array()
            .map(|titles| {
                titles
                    .iter()
                    .filter_map(|t| t["title_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let http = dashboards_over_http(&binary, &scratch, &db_arg, &shows, runs)?;
        http_lines.push(format!("| {events} | {http} |"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    }
    println!();
    println!(
        "| events | views | full report s (process) | in process: read + compute s | top title | its dashboard ms (process) | same, in process from the store ms | same, from the snapshot in memory ms | median title: ms in memory | growth |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for line in lines {
        println!("{line}");
    }
    println!();
    println!(
        "Over HTTP (`showrunner serve`, one keep-alive connection; each show's dashboard asked once per round):"
    );
    println!();
    println!(
        "| events | top show, first ask (store) ms | range read into memory s | top show from memory ms (median / max) | top {SHOWS_OVER_HTTP} shows from memory ms (median / max) | report from memory ms | server heap before / after MB (mapped file pages after) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for line in http_lines {
        println!("{line}");
    }
    Ok(())
}

/// How many of the report's top shows `dashboards_over_http` asks for.
const SHOWS_OVER_HTTP: usize = 20;

/// The process's resident memory of one kind (`RssAnon`: its heap; `RssFile`: mapped file
/// pages, such as SQLite's memory map of the database), in MB.
fn rss_mb(pid: u32, kind: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with(kind))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Serves `db` and asks for the shows' dashboards over the bench's month: the first ask
/// (read from the store, which starts reading the whole range), the wait until answers carry
/// `Age` (the range is in memory), then `runs` rounds over the shows and the whole report,
/// all from memory. Returns the figures as table cells.
fn dashboards_over_http(
    binary: &Path,
    dir: &Path,
    db: &str,
    shows: &[String],
    runs: usize,
) -> anyhow::Result<String> {
    use crate::serve::{Connection, percentile, run_ok, start_server};
    let Some(top) = shows.first() else {
        bail!("the report lists no shows");
    };
    let key = run_ok(
        binary,
        &["keys", "create", "--db", db, "--scope", "analytics"],
        dir,
    )?
    .trim()
    .to_owned();
    let (mut server, address) = start_server(
        binary,
        dir,
        db,
        &[("SHOWRUNNER_SECURITY_KEY_RATE_PER_SECOND", "0")],
    )?;
    let pid = server.id();
    let result = (|| -> anyhow::Result<String> {
        let mut connection = Connection::open(&address)?;
        let mut ask = |path: &str| -> anyhow::Result<(f64, Option<u64>)> {
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\r\n"
            );
            let started = Instant::now();
            let status = connection.request(&head, &[])?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            if status != 200 {
                bail!("GET {path} answered {status}");
            }
            Ok((ms, connection.age))
        };
        let range = "from=2026-09-01&to=2026-10-01";
        let dashboard = |show: &str| format!("/v1/analytics/titles/{show}?{range}");
        let before_mb = rss_mb(pid, "RssAnon:");
        let asked = Instant::now();
        let (first_ms, first_age) = ask(&dashboard(top))?;
        if first_age.is_some() {
            bail!("the first dashboard came from memory: the server held a snapshot already");
        }
        let deadline = Instant::now() + std::time::Duration::from_secs(600);
        loop {
            let (_, age) = ask(&dashboard(top))?;
            if age.is_some() {
                break;
            }
            if Instant::now() > deadline {
                bail!("the range never came into memory");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let read_s = asked.elapsed().as_secs_f64();
        let after_mb = rss_mb(pid, "RssAnon:");
        let mapped_mb = rss_mb(pid, "RssFile:");
        let mut top_ms = Vec::new();
        let mut shows_ms = Vec::new();
        let mut report_ms = Vec::new();
        for _ in 0..runs.max(3) {
            for show in shows.iter().take(SHOWS_OVER_HTTP) {
                let (ms, age) = ask(&dashboard(show))?;
                if age.is_none() {
                    bail!("{show}'s dashboard was read from the store, not memory");
                }
                shows_ms.push(ms);
                if show == top {
                    top_ms.push(ms);
                }
            }
            let (ms, age) = ask(&format!("/v1/analytics/report?{range}"))?;
            if age.is_none() {
                bail!("the report was read from the store, not memory");
            }
            report_ms.push(ms);
        }
        let spread = |values: &mut Vec<f64>| {
            values.sort_by(f64::total_cmp);
            format!(
                "{:.1} / {:.1}",
                percentile(values, 0.5),
                values.last().copied().unwrap_or(f64::NAN)
            )
        };
        Ok(format!(
            "{first_ms:.1} | {read_s:.2} | {} | {} | {:.0} | {before_mb:.0} / {after_mb:.0} ({mapped_mb:.0})",
            spread(&mut top_ms),
            spread(&mut shows_ms),
            median(&mut report_ms),
        ))
    })();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = server.wait();
    result
}
