//! `showrunner models list|promote|rollback|shadow`: the model registry on the command
//! line. A running `showrunner serve` swaps the live model in, and starts or stops
//! shadowing, on its next poll.

use std::path::PathBuf;

use showrunner_store::ModelRecord;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ModelsCommand {
    /// Every registered model, newest first, with its status and validation figures.
    List(ListArgs),
    /// Make a model version the live one (the service swaps it in on its next poll).
    Promote(PromoteArgs),
    /// Make the model live before the current one live again (or VERSION, which must have
    /// been live before).
    Rollback(RollbackArgs),
    /// Shadow model VERSION: servers also score live requests with it, without serving it,
    /// and report its agreement (GET /v1/models/shadow). `--stop` stops, `--status` (or no
    /// argument) shows what is shadowed.
    Shadow(ShadowArgs),
}

#[derive(Debug, clap::Args)]
struct DbArg {
    /// The SQLite database file (must exist).
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    db: DbArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct PromoteArgs {
    #[command(flatten)]
    db: DbArg,
    version: i64,
    /// Why, for the record.
    #[arg(long, default_value = "promoted by an operator")]
    reason: String,
    /// Who, for the record (defaults to $USER).
    #[arg(long)]
    by: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RollbackArgs {
    #[command(flatten)]
    db: DbArg,
    version: Option<i64>,
    /// Who, for the record (defaults to $USER).
    #[arg(long)]
    by: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ShadowArgs {
    #[command(flatten)]
    db: DbArg,
    /// The version to shadow (any registered version but the live one).
    #[arg(conflicts_with_all = ["stop", "status"])]
    version: Option<i64>,
    /// Stop shadowing.
    #[arg(long, conflicts_with = "status")]
    stop: bool,
    /// Show the shadowed version (the default without VERSION).
    #[arg(long)]
    status: bool,
    /// Who, for the record (defaults to $USER).
    #[arg(long)]
    by: Option<String>,
}

pub use crate::import::open_existing_for_writing;

fn actor(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "operator".to_owned())
}

fn ndcg(record: &ModelRecord) -> String {
    let metrics = &record.metrics;
    metrics["gate"]["candidate"]
        .as_f64()
        .or_else(|| metrics["ndcg@10"].as_f64())
        .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

pub fn run(args: ModelsArgs) -> anyhow::Result<Outcome> {
    match args.command {
        ModelsCommand::List(args) => {
            let store = open_existing_for_writing(&args.db.db)?;
            let records = store.model_records()?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&records)?);
                return Ok(Outcome::Success);
            }
            if records.is_empty() {
                println!("no models in {}", crate::import::shown(&args.db.db));
                return Ok(Outcome::Success);
            }
            println!(
                "{:>7}  {:<9}  {:<8}  {:>8}  {:<20}  {:<14}  reason",
                "version", "status", "algo", "ndcg@10", "published", "by"
            );
            for r in &records {
                println!(
                    "{:>7}  {:<9}  {:<8}  {:>8}  {:<20}  {:<14}  {}",
                    r.version,
                    r.status.as_str(),
                    if r.algorithm.is_empty() {
                        "-"
                    } else {
                        &r.algorithm
                    },
                    ndcg(r),
                    r.published_at.to_rfc3339(),
                    r.published_by,
                    r.reason.as_deref().unwrap_or("")
                );
            }
            Ok(Outcome::Success)
        }
        ModelsCommand::Promote(args) => {
            let mut store = open_existing_for_writing(&args.db.db)?;
            let change = store.promote(args.version, &actor(args.by), &args.reason)?;
            println!(
                "version {} is live (was {}); servers swap it in on their next poll",
                change.version,
                change
                    .previous
                    .map_or_else(|| "none".to_owned(), |v| v.to_string())
            );
            Ok(Outcome::Success)
        }
        ModelsCommand::Shadow(args) => {
            let mut store = open_existing_for_writing(&args.db.db)?;
            if let Some(version) = args.version {
                let at = showrunner_model::Timestamp::from_millis(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64),
                );
                let setting = store.start_shadow(version, &actor(args.by), at)?;
                println!(
                    "shadowing version {}; servers start on their next poll (figures: GET \
                     /v1/models/shadow)",
                    setting.version
                );
            } else if args.stop {
                match store.stop_shadow()? {
                    Some(setting) => println!(
                        "stopped shadowing version {}; servers stop on their next poll",
                        setting.version
                    ),
                    None => println!("no model version was shadowed"),
                }
            } else {
                match store.shadow()? {
                    Some(setting) => println!(
                        "shadowing version {} since {} (by {})",
                        setting.version,
                        setting.started_at.to_rfc3339(),
                        setting.started_by
                    ),
                    None => println!("no model version is shadowed"),
                }
            }
            Ok(Outcome::Success)
        }
        ModelsCommand::Rollback(args) => {
            let mut store = open_existing_for_writing(&args.db.db)?;
            let change = store.rollback(args.version, &actor(args.by))?;
            println!(
                "rolled back: version {} is live again (was {}); servers swap it in on their \
                 next poll",
                change.version,
                change
                    .previous
                    .map_or_else(|| "none".to_owned(), |v| v.to_string())
            );
            Ok(Outcome::Success)
        }
    }
}
