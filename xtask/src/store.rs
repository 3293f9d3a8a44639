//! `cargo xtask bench store`: the same synthetic import (full cleaning, `showrunner import`,
//! release build) into a fresh SQLite file and into a fresh PostgreSQL database, in the same
//! run, so the two backends' ingest rates are comparable; and `showrunner migrate` of the
//! SQLite result into PostgreSQL.
//!
//! PostgreSQL is the server named by `--pg` (default: the local one CI uses); each run
//! creates its own database and drops it afterwards.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::bench::{build_release, median, workspace_root};

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Events to synthesise (once) and import (per backend, --runs times).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Runs per backend; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The PostgreSQL server (a database is created on it per run and dropped after).
    #[arg(
        long,
        env = "SHOWRUNNER_TEST_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg: String,
    /// Skip timing `showrunner migrate` of the SQLite store into PostgreSQL.
    #[arg(long)]
    no_migrate: bool,
}

/// `url` naming database `name` instead of its own.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |at| at + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |at| authority + at);
    match query {
        Some(query) => format!("{}/{name}?{query}", &base[..path]),
        None => format!("{}/{name}", &base[..path]),
    }
}

/// A database on the benchmark server, dropped with the guard.
pub(crate) struct Database {
    admin: String,
    name: String,
}

impl Database {
    pub(crate) fn create(admin: &str, name: &str) -> anyhow::Result<Self> {
        let mut client = postgres::Client::connect(admin, postgres::NoTls)
            .with_context(|| format!("connecting to PostgreSQL ({admin}) for the benchmark"))?;
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        client.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(Database {
            admin: admin.to_owned(),
            name: name.to_owned(),
        })
    }

    pub(crate) fn url(&self) -> String {
        with_database(&self.admin, &self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn import(binary: &Path, db: &str, inputs: &[std::path::PathBuf]) -> anyhow::Result<(f64, u64)> {
    let clock = Instant::now();
    let output = Command::new(binary)
        .arg("import")
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(inputs)
        .stderr(Stdio::inherit())
        .output()
        .context("running showrunner import")?;
    let seconds = clock.elapsed().as_secs_f64();
    if output.status.code() == Some(2) {
        bail!("showrunner import into {db} failed");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading the import's JSON summary")?;
    Ok((
        seconds,
        report["summary"]["events_accepted"].as_u64().unwrap_or(0),
    ))
}

pub fn run(args: StoreArgs) -> anyhow::Result<()> {
    let runs = args.runs.max(1);
    let binary = build_release()?;
    let scratch = workspace_root().join("target").join("bench").join("store");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let data = scratch.join("synth");
    crate::bench::synth(&binary, args.events, &data)?;
    let inputs: Vec<_> = ["catalog.jsonl", "members.jsonl", "events.jsonl"]
        .iter()
        .map(|name| data.join(name))
        .collect();
    println!(
        "machine: {} cores; {} synthetic events; runs per figure: {runs} (median)",
        std::thread::available_parallelism().map_or(0, usize::from),
        args.events
    );

    let sqlite_db = scratch.join("bench.db");
    let mut sqlite_seconds = Vec::new();
    let mut accepted = 0;
    for _ in 0..runs {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", sqlite_db.display()));
        }
        let (seconds, events) = import(&binary, &sqlite_db.display().to_string(), &inputs)?;
        sqlite_seconds.push(seconds);
        accepted = events;
    }

    let mut pg_seconds = Vec::new();
    let mut pg_accepted = 0;
    for run in 0..runs {
        let database = Database::create(&args.pg, &format!("showrunner_bench_{run}"))?;
        let (seconds, events) = import(&binary, &database.url(), &inputs)?;
        pg_seconds.push(seconds);
        pg_accepted = events;
    }
    if pg_accepted != accepted {
        bail!("PostgreSQL accepted {pg_accepted} events, SQLite {accepted}");
    }

    let migrate_seconds = if args.no_migrate {
        None
    } else {
        let database = Database::create(&args.pg, "showrunner_bench_migrate")?;
        let clock = Instant::now();
        let status = Command::new(&binary)
            .arg("migrate")
            .arg("--from")
            .arg(&sqlite_db)
            .arg("--to")
            .arg(database.url())
            .stdout(Stdio::null())
            .status()
            .context("running showrunner migrate")?;
        if !status.success() {
            bail!("showrunner migrate failed");
        }
        Some(clock.elapsed().as_secs_f64())
    };

    println!();
    println!("| backend | events accepted | import s | import events/s |");
    println!("|---|---|---|---|");
    for (name, seconds) in [
        ("SQLite", &mut sqlite_seconds),
        ("PostgreSQL", &mut pg_seconds),
    ] {
        let seconds = median(seconds);
        println!(
            "| {name} | {accepted} | {seconds:.2} | {:.0} |",
            accepted as f64 / seconds
        );
    }
    if let Some(seconds) = migrate_seconds {
        println!(
            "| migrate SQLite → PostgreSQL | {accepted} | {seconds:.2} | {:.0} |",
            accepted as f64 / seconds
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
