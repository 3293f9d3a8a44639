//! A deterministic synthetic streaming platform with ground truth.
//!
//! [`generate`] writes a catalog (`catalog.jsonl`), members with profiles
//! (`members.jsonl`), a window of platform events (`events.jsonl`: plays, ratings,
//! impressions, logins, QoE summaries, searches) and `truth.json`, which names everything
//! planted in the data: a CDN incident, a credential-stuffing wave, a brute-force run, an
//! impossible-travel pair, shared accounts, a non-human viewer, the titles released
//! during the window and a genre members over-watch relative to its supply.
//!
//! The same configuration and seed give byte-identical files whatever the number of
//! threads: every member-day draws from its own generator seeded from `(seed, member, day)`,
//! days are generated one after another (members of a day in parallel with rayon) and each
//! day is written in time order.
//!
//! The JSON of every line is the model crate's serde shape (`showrunner_model::Event`
//! without `id`, `Title` and `Member` with a `"type"` tag).

mod catalog;
mod geo;
mod injections;
mod json;
mod members;
mod names;
mod random;
mod truth;
mod viewing;
mod world;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use rayon::prelude::*;
use serde::Serialize;
use showrunner_model::time::SECOND_MS;
use showrunner_model::{EventKind, Timestamp};

pub use truth::{
    AccountRef, BruteForce, CdnIncident, CredentialStuffing, HouseholdPlace, ImpossibleTravel,
    LoginPlace, NonHumanViewer, OverwatchedGenre, PasswordSpraying, Release, SharedAccount, Truth,
    TruthConfig, TruthCounts,
};

use catalog::Catalog;
use geo::Networks;
use members::{MemberState, Role};
use viewing::{DayContext, EventSink, Scratch, generate_member_day};
use world::World;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    pub seed: u64,
    /// The number of events wanted; the run lands within ±15% and reports the exact count.
    pub events: u64,
    /// Members (accounts); `None` scales with `events` (5,000 per million events).
    pub members: Option<u32>,
    /// Movies and series (episodes come on top); `None` scales sub-linearly with `events`
    /// (2,000 for a million events).
    pub titles: Option<u32>,
    pub days: u32,
    /// The first instant of the window (UTC).
    pub start: Timestamp,
    /// Seconds of playback between two heartbeats of a session.
    pub heartbeat_s: u32,
}

/// 2026-09-01T00:00:00Z.
const DEFAULT_START_MS: i64 = 1_788_220_800_000;

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 42,
            events: 1_000_000,
            members: None,
            titles: None,
            days: 30,
            start: Timestamp::from_millis(DEFAULT_START_MS),
            heartbeat_s: 300,
        }
    }
}

impl SynthConfig {
    /// The number of members the run will have.
    pub fn member_count(&self) -> u32 {
        self.members
            .unwrap_or_else(|| (self.events / 200).clamp(10, u64::from(u32::MAX)) as u32)
    }

    /// The number of movies and series the run will have.
    pub fn title_count(&self) -> u32 {
        self.titles.unwrap_or_else(|| {
            let scaled = 2000.0 * (self.events as f64 / 1_000_000.0).sqrt();
            (scaled.round() as u32).max(40)
        })
    }
}

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthOutput {
    pub catalog_path: PathBuf,
    pub members_path: PathBuf,
    pub events_path: PathBuf,
    pub truth_path: PathBuf,
    /// Movies and series.
    pub titles: u64,
    pub episodes: u64,
    pub members: u64,
    pub profiles: u64,
    pub events: u64,
    /// Event counts by `type` (`play`, `impression`, ...).
    pub events_by_kind: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid synth configuration: {field} {problem}")]
    InvalidConfig {
        field: &'static str,
        problem: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot serialise: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("generation cancelled")]
    Cancelled,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Members per unit of parallel work. Output does not depend on it.
const MEMBERS_PER_CHUNK: usize = 64;
/// Members simulated by the calibration run of a large platform.
const CALIBRATION_SAMPLE: usize = 1000;
const CALIBRATION_RATE: f64 = 0.3;

fn validate(config: &SynthConfig) -> Result<(), SynthError> {
    let invalid = |field, problem: &str| {
        Err(SynthError::InvalidConfig {
            field,
            problem: problem.to_string(),
        })
    };
    if config.events < 200 {
        return invalid(
            "events",
            "must be at least 200 (the planted attacks alone need about 50)",
        );
    }
    if config.days == 0 || config.days > 3660 {
        return invalid("days", "must be between 1 and 3660");
    }
    if !(10..=3600).contains(&config.heartbeat_s) {
        return invalid("heartbeat_s", "must be between 10 and 3600 seconds");
    }
    if config.members.is_some_and(|members| members < 10) {
        return invalid("members", "must be at least 10");
    }
    if config.titles.is_some_and(|titles| titles < 5) {
        return invalid("titles", "must be at least 5");
    }
    if config.title_count() > 5_000_000 {
        return invalid("titles", "must be at most 5,000,000");
    }
    Ok(())
}

/// Generates the platform into `out_dir` (created if missing). `progress` is called on the
/// calling thread with the number of events written so far; setting `cancel` stops the run
/// at the next day boundary with [`SynthError::Cancelled`] (the partial events file is
/// removed).
pub fn generate(
    config: &SynthConfig,
    out_dir: &Path,
    progress: &dyn Fn(u64),
    cancel: &AtomicBool,
) -> Result<SynthOutput, SynthError> {
    validate(config)?;
    fs::create_dir_all(out_dir).map_err(io_error(out_dir))?;
    let seed = config.seed;
    let start = config.start.millis();
    let member_count = config.member_count();
    let title_count = config.title_count();

    let networks = Networks::build(seed);
    let incident = injections::plan_incident(seed, start, config.days, &networks);
    let catalog = Catalog::build(seed, title_count, start, config.days);
    let world = World {
        seed,
        start,
        days: config.days,
        heartbeat_s: config.heartbeat_s,
        catalog,
        networks,
        incident,
        hour_tables: World::build_hour_tables(start, config.days),
    };
    let mut members: Vec<MemberState> = (0..member_count)
        .into_par_iter()
        .map(|member_index| {
            MemberState::generate(seed, member_index, start, &world.catalog, &world.networks)
        })
        .collect();
    let mut injections = injections::plan(&world, &mut members, config.events);

    let catalog_path = out_dir.join("catalog.jsonl");
    let members_path = out_dir.join("members.jsonl");
    let events_path = out_dir.join("events.jsonl");
    let truth_path = out_dir.join("truth.json");
    write_catalog(&catalog_path, &world.catalog)?;
    write_members(&members_path, &members)?;

    let rate = calibrate(&world, &members, &injections, config.events, cancel)?;

    let (events, counts) = write_events(
        &world,
        &mut members,
        &mut injections,
        rate,
        &events_path,
        progress,
        cancel,
    )?;

    let events_by_kind: BTreeMap<String, u64> = EventKind::ALL
        .iter()
        .map(|kind| (kind.as_str().to_string(), counts[*kind as usize]))
        .collect();
    let profiles = members
        .iter()
        .map(|member| member.profiles.len() as u64)
        .sum();
    let output = SynthOutput {
        catalog_path,
        members_path,
        events_path,
        truth_path,
        titles: world.catalog.titles.len() as u64,
        episodes: world.catalog.episode_count,
        members: members.len() as u64,
        profiles,
        events,
        events_by_kind,
    };
    let truth = build_truth(config, &world, &members, injections, &output);
    let truth_json = serde_json::to_vec_pretty(&truth).map_err(|source| SynthError::Json {
        path: output.truth_path.clone(),
        source,
    })?;
    fs::write(&output.truth_path, truth_json).map_err(io_error(&output.truth_path))?;
    Ok(output)
}

/// A catalog or member record with its `"type"` tag, as the importer reads it.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    record: &'a T,
}

fn write_records<T: Serialize>(
    path: &Path,
    kind: &'static str,
    records: impl Iterator<Item = T>,
) -> Result<(), SynthError> {
    let file = File::create(path).map_err(io_error(path))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    for record in records {
        serde_json::to_writer(
            &mut writer,
            &Tagged {
                kind,
                record: &record,
            },
        )
        .map_err(|source| SynthError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        writer.write_all(b"\n").map_err(io_error(path))?;
    }
    writer.flush().map_err(io_error(path))
}

fn write_catalog(path: &Path, catalog: &Catalog) -> Result<(), SynthError> {
    write_records(
        path,
        "title",
        catalog.titles.iter().flat_map(|title| title.to_records()),
    )
}

fn write_members(path: &Path, members: &[MemberState]) -> Result<(), SynthError> {
    write_records(path, "member", members.iter().map(MemberState::to_record))
}

/// Simulates one day for a slice of members, one sink per chunk of members. `sinks` are
/// reused from earlier days (their allocations survive) and grown to the number of chunks.
fn simulate_day(
    context: &DayContext,
    members: &mut [MemberState],
    sinks: &mut Vec<EventSink>,
    render: bool,
) {
    let chunk_count = members.len().div_ceil(MEMBERS_PER_CHUNK);
    sinks.truncate(chunk_count);
    while sinks.len() < chunk_count {
        sinks.push(EventSink::new(render));
    }
    members
        .par_chunks_mut(MEMBERS_PER_CHUNK)
        .zip(sinks.par_iter_mut())
        .for_each(|(chunk, sink)| {
            sink.clear();
            let mut scratch = Scratch::default();
            for member in chunk {
                generate_member_day(context, member, sink, &mut scratch);
            }
        });
}

/// Counts the events a run at `rate` would produce for `members` (cloned: their state is
/// left untouched).
fn count_events(
    world: &World,
    members: &[MemberState],
    rate: f64,
    cancel: &AtomicBool,
) -> Result<u64, SynthError> {
    let mut simulated = members.to_vec();
    let mut sinks = Vec::new();
    let mut total = 0;
    for day in 0..world.days {
        if cancel.load(Ordering::Relaxed) {
            return Err(SynthError::Cancelled);
        }
        let context = DayContext {
            world,
            day,
            day_start: world.day_start(day),
            rate,
        };
        simulate_day(&context, &mut simulated, &mut sinks, false);
        total += sinks.iter().map(EventSink::total).sum::<u64>();
    }
    Ok(total)
}

/// Finds the sitting rate that lands the run on its event target. A small platform is
/// simulated whole (without rendering) and the rate refined until the count is within 3%;
/// since the real run repeats the same draws, it then produces exactly the counted number.
/// A large platform is estimated from a sample of members.
fn calibrate(
    world: &World,
    members: &[MemberState],
    injections: &injections::Injections,
    target: u64,
    cancel: &AtomicBool,
) -> Result<f64, SynthError> {
    let is_ordinary = |member: &MemberState| !matches!(member.role, Role::NonHuman { .. });
    let ordinary_count = members
        .iter()
        .filter(|member| is_ordinary(member))
        .count()
        .max(1);
    let non_human_events = injections.non_human.as_ref().map_or(0.0, |viewer| {
        let seconds = (viewer.end.millis() - viewer.start.millis()) as f64 / SECOND_MS as f64;
        seconds * (1.0 / f64::from(world.heartbeat_s) + 3.5 / 5400.0)
    });
    let wanted =
        (target as f64 - injections.login_event_count() as f64 - non_human_events).max(1.0);

    let whole = ordinary_count <= CALIBRATION_SAMPLE;
    let step = if whole {
        1
    } else {
        ordinary_count / CALIBRATION_SAMPLE
    };
    let sample: Vec<MemberState> = members
        .iter()
        .filter(|member| is_ordinary(member))
        .step_by(step)
        .cloned()
        .collect();
    let scale = ordinary_count as f64 / sample.len().max(1) as f64;
    let pilot = count_events(world, &sample, CALIBRATION_RATE, cancel)? as f64 * scale;
    let mut rate = if pilot > 0.0 {
        CALIBRATION_RATE * wanted / pilot
    } else {
        CALIBRATION_RATE
    };
    if whole && target <= 2_000_000 {
        let mut best = (f64::INFINITY, rate);
        for _ in 0..6 {
            let counted = count_events(world, &sample, rate, cancel)? as f64;
            let error = (counted - wanted).abs() / wanted;
            if error < best.0 {
                best = (error, rate);
            }
            if error <= 0.03 || counted <= 0.0 {
                break;
            }
            rate *= wanted / counted;
        }
        rate = best.1;
    }
    Ok(rate)
}

/// A finished day on its way to the writer.
struct DayBatch {
    /// Events at or after this instant belong to the next day: they are held back and
    /// written with it, so the file is in time order even where sessions cross midnight.
    day_end: i64,
    is_last: bool,
    sinks: Vec<EventSink>,
}

/// Generates the days in order (members of one day in parallel) and hands each finished day
/// to a writer thread, which sorts it by time and writes it while the next day is generated.
/// The writer hands the emptied buffers back for reuse, so at most two days are in memory.
#[allow(clippy::too_many_arguments)]
fn write_events(
    world: &World,
    members: &mut [MemberState],
    injections: &mut injections::Injections,
    rate: f64,
    path: &Path,
    progress: &dyn Fn(u64),
    cancel: &AtomicBool,
) -> Result<(u64, [u64; 6]), SynthError> {
    let (day_sender, day_receiver) = mpsc::sync_channel::<DayBatch>(0);
    let (spare_sender, spare_receiver) = mpsc::channel::<Vec<EventSink>>();
    let mut counts = [0u64; 6];
    let mut cancelled = false;
    let writer_result = std::thread::scope(|scope| {
        let writer = scope.spawn(move || write_days(path, day_receiver, spare_sender));
        let mut written = 0;
        for day in 0..world.days {
            if cancel.load(Ordering::Relaxed) {
                cancelled = true;
                break;
            }
            let context = DayContext {
                world,
                day,
                day_start: world.day_start(day),
                rate,
            };
            let mut sinks = spare_receiver.try_recv().unwrap_or_default();
            simulate_day(&context, members, &mut sinks, true);
            sinks.push(std::mem::take(
                &mut injections.login_events_by_day[day as usize],
            ));
            sinks.push(std::mem::take(
                &mut injections.spraying_events_by_day[day as usize],
            ));
            for sink in &sinks {
                for (total, count) in counts.iter_mut().zip(sink.counts) {
                    *total += count;
                }
                written += sink.total();
            }
            let batch = DayBatch {
                day_end: world.day_start(day + 1),
                is_last: day + 1 == world.days,
                sinks,
            };
            if day_sender.send(batch).is_err() {
                // The writer stopped on an error, which join reports.
                break;
            }
            progress(written);
        }
        drop(day_sender);
        match writer.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    writer_result?;
    if cancelled {
        // A truncated events file would look like a complete, smaller run.
        let _ = fs::remove_file(path);
        return Err(SynthError::Cancelled);
    }
    Ok((counts.iter().sum(), counts))
}

/// Lines handed to the kernel per `write` call.
const LINES_PER_WRITE: usize = 1024;

fn write_days(
    path: &Path,
    days: mpsc::Receiver<DayBatch>,
    spare: mpsc::Sender<Vec<EventSink>>,
) -> Result<(), SynthError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    let mut order: Vec<(i64, u32, u32)> = Vec::new();
    let mut carried = EventSink::new(true);
    let mut next_carried = EventSink::new(true);
    for mut batch in days {
        batch.sinks.push(std::mem::take(&mut carried));
        order.clear();
        for (sink_index, sink) in batch.sinks.iter().enumerate() {
            order.extend(
                sink.timestamps
                    .iter()
                    .enumerate()
                    .map(|(line, ts)| (*ts, sink_index as u32, line as u32)),
            );
        }
        // Keys are unique, so the unstable sort gives one order only.
        order.sort_unstable();
        let split = if batch.is_last {
            order.len()
        } else {
            order.partition_point(|(ts, _, _)| *ts < batch.day_end)
        };
        write_lines(&mut file, &batch.sinks, &order[..split]).map_err(io_error(path))?;
        next_carried.clear();
        for (ts, sink_index, line) in &order[split..] {
            next_carried.push_line(*ts, batch.sinks[*sink_index as usize].line(*line as usize));
        }
        carried = std::mem::replace(&mut next_carried, batch.sinks.pop().unwrap_or_default());
        // The generator may be gone (cancelled or finished); then the buffers are dropped.
        let _ = spare.send(batch.sinks);
    }
    file.flush().map_err(io_error(path))
}

/// Writes the lines in `order` with vectored writes straight from the day's buffers
/// (neighbouring lines of one buffer become one slice), saving a copy through a BufWriter.
fn write_lines(
    file: &mut File,
    sinks: &[EventSink],
    order: &[(i64, u32, u32)],
) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice> = Vec::with_capacity(LINES_PER_WRITE);
    let mut pending: Option<(usize, usize, usize)> = None;
    for (_, sink_index, line) in order {
        let sink = &sinks[*sink_index as usize];
        let line = *line as usize;
        let from = sink.offsets[line] as usize;
        let to = sink
            .offsets
            .get(line + 1)
            .map_or(sink.bytes.len(), |next| *next as usize);
        pending = match pending {
            Some((pending_sink, pending_from, pending_to))
                if pending_sink == *sink_index as usize && pending_to == from =>
            {
                Some((pending_sink, pending_from, to))
            }
            Some((pending_sink, pending_from, pending_to)) => {
                slices.push(IoSlice::new(
                    &sinks[pending_sink].bytes[pending_from..pending_to],
                ));
                if slices.len() == LINES_PER_WRITE {
                    write_all_slices(file, &mut slices)?;
                }
                Some((*sink_index as usize, from, to))
            }
            None => Some((*sink_index as usize, from, to)),
        };
    }
    if let Some((pending_sink, pending_from, pending_to)) = pending {
        slices.push(IoSlice::new(
            &sinks[pending_sink].bytes[pending_from..pending_to],
        ));
    }
    write_all_slices(file, &mut slices)
}

fn write_all_slices(file: &mut File, slices: &mut Vec<IoSlice>) -> std::io::Result<()> {
    let mut remaining: &mut [IoSlice] = slices.as_mut_slice();
    while !remaining.is_empty() {
        let written = file.write_vectored(remaining)?;
        if written == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "the disk accepted no bytes",
            ));
        }
        IoSlice::advance_slices(&mut remaining, written);
    }
    slices.clear();
    Ok(())
}

fn build_truth(
    config: &SynthConfig,
    world: &World,
    members: &[MemberState],
    injections: injections::Injections,
    output: &SynthOutput,
) -> Truth {
    Truth {
        generator: format!("showrunner-synth {}", env!("CARGO_PKG_VERSION")),
        config: TruthConfig {
            seed: config.seed,
            events_target: config.events,
            members: members.len() as u32,
            titles: world.catalog.titles.len() as u32,
            days: config.days,
            start: config.start,
            end: Timestamp::from_millis(world.end()),
            heartbeat_s: config.heartbeat_s,
        },
        counts: TruthCounts {
            titles: output.titles,
            episodes: output.episodes,
            members: output.members,
            profiles: output.profiles,
            events: output.events,
            events_by_kind: output.events_by_kind.clone(),
        },
        cdn_incident: injections::incident_truth(&world.incident),
        credential_stuffing: injections.stuffing,
        password_spraying: Some(injections.spraying),
        brute_force: injections.brute_force,
        impossible_travel: injections.impossible_travel,
        shared_accounts: injections.shared_accounts,
        non_human_viewer: injections.non_human,
        releases: world
            .catalog
            .releases
            .iter()
            .map(|release| {
                let title = &world.catalog.titles[*release as usize];
                Release {
                    title_id: title.id.clone(),
                    name: title.name.clone(),
                    released_at: Timestamp::from_millis(title.added_at),
                }
            })
            .collect(),
        overwatched_genre: OverwatchedGenre {
            genre: catalog::GENRES[catalog::OVERWATCHED_GENRE].to_string(),
            favourite_boost: catalog::OVERWATCHED_FAVOURITE_BOOST,
        },
    }
}
