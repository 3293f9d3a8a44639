//! Catalog and member management over HTTP: create, update, read, bulk-load and delete
//! titles and members; a member's deletion erases them; scopes.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Fixture, call, get, play, post, router};
use serde_json::json;
use showrunner_model::EventKind;
use showrunner_server::generate_key;
use showrunner_store::{EventFilter, ServerStore, SqliteStore, Store, ViewFilter};

fn request(method: &str, path: &str, key: Option<&str>, body: Option<String>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body)),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

fn analytics_key(fixture: &Fixture) -> String {
    let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
    let (key, hash) = generate_key();
    store.create_api_key(&hash, "analytics").expect("key");
    key
}

#[tokio::test]
async fn catalog_and_member_routes_need_the_admin_scope() {
    let fixture = Fixture::new();
    let analytics = analytics_key(&fixture);
    let state = fixture.state().await;
    let router = router(&state);
    let routes = [
        ("GET", "/v1/titles/t1"),
        ("PUT", "/v1/titles/t1"),
        ("PATCH", "/v1/titles/t1"),
        ("DELETE", "/v1/titles/t1"),
        ("POST", "/v1/titles:bulk"),
        ("GET", "/v1/members/m1"),
        ("PUT", "/v1/members/m1"),
        ("PATCH", "/v1/members/m1"),
        ("DELETE", "/v1/members/m1"),
        ("POST", "/v1/members:bulk"),
    ];
    for (method, path) in routes {
        let body = || (method != "GET" && method != "DELETE").then(|| "{}".to_owned());
        let none = call(&router, request(method, path, None, body())).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        for key in [&fixture.read_key, &fixture.ingest_key, &analytics] {
            let wrong = call(&router, request(method, path, Some(key), body())).await;
            assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{method} {path}");
            assert_eq!(wrong.json["code"], "forbidden");
        }
    }
    let admin = call(&router, get("/v1/titles/t1", Some(&fixture.admin_key))).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    state.shutdown();
}

#[tokio::test]
async fn titles_are_created_updated_read_and_deleted() {
    let fixture = Fixture::new();
    let state = fixture.state().await;
    let router = router(&state);
    let key = Some(fixture.admin_key.as_str());
    let title = json!({"kind": "movie", "name": "  New One ", "genres": ["Drama"],
        "duration_s": 5400, "countries": ["brazil", "us"], "release_year": 2025});

    let created = call(
        &router,
        request("PUT", "/v1/titles/t-new", key, Some(title.to_string())),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["created"], true);
    let record = &created.json["record"];
    assert_eq!(record["id"], "t-new");
    assert_eq!(record["type"], "title");
    // Cleaned as the importer cleans: trimmed, countries normalised.
    assert_eq!(record["name"], "New One");
    assert_eq!(record["countries"], json!(["BR", "US"]));
    assert_eq!(
        created.json["request_id"],
        created.headers["x-request-id"].to_str().unwrap()
    );

    let replaced = call(
        &router,
        request("PUT", "/v1/titles/t-new", key, Some(title.to_string())),
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK);
    assert_eq!(replaced.json["created"], false);

    let patched = call(
        &router,
        request(
            "PATCH",
            "/v1/titles/t-new",
            key,
            Some(r#"{"name":"Renamed","release_year":null}"#.into()),
        ),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json["record"]["name"], "Renamed");
    assert!(patched.json["record"].get("release_year").is_none());
    assert_eq!(patched.json["record"]["duration_s"], 5400);
    let stored = fixture.store().title("t-new").unwrap().expect("stored");
    assert_eq!(
        (stored.name.as_str(), stored.release_year),
        ("Renamed", None)
    );

    let read = call(&router, get("/v1/titles/t-new", key)).await;
    assert_eq!(read.json["record"]["name"], "Renamed");

    // The ingest path knows the new title at once.
    let ingest = call(
        &router,
        post(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/x-ndjson",
            play("on-new", "m1", "t-new", 22, "stop"),
        ),
    )
    .await;
    assert_eq!(ingest.json["accepted"], 1, "{}", ingest.text);

    // Bad input: each with its code.
    let cases = [
        (
            "PUT",
            "/v1/titles/t-bad",
            r#"{"kind":"opera","name":"x"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "PUT",
            "/v1/titles/t-bad",
            r#"{"id":"other","kind":"movie","name":"x"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "PUT",
            "/v1/titles/t-bad",
            r#"{"type":"member","kind":"movie","name":"x"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "PUT",
            "/v1/titles/t-bad",
            "{nope",
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        // Found by schemathesis: an id that cleaning would trim is refused, not stored under
        // another name.
        (
            "PUT",
            "/v1/titles/%0Bt-bad",
            r#"{"kind":"movie","name":"x"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "PUT",
            "/v1/members/%20m-bad",
            "{}",
            StatusCode::BAD_REQUEST,
            "invalid_member",
        ),
        (
            "PUT",
            "/v1/titles/t-bad",
            "[1]",
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "PATCH",
            "/v1/titles/t-missing",
            r#"{"name":"x"}"#,
            StatusCode::NOT_FOUND,
            "unknown_title",
        ),
        (
            "PATCH",
            "/v1/titles/t-new",
            r#"{"kind":"opera"}"#,
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "PATCH",
            "/v1/titles/t-new",
            "[]",
            StatusCode::BAD_REQUEST,
            "invalid_title",
        ),
        (
            "DELETE",
            "/v1/titles/t-missing",
            "",
            StatusCode::NOT_FOUND,
            "unknown_title",
        ),
        // Watched (now also the new title) or with episodes: refused.
        (
            "DELETE",
            "/v1/titles/t1",
            "",
            StatusCode::CONFLICT,
            "title_in_use",
        ),
        (
            "DELETE",
            "/v1/titles/t-new",
            "",
            StatusCode::CONFLICT,
            "title_in_use",
        ),
        (
            "DELETE",
            "/v1/titles/s1",
            "",
            StatusCode::CONFLICT,
            "title_in_use",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let body = (!body.is_empty()).then(|| body.to_owned());
        let answer = call(&router, request(method, path, key, body.clone())).await;
        assert_eq!(
            answer.status, status,
            "{method} {path} {body:?}: {}",
            answer.text
        );
        assert_eq!(answer.json["code"], code, "{method} {path} {body:?}");
    }
    assert!(fixture.store().title("t-bad").unwrap().is_none());

    // A title nothing refers to can go.
    call(
        &router,
        request(
            "PUT",
            "/v1/titles/t-gone",
            key,
            Some(r#"{"kind":"movie","name":"Gone"}"#.into()),
        ),
    )
    .await;
    let deleted = call(&router, request("DELETE", "/v1/titles/t-gone", key, None)).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(deleted.json["deleted"], true);
    assert_eq!(
        call(&router, get("/v1/titles/t-gone", key)).await.status,
        StatusCode::NOT_FOUND
    );
    // And the ingest path forgets it.
    let late = call(
        &router,
        post(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/x-ndjson",
            play("on-gone", "m1", "t-gone", 22, "stop"),
        ),
    )
    .await;
    assert_eq!(
        late.json["rejections"][0]["reason"], "unknown_title",
        "{}",
        late.text
    );
    state.shutdown();
}

#[tokio::test]
async fn bulk_loads_clean_each_record_and_report_the_rejected() {
    let fixture = Fixture::new();
    let state = fixture.state().await;
    let router = router(&state);
    let key = Some(fixture.admin_key.as_str());
    let ndjson = [
        r#"{"type":"title","id":"b1","kind":"movie","name":"Bulk One","duration_s":100}"#,
        r#"{"id":"b2","kind":"opera","name":"Bad"}"#,
        r#"{"id":"b3","kind":"series","name":"Bulk Three"}"#,
        r#"{"type":"member","id":"b4"}"#,
        "{broken",
    ]
    .join("\n");
    let answer = call(
        &router,
        post("/v1/titles:bulk", key, "application/x-ndjson", ndjson),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json["accepted"], 2);
    assert_eq!(answer.json["rejected"], 3);
    let indexes: Vec<u64> = answer.json["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 3, 4]);
    let store = fixture.store();
    assert!(store.title("b1").unwrap().is_some() && store.title("b3").unwrap().is_some());
    assert!(store.title("b2").unwrap().is_none());

    let members = json!([
        {"id": "nm1", "email": "NM1@Example.com", "country": "Germany", "plan": "basic"},
        {"id": "nm2", "country": "Atlantis"},
    ]);
    let answer = call(
        &router,
        post(
            "/v1/members:bulk",
            key,
            "application/json",
            members.to_string(),
        ),
    )
    .await;
    assert_eq!(
        (
            answer.json["accepted"].as_u64(),
            answer.json["rejected"].as_u64()
        ),
        (Some(1), Some(1)),
        "{}",
        answer.text
    );
    let member = call(&router, get("/v1/members/nm1", key)).await;
    assert_eq!(member.json["record"]["country"], "DE", "{}", member.text);

    let wrong_type = call(&router, post("/v1/members:bulk", key, "text/plain", "x")).await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let too_many = (0..60)
        .map(|i| format!(r#"{{"id":"x{i}"}}"#))
        .collect::<Vec<_>>()
        .join("\n");
    let too_many = call(
        &router,
        post("/v1/members:bulk", key, "application/x-ndjson", too_many),
    )
    .await;
    assert_eq!(too_many.status, StatusCode::PAYLOAD_TOO_LARGE);
    state.shutdown();
}

/// Every text or blob cell of every table of the database that contains `needle`.
fn mentions(path: &std::path::Path, needle: &str) -> Vec<String> {
    let connection = rusqlite_connection(path);
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut found = Vec::new();
    for table in tables {
        let mut statement = connection
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .unwrap();
        let count = statement.column_count();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for index in 0..count {
                use rusqlite::types::ValueRef;
                if let ValueRef::Text(b) | ValueRef::Blob(b) = row.get_ref(index).unwrap()
                    && String::from_utf8_lossy(b).contains(needle)
                {
                    found.push(format!("{table}.{index}"));
                }
            }
        }
    }
    found
}

fn rusqlite_connection(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("opens")
}

#[tokio::test]
async fn deleting_a_member_erases_them_and_nobody_else() {
    let fixture = Fixture::new();
    let state = fixture.state().await;
    let router = router(&state);
    let key = Some(fixture.admin_key.as_str());
    let member = json!({"email": "zqx@example.com", "name": "Zed Erasable", "country": "US",
        "plan": "basic", "profiles": [{"id": "zqx-p1", "maturity": "adults"}]});
    let put = call(
        &router,
        request("PUT", "/v1/members/zqx", key, Some(member.to_string())),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let events = [
        play("zqx-1", "zqx", "t1", 22, "stop"),
        play("zqx-2", "zqx", "t2", 23, "stop"),
        r#"{"type":"rating","ts":"2026-10-22T10:00:00Z","member_id":"zqx","profile_id":"zqx-p1","title_id":"t1","thumbs":"up"}"#.into(),
        r#"{"type":"login","ts":"2026-10-22T10:00:00Z","account":"zqx@example.com","outcome":"success","ip":"198.51.100.9"}"#.into(),
        // Rejected (unknown title): quarantined with the member's id in it.
        play("zqx-3", "zqx", "no-such-title", 23, "stop"),
    ]
    .join("\n");
    let ingest = call(
        &router,
        post(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/x-ndjson",
            events,
        ),
    )
    .await;
    assert_eq!(ingest.json["accepted"], 4, "{}", ingest.text);
    let store = fixture.store();
    let others_before = store
        .views(&ViewFilter::default())
        .unwrap()
        .into_iter()
        .filter(|v| v.member_id != "zqx")
        .count();
    let plays_before = store
        .events(&EventFilter::all(EventKind::Play))
        .unwrap()
        .len();
    assert!(!mentions(&fixture.config.db, "zqx").is_empty());

    let erased = call(&router, request("DELETE", "/v1/members/zqx", key, None)).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    let counts = &erased.json["erased"];
    assert_eq!(erased.json["member_id"], "zqx");
    assert_eq!(counts["members"], 1);
    assert_eq!(counts["plays"], 2);
    assert_eq!(counts["views"], 2);
    assert_eq!(counts["ratings"], 1);
    assert_eq!(counts["logins"], 1);
    assert_eq!(counts["quarantined"], 1);

    assert_eq!(mentions(&fixture.config.db, "zqx"), Vec::<String>::new());
    let store = fixture.store();
    assert_eq!(
        store.views(&ViewFilter::default()).unwrap().len(),
        others_before
    );
    assert_eq!(
        store
            .events(&EventFilter::all(EventKind::Play))
            .unwrap()
            .len(),
        plays_before - 2
    );
    assert_eq!(
        call(&router, get("/v1/members/zqx", key)).await.status,
        StatusCode::NOT_FOUND
    );
    let again = call(&router, request("DELETE", "/v1/members/zqx", key, None)).await;
    assert_eq!(
        (again.status, again.json["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_member"))
    );
    // The erased member is unknown to ingest now.
    let late = call(
        &router,
        post(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/x-ndjson",
            play("zqx-4", "zqx", "t1", 24, "stop"),
        ),
    )
    .await;
    assert_eq!(
        late.json["rejections"][0]["reason"], "unknown_member",
        "{}",
        late.text
    );
    state.shutdown();
}

/// A member the model has not met is recommended for (cold start) from the moment they are
/// created, and refused from the moment they are erased: the server's memory of which
/// members exist follows its own catalog changes at once.
#[tokio::test]
async fn a_member_the_model_has_not_met_is_served_until_erased() {
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    let router = router(&state);
    let admin = Some(fixture.admin_key.as_str());
    let recommendations = |id: &str| get(&format!("/v1/members/{id}/recommendations"), admin);

    let before = call(&router, recommendations("late")).await;
    assert_eq!(before.status, StatusCode::NOT_FOUND, "{}", before.text);
    let member = json!({"country": "US", "plan": "basic",
        "profiles": [{"id": "late-p1", "maturity": "adults"}]});
    let put = call(
        &router,
        request("PUT", "/v1/members/late", admin, Some(member.to_string())),
    )
    .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    let cold = call(&router, recommendations("late")).await;
    assert_eq!(cold.status, StatusCode::OK, "{}", cold.text);
    assert_eq!(cold.json["cold_start"], true);
    assert!(!cold.json["items"].as_array().expect("items").is_empty());

    let erased = call(&router, request("DELETE", "/v1/members/late", admin, None)).await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    let after = call(&router, recommendations("late")).await;
    assert_eq!(
        (after.status, after.json["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_member")),
        "{}",
        after.text
    );
    state.shutdown();
}
