//! `cargo xtask bench detect`: the combined detector on many synthetic series at one point a
//! minute, fed the way a live monitor sees them (every series' point for a minute, then the
//! next minute), to measure the CPU per point and the memory per series against the
//! monitoring issue's target (100,000 series at one point a minute under 10% of one core).

use std::time::Instant;

use showrunner_monitor::detector;

pub struct DetectArgs {
    pub series: usize,
    pub days: usize,
}

/// Resident memory of this process in bytes (Linux), 0 elsewhere.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

pub fn run(args: DetectArgs) -> anyhow::Result<()> {
    let series = args.series.max(1);
    let minutes = args.days.max(1) * 1440;
    let before = resident_bytes();
    let mut detectors: Vec<Box<dyn detector::Detector>> = (0..series)
        .map(|_| detector::build("combined"))
        .collect::<Result<_, _>>()?;
    // A daily cycle with a per-series phase and level, and cheap deterministic noise.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let start = 1_700_000_000 - 1_700_000_000 % 86_400;
    let mut checksum = 0.0;
    let clock = Instant::now();
    for minute in 0..minutes {
        let timestamp = start + minute as i64 * 60;
        let phase = (minute % 1440) as f64 / 1440.0 * std::f64::consts::TAU;
        for (index, detector) in detectors.iter_mut().enumerate() {
            let level = 100.0 + index as f64 % 50.0;
            let value = level + 20.0 * (phase + index as f64).sin() + 3.0 * noise();
            checksum += detector.update(timestamp, value);
        }
    }
    let seconds = clock.elapsed().as_secs_f64();
    let after = resident_bytes();
    let points = (series * minutes) as f64;
    let micros = seconds * 1e6 / points;
    // 100,000 series at one point a minute are 1,667 points a second.
    let core_share = 100_000.0 / 60.0 * micros / 1e6;
    let per_series = after.saturating_sub(before) as f64 / series as f64;
    println!(
        "combined detector: {series} series x {minutes} one-minute points = {points:.0} points in {seconds:.2} s"
    );
    println!(
        "  {:.0} points/s, {micros:.2} us a point (mean score {:.4})",
        points / seconds.max(1e-9),
        checksum / points
    );
    println!(
        "  100,000 series at one point a minute would need {:.1}% of one core (target < 10%)",
        100.0 * core_share
    );
    println!(
        "  resident memory grew {:.1} MB: {:.0} KB a series ({:.1} GB for 100,000)",
        after.saturating_sub(before) as f64 / 1e6,
        per_series / 1e3,
        per_series * 100_000.0 / 1e9
    );
    Ok(())
}
