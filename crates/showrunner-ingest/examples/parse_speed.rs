//! Measures the hot path: parse + clean of JSONL play events, on one core with
//! `Cleaner::clean_json`, and end to end through `run_import` with a no-op sink.
//!
//! `cargo run --release -p showrunner-ingest --example parse_speed [lines] [sessions]`

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use showrunner_ingest::{
    Cleaner, CleaningRules, Format, ImportOptions, InputFile, KnownEntities, KnownTitle,
    NoProgress, run_import,
};
use showrunner_model::{BatchOutcome, Record, Timestamp, TitleKind};

const MEMBERS: u64 = 50_000;
const TITLES: u64 = 5_000;

fn known() -> KnownEntities {
    let mut known = KnownEntities::default();
    for member in 0..MEMBERS {
        known.members.insert(format!("m{member}"));
    }
    for title in 0..TITLES {
        known.titles.insert(
            format!("t{title}"),
            KnownTitle {
                kind: TitleKind::Movie,
                duration_s: Some(7200),
            },
        );
    }
    known
}

/// A player session: who watches what, and how far along it is.
struct Session {
    member: u64,
    title: u64,
    session: u64,
    position: u64,
    device: usize,
    country: usize,
}

/// Xorshift: deterministic and dependency-free.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Heartbeats as a platform emits them: `concurrent` sessions in flight at once, each
/// sending one heartbeat a minute, ending after a random length and replaced by a new
/// session of a random member and title. `concurrent` = lines gives the worst case: every
/// line names a uniformly random member and title.
fn generate(lines: u64, concurrent: usize) -> Vec<u8> {
    let devices = ["tv", "web", "ios", "android", "console"];
    let countries = ["US", "GB", "DE", "FR", "BR", "IN", "JP", "KR"];
    let start = Timestamp::parse("2026-09-01T00:00:00Z").unwrap_or_default();
    let mut out = Vec::with_capacity(lines as usize * 230);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let new_session = |state: &mut u64, id: u64| Session {
        member: next_random(state) % MEMBERS,
        title: next_random(state) % TITLES,
        session: id,
        position: next_random(state) % 600,
        device: (next_random(state) % 5) as usize,
        country: (next_random(state) % 8) as usize,
    };
    let mut sessions: Vec<Session> = (0..concurrent.max(1) as u64)
        .map(|id| new_session(&mut state, id))
        .collect();
    let mut next_session_id = sessions.len() as u64;
    for line in 0..lines {
        let slot = (next_random(&mut state) % sessions.len() as u64) as usize;
        if sessions[slot].position > 7000
            || next_random(&mut state).is_multiple_of(100)
            || concurrent as u64 >= lines
        {
            sessions[slot] = new_session(&mut state, next_session_id);
            next_session_id += 1;
        }
        let session = &mut sessions[slot];
        session.position += 60;
        let ts = Timestamp::from_millis(start.millis() + (line as i64) * 1700);
        writeln!(
            out,
            r#"{{"type":"play","ts":"{ts}","member_id":"m{}","profile_id":"m{}-p1","title_id":"t{}","session_id":"s{}","action":"heartbeat","position_s":{},"watched_s":{},"device":"{}","country":"{}"}}"#,
            session.member,
            session.member,
            session.title,
            session.session,
            session.position,
            session.position.saturating_sub(2),
            devices[session.device],
            countries[session.country],
        )
        .unwrap_or_default();
    }
    out
}

fn time_cleaner(label: &str, data: &[u8], rules: &CleaningRules) {
    let mut cleaner = Cleaner::new(rules.clone(), known());
    let cpu_started = cpu_seconds();
    let started = Instant::now();
    let mut accepted = 0u64;
    for line in data
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        if cleaner.clean_json(line).is_ok() {
            accepted += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_started;
    // The model's id derivation is part of the figure; show its share, on a sample cleaned
    // outside the timed loop (keeping records alive there would time page faults).
    let sample: Vec<_> = data
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .take(100_000)
        .filter_map(|line| match cleaner.clean_json(line) {
            Ok(Record::Event(event)) => Some(event),
            _ => None,
        })
        .collect();
    let hashing_started = Instant::now();
    let id_bytes: usize = sample.iter().map(|event| event.derive_id().len()).sum();
    let derive_ns = hashing_started.elapsed().as_nanos() as f64 / sample.len().max(1) as f64;
    println!(
        "Cleaner::clean_json, {label}: {accepted} accepted in {seconds:.3} s = {:.0} events/s, {:.0} MB/s ({:.0} ns an event, of which Event::derive_id {derive_ns:.0} ns; {:.0} CPU ns an event)",
        accepted as f64 / seconds,
        data.len() as f64 / seconds / 1e6,
        seconds * 1e9 / accepted.max(1) as f64,
        cpu * 1e9 / accepted.max(1) as f64,
    );
    assert_eq!(id_bytes, sample.len() * 32);
}

/// Burns a fixed amount of CPU work per event, standing in for the store's writer. The
/// work is calibrated once (fastest of several tries, so a busy machine does not shrink
/// it) rather than spun against the clock, so a starved sink thread is not flattered.
struct Burner {
    rounds_per_event: u64,
}

impl Burner {
    fn calibrate(nanoseconds_per_event: u64) -> Self {
        let rounds = 10_000_000u64;
        let mut best = f64::MAX;
        for _ in 0..5 {
            let started = Instant::now();
            std::hint::black_box(burn(rounds));
            best = best.min(started.elapsed().as_secs_f64());
        }
        let rounds_per_ns = rounds as f64 / (best * 1e9);
        Burner {
            rounds_per_event: (rounds_per_ns * nanoseconds_per_event as f64).round() as u64,
        }
    }

    fn burn_events(&self, events: usize) {
        std::hint::black_box(burn(self.rounds_per_event * events as u64));
    }
}

fn burn(rounds: u64) -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..rounds {
        state = std::hint::black_box(next_random(&mut state));
    }
    state
}

/// CPU seconds this process has used on all its threads (Linux; 0 elsewhere), so figures
/// on a shared machine can be told apart from waiting for a core.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, fields 14 and 15 of the whole line, in 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

fn time_import(
    label: &str,
    inputs: &[InputFile],
    options: &ImportOptions,
    burner: Option<&Burner>,
) {
    let cpu_started = cpu_seconds();
    let started = Instant::now();
    let mut sink = |batch: &showrunner_model::Batch| {
        if let Some(burner) = burner {
            burner.burn_events(batch.events.len());
        }
        Ok(BatchOutcome {
            events_accepted: batch.events.len() as u64,
            quarantined_new: batch.quarantined.len() as u64,
            ..BatchOutcome::default()
        })
    };
    let summary = run_import(
        inputs,
        options,
        known(),
        &mut sink,
        &NoProgress,
        &AtomicBool::new(false),
    );
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_started;
    match summary {
        Ok(summary) => println!(
            "run_import (file, {label}, {} parse threads): {} accepted in {seconds:.3} s = {:.0} events/s, {cpu:.2} CPU s ({:.0} ns an event)",
            options.parse_threads,
            summary.events_accepted,
            summary.events_accepted as f64 / seconds,
            cpu * 1e9 / summary.events_accepted.max(1) as f64,
        ),
        Err(error) => eprintln!("import failed: {error}"),
    }
}

fn main() {
    let lines: u64 = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let rules = CleaningRules::at(Timestamp::parse("2026-10-15T00:00:00Z").unwrap_or_default());
    // `sessions` as the second argument times only the session-shaped cleaner run (for
    // profiling).
    if std::env::args().nth(2).as_deref() == Some("sessions") {
        time_cleaner("2,000 concurrent sessions", &generate(lines, 2_000), &rules);
        return;
    }
    let import_only = std::env::args().nth(2).as_deref() == Some("import");
    let random = generate(lines, if import_only { 2_000 } else { lines as usize });
    println!(
        "{lines} lines, {:.1} MB, {:.0} bytes a line",
        random.len() as f64 / 1e6,
        random.len() as f64 / lines as f64
    );
    let data = if import_only {
        random
    } else {
        time_cleaner("uniformly random members and titles", &random, &rules);
        drop(random);
        let data = generate(lines, 2_000);
        time_cleaner("2,000 concurrent sessions", &data, &rules);
        data
    };

    let directory = std::env::temp_dir().join(format!("parse_speed_{}", std::process::id()));
    let _ = std::fs::create_dir_all(&directory);
    let path = directory.join("events.jsonl");
    if std::fs::write(&path, &data).is_err() {
        eprintln!("cannot write {}", path.display());
        return;
    }
    let inputs = [InputFile {
        path: path.clone(),
        format: Format::Jsonl,
        size_bytes: data.len() as u64,
    }];
    // `PARSE_THREADS=1` times the one-thread worker.
    let parse_threads = std::env::var("PARSE_THREADS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(ImportOptions::default().parse_threads);
    let options = ImportOptions {
        rules,
        parse_threads,
        ..ImportOptions::default()
    };
    time_import("no-op sink", &inputs, &options, None);
    let burner = Burner::calibrate(800);
    time_import(
        "sink burning 0.8 µs an event",
        &inputs,
        &options,
        Some(&burner),
    );
    let _ = std::fs::remove_dir_all(&directory);
}
