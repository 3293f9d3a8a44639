//! `showrunner keys create`: makes an API key for the HTTP service, stores its hash and
//! prints the key alone on stdout (it is shown only this once). `showrunner keys rotate`
//! (in `rotate.rs`) rotates the master key that wraps personal data's keys.

use std::path::PathBuf;

use showrunner_server::Scope;
use showrunner_store::AuditEntry;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Create a key; prints it alone on stdout.
    Create(CreateArgs),
    /// Re-wrap every member's data key under a new master key (the service keeps running).
    Rotate(crate::rotate::RotateArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScopeArg {
    /// POST /v1/events.
    Ingest,
    /// Recommendations, home page, similar, trending.
    Read,
    /// Monitoring, alerts, scheduled jobs and the model registry (/metrics, /v1/monitor,
    /// /v1/jobs, /v1/models).
    Operator,
    /// Everything, including catalog and member management and accounts.
    Admin,
    /// Content analytics (/v1/analytics/...) and the take rate.
    Analytics,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The database: an SQLite file (created if missing), sqlite://PATH or a
    /// postgres://user:password@host/database URL.
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
    /// What the key may do.
    #[arg(long, value_enum)]
    scope: ScopeArg,
}

pub fn run(args: KeysArgs) -> anyhow::Result<Outcome> {
    match args.command {
        KeysCommand::Rotate(args) => crate::rotate::run(args),
        KeysCommand::Create(args) => {
            let scope = match args.scope {
                ScopeArg::Ingest => Scope::Ingest,
                ScopeArg::Read => Scope::Read,
                ScopeArg::Operator => Scope::Operator,
                ScopeArg::Admin => Scope::Admin,
                ScopeArg::Analytics => Scope::Analytics,
            };
            let mut store = crate::import::open_store(&args.db)?;
            let (key, hash) = showrunner_server::generate_key();
            let id = store.create_api_key(&hash, scope.as_str())?;
            store.append_audit(&AuditEntry {
                at: showrunner_model::Timestamp::from_millis(crate::import::now_millis()),
                actor: "cli".into(),
                action: "key_created".into(),
                target: format!("key:{id}"),
                outcome: "ok".into(),
                ip: String::new(),
                detail: serde_json::json!({"scope": scope.as_str()}).to_string(),
            })?;
            eprintln!(
                "created key {id} with scope {} in {} (shown once; only its hash is stored)",
                scope.as_str(),
                crate::import::shown(&args.db)
            );
            println!("{key}");
            Ok(Outcome::Success)
        }
    }
}
