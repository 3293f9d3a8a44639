//! `showrunner migrate --from PATH --to postgres://…`: copies an embedded SQLite store into
//! another store (PostgreSQL, the point of it) through the store's own API, then verifies
//! that both hold the same counts.
//!
//! Resumable by construction: every write is idempotent (titles and members are upserts,
//! events are exactly-once by id, quarantined rows dedup, keys and models are copied only
//! when the target lacks them), so re-running after a Ctrl-C, a crash or a lost connection
//! continues without duplicating anything. An event kind whose count already matches is
//! skipped without reading it. Views are derived again on the target from the plays (they
//! are maxima and minima over a session's plays, so they come out the same), and the
//! non-human flags by `refresh_derived`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use showrunner_model::{Batch, EventKind, Timestamp};
use showrunner_store::{
    EventFilter, ImportRecord, QuarantineFilter, ServerStore, SqliteStore, Store, StoreCounts,
    StoreLocation,
};

use crate::exit::Outcome;
use crate::import::thousands;
use crate::progress::{cancel_flag, counter_bar};

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The SQLite database to copy (read only; never changed).
    #[arg(long)]
    from: PathBuf,
    /// Where to copy it: a postgres://user:password@host/database URL (or another SQLite
    /// file). Created and migrated if needed.
    #[arg(long)]
    to: String,
    /// Rows per write to the target.
    #[arg(long, default_value_t = 20_000)]
    batch: usize,
    /// Print the verification as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Events are read from the source one time window at a time, so memory stays bounded.
const WINDOW_MS: i64 = 3_600_000;

pub fn run(args: MigrateArgs) -> anyhow::Result<Outcome> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let source_location = StoreLocation::from_path(&args.from)?;
    let StoreLocation::Sqlite(source_path) = &source_location else {
        bail!(
            "--from must be an SQLite database file, not {source_location}: migrate copies an \
             embedded store into a server"
        );
    };
    let target_location = StoreLocation::parse(&args.to)?;
    if target_location == source_location {
        bail!("--from and --to name the same database ({source_location})");
    }
    let source = SqliteStore::open_read_only(source_path)
        .with_context(|| format!("opening the source {}", source_path.display()))?;
    let mut target = target_location
        .open()
        .with_context(|| format!("opening the target {target_location}"))?;
    let cancel = cancel_flag();
    eprintln!("copying {source_location} into {target_location}");
    let copied = copy(&source, target.as_mut(), args.batch, &cancel)?;
    if !copied {
        eprintln!("interrupted: what was copied is kept; run the same command again to continue");
        return Ok(Outcome::Interrupted);
    }
    let derived = target
        .refresh_derived()
        .context("deriving views on the target")?;
    tracing::info!(views = derived.views, "views derived on the target");
    let verification = verify(&source, target.as_ref())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verification)?);
    } else {
        print!("{}", verification.table(&source_location, &target_location));
    }
    if !verification.matches() {
        bail!(
            "the copy does not match: see the differing lines above (re-running the command \
             continues an interrupted copy)"
        );
    }
    eprintln!("verified: {target_location} holds everything {source_location} holds");
    Ok(Outcome::Success)
}

/// Copies everything; `false` when stopped by Ctrl-C.
fn copy(
    source: &SqliteStore,
    target: &mut dyn ServerStore,
    batch_rows: usize,
    cancel: &AtomicBool,
) -> anyhow::Result<bool> {
    let stopped = || cancel.load(Ordering::SeqCst);

    // The catalog and the members first: the importer on the target validates against them.
    let titles = source.titles().context("reading the source's titles")?;
    for chunk in titles.chunks(batch_rows) {
        target.write_batch(&Batch {
            titles: chunk.to_vec(),
            ..Batch::default()
        })?;
    }
    let member_ids = source.known_members()?;
    for ids in member_ids.chunks(batch_rows) {
        if stopped() {
            return Ok(false);
        }
        let mut members = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(member) = source.member(id)? {
                members.push(member);
            }
        }
        target.write_batch(&Batch {
            members,
            ..Batch::default()
        })?;
    }
    eprintln!(
        "  {} titles, {} members",
        thousands(titles.len() as u64),
        thousands(member_ids.len() as u64)
    );

    // Events, kind by kind, in time windows.
    let source_counts = source.counts()?;
    let target_counts = target.counts()?;
    let total: u64 = source_counts.events_total();
    let bar = counter_bar(total, "events");
    for kind in EventKind::ALL {
        let wanted = source_counts.events_of(kind);
        if wanted == 0 || target_counts.events_of(kind) == wanted {
            bar.inc(wanted);
            continue;
        }
        if !copy_events(source, target, kind, wanted, batch_rows, cancel, &bar)? {
            bar.abandon();
            return Ok(false);
        }
    }
    bar.finish_and_clear();

    // The quarantine, in pages (dedup on the target makes a re-run add nothing).
    let mut offset = 0;
    loop {
        if stopped() {
            return Ok(false);
        }
        let rows = source.quarantine(&QuarantineFilter {
            limit: Some(batch_rows as u64),
            offset,
            ..QuarantineFilter::default()
        })?;
        if rows.is_empty() {
            break;
        }
        offset += rows.len() as u64;
        target.write_batch(&Batch {
            quarantined: rows.into_iter().map(|row| row.into_quarantined()).collect(),
            ..Batch::default()
        })?;
    }

    // The import log: records the target does not have yet.
    let present = target.imports()?;
    let has = |record: &ImportRecord| {
        present.iter().any(|other| {
            other.log.sources == record.log.sources && other.log.started_at == record.log.started_at
        })
    };
    for record in source.imports()? {
        if !has(&record) {
            target.record_import(&record.log)?;
        }
    }

    // API keys (hashes only; a revoked key is not copied: it could never be used again).
    let target_keys = target.api_keys()?;
    for key in source.api_keys()? {
        if !key.revoked && !target_keys.iter().any(|k| k.key_hash == key.key_hash) {
            target.create_api_key(&key.key_hash, &key.scope)?;
        }
    }

    // Published models, oldest first, so that versions keep their numbers on an empty target.
    let target_latest = target.latest_model()?.map_or(0, |info| info.version);
    if let Some(latest) = source.latest_model()? {
        for version in (target_latest + 1)..=latest.version {
            if let Some(model) = source.published_model(version)? {
                target.publish_model(&model.manifest, &model.blob)?;
            }
        }
    }
    Ok(true)
}

/// Copies one kind's events window by window, jumping over empty stretches; `false` when
/// stopped by Ctrl-C.
fn copy_events(
    source: &SqliteStore,
    target: &mut dyn ServerStore,
    kind: EventKind,
    wanted: u64,
    batch_rows: usize,
    cancel: &AtomicBool,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<bool> {
    let first = |from: Option<Timestamp>| -> anyhow::Result<Option<Timestamp>> {
        Ok(source
            .events(&EventFilter {
                kind,
                from,
                until: None,
                limit: Some(1),
            })?
            .first()
            .map(|event| event.ts))
    };
    let mut read = 0_u64;
    let mut next = first(None)?;
    while let Some(start) = next {
        if cancel.load(Ordering::SeqCst) {
            return Ok(false);
        }
        // Windows are aligned to the hour, so every event falls in exactly one.
        let from = Timestamp::from_millis(start.millis().div_euclid(WINDOW_MS) * WINDOW_MS);
        let until = Timestamp::from_millis(from.millis() + WINDOW_MS);
        let events = source.events(&EventFilter {
            kind,
            from: Some(from),
            until: Some(until),
            limit: None,
        })?;
        read += events.len() as u64;
        for chunk in events.chunks(batch_rows) {
            target
                .write_batch(&Batch {
                    events: chunk.to_vec(),
                    ..Batch::default()
                })
                .with_context(|| format!("writing {} events", kind.as_str()))?;
            bar.inc(chunk.len() as u64);
        }
        next = if read >= wanted {
            None
        } else {
            first(Some(until))?
        };
    }
    Ok(true)
}

/// Both sides' counts, side by side.
#[derive(Debug, serde::Serialize)]
struct Verification {
    lines: Vec<VerifiedLine>,
}

#[derive(Debug, serde::Serialize)]
struct VerifiedLine {
    what: String,
    source: u64,
    target: u64,
}

impl Verification {
    fn matches(&self) -> bool {
        self.lines.iter().all(|line| line.source == line.target)
    }

    fn table(&self, source: &StoreLocation, target: &StoreLocation) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "source: {source}");
        let _ = writeln!(out, "target: {target}");
        let _ = writeln!(out, "  {:<20}{:>14}{:>14}", "", "source", "target");
        for line in &self.lines {
            let _ = writeln!(
                out,
                "  {:<20}{:>14}{:>14}{}",
                line.what,
                thousands(line.source),
                thousands(line.target),
                if line.source == line.target {
                    ""
                } else {
                    "  DIFFERS"
                }
            );
        }
        out
    }
}

fn verify(source: &SqliteStore, target: &dyn ServerStore) -> anyhow::Result<Verification> {
    let counted = |counts: &StoreCounts| -> Vec<(String, u64)> {
        let mut lines = vec![
            ("titles".to_owned(), counts.titles),
            ("members".to_owned(), counts.members),
        ];
        for kind in EventKind::ALL {
            lines.push((format!("events: {}", kind.as_str()), counts.events_of(kind)));
        }
        lines.push(("views".to_owned(), counts.views));
        lines.push(("non-human views".to_owned(), counts.non_human_views));
        lines.push(("quarantined".to_owned(), counts.quarantined));
        lines
    };
    let source_lines = counted(&source.counts()?);
    let target_lines = counted(&target.counts()?);
    let mut lines: Vec<VerifiedLine> = source_lines
        .into_iter()
        .zip(target_lines)
        .map(|((what, source), (_, target))| VerifiedLine {
            what,
            source,
            target,
        })
        .collect();
    let active_keys = |store: &dyn ServerStore| -> anyhow::Result<u64> {
        Ok(store.api_keys()?.iter().filter(|key| !key.revoked).count() as u64)
    };
    let newest_model = |store: &dyn ServerStore| -> anyhow::Result<u64> {
        Ok(store.latest_model()?.map_or(0, |info| info.version) as u64)
    };
    lines.push(VerifiedLine {
        what: "imports".into(),
        source: source.imports()?.len() as u64,
        target: target.imports()?.len() as u64,
    });
    lines.push(VerifiedLine {
        what: "active api keys".into(),
        source: active_keys(source)?,
        target: active_keys(target)?,
    });
    lines.push(VerifiedLine {
        what: "newest model".into(),
        source: newest_model(source)?,
        target: newest_model(target)?,
    });
    Ok(Verification { lines })
}
