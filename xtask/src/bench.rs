//! `cargo xtask bench ingest`: synthesis speed, and import speed and memory against the raw
//! floor of the `sqlite3` command-line tool's `.import` of the same events as CSV.
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
    },
}

pub fn run(bench: Bench) -> anyhow::Result<()> {
    match bench {
        Bench::Ingest {
            events,
            runs,
            no_floor,
        } => ingest(&events, runs.max(1), no_floor),
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
        } => crate::nab::run(crate::nab::NabArgs {
            data,
            detector,
            results,
            per_file,
            settings,
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
