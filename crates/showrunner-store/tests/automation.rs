//! The automation tables: the model registry (live is not "newest", promote, rollback along
//! the live history), job locks and run records, and retention (rollups then purge), each
//! on both backends.

mod common;

use common::{Backend, PlaySpec, at, events_batch, events_of_every_kind};
use showrunner_model::{EventKind, ProblemKind, Timestamp};
use showrunner_store::{
    JobOutcome, ModelRegistration, ModelStatus, RegistryError, RegistryStore, ViewFilter,
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

fn statuses(store: &dyn RegistryStore) -> Vec<(i64, ModelStatus)> {
    let mut records: Vec<(i64, ModelStatus)> = store
        .model_records()
        .unwrap()
        .into_iter()
        .map(|r| (r.version, r.status))
        .collect();
    records.sort_by_key(|r| r.0);
    records
}

fn the_live_model_is_served_not_the_newest(backend: Backend) {
    let location = backend.location();
    let mut store = location.registry();
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
        statuses(store.as_ref()),
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

fn one_version_is_shadowed_at_a_time_and_never_the_live_one(backend: Backend) {
    let location = backend.location();
    let mut store = location.registry();
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

fn rollback_needs_a_previous_live_model(backend: Backend) {
    let location = backend.location();
    let mut store = location.registry();
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

fn a_job_lock_is_held_by_one_holder_until_released_or_expired(backend: Backend) {
    let location = backend.location();
    let mut first = location.jobs();
    let mut second = location.jobs();
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

/// Held jobs: two stores on one database (two processes sharing it) never hold the same
/// job at once; releasing or dropping the lock lets the other take it.
fn a_held_job_is_held_by_one_store_at_a_time(backend: Backend) {
    let location = backend.location();
    let first = location.jobs();
    let second = location.jobs();
    let backup = first
        .try_hold_job("backup")
        .unwrap()
        .expect("backup is free");
    assert_eq!(backup.job(), "backup");
    assert!(second.try_hold_job("backup").unwrap().is_none());
    // Not even the same store holds it twice.
    assert!(first.try_hold_job("backup").unwrap().is_none());
    // Another job is not affected.
    let retention = second
        .try_hold_job("retention")
        .unwrap()
        .expect("retention is free");
    backup.release().unwrap();
    let backup = second
        .try_hold_job("backup")
        .unwrap()
        .expect("backup was released");
    assert!(first.try_hold_job("backup").unwrap().is_none());
    assert!(first.try_hold_job("retention").unwrap().is_none());
    // Dropping the lock releases it too.
    drop(backup);
    drop(retention);
    assert!(first.try_hold_job("backup").unwrap().is_some());
    assert!(first.try_hold_job("retention").unwrap().is_some());
}

fn job_runs_are_recorded_newest_first(backend: Backend) {
    let location = backend.location();
    let mut store = location.jobs();
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

fn retention_rolls_up_then_purges_old_events_and_keeps_views(backend: Backend) {
    let location = backend.location();
    let mut store = location.retention();
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

backend_tests!(
    the_live_model_is_served_not_the_newest,
    one_version_is_shadowed_at_a_time_and_never_the_live_one,
    rollback_needs_a_previous_live_model,
    concurrent_publishers_get_their_own_versions,
    a_job_lock_is_held_by_one_holder_until_released_or_expired,
    a_held_job_is_held_by_one_store_at_a_time,
    job_runs_are_recorded_newest_first,
    retention_rolls_up_then_purges_old_events_and_keeps_views,
);

/// PostgreSQL databases whose models were published before that backend kept the registry
/// (inserted as candidates, the newest served) get the newest made live by migration 11.
#[test]
fn postgres_models_published_before_the_registry_keep_the_newest_live() {
    if !Backend::Postgres.available() {
        return;
    }
    let location = Backend::Postgres.location();
    drop(location.registry());
    // The state the earlier backend left: two plain inserts, no live history, and the
    // migration not yet applied (nor the later ones, which the migrator then applies too).
    location
        .raw_sql(
            "",
            "DELETE FROM schema_migrations WHERE version >= 11; DROP TABLE model_shadow; \
             INSERT INTO models (version, manifest, blob, published_at) \
                 VALUES (1, '{}', '\\x01', 1000), (2, '{}', '\\x02', 2000);",
        )
        .unwrap();
    let store = location.registry();
    assert_eq!(store.live_version().unwrap(), Some(2));
    assert_eq!(store.latest_model().unwrap().map(|m| m.version), Some(2));
    assert_eq!(
        statuses(store.as_ref()),
        [(1, ModelStatus::Retired), (2, ModelStatus::Live)]
    );
    let history = store.live_history().unwrap();
    assert_eq!(
        history
            .iter()
            .map(|c| (c.version, c.previous, c.at, c.actor.as_str()))
            .collect::<Vec<_>>(),
        [(2, None, Timestamp::from_millis(2000), "migration")]
    );
}

/// On PostgreSQL a held job is a session advisory lock: when the holder's session ends
/// without releasing it (the process died, the connection was cut), the job is free at once.
#[test]
fn postgres_frees_a_held_job_when_its_holder_session_ends() {
    if !Backend::Postgres.available() {
        return;
    }
    let location = Backend::Postgres.location();
    let first = location.jobs();
    let second = location.jobs();
    let held = first
        .try_hold_job("retrain")
        .unwrap()
        .expect("retrain is free");
    assert!(second.try_hold_job("retrain").unwrap().is_none());
    // Cut the holder's connection, as when its process dies (the timeout makes the call
    // wait until the session has ended, PostgreSQL 14 and later).
    location
        .raw_sql(
            "",
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks \
             WHERE locktype = 'advisory' AND granted \
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .unwrap();
    let taken = second.try_hold_job("retrain").unwrap();
    assert!(
        taken.is_some(),
        "the job stayed held after its session ended"
    );
    // Releasing the lost hold reports that its connection is gone.
    assert!(held.release().is_err());
    assert!(first.try_hold_job("retrain").unwrap().is_none());
}

/// Publishers on two stores of one database at once (two processes): every model gets its
/// own version, exactly one is live, and the live history names every publication once.
fn concurrent_publishers_get_their_own_versions(backend: Backend) {
    let location = backend.location();
    drop(location.registry());
    let publishers: Vec<_> = (0..2)
        .map(|publisher| {
            let mut store = location.registry();
            std::thread::spawn(move || {
                (0..10)
                    .map(|n| {
                        store
                            .register_model(
                                "{}",
                                format!("{publisher}-{n}").as_bytes(),
                                &registration(ModelStatus::Live, None),
                            )
                            .unwrap()
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut versions: Vec<i64> = publishers
        .into_iter()
        .flat_map(|publisher| publisher.join().unwrap())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<i64>>());
    let store = location.registry();
    let live: Vec<i64> = statuses(store.as_ref())
        .into_iter()
        .filter(|(_, status)| *status == ModelStatus::Live)
        .map(|(version, _)| version)
        .collect();
    let history = store.live_history().unwrap();
    assert_eq!(history.len(), 20);
    assert_eq!(live, [history[19].version]);
    assert_eq!(store.live_version().unwrap(), Some(history[19].version));
    // Each change names the one live before it.
    for pair in history.windows(2) {
        assert_eq!(pair[1].previous, Some(pair[0].version));
    }
}
