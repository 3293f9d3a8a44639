//! Measures generation speed: `cargo run --release -p showrunner-synth --example synth_speed
//! [events] [out_dir] [seed] [days]` (default 10,000,000 events over 30 days into a temporary
//! directory).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use showrunner_synth::{SynthConfig, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let events: u64 = match arguments.next() {
        Some(text) => text.parse()?,
        None => 10_000_000,
    };
    let temporary = tempfile::tempdir()?;
    let out_dir = arguments
        .next()
        .map_or_else(|| temporary.path().to_path_buf(), std::path::PathBuf::from);
    let mut config = SynthConfig {
        events,
        ..SynthConfig::default()
    };
    if let Some(seed) = arguments.next() {
        config.seed = seed.parse()?;
    }
    if let Some(days) = arguments.next() {
        config.days = days.parse()?;
    }
    let started = Instant::now();
    let output = generate(&config, &out_dir, &|_| {}, &AtomicBool::new(false))?;
    let elapsed = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&output.events_path)?.len();
    println!(
        "{} events ({} members, {} titles, {} episodes) in {elapsed:.2} s: {:.0} events/s, {:.0} MB/s",
        output.events,
        output.members,
        output.titles,
        output.episodes,
        output.events as f64 / elapsed,
        bytes as f64 / elapsed / 1e6
    );
    for (kind, count) in &output.events_by_kind {
        println!(
            "  {kind:<11} {count:>10} ({:.1}%)",
            *count as f64 * 100.0 / output.events as f64
        );
    }
    Ok(())
}
