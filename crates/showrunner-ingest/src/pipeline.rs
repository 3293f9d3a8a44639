//! The streaming import: a worker thread reads, parses and cleans the inputs in order and
//! sends finished batches over a bounded channel to the calling thread, which hands each to
//! the sink (the store). JSONL inputs are parsed by a small pool in parallel when
//! [`ImportOptions::parse_threads`] is above 1 (see `parallel.rs`); the worker still
//! finishes rows and fills batches in file order, so the results are the same. Memory stays
//! flat whatever the input size: at most the channel's few batches, the one being filled,
//! one spent batch kept for reuse and a few chunks of input are alive at once.
//!
//! Counting is done on the calling thread from what the sink acknowledged, so the summary
//! describes exactly what is durable, including after a cancellation or an error, and the
//! identity `rows_read == events_accepted + events_duplicate + quarantined + titles +
//! members` holds for every run.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};
use serde::{Serialize, Serializer};

use showrunner_model::{Batch, BatchOutcome, Member, Problem, ProblemKind, Quarantined, Record};

use crate::clean::{Cleaner, CleaningRules, CleaningWarnings, KnownEntities};
use crate::error::{IngestError, SinkError};
use crate::format::{Format, decompress};
use crate::parallel::{read_jsonl_parallel, recycle_event_strings};
use crate::plan::InputFile;
use crate::readers::read_rows;

/// How to run an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub rules: CleaningRules,
    /// Rows (accepted or quarantined) per batch handed to the sink.
    pub batch_rows: usize,
    /// Create a bare member for an unknown member id instead of quarantining its events.
    /// `None` uses the format's default: on for rating datasets (MovieLens, MovieTweetings),
    /// which have no member table, off for JSONL and CSV.
    pub create_unknown_members: Option<bool>,
    /// Threads parsing JSONL inputs in parallel (0 or 1 = everything on the one worker
    /// thread, which costs the least CPU an event; more use more cores at some CPU cost for
    /// handing rows between threads). Results do not depend on it: rows are finished and
    /// batched in file order either way. Other formats are always read on one thread.
    pub parse_threads: usize,
}

/// One parser per core the sink (the store's writer, which needs a core of its own) leaves
/// free, from one to four. On two cores one parser measured faster than two with a real
/// store: the second parser's hand-off costs more CPU than it saves.
fn default_parse_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| (cores.get() - 1).clamp(1, 4))
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            rules: CleaningRules::default(),
            batch_rows: 50_000,
            create_unknown_members: None,
            parse_threads: default_parse_threads(),
        }
    }
}

/// Progress reporting (a progress bar in the binary). Called on the calling thread.
pub trait Progress: Sync {
    /// Once, with the total size of all inputs on disk.
    fn begin(&self, total_bytes: u64);
    /// When an input starts.
    fn file(&self, path: &Path);
    /// After each batch the sink took: input bytes consumed and rows read since last time.
    fn advance(&self, bytes: u64, rows: u64);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _total_bytes: u64) {}
    fn file(&self, _path: &Path) {}
    fn advance(&self, _bytes: u64, _rows: u64) {}
}

/// What one input contributed (only what the sink acknowledged).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSummary {
    pub path: PathBuf,
    pub format: Format,
    pub size_bytes: u64,
    pub rows_read: u64,
    pub titles: u64,
    /// Member rows in the input.
    pub members: u64,
    /// Bare members created for unknown ids in rating datasets (not input rows).
    pub members_implied: u64,
    pub events_accepted: u64,
    pub events_duplicate: u64,
    pub quarantined: u64,
}

/// The result of an import, for the terminal and for `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    pub files: Vec<FileSummary>,
    /// Input rows (lines or CSV records, blank lines not counted) handed to the sink.
    pub rows_read: u64,
    /// Title rows accepted.
    pub titles: u64,
    /// Member rows accepted.
    pub members: u64,
    /// Bare members created for rating datasets; not rows, so outside the row identity.
    pub members_implied: u64,
    pub events_accepted: u64,
    pub events_duplicate: u64,
    /// Rejected rows by reason.
    pub quarantined: BTreeMap<ProblemKind, u64>,
    /// Of those, rows the store had not quarantined before.
    pub quarantined_new: u64,
    /// Things fixed or dropped without rejecting a row.
    pub warnings: CleaningWarnings,
    /// Stopped early by the cancel flag; everything counted here is still durable.
    pub interrupted: bool,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

impl ImportSummary {
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Whether every row is accounted for: read = accepted + duplicate + quarantined +
    /// titles + members.
    pub fn rows_balance(&self) -> bool {
        self.rows_read
            == self.events_accepted
                + self.events_duplicate
                + self.quarantined_total()
                + self.titles
                + self.members
    }
}

/// Messages from the worker to the calling thread.
enum WorkerMessage {
    FileStarted {
        index: usize,
    },
    Batch {
        index: usize,
        batch: Batch,
        rows_read: u64,
        members_implied: u64,
        bytes: u64,
        warnings: CleaningWarnings,
    },
}

/// Why a reader stopped early.
pub(crate) enum Stop {
    Cancelled,
    /// The calling thread stopped listening (a sink error or a cancellation).
    Disconnected,
    Failed(IngestError),
}

/// Counts bytes read from the file (before decompression), for progress and for error
/// positions.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// Collects the rows of one input into batches; the readers' only way out.
pub(crate) struct RowCollector<'a> {
    pub cleaner: &'a mut Cleaner,
    source: String,
    path: &'a Path,
    index: usize,
    batch: Batch,
    batch_rows: usize,
    rows_in_batch: u64,
    members_implied: u64,
    pub create_unknown_members: bool,
    sender: &'a Sender<WorkerMessage>,
    /// Batches the sink is done with, to be reused (their contents are dropped here, off
    /// the sink's thread, and their vectors keep their capacity).
    spent: &'a Receiver<Batch>,
    /// Where the strings of spent events go to be refilled (the parallel parsers).
    pub string_recycler: Option<Sender<Vec<String>>>,
    cancel: &'a AtomicBool,
    bytes_read: Arc<AtomicU64>,
    /// Input bytes behind the rows collected so far, when a reader reads ahead of them
    /// (else the byte counter is used).
    bytes_consumed: Option<u64>,
    bytes_reported: u64,
}

impl<'a> RowCollector<'a> {
    /// Records the outcome of one input row.
    pub fn row(
        &mut self,
        line: u64,
        raw: &[u8],
        outcome: Result<Record, Problem>,
    ) -> Result<(), Stop> {
        match outcome {
            Ok(Record::Event(event)) => {
                // Sized once per batch rather than grown by doubling (which copies every
                // event several times at 50,000 a batch).
                if self.batch.events.capacity() == 0 {
                    self.batch.events.reserve(self.batch_rows.min(65_536));
                }
                self.batch.events.push(event);
            }
            Ok(record) => self.batch.push(record),
            Err(problem) => {
                self.batch
                    .quarantined
                    .push(Quarantined::new(&self.source, line, raw, problem))
            }
        }
        self.rows_in_batch += 1;
        if self.rows_in_batch >= self.batch_rows as u64 {
            self.flush()?;
        }
        // A relaxed load per row is a few cycles; it makes Ctrl-C feel immediate.
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    /// For rating datasets: makes sure the member exists, creating a bare one (not a row)
    /// the first time an id appears.
    pub fn ensure_member(&mut self, member_id: &str) {
        let member_id = member_id.trim();
        if !self.create_unknown_members
            || member_id.is_empty()
            || self.cleaner.knows_member(member_id)
        {
            return;
        }
        // A bad id (too long) is left for the event's own check to quarantine.
        if let Ok(record) = self
            .cleaner
            .clean_record(Record::Member(Member::bare(member_id)))
        {
            self.batch.push(record);
            self.members_implied += 1;
        }
    }

    pub fn cancel(&self) -> &'a AtomicBool {
        self.cancel
    }

    /// For readers that read ahead: the input bytes behind the rows handed over so far.
    pub fn set_bytes_consumed(&mut self, bytes: u64) {
        self.bytes_consumed = Some(bytes);
    }

    pub fn read_error(&self, line: u64, source: io::Error) -> Stop {
        Stop::Failed(self.io_error(line, source))
    }

    /// An IO failure of this input, naming the file, the line and the byte reached.
    fn io_error(&self, line: u64, source: io::Error) -> IngestError {
        IngestError::Read {
            path: self.path.to_owned(),
            line,
            byte_offset: self.bytes_read.load(Ordering::Relaxed),
            source,
        }
    }

    fn flush(&mut self) -> Result<(), Stop> {
        let bytes_now = self
            .bytes_consumed
            .unwrap_or_else(|| self.bytes_read.load(Ordering::Relaxed));
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = match self.spent.try_recv() {
            Ok(mut spent) => {
                spent.titles.clear();
                spent.members.clear();
                match &self.string_recycler {
                    Some(recycler) => recycle_event_strings(&mut spent.events, recycler),
                    None => spent.events.clear(),
                }
                spent.quarantined.clear();
                spent
            }
            Err(_) => Batch::default(),
        };
        let message = WorkerMessage::Batch {
            index: self.index,
            batch: std::mem::replace(&mut self.batch, next),
            rows_read: std::mem::take(&mut self.rows_in_batch),
            members_implied: std::mem::take(&mut self.members_implied),
            bytes: bytes_now - self.bytes_reported,
            warnings: self.cleaner.take_warnings(),
        };
        self.bytes_reported = bytes_now;
        self.sender.send(message).map_err(|_| Stop::Disconnected)
    }
}

enum WorkerEnd {
    Completed,
    Cancelled,
}

fn run_worker(
    inputs: &[InputFile],
    options: &ImportOptions,
    known: KnownEntities,
    sender: Sender<WorkerMessage>,
    spent: Receiver<Batch>,
    cancel: &AtomicBool,
) -> Result<WorkerEnd, IngestError> {
    let mut cleaner = Cleaner::new(options.rules.clone(), known);
    for (index, input) in inputs.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(WorkerEnd::Cancelled);
        }
        if sender.send(WorkerMessage::FileStarted { index }).is_err() {
            return Ok(WorkerEnd::Cancelled);
        }
        let unreadable = |source| IngestError::Unreadable {
            path: input.path.clone(),
            source,
        };
        let bytes_read = Arc::new(AtomicU64::new(0));
        let file = File::open(&input.path).map_err(unreadable)?;
        let counted = CountingReader {
            inner: file,
            count: Arc::clone(&bytes_read),
        };
        let mut collector = RowCollector {
            cleaner: &mut cleaner,
            source: input.path.display().to_string(),
            path: &input.path,
            index,
            batch: Batch::default(),
            batch_rows: options.batch_rows.max(1),
            rows_in_batch: 0,
            members_implied: 0,
            create_unknown_members: options
                .create_unknown_members
                .unwrap_or(input.format.creates_unknown_members()),
            sender: &sender,
            spent: &spent,
            string_recycler: None,
            cancel,
            bytes_read: Arc::clone(&bytes_read),
            bytes_consumed: None,
            bytes_reported: 0,
        };
        let reader = match decompress(BufReader::with_capacity(256 * 1024, counted)) {
            Ok(reader) => reader,
            Err(source) => return Err(collector.io_error(1, source)),
        };
        let result = if input.format == Format::Jsonl && options.parse_threads > 1 {
            read_jsonl_parallel(reader, &mut collector, options.parse_threads, &bytes_read)
        } else {
            read_rows(input.format, reader, &mut collector)
        };
        match result {
            Ok(()) => {}
            Err(Stop::Cancelled) => return Ok(WorkerEnd::Cancelled),
            Err(Stop::Disconnected) => return Ok(WorkerEnd::Cancelled),
            Err(Stop::Failed(error)) => {
                // Keep what was read before the failure: send it, then report.
                let _ = collector.flush();
                return Err(error);
            }
        }
        match collector.flush() {
            Ok(()) => {}
            Err(_) => return Ok(WorkerEnd::Cancelled),
        }
    }
    Ok(WorkerEnd::Completed)
}

/// Imports `inputs` in order, handing batches to `sink` on the calling thread.
///
/// Stops early (with `interrupted`) when `cancel` is set; batches not yet given to the sink
/// are dropped, everything the sink acknowledged is counted. A sink error stops the import
/// and is returned after the worker has finished. A read failure part-way is returned
/// naming the file and position, after the rows before it were handed to the sink.
pub fn run_import(
    inputs: &[InputFile],
    options: &ImportOptions,
    known: KnownEntities,
    sink: &mut dyn FnMut(&Batch) -> Result<BatchOutcome, SinkError>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<ImportSummary, IngestError> {
    let started = Instant::now();
    progress.begin(inputs.iter().map(|input| input.size_bytes).sum());
    let mut summary = ImportSummary {
        files: Vec::with_capacity(inputs.len()),
        rows_read: 0,
        titles: 0,
        members: 0,
        members_implied: 0,
        events_accepted: 0,
        events_duplicate: 0,
        quarantined: BTreeMap::new(),
        quarantined_new: 0,
        warnings: CleaningWarnings::default(),
        interrupted: false,
        elapsed: Duration::ZERO,
    };
    // Which summary entry each input index has (files are announced as they start).
    let mut file_slots: Vec<Option<usize>> = vec![None; inputs.len()];

    let (sender, receiver) = bounded::<WorkerMessage>(3);
    let (spent_sender, spent_receiver) = bounded::<Batch>(1);
    let (worker_result, sink_error, stopped_early) = std::thread::scope(|scope| {
        let worker =
            scope.spawn(move || run_worker(inputs, options, known, sender, spent_receiver, cancel));
        let mut sink_error = None;
        let mut stopped_early = false;
        for message in receiver.iter() {
            if cancel.load(Ordering::Relaxed) {
                stopped_early = true;
                break;
            }
            match message {
                WorkerMessage::FileStarted { index } => {
                    let input = &inputs[index];
                    progress.file(&input.path);
                    file_slots[index] = Some(summary.files.len());
                    summary.files.push(FileSummary {
                        path: input.path.clone(),
                        format: input.format,
                        size_bytes: input.size_bytes,
                        rows_read: 0,
                        titles: 0,
                        members: 0,
                        members_implied: 0,
                        events_accepted: 0,
                        events_duplicate: 0,
                        quarantined: 0,
                    });
                }
                WorkerMessage::Batch {
                    index,
                    batch,
                    rows_read,
                    members_implied,
                    bytes,
                    warnings,
                } => {
                    let outcome = match sink(&batch) {
                        Ok(outcome) => outcome,
                        Err(source) => {
                            sink_error = Some(source);
                            break;
                        }
                    };
                    let member_rows = batch.members.len() as u64 - members_implied;
                    summary.rows_read += rows_read;
                    summary.titles += batch.titles.len() as u64;
                    summary.members += member_rows;
                    summary.members_implied += members_implied;
                    summary.events_accepted += outcome.events_accepted;
                    summary.events_duplicate += outcome.events_duplicate;
                    summary.quarantined_new += outcome.quarantined_new;
                    summary.warnings.add(&warnings);
                    for quarantined in &batch.quarantined {
                        *summary
                            .quarantined
                            .entry(quarantined.problem.kind)
                            .or_insert(0) += 1;
                    }
                    if let Some(slot) = file_slots[index] {
                        let file = &mut summary.files[slot];
                        file.rows_read += rows_read;
                        file.titles += batch.titles.len() as u64;
                        file.members += member_rows;
                        file.members_implied += members_implied;
                        file.events_accepted += outcome.events_accepted;
                        file.events_duplicate += outcome.events_duplicate;
                        file.quarantined += batch.quarantined.len() as u64;
                    }
                    progress.advance(bytes, rows_read);
                    // Freeing a batch's records costs about as much as a tenth of storing
                    // them; the worker does it instead, reusing the vectors.
                    let _ = spent_sender.try_send(batch);
                    if cancel.load(Ordering::Relaxed) {
                        stopped_early = true;
                        break;
                    }
                }
            }
        }
        // Dropping the receiver unblocks a worker waiting to send, so the join below
        // cannot hang.
        drop(receiver);
        let worker_result = worker.join();
        (worker_result, sink_error, stopped_early)
    });

    summary.elapsed = started.elapsed();
    if let Some(source) = sink_error {
        return Err(IngestError::Sink { source });
    }
    match worker_result {
        Err(_) => Err(IngestError::WorkerPanicked),
        Ok(Err(error)) => Err(error),
        Ok(Ok(end)) => {
            summary.interrupted = stopped_early || matches!(end, WorkerEnd::Cancelled);
            Ok(summary)
        }
    }
}
