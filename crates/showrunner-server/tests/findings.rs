//! `GET /v1/security/findings` in-process: stored findings come back newest first with
//! their evidence, filtered by kind and account and paged by cursor, for operators and
//! admins only; bad parameters answer 400 naming the parameter.

mod common;

use axum::http::StatusCode;
use common::{Fixture, call, get, post};
use showrunner_model::Timestamp;
use showrunner_server::accounts::prepare_account;
use showrunner_server::app;
use showrunner_server::password::Hasher;
use showrunner_store::{AccountStore, FindingStore, NewFinding, SqliteStore};

const PASSWORD: &str = "correct horse battery staple";
const VICTIM: &str = "ada@example.com";

fn create_account(fixture: &Fixture, username: &str, role: &str) {
    let hasher = Hasher::new(&fixture.config.security).expect("hasher");
    let (name, phc) = prepare_account(&hasher, username, PASSWORD, role).expect("valid");
    let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
    store
        .create_account(&name, &phc, role)
        .expect("creates")
        .expect("new name");
}

fn finding(kind: &str, key: &str, opened_s: i64) -> NewFinding {
    NewFinding {
        kind: kind.into(),
        severity: "high".into(),
        key: key.into(),
        opened_at: Timestamp::from_seconds(opened_s),
        last_seen: Timestamp::from_seconds(opened_s + 60),
        detector: "test/v1".into(),
        evidence: format!(r#"{{"accounts":["{key}"],"ips":["203.0.113.9"],"reason":"test"}}"#),
    }
}

async fn session(router: &axum::Router, username: &str) -> String {
    let answer = call(
        router,
        post(
            "/v1/auth/login",
            None,
            "application/json",
            serde_json::json!({"username": username, "password": PASSWORD}).to_string(),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json["token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn findings_are_listed_for_operators_and_refused_to_analysts_and_services() {
    let fixture = Fixture::new();
    {
        let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
        store
            .record_finding(&finding("brute_force", VICTIM, 1_800_000_000))
            .expect("records");
        store
            .record_finding(&finding("impossible_travel", VICTIM, 1_800_000_600))
            .expect("records");
        store
            .record_finding(&finding(
                "credential_stuffing",
                "198.51.100.7",
                1_800_001_200,
            ))
            .expect("records");
    }
    create_account(&fixture, "olga", "operator");
    create_account(&fixture, "anna", "analyst");
    create_account(&fixture, "adam", "admin");
    let state = fixture.state().await;
    let router = app(state);
    let operator = session(&router, "olga").await;
    let analyst = session(&router, "anna").await;
    let admin = session(&router, "adam").await;

    let all = call(&router, get("/v1/security/findings", Some(&operator))).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let kinds: Vec<&str> = all.json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        ["credential_stuffing", "impossible_travel", "brute_force"]
    );
    assert_eq!(all.json["findings"][2]["key"], VICTIM);
    assert_eq!(all.json["findings"][2]["evidence"]["reason"], "test");
    assert!(all.json["next_cursor"].is_null());

    let by_account = call(
        &router,
        get(
            &format!("/v1/security/findings?account={VICTIM}&kind=brute_force"),
            Some(&admin),
        ),
    )
    .await;
    assert_eq!(by_account.status, StatusCode::OK, "{}", by_account.text);
    assert_eq!(
        by_account.json["findings"].as_array().map(Vec::len),
        Some(1)
    );

    let first_page = call(
        &router,
        get("/v1/security/findings?limit=2", Some(&operator)),
    )
    .await;
    let cursor = first_page.json["next_cursor"]
        .as_str()
        .expect("a next page");
    let second_page = call(
        &router,
        get(
            &format!("/v1/security/findings?limit=2&cursor={cursor}"),
            Some(&operator),
        ),
    )
    .await;
    assert_eq!(second_page.json["findings"][0]["kind"], "brute_force");

    let in_window = call(
        &router,
        get(
            "/v1/security/findings?from=2027-01-15T08:05:00Z&until=2027-01-15T08:15:00Z",
            Some(&operator),
        ),
    )
    .await;
    assert_eq!(in_window.status, StatusCode::OK, "{}", in_window.text);
    assert_eq!(in_window.json["findings"][0]["kind"], "impossible_travel");
    assert_eq!(in_window.json["findings"].as_array().map(Vec::len), Some(1));

    for (path, parameter) in [
        ("/v1/security/findings?kind=phishing", "kind"),
        ("/v1/security/findings?limit=0", "limit"),
        ("/v1/security/findings?from=yesterday", "from"),
        ("/v1/security/findings?cursor=abc", "cursor"),
    ] {
        let refused = call(&router, get(path, Some(&operator))).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(refused.json["code"], "invalid_parameter");
        assert!(
            refused.json["message"]
                .as_str()
                .is_some_and(|m| m.contains(parameter)),
            "{path}: {}",
            refused.text
        );
    }

    let forbidden = call(&router, get("/v1/security/findings", Some(&analyst))).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let service = call(
        &router,
        get("/v1/security/findings", Some(&fixture.read_key)),
    )
    .await;
    assert_eq!(service.status, StatusCode::FORBIDDEN);
    let anonymous = call(&router, get("/v1/security/findings", None)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
