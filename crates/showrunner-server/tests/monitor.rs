//! The monitor in the service: notifiers against a local HTTP receiver (payloads, retries
//! on 500 then success, the log), alert state across a restart, playback series and their
//! drill-down from stored QoE events, a scrape of a local exposition endpoint, the push
//! endpoint and the `/v1/monitor` API. The clock is stepped by hand; nothing sleeps.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use common::{Fixture, call, get as get_request, post as post_request, router};
use showrunner_monitor::alerts::{Condition, Rule, Severity};
use showrunner_server::monitor::config::{Receiver, RetryConfig, ScrapeTarget};
use showrunner_server::monitor::{MonitorConfig, MonitorHandle, scrape};
use showrunner_store::{
    AlertStore, SeriesQuery, SeriesSample, SeriesSelector, SeriesStore, SqliteStore,
};

const NOW: i64 = 1_800_000_000_000;
const MIN: i64 = 60_000;

/// What the local receiver got: (path, JSON body).
type Received = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A local HTTP receiver on 127.0.0.1: records every POST; `/flaky` answers 500 to its
/// first two requests.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let flaky_calls = Arc::new(Mutex::new(0u32));
    async fn record(
        State((received, flaky)): State<(Received, Arc<Mutex<u32>>)>,
        Path(path): Path<String>,
        body: Bytes,
    ) -> StatusCode {
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        received.lock().unwrap().push((path.clone(), json));
        if path == "flaky" {
            let mut calls = flaky.lock().unwrap();
            *calls += 1;
            if *calls <= 2 {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
        }
        if path == "rejects" {
            return StatusCode::BAD_REQUEST;
        }
        StatusCode::ACCEPTED
    }
    let app = Router::new()
        .route("/{*path}", post(record))
        .with_state((Arc::clone(&received), flaky_calls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), received)
}

fn rule(name: &str, series: &str, threshold: f64, for_ms: i64) -> Rule {
    Rule {
        name: name.into(),
        series: series.into(),
        condition: Condition::Above { threshold },
        for_ms,
        severity: Severity::Critical,
        labels: BTreeMap::from([("team".to_string(), "core".to_string())]),
        annotations: BTreeMap::from([("summary".to_string(), "queue too deep".to_string())]),
        group_by: Vec::new(),
    }
}

fn config(rules: Vec<Rule>, receivers: Vec<Receiver>) -> MonitorConfig {
    MonitorConfig {
        rules,
        receivers,
        retry: RetryConfig {
            attempts: 3,
            base_ms: 5,
            max_ms: 20,
        },
        qoe_backfill_minutes: 0,
        ..MonitorConfig::default()
    }
}

fn sample(name: &str, ts_ms: i64, value: f64) -> SeriesSample {
    SeriesSample {
        name: name.into(),
        labels: BTreeMap::new(),
        ts_ms,
        value,
    }
}

async fn push(handle: &MonitorHandle, samples: Vec<SeriesSample>) {
    handle.with(move |m| m.push(samples)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notifier_gets_its_payload_with_retries_and_a_log() {
    let (base, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let receivers = vec![
        Receiver::Webhook {
            name: "hook".into(),
            url: format!("{base}/flaky"),
        },
        Receiver::Slack {
            name: "chat".into(),
            url: format!("{base}/slack"),
        },
        Receiver::Pagerduty {
            name: "pager".into(),
            routing_key: "R0UT1NG".into(),
            url: format!("{base}/pagerduty"),
        },
        Receiver::Alertmanager {
            name: "am".into(),
            url: base.clone(),
        },
        Receiver::Webhook {
            name: "bad".into(),
            url: format!("{base}/rejects"),
        },
    ];
    let handle = MonitorHandle::open(
        &db,
        config(vec![rule("QueueDeep", "queue_depth", 10.0, 0)], receivers),
    )
    .unwrap();

    push(&handle, vec![sample("queue_depth", NOW - MIN, 50.0)]).await;
    let (outcome, log) = handle.run_once(NOW, None).await.unwrap();
    assert_eq!(outcome.notifications.len(), 1);
    let by_receiver = |name: &str| log.iter().find(|e| e.receiver == name).unwrap().clone();
    let hook = by_receiver("hook");
    assert_eq!(
        (hook.status.as_str(), hook.attempts, hook.http_status),
        ("sent", 3, Some(202)),
        "two 500s, then success"
    );
    let bad = by_receiver("bad");
    assert_eq!(
        (bad.status.as_str(), bad.attempts, bad.http_status),
        ("failed", 1, Some(400)),
        "a 400 is not retried"
    );
    assert!(bad.error.as_deref().unwrap().contains("HTTP 400"));
    for name in ["chat", "pager", "am"] {
        assert_eq!(by_receiver(name).status, "sent", "{name}");
    }

    let got = received.lock().unwrap().clone();
    let body = |path: &str| {
        got.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect::<Vec<_>>()
    };
    let hooks = body("flaky");
    assert_eq!(hooks.len(), 3, "the same payload three times");
    assert_eq!(hooks[2]["version"], "4");
    assert_eq!(hooks[2]["status"], "firing");
    assert_eq!(hooks[2]["receiver"], "hook");
    assert_eq!(hooks[2]["alerts"][0]["labels"]["alertname"], "QueueDeep");
    assert_eq!(hooks[2]["alerts"][0]["labels"]["team"], "core");
    let slack = &body("slack")[0];
    assert!(slack["text"].as_str().unwrap().starts_with("[FIRING]"));
    assert!(
        slack["attachments"][0]["text"]
            .as_str()
            .unwrap()
            .contains("queue too deep")
    );
    let trigger = &body("pagerduty")[0];
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], "R0UT1NG");
    let am = &body("api/v2/alerts")[0];
    assert_eq!(am[0]["labels"]["alertname"], "QueueDeep");
    assert!(am[0].get("endsAt").is_none());

    // The log rows are in the store.
    let store = SqliteStore::open_read_only(&db).unwrap();
    let rows = store.notifications(100).unwrap();
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .any(|r| r.entry.receiver == "hook" && r.entry.attempts == 3)
    );

    // Recovery resolves: PagerDuty gets a resolve under the same dedup key, Alertmanager an
    // end time.
    push(&handle, vec![sample("queue_depth", NOW, 1.0)]).await;
    let (resolved, _) = handle.run_once(NOW + MIN, None).await.unwrap();
    assert_eq!(resolved.notifications.len(), 1);
    let got = received.lock().unwrap().clone();
    let pd: Vec<_> = got
        .iter()
        .filter(|(p, _)| p == "pagerduty")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[1]["dedup_key"], pd[0]["dedup_key"]);
    let am: Vec<_> = got
        .iter()
        .filter(|(p, _)| p == "api/v2/alerts")
        .map(|(_, b)| b)
        .collect();
    assert!(am[1][0]["endsAt"].is_string());
    let history = store.alert_history(10).unwrap();
    let states: Vec<&str> = history.iter().map(|h| h.entry.state.as_str()).collect();
    assert_eq!(states, vec!["resolved", "firing"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_state_and_silences_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let rules = vec![rule("QueueDeep", "queue_depth", 10.0, 5 * MIN)];
    {
        let handle = MonitorHandle::open(&db, config(rules.clone(), Vec::new())).unwrap();
        push(&handle, vec![sample("queue_depth", NOW, 50.0)]).await;
        let (outcome, _) = handle.run_once(NOW, None).await.unwrap();
        assert!(outcome.notifications.is_empty(), "pending, not firing yet");
        let alerts = handle.with(|m| Ok(m.active_alerts())).await.unwrap();
        assert_eq!(alerts.len(), 1);
    }
    // A restart: the pending alert keeps its start, so it fires five minutes after it began.
    let handle = MonitorHandle::open(&db, config(rules.clone(), Vec::new())).unwrap();
    let alerts = handle.with(|m| Ok(m.active_alerts())).await.unwrap();
    assert_eq!(alerts[0].active_since, NOW);
    push(&handle, vec![sample("queue_depth", NOW + 5 * MIN, 60.0)]).await;
    let (fired, _) = handle.run_once(NOW + 5 * MIN, None).await.unwrap();
    assert_eq!(fired.notifications.len(), 1);
    assert_eq!(
        fired.notifications[0].alerts[0].fired_at,
        Some(NOW + 5 * MIN)
    );

    // A silence written to the store (as the CLI does) mutes the resolution.
    {
        let mut store = SqliteStore::open(&db).unwrap();
        store
            .put_silence(&showrunner_store::SilenceRecord {
                id: "s1".into(),
                matchers: BTreeMap::from([("team".to_string(), "core".to_string())]),
                starts_at_ms: NOW,
                ends_at_ms: NOW + 60 * MIN,
                created_by: "test".into(),
                comment: "maintenance".into(),
                created_at_ms: NOW,
            })
            .unwrap();
    }
    push(&handle, vec![sample("queue_depth", NOW + 6 * MIN, 1.0)]).await;
    let (quiet, _) = handle.run_once(NOW + 6 * MIN, None).await.unwrap();
    assert!(quiet.notifications.is_empty(), "silenced");
    assert!(
        handle
            .with(|m| Ok(m.active_alerts()))
            .await
            .unwrap()
            .is_empty()
    );
}

fn qoe_line(id: usize, ts: &str, cdn: &str, country: &str, failed: bool) -> String {
    let error = if failed {
        r#","error_code":"CDN_TIMEOUT""#
    } else {
        ""
    };
    let startup = if failed { "" } else { r#""startup_ms":900,"# };
    format!(
        r#"{{"type":"qoe","id":"q{id}","ts":"{ts}","session_id":"ps-{id}",{startup}"exit_before_start":{failed},"rebuffer_count":0,"rebuffer_ms":0,"watch_s":{watch},"avg_bitrate_kbps":4000,"bitrate_switches":0,"cdn":"{cdn}","country":"{country}","device":"tv","player":"web/1"{error}}}"#,
        watch = if failed { 0 } else { 600 },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_series_from_stored_events_and_a_drilled_down_alert() {
    let mut fixture = Fixture::new();
    fixture.config.max_batch_events = 1_000;
    fixture.config.max_body_bytes = 1 << 20;
    // Ten quiet minutes, then a minute where CDN b in BR fails.
    let start = showrunner_model::Timestamp::parse("2026-10-15T07:00:00Z")
        .unwrap()
        .millis();
    let mut lines = Vec::new();
    let mut id = 0;
    for minute in 0..11 {
        for k in 0..40 {
            id += 1;
            let ts = showrunner_model::Timestamp::from_millis(start + minute * MIN + k * 1000)
                .to_rfc3339();
            let cdn = if k % 2 == 0 { "a" } else { "b" };
            let country = if k % 4 < 2 { "US" } else { "BR" };
            let failed = minute == 10 && cdn == "b" && country == "BR";
            lines.push(qoe_line(id, &ts, cdn, country, failed));
        }
    }
    let mut rule = rule("PlaybackFailures", "qoe_playback_failure_pct", 5.0, 0);
    rule.labels = BTreeMap::from([("team".to_string(), "playback".to_string())]);
    fixture.config.monitor = MonitorConfig {
        qoe_backfill_minutes: 20,
        qoe_dimensions: vec!["cdn".into(), "country".into()],
        ..config(vec![rule], Vec::new())
    };
    let state = fixture.state().await;
    let router = router(&state);
    let posted = call(
        &router,
        post_request(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/x-ndjson",
            lines.join("\n"),
        ),
    )
    .await;
    assert_eq!(posted.json["accepted"], 440, "{}", posted.text);

    let handle = state.monitor().unwrap().clone();
    // 08:11:30 closes every minute up to 08:11.
    let (outcome, _) = handle
        .run_once(start + 11 * MIN + 30_000, None)
        .await
        .unwrap();
    assert!(outcome.samples > 0);
    let alert = &outcome.notifications[0].alerts[0];
    assert_eq!(alert.value, 25.0, "10 of 40 sessions failed");
    let explanation = &alert.annotations["explanation"];
    assert!(
        explanation.starts_with("cdn = b, country = BR"),
        "{explanation}"
    );

    let store = SqliteStore::open_read_only(&fixture.config.db).unwrap();
    let per_cdn = store
        .query_series(&SeriesQuery {
            selector: SeriesSelector::parse(r#"qoe_playback_failure_pct{cdn="b"}"#).unwrap(),
            from_ms: start,
            to_ms: start + 11 * MIN,
            step_ms: MIN,
            max_series: 10,
        })
        .unwrap();
    let values: Vec<f64> = per_cdn[0].points.iter().map(|p| p.value).collect();
    assert_eq!(values.len(), 11);
    assert_eq!(values[0], 0.0);
    assert_eq!(values[10], 50.0, "half of CDN b's sessions");
    let starts = store
        .query_series(&SeriesQuery {
            selector: SeriesSelector::parse("qoe_stream_starts_per_second").unwrap(),
            from_ms: start,
            to_ms: start + MIN,
            step_ms: MIN,
            max_series: 10,
        })
        .unwrap();
    assert!((starts[0].points[0].value - 40.0 / 60.0).abs() < 1e-9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_exposition_endpoint_is_scraped_and_stored() {
    let app = Router::new()
        .route(
            "/metrics",
            get(|| async {
                "# TYPE jobs_waiting gauge\njobs_waiting{queue=\"encode\"} 17\njobs_done_total 1234 1799999990000\nbroken line here\n"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let target = ScrapeTarget {
        job: "encoder".into(),
        url: format!("http://{address}/metrics"),
        interval_seconds: 15,
        bearer_token: None,
        labels: BTreeMap::from([("env".to_string(), "test".to_string())]),
    };
    let handle = MonitorHandle::open(&db, config(Vec::new(), Vec::new())).unwrap();
    let (samples, error) = scrape::scrape(handle.client(), &target, NOW).await;
    assert_eq!(error, None);
    let waiting = samples.iter().find(|s| s.name == "jobs_waiting").unwrap();
    assert_eq!(waiting.value, 17.0);
    assert_eq!(waiting.ts_ms, NOW);
    assert_eq!(waiting.labels["job"], "encoder");
    assert_eq!(waiting.labels["env"], "test");
    assert_eq!(waiting.labels["queue"], "encode");
    assert_eq!(waiting.labels["instance"], address.to_string());
    let done = samples
        .iter()
        .find(|s| s.name == "jobs_done_total")
        .unwrap();
    assert_eq!(
        done.ts_ms, 1_799_999_990_000,
        "the exposition's own timestamp"
    );
    let up = samples.iter().find(|s| s.name == "up").unwrap();
    assert_eq!(up.value, 1.0);

    // Stored through the monitor; a dead target records up = 0.
    scrape::scrape_into(&handle, &target).await.unwrap();
    let dead = ScrapeTarget {
        job: "gone".into(),
        url: "http://127.0.0.1:9/metrics".into(),
        ..target.clone()
    };
    let err = scrape::scrape_into(&handle, &dead).await.unwrap_err();
    assert!(err.contains("127.0.0.1:9"), "{err}");
    let store = SqliteStore::open_read_only(&db).unwrap();
    let ups = store.series(&SeriesSelector::parse("up").unwrap()).unwrap();
    assert_eq!(ups.len(), 2);
    let series = store
        .series(&SeriesSelector::parse(r#"jobs_waiting{job="encoder"}"#).unwrap())
        .unwrap();
    assert_eq!(series.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_endpoint_and_the_monitor_api() {
    let mut fixture = Fixture::new();
    fixture.config.monitor.rules = vec![rule("QueueDeep", "queue_depth", 10.0, 0)];
    let operator_key = {
        let (key, hash) = showrunner_server::generate_key();
        let mut store = SqliteStore::open(&fixture.config.db).unwrap();
        showrunner_store::ServerStore::create_api_key(&mut store, &hash, "operator").unwrap();
        key
    };
    let state = fixture.state().await;
    let router = router(&state);
    let ingest = Some(fixture.ingest_key.as_str());
    let operator = Some(operator_key.as_str());

    // Text exposition: one bad line reported, the rest stored.
    let text =
        "queue_depth 42 1800000000000\nqueue_depth{shard=\"2\"} 3 1800000000000\nnot a sample\n";
    let pushed = call(
        &router,
        post_request("/v1/monitor/push", ingest, "text/plain", text),
    )
    .await;
    assert_eq!(pushed.status, StatusCode::OK, "{}", pushed.text);
    assert_eq!(pushed.json["accepted"], 2);
    assert_eq!(pushed.json["problems"][0]["line"], 3);
    // JSON samples.
    let json = r#"[{"name":"queue_depth","labels":{"shard":"2"},"value":4,"ts_ms":1800000060000},{"name":"9bad","value":1}]"#;
    let pushed = call(
        &router,
        post_request("/v1/monitor/push", ingest, "application/json", json),
    )
    .await;
    assert_eq!(pushed.json["accepted"], 1, "{}", pushed.text);
    assert!(
        pushed.json["problems"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("9bad")
    );
    let junk = call(
        &router,
        post_request("/v1/monitor/push", ingest, "text/plain", "nope nope\n"),
    )
    .await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    assert_eq!(junk.json["code"], "invalid_samples");
    // The read scope may not push or look at alerts; the operator may not push.
    let read = Some(fixture.read_key.as_str());
    assert_eq!(
        call(&router, get_request("/v1/monitor/alerts", read))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &router,
            post_request("/v1/monitor/push", operator, "text/plain", text)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Every monitor route checks its scope: none or a bad key 401, the wrong scope 403.
    let routes = [
        ("GET", "/v1/monitor/alerts", "operator"),
        ("GET", "/v1/monitor/alerts/history", "operator"),
        ("GET", "/v1/monitor/silences", "operator"),
        ("POST", "/v1/monitor/silences", "operator"),
        ("DELETE", "/v1/monitor/silences/nope", "operator"),
        ("GET", "/v1/monitor/series?match=up", "operator"),
        ("GET", "/v1/monitor/notifications", "operator"),
        ("POST", "/v1/monitor/push", "ingest"),
    ];
    let request = |method: &str, path: &str, key: Option<&str>| {
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        builder.body(axum::body::Body::from("[]")).unwrap()
    };
    for (method, path, scope) in routes {
        assert_eq!(
            call(&router, request(method, path, None)).await.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert_eq!(
            call(&router, request(method, path, Some("sr_bogus")))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        let wrong = if scope == "ingest" { operator } else { ingest };
        assert_eq!(
            call(&router, request(method, path, wrong)).await.status,
            StatusCode::FORBIDDEN,
            "{method} {path}"
        );
        for right in [
            if scope == "ingest" { ingest } else { operator },
            Some(fixture.admin_key.as_str()),
        ] {
            let status = call(&router, request(method, path, right)).await.status;
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{method} {path}: {status}"
            );
        }
    }

    // A tick sees the pushed sample and fires.
    let handle = state.monitor().unwrap().clone();
    let (outcome, _) = handle.run_once(NOW + MIN, None).await.unwrap();
    assert_eq!(outcome.notifications.len(), 1);
    let alerts = call(&router, get_request("/v1/monitor/alerts", operator)).await;
    assert_eq!(alerts.json["alerts"][0]["rule"], "QueueDeep");
    assert_eq!(alerts.json["alerts"][0]["state"], "firing");
    let admin = Some(fixture.admin_key.as_str());
    let history = call(
        &router,
        get_request("/v1/monitor/alerts/history?limit=5", admin),
    )
    .await;
    assert_eq!(
        history.json["history"][0]["state"], "firing",
        "{}",
        history.text
    );

    // Series query with a selector, a range and a step.
    let series = call(
        &router,
        get_request(
            "/v1/monitor/series?match=queue_depth%7Bshard%3D%222%22%7D&from=1800000000000&to=1800000120000&step=1m",
            operator,
        ),
    )
    .await;
    assert_eq!(series.status, StatusCode::OK, "{}", series.text);
    assert_eq!(series.json["series"].as_array().unwrap().len(), 1);
    assert_eq!(series.json["series"][0]["points"][1]["value"], 4.0);
    let bad = call(
        &router,
        get_request("/v1/monitor/series?match=%7B%7D", operator),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json["message"].as_str().unwrap().contains("selector"));

    // Silences: create, list, expire; bad ones refused with the reason.
    let created = call(
        &router,
        post_request(
            "/v1/monitor/silences",
            operator,
            "application/json",
            r#"{"matchers":{"team":"core"},"duration":"2h","created_by":"oncall","comment":"deploy"}"#,
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["silence"]["id"].as_str().unwrap().to_owned();
    let listed = call(&router, get_request("/v1/monitor/silences", operator)).await;
    assert_eq!(listed.json["silences"][0]["id"], id.as_str());
    let refused = call(
        &router,
        post_request(
            "/v1/monitor/silences",
            operator,
            "application/json",
            r#"{"matchers":{},"duration":"1h","comment":"x"}"#,
        ),
    )
    .await;
    assert_eq!(refused.json["code"], "invalid_silence");
    let delete = |path: String| {
        axum::http::Request::delete(path)
            .header("authorization", format!("Bearer {operator_key}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let expired = call(&router, delete(format!("/v1/monitor/silences/{id}"))).await;
    assert_eq!(expired.status, StatusCode::OK, "{}", expired.text);
    let again = call(&router, delete(format!("/v1/monitor/silences/{id}"))).await;
    assert_eq!(again.json["code"], "unknown_silence");

    let log = call(&router, get_request("/v1/monitor/notifications", operator)).await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.json["notifications"].is_array());
    // Every monitor route is in the OpenAPI document.
    let doc = call(&router, get_request("/openapi.json", None)).await;
    for path in [
        "/v1/monitor/alerts",
        "/v1/monitor/series",
        "/v1/monitor/push",
        "/v1/monitor/silences/{id}",
    ] {
        assert!(doc.json["paths"].get(path).is_some(), "{path}");
    }
}

/// A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) on a free local port
/// receives a pushed alert and lists it through its own API (slow suite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_receives_and_lists_an_alert() {
    if std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_none() {
        eprintln!("note: set SHOWRUNNER_SLOW_TESTS=1 to test against a real Alertmanager");
        return;
    }
    let binary = ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(binary) = binary else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install prometheus-alertmanager (.ci/run does)"
        );
        eprintln!("note: prometheus-alertmanager is not installed; skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config_path,
        "route:\n  receiver: quiet\nreceivers:\n  - name: quiet\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(binary)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts alertmanager");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _alertmanager = Kill(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/-/ready")).send().await
            && r.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "alertmanager did not become ready on port {port}");

    let db = dir.path().join("db.sqlite");
    let receivers = vec![Receiver::Alertmanager {
        name: "am".into(),
        url: base.clone(),
    }];
    let handle = MonitorHandle::open(
        &db,
        config(vec![rule("QueueDeep", "queue_depth", 10.0, 0)], receivers),
    )
    .unwrap();
    let now = showrunner_model::Timestamp::parse("2026-01-01T00:00:00Z")
        .unwrap()
        .millis()
        .max(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64,
        );
    push(&handle, vec![sample("queue_depth", now - 1000, 99.0)]).await;
    let (_, log) = handle.run_once(now, None).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, "sent", "{:?}", log[0].error);
    let text = client
        .get(format!("{base}/api/v2/alerts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let alerts = listed.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{listed}");
    assert_eq!(alerts[0]["labels"]["alertname"], "QueueDeep");
    assert_eq!(alerts[0]["labels"]["team"], "core");
    assert_eq!(alerts[0]["status"]["state"], "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_fails_its_last_attempt_is_alerted_once_through_the_receivers() {
    use showrunner_jobs::{BackupConfig, JobsConfig, ManualClock, RetryConfig, Scheduler};
    use showrunner_model::Timestamp;

    let (base, received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    SqliteStore::open(&db).unwrap();
    let handle = MonitorHandle::open(
        &db,
        config(
            Vec::new(),
            vec![Receiver::Webhook {
                name: "hook".into(),
                url: format!("{base}/jobs"),
            }],
        ),
    )
    .unwrap();
    // The backup directory is a file: every run of the backup job fails.
    let backups = dir.path().join("backups");
    std::fs::write(&backups, "in the way").unwrap();
    let jobs = JobsConfig {
        backup: Some(BackupConfig {
            schedule: "0 2 * * *".into(),
            dir: backups,
            keep: 3,
        }),
        retry: RetryConfig {
            max_attempts: 2,
            first_delay_seconds: 60,
            factor: 2.0,
            max_delay_seconds: 600,
        },
        ..JobsConfig::default()
    };
    let clock = Arc::new(ManualClock::new(Timestamp::from_seconds(0)));
    let mut scheduler = Scheduler::from_config(&db, clock.clone(), &jobs).unwrap();
    showrunner_server::automation::report_failures(
        &mut scheduler,
        Some((handle.clone(), tokio::runtime::Handle::current())),
        Severity::Critical,
    );

    // The first attempt fails with a retry left: nothing is sent.
    clock.set(Timestamp::from_seconds(2 * 3600));
    let (scheduler, first) = tokio::task::spawn_blocking(move || {
        let runs = scheduler.tick().unwrap();
        (scheduler, runs)
    })
    .await
    .unwrap();
    assert_eq!(first.len(), 1);
    // The retry fails too: the last attempt, alerted once.
    clock.set(Timestamp::from_seconds(2 * 3600 + 60));
    let (_scheduler, second) = tokio::task::spawn_blocking(move || {
        let mut scheduler = scheduler;
        let runs = scheduler.tick().unwrap();
        (scheduler, runs)
    })
    .await
    .unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2));
    // Delivery runs on the runtime; wait for it (bounded), then for the log entry.
    let mut bodies = Vec::new();
    for _ in 0..200 {
        bodies = received.lock().unwrap().clone();
        if !bodies.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        bodies.len(),
        1,
        "one alert for the last attempt: {bodies:?}"
    );
    let (path, body) = &bodies[0];
    assert_eq!(path, "jobs");
    assert_eq!(body["status"], "firing");
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "job_failed");
    assert_eq!(alert["labels"]["job"], "backup");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["annotations"]["attempt"], "2");
    assert_eq!(alert["annotations"]["run_id"], second[0].id.to_string());
    let mut logged = Vec::new();
    for _ in 0..200 {
        logged = SqliteStore::open(&db).unwrap().notifications(10).unwrap();
        if !logged.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(logged.len(), 1, "the delivery is in the notification log");
}

/// Opens a monitor off the async runtime (a PostgreSQL store's client blocks).
async fn open_monitor(db: &str, config: MonitorConfig) -> MonitorHandle {
    let db = std::path::PathBuf::from(db);
    tokio::task::spawn_blocking(move || MonitorHandle::open(&db, config).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_store_one_replica_runs_the_monitor_and_another_takes_over() {
    let Some(database) = showrunner_store::testing::TestDatabase::create() else {
        return;
    };
    let rules = vec![rule("QueueDeep", "queue_depth", 10.0, 0)];
    let first = open_monitor(database.url(), config(rules.clone(), Vec::new())).await;
    let second = open_monitor(database.url(), config(rules.clone(), Vec::new())).await;

    // Both replicas receive the same reading; only the one that leads evaluates and fires.
    push(&first, vec![sample("queue_depth", NOW, 50.0)]).await;
    push(&second, vec![sample("queue_depth", NOW, 50.0)]).await;
    let (led, _) = first.run_once(NOW, None).await.unwrap();
    let (stood_by, _) = second.run_once(NOW, None).await.unwrap();
    assert_eq!(led.notifications.len(), 1, "the leader fires");
    assert!(stood_by.notifications.is_empty(), "the standby does not");
    assert!(
        second
            .with(|m| Ok(m.active_alerts()))
            .await
            .unwrap()
            .is_empty()
    );

    // The leader goes away: the other takes over with the saved state, so the alert that
    // is already firing is not paged again, and its resolution is.
    drop(first);
    let mut took_over = false;
    for _ in 0..50 {
        push(&second, vec![sample("queue_depth", NOW + MIN, 60.0)]).await;
        let (outcome, _) = second.run_once(NOW + MIN, None).await.unwrap();
        assert!(
            outcome.notifications.is_empty(),
            "a firing alert paged twice"
        );
        if !second
            .with(|m| Ok(m.active_alerts()))
            .await
            .unwrap()
            .is_empty()
        {
            took_over = true;
            break;
        }
        // The old leader's lock is released on a thread of its own.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(took_over, "the standby never took over");
    push(&second, vec![sample("queue_depth", NOW + 2 * MIN, 1.0)]).await;
    let (resolved, _) = second.run_once(NOW + 2 * MIN, None).await.unwrap();
    assert_eq!(resolved.notifications.len(), 1, "the resolution is sent");
    drop(second);
}
