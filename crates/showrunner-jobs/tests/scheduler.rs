//! The scheduler with a stepped clock and a real store: jobs run when their cron schedule
//! is due and only then, every run is recorded, failures are retried with back-off and
//! reported once out of attempts, and a job whose lock is held is not run twice.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::at;
use showrunner_jobs::{BackupConfig, JobsConfig, ManualClock, RetryConfig, Scheduler};
use showrunner_store::{JobOutcome, JobStore, SqliteStore};

const HOUR: i64 = 3_600;

fn backup_config(dir: &std::path::Path, keep: usize) -> JobsConfig {
    JobsConfig {
        backup: Some(BackupConfig {
            schedule: "0 2 * * *".into(),
            dir: dir.to_owned(),
            keep,
        }),
        retry: RetryConfig {
            max_attempts: 3,
            first_delay_seconds: 60,
            factor: 4.0,
            max_delay_seconds: 3_600,
        },
        ..JobsConfig::default()
    }
}

fn backups_in(dir: &std::path::Path) -> Vec<String> {
    showrunner_jobs::backup::list_backups(dir)
        .expect("lists")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_job_runs_when_its_schedule_is_due_and_keeps_n_backups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::platform(dir.path());
    let backups = dir.path().join("backups");
    let clock = Arc::new(ManualClock::new(at(0)));
    let mut scheduler =
        Scheduler::from_config(&db, clock.clone(), &backup_config(&backups, 2)).expect("builds");
    assert_eq!(scheduler.job_names(), ["backup"]);
    assert_eq!(scheduler.schedules()[0].next_run, Some(at(2 * HOUR)));

    clock.set(at(HOUR));
    assert!(scheduler.tick().expect("ticks").is_empty(), "not due yet");
    clock.set(at(2 * HOUR));
    let runs = scheduler.tick().expect("ticks");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].outcome, JobOutcome::Succeeded, "{}", runs[0].log);
    assert_eq!(runs[0].trigger, "schedule");
    assert!(runs[0].figures["bytes"].as_u64().unwrap_or(0) > 0);
    assert_eq!(backups_in(&backups), ["showrunner-20261001T020000Z.db"]);
    clock.set(at(2 * HOUR + 1_800));
    assert!(
        scheduler.tick().expect("ticks").is_empty(),
        "ran already today"
    );
    assert_eq!(scheduler.schedules()[0].next_run, Some(at(26 * HOUR)));

    // The service was down for two days: the missed runs are one run.
    clock.set(at(3 * 24 * HOUR + 5 * HOUR));
    assert_eq!(scheduler.tick().expect("ticks").len(), 1);
    clock.set(at(4 * 24 * HOUR + 2 * HOUR));
    assert_eq!(scheduler.tick().expect("ticks").len(), 1);
    // Three backups made, the newest two kept.
    assert_eq!(
        backups_in(&backups),
        [
            "showrunner-20261004T050000Z.db",
            "showrunner-20261005T020000Z.db"
        ]
    );
    let store = SqliteStore::open_read_only(&db).expect("opens");
    let recorded = store.job_runs(Some("backup"), 10).expect("runs");
    assert_eq!(recorded.len(), 3);
    assert!(
        recorded
            .iter()
            .all(|r| r.outcome == JobOutcome::Succeeded && r.finished_at.is_some())
    );
    assert_eq!(recorded[0].started_at, at(4 * 24 * HOUR + 2 * HOUR));
    assert!(recorded[0].log.contains("deleted"), "{}", recorded[0].log);
}

#[test]
fn a_failed_run_is_retried_with_back_off_and_reported_when_out_of_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::platform(dir.path());
    // The backup directory is a file: every run fails until it is moved away.
    let backups = dir.path().join("backups");
    std::fs::write(&backups, "in the way").expect("writes");
    let clock = Arc::new(ManualClock::new(at(0)));
    let mut scheduler =
        Scheduler::from_config(&db, clock.clone(), &backup_config(&backups, 3)).expect("builds");
    let reported = Arc::new(Mutex::new(Vec::new()));
    {
        let reported = Arc::clone(&reported);
        scheduler.on_failure(move |run| reported.lock().unwrap().push(run.attempt));
    }

    clock.set(at(2 * HOUR));
    let first = scheduler.tick().expect("ticks");
    assert_eq!(
        (first[0].outcome, first[0].attempt),
        (JobOutcome::Failed, 1)
    );
    assert!(first[0].log.contains("failed"), "{}", first[0].log);
    // Retry after 60 s, then 240 s.
    assert_eq!(scheduler.schedules()[0].retry_at, Some(at(2 * HOUR + 60)));
    clock.advance(Duration::from_secs(59));
    assert!(scheduler.tick().expect("ticks").is_empty());
    clock.advance(Duration::from_secs(1));
    let second = scheduler.tick().expect("ticks");
    assert_eq!(
        (
            second[0].trigger.as_str(),
            second[0].attempt,
            second[0].outcome
        ),
        ("retry", 2, JobOutcome::Failed)
    );
    assert_eq!(
        scheduler.schedules()[0].retry_at,
        Some(at(2 * HOUR + 60 + 240))
    );
    assert!(reported.lock().unwrap().is_empty(), "attempts are left");
    clock.advance(Duration::from_secs(240));
    let third = scheduler.tick().expect("ticks");
    assert_eq!(third[0].attempt, 3);
    assert_eq!(
        *reported.lock().unwrap(),
        [3],
        "reported once, at the last attempt"
    );
    assert_eq!(scheduler.schedules()[0].retry_at, None);

    // The next day the cause is gone: the scheduled run succeeds.
    std::fs::remove_file(&backups).expect("removes");
    clock.set(at(26 * HOUR));
    let next = scheduler.tick().expect("ticks");
    assert_eq!(next[0].outcome, JobOutcome::Succeeded, "{}", next[0].log);

    let store = SqliteStore::open_read_only(&db).expect("opens");
    let outcomes: Vec<(u32, JobOutcome)> = store
        .job_runs(Some("backup"), 10)
        .expect("runs")
        .iter()
        .rev()
        .map(|r| (r.attempt, r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, JobOutcome::Failed),
            (2, JobOutcome::Failed),
            (3, JobOutcome::Failed),
            (1, JobOutcome::Succeeded)
        ]
    );
}

#[test]
fn a_job_whose_lock_is_held_is_skipped_and_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::platform(dir.path());
    let backups = dir.path().join("backups");
    let clock = Arc::new(ManualClock::new(at(0)));
    let config = backup_config(&backups, 3);
    let mut scheduler = Scheduler::from_config(&db, clock.clone(), &config).expect("builds");
    // Another process (a second replica) is running the backup until 01:00.
    let mut other = SqliteStore::open(&db).expect("opens");
    assert!(
        other
            .try_lock_job("backup", "replica-2", at(0), at(HOUR))
            .expect("locks")
    );
    let run = scheduler.run_now("backup").expect("runs");
    assert_eq!(run.outcome, JobOutcome::Skipped);
    assert!(backups_in_or_none(&backups).is_empty());
    // Its lock expires (the replica died): the next run takes over.
    clock.set(at(HOUR));
    let run = scheduler.run_now("backup").expect("runs");
    assert_eq!(run.outcome, JobOutcome::Succeeded, "{}", run.log);
    assert!(matches!(
        scheduler.run_now("nonsense"),
        Err(showrunner_jobs::JobError::UnknownJob { .. })
    ));
    let recorded = other.job_runs(None, 10).expect("runs");
    assert_eq!(
        recorded.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [JobOutcome::Succeeded, JobOutcome::Skipped]
    );
    assert_eq!(recorded[0].trigger, "manual");
}

fn backups_in_or_none(dir: &std::path::Path) -> Vec<String> {
    if dir.exists() {
        backups_in(dir)
    } else {
        Vec::new()
    }
}

#[test]
fn bad_settings_are_refused_with_their_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = backup_config(dir.path(), 3);
    if let Some(backup) = config.backup.as_mut() {
        backup.schedule = "every tuesday".into();
    }
    let error = Scheduler::from_config(
        &dir.path().join("x.db"),
        Arc::new(ManualClock::new(at(0))),
        &config,
    )
    .expect_err("refused")
    .to_string();
    assert!(
        error.contains("jobs.backup.schedule") && error.contains("every tuesday"),
        "{error}"
    );
    let config = JobsConfig {
        retrain: Some(showrunner_jobs::RetrainConfig {
            algo: "magic".into(),
            ..Default::default()
        }),
        ..JobsConfig::default()
    };
    let error = config.validate().expect_err("refused").to_string();
    assert!(error.contains("jobs.retrain.algo"), "{error}");
}
