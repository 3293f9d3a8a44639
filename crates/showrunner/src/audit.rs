//! `showrunner audit verify`: walks the audit log's hash chain and reports OK with the
//! number of entries and the head hash (write it down elsewhere to catch truncation later),
//! or the first broken entry (exit code 1).

use std::path::PathBuf;

use showrunner_store::AuditVerification;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check the hash chain: OK, or the first entry that was edited, inserted or removed.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// The SQLite database file.
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
}

pub fn run(args: AuditArgs) -> anyhow::Result<Outcome> {
    let AuditCommand::Verify(args) = args.command;
    let store = crate::import::open_existing_store(&args.db)?;
    match store.verify_audit()? {
        AuditVerification::Intact { rows, head } => {
            let head: String = head.iter().map(|b| format!("{b:02x}")).collect();
            println!("OK: {rows} audit entries, chain intact, head {head}");
            Ok(Outcome::Success)
        }
        AuditVerification::Broken {
            id,
            rows_checked,
            reason,
        } => {
            println!(
                "BROKEN at entry {id}: {reason} ({rows_checked} entries before it are intact)"
            );
            Ok(Outcome::Findings)
        }
    }
}
