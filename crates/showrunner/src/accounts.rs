//! `showrunner accounts create`: makes an operator account (for `POST /v1/auth/login`).
//! The password is read from stdin (one line), or asked for twice without echo on a
//! terminal; it must pass the same policy as `POST /v1/accounts` and is stored only as an
//! Argon2id hash. The creation is written to the audit log with the actor `cli`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{Context, bail};
use showrunner_store::AuditEntry;
use zeroize::Zeroizing;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct AccountsArgs {
    #[command(subcommand)]
    command: AccountsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AccountsCommand {
    /// Create an account; the password comes from stdin (or a prompt on a terminal).
    Create(CreateArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    /// Everything, including accounts and the audit log.
    Admin,
    /// Content analytics, no personal data.
    Analyst,
    /// Monitoring, alerts and jobs.
    Operator,
    /// Ingest and read, like an app's API key.
    Service,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The SQLite database file (created if missing).
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
    /// The user name: letters a-z, digits and . _ - @ (normalised: NFKC, lower case).
    #[arg(long)]
    user: String,
    /// What the account may do.
    #[arg(long, value_enum)]
    role: RoleArg,
}

fn read_password() -> anyhow::Result<Zeroizing<String>> {
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(rpassword::prompt_password("Password (15+ characters): ")?);
        let second = Zeroizing::new(rpassword::prompt_password("Again: ")?);
        if *first != *second {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    Ok(trimmed)
}

pub fn run(args: AccountsArgs) -> anyhow::Result<Outcome> {
    match args.command {
        AccountsCommand::Create(args) => create(args),
    }
}

fn create(args: CreateArgs) -> anyhow::Result<Outcome> {
    let role = match args.role {
        RoleArg::Admin => "admin",
        RoleArg::Analyst => "analyst",
        RoleArg::Operator => "operator",
        RoleArg::Service => "service",
    };
    let config = showrunner_server::Config::load(None, std::env::vars())?;
    let hasher = showrunner_server::password::Hasher::new(&config.security)?;
    let password = read_password()?;
    let (username, phc) =
        showrunner_server::accounts::prepare_account(&hasher, &args.user, &password, role)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let mut store = crate::import::open_store(&args.db)?;
    let Some(id) = store.create_account(&username, &phc, role)? else {
        bail!(
            "an account named {username:?} already exists in {}",
            args.db.display()
        );
    };
    store.append_audit(&AuditEntry {
        at: showrunner_model::Timestamp::from_millis(crate::import::now_millis()),
        actor: "cli".into(),
        action: "account_created".into(),
        target: format!("account:{id}"),
        outcome: "ok".into(),
        ip: String::new(),
        detail: serde_json::json!({"username": username, "role": role}).to_string(),
    })?;
    eprintln!(
        "created account {id} {username:?} with role {role} in {}",
        args.db.display()
    );
    Ok(Outcome::Success)
}
