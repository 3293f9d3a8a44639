//! The service driven in-process (`tower::ServiceExt::oneshot`): every route, the auth
//! matrix, ingest with its limits and durability, the model swap, errors and request ids.

mod common;

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Fixture, call, get, play, post, publish_model, router};
use showrunner_model::EventKind;
use showrunner_store::{EventFilter, QuarantineFilter, SqliteStore, Store};

/// Every protected route with the scope it needs and a request that passes auth.
fn routes() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("POST", "/v1/events", "ingest"),
        ("GET", "/v1/members/m1/recommendations", "read"),
        ("GET", "/v1/members/m1/home", "read"),
        ("GET", "/v1/titles/t1/similar", "read"),
        ("GET", "/v1/trending", "read"),
        ("GET", "/metrics", "admin"),
    ]
}

#[tokio::test]
async fn every_route_checks_its_scope() {
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    let router = router(&state);
    let key_of = |scope: &str| match scope {
        "ingest" => fixture.ingest_key.clone(),
        "read" => fixture.read_key.clone(),
        _ => fixture.admin_key.clone(),
    };
    let request = |method: &str, path: &str, key: Option<&str>| match method {
        "POST" => post(path, key, "application/json", "[]"),
        _ => get(path, key),
    };
    for (method, path, scope) in routes() {
        let none = call(&router, request(method, path, None)).await;
        assert_eq!(
            none.status,
            StatusCode::UNAUTHORIZED,
            "{path} without a key"
        );
        assert_eq!(none.json["code"], "unauthorized");
        assert_eq!(none.headers["www-authenticate"], "Bearer");
        let bogus = call(&router, request(method, path, Some("sr_not_a_key"))).await;
        assert_eq!(
            bogus.status,
            StatusCode::UNAUTHORIZED,
            "{path} with a bad key"
        );
        let wrong = if scope == "read" { "ingest" } else { "read" };
        let wrong = call(&router, request(method, path, Some(&key_of(wrong)))).await;
        assert_eq!(
            wrong.status,
            StatusCode::FORBIDDEN,
            "{path} with the wrong scope"
        );
        assert_eq!(wrong.json["code"], "forbidden");
        for good in [scope, "admin"] {
            let right = call(&router, request(method, path, Some(&key_of(good)))).await;
            assert_eq!(
                right.status,
                StatusCode::OK,
                "{path} with a {good} key: {}",
                right.text
            );
        }
    }
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(
            call(&router, get(path, None)).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
}

#[tokio::test]
async fn ingest_counts_rows_and_answers_after_they_are_stored() {
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    let router = router(&state);
    let key = Some(fixture.ingest_key.as_str());
    let body = [
        play("new-1", "m1", "t2", 22, "stop"),
        play("new-2", "m2", "t5", 22, "stop"),
        play("p1", "m0", "t0", 1, "stop"), // already stored by the fixture
        play("bad-1", "m1", "no-such-title", 22, "stop"),
        "{not json".to_owned(),
        r#"{"type":"title","id":"t99","kind":"movie","name":"Sneaked in"}"#.to_owned(),
    ]
    .join("\n");
    let answer = call(
        &router,
        post("/v1/events", key, "application/x-ndjson", body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let json = &answer.json;
    assert_eq!(
        (
            json["accepted"].as_u64(),
            json["duplicate"].as_u64(),
            json["rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(3))
    );
    let reasons: Vec<(u64, &str)> = json["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap_or(99),
                r["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [(3, "unknown_title"), (4, "malformed"), (5, "unknown_type")]
    );

    let store = fixture.store();
    let ids: Vec<String> = store
        .events(&EventFilter::all(EventKind::Play))
        .expect("events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(ids.contains(&"new-1".to_owned()) && ids.contains(&"new-2".to_owned()));
    let request_id = json["request_id"].as_str().expect("request id");
    assert_eq!(answer.headers["x-request-id"], request_id);
    let quarantined = store
        .quarantine(&QuarantineFilter {
            source_contains: Some(request_id.to_owned()),
            ..QuarantineFilter::default()
        })
        .expect("quarantine");
    assert_eq!(quarantined.len(), 3);
    assert!(store.title("t99").expect("title").is_none());

    // The same rows as a gzipped JSON array: all duplicates now.
    let array = format!(
        "[{},{}]",
        play("new-1", "m1", "t2", 22, "stop"),
        play("new-2", "m2", "t5", 22, "stop")
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(array.as_bytes()).expect("gzip");
    let request = Request::post("/v1/events")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("authorization", format!("Bearer {}", fixture.ingest_key))
        .body(Body::from(gz.finish().expect("gzip")))
        .expect("request");
    let again = call(&router, request).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(
        (
            again.json["accepted"].as_u64(),
            again.json["duplicate"].as_u64()
        ),
        (Some(0), Some(2))
    );

    let metrics = call(&router, get("/metrics", Some(&fixture.admin_key))).await;
    assert!(
        metrics
            .text
            .contains(r#"showrunner_ingest_rows_total{outcome="accepted"} 2"#),
        "{}",
        metrics.text
    );
    state.shutdown();
}

/// Concurrent requests are committed in groups (one fsync for several); each still gets its
/// own exact counts, and every acknowledged event is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingest_requests_get_their_own_counts() {
    let fixture = Fixture::new();
    let state = fixture.state().await;
    let router = router(&state);
    let requests = (0..24).map(|r| {
        // Request r holds events r*10 .. r*10+20: half of them overlap the next request's.
        let body = (r * 10..r * 10 + 20)
            .map(|e| {
                play(
                    &format!("c{e}"),
                    &format!("m{}", e % 9),
                    &format!("t{}", e % 12),
                    22,
                    "stop",
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let router = router.clone();
        let key = fixture.ingest_key.clone();
        tokio::spawn(async move {
            call(
                &router,
                post("/v1/events", Some(&key), "application/x-ndjson", body),
            )
            .await
        })
    });
    let mut accepted = 0;
    for request in requests.collect::<Vec<_>>() {
        let answer = request.await.expect("joins");
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let (a, d) = (
            answer.json["accepted"].as_u64().unwrap_or(0),
            answer.json["duplicate"].as_u64().unwrap_or(0),
        );
        assert_eq!(
            (a + d, answer.json["rejected"].as_u64()),
            (20, Some(0)),
            "{}",
            answer.text
        );
        accepted += a;
    }
    let distinct = 23 * 10 + 20;
    assert_eq!(accepted, distinct);
    let stored = fixture
        .store()
        .events(&EventFilter::all(EventKind::Play))
        .expect("events");
    assert_eq!(
        stored.iter().filter(|e| e.id.starts_with('c')).count() as u64,
        distinct
    );
}

#[tokio::test]
async fn ingest_refuses_what_it_cannot_take() {
    let fixture = Fixture::new();
    let state = fixture.state().await;
    let router = router(&state);
    let key = Some(fixture.ingest_key.as_str());
    let check = |answer: common::Answer, status: StatusCode, code: &str| {
        assert_eq!(answer.status, status, "{}", answer.text);
        assert_eq!(answer.json["code"], code, "{}", answer.text);
        assert_eq!(
            answer.headers["x-request-id"],
            answer.json["request_id"].as_str().unwrap_or("-")
        );
    };
    check(
        call(&router, post("/v1/events", key, "application/json", "[{]")).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    check(
        call(&router, post("/v1/events", key, "application/json", "{}")).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    check(
        call(&router, post("/v1/events", key, "text/csv", "a,b")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let many = vec![play("x", "m1", "t1", 1, "stop"); 51].join("\n");
    check(
        call(
            &router,
            post("/v1/events", key, "application/x-ndjson", many),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
    );
    let huge = "x".repeat(65 * 1024);
    check(
        call(
            &router,
            post("/v1/events", key, "application/x-ndjson", huge),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    // A gzip bomb is cut at the limit, after decompression.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b'\n'; 1024 * 1024]).expect("gzip");
    let request = Request::post("/v1/events")
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .header("authorization", format!("Bearer {}", fixture.ingest_key))
        .body(Body::from(gz.finish().expect("gzip")))
        .expect("request");
    check(
        call(&router, request).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    check(
        call(&router, get("/v1/nothing", key)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Without a model, reads say so; readiness too.
    check(
        call(&router, get("/v1/trending", Some(&fixture.read_key))).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "model_unavailable",
    );
    check(
        call(&router, get("/readyz", None)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    );
}

#[tokio::test]
async fn reads_answer_with_the_model_and_the_members_state() {
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    let router = router(&state);
    let key = Some(fixture.read_key.as_str());

    let recs = call(&router, get("/v1/members/m0/recommendations?n=5", key)).await;
    assert_eq!(recs.status, StatusCode::OK, "{}", recs.text);
    assert_eq!(recs.json["cold_start"], false);
    assert_eq!(recs.json["model_version"], 1);
    let items: Vec<&str> = recs.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["title_id"].as_str())
        .collect();
    assert!(!items.is_empty() && items.len() <= 5);
    let history = fixture
        .store()
        .views(&showrunner_store::ViewFilter {
            member_id: Some("m0".into()),
            ..Default::default()
        })
        .expect("views");
    for item in &items {
        assert!(
            history.iter().all(|v| &v.title_id != item),
            "{item} is in m0's history"
        );
        assert_ne!(*item, "t3", "thumbed down");
        assert_ne!(*item, "s1-e1", "episodes are not recommended");
    }
    let cold = call(&router, get("/v1/members/newbie/recommendations", key)).await;
    assert_eq!(
        (cold.status, &cold.json["cold_start"]),
        (StatusCode::OK, &serde_json::Value::Bool(true))
    );
    for (path, status, code) in [
        (
            "/v1/members/nobody/recommendations",
            StatusCode::NOT_FOUND,
            "unknown_member",
        ),
        (
            "/v1/members/m0/recommendations?n=0",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/v1/members/m0/recommendations?n=abc",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/v1/members/m0/recommendations?limit=3",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/v1/members/nobody/home",
            StatusCode::NOT_FOUND,
            "unknown_member",
        ),
        (
            "/v1/titles/nope/similar",
            StatusCode::NOT_FOUND,
            "unknown_title",
        ),
        (
            "/v1/trending?country=USA",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
    ] {
        let answer = call(&router, get(path, key)).await;
        assert_eq!(
            (answer.status, answer.json["code"].as_str()),
            (status, Some(code)),
            "{path}: {}",
            answer.text
        );
    }

    let home = call(&router, get("/v1/members/m0/home", key)).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    let rows = home.json["rows"].as_array().expect("rows");
    let keys: Vec<&str> = rows.iter().filter_map(|r| r["key"].as_str()).collect();
    assert!(keys.contains(&"top_picks"), "{keys:?}");
    let mut seen = std::collections::HashSet::new();
    for row in rows {
        for item in row["items"].as_array().expect("items") {
            let id = item["title_id"].as_str().expect("id");
            assert!(seen.insert(id.to_owned()), "{id} twice on the page");
            assert_ne!(id, "t3", "thumbed down");
            assert!(item["reason"].as_str().is_some_and(|r| !r.is_empty()));
        }
    }
    assert_eq!(
        home.json["request_id"],
        home.headers["x-request-id"].to_str().unwrap_or("-")
    );

    let similar = call(&router, get("/v1/titles/t0/similar?n=3", key)).await;
    assert_eq!(similar.status, StatusCode::OK, "{}", similar.text);
    let similar_items = similar.json["row"]["items"].as_array().expect("items");
    assert!(!similar_items.is_empty() && similar_items.len() <= 3);
    assert!(similar_items.iter().all(|i| i["title_id"] != "t0"));

    let trending = call(&router, get("/v1/trending?country=us&n=4", key)).await;
    assert_eq!(trending.status, StatusCode::OK, "{}", trending.text);
    assert_eq!(trending.json["row"]["key"], "trending_now");
    assert!(
        !trending.json["row"]["items"]
            .as_array()
            .expect("items")
            .is_empty()
    );
}

#[tokio::test]
async fn a_newer_published_model_is_swapped_in_without_failing_requests_in_flight() {
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    let router = router(&state);
    let key = Some(fixture.read_key.as_str());
    let before = state.models().get().expect("a model is served");
    assert_eq!(before.version, 1);
    {
        let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
        assert_eq!(publish_model(&mut store, 1.0), 2);
    }
    assert_eq!(state.poll().await.expect("polls"), Some(2));
    let answer = call(&router, get("/v1/members/m1/home", key)).await;
    assert_eq!(answer.json["model_version"], 2);
    // A request that took the old model before the swap still finishes on it.
    let rows = before
        .with_rows(|rows| rows.item("t1").map(|i| i.name.clone()))
        .await;
    assert_eq!(rows, Some(Some("Title 1".to_owned())));
    // Polling again with nothing new keeps the same model.
    assert_eq!(state.poll().await.expect("polls"), Some(2));
    let metrics = call(&router, get("/metrics", Some(&fixture.admin_key))).await;
    assert!(
        metrics.text.contains("showrunner_model_version 2"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("showrunner_model_age_seconds"));
    // Prometheus' text format, as `promtool check metrics` wants it: counters described
    // under their `_total` name, no OpenMetrics-only lines.
    assert!(
        metrics
            .text
            .contains("# TYPE showrunner_http_requests_total counter")
    );
    assert!(!metrics.text.contains("# EOF") && !metrics.text.contains("# UNIT"));
    assert!(metrics.text.contains(r#"showrunner_http_request_duration_seconds_count{route="/v1/members/{id}/home",method="GET"} 1"#), "{}", metrics.text);
}

#[tokio::test]
async fn keys_made_after_start_work_after_a_poll_and_request_ids_are_echoed() {
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    let router = router(&state);
    let (key, hash) = showrunner_server::generate_key();
    assert!(key.starts_with("sr_") && key.len() == 67);
    {
        use showrunner_store::ServerStore;
        let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
        store.create_api_key(&hash, "read").expect("key");
    }
    assert_eq!(
        call(&router, get("/v1/trending", Some(&key))).await.status,
        StatusCode::UNAUTHORIZED
    );
    state.poll().await.expect("polls");
    let request = Request::get("/v1/trending")
        .header("authorization", format!("Bearer {key}"))
        .header("x-request-id", "client-chosen-42")
        .body(Body::empty())
        .expect("request");
    let answer = call(&router, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-request-id"], "client-chosen-42");
    assert_eq!(answer.json["request_id"], "client-chosen-42");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let fixture = Fixture::new();
    let state = fixture.state().await;
    let router = router(&state);
    let doc = call(&router, get("/openapi.json", None)).await;
    let paths = doc.json["paths"].as_object().expect("paths");
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut served: Vec<&str> = routes().iter().map(|r| r.1).collect();
    served.extend(["/healthz", "/readyz", "/openapi.json"]);
    // The monitor's routes (their scopes are checked in tests/monitor.rs).
    served.extend([
        "/v1/monitor/alerts",
        "/v1/monitor/alerts/history",
        "/v1/monitor/silences",
        "/v1/monitor/silences/{id}",
        "/v1/monitor/series",
        "/v1/monitor/notifications",
        "/v1/monitor/push",
    ]);
    let mut served: Vec<String> = served
        .into_iter()
        .map(|p| p.replace("/m1/", "/{id}/").replace("/t1/", "/{id}/"))
        .collect();
    served.sort();
    assert_eq!(documented, served);
    assert!(doc.json["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc.json["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn configuration_comes_from_the_file_then_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("server.toml");
    std::fs::write(&file, "listen = \"0.0.0.0:9000\"\nmax_batch_events = 7\n").expect("writes");
    let env = [
        ("SHOWRUNNER_MAX_BATCH_EVENTS".to_owned(), "9".to_owned()),
        ("HOME".to_owned(), "/root".to_owned()),
    ];
    let config = showrunner_server::Config::load(Some(&file), env).expect("loads");
    assert_eq!(
        (config.listen.as_str(), config.max_batch_events),
        ("0.0.0.0:9000", 9)
    );
    let bad = [("SHOWRUNNER_POLL_SECONDS".to_owned(), "soon".to_owned())];
    assert!(showrunner_server::Config::load(None, bad).is_err());
    std::fs::write(&file, "colour = \"blue\"\n").expect("writes");
    assert!(showrunner_server::Config::load(Some(&file), []).is_err());
}
