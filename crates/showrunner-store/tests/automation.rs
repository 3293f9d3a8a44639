//! The automation tables: the model registry (live is not "newest", promote, rollback along
//! the live history), job locks and run records, and retention (rollups then purge).

mod common;

use common::{PlaySpec, at, events_batch, events_of_every_kind};
use showrunner_model::{EventKind, ProblemKind, Timestamp};
use showrunner_store::{
    JobOutcome, JobStore, ModelRegistration, ModelStatus, RegistryError, RegistryStore,
    RetentionStore, ServerStore, SqliteStore, Store, ViewFilter,
};

fn registration(status: ModelStatus, reason: Option<&str>) -> ModelRegistration {
    ModelRegistration {
        algorithm: "ease".into(),
        parameters: serde_json::json!({"lambda": 500.0}),
        data_from: Some(at(0)),
        data_to: Some(at(86_400)),
        metrics: serde_json::json!({"ndcg@10": 0.25}),
        published_by: "test".into(),
        status,
        reason: reason.map(str::to_owned),
    }
}

fn statuses(store: &SqliteStore) -> Vec<(i64, ModelStatus)> {
    let mut records: Vec<(i64, ModelStatus)> = store
        .model_records()
        .unwrap()
        .into_iter()
        .map(|r| (r.version, r.status))
        .collect();
    records.sort_by_key(|r| r.0);
    records
}

#[test]
fn the_live_model_is_served_not_the_newest() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    assert_eq!(store.latest_model().unwrap(), None);
    let v1 = store.publish_model("{}", b"one").unwrap();
    assert_eq!(store.latest_model().unwrap().map(|m| m.version), Some(v1));
    let v2 = store
        .register_model("{}", b"two", &registration(ModelStatus::Candidate, None))
        .unwrap();
    let v3 = store
        .register_model(
            "{}",
            b"three",
            &registration(ModelStatus::Rejected, Some("ndcg@10 0.01 < 0.24")),
        )
        .unwrap();
    assert_eq!((v1, v2, v3), (1, 2, 3));
    // Neither a candidate nor a rejected model is served.
    assert_eq!(store.latest_model().unwrap().map(|m| m.version), Some(1));
    assert_eq!(store.live_version().unwrap(), Some(1));
    let rejected = store.model_record(3).unwrap().unwrap();
    assert_eq!(rejected.status, ModelStatus::Rejected);
    assert_eq!(rejected.reason.as_deref(), Some("ndcg@10 0.01 < 0.24"));
    assert_eq!(rejected.metrics["ndcg@10"], 0.25);
    assert_eq!(rejected.data_to, Some(at(86_400)));

    let change = store.promote(2, "ops", "by hand").unwrap();
    assert_eq!((change.version, change.previous), (2, Some(1)));
    assert_eq!(store.latest_model().unwrap().map(|m| m.version), Some(2));
    assert_eq!(
        statuses(&store),
        [
            (1, ModelStatus::Retired),
            (2, ModelStatus::Live),
            (3, ModelStatus::Rejected)
        ]
    );
    assert!(matches!(
        store.promote(2, "ops", "again"),
        Err(RegistryError::AlreadyLive { version: 2 })
    ));
    assert!(matches!(
        store.promote(9, "ops", "no such"),
        Err(RegistryError::NoSuchModel { version: 9 })
    ));

    // Rollback goes back to the model live before.
    let back = store.rollback(None, "ops").unwrap();
    assert_eq!((back.version, back.previous), (1, Some(2)));
    assert_eq!(store.latest_model().unwrap().map(|m| m.version), Some(1));
    // A model that was never live is not a rollback target.
    assert!(matches!(
        store.rollback(Some(3), "ops"),
        Err(RegistryError::NeverLive { version: 3 })
    ));
    let forward = store.rollback(Some(2), "ops").unwrap();
    assert_eq!(forward.version, 2);
    let history: Vec<i64> = store
        .live_history()
        .unwrap()
        .iter()
        .map(|c| c.version)
        .collect();
    assert_eq!(history, [1, 2, 1, 2]);

    // Publishing still makes the new model live at once.
    let v4 = store.publish_model("{}", b"four").unwrap();
    assert_eq!(store.latest_model().unwrap().map(|m| m.version), Some(v4));
    assert_eq!(
        store
            .model_records()
            .unwrap()
            .iter()
            .filter(|r| r.status == ModelStatus::Live)
            .count(),
        1
    );
}

#[test]
fn one_version_is_shadowed_at_a_time_and_never_the_live_one() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    assert_eq!(store.shadow().unwrap(), None);
    assert_eq!(store.stop_shadow().unwrap(), None);
    store.publish_model("{}", b"one").unwrap();
    store
        .register_model("{}", b"two", &registration(ModelStatus::Candidate, None))
        .unwrap();
    assert!(matches!(
        store.start_shadow(1, "ops", at(10)),
        Err(RegistryError::ShadowIsLive { version: 1 })
    ));
    assert!(matches!(
        store.start_shadow(7, "ops", at(10)),
        Err(RegistryError::NoSuchModel { version: 7 })
    ));
    assert_eq!(store.shadow().unwrap(), None);

    let started = store.start_shadow(2, "ops", at(10)).unwrap();
    assert_eq!(store.shadow().unwrap(), Some(started.clone()));
    // Starting again replaces the row: a new start time and actor.
    let again = store.start_shadow(2, "someone", at(20)).unwrap();
    assert_eq!(
        store.shadow().unwrap(),
        Some(showrunner_store::ShadowSetting {
            version: 2,
            started_at: at(20),
            started_by: "someone".into(),
        })
    );
    assert_ne!(started, again);
    assert_eq!(store.stop_shadow().unwrap(), Some(again));
    assert_eq!(store.shadow().unwrap(), None);
}

#[test]
fn rollback_needs_a_previous_live_model() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    assert!(matches!(
        store.rollback(None, "ops"),
        Err(RegistryError::NoLiveModel)
    ));
    store.publish_model("{}", b"one").unwrap();
    assert!(matches!(
        store.rollback(None, "ops"),
        Err(RegistryError::NothingToRollBackTo { current: 1 })
    ));
}

#[test]
fn a_job_lock_is_held_by_one_holder_until_released_or_expired() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("jobs.db");
    let mut first = SqliteStore::open(&path).unwrap();
    let mut second = SqliteStore::open(&path).unwrap();
    let t = |s: i64| Timestamp::from_seconds(1_800_000_000 + s);
    assert!(first.try_lock_job("backup", "a", t(0), t(600)).unwrap());
    assert!(!second.try_lock_job("backup", "b", t(10), t(610)).unwrap());
    // Another job is not affected.
    assert!(
        second
            .try_lock_job("retention", "b", t(10), t(610))
            .unwrap()
    );
    first.unlock_job("backup", "a").unwrap();
    assert!(second.try_lock_job("backup", "b", t(20), t(620)).unwrap());
    // A holder that died: its lock is taken over once expired.
    assert!(!first.try_lock_job("backup", "a", t(619), t(1200)).unwrap());
    assert!(first.try_lock_job("backup", "a", t(620), t(1200)).unwrap());
}

#[test]
fn job_runs_are_recorded_newest_first() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let t = |s: i64| Timestamp::from_seconds(1_800_000_000 + s);
    let one = store
        .start_job_run("backup", "schedule", 1, t(0), JobOutcome::Running)
        .unwrap();
    store
        .finish_job_run(
            one,
            t(5),
            JobOutcome::Failed,
            "disk full",
            &serde_json::json!({}),
        )
        .unwrap();
    let two = store
        .start_job_run("backup", "retry", 2, t(60), JobOutcome::Running)
        .unwrap();
    store
        .finish_job_run(
            two,
            t(62),
            JobOutcome::Succeeded,
            "wrote b.db",
            &serde_json::json!({"bytes": 4096}),
        )
        .unwrap();
    store
        .start_job_run("retention", "manual", 1, t(70), JobOutcome::Skipped)
        .unwrap();
    let runs = store.job_runs(Some("backup"), 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0].trigger.as_str(), runs[0].attempt, runs[0].outcome),
        ("retry", 2, JobOutcome::Succeeded)
    );
    assert_eq!(runs[0].figures["bytes"], 4096);
    assert_eq!(runs[0].finished_at, Some(t(62)));
    assert_eq!(runs[1].log, "disk full");
    let all = store.job_runs(None, 2).unwrap();
    assert_eq!(
        all.iter().map(|r| r.job.as_str()).collect::<Vec<_>>(),
        ["retention", "backup"]
    );
    assert_eq!(all[0].finished_at, Some(t(70)));
}

#[test]
fn retention_rolls_up_then_purges_old_events_and_keeps_views() {
    let mut store = SqliteStore::open_in_memory().unwrap();
    let day = 86_400;
    let viewer = |session: &'static str, member: &'static str| PlaySpec {
        session,
        member,
        title: "t1",
        device: "tv",
    };
    let mut events = events_of_every_kind(); // on day 0
    // A session of N minutes has N + 1 play events.
    events.extend(viewer("a1", "m1").session(3_600, 10, 0)); // day 0, 11 events
    events.extend(viewer("a2", "m2").session(3_600, 5, 0)); // day 0, 6 events
    events.extend(viewer("a3", "m1").session(2 * day + 60, 4, 0)); // day 2, 5 events
    let mut batch = events_batch(events);
    batch.titles = vec![common::movie("t1", Some(3_600))];
    batch.quarantined = vec![common::quarantined("in", 1, "?", ProblemKind::Malformed)];
    store.write_batch(&batch).unwrap();
    let before = store.counts().unwrap();

    // The cut is rounded down to midnight: day 1 noon purges day 0 only.
    let summary = store.roll_up_and_purge(at(day + day / 2)).unwrap();
    let after = store.counts().unwrap();
    assert_eq!(after.events_of(EventKind::Play), 5, "{summary:?}");
    assert_eq!(after.events_of(EventKind::Login), 0);
    assert_eq!(after.events_of(EventKind::Qoe), 0);
    // Ratings and views are kept.
    assert_eq!(
        after.events_of(EventKind::Rating),
        before.events_of(EventKind::Rating)
    );
    assert_eq!(store.views(&ViewFilter::default()).unwrap().len(), 5);
    let purged_plays = summary
        .purged
        .iter()
        .find(|(k, _)| *k == EventKind::Play)
        .map(|(_, n)| *n);
    assert_eq!(purged_plays, Some(before.events_of(EventKind::Play) - 5));

    let rollups = store.daily_rollups(at(0), at(10 * day)).unwrap();
    let plays_t1 = rollups
        .iter()
        .find(|r| r.kind == EventKind::Play && r.title_id == "t1")
        .expect("a play rollup for t1");
    assert_eq!(plays_t1.day, at(0));
    // 17 from the two sessions plus the two plays of events_of_every_kind (t1, m1).
    assert_eq!((plays_t1.events, plays_t1.members), (19, 2));
    assert!(
        rollups
            .iter()
            .any(|r| r.kind == EventKind::Login && r.title_id.is_empty())
    );
    let rolled: u64 = rollups.iter().map(|r| r.events).sum();
    let purged: u64 = summary.purged.iter().map(|(_, n)| n).sum();
    assert_eq!(rolled, purged);

    // A second pass over the same cut finds nothing more.
    let again = store.roll_up_and_purge(at(day + day / 2)).unwrap();
    assert!(again.purged.is_empty());
    assert_eq!(store.daily_rollups(at(0), at(10 * day)).unwrap(), rollups);

    // Quarantine has its own horizon (first_seen is the wall clock of the write).
    assert_eq!(
        store
            .purge_quarantine(Timestamp::from_seconds(1_000_000_000))
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .purge_quarantine(Timestamp::from_seconds(4_000_000_000))
            .unwrap(),
        1
    );
}
