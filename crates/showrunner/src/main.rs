//! The `showrunner` binary: parses the command line and dispatches to one function per
//! subcommand. Every subcommand is a thin layer over the library crates.

mod accounts;
mod alerts;
mod audit;
mod consume;
mod demo;
mod detect;
mod exit;
mod import;
mod jobs;
mod keys;
mod migrate;
mod models;
mod progress;
mod quarantine;
mod recs;
mod report;
mod rotate;
mod security;
mod serve;
mod synth;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Outcome;

/// mimalloc: the import allocates and frees millions of short strings a second across
/// threads, where it measured faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    finished, with findings: rows were quarantined or an input was empty
  2    usage error or fatal error (missing input, unreadable or read-only database, ...);
       everything acknowledged before the error is kept
  130  interrupted by Ctrl-C; everything imported so far is kept";

/// showrunner: the data side of a video streaming service, in one binary.
#[derive(Debug, Parser)]
#[command(name = "showrunner", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the embedded database lives, shared by every subcommand that uses one.
#[derive(Debug, clap::Args)]
struct DbArgs {
    /// The database: an SQLite file (created if missing), sqlite://PATH or a
    /// postgres://user:password@host/database URL.
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Synthesise a platform, import it into a fresh database and report what was found.
    #[command(after_help = EXIT_CODES)]
    Demo(demo::DemoArgs),
    /// Run an anomaly detector over a benchmark corpus and write its scores.
    #[command(after_help = EXIT_CODES)]
    Detect(detect::DetectArgs),
    /// Import events, catalog and members from files (JSONL, CSV, MovieLens, MovieTweetings,
    /// Netflix-style catalog CSV; gzip and zstd are read transparently).
    #[command(after_help = EXIT_CODES)]
    Import(import::ImportArgs),
    /// Write a deterministic synthetic platform (catalog, members, events, truth.json).
    #[command(after_help = EXIT_CODES)]
    Synth(synth::SynthArgs),
    /// List or export the rows that failed validation, with their reasons.
    #[command(after_help = EXIT_CODES)]
    Quarantine(quarantine::QuarantineArgs),
    /// Train a recommendation model (`--algo auto` tunes on a validation holdout).
    #[command(after_help = EXIT_CODES)]
    Train(recs::TrainArgs),
    /// Write top-K recommendations for a list of users: user,item,rank,score.
    #[command(after_help = EXIT_CODES)]
    Recommend(recs::RecommendArgs),
    /// Evaluate a model on a temporal per-user holdout over the full catalog.
    #[command(after_help = EXIT_CODES)]
    Evaluate(recs::EvaluateArgs),
    /// Threat detection on the platform's logins and plays (`security scan`).
    #[command(after_help = EXIT_CODES)]
    Security(security::SecurityArgs),
    /// Make a consistent copy of a live database.
    #[command(after_help = EXIT_CODES)]
    Backup(BackupArgs),
    /// Print what the database holds.
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),
    /// Write an analytics report (HTML, JSON or CSV).
    #[command(after_help = EXIT_CODES)]
    Report(report::ReportArgs),
    /// Run the HTTP service (ingest, recommendations, catalog and members, analytics, metrics,
    /// OpenAPI at /openapi.json and the API reference page at /docs).
    #[command(after_help = EXIT_CODES)]
    Serve(serve::ServeArgs),
    /// Manage API keys of the HTTP service.
    #[command(after_help = EXIT_CODES)]
    Keys(keys::KeysArgs),
    /// Store events that serve replicas publish to NATS JetStream (scale-out ingest).
    #[command(after_help = EXIT_CODES)]
    Consume(consume::ConsumeArgs),
    /// Copy an SQLite database into PostgreSQL (resumable; counts verified at the end).
    #[command(after_help = EXIT_CODES)]
    Migrate(migrate::MigrateArgs),
    /// Manage operator accounts (sign-in to the API with a user name and password).
    #[command(after_help = EXIT_CODES)]
    Accounts(accounts::AccountsArgs),
    /// Check the audit log's hash chain (`audit verify`; exit 1 when it is broken).
    #[command(after_help = EXIT_CODES)]
    Audit(audit::AuditArgs),
    /// The model registry: list models, promote one, roll back to the previous live one.
    #[command(after_help = EXIT_CODES)]
    Models(models::ModelsArgs),
    /// Scheduled jobs: list schedules and recent runs, or run one now (`jobs run NAME`).
    #[command(after_help = EXIT_CODES)]
    Jobs(jobs::JobsArgs),
    /// Restore a backup into a new database file (never over an existing one).
    #[command(after_help = EXIT_CODES)]
    Restore(jobs::RestoreArgs),
    /// Alerts of the monitor: current, history, silences, the notification log.
    #[command(after_help = EXIT_CODES)]
    Alerts(alerts::AlertsArgs),
}

#[derive(Debug, clap::Args)]
struct BackupArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Where to write the copy (must not exist yet).
    dest: PathBuf,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service logs structured JSON (one object per line, with request ids) at info;
    // the other commands log plain text, warnings only by default.
    let serving = matches!(cli.command, Command::Serve(_));
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SHOWRUNNER_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(if serving { "info" } else { "warn" })
        });
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if serving {
        logs.json().init();
    } else {
        logs.init();
    }
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Detect(args) => detect::run(args),
        Command::Import(args) => import::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Quarantine(args) => quarantine::run(args),
        Command::Train(args) => recs::train(args),
        Command::Recommend(args) => recs::recommend(args),
        Command::Evaluate(args) => recs::evaluate(args),
        Command::Security(args) => security::run(args),
        Command::Backup(args) => backup(args),
        Command::Status(args) => status(args),
        Command::Report(args) => report::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Keys(args) => keys::run(args),
        Command::Consume(args) => consume::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Accounts(args) => accounts::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Models(args) => models::run(args),
        Command::Jobs(args) => jobs::run(args),
        Command::Restore(args) => jobs::restore(args),
        Command::Alerts(args) => alerts::run(args),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("error: {error:#}");
            Outcome::Fatal.exit_code()
        }
    }
}

fn backup(args: BackupArgs) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let store = import::open_existing_store(&args.db.db)?;
    store.backup_to(&args.dest).with_context(|| {
        format!(
            "backing up {} to {}",
            import::shown(&args.db.db),
            args.dest.display()
        )
    })?;
    println!(
        "backed up {} to {}",
        import::shown(&args.db.db),
        args.dest.display()
    );
    Ok(Outcome::Success)
}

fn status(args: StatusArgs) -> anyhow::Result<Outcome> {
    let store = import::open_existing_store(&args.db.db)?;
    let counts = store.counts()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&counts)?);
    } else {
        println!("{}", import::format_counts(&counts));
    }
    Ok(Outcome::Success)
}
