//! Restoring a backup: a fresh store with the same counts and the same recommendations,
//! never written over an existing file; and the retention job run through the scheduler.

mod common;

use std::sync::Arc;

use common::at;
use showrunner_jobs::retrain::RetrainJob;
use showrunner_jobs::{
    JobsConfig, ManualClock, RetentionConfig, RetrainConfig, Schedule, Scheduler,
};
use showrunner_model::EventKind;
use showrunner_recommend::{Filter, Model};
use showrunner_store::{JobOutcome, ServerStore, SqliteStore, Store, StoreError};

fn live_model(db: &std::path::Path) -> Model {
    let store = SqliteStore::open_read_only(db).expect("opens");
    let version = store.latest_model().expect("reads").expect("live").version;
    let published = store
        .published_model(version)
        .expect("reads")
        .expect("stored");
    Model::from_bytes(&published.manifest, &published.blob).expect("loads")
}

#[test]
fn a_restored_backup_has_the_same_counts_and_recommendations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::platform(dir.path());
    let mut scheduler = Scheduler::new(
        &db,
        Arc::new(ManualClock::new(at(100 * 86_400))),
        &JobsConfig::default(),
    );
    scheduler.register(
        Box::new(RetrainJob::new(RetrainConfig {
            algo: "ease".into(),
            ..RetrainConfig::default()
        })),
        Schedule::parse("0 3 * * *").expect("parses"),
    );
    assert_eq!(
        scheduler.run_now("retrain").expect("runs").outcome,
        JobOutcome::Succeeded
    );

    let backup = dir.path().join("backup.db");
    SqliteStore::open_read_only(&db)
        .expect("opens")
        .backup_to(&backup)
        .expect("backs up");
    let restored = dir.path().join("restored.db");
    let counts = showrunner_jobs::backup::restore(&backup, &restored).expect("restores");
    let original = SqliteStore::open_read_only(&db).expect("opens");
    assert_eq!(counts, original.counts().expect("counts"));
    assert_eq!(counts.events_of(EventKind::Play), 3_600);

    // The same live model, giving every member the same recommendations; and a model
    // trained from the restored store's data equals one trained from the original's.
    let (before, after) = (live_model(&db), live_model(&restored));
    for member in ["m0", "m17", "m299", "nobody"] {
        assert_eq!(
            before.recommend(member, 10, &Filter::default()),
            after.recommend(member, 10, &Filter::default()),
            "{member}"
        );
    }
    let signals = |path: &std::path::Path| {
        let store = SqliteStore::open_read_only(path).expect("opens");
        showrunner_jobs::training::signals_from_store(&store, None)
            .expect("reads")
            .interactions
    };
    let (a, b) = (signals(&db), signals(&restored));
    assert_eq!(
        (a.nnz(), a.user_ids.clone(), a.item_ids.clone()),
        (b.nnz(), b.user_ids.clone(), b.item_ids.clone())
    );

    // Never over an existing file, and only from a database.
    let error = showrunner_jobs::backup::restore(&backup, &restored).expect_err("refused");
    assert!(
        matches!(
            error,
            showrunner_jobs::JobError::Store(StoreError::DestinationExists { .. })
        ),
        "{error}"
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database").expect("writes");
    let error = showrunner_jobs::backup::restore(&text, &dir.path().join("x.db"))
        .expect_err("refused")
        .to_string();
    assert!(error.contains("not a showrunner database"), "{error}");
    assert!(!dir.path().join("x.db").exists());
}

#[test]
fn the_retention_job_purges_events_past_the_horizon() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::platform(dir.path());
    let config = JobsConfig {
        retention: Some(RetentionConfig {
            schedule: "30 4 * * *".into(),
            raw_events_days: 5,
            quarantine_days: 30,
        }),
        ..JobsConfig::default()
    };
    // Day 10 of the data: plays of days 0..5 are past a 5-day horizon.
    let clock = Arc::new(ManualClock::new(at(10 * 86_400)));
    let mut scheduler = Scheduler::from_config(&db, clock.clone(), &config).expect("builds");
    clock.set(at(10 * 86_400 + 4 * 3_600 + 1_800));
    let runs = scheduler.tick().expect("ticks");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, JobOutcome::Succeeded, "{}", runs[0].log);
    // Each member watches one movie a day for 12 days: days 0..4 are purged.
    assert_eq!(runs[0].figures["purged"]["play"], 5 * 300);
    let store = SqliteStore::open_read_only(&db).expect("opens");
    assert_eq!(
        store.counts().expect("counts").events_of(EventKind::Play),
        7 * 300
    );
    // Views stay, so models still learn from the whole history.
    assert_eq!(store.counts().expect("counts").views, 3_600);
}
