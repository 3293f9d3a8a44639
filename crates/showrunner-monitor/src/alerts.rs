//! Alert rules and their lifecycle: a rule watches one series (a threshold on its value or
//! on its anomaly score), an alert goes `pending` when the condition first holds, `firing`
//! once it has held for the rule's `for` duration, and `resolved` when it stops holding;
//! silences mute notifications for alerts whose labels match; notifications are grouped
//! by the rule's group labels and de-duplicated by a stable fingerprint.
//!
//! Time is always passed in ([`AlertEngine::evaluate`] takes `now`), so tests step the
//! clock instead of sleeping, and the engine's whole state is plain data that serialises
//! (alert state survives restarts when the caller stores [`AlertEngine::snapshot`]).
//! Sending is not done here: [`AlertEngine::evaluate`] returns the [`Notification`]s to
//! send, and `notify` builds each receiver's payload.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::MonitorError;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// What a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Condition {
    /// The series' value is above the threshold.
    Above { threshold: f64 },
    /// The series' value is below the threshold.
    Below { threshold: f64 },
    /// The detector's anomaly score (0..1) is at or above the threshold.
    AnomalyScore { threshold: f64 },
}

/// One alerting rule, as written in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    /// The series the rule watches (its name, e.g. `playback_failure_pct{country="BR"}`).
    pub series: String,
    pub condition: Condition,
    /// How long the condition must hold before the alert fires (0: at once).
    #[serde(default)]
    pub for_ms: Millis,
    pub severity: Severity,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Free text for people: `summary`, `description`, `runbook_url`, ...
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Labels that group this rule's alerts into one notification (empty: by rule name).
    #[serde(default)]
    pub group_by: Vec<String>,
}

impl Rule {
    pub fn check(&self) -> Result<(), MonitorError> {
        let bad = |problem: String| MonitorError::BadRule {
            rule: self.name.clone(),
            problem,
        };
        if self.name.trim().is_empty() {
            return Err(bad("the rule has no name".into()));
        }
        if self.series.trim().is_empty() {
            return Err(bad("the rule names no series".into()));
        }
        if self.for_ms < 0 {
            return Err(bad(format!(
                "for must not be negative (got {} ms)",
                self.for_ms
            )));
        }
        let threshold = match self.condition {
            Condition::Above { threshold } | Condition::Below { threshold } => threshold,
            Condition::AnomalyScore { threshold } => {
                if !(0.0..=1.0).contains(&threshold) {
                    return Err(bad(format!(
                        "an anomaly-score threshold is between 0 and 1 (got {threshold})"
                    )));
                }
                threshold
            }
        };
        if !threshold.is_finite() {
            return Err(bad("the threshold is not a finite number".into()));
        }
        Ok(())
    }

    fn holds(&self, value: f64, score: f64) -> bool {
        match self.condition {
            Condition::Above { threshold } => value > threshold,
            Condition::Below { threshold } => value < threshold,
            Condition::AnomalyScore { threshold } => score >= threshold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Firing,
    Resolved,
}

/// One alert: a rule's instance and where it is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub rule: String,
    /// Stable across restarts and processes: the dedup key for receivers.
    pub fingerprint: String,
    pub state: State,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// When the condition started holding.
    pub active_since: Millis,
    pub fired_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    /// The last value and anomaly score seen.
    pub value: f64,
    pub score: f64,
}

/// Mutes notifications of alerts whose labels all match, between two times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    /// Label name → exact value every muted alert must have.
    pub matchers: BTreeMap<String, String>,
    pub starts_at: Millis,
    pub ends_at: Millis,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    pub fn mutes(&self, alert: &Alert, now: Millis) -> bool {
        (self.starts_at..self.ends_at).contains(&now)
            && self
                .matchers
                .iter()
                .all(|(k, v)| alert.labels.get(k) == Some(v))
    }
}

/// What to tell receivers: a group of alerts that changed (fired or resolved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The group's key (`rule=...` or the group-by labels), stable for de-duplication.
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    pub alerts: Vec<Alert>,
}

/// One point of a watched series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample<'a> {
    pub series: &'a str,
    pub value: f64,
    /// The detector's anomaly score for the point (0 when there is none).
    pub score: f64,
}

/// Everything that must survive a restart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub alerts: Vec<Alert>,
    pub silences: Vec<Silence>,
    /// Resolved and fired alerts, newest last (bounded by the engine's history size).
    pub history: Vec<Alert>,
}

/// The rules and the alerts they own.
#[derive(Debug, Clone)]
pub struct AlertEngine {
    rules: Vec<Rule>,
    /// Active (pending or firing) alerts by fingerprint.
    active: HashMap<String, Alert>,
    silences: Vec<Silence>,
    history: Vec<Alert>,
    history_size: usize,
}

impl AlertEngine {
    /// Checks every rule; two rules with one name are refused.
    pub fn new(rules: Vec<Rule>) -> Result<AlertEngine, MonitorError> {
        let mut names = std::collections::HashSet::new();
        for rule in &rules {
            rule.check()?;
            if !names.insert(rule.name.as_str()) {
                return Err(MonitorError::BadRule {
                    rule: rule.name.clone(),
                    problem: "two rules have this name".into(),
                });
            }
        }
        Ok(AlertEngine {
            rules,
            active: HashMap::new(),
            silences: Vec::new(),
            history: Vec::new(),
            history_size: 10_000,
        })
    }

    /// Restores the alerts, silences and history saved by [`AlertEngine::snapshot`]; alerts
    /// of rules that no longer exist are dropped.
    pub fn restore(&mut self, snapshot: Snapshot) {
        let names: std::collections::HashSet<&str> =
            self.rules.iter().map(|r| r.name.as_str()).collect();
        self.active = snapshot
            .alerts
            .into_iter()
            .filter(|a| names.contains(a.rule.as_str()))
            .map(|a| (a.fingerprint.clone(), a))
            .collect();
        self.silences = snapshot.silences;
        self.history = snapshot.history;
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut alerts: Vec<Alert> = self.active.values().cloned().collect();
        alerts.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        Snapshot {
            alerts,
            silences: self.silences.clone(),
            history: self.history.clone(),
        }
    }

    pub fn add_silence(&mut self, silence: Silence) -> Result<(), MonitorError> {
        if silence.ends_at <= silence.starts_at {
            return Err(MonitorError::BadRule {
                rule: format!("silence {}", silence.id),
                problem: "a silence must end after it starts".into(),
            });
        }
        self.silences.retain(|s| s.id != silence.id);
        self.silences.push(silence);
        Ok(())
    }

    pub fn expire_silence(&mut self, id: &str) -> bool {
        let before = self.silences.len();
        self.silences.retain(|s| s.id != id);
        self.silences.len() != before
    }

    /// Pending and firing alerts, by fingerprint.
    pub fn active(&self) -> Vec<&Alert> {
        let mut out: Vec<&Alert> = self.active.values().collect();
        out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        out
    }

    pub fn history(&self) -> &[Alert] {
        &self.history
    }

    /// Feeds the latest samples at time `now` and returns the notifications to send: alerts
    /// that started firing and alerts that resolved, grouped, without silenced ones. A
    /// series with no sample this round keeps its alerts as they are (missing data is not
    /// recovery).
    pub fn evaluate(&mut self, now: Millis, samples: &[Sample<'_>]) -> Vec<Notification> {
        let mut changed: Vec<Alert> = Vec::new();
        for rule in &self.rules {
            let Some(sample) = samples.iter().rev().find(|s| s.series == rule.series) else {
                continue;
            };
            let fingerprint = fingerprint(rule);
            let holds = rule.holds(sample.value, sample.score);
            match (self.active.get_mut(&fingerprint), holds) {
                (None, true) => {
                    let mut labels = rule.labels.clone();
                    labels.insert("alertname".into(), rule.name.clone());
                    labels.insert("severity".into(), severity_text(rule.severity).into());
                    let mut alert = Alert {
                        rule: rule.name.clone(),
                        fingerprint: fingerprint.clone(),
                        state: State::Pending,
                        severity: rule.severity,
                        labels,
                        annotations: rule.annotations.clone(),
                        active_since: now,
                        fired_at: None,
                        resolved_at: None,
                        value: sample.value,
                        score: sample.score,
                    };
                    if rule.for_ms == 0 {
                        alert.state = State::Firing;
                        alert.fired_at = Some(now);
                        changed.push(alert.clone());
                    }
                    self.active.insert(fingerprint, alert);
                }
                (Some(alert), true) => {
                    alert.value = sample.value;
                    alert.score = sample.score;
                    if alert.state == State::Pending && now - alert.active_since >= rule.for_ms {
                        alert.state = State::Firing;
                        alert.fired_at = Some(now);
                        changed.push(alert.clone());
                    }
                }
                (Some(_), false) => {
                    if let Some(mut alert) = self.active.remove(&fingerprint) {
                        alert.value = sample.value;
                        alert.score = sample.score;
                        // A pending alert that never fired just goes away; a firing one
                        // resolves and tells its receivers.
                        if alert.state == State::Firing {
                            alert.state = State::Resolved;
                            alert.resolved_at = Some(now);
                            changed.push(alert);
                        }
                    }
                }
                (None, false) => {}
            }
        }
        for alert in &changed {
            self.history.push(alert.clone());
        }
        if self.history.len() > self.history_size {
            let excess = self.history.len() - self.history_size;
            self.history.drain(..excess);
        }
        self.silences.retain(|s| s.ends_at > now);
        let audible: Vec<Alert> = changed
            .into_iter()
            .filter(|a| !self.silences.iter().any(|s| s.mutes(a, now)))
            .collect();
        self.group(audible)
    }

    fn group(&self, alerts: Vec<Alert>) -> Vec<Notification> {
        let mut groups: BTreeMap<String, Notification> = BTreeMap::new();
        for alert in alerts {
            let group_by = self
                .rules
                .iter()
                .find(|r| r.name == alert.rule)
                .map(|r| r.group_by.clone())
                .unwrap_or_default();
            let group_labels: BTreeMap<String, String> = if group_by.is_empty() {
                BTreeMap::from([("alertname".to_string(), alert.rule.clone())])
            } else {
                group_by
                    .iter()
                    .filter_map(|k| alert.labels.get(k).map(|v| (k.clone(), v.clone())))
                    .collect()
            };
            let key = group_labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(",");
            groups
                .entry(key.clone())
                .or_insert_with(|| Notification {
                    group_key: key,
                    group_labels,
                    alerts: Vec::new(),
                })
                .alerts
                .push(alert);
        }
        groups.into_values().collect()
    }
}

fn severity_text(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// A stable id of a rule's alert (rule name, series and labels), the same in every
/// process and across restarts.
fn fingerprint(rule: &Rule) -> String {
    let mut text = format!("{}\u{1f}{}", rule.name, rule.series);
    for (k, v) in &rule.labels {
        text.push_str(&format!("\u{1f}{k}={v}"));
    }
    // FNV-1a, 64 bits: no dependency, stable forever.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, for_ms: Millis) -> Rule {
        Rule {
            name: name.into(),
            series: "playback_failure_pct".into(),
            condition: Condition::Above { threshold: 5.0 },
            for_ms,
            severity: Severity::Critical,
            labels: BTreeMap::from([("team".to_string(), "playback".to_string())]),
            annotations: BTreeMap::from([("summary".to_string(), "failures".to_string())]),
            group_by: vec!["team".into()],
        }
    }

    fn sample(value: f64) -> Sample<'static> {
        Sample {
            series: "playback_failure_pct",
            value,
            score: 0.0,
        }
    }

    const MIN: Millis = 60_000;

    #[test]
    fn pending_then_firing_after_for_then_resolved() {
        let mut engine = AlertEngine::new(vec![rule("failures", 5 * MIN)]).unwrap();
        assert!(engine.evaluate(0, &[sample(9.0)]).is_empty());
        assert_eq!(engine.active()[0].state, State::Pending);
        assert!(engine.evaluate(4 * MIN, &[sample(9.0)]).is_empty());
        let fired = engine.evaluate(5 * MIN, &[sample(9.5)]);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].group_key, "team=\"playback\"");
        let alert = &fired[0].alerts[0];
        assert_eq!(
            (alert.state, alert.fired_at),
            (State::Firing, Some(5 * MIN))
        );
        assert_eq!(alert.labels["alertname"], "failures");
        assert_eq!(alert.labels["severity"], "critical");
        // Still firing: nothing new to say. Missing data: nothing changes.
        assert!(engine.evaluate(6 * MIN, &[sample(9.0)]).is_empty());
        assert!(engine.evaluate(7 * MIN, &[]).is_empty());
        let resolved = engine.evaluate(8 * MIN, &[sample(1.0)]);
        assert_eq!(resolved[0].alerts[0].state, State::Resolved);
        assert_eq!(resolved[0].alerts[0].resolved_at, Some(8 * MIN));
        assert!(engine.active().is_empty());
        assert_eq!(engine.history().len(), 2);
    }

    #[test]
    fn a_blip_shorter_than_for_never_fires() {
        let mut engine = AlertEngine::new(vec![rule("failures", 5 * MIN)]).unwrap();
        assert!(engine.evaluate(0, &[sample(9.0)]).is_empty());
        assert!(engine.evaluate(MIN, &[sample(1.0)]).is_empty());
        assert!(engine.active().is_empty());
        assert!(engine.history().is_empty());
    }

    #[test]
    fn silences_mute_matching_alerts_until_they_end() {
        let mut engine = AlertEngine::new(vec![rule("failures", 0)]).unwrap();
        engine
            .add_silence(Silence {
                id: "s1".into(),
                matchers: BTreeMap::from([("team".to_string(), "playback".to_string())]),
                starts_at: 0,
                ends_at: 10 * MIN,
                created_by: "oncall".into(),
                comment: "maintenance".into(),
            })
            .unwrap();
        assert!(engine.evaluate(MIN, &[sample(9.0)]).is_empty(), "silenced");
        assert_eq!(engine.active()[0].state, State::Firing, "still tracked");
        // After the silence, the resolution is heard.
        assert_eq!(engine.evaluate(11 * MIN, &[sample(1.0)]).len(), 1);
        let bad = Silence {
            id: "s2".into(),
            matchers: BTreeMap::new(),
            starts_at: 5,
            ends_at: 5,
            created_by: String::new(),
            comment: String::new(),
        };
        assert!(engine.add_silence(bad).is_err());
    }

    #[test]
    fn state_survives_a_restart_and_fingerprints_are_stable() {
        let mut engine = AlertEngine::new(vec![rule("failures", 5 * MIN)]).unwrap();
        engine.evaluate(0, &[sample(9.0)]);
        let saved = serde_json::to_string(&engine.snapshot()).unwrap();
        let mut restarted = AlertEngine::new(vec![rule("failures", 5 * MIN)]).unwrap();
        restarted.restore(serde_json::from_str(&saved).unwrap());
        // The pending alert keeps its start: it fires at 5 minutes, not 5 after restart.
        let fired = restarted.evaluate(5 * MIN, &[sample(9.0)]);
        assert_eq!(fired.len(), 1);
        assert_eq!(
            fired[0].alerts[0].fingerprint,
            engine.active()[0].fingerprint
        );
    }

    #[test]
    fn anomaly_score_rules_and_bad_rules() {
        let mut r = rule("anomalous", 0);
        r.condition = Condition::AnomalyScore { threshold: 0.9 };
        let mut engine = AlertEngine::new(vec![r.clone()]).unwrap();
        let s = Sample {
            series: "playback_failure_pct",
            value: 1.0,
            score: 0.95,
        };
        assert_eq!(engine.evaluate(0, &[s]).len(), 1);
        r.condition = Condition::AnomalyScore { threshold: 2.0 };
        assert!(AlertEngine::new(vec![r.clone()]).is_err());
        let dup = vec![rule("x", 0), rule("x", 0)];
        let err = AlertEngine::new(dup).unwrap_err();
        assert!(err.to_string().contains("two rules"), "{err}");
    }
}
