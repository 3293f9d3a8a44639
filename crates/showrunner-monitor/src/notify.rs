//! What each receiver is sent, built from a [`Notification`]: the Alertmanager webhook
//! payload (version 4), a Slack incoming-webhook message, PagerDuty Events API v2 events
//! (trigger and resolve under one dedup key per alert), and the body of Alertmanager's
//! `POST /api/v2/alerts`. Also the retry schedule every sender uses.
//!
//! Sending is the caller's (the server's) job: this module builds bytes and decides when to
//! try again, so the payloads are tested without a network.

use std::time::Duration;

use serde_json::{Value, json};
use showrunner_model::Timestamp;

use crate::alerts::{Alert, Notification, Severity, State};

fn rfc3339(millis: i64) -> String {
    Timestamp::from_millis(millis).to_rfc3339()
}

fn status(alerts: &[Alert]) -> &'static str {
    if alerts.iter().any(|a| a.state == State::Firing) {
        "firing"
    } else {
        "resolved"
    }
}

/// Labels every alert of the group shares (same value).
fn common(
    alerts: &[Alert],
    field: impl Fn(&Alert) -> &std::collections::BTreeMap<String, String>,
) -> Value {
    let Some(first) = alerts.first() else {
        return json!({});
    };
    let mut out = serde_json::Map::new();
    for (k, v) in field(first) {
        if alerts.iter().all(|a| field(a).get(k) == Some(v)) {
            out.insert(k.clone(), Value::String(v.clone()));
        }
    }
    Value::Object(out)
}

fn alert_json(alert: &Alert, generator_url: &str) -> Value {
    json!({
        "status": if alert.state == State::Firing { "firing" } else { "resolved" },
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": rfc3339(alert.fired_at.unwrap_or(alert.active_since)),
        "endsAt": alert.resolved_at.map_or("0001-01-01T00:00:00Z".to_string(), rfc3339),
        "generatorURL": generator_url,
        "fingerprint": alert.fingerprint,
    })
}

/// The Alertmanager webhook receiver's payload (version 4), as Prometheus Alertmanager
/// itself sends it to webhooks.
pub fn alertmanager_webhook(n: &Notification, receiver: &str, external_url: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": 0,
        "status": status(&n.alerts),
        "receiver": receiver,
        "groupLabels": n.group_labels,
        "commonLabels": common(&n.alerts, |a| &a.labels),
        "commonAnnotations": common(&n.alerts, |a| &a.annotations),
        "externalURL": external_url,
        "alerts": n.alerts.iter().map(|a| alert_json(a, external_url)).collect::<Vec<_>>(),
    })
}

/// The body of Alertmanager's `POST /api/v2/alerts` (a list of postable alerts). A resolved
/// alert carries its `endsAt`, which tells Alertmanager it is over.
pub fn alertmanager_api_v2(n: &Notification, generator_url: &str) -> Value {
    Value::Array(
        n.alerts
            .iter()
            .map(|a| {
                let mut v = json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": rfc3339(a.fired_at.unwrap_or(a.active_since)),
                    "generatorURL": generator_url,
                });
                if let Some(end) = a.resolved_at {
                    v["endsAt"] = Value::String(rfc3339(end));
                }
                v
            })
            .collect(),
    )
}

/// A Slack incoming-webhook message: one line per alert, coloured by severity.
pub fn slack(n: &Notification) -> Value {
    let firing = status(&n.alerts) == "firing";
    let worst = n.alerts.iter().map(|a| a.severity).max_by_key(|s| *s as u8);
    let color = match (firing, worst) {
        (false, _) => "#2eb67d",
        (true, Some(Severity::Critical)) => "#e01e5a",
        (true, Some(Severity::Warning)) => "#ecb22e",
        (true, _) => "#36c5f0",
    };
    let lines: Vec<String> = n
        .alerts
        .iter()
        .map(|a| {
            let summary = a
                .annotations
                .get("summary")
                .cloned()
                .unwrap_or_else(|| a.rule.clone());
            format!(
                "*{}* {} — value {:.3}, anomaly score {:.2}",
                if a.state == State::Firing {
                    "FIRING"
                } else {
                    "RESOLVED"
                },
                summary,
                a.value,
                a.score
            )
        })
        .collect();
    json!({
        "text": format!("[{}] {}", status(&n.alerts).to_uppercase(), n.group_key),
        "attachments": [{ "color": color, "text": lines.join("\n") }],
    })
}

/// PagerDuty Events API v2 events, one per alert: `trigger` while firing, `resolve` when
/// resolved, under the alert's fingerprint as the dedup key (so PagerDuty pairs them).
pub fn pagerduty(n: &Notification, routing_key: &str, source: &str) -> Vec<Value> {
    n.alerts
        .iter()
        .map(|a| {
            if a.state == State::Firing {
                json!({
                    "routing_key": routing_key,
                    "event_action": "trigger",
                    "dedup_key": a.fingerprint,
                    "payload": {
                        "summary": a.annotations.get("summary").cloned().unwrap_or_else(|| a.rule.clone()),
                        "source": source,
                        "severity": match a.severity {
                            Severity::Critical => "critical",
                            Severity::Warning => "warning",
                            Severity::Info => "info",
                        },
                        "timestamp": rfc3339(a.fired_at.unwrap_or(a.active_since)),
                        "custom_details": { "labels": a.labels, "value": a.value, "anomaly_score": a.score },
                    },
                })
            } else {
                json!({
                    "routing_key": routing_key,
                    "event_action": "resolve",
                    "dedup_key": a.fingerprint,
                })
            }
        })
        .collect()
}

/// When to try sending again after `attempt` failures (0-based): exponential back-off from
/// `base`, doubling, capped at `max`; `None` once `attempts` tries are used up.
pub fn retry_delay(attempt: u32, attempts: u32, base: Duration, max: Duration) -> Option<Duration> {
    if attempt + 1 >= attempts {
        return None;
    }
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    Some(base.saturating_mul(factor).min(max))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::alerts::{AlertEngine, Condition, Rule, Sample};

    fn notification(value: f64, now: i64, engine: &mut AlertEngine) -> Vec<Notification> {
        engine.evaluate(
            now,
            &[Sample {
                series: "rebuffer_pct",
                value,
                score: 0.97,
            }],
        )
    }

    fn engine() -> AlertEngine {
        AlertEngine::new(vec![Rule {
            name: "RebufferHigh".into(),
            series: "rebuffer_pct".into(),
            condition: Condition::Above { threshold: 2.0 },
            for_ms: 0,
            severity: Severity::Critical,
            labels: BTreeMap::from([("cdn".to_string(), "b".to_string())]),
            annotations: BTreeMap::from([(
                "summary".to_string(),
                "rebuffering on CDN b in BR".to_string(),
            )]),
            group_by: vec!["cdn".into()],
        }])
        .unwrap()
    }

    #[test]
    fn payloads_have_each_receivers_shape() {
        let mut e = engine();
        let fired = notification(4.0, 1_764_000_000_000, &mut e);
        let n = &fired[0];
        let am = alertmanager_webhook(n, "ops", "http://showrunner:8080");
        assert_eq!(am["version"], "4");
        assert_eq!(am["status"], "firing");
        assert_eq!(am["groupLabels"]["cdn"], "b");
        assert_eq!(am["commonLabels"]["alertname"], "RebufferHigh");
        assert_eq!(am["alerts"][0]["startsAt"], "2025-11-24T16:00:00Z");
        assert_eq!(am["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
        let api = alertmanager_api_v2(n, "http://showrunner:8080");
        assert!(api[0].get("endsAt").is_none());
        assert_eq!(api[0]["labels"]["severity"], "critical");
        let s = slack(n);
        assert!(s["text"].as_str().unwrap().starts_with("[FIRING]"));
        assert_eq!(s["attachments"][0]["color"], "#e01e5a");
        assert!(
            s["attachments"][0]["text"]
                .as_str()
                .unwrap()
                .contains("CDN b in BR")
        );
        let pd = pagerduty(n, "key", "showrunner");
        assert_eq!(pd[0]["event_action"], "trigger");
        assert_eq!(pd[0]["payload"]["severity"], "critical");

        let resolved = notification(1.0, 1_764_000_600_000, &mut e);
        let n2 = &resolved[0];
        let pd2 = pagerduty(n2, "key", "showrunner");
        assert_eq!(pd2[0]["event_action"], "resolve");
        assert_eq!(
            pd2[0]["dedup_key"], pd[0]["dedup_key"],
            "one incident in PagerDuty"
        );
        assert_eq!(alertmanager_webhook(n2, "ops", "x")["status"], "resolved");
        assert!(alertmanager_api_v2(n2, "x")[0]["endsAt"].is_string());
        assert_eq!(slack(n2)["attachments"][0]["color"], "#2eb67d");
    }

    #[test]
    fn back_off_doubles_up_to_the_cap_and_gives_up() {
        let s = Duration::from_secs;
        let delays: Vec<Option<Duration>> = (0..6).map(|a| retry_delay(a, 5, s(1), s(5))).collect();
        assert_eq!(
            delays,
            vec![Some(s(1)), Some(s(2)), Some(s(4)), Some(s(5)), None, None]
        );
    }
}
