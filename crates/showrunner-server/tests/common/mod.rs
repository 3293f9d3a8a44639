//! A small platform in a temporary database (catalog, members, plays, a thumbs-down), a
//! model trained on it and published, API keys of every scope, and helpers to call the app
//! in-process.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use showrunner_ingest::{Cleaner, CleaningRules, KnownEntities};
use showrunner_model::{Batch, Timestamp};
use showrunner_recommend::models::ease::EaseParams;
use showrunner_recommend::{InteractionsBuilder, Model, Spec, TrainContext, train_scorer};
use showrunner_server::{AppState, Config, app, generate_key};
use showrunner_store::{ServerStore, SqliteStore, Store};
use tower::ServiceExt;

pub const GENRES: [&str; 3] = ["Drama", "Comedy", "Horror"];

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub ingest_key: String,
    pub read_key: String,
    pub admin_key: String,
}

/// One play event (a finished session) as JSON.
pub fn play(id: &str, member: &str, title: &str, day: u32, action: &str) -> String {
    // Movies run 90 minutes, the episode 30.
    let seconds = if title.starts_with('s') { 1700 } else { 5400 };
    format!(
        r#"{{"type":"play","id":"{id}","ts":"2026-10-{day:02}T20:00:00Z","member_id":"{member}","title_id":"{title}","session_id":"s-{id}","action":"{action}","position_s":{seconds},"watched_s":{seconds},"device":"tv","country":"US"}}"#
    )
}

fn lines() -> Vec<String> {
    let mut lines = Vec::new();
    for t in 0..12 {
        let genre = GENRES[t % 3];
        lines.push(format!(
            r#"{{"type":"title","id":"t{t}","kind":"movie","name":"Title {t}","genres":["{genre}"],"release_year":2020,"duration_s":5400,"maturity_rating":"PG"}}"#
        ));
    }
    lines.push(
        r#"{"type":"title","id":"s1","kind":"series","name":"Series One","genres":["Drama"]}"#
            .into(),
    );
    lines.push(r#"{"type":"title","id":"s1-e1","kind":"episode","name":"Series One E1","series_id":"s1","season_number":1,"episode_number":1,"duration_s":1800}"#.into());
    for m in 0..9 {
        lines.push(format!(
            r#"{{"type":"member","id":"m{m}","country":"US","plan":"standard","profiles":[{{"id":"m{m}-p1","maturity":"adults"}}]}}"#
        ));
    }
    // A member nobody trained on (cold start).
    lines.push(r#"{"type":"member","id":"newbie","country":"US","plan":"basic"}"#.into());
    // Each member watches the titles of one genre but one, plus the series' episode.
    let mut n = 0;
    for m in 0..9 {
        let genre = m % 3;
        for t in (0..12).filter(|t| t % 3 == genre).skip(m / 3 % 2) {
            n += 1;
            lines.push(play(
                &format!("p{n}"),
                &format!("m{m}"),
                &format!("t{t}"),
                1 + (t as u32),
                "stop",
            ));
        }
        n += 1;
        lines.push(play(
            &format!("p{n}"),
            &format!("m{m}"),
            "s1-e1",
            20,
            "stop",
        ));
    }
    lines.push(r#"{"type":"rating","ts":"2026-10-21T10:00:00Z","member_id":"m0","title_id":"t3","thumbs":"down"}"#.into());
    lines
}

/// Trains EASE on the fixture's plays and publishes it; returns the version.
pub fn publish_model(store: &mut SqliteStore, extra_weight: f32) -> i64 {
    let mut builder = InteractionsBuilder::new();
    for view in store.views(&Default::default()).expect("views") {
        builder
            .add(
                &view.member_id,
                &view.title_id,
                view.started_at.seconds(),
                1.0 + extra_weight,
            )
            .expect("weight");
    }
    let data = builder.build();
    let spec = Spec::Ease(EaseParams::default());
    let scorer = train_scorer(&spec, &data, TrainContext::default()).expect("trains");
    let mut model = Model::new(spec, scorer, data, "fixture", String::new(), 0.0);
    model.block(&[("m0".to_owned(), "t3".to_owned())]);
    let (manifest, blob) = model.to_bytes().expect("saves");
    store.publish_model(&manifest, &blob).expect("publishes")
}

impl Fixture {
    /// The platform without a published model.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("db.sqlite");
        let mut store = SqliteStore::open(&db).expect("opens");
        let mut cleaner = Cleaner::new(
            CleaningRules::at(Timestamp::from_seconds(1_800_000_000)),
            KnownEntities::default(),
        );
        let mut batch = Batch::default();
        for line in lines() {
            let record = cleaner
                .clean_json(line.as_bytes())
                .unwrap_or_else(|p| panic!("{line}: {p}"));
            batch.push(record);
        }
        store.write_batch(&batch).expect("writes");
        store.refresh_derived().expect("derives");
        let mut key = |scope: &str| {
            let (key, hash) = generate_key();
            store.create_api_key(&hash, scope).expect("key");
            key
        };
        let ingest_key = key("ingest");
        let read_key = key("read");
        let admin_key = key("admin");
        let config = Config {
            db,
            max_batch_events: 50,
            max_body_bytes: 64 * 1024,
            ..Config::default()
        };
        Fixture {
            dir,
            config,
            ingest_key,
            read_key,
            admin_key,
        }
    }

    /// The platform with a model published.
    pub fn with_model() -> Fixture {
        let fixture = Fixture::new();
        let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
        publish_model(&mut store, 0.0);
        fixture
    }

    pub fn store(&self) -> SqliteStore {
        SqliteStore::open_read_only(&self.config.db).expect("opens")
    }

    /// The running state, with the published model (if any) loaded.
    pub async fn state(&self) -> AppState {
        let state = AppState::open(self.config.clone()).expect("starts");
        state.poll().await.expect("polls");
        state
    }
}

/// A response: status, headers and body as JSON (or text under "text").
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: serde_json::Value,
    pub text: String,
}

pub async fn call(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        headers,
        json,
        text,
    }
}

pub fn get(path: &str, key: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Body::empty()).expect("request")
}

pub fn post(
    path: &str,
    key: Option<&str>,
    content_type: &str,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::post(path).header("content-type", content_type);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(body.into()).expect("request")
}

pub fn router(state: &AppState) -> Router {
    app(state.clone())
}
