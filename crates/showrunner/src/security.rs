//! `showrunner security scan`: runs the threat detectors (showrunner-security) over the
//! login and play events of a JSONL file or of the database, in time order, and prints the
//! findings with their evidence (a table, or JSON with `--json`). With `--record` the
//! findings are stored in the database too, by the same code as the pass of `serve`
//! (`showrunner_server::threats::record_findings`). Exit code 1 when there are findings.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;
use showrunner_model::{Event, EventBody, EventKind};
use showrunner_security::{Finding, Scanner, SecurityConfig};
use showrunner_server::threats::{StoredFinding, record_findings, settings_version};
use showrunner_store::EventFilter;

use crate::exit::Outcome;
use crate::progress::{cancel_flag, counter_bar};

#[derive(Debug, clap::Args)]
pub struct SecurityArgs {
    #[command(subcommand)]
    pub which: SecurityCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SecurityCommand {
    /// Scan login and play events for credential stuffing, brute force, account takeover,
    /// impossible travel and account sharing.
    Scan(ScanArgs),
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// A JSONL file of events (other kinds and unparsable lines are skipped and counted).
    #[arg(long, conflicts_with = "db", required_unless_present = "db")]
    pub events: Option<PathBuf>,
    /// Read the logins and plays from this database instead.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// A JSON file overriding detector settings (any subset of the documented defaults in
    /// docs/security.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the findings as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Store the findings in the database given with --db (a finding stored before is
    /// updated, not added again); `GET /v1/security/findings` lists them.
    #[arg(long, requires = "db")]
    pub record: bool,
}

pub fn run(args: SecurityArgs) -> anyhow::Result<Outcome> {
    match args.which {
        SecurityCommand::Scan(args) => scan(&args),
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<SecurityConfig> {
    let Some(path) = path else {
        return Ok(SecurityConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing settings in {}", path.display()))
}

/// Logins and plays of a JSONL file, and how many lines were skipped as unparsable.
fn read_file(path: &Path) -> anyhow::Result<(Vec<Event>, u64)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut events = Vec::new();
    let mut skipped = 0;
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(&line) {
            Ok(event) if matches!(event.body, EventBody::Login(_) | EventBody::Play(_)) => {
                events.push(event);
            }
            Ok(_) => {}
            Err(_) => skipped += 1,
        }
    }
    Ok((events, skipped))
}

fn read_db(path: &Path) -> anyhow::Result<Vec<Event>> {
    let store = crate::import::open_existing_store(path)?;
    let mut events = Vec::new();
    for kind in [EventKind::Login, EventKind::Play] {
        events.extend(store.events(&EventFilter::all(kind)).with_context(|| {
            format!("reading {} events from {}", kind.as_str(), path.display())
        })?);
    }
    Ok(events)
}

/// Stores the findings in the database at `db` (read-write) and returns what was recorded.
fn record(
    db: &Path,
    findings: &[Finding],
    config: &SecurityConfig,
) -> anyhow::Result<Vec<StoredFinding>> {
    let version = settings_version(config);
    let context = || format!("recording findings in {}", crate::import::shown(db));
    let mut store = crate::import::open_store(db).with_context(context)?;
    record_findings(&mut *store, findings, &version).with_context(context)
}

fn scan(args: &ScanArgs) -> anyhow::Result<Outcome> {
    // Checked here as well as by clap: a flag's `requires` is not enforced when the flag
    // is given beside an argument that conflicts with the required one.
    if args.record && args.db.is_none() {
        anyhow::bail!("--record stores findings in a database: give it with --db PATH");
    }
    let config = load_config(args.config.as_deref())?;
    let (mut events, skipped) = match (&args.events, &args.db) {
        (Some(file), _) => read_file(file)?,
        (None, Some(db)) => (read_db(db)?, 0),
        (None, None) => anyhow::bail!("give --events FILE or --db PATH"),
    };
    events.sort_by_key(|event| event.ts);

    let cancel = cancel_flag();
    let bar = counter_bar(events.len() as u64, "events");
    let mut scanner = Scanner::new(&config);
    for (index, event) in events.iter().enumerate() {
        if index % 16_384 == 0 {
            if cancel.load(Ordering::SeqCst) {
                bar.finish_and_clear();
                eprintln!("interrupted after {index} events: no findings reported");
                return Ok(Outcome::Interrupted);
            }
            bar.set_position(index as u64);
        }
        scanner.observe(event);
    }
    bar.finish_and_clear();
    let scanned = scanner.events_seen();
    let findings = scanner.finish();
    let recorded = match (&args.db, args.record) {
        (Some(db), true) => {
            let stored = record(db, &findings, &config)?;
            let new = stored.iter().filter(|f| f.is_new).count();
            Some((new, stored.len() - new))
        }
        _ => None,
    };

    if args.json {
        let mut report = serde_json::json!({
            "events_scanned": scanned,
            "lines_skipped": skipped,
            "findings": findings,
        });
        if let Some((new, updated)) = recorded {
            report["recorded"] = serde_json::json!({"new": new, "updated": updated});
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&findings);
        println!(
            "{} findings in {scanned} login and play events{}",
            findings.len(),
            if skipped > 0 {
                format!(" ({skipped} unparsable lines skipped)")
            } else {
                String::new()
            }
        );
        if let Some((new, updated)) = recorded {
            println!("recorded in the database: {new} new, {updated} updated");
        }
    }
    Ok(if findings.is_empty() {
        Outcome::Success
    } else {
        Outcome::Findings
    })
}

fn listed(items: &[String], total: u64) -> String {
    let shown: Vec<&str> = items.iter().take(3).map(String::as_str).collect();
    let more = total.saturating_sub(shown.len() as u64);
    if more > 0 {
        format!("{} (+{more})", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn print_table(findings: &[Finding]) {
    for finding in findings {
        let who = if finding.source.is_empty() {
            listed(&finding.accounts, finding.account_count)
        } else {
            format!("{}: {} accounts", finding.source, finding.account_count)
        };
        println!(
            "{:<19} {} .. {}  {who}  [ips: {}]  {}",
            finding.kind.as_str(),
            finding.start,
            finding.end,
            listed(&finding.ips, finding.ips.len() as u64),
            finding.reason
        );
    }
}
