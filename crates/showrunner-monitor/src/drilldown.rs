//! Dimension drill-down: when a playback metric is anomalous, which dimension values
//! explain it ("CDN = b in country = BR").
//!
//! Sessions are *bad* by a [`Problem`] (failed or left before start; slow to start). For
//! every single dimension value and every pair of values of two dimensions, the *excess* is
//! the bad sessions in the anomalous interval beyond what that segment's own baseline rate
//! predicts (the baseline rate is shrunk towards the platform's so a segment seen a few times
//! does not look extreme). A segment *explains* the anomaly when its excess is most of the
//! platform's excess; among the segments that explain nearly as much as the best one, the
//! most concentrated (the highest bad rate) is the answer: the cause, not the country that
//! merely contains it.

use std::collections::HashMap;

use showrunner_model::Qoe;

use crate::qoe::{Dimension, is_exit_before_start, is_playback_failure};

/// What makes a session bad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Problem {
    /// A fatal player error or an exit before the first frame.
    FailedToPlay,
    /// Video started, but later than this many milliseconds.
    SlowStartup { over_ms: u32 },
}

impl Problem {
    pub fn is_bad(self, qoe: &Qoe) -> bool {
        match self {
            Problem::FailedToPlay => is_playback_failure(qoe) || is_exit_before_start(qoe),
            Problem::SlowStartup { over_ms } => qoe.startup_ms.is_some_and(|ms| ms > over_ms),
        }
    }
}

/// A segment that explains (part of) an anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// One or two (dimension, value) pairs.
    pub segment: Vec<(Dimension, String)>,
    /// Sessions of the segment in the anomalous interval, and how many were bad.
    pub sessions: u64,
    pub bad: u64,
    /// Bad sessions the segment's baseline rate predicts.
    pub expected_bad: f64,
    /// The segment's share of the platform's excess bad sessions.
    pub share_of_excess: f64,
    /// Bad rate in the anomalous interval and (shrunk) in the baseline.
    pub bad_rate: f64,
    pub baseline_rate: f64,
}

impl Explanation {
    /// `cdn = b, country = BR`.
    pub fn describe_segment(&self) -> String {
        self.segment
            .iter()
            .map(|(dimension, value)| format!("{} = {value}", dimension.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Weight, in sessions, of the platform's rate in a segment's baseline rate.
const PRIOR_SESSIONS: f64 = 20.0;
/// A segment explains the anomaly when it holds at least this share of the excess...
const MIN_SHARE: f64 = 0.5;
/// ...and is the answer when it holds this fraction of the best segment's share.
const NEAR_BEST: f64 = 0.8;

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    sessions: u64,
    bad: u64,
}

type SegmentKey = Vec<(Dimension, String)>;

fn segments(qoe: &Qoe, dimensions: &[Dimension]) -> Vec<SegmentKey> {
    let values: Vec<(Dimension, String)> = dimensions
        .iter()
        .filter_map(|&dimension| dimension.value(qoe).map(|value| (dimension, value)))
        .collect();
    let mut out: Vec<SegmentKey> = values.iter().map(|pair| vec![pair.clone()]).collect();
    for (index, first) in values.iter().enumerate() {
        for second in &values[index + 1..] {
            out.push(vec![first.clone(), second.clone()]);
        }
    }
    out
}

fn count<'a>(
    sessions: impl IntoIterator<Item = &'a Qoe>,
    problem: Problem,
    dimensions: &[Dimension],
) -> (Counts, HashMap<SegmentKey, Counts>) {
    let mut total = Counts::default();
    let mut by_segment: HashMap<SegmentKey, Counts> = HashMap::new();
    for qoe in sessions {
        let bad = u64::from(problem.is_bad(qoe));
        total.sessions += 1;
        total.bad += bad;
        for segment in segments(qoe, dimensions) {
            let counts = by_segment.entry(segment).or_default();
            counts.sessions += 1;
            counts.bad += bad;
        }
    }
    (total, by_segment)
}

/// Explains an anomaly: the segments of `dimensions` (single values and pairs) holding most
/// of the excess bad sessions of `anomalous` over `baseline`, the answer first. Empty when
/// the anomalous interval has no excess.
pub fn explain<'a>(
    anomalous: impl IntoIterator<Item = &'a Qoe>,
    baseline: impl IntoIterator<Item = &'a Qoe>,
    problem: Problem,
    dimensions: &[Dimension],
) -> Vec<Explanation> {
    let (anomalous_total, anomalous_segments) = count(anomalous, problem, dimensions);
    let (baseline_total, baseline_segments) = count(baseline, problem, dimensions);
    let platform_rate = (baseline_total.bad as f64 + 1.0) / (baseline_total.sessions as f64 + 2.0);
    let total_excess = anomalous_total.bad as f64 - anomalous_total.sessions as f64 * platform_rate;
    if total_excess <= 0.0 {
        return Vec::new();
    }
    let mut explanations: Vec<Explanation> = anomalous_segments
        .into_iter()
        .filter_map(|(segment, counts)| {
            let base = baseline_segments.get(&segment).copied().unwrap_or_default();
            let baseline_rate = (base.bad as f64 + PRIOR_SESSIONS * platform_rate)
                / (base.sessions as f64 + PRIOR_SESSIONS);
            let expected_bad = counts.sessions as f64 * baseline_rate;
            let share_of_excess = (counts.bad as f64 - expected_bad) / total_excess;
            (share_of_excess >= MIN_SHARE).then(|| Explanation {
                segment,
                sessions: counts.sessions,
                bad: counts.bad,
                expected_bad,
                share_of_excess,
                bad_rate: counts.bad as f64 / counts.sessions.max(1) as f64,
                baseline_rate,
            })
        })
        .collect();
    let best_share = explanations
        .iter()
        .map(|explanation| explanation.share_of_excess)
        .fold(0.0, f64::max);
    // The answer: nearly the best share, then the highest bad rate, then fewer dimensions.
    explanations.sort_by(|a, b| {
        let near = |e: &Explanation| e.share_of_excess >= NEAR_BEST * best_share;
        near(b)
            .cmp(&near(a))
            .then(b.bad_rate.total_cmp(&a.bad_rate))
            .then(a.segment.len().cmp(&b.segment.len()))
            .then(a.segment.cmp(&b.segment))
    });
    explanations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(cdn: &str, country: &str, device: &str, failed: bool) -> Qoe {
        Qoe {
            session_id: "s".into(),
            member_id: None,
            title_id: None,
            startup_ms: (!failed).then_some(1200),
            exit_before_start: failed,
            rebuffer_count: 0,
            rebuffer_ms: 0,
            watch_s: if failed { 0 } else { 600 },
            avg_bitrate_kbps: 3000,
            bitrate_switches: 0,
            error_code: failed.then(|| "CDN_TIMEOUT".into()),
            cdn: cdn.into(),
            isp: None,
            asn: None,
            country: country.into(),
            device: device.into(),
            player: "web/1".into(),
        }
    }

    /// Every combination of 3 CDNs, 3 countries and 2 devices, `per_cell` sessions each,
    /// failing one in `normal_one_in`, except that `broken` (cdn, country) fails half.
    fn platform(per_cell: usize, normal_one_in: usize, broken: Option<(&str, &str)>) -> Vec<Qoe> {
        let mut out = Vec::new();
        for cdn in ["a", "b", "c"] {
            for country in ["BR", "US", "DE"] {
                for device in ["tv", "web"] {
                    for index in 0..per_cell {
                        let failed = if broken == Some((cdn, country)) {
                            index % 2 == 0
                        } else {
                            index % normal_one_in == 0
                        };
                        out.push(session(cdn, country, device, failed));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn names_the_cdn_and_country_not_just_one_of_them() {
        let baseline = platform(200, 50, None);
        let anomalous = platform(100, 50, Some(("b", "BR")));
        let explanations = explain(
            &anomalous,
            &baseline,
            Problem::FailedToPlay,
            &[Dimension::Cdn, Dimension::Country, Dimension::Device],
        );
        let answer = explanations.first().expect("an explanation");
        assert_eq!(answer.describe_segment(), "cdn = b, country = BR");
        assert!(answer.share_of_excess > 0.9, "{answer:?}");
        assert!((answer.bad_rate - 0.5).abs() < 1e-9);
        // cdn = b alone and country = BR alone explain as much but are less concentrated.
        let named: Vec<String> = explanations
            .iter()
            .map(Explanation::describe_segment)
            .collect();
        assert!(named.contains(&"cdn = b".to_owned()), "{named:?}");
        assert!(named.contains(&"country = BR".to_owned()), "{named:?}");
    }

    #[test]
    fn no_excess_no_explanation() {
        let baseline = platform(200, 50, None);
        let anomalous = platform(100, 50, None);
        assert!(
            explain(
                &anomalous,
                &baseline,
                Problem::FailedToPlay,
                &Dimension::ALL
            )
            .is_empty()
        );
    }
}
