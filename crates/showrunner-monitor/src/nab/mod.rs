//! NAB's published scoring, written from its documented algorithm.
//!
//! A detector gives every row of every data file an anomaly score in `[0, 1]`; a threshold
//! turns scores into detections. Each labelled anomaly window is worth at most `tp_weight`:
//! its *earliest* detection scores `tp_weight * S(p) / S(-1)`, where `S` is the scaled
//! sigmoid `2 / (1 + e^(5p)) - 1` and `p` runs from -1 at the window's left edge towards 0
//! at its right edge; a window with no detection costs `-fn_weight`. A detection outside any
//! window costs `fp_weight * S(d)`, where `d` is the distance past the end of the preceding
//! window in window widths (`-fp_weight` when no window precedes it or `d > 3`). The first
//! 15% of each file (at most 750 rows) is the probationary period and is not scored.
//!
//! One threshold per detector and profile is chosen over the whole corpus: every distinct
//! anomaly score is tried (sweeping from the highest down) and the best total wins. Totals
//! are normalised so that the null detector (a constant 0.5) scores 0 and the perfect
//! detector (every window found at its left edge, no false positive) scores 100.

pub mod format;

use std::cmp::Ordering;

pub use format::{
    DataFile, format_timestamp, parse_data_csv, parse_profiles_json, parse_result_scores,
    parse_timestamp, parse_windows_json, result_csv,
};

use crate::MonitorError;

/// NAB's probationary fraction: the first 15% of a file is for learning only.
pub const PROBATIONARY_FRACTION: f64 = 0.15;

/// One application profile: the weights of NAB's cost matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub tp_weight: f64,
    pub fp_weight: f64,
    pub fn_weight: f64,
}

impl Profile {
    /// NAB's three profiles as published in `config/profiles.json`.
    pub fn published() -> Vec<Profile> {
        [
            ("standard", 1.0, 0.11, 1.0),
            ("reward_low_FP_rate", 1.0, 0.22, 1.0),
            ("reward_low_FN_rate", 1.0, 0.11, 2.0),
        ]
        .into_iter()
        .map(|(name, tp_weight, fp_weight, fn_weight)| Profile {
            name: name.to_owned(),
            tp_weight,
            fp_weight,
            fn_weight,
        })
        .collect()
    }
}

/// One data file's detector output, ready to score.
#[derive(Debug, Clone, Copy)]
pub struct ScoredFile<'a> {
    /// The file's corpus path, e.g. `realKnownCause/nyc_taxi.csv` (for reports).
    pub name: &'a str,
    /// Anomaly windows as inclusive row-index ranges, sorted and disjoint.
    pub windows: &'a [(usize, usize)],
    /// One anomaly score per data row.
    pub scores: &'a [f64],
}

/// The score of a corpus (or one file) at one threshold, with NAB's row counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdScore {
    /// Rows scoring at or above this value are detections.
    pub threshold: f64,
    /// The raw NAB score (sum of window and false-positive parts).
    pub score: f64,
    pub true_positives: usize,
    pub false_positives: usize,
    pub true_negatives: usize,
    pub false_negatives: usize,
}

/// A detector's result for one profile over a corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileScore {
    pub profile: String,
    /// The threshold the sweep chose.
    pub threshold: f64,
    /// The raw score at that threshold.
    pub raw: f64,
    /// The null detector's raw score (constant 0.5, its own best threshold).
    pub null: f64,
    /// The perfect detector's raw score: every window, `tp_weight` each.
    pub perfect: f64,
    /// `100 * (raw - null) / (perfect - null)`.
    pub normalised: f64,
    /// Each file's part at the chosen threshold.
    pub per_file: Vec<FileScore>,
}

/// One file's part of a corpus score at the chosen threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScore {
    pub name: String,
    pub raw: f64,
    pub windows: usize,
    pub windows_detected: usize,
    pub false_positive_rows: usize,
}

/// NAB's scaled sigmoid of a relative position: +0.987 at the left edge of a window (-1),
/// 0 at its right edge (0), -0.987 one window-width past it (1), and -1 beyond 3.
pub fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * relative_position).exp()) - 1.0
    }
}

/// Rows at the start of a file of `rows` rows that are not scored:
/// `min(floor(0.15 * rows), 0.15 * 5000)`.
pub fn probationary_length(rows: usize) -> usize {
    let by_fraction = (PROBATIONARY_FRACTION * rows as f64).floor();
    let cap = PROBATIONARY_FRACTION * 5000.0;
    by_fraction.min(cap) as usize
}

/// A scorable row: its anomaly score, what detecting it is worth, and its window.
#[derive(Debug, Clone, Copy)]
struct SweepRow {
    anomaly: f64,
    /// Weighted worth of a detection here: positive inside a window, a cost outside.
    worth: f64,
    /// Corpus-wide window index, `None` outside windows.
    window: Option<usize>,
}

/// The scorable rows of one file (probation dropped), windows numbered from `first_window`.
/// Also returns which windows have at least one scorable row.
fn sweep_rows(file: &ScoredFile<'_>, profile: &Profile, first_window: usize) -> Vec<SweepRow> {
    let rows = file.scores.len();
    let probation = probationary_length(rows);
    let max_tp = scaled_sigmoid(-1.0);
    let mut out = Vec::with_capacity(rows.saturating_sub(probation));
    let mut next_window = 0;
    let mut current: Option<(usize, usize, usize)> = None; // (index, start, end)
    let mut previous: Option<(usize, usize)> = None; // (end, width)
    for (row, &anomaly) in file.scores.iter().enumerate() {
        // A malformed window (end before start) is never entered.
        if let Some(&(start, end)) = file.windows.get(next_window)
            && row == start
        {
            if end >= start {
                current = Some((next_window, start, end));
            }
            next_window += 1;
        }
        let (worth, window) = match current {
            Some((index, start, end)) => {
                let width = (end - start + 1) as f64;
                let position = -((end as f64 - row as f64 + 1.0) / width);
                (
                    scaled_sigmoid(position) * profile.tp_weight / max_tp,
                    Some(first_window + index),
                )
            }
            None => {
                let unweighted = match previous {
                    // A one-row window has no width to measure distance in: treat every
                    // later false positive as far away.
                    Some((end, width)) if width > 1 => {
                        scaled_sigmoid((row - end) as f64 / (width - 1) as f64)
                    }
                    _ => -1.0,
                };
                (unweighted * profile.fp_weight, None)
            }
        };
        if row >= probation {
            out.push(SweepRow {
                anomaly,
                worth,
                window,
            });
        }
        if let Some((_, start, end)) = current
            && row == end
        {
            previous = Some((end, end - start + 1));
            current = None;
        }
    }
    out
}

/// Scores at every distinct threshold, highest threshold first. The first entry (threshold
/// above every score) is "detect nothing".
fn scores_by_threshold(
    mut rows: Vec<SweepRow>,
    window_count: usize,
    profile: &Profile,
) -> Vec<ThresholdScore> {
    // Stable sort, highest anomaly score first.
    rows.sort_by(|a, b| b.anomaly.total_cmp(&a.anomaly));
    // Only windows with at least one scorable row can be missed.
    let mut best = vec![None::<f64>; window_count];
    for row in &rows {
        if let Some(window) = row.window {
            best[window] = Some(-profile.fn_weight);
        }
    }
    let mut window_total: f64 = best.iter().flatten().sum();
    let mut false_positive_total = 0.0;
    let in_window = rows.iter().filter(|row| row.window.is_some()).count();
    let mut counts = ThresholdScore {
        threshold: f64::INFINITY,
        score: window_total,
        true_positives: 0,
        false_positives: 0,
        true_negatives: rows.len() - in_window,
        false_negatives: in_window,
    };
    let mut out = Vec::new();
    // NAB starts above every score in [0, 1]; keep that for detectors that overshoot.
    let top = rows.first().map_or(0.0, |row| row.anomaly);
    let mut threshold = if top < 1.1 { 1.1 } else { top + 1.0 };
    for row in &rows {
        if row.anomaly != threshold {
            out.push(ThresholdScore {
                threshold,
                score: false_positive_total + window_total,
                ..counts
            });
            threshold = row.anomaly;
        }
        match row.window {
            Some(window) => {
                counts.true_positives += 1;
                counts.false_negatives -= 1;
                let slot = &mut best[window];
                let old = slot.unwrap_or(-profile.fn_weight);
                if row.worth > old {
                    window_total += row.worth - old;
                    *slot = Some(row.worth);
                }
            }
            None => {
                counts.false_positives += 1;
                counts.true_negatives -= 1;
                false_positive_total += row.worth;
            }
        }
    }
    out.push(ThresholdScore {
        threshold,
        score: false_positive_total + window_total,
        ..counts
    });
    out
}

/// The raw score of every threshold over a corpus of files, highest threshold first.
pub fn sweep_corpus(files: &[ScoredFile<'_>], profile: &Profile) -> Vec<ThresholdScore> {
    let mut rows = Vec::new();
    let mut first_window = 0;
    for file in files {
        rows.extend(sweep_rows(file, profile, first_window));
        first_window += file.windows.len();
    }
    scores_by_threshold(rows, first_window, profile)
}

/// NAB's optimiser: the threshold with the highest corpus score (the highest such threshold
/// on ties).
pub fn optimise_threshold(files: &[ScoredFile<'_>], profile: &Profile) -> ThresholdScore {
    let sweep = sweep_corpus(files, profile);
    let mut best = sweep[0];
    for candidate in &sweep[1..] {
        if candidate.score > best.score {
            best = *candidate;
        }
    }
    best
}

/// One file's raw score and counts when rows scoring `>= threshold` are detections.
pub fn score_file(file: &ScoredFile<'_>, profile: &Profile, threshold: f64) -> FileScore {
    let rows = sweep_rows(file, profile, 0);
    let mut best = vec![None::<f64>; file.windows.len()];
    let mut false_positive_total = 0.0;
    let mut false_positive_rows = 0;
    for row in &rows {
        match row.window {
            Some(window) => {
                let slot = best[window].get_or_insert(-profile.fn_weight);
                if row.anomaly >= threshold && row.worth > *slot {
                    *slot = row.worth;
                }
            }
            None if row.anomaly >= threshold => {
                false_positive_total += row.worth;
                false_positive_rows += 1;
            }
            None => {}
        }
    }
    let windows: Vec<f64> = best.iter().flatten().copied().collect();
    FileScore {
        name: file.name.to_owned(),
        raw: false_positive_total + windows.iter().sum::<f64>(),
        windows: windows.len(),
        windows_detected: windows.iter().filter(|&&worth| worth > 0.0).count(),
        false_positive_rows,
    }
}

/// A detector's normalised score for one profile over a corpus: threshold sweep, then
/// `100 * (raw - null) / (perfect - null)`.
pub fn score_corpus(files: &[ScoredFile<'_>], profile: &Profile) -> ProfileScore {
    let best = optimise_threshold(files, profile);
    let null_scores: Vec<Vec<f64>> = files
        .iter()
        .map(|file| vec![0.5; file.scores.len()])
        .collect();
    let null_files: Vec<ScoredFile<'_>> = files
        .iter()
        .zip(&null_scores)
        .map(|(file, scores)| ScoredFile { scores, ..*file })
        .collect();
    let null = optimise_threshold(&null_files, profile).score;
    let windows: usize = files.iter().map(|file| file.windows.len()).sum();
    let perfect = windows as f64 * profile.tp_weight;
    let denominator = perfect - null;
    let normalised = if denominator.partial_cmp(&0.0) == Some(Ordering::Greater) {
        100.0 * (best.score - null) / denominator
    } else {
        0.0
    };
    ProfileScore {
        profile: profile.name.clone(),
        threshold: best.threshold,
        raw: best.score,
        null,
        perfect,
        normalised,
        per_file: files
            .iter()
            .map(|file| score_file(file, profile, best.threshold))
            .collect(),
    }
}

/// One data file of a NAB corpus with its windows as row ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusFile {
    /// The corpus path, e.g. `realKnownCause/nyc_taxi.csv`.
    pub name: String,
    pub data: DataFile,
    /// Inclusive row ranges, sorted.
    pub windows: Vec<(usize, usize)>,
}

impl CorpusFile {
    /// This file with a detector's scores, ready for the scorer.
    pub fn scored<'a>(&'a self, scores: &'a [f64]) -> ScoredFile<'a> {
        ScoredFile {
            name: &self.name,
            windows: &self.windows,
            scores,
        }
    }
}

/// Builds a corpus from the text of `combined_windows.json`: every file it names, in name
/// order, read through `read_data` (given the corpus path, it returns the CSV's text; the
/// caller does the IO).
pub fn load_corpus(
    windows_text: &str,
    mut read_data: impl FnMut(&str) -> std::io::Result<String>,
) -> Result<Vec<CorpusFile>, MonitorError> {
    let windows = parse_windows_json("combined_windows.json", windows_text)?;
    windows
        .into_iter()
        .map(|(name, file_windows)| {
            let text = read_data(&name).map_err(|error| MonitorError::Read {
                input: name.clone(),
                message: error.to_string(),
            })?;
            let data = parse_data_csv(&name, &text)?;
            let windows = window_indices(&name, &data.timestamps, &file_windows)?;
            Ok(CorpusFile {
                name,
                data,
                windows,
            })
        })
        .collect()
}

/// Where NAB keeps a detector's result for a data file:
/// `<detector>/<category>/<detector>_<file>`.
pub fn result_path(detector: &str, name: &str) -> String {
    match name.rsplit_once('/') {
        Some((category, file)) => format!("{detector}/{category}/{detector}_{file}"),
        None => format!("{detector}/{detector}_{name}"),
    }
}

/// Matches label windows (timestamps) to row indices of a data file. NAB requires both ends
/// of every window to be timestamps of the file.
pub fn window_indices(
    file: &str,
    timestamps: &[i64],
    windows: &[(i64, i64)],
) -> Result<Vec<(usize, usize)>, MonitorError> {
    let find = |wanted: i64| timestamps.iter().position(|&t| t == wanted);
    let mut out: Vec<(usize, usize)> = windows
        .iter()
        .map(|&(start, end)| match (find(start), find(end)) {
            (Some(first), Some(last)) if first <= last => Ok((first, last)),
            _ => Err(MonitorError::WindowNotInData {
                file: file.to_owned(),
                start: format::format_timestamp(start),
                end: format::format_timestamp(end),
            }),
        })
        .collect::<Result<_, _>>()?;
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Hand-made cases: a 20-row file (probation = floor(0.15 * 20) = 3 rows) with one
    //! window on rows 10..=13 (width 4). Expected values are worked out by hand from the
    //! formulas in the module doc: S(p) = 2 / (1 + e^(5p)) - 1, S(-1) = 0.986614.

    use super::*;

    const WINDOWS: &[(usize, usize)] = &[(10, 13)];

    fn standard() -> Profile {
        Profile::published().remove(0)
    }

    fn scores_with(detections: &[(usize, f64)]) -> Vec<f64> {
        let mut scores = vec![0.0; 20];
        for &(row, score) in detections {
            scores[row] = score;
        }
        scores
    }

    fn file(scores: &[f64]) -> ScoredFile<'_> {
        ScoredFile {
            name: "test/one.csv",
            windows: WINDOWS,
            scores,
        }
    }

    fn check(detections: &[(usize, f64)], threshold: f64, expected: f64) {
        let scores = scores_with(detections);
        let got = score_file(&file(&scores), &standard(), threshold).raw;
        assert!(
            (got - expected).abs() < 1e-9,
            "{detections:?} at {threshold}: got {got}, expected {expected}"
        );
    }

    #[test]
    fn scaled_sigmoid_landmarks() {
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298).abs() < 1e-8);
        assert!(scaled_sigmoid(0.0).abs() < 1e-12);
        assert!((scaled_sigmoid(-0.5) - 0.848_283_639_957).abs() < 1e-9);
        assert_eq!(scaled_sigmoid(3.5), -1.0);
    }

    #[test]
    fn probation_is_fifteen_percent_capped_at_750_rows() {
        assert_eq!(probationary_length(20), 3);
        assert_eq!(probationary_length(4032), 604);
        assert_eq!(probationary_length(22_695), 750);
    }

    #[test]
    fn window_scores_by_its_earliest_detection_only() {
        // Nothing detected: the window is missed, -fn_weight.
        check(&[], 0.5, -1.0);
        // At the left edge a detection is worth exactly tp_weight.
        check(&[(10, 1.0)], 0.5, 1.0);
        // Row 11: p = -(13 - 11 + 1) / 4 = -0.75, S(-0.75) / S(-1) = 0.966989.
        check(&[(11, 1.0)], 0.5, 0.966_989_087_8);
        // Row 12 alone: p = -0.5, 0.848284 / 0.986614 = 0.859793.
        check(&[(12, 1.0)], 0.5, 0.859_792_566_9);
        // Rows 11 and 12 both detected: only the first counts.
        check(&[(11, 1.0), (12, 1.0)], 0.5, 0.966_989_087_8);
    }

    #[test]
    fn false_positives_cost_by_distance_from_the_preceding_window() {
        // Before any window: -fp_weight = -0.11 (plus the missed window).
        check(&[(5, 1.0)], 0.5, -1.11);
        // In the probationary period (rows 0..3): not scored at all.
        check(&[(1, 1.0)], 0.5, -1.0);
        // One row past the window: d = 1 / (4 - 1), S(1/3) * 0.11 = -0.075049.
        check(&[(14, 1.0)], 0.5, -1.0 - 0.075_048_796_9);
        // Two rows past: d = 2/3, S(2/3) * 0.11 = -0.102422.
        check(&[(15, 1.0)], 0.5, -1.0 - 0.102_422_057_0);
    }

    #[test]
    fn sweep_tries_every_distinct_score_and_keeps_the_best() {
        // Window rows 11 and 12 score 0.9, a false positive before the window scores 0.8,
        // one just after it 0.7, every other row 0.
        let scores = scores_with(&[(11, 0.9), (12, 0.9), (5, 0.8), (14, 0.7)]);
        let files = [file(&scores)];
        let sweep = sweep_corpus(&files, &standard());
        let pairs: Vec<(f64, f64)> = sweep.iter().map(|s| (s.threshold, s.score)).collect();
        // Threshold 0: every scorable row (3..20) is a detection: the window's left edge
        // (1.0), 7 rows before it at -0.11 each, rows 14..19 past it at S((i - 13) / 3) * 0.11.
        let past: f64 = (14..20)
            .map(|row| scaled_sigmoid((row - 13) as f64 / 3.0) * 0.11)
            .sum();
        let expected = [
            (1.1, -1.0),
            (0.9, 0.966_989_087_8),
            (0.8, 0.856_989_087_8),
            (0.7, 0.781_940_290_9),
            (0.0, 1.0 - 0.77 + past),
        ];
        assert_eq!(pairs.len(), expected.len(), "{pairs:?}");
        for ((threshold, score), (want_threshold, want_score)) in pairs.iter().zip(expected) {
            assert_eq!(*threshold, want_threshold);
            assert!((score - want_score).abs() < 1e-9, "{pairs:?}");
        }
        let best = optimise_threshold(&files, &standard());
        assert_eq!(best.threshold, 0.9);
        assert_eq!((best.true_positives, best.false_positives), (2, 0));
    }

    #[test]
    fn normalised_between_null_and_perfect_detectors() {
        // Null detector (constant 0.5): on a file this short its best threshold is 0.5,
        // detecting every row: the window's left edge (+1), 7 rows before it (-0.11 each)
        // and rows 14..19 after it (S((i - 13) / 3) * 0.11) = -0.385656.
        // Perfect: 1 per window. A detection at row 11 scores 0.966989, so
        // 100 * (0.966989 + 0.385656) / (1 + 0.385656) = 97.6177.
        let scores = scores_with(&[(11, 1.0)]);
        let result = score_corpus(&[file(&scores)], &standard());
        assert!((result.null - -0.385_655_947).abs() < 1e-8, "{result:?}");
        assert_eq!(result.perfect, 1.0);
        assert!((result.normalised - 97.617_669).abs() < 1e-5, "{result:?}");
        // A window entirely inside the probationary period is neither found nor missed; the
        // detection at row 11 is now a false positive 9 widths past it: -0.11.
        let early = [(1, 2)];
        let scored = ScoredFile {
            name: "test/early.csv",
            windows: &early,
            scores: &scores,
        };
        let file_score = score_file(&scored, &standard(), 0.5);
        assert_eq!(file_score.windows, 0);
        assert_eq!(file_score.raw, -0.11);
    }

    #[test]
    fn windows_must_match_timestamps() {
        let timestamps = [0, 300, 600, 900];
        assert_eq!(
            window_indices("f", &timestamps, &[(300, 600)]).expect("matches"),
            vec![(1, 2)]
        );
        assert!(window_indices("f", &timestamps, &[(300, 700)]).is_err());
    }
}
