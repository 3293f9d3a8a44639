//! Stored series (writes, queries with a step, downsampling and retention on hand-made
//! samples) and alert state (state, history, silences, notifications) surviving a reopen,
//! each on both backends.

mod common;

use std::collections::BTreeMap;

use common::Backend;

use showrunner_store::{
    AlertHistoryEntry, NotificationEntry, RetentionPolicy, SeriesQuery, SeriesSample,
    SeriesSelector, SeriesStore, SilenceRecord,
};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// A queried series: its key and its points as (start, mean, count).
type Answer = Vec<(String, Vec<(i64, f64, u64)>)>;

fn sample(name: &str, labels: &[(&str, &str)], ts_ms: i64, value: f64) -> SeriesSample {
    SeriesSample {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ts_ms,
        value,
    }
}

fn query(store: &dyn SeriesStore, selector: &str, from: i64, to: i64, step: i64) -> Answer {
    store
        .query_series(&SeriesQuery {
            selector: SeriesSelector::parse(selector).unwrap(),
            from_ms: from,
            to_ms: to,
            step_ms: step,
            max_series: 100,
        })
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.key,
                s.points
                    .iter()
                    .map(|p| (p.ts_ms, p.value, p.count))
                    .collect(),
            )
        })
        .collect()
}

fn samples_are_queried_by_matchers_and_averaged_by_step(backend: Backend) {
    let location = backend.location();
    let mut store = location.series();
    let mut samples = Vec::new();
    for minute in 0..10 {
        samples.push(sample(
            "failure_pct",
            &[("cdn", "a")],
            minute * MIN,
            minute as f64,
        ));
        samples.push(sample("failure_pct", &[("cdn", "b")], minute * MIN, 100.0));
    }
    samples.push(sample("other", &[("cdn", "a")], 0, 1.0));
    assert_eq!(store.write_samples(&samples).unwrap(), 21);
    // A later sample at the same time replaces the earlier, in one write or across writes.
    let again = [
        sample("failure_pct", &[("cdn", "b")], 0, 41.0),
        sample("failure_pct", &[("cdn", "b")], 0, 40.0),
    ];
    assert_eq!(store.write_samples(&again).unwrap(), 2);
    assert_eq!(store.write_samples(&[]).unwrap(), 0);

    let a = query(
        store.as_ref(),
        r#"failure_pct{cdn="a"}"#,
        0,
        10 * MIN,
        5 * MIN,
    );
    assert_eq!(
        a,
        vec![(
            r#"failure_pct{cdn="a"}"#.to_string(),
            vec![(0, 2.0, 5), (5 * MIN, 7.0, 5)]
        )]
    );
    let not_a = query(store.as_ref(), r#"failure_pct{cdn!="a"}"#, 0, 2 * MIN, MIN);
    assert_eq!(not_a[0].1, vec![(0, 40.0, 1), (MIN, 100.0, 1)]);
    let by_label = query(store.as_ref(), r#"{cdn="a"}"#, 0, MIN, MIN);
    assert_eq!(by_label.len(), 2, "both metrics with cdn=a");
    assert!(
        store
            .write_samples(&[sample("bad", &[], 0, f64::NAN)])
            .unwrap_err()
            .to_string()
            .contains("bad")
    );
}

fn downsampling_keeps_hourly_rollups_after_raw_retention(backend: Backend) {
    let location = backend.location();
    let mut store = location.series();
    // Three days of one sample a minute: value = hour of the day.
    let samples: Vec<SeriesSample> = (0..3 * 24 * 60)
        .map(|m| sample("lag", &[], m * MIN, ((m / 60) % 24) as f64))
        .collect();
    store.write_samples(&samples).unwrap();
    let policy = RetentionPolicy {
        raw_retention_ms: DAY,
        rollup_width_ms: HOUR,
        rollup_retention_ms: 3 * DAY,
        late_ms: HOUR,
    };
    // 30 minutes after the three days: every hour is rolled up, the raw samples of the
    // first two days are deleted (the cutoff falls on an hour) and the third day's kept.
    let now = 3 * DAY + 30 * MIN;
    let summary = store.compact_series(&policy, now).unwrap();
    assert_eq!(summary.rollups_written, 72);
    assert_eq!(summary.raw_deleted, (2 * 24 * 60) as u64);
    // The rollup of the first hour is past three days' retention.
    assert_eq!(summary.rollups_deleted, 1);
    let hourly = query(store.as_ref(), "lag", 0, 3 * DAY, HOUR);
    let points = &hourly[0].1;
    // Hour 0 of day 1 was deleted with its rollup; the rest of the range answers.
    assert_eq!(points.len(), 71);
    assert_eq!(points[0], (HOUR, 1.0, 60));
    // Hours answered from rollups and hours from raw samples look the same.
    assert_eq!(points[25], (26 * HOUR, 2.0, 60));
    assert_eq!(points[70], (71 * HOUR, 23.0, 60));
    // A day-long step averages 24 hourly rollups weighted by their counts.
    let daily = query(store.as_ref(), "lag", DAY, 2 * DAY, DAY);
    assert_eq!(daily[0].1, vec![(DAY, 11.5, 1440)]);

    // Running again changes nothing but re-rolls the late window.
    let again = store.compact_series(&policy, now).unwrap();
    assert_eq!((again.raw_deleted, again.rollups_deleted), (0, 0));
    // Past every retention, the series itself goes.
    let gone = store.compact_series(&policy, 10 * DAY).unwrap();
    assert_eq!(gone.series_deleted, 1);
    assert!(
        store
            .series(&SeriesSelector::parse("lag").unwrap())
            .unwrap()
            .is_empty()
    );
}

fn alert_state_history_silences_and_notifications_survive_a_reopen(backend: Backend) {
    let location = backend.location();
    {
        let mut store = location.alerts();
        assert_eq!(store.alert_state().unwrap(), None);
        store.save_alert_state(r#"{"alerts":[1]}"#, 5).unwrap();
        store.save_alert_state(r#"{"alerts":[2]}"#, 6).unwrap();
        store
            .append_alert_history(&[AlertHistoryEntry {
                at_ms: 6,
                fingerprint: "f1".into(),
                rule: "High".into(),
                state: "firing".into(),
                alert: serde_json::json!({"value": 9.5}),
            }])
            .unwrap();
        // Several entries in one call keep their order.
        let entry = |at_ms: i64, fingerprint: &str, state: &str| AlertHistoryEntry {
            at_ms,
            fingerprint: fingerprint.into(),
            rule: "High".into(),
            state: state.into(),
            alert: serde_json::json!({"at": at_ms}),
        };
        store
            .append_alert_history(&[entry(7, "f2", "firing"), entry(8, "f1", "resolved")])
            .unwrap();
        store.append_alert_history(&[]).unwrap();
        store
            .put_silence(&SilenceRecord {
                id: "s0".into(),
                matchers: BTreeMap::new(),
                starts_at_ms: 0,
                ends_at_ms: 10,
                created_by: "ops".into(),
                comment: "older".into(),
                created_at_ms: 0,
            })
            .unwrap();
        store
            .put_silence(&SilenceRecord {
                id: "s1".into(),
                matchers: BTreeMap::from([("cdn".to_string(), "b".to_string())]),
                starts_at_ms: 0,
                ends_at_ms: 100,
                created_by: "ops".into(),
                comment: "maintenance".into(),
                created_at_ms: 1,
            })
            .unwrap();
        assert!(store.expire_silence("s1", 50).unwrap());
        assert!(!store.expire_silence("s1", 60).unwrap(), "already over");
        assert!(!store.expire_silence("nope", 60).unwrap());
        let id = store
            .record_notification(&NotificationEntry {
                at_ms: 7,
                receiver: "ops".into(),
                kind: "webhook".into(),
                group_key: "k".into(),
                status: "failed".into(),
                attempts: 3,
                http_status: Some(500),
                error: Some("HTTP 500".into()),
                payload: "{}".into(),
            })
            .unwrap();
        assert!(id > 0);
    }
    let store = location.alerts_read_only();
    assert_eq!(
        store.alert_state().unwrap().as_deref(),
        Some(r#"{"alerts":[2]}"#)
    );
    let history = store.alert_history(10).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (
                h.entry.at_ms,
                h.entry.fingerprint.as_str(),
                h.entry.state.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            (8, "f1", "resolved"),
            (7, "f2", "firing"),
            (6, "f1", "firing")
        ]
    );
    assert!(history[0].id > history[1].id && history[1].id > history[2].id);
    assert_eq!(history[0].entry.alert["at"], 8);
    assert_eq!(history[2].entry.alert["value"], 9.5);
    assert_eq!(store.alert_history(1).unwrap(), history[..1]);
    let silences = store.silences().unwrap();
    assert_eq!(
        silences.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s1", "s0"]
    );
    assert_eq!(
        (silences[0].ends_at_ms, silences[0].matchers["cdn"].as_str()),
        (50, "b")
    );
    let log = store.notifications(10).unwrap();
    assert_eq!(
        (log[0].entry.attempts, log[0].entry.http_status),
        (3, Some(500))
    );
}

backend_tests!(
    samples_are_queried_by_matchers_and_averaged_by_step,
    downsampling_keeps_hourly_rollups_after_raw_retention,
    alert_state_history_silences_and_notifications_survive_a_reopen,
);
