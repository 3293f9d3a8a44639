//! Shared fixtures for the integration tests: a fixed clock, a small known catalog, a fake
//! store sink (deduplicating by event id, as the real store does) and helpers to write
//! inputs into a temporary directory.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use showrunner_ingest::{
    CleaningRules, ImportOptions, ImportSummary, IngestError, KnownEntities, KnownTitle,
    NoProgress, SinkError, plan_inputs, run_import,
};
use showrunner_model::{Batch, BatchOutcome, Timestamp, TitleKind};

pub const NOW: &str = "2026-10-15T12:00:00Z";

pub fn rules() -> CleaningRules {
    CleaningRules::at(Timestamp::parse(NOW).expect("valid fixed clock"))
}

/// Members m1..m3; t1 a 2-hour movie, t2 a movie of unknown length, s1 a series.
pub fn known() -> KnownEntities {
    let mut known = KnownEntities::default();
    for member in ["m1", "m2", "m3"] {
        known.members.insert(member.to_owned());
    }
    known.titles.insert(
        "t1".to_owned(),
        KnownTitle {
            kind: TitleKind::Movie,
            duration_s: Some(7200),
        },
    );
    known.titles.insert(
        "t2".to_owned(),
        KnownTitle {
            kind: TitleKind::Movie,
            duration_s: None,
        },
    );
    known.titles.insert(
        "s1".to_owned(),
        KnownTitle {
            kind: TitleKind::Series,
            duration_s: None,
        },
    );
    known
}

/// A store stand-in: keeps every batch and deduplicates events by id.
#[derive(Default)]
pub struct FakeStore {
    pub batches: Vec<Batch>,
    pub event_ids: HashSet<String>,
}

impl FakeStore {
    pub fn take(&mut self, batch: &Batch) -> Result<BatchOutcome, SinkError> {
        let mut outcome = BatchOutcome {
            titles_upserted: batch.titles.len() as u64,
            members_upserted: batch.members.len() as u64,
            quarantined_new: batch.quarantined.len() as u64,
            ..BatchOutcome::default()
        };
        for event in &batch.events {
            if self.event_ids.insert(event.id.clone()) {
                outcome.events_accepted += 1;
            } else {
                outcome.events_duplicate += 1;
            }
        }
        self.batches.push(batch.clone());
        Ok(outcome)
    }

    pub fn all(&self) -> Batch {
        let mut all = Batch::default();
        for batch in &self.batches {
            all.titles.extend(batch.titles.iter().cloned());
            all.members.extend(batch.members.iter().cloned());
            all.events.extend(batch.events.iter().cloned());
            all.quarantined.extend(batch.quarantined.iter().cloned());
        }
        all
    }
}

pub fn write_file(directory: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = directory.join(name);
    let mut file = std::fs::File::create(&path).expect("create fixture");
    file.write_all(bytes).expect("write fixture");
    path
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 1).expect("zstd")
}

/// Plans and imports `paths` with default options and the fixture catalog, asserting the
/// row identity, and returns the summary and what the store received.
pub fn import(
    paths: &[PathBuf],
    known: KnownEntities,
) -> Result<(ImportSummary, FakeStore), IngestError> {
    import_with(paths, known, 50_000)
}

pub fn import_with(
    paths: &[PathBuf],
    known: KnownEntities,
    batch_rows: usize,
) -> Result<(ImportSummary, FakeStore), IngestError> {
    let inputs = plan_inputs(paths, None)?;
    let options = ImportOptions {
        rules: rules(),
        batch_rows,
        create_unknown_members: None,
        ..ImportOptions::default()
    };
    let mut store = FakeStore::default();
    let summary = run_import(
        &inputs,
        &options,
        known,
        &mut |batch| store.take(batch),
        &NoProgress,
        &AtomicBool::new(false),
    )?;
    assert!(
        summary.rows_balance(),
        "rows_read {} != accepted {} + duplicate {} + quarantined {} + titles {} + members {}",
        summary.rows_read,
        summary.events_accepted,
        summary.events_duplicate,
        summary.quarantined_total(),
        summary.titles,
        summary.members
    );
    Ok((summary, store))
}
