//! Playback incidents end to end: hourly playback series from QoE sessions, the rate
//! detector on failed-to-play sessions of the platform and of every busy CDN and country,
//! the strongest alert, the drill-down that names the dimension values behind it, and the
//! alert it raises.

use std::collections::BTreeMap;

use showrunner_model::Qoe;

use crate::alerts::{AlertEngine, Condition, Notification, Rule, Sample, Severity};
use crate::detector::RateDetector;
use crate::drilldown::{self, Explanation, Problem};
use crate::qoe::{Dimension, QoeSeries};

/// The strongest playback anomaly in a span of QoE sessions.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Start of the alerting bucket, seconds since the epoch.
    pub start_s: i64,
    pub bucket_s: i64,
    /// `platform` or `cdn = x` / `country = y`: the series that alerted most strongly.
    pub series: String,
    pub score: f64,
    /// Failed-to-play share of sessions in the bucket, in percent.
    pub failed_pct: f64,
    /// The dimension values that hold the excess failures, best first.
    pub explanations: Vec<Explanation>,
}

impl Incident {
    /// The alert a `PlaybackFailuresAnomalous` rule raises for it: labelled with the
    /// explaining dimension values, annotated with a summary naming them.
    pub fn alert(&self) -> Notification {
        let mut labels = BTreeMap::from([("team".to_string(), "playback".to_string())]);
        if let Some(best) = self.explanations.first() {
            for (dimension, value) in &best.segment {
                labels.insert(dimension.name().to_string(), value.clone());
            }
        }
        let summary = match self.explanations.first() {
            Some(best) => format!(
                "playback failures at {:.1}% on {}: {} of {} sessions failed where {:.0} were expected",
                self.failed_pct,
                best.describe_segment(),
                best.bad,
                best.sessions,
                best.expected_bad
            ),
            None => format!(
                "playback failures at {:.1}% on {}",
                self.failed_pct, self.series
            ),
        };
        let rule = Rule {
            name: "PlaybackFailuresAnomalous".into(),
            series: self.series.clone(),
            condition: Condition::AnomalyScore { threshold: 0.9 },
            for_ms: 0,
            severity: Severity::Critical,
            labels,
            annotations: BTreeMap::from([("summary".to_string(), summary)]),
            group_by: vec!["cdn".into(), "country".into()],
        };
        // The rule is built here with valid values; an engine over it cannot fail.
        let Ok(mut engine) = AlertEngine::new(vec![rule]) else {
            return Notification {
                group_key: String::new(),
                group_labels: BTreeMap::new(),
                alerts: Vec::new(),
            };
        };
        let mut out = engine.evaluate(
            self.start_s * 1000,
            &[Sample {
                series: &self.series,
                value: self.failed_pct,
                score: self.score.max(0.9),
            }],
        );
        out.pop().unwrap_or(Notification {
            group_key: String::new(),
            group_labels: BTreeMap::new(),
            alerts: Vec::new(),
        })
    }
}

/// Finds the strongest failed-to-play anomaly in `sessions` (`(time in ms, qoe)`, any
/// order) at `bucket_s` resolution, and explains it against everything before it. `None`
/// when no series is busy enough to watch (5 sessions a bucket on average).
pub fn find_playback_incident(sessions: &[(i64, Qoe)], bucket_s: i64) -> Option<Incident> {
    let mut series = QoeSeries::new(bucket_s);
    for (timestamp, qoe) in sessions {
        series.add(*timestamp, qoe);
    }
    let keys: Vec<_> = series
        .keys()
        .filter(|key| {
            key.as_ref().is_none_or(|(dimension, _)| {
                matches!(dimension, Dimension::Cdn | Dimension::Country)
            })
        })
        .cloned()
        .collect();
    let day = (86_400 / bucket_s).max(1) as usize;
    let mut strongest: Option<(f64, i64, String, f64)> = None;
    for key in &keys {
        let points = series.series(key);
        let total: u64 = points.iter().map(|(_, m)| m.sessions).sum();
        if total < 5 * points.len() as u64 {
            continue;
        }
        let mut detector = RateDetector::new(day);
        for (start, m) in &points {
            let failed_pct = m.playback_failure_pct + m.exit_before_start_pct;
            let failed = (m.sessions as f64 * failed_pct / 100.0).round() as u64;
            let score = detector.update(m.sessions, failed);
            if strongest.as_ref().is_none_or(|(best, ..)| score > *best) {
                let name = key
                    .as_ref()
                    .map_or("platform".to_owned(), |(dimension, value)| {
                        format!("{} = {value}", dimension.name())
                    });
                strongest = Some((score, *start, name, failed_pct));
            }
        }
    }
    let (score, start_s, name, failed_pct) = strongest?;
    let window = (start_s * 1000)..((start_s + bucket_s) * 1000);
    let anomalous = sessions
        .iter()
        .filter(|(t, _)| window.contains(t))
        .map(|(_, q)| q);
    let baseline = sessions
        .iter()
        .filter(|(t, _)| *t < window.start)
        .map(|(_, q)| q);
    let explanations =
        drilldown::explain(anomalous, baseline, Problem::FailedToPlay, &Dimension::ALL);
    Some(Incident {
        start_s,
        bucket_s,
        series: name,
        score,
        failed_pct,
        explanations,
    })
}
