//! A/B tests through HTTP with a real store: creating validates the arms, members are split
//! between the arms' model versions as the keyed hash says, every response names its arm
//! and the assignment is recorded, and the per-arm figures match a hand count of the
//! impressions, plays and viewing posted afterwards.

mod common;

use std::collections::HashMap;

use axum::http::StatusCode;
use common::{Fixture, call, get, post, publish_model, router};
use serde_json::{Value, json};
use showrunner_model::{Batch, Member, Timestamp};
use showrunner_recommend::experiment::assign;
use showrunner_store::{
    ExperimentStore, ModelRegistration, ModelStatus, RegistryStore, ServerStore, SqliteStore, Store,
};

/// Extra members, so that a 50/50 split of them cannot plausibly put everyone in one arm.
const EXTRA_MEMBERS: usize = 40;

fn setup() -> (Fixture, Vec<String>) {
    let fixture = Fixture::with_model();
    let mut store = SqliteStore::open(&fixture.config.db).unwrap();
    // Version 2 (live now) differs from version 1; version 3 is rejected.
    assert_eq!(publish_model(&mut store, 1.0), 2);
    let one = store.published_model(1).unwrap().unwrap();
    let rejected = store
        .register_model(
            &one.manifest,
            &one.blob,
            &ModelRegistration {
                algorithm: "ease".into(),
                parameters: json!({}),
                data_from: None,
                data_to: None,
                metrics: json!({}),
                published_by: "test".into(),
                status: ModelStatus::Rejected,
                reason: Some("too weak".into()),
            },
        )
        .unwrap();
    assert_eq!(rejected, 3);
    let extra: Vec<Member> = (0..EXTRA_MEMBERS)
        .map(|i| Member {
            id: format!("x{i}"),
            email: None,
            name: None,
            country: Some("US".into()),
            signup_at: None,
            plan: Some("basic".into()),
            profiles: Vec::new(),
        })
        .collect();
    store
        .write_batch(&Batch {
            members: extra,
            ..Batch::default()
        })
        .unwrap();
    let mut members: Vec<String> = (0..9).map(|m| format!("m{m}")).collect();
    members.push("newbie".into());
    members.extend((0..EXTRA_MEMBERS).map(|i| format!("x{i}")));
    (fixture, members)
}

fn create_body(arms: Value) -> String {
    json!({"name": "ease weight", "arms": arms}).to_string()
}

#[tokio::test]
async fn members_are_split_and_the_figures_match_a_hand_count() {
    let (fixture, members) = setup();
    let state = fixture.state().await;
    let router = router(&state);
    let admin = Some(fixture.admin_key.as_str());
    let create =
        |body: String, key: Option<&str>| post("/v1/experiments", key, "application/json", body);

    // Validation, each with the input named.
    for (arms, needle) in [
        (
            json!([{"name": "a", "model_version": 1, "weight": 1}]),
            "at least 2 arms",
        ),
        (
            json!([{"name": "a", "model_version": 1, "weight": 1},
                   {"name": "b", "model_version": 99, "weight": 1}]),
            "no model version 99",
        ),
        (
            json!([{"name": "a", "model_version": 1, "weight": 1},
                   {"name": "b", "model_version": 3, "weight": 1}]),
            "version 3 was rejected",
        ),
        (
            json!([{"name": "a", "model_version": 1, "weight": 0},
                   {"name": "b", "model_version": 2, "weight": 1}]),
            "weight 0",
        ),
        (
            json!([{"name": "a", "model_version": 1, "weight": 1},
                   {"name": "a", "model_version": 2, "weight": 1}]),
            "used twice",
        ),
    ] {
        let answer = call(&router, create(create_body(arms), admin)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
        assert_eq!(answer.json["code"], "invalid_experiment");
        let message = answer.json["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
    }
    let wrong_shape = call(&router, create("{\"name\": 3}".into(), admin)).await;
    assert_eq!(wrong_shape.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_shape.json["code"], "invalid_body");

    let arms = json!([{"name": "control", "model_version": 1, "weight": 1},
                      {"name": "treatment", "model_version": 2, "weight": 1}]);
    let read_only = call(
        &router,
        create(create_body(arms.clone()), Some(&fixture.read_key)),
    )
    .await;
    assert_eq!(read_only.status, StatusCode::FORBIDDEN);
    let created = call(&router, create(create_body(arms.clone()), admin)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["experiment"]["id"].as_i64().unwrap();
    assert_eq!(created.json["experiment"]["status"], "running");
    assert!(created.json["experiment"].get("salt").is_none());
    let again = call(&router, create(create_body(arms), admin)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json["code"], "experiment_conflict");

    // Every member's responses come from the arm the keyed hash gives.
    let salt = fixture.store().experiment(id).unwrap().unwrap().salt;
    let mut arm_of: HashMap<String, &str> = HashMap::new();
    for member in &members {
        let expected = ["control", "treatment"][assign(salt.as_bytes(), id, member, &[1, 1])];
        let version = if expected == "control" { 1 } else { 2 };
        for path in [
            format!("/v1/members/{member}/recommendations?n=3"),
            format!("/v1/members/{member}/home"),
        ] {
            let answer = call(&router, get(&path, Some(&fixture.read_key))).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
            assert_eq!(
                answer.json["experiment"],
                json!({"id": id, "arm": expected, "model_version": version}),
                "{path}"
            );
            assert_eq!(answer.json["model_version"], version, "{path}");
        }
        arm_of.insert(member.clone(), expected);
    }
    let in_control = arm_of.values().filter(|a| **a == "control").count();
    assert!(in_control > 0 && in_control < members.len(), "{arm_of:?}");
    // An unknown member is answered 404 and not recorded.
    let nobody = call(
        &router,
        get("/v1/members/nobody/home", Some(&fixture.read_key)),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    let store = fixture.store();
    assert_eq!(store.assignment(id, "nobody").unwrap(), None);
    for (member, arm) in &arm_of {
        let (recorded, _) = store.assignment(id, member).unwrap().unwrap();
        assert_eq!(recorded, *arm);
    }

    // After assignment: every member sees t1 and t2 on request r-{member}; the first
    // member of each arm plays t1 citing it for an hour; every member also watches t5
    // for 30 minutes without a request id.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let ts = Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
    .to_rfc3339();
    let mut takers: HashMap<&str, &str> = HashMap::new();
    let mut events = Vec::new();
    for member in &members {
        let arm = arm_of[member];
        let request = format!("r-{member}");
        for (rank, title) in ["t1", "t2"].iter().enumerate() {
            events.push(json!({"type": "impression", "ts": ts, "member_id": member,
                "title_id": title, "row": "top_picks", "rank": rank + 1,
                "request_id": request}));
        }
        if !takers.contains_key(arm) {
            takers.insert(arm, member);
            events.push(json!({"type": "play", "ts": ts, "member_id": member,
                "title_id": "t1", "session_id": format!("take-{member}"), "action": "stop",
                "position_s": 3600, "watched_s": 3600, "request_id": request}));
        }
        events.push(json!({"type": "play", "ts": ts, "member_id": member,
            "title_id": "t5", "session_id": format!("other-{member}"), "action": "stop",
            "position_s": 1800, "watched_s": 1800}));
    }
    for chunk in events.chunks(40) {
        let answer = call(
            &router,
            post(
                "/v1/events",
                Some(&fixture.ingest_key),
                "application/json",
                serde_json::to_string(chunk).unwrap(),
            ),
        )
        .await;
        assert!(answer.status.is_success(), "{}", answer.text);
        assert_eq!(answer.json["rejected"], 0, "{}", answer.text);
    }

    let shown = call(&router, get(&format!("/v1/experiments/{id}"), admin)).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    let results = shown.json["arms"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for (result, arm) in results.iter().zip(["control", "treatment"]) {
        let n = arm_of.values().filter(|a| **a == arm).count() as u64;
        assert_eq!(result["arm"], arm);
        assert_eq!(result["members"], n, "{result}");
        assert_eq!(result["members_with_impressions"], n);
        assert_eq!(result["members_taking"], 1);
        assert_eq!(result["impressions"], 2 * n);
        assert_eq!(result["taken"], 1);
        let rate = result["take_rate"].as_f64().unwrap();
        assert!((rate - 1.0 / (2 * n) as f64).abs() < 1e-12);
        let ci = &result["take_rate_ci"];
        assert!(ci["low"].as_f64().unwrap() < rate && rate < ci["high"].as_f64().unwrap());
        // Everyone watched half an hour; the taker one hour more.
        let hours = result["hours_per_member"].as_f64().unwrap();
        assert!(
            (hours - (0.5 * n as f64 + 1.0) / n as f64).abs() < 1e-9,
            "{result}"
        );
    }
    assert!(results[0]["take_rate_difference_ci"].is_null());
    assert!(results[1]["take_rate_difference_ci"]["low"].is_f64());

    // Stopping serves the live model to everyone again.
    let stopped = call(
        &router,
        post(
            &format!("/v1/experiments/{id}/stop"),
            admin,
            "application/json",
            "",
        ),
    )
    .await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.text);
    assert_eq!(stopped.json["experiment"]["status"], "stopped");
    let after = call(
        &router,
        get("/v1/members/m1/recommendations", Some(&fixture.read_key)),
    )
    .await;
    assert!(after.json.get("experiment").is_none(), "{}", after.text);
    assert_eq!(after.json["model_version"], 2);
    let twice = call(
        &router,
        post(
            &format!("/v1/experiments/{id}/stop"),
            admin,
            "application/json",
            "",
        ),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let listed = call(&router, get("/v1/experiments", admin)).await;
    assert_eq!(listed.json["experiments"][0]["id"], id);
    let missing = call(&router, get("/v1/experiments/999", admin)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json["code"], "unknown_experiment");
    let bad = call(&router, get("/v1/experiments/abc", admin)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    state.shutdown();
}
