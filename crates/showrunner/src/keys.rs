//! `showrunner keys create`: makes an API key for the HTTP service, stores its hash and
//! prints the key alone on stdout (it is shown only this once).

use std::path::PathBuf;

use showrunner_server::Scope;
use showrunner_store::ServerStore;

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
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScopeArg {
    /// POST /v1/events.
    Ingest,
    /// Recommendations, home page, similar, trending.
    Read,
    /// Monitoring: alerts, history, silences, series, notifications.
    Operator,
    /// Everything, including /metrics.
    Admin,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The SQLite database file (created if missing).
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
    /// What the key may do.
    #[arg(long, value_enum)]
    scope: ScopeArg,
}

pub fn run(args: KeysArgs) -> anyhow::Result<Outcome> {
    match args.command {
        KeysCommand::Create(args) => {
            let scope = match args.scope {
                ScopeArg::Ingest => Scope::Ingest,
                ScopeArg::Read => Scope::Read,
                ScopeArg::Operator => Scope::Operator,
                ScopeArg::Admin => Scope::Admin,
            };
            let mut store = crate::import::open_store(&args.db)?;
            let (key, hash) = showrunner_server::generate_key();
            let id = store.create_api_key(&hash, scope.as_str())?;
            eprintln!(
                "created key {id} with scope {} in {} (shown once; only its hash is stored)",
                scope.as_str(),
                args.db.display()
            );
            println!("{key}");
            Ok(Outcome::Success)
        }
    }
}
