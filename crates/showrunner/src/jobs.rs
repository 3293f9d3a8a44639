//! `showrunner jobs [list]`, `showrunner jobs run NAME` and `showrunner restore`: the
//! scheduled jobs of the server's configuration, their recent runs, running one now, and
//! restoring a backup.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use showrunner_jobs::{Scheduler, SystemClock};
use showrunner_server::Config;
use showrunner_store::JobOutcome;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    #[command(subcommand)]
    command: Option<JobsCommand>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, clap::Subcommand)]
enum JobsCommand {
    /// The configured schedules and the latest runs (the default).
    List(ListArgs),
    /// Run one job now, with the same lock and record as a scheduled run. Exits 1 if it
    /// failed or another run of it held the lock.
    Run(RunArgs),
}

#[derive(Debug, Clone, clap::Args)]
struct CommonArgs {
    /// The server's TOML configuration file (its `[jobs]` table); SHOWRUNNER_* variables
    /// override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The SQLite database file. Overrides the file and SHOWRUNNER_DB.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// How many recent runs to show.
    #[arg(long, default_value_t = 20)]
    runs: u64,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The job: retrain, backup or retention (it must be configured).
    name: String,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup to restore (a database file written by `showrunner backup` or the backup
    /// job).
    #[arg(long)]
    from: PathBuf,
    /// The new database to create from it (must not exist).
    #[arg(long)]
    db: PathBuf,
}

fn load(common: &CommonArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(common.config.as_deref(), std::env::vars())?;
    if let Some(db) = &common.db {
        config.db = db.clone();
    }
    Ok(config)
}

pub fn run(args: JobsArgs) -> anyhow::Result<Outcome> {
    let config = load(&args.common)?;
    match args.command.unwrap_or(JobsCommand::List(ListArgs {
        runs: 20,
        json: false,
    })) {
        JobsCommand::List(list) => {
            config.jobs.validate()?;
            let now = showrunner_jobs::Clock::now(&SystemClock);
            let schedules = showrunner_jobs::scheduler::configured_schedules(&config.jobs, now)?;
            let store = crate::models::open_existing_for_writing(&config.db)?;
            let runs = store.job_runs(None, list.runs)?;
            if list.json {
                let report = serde_json::json!({ "schedules": schedules, "runs": runs });
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(Outcome::Success);
            }
            if schedules.is_empty() {
                println!(
                    "no jobs configured (add [jobs.retrain], [jobs.backup] or [jobs.retention] to the config file; see docs/automation.md)"
                );
            } else {
                println!("{:<10}  {:<16}  next run", "job", "schedule");
                for s in &schedules {
                    println!(
                        "{:<10}  {:<16}  {}",
                        s.job,
                        s.schedule,
                        s.next_run
                            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
                    );
                }
            }
            println!();
            if runs.is_empty() {
                println!("no runs recorded in {}", crate::import::shown(&config.db));
            } else {
                println!(
                    "{:>5}  {:<10}  {:<8}  {:>7}  {:<20}  {:>8}  {:<9}  last line",
                    "run", "job", "trigger", "attempt", "started", "seconds", "outcome"
                );
                for r in &runs {
                    let seconds = r.finished_at.map_or_else(
                        || "-".to_owned(),
                        |f| format!("{:.1}", (f.millis() - r.started_at.millis()) as f64 / 1e3),
                    );
                    println!(
                        "{:>5}  {:<10}  {:<8}  {:>7}  {:<20}  {:>8}  {:<9}  {}",
                        r.id,
                        r.job,
                        r.trigger,
                        r.attempt,
                        r.started_at.to_rfc3339(),
                        seconds,
                        r.outcome.as_str(),
                        r.log.lines().last().unwrap_or("")
                    );
                }
            }
            Ok(Outcome::Success)
        }
        JobsCommand::Run(run) => {
            // Refuses a missing SQLite file rather than creating an empty one.
            drop(crate::import::open_existing_for_writing(&config.db)?);
            let mut scheduler =
                Scheduler::from_config(&config.db, Arc::new(SystemClock), &config.jobs)?;
            let record = scheduler
                .run_now(&run.name)
                .with_context(|| format!("running job {}", run.name))?;
            eprintln!("{}", record.log);
            println!(
                "job {} run {}: {}",
                record.job,
                record.id,
                record.outcome.as_str()
            );
            println!("{}", serde_json::to_string_pretty(&record.figures)?);
            Ok(match record.outcome {
                JobOutcome::Succeeded => Outcome::Success,
                _ => Outcome::Findings,
            })
        }
    }
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<Outcome> {
    let counts = showrunner_jobs::backup::restore(&args.from, &args.db).with_context(|| {
        format!(
            "restoring {} into {}",
            args.from.display(),
            args.db.display()
        )
    })?;
    println!(
        "restored {} into {}:\n{}",
        args.from.display(),
        args.db.display(),
        crate::import::format_counts(&counts)
    );
    Ok(Outcome::Success)
}
