//! Analytics over the API: the figures equal the library's over the same store; the take
//! rate follows a home page's request id through impressions and plays; the reference page
//! and the OpenAPI document cover every route.

mod common;

use axum::http::StatusCode;
use common::{Fixture, call, get, post, router};
use serde_json::{Value, json};
use showrunner_analytics::{Prepared, ReportOptions};
use showrunner_model::Timestamp;
use showrunner_server::generate_key;
use showrunner_store::{FactsFilter, ServerStore, SqliteStore, Store};

fn analytics_key(fixture: &Fixture) -> String {
    let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
    let (key, hash) = generate_key();
    store.create_api_key(&hash, "analytics").expect("key");
    key
}

/// A value as it reads back from its JSON text (as the client sees it: an `f32` printed
/// shortest reads back as a different `f64` than `to_value` gives).
fn json_of<T: serde::Serialize>(value: T) -> Result<Value, serde_json::Error> {
    serde_json::from_str(&serde_json::to_string(&value)?)
}

fn filter(title_id: Option<&str>, country: Option<&str>) -> FactsFilter {
    FactsFilter {
        from: Timestamp::parse("2026-10-01T00:00:00Z").unwrap(),
        to: Timestamp::parse("2026-11-01T00:00:00Z").unwrap(),
        country: country.map(str::to_owned),
        title_id: title_id.map(str::to_owned),
    }
}

#[tokio::test]
async fn analytics_answers_equal_the_library_over_the_same_store() {
    let fixture = Fixture::new();
    let key = analytics_key(&fixture);
    let state = fixture.state().await;
    let router = router(&state);
    let store = fixture.store();
    let options = ReportOptions::default();
    let facts = store.viewing_facts(&filter(None, None)).unwrap();
    let prepared = Prepared::new(&facts);
    let expected = [
        (
            "/v1/analytics/report?from=2026-10-01&to=2026-11-01",
            json_of(showrunner_analytics::content_report(&facts, &options)).unwrap(),
        ),
        (
            "/v1/analytics/trending?from=2026-10-01&to=2026-11-01",
            json_of(showrunner_analytics::trending(
                &prepared,
                options.trending,
                options.trending_per_country,
            ))
            .unwrap(),
        ),
        (
            "/v1/analytics/supply?from=2026-10-01T00:00:00Z&to=2026-11-01",
            json_of(showrunner_analytics::demand_supply(&prepared, options.gaps)).unwrap(),
        ),
        (
            "/v1/analytics/report?from=2026-10-01&to=2026-11-01&country=us",
            json_of(showrunner_analytics::content_report(
                &store.viewing_facts(&filter(None, Some("US"))).unwrap(),
                &options,
            ))
            .unwrap(),
        ),
        (
            "/v1/analytics/titles/s1-e1?from=2026-10-01&to=2026-11-01",
            json_of(
                showrunner_analytics::title_dashboard(
                    &store.viewing_facts(&filter(Some("s1-e1"), None)).unwrap(),
                    "s1-e1",
                )
                .unwrap(),
            )
            .unwrap(),
        ),
    ];
    for (path, want) in expected {
        for key in [&key, &fixture.admin_key] {
            let answer = call(&router, get(path, Some(key))).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
            assert_eq!(answer.json, want, "{path}");
        }
        let read = call(&router, get(path, Some(&fixture.read_key))).await;
        assert_eq!(read.status, StatusCode::FORBIDDEN, "{path} with a read key");
    }
    // The figures are not empty: the fixture's views are counted.
    let report = call(
        &router,
        get(
            "/v1/analytics/report?from=2026-10-01&to=2026-11-01",
            Some(&key),
        ),
    )
    .await;
    assert!(
        report.json["totals"]["views"].as_u64().unwrap() > 20,
        "{}",
        report.text
    );

    let bad = [
        ("/v1/analytics/report", "invalid_parameter"),
        ("/v1/analytics/report?from=2026-10-01", "invalid_parameter"),
        (
            "/v1/analytics/report?from=yesterday&to=2026-11-01",
            "invalid_parameter",
        ),
        (
            "/v1/analytics/report?from=2026-11-01&to=2026-10-01",
            "invalid_parameter",
        ),
        (
            "/v1/analytics/report?from=2026-10-01&to=2026-11-01&country=USA",
            "invalid_parameter",
        ),
        (
            "/v1/analytics/report?from=2026-10-01&to=2026-11-01&colour=red",
            "invalid_parameter",
        ),
        (
            "/v1/analytics/titles/t1?from=2026-10-01&to=2026-11-01&country=US",
            "invalid_parameter",
        ),
        ("/v1/metrics/take-rate?from=2026-10-01", "invalid_parameter"),
    ];
    for (path, code) in bad {
        let answer = call(&router, get(path, Some(&key))).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            answer.text
        );
        assert_eq!(answer.json["code"], code, "{path}");
    }
    let unknown = call(
        &router,
        get(
            "/v1/analytics/titles/nope?from=2026-10-01&to=2026-11-01",
            Some(&key),
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json["code"], "unknown_title");
    state.shutdown();
}

/// The home page's request id, sent back on impressions and on the play of a title shown,
/// gives the row's take rate.
#[tokio::test]
async fn take_rate_follows_the_home_pages_request_id() {
    let fixture = Fixture::with_model();
    let key = analytics_key(&fixture);
    let state = fixture.state().await;
    let router = router(&state);
    let home = call(&router, get("/v1/members/m1/home", Some(&fixture.read_key))).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.text);
    let request_id = home.json["request_id"].as_str().unwrap().to_owned();
    assert_eq!(home.headers["x-request-id"], request_id.as_str());
    let rows = home.json["rows"].as_array().unwrap();
    let shown: Vec<(String, String)> = rows
        .iter()
        .flat_map(|row| {
            let key = row["key"].as_str().unwrap().to_owned();
            row["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |item| (key.clone(), item["title_id"].as_str().unwrap().to_owned()))
        })
        .collect();
    assert!(shown.len() >= 3, "{}", home.text);
    let mut events: Vec<Value> = shown
        .iter()
        .enumerate()
        .map(|(rank, (row, title))| {
            json!({"type": "impression", "ts": "2026-10-25T20:00:00Z", "member_id": "m1",
                   "title_id": title, "row": row, "rank": rank + 1, "request_id": request_id})
        })
        .collect();
    // m1 plays the first title shown, citing the request (start and stop: one take).
    let (taken_row, taken_title) = shown[0].clone();
    for (action, watched) in [("start", 0), ("stop", 1200)] {
        events.push(
            json!({"type": "play", "ts": "2026-10-25T20:05:00Z", "member_id": "m1",
            "title_id": taken_title, "session_id": "take-1", "action": action,
            "position_s": watched, "watched_s": watched, "request_id": request_id}),
        );
    }
    // m2 cites the same request for the same title: not shown to m2, not a take.
    events.push(
        json!({"type": "play", "ts": "2026-10-25T21:00:00Z", "member_id": "m2",
        "title_id": taken_title, "session_id": "take-2", "action": "stop",
        "position_s": 60, "watched_s": 60, "request_id": request_id}),
    );
    let body = serde_json::to_string(&events).unwrap();
    let ingest = call(
        &router,
        post(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/json",
            body,
        ),
    )
    .await;
    assert_eq!(ingest.json["rejected"], 0, "{}", ingest.text);

    let answer = call(
        &router,
        get(
            "/v1/metrics/take-rate?from=2026-10-25&to=2026-10-26",
            Some(&key),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let total = shown.len() as u64;
    assert_eq!(answer.json["overall"]["impressions"], total);
    assert_eq!(answer.json["overall"]["plays"], 1);
    let rate = answer.json["overall"]["take_rate"].as_f64().unwrap();
    assert!((rate - 1.0 / total as f64).abs() < 1e-12);
    let row = answer.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["row"] == taken_row.as_str())
        .expect("the taken row");
    let in_row = shown.iter().filter(|(r, _)| *r == taken_row).count() as u64;
    assert_eq!(
        (row["impressions"].as_u64(), row["plays"].as_u64()),
        (Some(in_row), Some(1))
    );

    // One row family only; and a range without impressions.
    let family = taken_row.split(':').next().unwrap();
    let only = call(
        &router,
        get(
            &format!("/v1/metrics/take-rate?from=2026-10-25&to=2026-10-26&row={family}"),
            Some(&key),
        ),
    )
    .await;
    assert!(
        only.json["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["row"].as_str().unwrap().starts_with(family))
    );
    let empty = call(
        &router,
        get(
            "/v1/metrics/take-rate?from=2026-09-01&to=2026-09-02",
            Some(&key),
        ),
    )
    .await;
    assert_eq!(empty.json["overall"]["impressions"], 0);
    assert_eq!(empty.json["overall"]["take_rate"], Value::Null);
    state.shutdown();
}

#[tokio::test]
async fn reference_page_and_openapi_cover_every_route() {
    let fixture = Fixture::new();
    let state = fixture.state().await;
    let router = router(&state);
    let openapi = call(&router, get("/openapi.json", None)).await;
    let paths = openapi.json["paths"].as_object().expect("paths");
    let expected = [
        ("/v1/events", "post"),
        ("/v1/members/{id}/recommendations", "get"),
        ("/v1/members/{id}/home", "get"),
        ("/v1/titles/{id}/similar", "get"),
        ("/v1/trending", "get"),
        ("/v1/titles/{id}", "put"),
        ("/v1/titles/{id}", "patch"),
        ("/v1/titles/{id}", "get"),
        ("/v1/titles/{id}", "delete"),
        ("/v1/titles:bulk", "post"),
        ("/v1/members/{id}", "put"),
        ("/v1/members/{id}", "patch"),
        ("/v1/members/{id}", "get"),
        ("/v1/members/{id}", "delete"),
        ("/v1/members:bulk", "post"),
        ("/v1/analytics/report", "get"),
        ("/v1/analytics/titles/{id}", "get"),
        ("/v1/analytics/trending", "get"),
        ("/v1/analytics/supply", "get"),
        ("/v1/metrics/take-rate", "get"),
        ("/metrics", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/openapi.json", "get"),
        ("/docs", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    assert!(
        openapi
            .json
            .pointer("/components/schemas/ErrorBody/properties/code")
            .is_some()
    );

    let page = call(&router, get("/docs", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = &page.text;
    for (path, method) in expected {
        let anchor = format!(
            "id=\"{method}-{}\"",
            path.replace(['/', '{', '}', ':'], "_")
        );
        assert!(html.contains(&anchor), "{method} {path} is not on the page");
    }
    for text in [
        "id=\"schema-ErrorBody\"",
        "title_in_use",
        "unknown_member",
        "Authorization: Bearer",
    ] {
        assert!(html.contains(text), "the page lacks {text}");
    }
    // Self-contained: nothing is fetched from anywhere.
    for remote in ["http://", "https://", "<script", "<link", "@import", "src="] {
        assert!(!html.contains(remote), "the page refers to {remote}");
    }
    state.shutdown();
}

/// Asks `path` until the answer comes from the range's snapshot (it carries `Age`).
async fn until_from_snapshot(router: &axum::Router, path: &str, key: &str) -> common::Answer {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = call(router, get(path, Some(key))).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        if answer.headers.contains_key("age") {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never answered from the snapshot"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_ranges_facts_answer_from_memory_until_a_member_is_erased() {
    let fixture = Fixture::new();
    let key = analytics_key(&fixture);
    let state = fixture.state().await;
    let router = router(&state);
    let dashboard = "/v1/analytics/titles/s1-e1?from=2026-10-01&to=2026-11-01";

    // The first dashboard reads the show alone from the store (no Age) and starts reading
    // the whole range; later ones are cut from that snapshot, with the same figures.
    let first = call(&router, get(dashboard, Some(&key))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(!first.headers.contains_key("age"), "{:?}", first.headers);
    let cached = until_from_snapshot(&router, dashboard, &key).await;
    assert_eq!(cached.json, first.json);
    let age: u64 = cached.headers["age"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!(age < 300, "age {age}");
    let viewers = first.json["performance"]["unique_viewers"]
        .as_u64()
        .expect("viewers");
    assert!(viewers > 1, "{}", first.text);

    // The report over the same range answers from the same snapshot; another country is
    // another range.
    let report = call(
        &router,
        get(
            "/v1/analytics/report?from=2026-10-01&to=2026-11-01",
            Some(&key),
        ),
    )
    .await;
    assert!(report.headers.contains_key("age"), "{:?}", report.headers);
    let by_country = "/v1/analytics/report?from=2026-10-01&to=2026-11-01&country=US";
    let other = call(&router, get(by_country, Some(&key))).await;
    assert!(!other.headers.contains_key("age"));
    let again = until_from_snapshot(&router, by_country, &key).await;
    assert_eq!(again.json, other.json);

    // Erasing a member drops every snapshot: the next answer is read anew, without them.
    let erased = call(
        &router,
        axum::http::Request::delete("/v1/members/m0")
            .header("authorization", format!("Bearer {}", fixture.admin_key))
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text);
    let after = call(&router, get(dashboard, Some(&key))).await;
    assert!(!after.headers.contains_key("age"), "{:?}", after.headers);
    assert_eq!(
        after.json["performance"]["unique_viewers"].as_u64(),
        Some(viewers - 1),
        "{}",
        after.text
    );
    let cached = until_from_snapshot(&router, dashboard, &key).await;
    assert_eq!(cached.json, after.json);
}

#[tokio::test]
async fn with_snapshots_off_every_answer_is_read_from_the_store() {
    let mut fixture = Fixture::new();
    fixture.config.analytics.snapshot_seconds = 0;
    let key = analytics_key(&fixture);
    let state = fixture.state().await;
    let router = router(&state);
    for _ in 0..3 {
        for path in [
            "/v1/analytics/titles/s1-e1?from=2026-10-01&to=2026-11-01",
            "/v1/analytics/report?from=2026-10-01&to=2026-11-01",
        ] {
            let answer = call(&router, get(path, Some(&key))).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            assert!(!answer.headers.contains_key("age"), "{path}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
