//! Detectors on synthetic series with known anomalies: 5-minute points over 21 days, a
//! daily cycle, a weekly lift on weekends and deterministic pseudo-random noise. A clean
//! series must stay low after warm-up; a spike, a level shift and a seasonal break (a day
//! whose peak does not come) must score high, near where they happen.

use showrunner_monitor::detector::{self, Detector};

const STEP: i64 = 300;
const PER_DAY: usize = 288;
const DAYS: usize = 21;
const START: i64 = 1_400_000_000 - 1_400_000_000 % 86_400;

/// Deterministic noise in [-1, 1] (a 64-bit LCG; no dependency on rand's stream).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

fn clean_series() -> (Vec<i64>, Vec<f64>) {
    let mut noise = Noise(7);
    (0..DAYS * PER_DAY)
        .map(|row| {
            let timestamp = START + row as i64 * STEP;
            let day_phase = (row % PER_DAY) as f64 / PER_DAY as f64;
            let weekend = if (row / PER_DAY) % 7 >= 5 { 10.0 } else { 0.0 };
            let daily = 50.0 + 30.0 * (std::f64::consts::TAU * day_phase).sin();
            (timestamp, daily + weekend + 2.0 * noise.next())
        })
        .unzip()
}

fn scores(name: &str, timestamps: &[i64], values: &[f64]) -> Vec<f64> {
    let mut detector: Box<dyn Detector> = detector::build(name).expect("registered");
    let scores = detector::run(detector.as_mut(), timestamps, values);
    assert!(scores.iter().all(|score| (0.0..=1.0).contains(score)));
    scores
}

/// After a warm-up of 8 days: the first weekend is news to an online detector; the weekly
/// pattern is known once a week has been seen.
const WARM_UP: usize = 8 * PER_DAY;

fn max_in(scores: &[f64], range: std::ops::Range<usize>) -> f64 {
    scores[range].iter().copied().fold(0.0, f64::max)
}

const ANOMALY_AT: usize = 15 * PER_DAY + 100;

#[test]
fn clean_seasonal_series_stays_low() {
    let (timestamps, values) = clean_series();
    for name in ["combined", "seasonal", "deviation", "level-shift"] {
        let scores = scores(name, &timestamps, &values);
        let highest = max_in(&scores, WARM_UP..scores.len());
        eprintln!("{name}: clean max {highest:.3}");
        assert!(highest < 0.7, "{name}: clean series reached {highest}");
    }
}

fn check_anomaly(name: &str, values: &[f64], timestamps: &[i64], within: usize) -> f64 {
    let (_, clean) = clean_series();
    let scores = scores(name, timestamps, values);
    let clean_scores = scores_of(name, timestamps, &clean);
    let found = max_in(&scores, ANOMALY_AT..ANOMALY_AT + within);
    let quiet = max_in(&clean_scores, WARM_UP..clean_scores.len());
    let before = max_in(&scores, WARM_UP..ANOMALY_AT);
    eprintln!("{name}: anomaly {found:.3}, before it {before:.3}, clean {quiet:.3}");
    assert!(
        found > quiet + 0.15 && found > before + 0.15,
        "{name}: anomaly {found:.3} does not stand out (clean {quiet:.3}, before {before:.3})"
    );
    found
}

fn scores_of(name: &str, timestamps: &[i64], values: &[f64]) -> Vec<f64> {
    scores(name, timestamps, values)
}

#[test]
fn spike_scores_high() {
    let (timestamps, mut values) = clean_series();
    values[ANOMALY_AT] += 60.0;
    for name in ["combined", "deviation", "seasonal"] {
        let found = check_anomaly(name, &values, &timestamps, 1);
        assert!(found > 0.75, "{name}: spike scored {found}");
    }
}

/// The same spikes as always, only more of them: a pair every 100 points all along, then five
/// within 16 points. No single spike is news; their density is.
#[test]
fn increased_spike_density_scores_high() {
    let (timestamps, mut values) = clean_series();
    for (row, value) in values.iter_mut().enumerate() {
        if row % 100 == 0 || row % 100 == 6 {
            *value += 60.0;
        }
    }
    for offset in [3, 8, 9, 13, 18] {
        values[ANOMALY_AT + offset] += 60.0;
    }
    let scores = scores("combined", &timestamps, &values);
    let burst = max_in(&scores, ANOMALY_AT..ANOMALY_AT + 48);
    let regular = max_in(&scores, WARM_UP..ANOMALY_AT);
    eprintln!("combined: burst {burst:.3}, regular spikes {regular:.3}");
    assert!(
        burst > regular + 0.15 && burst > 0.6,
        "a denser run of usual spikes scored {burst:.3} (regular spikes {regular:.3})"
    );
}

#[test]
fn level_shift_scores_high_soon_after_it_starts() {
    let (timestamps, mut values) = clean_series();
    for value in &mut values[ANOMALY_AT..] {
        *value += 25.0;
    }
    for name in ["combined", "seasonal"] {
        let found = check_anomaly(name, &values, &timestamps, 12);
        assert!(found > 0.75, "{name}: level shift scored {found}");
    }
}

#[test]
fn level_shift_detector_sees_a_lasting_shift_but_not_a_lone_spike() {
    // The level-shift component compares levels, not seasons: a flat noisy series.
    let mut noise = Noise(3);
    let (timestamps, mut values): (Vec<i64>, Vec<f64>) = (0..DAYS * PER_DAY)
        .map(|row| (START + row as i64 * STEP, 20.0 + noise.next()))
        .unzip();
    values[ANOMALY_AT - PER_DAY] += 30.0;
    for value in &mut values[ANOMALY_AT..] {
        *value += 8.0;
    }
    let scores = scores_of("level-shift", &timestamps, &values);
    let spike = max_in(&scores, ANOMALY_AT - PER_DAY..ANOMALY_AT - PER_DAY + 3);
    let shift = max_in(&scores, ANOMALY_AT..ANOMALY_AT + 48);
    let before = max_in(&scores, WARM_UP..ANOMALY_AT - PER_DAY);
    eprintln!("level-shift: shift {shift:.3}, spike {spike:.3}, before {before:.3}");
    assert!(shift > 0.65 && shift > before + 0.3, "shift scored {shift}");
    assert!(
        spike < before + 0.1,
        "a lone spike moved the level: {spike}"
    );
}

#[test]
fn seasonal_break_scores_high() {
    // For one day the daily cycle stops: the series stays at its mean, well inside its
    // usual range, so only a seasonal model can see it.
    let (timestamps, mut values) = clean_series();
    let day_start = 15 * PER_DAY;
    let mut noise = Noise(11);
    for value in &mut values[day_start..day_start + PER_DAY] {
        *value = 50.0 + 2.0 * noise.next();
    }
    for name in ["combined", "seasonal"] {
        let found = {
            let (_, clean) = clean_series();
            let broken = scores_of(name, &timestamps, &values);
            let clean_scores = scores_of(name, &timestamps, &clean);
            let found = max_in(&broken, day_start..day_start + PER_DAY / 2);
            let quiet = max_in(&clean_scores, WARM_UP..clean_scores.len());
            eprintln!("{name}: seasonal break {found:.3}, clean {quiet:.3}");
            assert!(
                found > quiet + 0.15,
                "{name}: break {found:.3}, clean {quiet:.3}"
            );
            found
        };
        // The break grows with the missing cycle; `combined` lets a point of a growing
        // incident stand only 20% above the alerts that stood before it, so its highest
        // standing score can sit a little lower than the seasonal component's.
        assert!(found > 0.7, "{name}: seasonal break scored {found}");
    }
}

#[test]
fn unknown_detector_names_the_known_ones() {
    let error = detector::build("nope").err().expect("unknown name");
    assert!(error.to_string().contains("combined"), "{error}");
}

/// A spike that grows over four points (each 6% above the one before) is one incident:
/// its first point stands, the next three are repeats (scaled down); an escalation bar of
/// 5% (the default before 2026-11-28) raised four alerts.
#[test]
fn a_growing_spike_alerts_once() {
    let (timestamps, mut values) = clean_series();
    for (offset, lift) in [40.0, 42.4, 44.9, 47.6].into_iter().enumerate() {
        values[ANOMALY_AT + offset] += lift;
    }
    let scores = scores("combined", &timestamps, &values);
    let incident = &scores[ANOMALY_AT..ANOMALY_AT + 4];
    eprintln!("combined: growing spike {incident:.3?}");
    let first = incident[0];
    assert!(first > 0.6, "the first point scored {first:.3}");
    for (offset, &later) in incident.iter().enumerate().skip(1) {
        assert!(
            later < first * 0.5,
            "point {offset} of the same spike scored {later:.3} after {first:.3}"
        );
    }
}

/// A series that wanders (no daily cycle; each point pulled 5% back toward 50 plus noise)
/// and then, from `ANOMALY_AT`, sinks slowly (0.05 a point against noise of up to 1):
/// each step is small, the series wanders by more than that on its own, but within a day
/// its level lies below anything of the week before. Only the range view sees it.
fn wandering_series(drift: bool) -> (Vec<i64>, Vec<f64>) {
    let mut noise = Noise(5);
    let mut level = 50.0;
    (0..DAYS * PER_DAY)
        .map(|row| {
            level = 50.0 + 0.95 * (level - 50.0) + noise.next();
            let sink = if drift && row >= ANOMALY_AT {
                0.05 * (row - ANOMALY_AT) as f64
            } else {
                0.0
            };
            (START + row as i64 * STEP, level - sink)
        })
        .unzip()
}

fn combined_with(settings: &[(&str, &str)], timestamps: &[i64], values: &[f64]) -> Vec<f64> {
    let mut config = detector::CombinedConfig::default();
    for (name, value) in settings {
        config.set(name, value).expect("known setting");
    }
    let mut detector = detector::CombinedDetector::new(config);
    detector::run(&mut detector, timestamps, values)
}

/// The drift alerts within hours with the range view and not at all within a day without
/// it, and the view raises nothing on the same series without the drift (a wandering
/// series' usual new highs and lows are learned).
#[test]
fn slow_drift_out_of_range_scores_high() {
    let (timestamps, drifting) = wandering_series(true);
    let (_, wandering) = wandering_series(false);
    let run = |settings: &[(&str, &str)]| {
        let scores = combined_with(settings, &timestamps, &drifting);
        let quiet = combined_with(settings, &timestamps, &wandering);
        let found = max_in(&scores, ANOMALY_AT..ANOMALY_AT + PER_DAY);
        let first = (ANOMALY_AT..ANOMALY_AT + PER_DAY).find(|&row| scores[row] > 0.6);
        let usual = max_in(&quiet, WARM_UP..quiet.len());
        eprintln!(
            "combined {settings:?}: drift {found:.3} (first above 0.6 {:?} points in), \
             without the drift {usual:.3}",
            first.map(|row| row - ANOMALY_AT)
        );
        (first, usual)
    };
    let (with_view, usual_with) = run(&[]);
    let (without_view, usual_without) = run(&[("range_days", "0")]);
    assert!(
        with_view.is_some_and(|row| row < ANOMALY_AT + 8 * 12),
        "the range view did not see the drift within 8 hours: {with_view:?}"
    );
    assert_eq!(
        without_view, None,
        "the drift was seen without the range view"
    );
    assert!(
        usual_with <= usual_without + 0.01,
        "the range view raised the series without the drift: {usual_with:.3} against \
         {usual_without:.3}"
    );
}

/// How strongly (and which way round) each day of the week follows the daily cycle.
const WEEKDAY_AMPLITUDES: [f64; 7] = [1.0, -1.0, 0.6, -0.6, 0.2, 1.4, -1.4];

/// A series whose days differ: each day of the week has its own cycle (stronger, weaker or
/// upside down), the same every week. The daily pattern (the same time on the previous seven days) is
/// always far off, the weekly one is close. With `dip`, from `ANOMALY_AT` the series sinks
/// 15 below its weekly pattern (ramped in and out over two hours, six hours in all): not
/// far by the daily pattern's usual error, far by the weekly pattern's.
fn weekday_shaped_series(dip: bool) -> (Vec<i64>, Vec<f64>) {
    let mut noise = Noise(13);
    (0..DAYS * PER_DAY)
        .map(|row| {
            let amplitude = WEEKDAY_AMPLITUDES[(row / PER_DAY) % 7];
            let phase = (row % PER_DAY) as f64 / PER_DAY as f64;
            let mut value = 50.0 + 30.0 * amplitude * (std::f64::consts::TAU * phase).sin();
            if dip && row >= ANOMALY_AT {
                let into = (row - ANOMALY_AT) as f64;
                let depth = (into / 24.0).min(1.0).min((72.0 - into) / 24.0).max(0.0);
                value -= 15.0 * depth;
            }
            (START + row as i64 * STEP, value + 2.0 * noise.next())
        })
        .unzip()
}

/// Neither pattern explains the dip when each is judged by the better pattern's accuracy;
/// judged each by its own, the daily pattern (always off by about as much) explained it.
#[test]
fn a_dip_only_the_tighter_pattern_sees_scores_high() {
    let (timestamps, dipping) = weekday_shaped_series(true);
    let (_, clean) = weekday_shaped_series(false);
    let dipped = scores("combined", &timestamps, &dipping);
    let quiet = scores("combined", &timestamps, &clean);
    let found = max_in(&dipped, ANOMALY_AT..ANOMALY_AT + 72);
    let usual = max_in(&quiet, WARM_UP..quiet.len());
    eprintln!("combined: dip {found:.3}, without it {usual:.3}");
    assert!(found > 0.7, "the dip scored {found:.3}");
    assert!(
        found > usual + 0.15,
        "dip {found:.3}, the same series without it {usual:.3}"
    );
}

/// Two spikes half an hour apart, the second half as large again as the first, are one
/// incident: the second is a repeat within the hour after the first stood (it would need
/// twice the surprise). A third spike two hours later, larger again by half, stands: after
/// the hour the 20% margin applies. With a 20% margin within the hour as well
/// (`near_escalation` 1.2, the rule before 2026-11-28) the second spike stood too.
#[test]
fn a_second_spike_within_the_hour_is_the_same_incident() {
    let (timestamps, mut values) = clean_series();
    let spikes = [(0, 20.0), (6, 30.0), (30, 45.0)];
    for (offset, lift) in spikes {
        values[ANOMALY_AT + offset] += lift;
    }
    let run = |near_escalation: &str| {
        let scores = combined_with(
            &[("near_escalation", near_escalation)],
            &timestamps,
            &values,
        );
        let at: Vec<f64> = spikes
            .iter()
            .map(|&(offset, _)| scores[ANOMALY_AT + offset])
            .collect();
        eprintln!("combined, near escalation {near_escalation}: spikes {at:.3?}");
        at
    };
    let near = run("2");
    assert!(near[0] > 0.6, "the first spike scored {:.3}", near[0]);
    assert!(
        near[1] < near[0] * 0.5,
        "the second spike within the hour stood: {near:.3?}"
    );
    assert!(
        near[2] > 0.6,
        "the third spike, after the hour, scored {:.3}",
        near[2]
    );
    let old = run("1.2");
    assert!(
        old[1] > 0.6,
        "with a 20% margin the second spike stood: {old:.3?}"
    );
}

/// An hourly series over 90 days: noise of ±1 around 10 and, at about one point in 70, a
/// spike of 6 to 10, the series' usual way (a day can have two, a week none). A week of an
/// hourly series is 168 surprises, too few for a 99th percentile (the second largest): after
/// a quiet week the usual spike looked like news. Over at least 500 surprises it is usual.
#[test]
fn a_sparse_series_learns_its_usual_spikes_over_enough_samples() {
    let mut noise = Noise(17);
    let hours = 90 * 24;
    let (timestamps, values): (Vec<i64>, Vec<f64>) = (0..hours)
        .map(|row| {
            let mut value = 10.0 + noise.next();
            if noise.next() > 1.0 - 2.0 / 70.0 {
                value += 8.0 + 2.0 * noise.next();
            }
            (START + row as i64 * 3_600, value)
        })
        .unzip();
    let alerts = |settings: &[(&str, &str)]| {
        let scores = combined_with(settings, &timestamps, &values);
        scores[30 * 24..]
            .iter()
            .filter(|&&score| score > 0.6)
            .count()
    };
    let enough = alerts(&[]);
    let week = alerts(&[("history_min_points", "168")]);
    eprintln!("combined: alerts on an hourly series' usual spikes {enough}, over a week {week}");
    assert!(
        enough * 2 <= week,
        "{enough} alerts, {week} with a week of history"
    );
}
