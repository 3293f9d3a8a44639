//! Shadow mode through HTTP with a real store: a candidate model scores every top-N and
//! home-page request off the request path, responses still come from the live model, and
//! the reported agreement equals what the two models' own answers for the same requests
//! give; a copy of the live model agrees fully; the choice survives a restart; errors and
//! roles.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Answer, Fixture, call, get, post, router};
use serde_json::{Value, json};
use showrunner_recommend::agreement::agreement;
use showrunner_recommend::models::pop::PopParams;
use showrunner_recommend::{InteractionsBuilder, Model, Spec, TrainContext, train_scorer};
use showrunner_server::AppState;
use showrunner_server::accounts::prepare_account;
use showrunner_server::password::Hasher;
use showrunner_store::{
    AccountStore, ModelRegistration, ModelStatus, RegistryStore, ServerStore, SqliteStore, Store,
};

const PASSWORD: &str = "correct horse battery staple";

/// The members the requests are made for: the trained ones and one the models never saw.
fn members() -> Vec<String> {
    let mut members: Vec<String> = (0..9).map(|m| format!("m{m}")).collect();
    members.push("newbie".into());
    members
}

fn candidate(store: &mut SqliteStore, manifest: &str, blob: &[u8]) -> i64 {
    store
        .register_model(
            manifest,
            blob,
            &ModelRegistration {
                algorithm: "test".into(),
                parameters: json!({}),
                data_from: None,
                data_to: None,
                metrics: json!({}),
                published_by: "test".into(),
                status: ModelStatus::Candidate,
                reason: None,
            },
        )
        .expect("registers")
}

/// Registers a popularity model over the fixture's plays as a candidate (version 2; the
/// live version 1 is EASE, which follows each member's genre), so the two rank differently.
fn pop_candidate(fixture: &Fixture) -> i64 {
    let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
    let mut builder = InteractionsBuilder::new();
    for view in store.views(&Default::default()).expect("views") {
        builder
            .add(
                &view.member_id,
                &view.title_id,
                view.started_at.seconds(),
                1.0,
            )
            .expect("weight");
    }
    let data = builder.build();
    let spec = Spec::Pop(PopParams::default());
    let scorer = train_scorer(&spec, &data, TrainContext::default()).expect("trains");
    let mut model = Model::new(spec, scorer, data, "fixture", String::new(), 0.0);
    model.block(&[("m0".to_owned(), "t3".to_owned())]);
    let (manifest, blob) = model.to_bytes().expect("saves");
    candidate(&mut store, &manifest, &blob)
}

/// Registers the live model's own bytes again as a candidate.
fn copy_candidate(fixture: &Fixture) -> i64 {
    let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
    let live = store.latest_model().expect("reads").expect("a live model");
    let live = store
        .published_model(live.version)
        .expect("reads")
        .expect("stored");
    candidate(&mut store, &live.manifest, &live.blob)
}

fn start(version: &str, key: &str) -> Request<Body> {
    post(
        &format!("/v1/models/{version}/shadow"),
        Some(key),
        "application/json",
        "",
    )
}

fn stop(key: &str) -> Request<Body> {
    Request::delete("/v1/models/shadow")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request")
}

/// The titles each request compares: a top-N's items, a home page's Top Picks (or
/// Popular) row. Checks that `version` served the response.
fn served_list(answer: &Answer, path: &str, version: i64) -> Vec<String> {
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
    assert_eq!(answer.json["model_version"], version, "{path}");
    let titles = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["title_id"].as_str().expect("title").to_owned())
            .collect()
    };
    if path.ends_with("/home") {
        answer.json["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|row| row["key"] == "top_picks" || row["key"] == "popular")
            .map(|row| titles(&row["items"]))
            .unwrap_or_default()
    } else {
        titles(&answer.json["items"])
    }
}

fn paths() -> Vec<String> {
    members()
        .iter()
        .flat_map(|m| {
            [
                format!("/v1/members/{m}/recommendations?n=5"),
                format!("/v1/members/{m}/home"),
            ]
        })
        .collect()
}

/// Makes every request once; returns each one's compared list, in order.
async fn requests(router: &Router, key: &str, version: i64) -> Vec<Vec<String>> {
    let mut lists = Vec::new();
    for path in paths() {
        let answer = call(router, get(&path, Some(key))).await;
        lists.push(served_list(&answer, &path, version));
    }
    lists
}

/// Waits (polling, at most 20 s) until this server has compared `count` requests.
async fn wait_for_compared(router: &Router, key: &str, count: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = call(router, get("/v1/models/shadow", Some(key))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let compared = answer.json["shadow"]["figures"]["compared"]
            .as_u64()
            .expect("compared");
        if compared >= count {
            assert_eq!(compared, count, "no more comparisons than requests");
            return answer.json["shadow"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "only {compared} of {count} compared: {}",
            answer.text
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn close(found: &Value, expected: f64, what: &str) {
    let found = found.as_f64().unwrap_or_else(|| panic!("{what}: {found}"));
    assert!(
        (found - expected).abs() < 1e-9,
        "{what}: reported {found}, computed {expected}"
    );
}

#[tokio::test]
async fn a_shadowed_candidate_is_compared_exactly_with_what_was_served() {
    let fixture = Fixture::with_model();
    let shadow_version = pop_candidate(&fixture);
    assert_eq!(shadow_version, 2);
    let state = fixture.state().await;
    let router = router(&state);
    let admin = fixture.admin_key.as_str();
    let read = fixture.read_key.as_str();

    let none = call(&router, get("/v1/models/shadow", Some(admin))).await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.json["shadow"], Value::Null);

    let started = call(&router, start("2", admin)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let shadow = &started.json["shadow"];
    assert_eq!(shadow["version"], 2);
    assert_eq!(shadow["loaded"], true);
    assert_eq!(shadow["figures"]["compared"], 0);
    assert!(shadow["started_by"].as_str().unwrap().starts_with("key:"));

    // Every response comes from the live version 1.
    let served = requests(&router, read, 1).await;
    let expected_count = served.iter().filter(|l| !l.is_empty()).count();
    assert_eq!(expected_count, served.len(), "every request has a list");
    let reported = wait_for_compared(&router, admin, expected_count as u64).await;
    assert_eq!(reported["figures"]["dropped"], 0);
    assert_eq!(reported["figures"]["scoring"]["count"], expected_count);
    assert!(reported["figures"]["scoring"]["max_ms"].as_f64().unwrap() >= 0.0);

    // The Prometheus view agrees.
    let metrics = call(&router, get("/metrics", Some(admin))).await;
    assert!(
        metrics.text.contains(&format!(
            "showrunner_shadow_requests_compared_total{{version=\"2\"}} {expected_count}"
        )),
        "{}",
        metrics.text
    );
    let gauge = metrics
        .text
        .lines()
        .find_map(|l| l.strip_prefix("showrunner_shadow_overlap{version=\"2\"} "))
        .expect("overlap gauge");
    close(
        &json!(gauge.parse::<f64>().unwrap()),
        reported["figures"]["mean_overlap"].as_f64().unwrap(),
        "overlap gauge",
    );

    let stopped = call(&router, stop(admin)).await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.text);
    assert_eq!(stopped.json["shadow"]["figures"], reported["figures"]);
    let after = call(&router, get("/v1/models/shadow", Some(admin))).await;
    assert_eq!(after.json["shadow"], Value::Null);
    assert!(
        !call(&router, get("/metrics", Some(admin)))
            .await
            .text
            .contains("showrunner_shadow_overlap{"),
        "the gauges go with the shadow"
    );
    let again = call(&router, stop(admin)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json["code"], "no_shadow");

    // The shadowed model's own answers to the same requests: promote it and ask again.
    let mut store = SqliteStore::open(&fixture.config.db).unwrap();
    store.promote(2, "test", "compare").unwrap();
    state.poll().await.unwrap();
    let own = requests(&router, read, 2).await;
    let n = served.len() as f64;
    let mut overlap = 0.0;
    let mut top1 = 0.0;
    let mut rank = 0.0;
    for (a, b) in served.iter().zip(&own) {
        let depth = a.len();
        let cut: HashSet<&String> = b.iter().take(depth).collect();
        overlap += a.iter().filter(|t| cut.contains(t)).count() as f64 / depth as f64;
        top1 += f64::from(u8::from(a.first() == b.first()));
        rank += agreement(a, b).expect("a list").rank;
    }
    assert_ne!(served, own, "the two models rank differently");
    assert!(
        overlap < n && rank < n,
        "a partial agreement: {overlap} {rank} of {n}"
    );
    let figures = &stopped.json["shadow"]["figures"];
    close(&figures["mean_overlap"], overlap / n, "mean overlap");
    close(&figures["top1_agreement"], top1 / n, "top-1 agreement");
    close(&figures["mean_rank_agreement"], rank / n, "rank agreement");
}

#[tokio::test]
async fn a_copy_of_the_live_model_agrees_fully_and_shadowing_survives_a_restart() {
    let fixture = Fixture::with_model();
    let copy = copy_candidate(&fixture);
    let state = fixture.state().await;
    let router = router(&state);
    let admin = fixture.admin_key.as_str();
    let started = call(&router, start(&copy.to_string(), admin)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let served = requests(&router, &fixture.read_key, 1).await;
    let reported = wait_for_compared(&router, admin, served.len() as u64).await;
    let figures = &reported["figures"];
    close(&figures["mean_overlap"], 1.0, "mean overlap");
    close(&figures["top1_agreement"], 1.0, "top-1 agreement");
    close(&figures["mean_rank_agreement"], 1.0, "rank agreement");

    // A new server on the same store shadows the same version, counting from zero.
    let restarted = AppState::open(fixture.config.clone()).expect("starts");
    restarted.poll().await.expect("polls");
    let restarted_router = common::router(&restarted);
    let shown = call(&restarted_router, get("/v1/models/shadow", Some(admin))).await;
    assert_eq!(shown.json["shadow"]["version"], copy, "{}", shown.text);
    assert_eq!(shown.json["shadow"]["loaded"], true);
    assert_eq!(shown.json["shadow"]["figures"]["compared"], 0);
    assert_eq!(
        shown.json["shadow"]["started_at"],
        started.json["shadow"]["started_at"]
    );
    // Starting again restarts the figures.
    let restart = call(&router, start(&copy.to_string(), admin)).await;
    assert_eq!(restart.status, StatusCode::CREATED);
    assert_eq!(restart.json["shadow"]["figures"]["compared"], 0);
    restarted.shutdown();
}

#[tokio::test]
async fn bad_versions_are_refused_and_analysts_may_not_shadow() {
    let fixture = Fixture::with_model();
    pop_candidate(&fixture);
    let hasher = Hasher::new(&fixture.config.security).expect("hasher");
    let (name, phc) = prepare_account(&hasher, "ana", PASSWORD, "analyst").expect("valid");
    SqliteStore::open(&fixture.config.db)
        .unwrap()
        .create_account(&name, &phc, "analyst")
        .unwrap()
        .unwrap();
    let state = fixture.state().await;
    let router = router(&state);
    let admin = fixture.admin_key.as_str();

    for (version, status, code, needle) in [
        ("1", StatusCode::CONFLICT, "shadow_conflict", "live"),
        ("99", StatusCode::NOT_FOUND, "unknown_model", "99"),
        (
            "two",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "\"two\"",
        ),
    ] {
        let answer = call(&router, start(version, admin)).await;
        assert_eq!(answer.status, status, "{version}: {}", answer.text);
        assert_eq!(answer.json["code"], code, "{version}");
        let message = answer.json["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
    }
    assert_eq!(fixture.store().shadow().unwrap(), None);

    let login = call(
        &router,
        post(
            "/v1/auth/login",
            None,
            "application/json",
            json!({"username": "ana", "password": PASSWORD}).to_string(),
        ),
    )
    .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let analyst = login.json["token"].as_str().unwrap().to_owned();
    for request in [
        start("2", &analyst),
        get("/v1/models/shadow", Some(&analyst)),
        stop(&analyst),
    ] {
        let answer = call(&router, request).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
        assert_eq!(answer.json["code"], "forbidden");
    }
    let read = call(&router, start("2", &fixture.read_key)).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN);
    assert_eq!(fixture.store().shadow().unwrap(), None);
}
