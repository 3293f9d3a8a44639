//! `showrunner import`: plan the inputs, open the store, stream every file through the
//! cleaning pipeline into it, and summarise what happened.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use serde::Serialize;
use showrunner_ingest::SinkError;
use showrunner_ingest::{
    Format, ImportOptions, ImportSummary, InputFile, KnownEntities, KnownTitle,
};
use showrunner_model::{Batch, BatchOutcome};
use showrunner_store::{
    Backend, DerivedSummary, Durability, ImportLog, ServerStore, SqliteStore, Store, StoreCounts,
    StoreLocation,
};

use crate::exit::Outcome;
use crate::progress::{ImportProgress, cancel_flag};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    db: crate::DbArgs,
    /// Read every file as this format instead of detecting it: jsonl, csv, movielens-ratings,
    /// movielens-movies, ml100k-data, ml100k-item, movietweetings-ratings,
    /// movietweetings-movies, netflix-catalog.
    #[arg(long)]
    format: Option<Format>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Threads parsing JSONL besides the one writing to the database (default: chosen from
    /// the number of cores).
    #[arg(long)]
    parse_threads: Option<usize>,
    /// Files to import. Catalog and member files are imported before event files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// What one import did, as printed at the end and returned to `demo`.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub summary: ImportSummary,
    pub derived: DerivedSummary,
    pub empty_inputs: Vec<PathBuf>,
    /// The process's peak resident memory so far (Linux only), for the memory benchmark.
    pub peak_rss_bytes: Option<u64>,
}

impl ImportReport {
    pub fn outcome(&self) -> Outcome {
        if self.summary.interrupted {
            Outcome::Interrupted
        } else if self.summary.quarantined_total() > 0 || !self.empty_inputs.is_empty() {
            Outcome::Findings
        } else {
            Outcome::Success
        }
    }
}

pub fn run(args: ImportArgs) -> anyhow::Result<Outcome> {
    let inputs = showrunner_ingest::plan_inputs(&args.files, args.format)?;
    let location = StoreLocation::from_path(&args.db.db)?;
    let cancel = cancel_flag();
    let mut options = ImportOptions::default();
    if let Some(threads) = args.parse_threads {
        options.parse_threads = threads;
    }
    let report = match &location {
        StoreLocation::Sqlite(path) => {
            let mut store = SqliteStore::open(path)?;
            let report = import_into(&mut store, &inputs, &options, &cancel)?;
            store
                .checkpoint()
                .context("checkpointing the write-ahead log")?;
            report
        }
        StoreLocation::Postgres(_) => {
            let mut store = location.open()?;
            import_into(store.as_mut(), &inputs, &options, &cancel)?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", format_report(&report));
    }
    Ok(report.outcome())
}

/// Opens an existing database for reading only (never creates one), for the commands that
/// only look. `path` is an SQLite file, `sqlite://PATH` or a `postgres://` URL.
pub fn open_existing_store(path: &Path) -> anyhow::Result<Box<dyn Backend>> {
    Ok(StoreLocation::from_path(path)?.open_read_only()?)
}

/// Opens (creating and migrating if needed) the database, with its location in any error.
pub fn open_store(path: &Path) -> anyhow::Result<Box<dyn Backend>> {
    Ok(StoreLocation::from_path(path)?.open()?)
}

/// Opens an existing database for writing: an SQLite file that is not there is an error
/// (never created), a PostgreSQL database is migrated if needed.
pub fn open_existing_for_writing(path: &Path) -> anyhow::Result<Box<dyn Backend>> {
    let location = StoreLocation::from_path(path)?;
    if let StoreLocation::Sqlite(file) = &location
        && !file.exists()
    {
        anyhow::bail!("{} does not exist", file.display());
    }
    Ok(location.open()?)
}

/// The database as messages name it: the path, or the URL without its password.
pub fn shown(path: &Path) -> String {
    match StoreLocation::from_path(path) {
        Ok(location) => location.to_string(),
        Err(_) => showrunner_store::redact_url(&path.display().to_string()),
    }
}

/// Writes the import's batches: each is committed without waiting for the disk
/// ([`ServerStore::write_batches_then_sync`]; on SQLite that fsync cost the writer a fifth
/// of an import's time) and a thread of its own makes the commits durable, one fsync for
/// every commit waiting, while the next batch is written. Nothing is reported accepted
/// before [`SyncedWriter::settle`] has waited for the last of them.
struct SyncedWriter {
    pending: Option<std::sync::mpsc::Sender<Durability>>,
    thread: Option<std::thread::JoinHandle<Result<(), showrunner_store::StoreError>>>,
}

impl SyncedWriter {
    fn start() -> Self {
        let (sender, receiver) = std::sync::mpsc::channel::<Durability>();
        let thread = std::thread::Builder::new()
            .name("showrunner-sync".into())
            .spawn(move || {
                while let Ok(mut latest) = receiver.recv() {
                    // A later commit's fsync covers every earlier one.
                    while let Ok(later) = receiver.try_recv() {
                        latest = later;
                    }
                    latest.wait()?;
                }
                Ok(())
            })
            .ok();
        SyncedWriter {
            pending: thread.as_ref().map(|_| sender),
            thread,
        }
    }

    fn join(&mut self) -> anyhow::Result<()> {
        self.pending = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => Ok(result.context("making the imported batches durable")?),
            Some(Err(_)) => anyhow::bail!("the thread making imported batches durable failed"),
        }
    }

    fn write<S: ServerStore + ?Sized>(
        &mut self,
        store: &mut S,
        batch: &Batch,
    ) -> Result<BatchOutcome, SinkError> {
        let (mut outcomes, durability) =
            store.write_batches_then_sync(std::slice::from_ref(batch))?;
        let outcome = outcomes
            .pop()
            .ok_or("the store returned no outcome for a batch")?;
        let unsent = match &self.pending {
            Some(pending) => pending.send(durability).err().map(|unsent| unsent.0),
            None => Some(durability),
        };
        if let Some(durability) = unsent {
            // No thread (it could not start), or it stopped on an error: wait here, which
            // reports the error if there is one.
            self.join()
                .map_err(|error| -> SinkError { format!("{error:#}").into() })?;
            durability.wait()?;
        }
        Ok(outcome)
    }

    /// Waits until every batch written so far is durable.
    fn settle(&mut self) -> anyhow::Result<()> {
        self.join()
    }
}

impl Drop for SyncedWriter {
    fn drop(&mut self) {
        // Batches written before an error are still made durable.
        let _ = self.join();
    }
}

/// Streams `inputs` into `store`, then refreshes derived tables and logs the import.
pub fn import_into<S: ServerStore + ?Sized>(
    store: &mut S,
    inputs: &[InputFile],
    options: &ImportOptions,
    cancel: &AtomicBool,
) -> anyhow::Result<ImportReport> {
    let started_at = showrunner_model::Timestamp::from_millis(now_millis());
    let known = known_entities(store)?;
    let progress = ImportProgress::new();
    let mut writer = SyncedWriter::start();
    let mut sink = |batch: &Batch| writer.write(store, batch);
    let result =
        showrunner_ingest::run_import(inputs, options, known, &mut sink, &progress, cancel);
    progress.finish();
    // Whatever happened, the batches written are made durable before anything is reported.
    writer.settle()?;
    let summary =
        result.context("import failed; every batch acknowledged before the failure is kept")?;
    let derived = store.refresh_derived().context("refreshing views")?;
    let empty_inputs = summary
        .files
        .iter()
        .filter(|file| file.rows_read == 0)
        .map(|file| file.path.clone())
        .collect();
    store
        .record_import(&ImportLog {
            sources: inputs
                .iter()
                .map(|input| input.path.display().to_string())
                .collect(),
            started_at,
            finished_at: showrunner_model::Timestamp::from_millis(now_millis()),
            interrupted: summary.interrupted,
            counts: serde_json::to_value(&summary)?,
        })
        .context("recording the import in the log")?;
    Ok(ImportReport {
        summary,
        derived,
        empty_inputs,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

fn known_entities<S: Store + ?Sized>(store: &S) -> anyhow::Result<KnownEntities> {
    let mut known = KnownEntities::default();
    for title in store.known_titles()? {
        known.titles.insert(
            title.id,
            KnownTitle {
                kind: title.kind,
                duration_s: title.duration_s,
            },
        );
    }
    known.members.extend(store.known_members()?);
    Ok(known)
}

/// Peak resident set size of this process, from `VmHWM` in `/proc/self/status`.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Groups digits by thousands: 1234567 -> "1,234,567".
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub fn format_report(report: &ImportReport) -> String {
    use std::fmt::Write;
    let summary = &report.summary;
    let mut out = String::new();
    let seconds = summary.elapsed.as_secs_f64();
    let rate = summary.rows_read as f64 / seconds.max(1e-9);
    let _ = writeln!(
        out,
        "{} {} file(s) in {seconds:.1} s ({} rows/s)",
        if summary.interrupted {
            "INTERRUPTED after importing"
        } else {
            "imported"
        },
        summary.files.len(),
        thousands(rate as u64)
    );
    let quarantined = summary.quarantined_total();
    for (label, value) in [
        ("rows read", summary.rows_read),
        ("titles", summary.titles),
        ("members", summary.members),
        ("members implied", summary.members_implied),
        ("events accepted", summary.events_accepted),
        ("duplicates merged", summary.events_duplicate),
        ("quarantined", quarantined),
    ] {
        let _ = writeln!(out, "  {label:<22}{:>14}", thousands(value));
    }
    for (reason, count) in &summary.quarantined {
        let _ = writeln!(out, "    {:<20}{:>14}", reason.code(), thousands(*count));
    }
    if summary.warnings.catalog_rows_repaired > 0 {
        let _ = writeln!(
            out,
            "  note: {} catalog rows repaired (a runtime found in the rating column)",
            thousands(summary.warnings.catalog_rows_repaired)
        );
    }
    if summary.warnings.unmappable_countries_dropped > 0 {
        let _ = writeln!(
            out,
            "  note: {} production countries with no ISO code dropped from their titles (the titles were kept)",
            thousands(summary.warnings.unmappable_countries_dropped)
        );
    }
    if quarantined > 0 {
        let _ = writeln!(
            out,
            "  (see `showrunner quarantine` for the rows and their reasons)"
        );
    }
    let _ = writeln!(
        out,
        "  {:<22}{:>14}",
        "views (sessions)",
        thousands(report.derived.views)
    );
    let _ = writeln!(
        out,
        "  {:<22}{:>14}",
        "non-human views",
        thousands(report.derived.non_human_views)
    );
    for path in &report.empty_inputs {
        let _ = writeln!(
            out,
            "warning: {} is empty: nothing imported from it",
            path.display()
        );
    }
    out
}

pub fn format_counts(counts: &StoreCounts) -> String {
    serde_json::to_string_pretty(counts).unwrap_or_default()
}
