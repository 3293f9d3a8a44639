//! The retrain job and its quality gate on a real store: the first model goes live, a
//! deliberately bad candidate (random scores: iALS without a single training sweep) is
//! refused and recorded as rejected with the reason while the live model stays, and a
//! good candidate replaces the live one.

mod common;

use std::sync::Arc;

use common::at;
use showrunner_jobs::retrain::RetrainJob;
use showrunner_jobs::{JobsConfig, ManualClock, RetrainConfig, Schedule, Scheduler};
use showrunner_recommend::Spec;
use showrunner_recommend::models::ials::IalsParams;
use showrunner_store::{JobOutcome, ModelStatus, RegistryStore, ServerStore, SqliteStore};

fn retrain_config(algo: &str) -> RetrainConfig {
    RetrainConfig {
        schedule: "0 3 * * *".into(),
        algo: algo.into(),
        margin: 0.01,
        ..RetrainConfig::default()
    }
}

fn scheduler_with(db: &std::path::Path, job: RetrainJob) -> Scheduler {
    let mut scheduler = Scheduler::new(
        db,
        Arc::new(ManualClock::new(at(100 * 86_400))),
        &JobsConfig::default(),
    );
    scheduler.register(Box::new(job), Schedule::parse("0 3 * * *").expect("parses"));
    scheduler
}

#[test]
fn the_gate_publishes_good_models_and_refuses_a_random_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::platform(dir.path());

    // No model is live: the first candidate goes live.
    let mut scheduler = scheduler_with(&db, RetrainJob::new(retrain_config("ease")));
    let first = scheduler.run_now("retrain").expect("runs");
    assert_eq!(first.outcome, JobOutcome::Succeeded, "{}", first.log);
    assert_eq!(first.figures["status"], "live");
    let live_ndcg = first.figures["candidate_ndcg@10"].as_f64().expect("ndcg");
    assert!(live_ndcg > 0.2, "EASE learns the genres: {live_ndcg}");
    let store = SqliteStore::open_read_only(&db).expect("opens");
    assert_eq!(
        store.latest_model().expect("reads").map(|m| m.version),
        Some(1)
    );
    let record = store.model_record(1).expect("reads").expect("registered");
    assert_eq!(
        (record.algorithm.as_str(), record.published_by.as_str()),
        ("ease", "job retrain")
    );
    assert!(record.data_from.is_some() && record.data_to > record.data_from);
    assert!(
        record.metrics["gate"]["accepted"]
            .as_bool()
            .unwrap_or(false)
    );

    // A deliberately bad model: random factors, never trained.
    let random = Spec::Ials(IalsParams {
        iterations: 0,
        factors: 8,
        ..IalsParams::default()
    });
    let mut scheduler = scheduler_with(
        &db,
        RetrainJob::with_candidate(retrain_config("ease"), random),
    );
    let refused = scheduler.run_now("retrain").expect("runs");
    assert_eq!(refused.outcome, JobOutcome::Succeeded, "{}", refused.log);
    assert_eq!(refused.figures["status"], "rejected");
    assert_eq!(refused.figures["accepted"], false);
    let random_ndcg = refused.figures["candidate_ndcg@10"].as_f64().expect("ndcg");
    eprintln!("{}", refused.log);
    assert!(
        random_ndcg < live_ndcg - 0.1,
        "random {random_ndcg} against live {live_ndcg}"
    );
    assert_eq!(refused.figures["live_version"], 1);
    let store = SqliteStore::open_read_only(&db).expect("opens");
    assert_eq!(
        store.latest_model().expect("reads").map(|m| m.version),
        Some(1),
        "the live model stays"
    );
    let rejected = store.model_record(2).expect("reads").expect("registered");
    assert_eq!(rejected.status, ModelStatus::Rejected);
    let reason = rejected.reason.expect("a reason");
    assert!(
        reason.contains("ndcg@10") && reason.contains('<'),
        "{reason}"
    );

    // Retraining the live configuration on the same data passes the gate (equal figures).
    let mut scheduler = scheduler_with(&db, RetrainJob::new(retrain_config("live")));
    let again = scheduler.run_now("retrain").expect("runs");
    assert_eq!(again.figures["status"], "live", "{}", again.log);
    let store = SqliteStore::open_read_only(&db).expect("opens");
    assert_eq!(store.live_version().expect("reads"), Some(3));
    let statuses: Vec<(i64, ModelStatus)> = store
        .model_records()
        .expect("reads")
        .iter()
        .map(|r| (r.version, r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (3, ModelStatus::Live),
            (2, ModelStatus::Rejected),
            (1, ModelStatus::Retired)
        ]
    );
}

#[test]
fn retraining_without_data_fails_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("empty.db");
    SqliteStore::open(&db).expect("creates");
    let mut scheduler = scheduler_with(&db, RetrainJob::new(retrain_config("ease")));
    let run = scheduler.run_now("retrain").expect("runs");
    assert_eq!(run.outcome, JobOutcome::Failed);
    assert!(
        run.log.contains("nothing") || run.log.contains("no views"),
        "{}",
        run.log
    );
}
