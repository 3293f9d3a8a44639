//! Automation through the service: promoting and rolling back the live model while
//! requests keep coming (none fails, each answers with a model it had), and the operator
//! endpoints for jobs and the registry.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use common::{Fixture, call, get, publish_model, router};
use showrunner_jobs::{BackupConfig, JobsConfig, ManualClock, Scheduler};
use showrunner_model::Timestamp;
use showrunner_server::generate_key;
use showrunner_store::{RegistryStore, ServerStore, SqliteStore};

fn operator_key(fixture: &Fixture) -> String {
    let (key, hash) = generate_key();
    SqliteStore::open(&fixture.config.db)
        .expect("opens")
        .create_api_key(&hash, "operator")
        .expect("key");
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_rollback_swap_the_model_without_failing_a_request() {
    let fixture = Fixture::with_model();
    {
        let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
        assert_eq!(publish_model(&mut store, 1.0), 2);
    }
    let state = fixture.state().await;
    assert_eq!(state.models().version(), Some(2));
    let router = router(&state);
    let key = fixture.read_key.clone();

    // Clients hammer the recommendations and the home page meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (router, key, stop) = (router.clone(), key.clone(), Arc::clone(&stop));
        clients.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) || n < 5 {
                let path = if (client + n) % 2 == 0 {
                    format!("/v1/members/m{}/recommendations?n=5", n % 9)
                } else {
                    format!("/v1/members/m{}/home", n % 9)
                };
                let answer = call(&router, get(&path, Some(&key))).await;
                assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
                answered.push(answer.json["model_version"].as_i64().expect("version"));
                n += 1;
            }
            answered
        }));
    }

    let served_after = |expected: i64| {
        let router = router.clone();
        let key = key.clone();
        async move {
            let answer = call(&router, get("/v1/members/m1/recommendations", Some(&key))).await;
            assert_eq!(answer.status, StatusCode::OK);
            assert_eq!(answer.json["model_version"], expected);
        }
    };
    let mut expected = Vec::new();
    for _ in 0..3 {
        let change = SqliteStore::open(&fixture.config.db)
            .expect("opens")
            .rollback(None, "test")
            .expect("rolls back");
        // Version 2 went live after version 1: rolling back goes to 1.
        assert_eq!((change.version, change.previous), (1, Some(2)));
        assert_eq!(state.poll().await.expect("polls"), Some(change.version));
        served_after(change.version).await;
        expected.push(change.version);
        let target = 2;
        SqliteStore::open(&fixture.config.db)
            .expect("opens")
            .promote(target, "test", "back again")
            .expect("promotes");
        assert_eq!(state.poll().await.expect("polls"), Some(target));
        served_after(target).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for client in clients {
        let answered = client.await.expect("no client failed");
        assert!(answered.iter().all(|v| *v == 1 || *v == 2));
        total += answered.len();
    }
    assert!(total >= 20, "{total} requests");
    assert_eq!(expected, [1, 1, 1]);
    let history: Vec<i64> = SqliteStore::open_read_only(&fixture.config.db)
        .expect("opens")
        .live_history()
        .expect("reads")
        .iter()
        .map(|c| c.version)
        .collect();
    assert_eq!(history, [1, 2, 1, 2, 1, 2, 1, 2]);
}

#[tokio::test]
async fn operators_see_schedules_runs_and_the_registry() {
    let mut fixture = Fixture::with_model();
    let backups = fixture.dir.path().join("backups");
    fixture.config.jobs = JobsConfig {
        enabled: false,
        backup: Some(BackupConfig {
            schedule: "0 2 * * *".into(),
            dir: backups.clone(),
            keep: 3,
        }),
        ..JobsConfig::default()
    };
    let operator = operator_key(&fixture);
    // A run recorded by `showrunner jobs run` (or another replica's scheduler).
    let mut scheduler = Scheduler::from_config(
        &fixture.config.db,
        Arc::new(ManualClock::new(Timestamp::from_seconds(1_800_000_000))),
        &fixture.config.jobs,
    )
    .expect("builds");
    let run = scheduler.run_now("backup").expect("runs");
    assert_eq!(run.outcome.as_str(), "succeeded", "{}", run.log);

    let state = fixture.state().await;
    let router = router(&state);
    let jobs = call(&router, get("/v1/jobs", Some(&operator))).await;
    assert_eq!(jobs.status, StatusCode::OK, "{}", jobs.text);
    assert_eq!(jobs.json["schedules"][0]["job"], "backup");
    assert_eq!(jobs.json["schedules"][0]["schedule"], "0 2 * * *");
    assert!(jobs.json["schedules"][0]["next_run"].is_string());
    assert_eq!(jobs.json["runs"][0]["outcome"], "succeeded");
    assert_eq!(jobs.json["runs"][0]["trigger"], "manual");
    assert!(
        jobs.json["runs"][0]["figures"]["bytes"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(jobs.json["scheduler_enabled"], false);
    let filtered = call(
        &router,
        get("/v1/jobs?job=retrain&limit=5", Some(&operator)),
    )
    .await;
    assert_eq!(filtered.json["runs"].as_array().map(Vec::len), Some(0));
    let bad = call(&router, get("/v1/jobs?limit=0", Some(&operator))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json["code"], "invalid_parameter");

    let models = call(&router, get("/v1/models", Some(&fixture.admin_key))).await;
    assert_eq!(models.status, StatusCode::OK, "{}", models.text);
    assert_eq!(models.json["live_version"], 1);
    assert_eq!(models.json["served_version"], 1);
    assert_eq!(models.json["models"][0]["status"], "live");

    for path in ["/v1/jobs", "/v1/models"] {
        let read = call(&router, get(path, Some(&fixture.read_key))).await;
        assert_eq!(read.status, StatusCode::FORBIDDEN, "{path}");
        let none = call(&router, get(path, None)).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // An operator key cannot read recommendations or ingest.
    let recs = call(&router, get("/v1/trending", Some(&operator))).await;
    assert_eq!(recs.status, StatusCode::FORBIDDEN);
}
