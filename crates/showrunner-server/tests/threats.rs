//! The threat detection pass of `serve`, end to end in-process: a hand-made login stream
//! with a credential-stuffing burst and a brute-force run is posted to `POST /v1/events`,
//! one pass is stepped, and `GET /v1/security/findings` lists exactly those two findings
//! while a local HTTP receiver gets exactly one `security_finding` alert for each (with no
//! e-mail address in clear). A second pass over the same data adds and sends nothing; a
//! clean stream gives no finding and no alert; without the monitor findings are still
//! stored. The `[threats]` settings come from the file and the environment.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use common::{Fixture, call, get, post as post_request, router};
use showrunner_model::Timestamp;
use showrunner_server::generate_key;
use showrunner_server::monitor::config::{Receiver, RetryConfig};
use showrunner_store::{ServerStore, SqliteStore};

const MINUTE_MS: i64 = 60_000;
const VICTIM: &str = "victim@example.com";
const STUFFING_IP: &str = "203.0.113.50";

type Received = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A local HTTP receiver on 127.0.0.1 recording every POST.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    async fn record(
        State(received): State<Received>,
        Path(path): Path<String>,
        body: Bytes,
    ) -> StatusCode {
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        received.lock().unwrap().push((path, json));
        StatusCode::ACCEPTED
    }
    let app = Router::new()
        .route("/{*path}", post(record))
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), received)
}

/// 2026-01-15T00:00:00Z: the day the streams happen on.
fn day_start() -> i64 {
    Timestamp::parse("2026-01-15T00:00:00Z")
        .expect("a time")
        .millis()
}

fn login(ts_ms: i64, account: &str, outcome: &str, ip: &str, asn: u32, agent: &str) -> String {
    serde_json::json!({
        "type": "login",
        "ts": Timestamp::from_millis(ts_ms).to_rfc3339(),
        "account": account,
        "outcome": outcome,
        "ip": ip,
        "country": "US",
        "city": "New York",
        "latitude": 40.71,
        "longitude": -74.0,
        "asn": asn,
        "device": "tv",
        "user_agent": agent,
    })
    .to_string()
}

/// Twenty members signing in from their homes through the day, two of them after a typo.
fn clean_stream() -> Vec<String> {
    let start = day_start();
    let mut lines = Vec::new();
    for member in 0..20 {
        let account = format!("member{member}@example.com");
        let ip = format!("24.10.{member}.20");
        for hour in [1, 5, 9] {
            let ts = start + hour * 60 * MINUTE_MS + member * MINUTE_MS;
            if member < 2 && hour == 5 {
                lines.push(login(
                    ts - MINUTE_MS / 2,
                    &account,
                    "bad_password",
                    &ip,
                    20_007,
                    "ShowrunnerTV/3.2",
                ));
            }
            lines.push(login(
                ts,
                &account,
                "success",
                &ip,
                20_007,
                "ShowrunnerTV/3.2",
            ));
        }
    }
    lines
}

/// The clean stream plus one IP failing on six leaked accounts a minute apart (stuffing)
/// and twenty failed sign-ins on one account within ten minutes (brute force).
fn attack_stream() -> Vec<String> {
    let start = day_start();
    let mut lines = clean_stream();
    for i in 0..6 {
        lines.push(login(
            start + 10 * 60 * MINUTE_MS + i * MINUTE_MS,
            &format!("leaked{i}@example.org"),
            "unknown_account",
            STUFFING_IP,
            64_500,
            "python-requests/2.31",
        ));
    }
    for i in 0..20 {
        lines.push(login(
            start + 11 * 60 * MINUTE_MS + i * MINUTE_MS / 2,
            VICTIM,
            "bad_password",
            "198.51.100.7",
            64_501,
            "Mozilla/5.0",
        ));
    }
    lines
}

struct Service {
    fixture: Fixture,
    state: showrunner_server::AppState,
    router: Router,
    operator: String,
}

/// The fixture's service with the monitor sending to `hook` (or switched off), and an
/// operator key.
async fn service(hook: Option<&str>) -> Service {
    let mut fixture = Fixture::new();
    fixture.config.max_batch_events = 1_000;
    match hook {
        Some(url) => {
            fixture.config.monitor.receivers = vec![Receiver::Webhook {
                name: "security".into(),
                url: url.to_owned(),
            }];
            fixture.config.monitor.retry = RetryConfig {
                attempts: 2,
                base_ms: 5,
                max_ms: 20,
            };
        }
        None => fixture.config.monitor.enabled = false,
    }
    let (operator, hash) = generate_key();
    SqliteStore::open(&fixture.config.db)
        .expect("opens")
        .create_api_key(&hash, "operator")
        .expect("key");
    let state = fixture.state().await;
    let router = router(&state);
    Service {
        fixture,
        state,
        router,
        operator,
    }
}

impl Service {
    async fn ingest(&self, lines: &[String]) {
        let answer = call(
            &self.router,
            post_request(
                "/v1/events",
                Some(&self.fixture.ingest_key),
                "application/x-ndjson",
                lines.join("\n"),
            ),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.json["accepted"], lines.len(), "{}", answer.text);
    }

    async fn findings(&self) -> Vec<serde_json::Value> {
        let answer = call(
            &self.router,
            get("/v1/security/findings", Some(&self.operator)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json["findings"].as_array().cloned().expect("a list")
    }
}

/// The pass an hour after the streams' last event.
fn pass_time() -> i64 {
    day_start() + 13 * 60 * MINUTE_MS
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_stores_stuffing_and_brute_force_and_alerts_each_new_finding_once() {
    let (base, received) = receiver().await;
    let service = service(Some(&format!("{base}/security"))).await;
    service.ingest(&attack_stream()).await;
    let threats = service.state.threats().expect("on by default");

    let (report, entries) = threats.run_once(pass_time()).await.expect("a pass");
    assert_eq!(report.events_scanned, attack_stream().len() as u64);
    assert_eq!(report.new_findings().count(), 2, "{report:#?}");
    assert_eq!(entries.len(), 2, "one delivery per finding: {entries:?}");

    let mut findings = service.findings().await;
    findings.sort_by_key(|f| f["kind"].as_str().map(str::to_owned));
    let kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    assert_eq!(kinds, ["brute_force", "credential_stuffing"]);
    let (brute, stuffing) = (&findings[0], &findings[1]);
    assert_eq!(brute["key"], VICTIM);
    assert_eq!(brute["severity"], "high");
    assert_eq!(brute["evidence"]["accounts"], serde_json::json!([VICTIM]));
    assert_eq!(brute["evidence"]["events"], 20);
    assert_eq!(stuffing["key"], STUFFING_IP);
    let leaked: Vec<String> = (0..6).map(|i| format!("leaked{i}@example.org")).collect();
    assert_eq!(stuffing["evidence"]["accounts"], serde_json::json!(leaked));
    assert_eq!(
        stuffing["evidence"]["ips"],
        serde_json::json!([STUFFING_IP])
    );
    assert!(
        stuffing["detector"]
            .as_str()
            .is_some_and(|d| d.starts_with("stuffing@")),
        "{stuffing}"
    );

    // One firing alert per finding, naming the finding, with no address in clear.
    let bodies = received.lock().unwrap().clone();
    let alerts: Vec<&serde_json::Value> = bodies
        .iter()
        .flat_map(|(_, body)| body["alerts"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(alerts.len(), 2, "{bodies:#?}");
    assert!(
        bodies
            .iter()
            .all(|(path, body)| path == "security" && body["status"] == "firing")
    );
    let mut alerted_ids = BTreeSet::new();
    for alert in &alerts {
        assert_eq!(alert["labels"]["alertname"], "security_finding");
        let finding = findings
            .iter()
            .find(|f| f["kind"] == alert["labels"]["kind"])
            .expect("an alert of a stored kind");
        let expected_severity = match finding["kind"].as_str() {
            Some("credential_stuffing") => "critical",
            _ => "warning",
        };
        assert_eq!(alert["labels"]["severity"], expected_severity);
        assert_eq!(
            alert["annotations"]["finding_id"],
            finding["id"].to_string()
        );
        assert_eq!(
            alert["annotations"]["reason"],
            finding["evidence"]["reason"]
        );
        alerted_ids.insert(finding["id"].to_string());
    }
    assert_eq!(alerted_ids.len(), 2);
    let brute_alert = alerts
        .iter()
        .find(|a| a["labels"]["kind"] == "brute_force")
        .expect("brute force alert");
    assert_eq!(brute_alert["annotations"]["accounts"], "v***@example.com");
    assert_eq!(brute_alert["annotations"]["ips"], "198.51.100.7");
    let stuffing_alert = alerts
        .iter()
        .find(|a| a["labels"]["kind"] == "credential_stuffing")
        .expect("stuffing alert");
    assert_eq!(stuffing_alert["annotations"]["asns"], "64500");
    let sent = serde_json::to_string(&bodies).expect("serialises");
    for address in leaked.iter().map(String::as_str).chain([VICTIM]) {
        assert!(!sent.contains(address), "{address} sent in clear: {sent}");
    }

    // The same data again: both findings re-observed, nothing new, nothing sent.
    let (again, entries) = threats
        .run_once(pass_time() + MINUTE_MS)
        .await
        .expect("a second pass");
    assert_eq!(again.findings.len(), 2);
    assert_eq!(again.new_findings().count(), 0);
    assert!(entries.is_empty());
    assert_eq!(received.lock().unwrap().len(), bodies.len());
    assert_eq!(service.findings().await.len(), 2);

    // Four days later the window has lost the stuffing and the brute force's first four
    // failures: the brute force is seen opening later, and continues the stored finding
    // rather than opening a new one.
    let late = day_start() + (96 + 11) * 60 * MINUTE_MS + 2 * MINUTE_MS;
    let (truncated, entries) = threats.run_once(late).await.expect("a late pass");
    assert_eq!(truncated.findings.len(), 1, "{truncated:#?}");
    assert_eq!(truncated.new_findings().count(), 0, "{truncated:#?}");
    assert!(truncated.findings[0].finding.start.millis() > day_start() + 11 * 60 * MINUTE_MS);
    assert!(entries.is_empty());
    assert_eq!(service.findings().await.len(), 2);

    let metrics = call(&service.router, get("/metrics", Some(&service.operator))).await;
    for line in [
        "showrunner_security_findings_total{kind=\"brute_force\"} 1",
        "showrunner_security_findings_total{kind=\"credential_stuffing\"} 1",
        "showrunner_security_pass_duration_seconds_count 3",
    ] {
        assert!(metrics.text.contains(line), "{line} in {}", metrics.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stream_gives_no_finding_and_no_alert() {
    let (base, received) = receiver().await;
    let service = service(Some(&format!("{base}/security"))).await;
    service.ingest(&clean_stream()).await;
    let threats = service.state.threats().expect("on by default");
    let (report, entries) = threats.run_once(pass_time()).await.expect("a pass");
    assert_eq!(report.events_scanned, clean_stream().len() as u64);
    assert!(report.findings.is_empty(), "{report:#?}");
    assert!(entries.is_empty());
    assert!(service.findings().await.is_empty());
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_monitor_findings_are_still_stored() {
    let service = service(None).await;
    service.ingest(&attack_stream()).await;
    let threats = service.state.threats().expect("on by default");
    let (report, entries) = threats.run_once(pass_time()).await.expect("a pass");
    assert_eq!(report.new_findings().count(), 2);
    assert!(entries.is_empty());
    assert_eq!(service.findings().await.len(), 2);
    // A pass whose window ends before the attacks sees none of them.
    let (early, _) = threats
        .run_once(day_start() + 10 * 60 * MINUTE_MS)
        .await
        .expect("an early pass");
    assert!(early.findings.is_empty(), "{early:#?}");
}

#[test]
fn threats_settings_come_from_the_file_then_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("server.toml");
    std::fs::write(
        &file,
        "[threats]\ninterval_seconds = 30\n\n[threats.detectors.brute_force]\nmin_failures = 20\n\n[threats.alert_severity]\naccount_sharing = \"warning\"\n",
    )
    .expect("writes");
    let env = [(
        "SHOWRUNNER_THREATS_WINDOW_HOURS".to_owned(),
        "48".to_owned(),
    )];
    let config = showrunner_server::Config::load(Some(&file), env).expect("loads");
    let threats = &config.threats;
    assert!(threats.enabled);
    assert_eq!((threats.interval_seconds, threats.window_hours), (30, 48));
    assert_eq!(threats.detectors.brute_force.min_failures, 20);
    assert_eq!(threats.detectors.brute_force.window_minutes, 10);
    assert_eq!(
        threats.alert_severity.account_sharing,
        showrunner_monitor::alerts::Severity::Warning
    );
    assert_eq!(
        threats.alert_severity.account_takeover,
        showrunner_monitor::alerts::Severity::Critical
    );

    let off = [("SHOWRUNNER_THREATS_ENABLED".to_owned(), "false".to_owned())];
    assert!(
        !showrunner_server::Config::load(None, off)
            .expect("loads")
            .threats
            .enabled
    );
    for (name, value, named) in [
        (
            "SHOWRUNNER_THREATS_WINDOW_HOURS",
            "0",
            "threats.window_hours",
        ),
        (
            "SHOWRUNNER_THREATS_INTERVAL_SECONDS",
            "soon",
            "SHOWRUNNER_THREATS_INTERVAL_SECONDS",
        ),
    ] {
        let error = showrunner_server::Config::load(None, [(name.to_owned(), value.to_owned())])
            .expect_err(name)
            .to_string();
        assert!(error.contains(named), "{name}: {error}");
    }
    std::fs::write(&file, "[threats.detectors.brute_forse]\nmin_failures = 3\n").expect("writes");
    let error = showrunner_server::Config::load(Some(&file), [])
        .expect_err("a misspelt detector")
        .to_string();
    assert!(error.contains("brute_forse"), "{error}");
}
