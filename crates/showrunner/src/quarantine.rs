//! `showrunner quarantine`: list the rows that failed validation, or export them all.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use showrunner_model::ProblemKind;
use showrunner_store::QuarantineFilter;

use crate::exit::Outcome;
use crate::import::{open_existing_store, thousands};

#[derive(Debug, clap::Args)]
pub struct QuarantineArgs {
    #[command(flatten)]
    db: crate::DbArgs,
    /// Only rows quarantined for this reason (e.g. unknown_title, bad_timestamp).
    #[arg(long)]
    reason: Option<String>,
    /// Only rows whose source path contains this text.
    #[arg(long)]
    source: Option<String>,
    /// At most this many rows (listing only; --export writes them all).
    #[arg(long, default_value_t = 50)]
    limit: u64,
    /// Write every matching row as JSON lines to this file ("-" for stdout).
    #[arg(long)]
    export: Option<PathBuf>,
}

pub fn run(args: QuarantineArgs) -> anyhow::Result<Outcome> {
    let store = open_existing_store(&args.db.db)?;
    let reason = match &args.reason {
        Some(code) => Some(ProblemKind::from_code(code).with_context(|| {
            let known: Vec<&str> = ProblemKind::ALL.iter().map(|kind| kind.code()).collect();
            format!(
                "--reason {code:?} is not a known reason; known: {}",
                known.join(", ")
            )
        })?),
        None => None,
    };
    let mut filter = QuarantineFilter {
        reason,
        source_contains: args.source.clone(),
        limit: Some(args.limit),
        offset: 0,
    };
    if let Some(path) = &args.export {
        let mut writer: Box<dyn Write> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            ))
        };
        filter.limit = Some(10_000);
        let mut written = 0u64;
        loop {
            let rows = store.quarantine(&filter)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                serde_json::to_writer(&mut writer, row)?;
                writer.write_all(b"\n")?;
            }
            written += rows.len() as u64;
            filter.offset += rows.len() as u64;
        }
        writer.flush()?;
        if path.as_os_str() != "-" {
            eprintln!(
                "exported {} quarantined rows to {}",
                thousands(written),
                path.display()
            );
        }
        return Ok(Outcome::Success);
    }
    let counts = store.quarantine_counts()?;
    let total: u64 = counts.iter().map(|(_, count)| count).sum();
    println!("{} quarantined rows", thousands(total));
    for (kind, count) in &counts {
        println!("  {:<22}{:>12}", kind.code(), thousands(*count));
    }
    let rows = store.quarantine(&filter)?;
    if !rows.is_empty() {
        println!();
    }
    for row in rows {
        let raw: String = row.raw.chars().take(120).collect();
        println!(
            "{}:{}  {}  {}",
            row.source,
            row.line,
            row.reason_text(),
            raw
        );
    }
    Ok(Outcome::Success)
}
