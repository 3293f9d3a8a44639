//! Parallel JSONL: a reader thread cuts the (decompressed) input into chunks of whole lines,
//! a small pool prepares every line of a chunk (the stateless half of cleaning: parse, type
//! checks, validation, normalisation, id derivation), and the calling worker thread
//! finishes the rows in file order with [`Cleaner::resolve`] (known titles and members,
//! remembering new ones) and collects them into batches exactly as the one-thread reader
//! does, so batches, line numbers and summaries are the same whatever the thread count.
//!
//! Memory stays flat: at most [`chunks_in_flight`] chunks exist between the reader and the
//! collector, each about [`CHUNK_BYTES`] (plus one over-long line's 16 KiB prefix).

use std::io::{self, BufRead};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use memchr::{memchr, memrchr};
use showrunner_model::{Event, EventBody, Problem, ProblemKind, Quarantined};

use crate::clean::{CleaningRules, Prepared, prepare_json};
use crate::pipeline::{RowCollector, Stop};
use crate::wire::{FIELD_STRING_CAPACITY, MAX_SPARE_STRING_CAPACITY, add_spare_strings};

/// Bytes a chunk is cut at (at the next line end). Large enough that handing chunks between
/// threads costs nothing measurable, small enough to keep a few in flight cheaply.
pub(crate) const CHUNK_BYTES: usize = 1024 * 1024;

/// A chunk buffer's capacity: a chunk plus one read of the input's buffer.
const CHUNK_BUFFER_BYTES: usize = CHUNK_BYTES + 256 * 1024;

/// Chunks read ahead of the collector: one per parser, and a little slack so no parser
/// waits while a chunk is being collected.
fn chunks_in_flight(parse_threads: usize) -> usize {
    parse_threads + 2
}

/// Lines cut by the reader, in file order.
struct Chunk {
    data: Vec<u8>,
    /// An empty vector to fill (recycled, like `data`).
    rows: Vec<PreparedRow>,
    /// Whether the chunk starts at the file's first line (whose byte-order mark is not data).
    first: bool,
    /// Set when `data` is only the kept prefix of one line longer than the limit that did
    /// not fit a chunk: the line's full length.
    over_long: Option<u64>,
    /// The input's byte counter when the chunk was cut (for progress).
    bytes_read: u64,
}

/// One non-blank line of a chunk, prepared.
struct PreparedRow {
    /// 0-based line index within the chunk.
    line_index: u64,
    /// The row as the quarantine keeps it: `data[start..end]`.
    start: usize,
    end: usize,
    prepared: Prepared,
}

struct PreparedChunk {
    data: Vec<u8>,
    rows: Vec<PreparedRow>,
    /// Lines in the chunk, blank ones included.
    lines: u64,
    bytes_read: u64,
}

/// A chunk's buffers, emptied by the collector and reused by the reader.
type Buffers = (Vec<u8>, Vec<PreparedRow>);

fn new_buffers() -> Buffers {
    (
        Vec::with_capacity(CHUNK_BUFFER_BYTES),
        Vec::with_capacity(CHUNK_BUFFER_BYTES / 192),
    )
}

/// What the reader tells the collector, in file order.
enum Slot {
    /// A chunk, prepared by whichever parser took it.
    Chunk(Receiver<PreparedChunk>),
    /// A read failed after the chunks before it.
    Failed(io::Error),
    /// The input ended; the byte counter at the end.
    End(u64),
}

fn line_too_long(length: u64, limit: usize) -> Problem {
    Problem::new(
        ProblemKind::LineTooLong,
        format!("{length} bytes, at most {limit} allowed"),
    )
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Reads JSONL with `parse_threads` parser threads, handing rows to `rows` in file order.
pub(crate) fn read_jsonl_parallel(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
    parse_threads: usize,
    bytes_read: &AtomicU64,
) -> Result<(), Stop> {
    let rules = rows.cleaner.rules().clone();
    let cancel = rows.cancel();
    // Progress counts the bytes behind collected rows, not those read ahead.
    rows.set_bytes_consumed(0);
    let in_flight = chunks_in_flight(parse_threads);
    let (slot_sender, slot_receiver) = bounded::<Slot>(in_flight);
    let (work_sender, work_receiver) = unbounded::<(Chunk, Sender<PreparedChunk>)>();
    // Chunk buffers go back to the reader once collected, so steady state allocates none
    // (and the allocator never sees megabyte-sized frees, which make glibc consolidate).
    let (spare_sender, spare_receiver) = bounded::<Buffers>(in_flight + 1);
    let (string_sender, string_receiver) = bounded::<Vec<String>>(STRING_BUNDLES_QUEUED);
    rows.string_recycler = Some(string_sender);
    let result = std::thread::scope(|scope| {
        let rules = &rules;
        for _ in 0..parse_threads {
            let work_receiver = work_receiver.clone();
            let string_receiver = string_receiver.clone();
            scope.spawn(move || {
                for (chunk, reply) in work_receiver.iter() {
                    for mut strings in string_receiver.try_iter().take(STRING_BUNDLES_PER_CHUNK) {
                        add_spare_strings(&mut strings);
                    }
                    // The collector may have stopped; then nobody wants the result.
                    let _ = reply.send(prepare_chunk(rules, chunk));
                }
            });
        }
        drop(work_receiver);
        scope.spawn(move || {
            cut_chunks(
                reader,
                rules,
                slot_sender,
                work_sender,
                spare_receiver,
                cancel,
                bytes_read,
            );
        });
        drop(string_receiver);
        // Moving the receiver in means it is dropped when collecting stops, which unblocks
        // a reader waiting to hand over a chunk, so the scope's joins cannot hang.
        collect(slot_receiver, spare_sender, rows)
    });
    rows.string_recycler = None;
    result
}

/// Strings a bundle of recycled strings holds (a bundle stays under the size at which
/// glibc's `free` consolidates its bins).
const STRING_BUNDLE: usize = 2048;
/// Bundles waiting for the parsers, and taken by a parser per chunk (a chunk's events
/// need about 30,000 strings).
const STRING_BUNDLES_QUEUED: usize = 64;
const STRING_BUNDLES_PER_CHUNK: usize = 16;

/// Empties `events`, sending the strings of common events to the parsers for refilling
/// while they want them; the rest are dropped.
pub(crate) fn recycle_event_strings(events: &mut Vec<Event>, recycler: &Sender<Vec<String>>) {
    let mut drained = events.drain(..);
    loop {
        let mut bundle = Vec::with_capacity(STRING_BUNDLE);
        for event in drained.by_ref() {
            event_strings(event, &mut bundle);
            if bundle.len() + 8 > STRING_BUNDLE {
                break;
            }
        }
        if bundle.is_empty() || recycler.try_send(bundle).is_err() {
            return;
        }
    }
}

fn event_strings(event: Event, out: &mut Vec<String>) {
    let mut keep = |string: String| {
        if (FIELD_STRING_CAPACITY..=MAX_SPARE_STRING_CAPACITY).contains(&string.capacity()) {
            out.push(string);
        }
    };
    keep(event.id);
    match event.body {
        EventBody::Play(play) => {
            keep(play.member_id);
            keep(play.title_id);
            keep(play.session_id);
            [play.profile_id, play.device, play.country, play.request_id]
                .into_iter()
                .flatten()
                .for_each(keep);
        }
        EventBody::Rating(rating) => {
            keep(rating.member_id);
            keep(rating.title_id);
            rating.profile_id.into_iter().for_each(keep);
        }
        EventBody::Impression(impression) => {
            keep(impression.member_id);
            keep(impression.title_id);
            keep(impression.row);
            keep(impression.request_id);
            [impression.profile_id, impression.device]
                .into_iter()
                .flatten()
                .for_each(keep);
        }
        // Rarer kinds are simply dropped.
        _ => {}
    }
}

/// The reader thread: cuts whole lines into chunks and queues them for the parsers,
/// announcing each to the collector in order.
fn cut_chunks(
    mut reader: Box<dyn BufRead + Send + '_>,
    rules: &CleaningRules,
    slots: Sender<Slot>,
    work: Sender<(Chunk, Sender<PreparedChunk>)>,
    spare: Receiver<Buffers>,
    cancel: &AtomicBool,
    bytes_read: &AtomicU64,
) {
    let limit = rules.max_line_bytes;
    // The start of a line carried over from the previous chunk.
    let mut carry: Vec<u8> = Vec::new();
    let mut first = true;
    let send = |chunk: Chunk| -> bool {
        let (reply_sender, reply_receiver) = bounded(1);
        slots.send(Slot::Chunk(reply_receiver)).is_ok() && work.send((chunk, reply_sender)).is_ok()
    };
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let (mut data, mut rows) = spare.try_recv().unwrap_or_else(|_| new_buffers());
        data.clear();
        rows.clear();
        data.extend_from_slice(&carry);
        carry.clear();
        // Bytes of `data` known to hold no line end.
        let mut scanned = data.len();
        let mut failure = None;
        let mut at_end = false;
        loop {
            let available = match reader.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    failure = Some(error);
                    break;
                }
            };
            if available.is_empty() {
                at_end = true;
                break;
            }
            let length = available.len();
            data.extend_from_slice(available);
            reader.consume(length);
            if data.len() < CHUNK_BYTES {
                continue;
            }
            if memrchr(b'\n', &data[scanned..]).is_some() {
                break;
            }
            scanned = data.len();
            if data.len() > limit {
                // One line longer than the limit and than a chunk: keep what the quarantine
                // stores and skip the rest of it without holding it.
                let mut length = data.len() as u64;
                data.truncate(Quarantined::MAX_RAW_BYTES);
                let mut rest_failure = None;
                loop {
                    let available = match reader.fill_buf() {
                        Ok(available) => available,
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                        Err(error) => {
                            rest_failure = Some(error);
                            break;
                        }
                    };
                    if available.is_empty() {
                        break;
                    }
                    match memchr(b'\n', available) {
                        Some(position) => {
                            length += position as u64;
                            reader.consume(position + 1);
                            break;
                        }
                        None => {
                            length += available.len() as u64;
                            let consumed = available.len();
                            reader.consume(consumed);
                        }
                    }
                }
                if let Some(error) = rest_failure {
                    // The line was being read when the input failed: as in the one-thread
                    // reader, it is not a row, and the error names it.
                    let _ = slots.send(Slot::Failed(error));
                    return;
                }
                let chunk = Chunk {
                    data,
                    rows,
                    first: false,
                    over_long: Some(length),
                    bytes_read: bytes_read.load(Ordering::Relaxed),
                };
                first = false;
                if !send(chunk) {
                    return;
                }
                (data, rows) = new_buffers();
                scanned = 0;
            }
        }
        if !at_end {
            // Cut after the last line end; the partial line after it starts the next chunk
            // (or, after a read failure, is the line the failure interrupted).
            let cut = memrchr(b'\n', &data).map_or(0, |position| position + 1);
            carry.extend_from_slice(&data[cut..]);
            data.truncate(cut);
        }
        if !data.is_empty() {
            let chunk = Chunk {
                data,
                rows,
                first,
                over_long: None,
                bytes_read: bytes_read.load(Ordering::Relaxed),
            };
            first = false;
            if !send(chunk) {
                return;
            }
        }
        if let Some(error) = failure {
            let _ = slots.send(Slot::Failed(error));
            return;
        }
        if at_end {
            let _ = slots.send(Slot::End(bytes_read.load(Ordering::Relaxed)));
            return;
        }
    }
}

/// A parser thread's work: splits a chunk into lines and prepares each non-blank one, with
/// the same rules for line ends, byte-order marks and over-long lines as the one-thread
/// line reader.
fn prepare_chunk(rules: &CleaningRules, chunk: Chunk) -> PreparedChunk {
    let limit = rules.max_line_bytes;
    let data = chunk.data;
    let mut rows = chunk.rows;
    if let Some(length) = chunk.over_long {
        rows.push(PreparedRow {
            line_index: 0,
            start: 0,
            end: data.len(),
            prepared: Prepared::rejected(line_too_long(length, limit)),
        });
        return PreparedChunk {
            data,
            rows,
            lines: 1,
            bytes_read: chunk.bytes_read,
        };
    }
    let mut start = 0;
    let mut line_index = 0;
    while start < data.len() {
        let line_end = memchr(b'\n', &data[start..]).map_or(data.len(), |offset| start + offset);
        let mut line = &data[start..line_end];
        let mut line_start = start;
        start = line_end + 1;
        let index = line_index;
        line_index += 1;
        if line.len() > limit {
            let kept = line.len().min(Quarantined::MAX_RAW_BYTES);
            rows.push(PreparedRow {
                line_index: index,
                start: line_start,
                end: line_start + kept,
                prepared: Prepared::rejected(line_too_long(line.len() as u64, limit)),
            });
            continue;
        }
        if let Some(without) = line.strip_suffix(b"\r") {
            line = without;
        }
        // A UTF-8 byte-order mark (spreadsheet and Windows exports) is not data.
        if chunk.first
            && index == 0
            && let Some(without) = line.strip_prefix(b"\xef\xbb\xbf")
        {
            line = without;
            line_start += 3;
        }
        if is_blank(line) {
            continue;
        }
        rows.push(PreparedRow {
            line_index: index,
            start: line_start,
            end: line_start + line.len(),
            prepared: prepare_json(rules, line),
        });
    }
    PreparedChunk {
        data,
        rows,
        lines: line_index,
        bytes_read: chunk.bytes_read,
    }
}

/// The collector: finishes rows in file order and hands them to the batches.
fn collect(
    slots: Receiver<Slot>,
    spare: Sender<Buffers>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    // Lines before the current chunk.
    let mut lines_before: u64 = 0;
    for slot in slots.iter() {
        match slot {
            Slot::Chunk(reply) => {
                // A parser that died (a panic) ends the import; the scope reports it.
                let Ok(mut chunk) = reply.recv() else {
                    return Err(Stop::Cancelled);
                };
                for row in chunk.rows.drain(..) {
                    let outcome = rows.cleaner.resolve(row.prepared);
                    rows.row(
                        lines_before + row.line_index + 1,
                        &chunk.data[row.start..row.end],
                        outcome,
                    )?;
                }
                lines_before += chunk.lines;
                rows.set_bytes_consumed(chunk.bytes_read);
                let _ = spare.try_send((chunk.data, chunk.rows));
            }
            Slot::Failed(error) => return Err(rows.read_error(lines_before + 1, error)),
            Slot::End(bytes_read) => {
                rows.set_bytes_consumed(bytes_read);
                return Ok(());
            }
        }
    }
    // The reader stopped without reaching the end: it saw the cancel flag.
    Err(Stop::Cancelled)
}
