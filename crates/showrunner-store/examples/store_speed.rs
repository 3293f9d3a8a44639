//! Measures the store's write path: 2M synthetic play events in batches of 50k into a fresh
//! database in a temporary directory, timing only `write_batch` (and the final checkpoint),
//! then re-writes the first batches to time the all-duplicates path.
//!
//! Run with `cargo run --release -p showrunner-store --example store_speed [events] [batch]
//! [postgres://URL]`: with a URL, the same batches go into that PostgreSQL database instead
//! (it must exist and be empty; drop it afterwards).

use std::time::{Duration, Instant};

use showrunner_model::{Batch, Event, EventBody, Play, PlayAction, Timestamp};
use showrunner_store::{PgStore, SqliteStore, Store};

/// Plays as a player reports them: sessions of 40 heartbeats a minute apart, 5,000 sessions
/// interleaved, time moving forward. `index` numbers events across the whole run.
fn synthetic_play(index: usize) -> Event {
    let start = Timestamp::from_civil(2026, 10, 1, 0, 0, 0, 0).map_or(0, Timestamp::millis);
    let concurrent_sessions = 5_000_usize;
    let heartbeats_per_session = 40_usize;
    let devices = ["tv", "web", "ios", "android"];
    let countries = ["US", "GB", "DE", "FR", "BR"];
    let slot = index % concurrent_sessions;
    let round = index / concurrent_sessions;
    let session = (round / heartbeats_per_session) * concurrent_sessions + slot;
    let beat = (round % heartbeats_per_session) as u32;
    let member = session % 200_000;
    let action = match beat {
        0 => PlayAction::Start,
        b if b as usize == heartbeats_per_session - 1 => PlayAction::Stop,
        _ => PlayAction::Heartbeat,
    };
    // Rounds advance time; the sessions of a round spread over its minute.
    let ts = start + (round as i64) * 60_000 + (slot as i64 * 12) % 60_000;
    Event::with_derived_id(
        Timestamp::from_millis(ts),
        EventBody::Play(Play {
            member_id: format!("m{member}"),
            profile_id: Some(format!("m{member}-p1")),
            title_id: format!("t{}", session % 5_000),
            session_id: format!("s{session}"),
            action,
            position_s: beat * 60,
            watched_s: beat * 60,
            device: Some(devices[session % devices.len()].to_owned()),
            country: Some(countries[member % countries.len()].to_owned()),
            request_id: None,
        }),
    )
}

fn synthetic_batch(first_index: usize, size: usize) -> Batch {
    Batch {
        events: (first_index..first_index + size)
            .map(synthetic_play)
            .collect(),
        ..Batch::default()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().map_or(Ok(2_000_000), |a| a.parse())?;
    let batch_size: usize = args.next().map_or(Ok(50_000), |a| a.parse())?;

    let postgres_url = args.next();

    let directory = tempfile::tempdir()?;
    let path = directory.path().join("speed.db");
    let (mut sqlite, mut postgres) = match &postgres_url {
        Some(url) => (None, Some(PgStore::open(url)?)),
        None => (Some(SqliteStore::open(&path)?), None),
    };
    let store: &mut dyn Store = match (&mut sqlite, &mut postgres) {
        (Some(store), _) => store,
        (_, Some(store)) => store,
        _ => unreachable!("one backend is open"),
    };

    let mut writing = Duration::ZERO;
    let mut accepted = 0;
    let mut generating = Duration::ZERO;
    let mut first_batches = Vec::new();
    for first_index in (0..total).step_by(batch_size) {
        let started = Instant::now();
        let batch = synthetic_batch(first_index, batch_size.min(total - first_index));
        generating += started.elapsed();
        let started = Instant::now();
        let outcome = store.write_batch(&batch)?;
        writing += started.elapsed();
        accepted += outcome.events_accepted;
        if first_batches.len() < 10 {
            first_batches.push(batch);
        }
    }
    println!("generated {total} plays in batches of {batch_size} in {generating:.2?} (not timed)");
    let checkpoint_started = Instant::now();
    if postgres_url.is_none() {
        // SQLite only: fold the WAL into the file, as the importer does at the end.
        SqliteStore::open(&path)?.checkpoint()?;
    }
    let checkpointing = checkpoint_started.elapsed();
    let rate = total as f64 / (writing + checkpointing).as_secs_f64();
    println!(
        "new events: {accepted} accepted in {writing:.2?} + checkpoint {checkpointing:.2?} \
         = {rate:.0} rows/s"
    );

    let duplicates_started = Instant::now();
    let mut duplicates = 0;
    for batch in &first_batches {
        duplicates += store.write_batch(batch)?.events_duplicate;
    }
    let elapsed = duplicates_started.elapsed();
    println!(
        "re-import: {duplicates} duplicates in {elapsed:.2?} = {:.0} rows/s",
        duplicates as f64 / elapsed.as_secs_f64()
    );

    let counts = store.counts()?;
    if postgres_url.is_none() {
        let file_size = std::fs::metadata(&path)?.len();
        println!(
            "stored: {} plays, {} views, database {:.0} MB ({:.0} bytes/play)",
            counts.events_total(),
            counts.views,
            file_size as f64 / 1e6,
            file_size as f64 / counts.events_total().max(1) as f64
        );
    } else {
        println!(
            "stored: {} plays, {} views",
            counts.events_total(),
            counts.views
        );
    }
    let refresh_started = Instant::now();
    let summary = store.refresh_derived()?;
    println!(
        "refresh_derived: {} views, {} non-human, in {:.2?}",
        summary.views,
        summary.non_human_views,
        refresh_started.elapsed()
    );
    Ok(())
}
