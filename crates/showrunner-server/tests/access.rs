//! Operator accounts, sessions, roles, throttling, the audit log and hardening, driven
//! in-process: the whole route table against every role and key scope, login and its
//! failures (same answer, back-off, lock), revocation, rate limits with Retry-After,
//! trusted proxies, security headers and CORS, and bad credentials of every kind refused,
//! audited and not echoed.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Answer, Fixture, call, get, post};
use showrunner_server::accounts::prepare_account;
use showrunner_server::password::{
    Hasher, normalise_password, normalise_username, password_problem,
};
use showrunner_server::routes::{Access, ROUTES, access_for, exact_routes};
use showrunner_server::{AppState, Role, Scope, app};
use showrunner_store::{AccountStore, AuditStore, AuditVerification, SqliteStore};

const PASSWORD: &str = "correct horse battery staple";

/// Creates an account with `PASSWORD` directly in the store; returns its id.
fn create_account(fixture: &Fixture, username: &str, role: &str) -> i64 {
    let hasher = Hasher::new(&fixture.config.security).expect("hasher");
    let (name, phc) = prepare_account(&hasher, username, PASSWORD, role).expect("valid");
    let mut store = SqliteStore::open(&fixture.config.db).expect("opens");
    store
        .create_account(&name, &phc, role)
        .expect("creates")
        .expect("new name")
}

fn json_post(path: &str, token: Option<&str>, body: serde_json::Value) -> Request<Body> {
    post(path, token, "application/json", body.to_string())
}

fn from(mut request: Request<Body>, peer: &str) -> Request<Body> {
    let peer: SocketAddr = peer.parse().expect("address");
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

async fn login(router: &Router, username: &str, password: &str) -> Answer {
    call(
        router,
        json_post(
            "/v1/auth/login",
            None,
            serde_json::json!({"username": username, "password": password}),
        ),
    )
    .await
}

async fn session(router: &Router, username: &str) -> String {
    let answer = login(router, username, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json["token"].as_str().expect("token").to_owned()
}

fn actions(fixture: &Fixture) -> Vec<(String, String, String)> {
    fixture
        .store()
        .audit_records(0, 10_000)
        .expect("reads")
        .into_iter()
        .map(|r| (r.entry.action, r.entry.outcome, r.entry.ip))
        .collect()
}

fn request_for(method: &str, path: &str, token: Option<&str>) -> Request<Body> {
    let path = path.replace("{id}", "1").replace("{version}", "1");
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if method == "GET" {
        builder.body(Body::empty()).expect("request")
    } else {
        builder
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .expect("request")
    }
}

#[tokio::test]
async fn every_route_answers_every_role_and_scope_as_the_table_says() {
    let mut fixture = Fixture::with_model();
    fixture.config.security.auth_ip_burst = 100_000;
    for role in Role::ALL {
        create_account(&fixture, &format!("{}-user", role.as_str()), role.as_str());
    }
    let state = fixture.state().await;
    let router = app(state.clone());
    let mut credentials: Vec<(String, Vec<Scope>, bool, String)> = vec![
        (
            "ingest key".into(),
            vec![Scope::Ingest],
            false,
            fixture.ingest_key.clone(),
        ),
        (
            "read key".into(),
            vec![Scope::Read],
            false,
            fixture.read_key.clone(),
        ),
        (
            "admin key".into(),
            vec![Scope::Admin],
            false,
            fixture.admin_key.clone(),
        ),
    ];
    for role in Role::ALL {
        let token = session(&router, &format!("{}-user", role.as_str())).await;
        credentials.push((
            format!("{} session", role.as_str()),
            role.permissions().to_vec(),
            true,
            token,
        ));
    }
    // Logging out ends the session: those rows go last.
    let mut rules: Vec<_> = exact_routes().collect();
    rules.sort_by_key(|r| r.access == Access::Session);
    for rule in &rules {
        let (method, path) = (rule.method, rule.path);
        let none = call(&router, request_for(method, path, None)).await;
        let bogus = call(&router, request_for(method, path, Some("srs_0000"))).await;
        if matches!(rule.access, Access::Open | Access::OpenThrottled) {
            for answer in [&none, &bogus] {
                assert!(
                    ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&answer.status)
                        || path == "/v1/auth/login",
                    "{method} {path} is open: {}",
                    answer.status
                );
            }
            continue;
        }
        assert_eq!(
            none.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a credential"
        );
        assert_eq!(none.json["code"], "unauthorized");
        assert_eq!(
            bogus.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a forged token"
        );
        for (name, permissions, is_session, token) in &credentials {
            let expected = match rule.access {
                Access::Authenticated => true,
                Access::Session => *is_session,
                Access::Needs(needed) => permissions.iter().any(|p| p.allows(needed)),
                Access::Open | Access::OpenThrottled => true,
            };
            // A logout ends the session it names: use a fresh one.
            let token = if rule.access == Access::Session && *is_session {
                let role = name.trim_end_matches(" session");
                session(&router, &format!("{role}-user")).await
            } else {
                token.clone()
            };
            let answer = call(&router, request_for(method, path, Some(&token))).await;
            if expected {
                assert!(
                    ![
                        StatusCode::UNAUTHORIZED,
                        StatusCode::FORBIDDEN,
                        StatusCode::TOO_MANY_REQUESTS
                    ]
                    .contains(&answer.status),
                    "{method} {path} with a {name}: {} {}",
                    answer.status,
                    answer.text
                );
            } else {
                assert_eq!(
                    answer.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} with a {name}: {}",
                    answer.text
                );
                assert_eq!(answer.json["code"], "forbidden");
                assert!(!answer.text.contains(&token), "the token is not echoed");
            }
        }
    }
    // The areas other modules add: analytics for analysts and admins, the rest for operators.
    assert_eq!(
        access_for("GET", "/v1/analytics/titles/{id}"),
        Some(Access::Needs(Scope::Analytics))
    );
    assert_eq!(
        access_for("POST", "/v1/jobs/{name}/run"),
        Some(Access::Needs(Scope::Operator))
    );
    assert_eq!(access_for("GET", "/v1/nothing"), None);
    let allowed = |role: Role, needed: Scope| role.permissions().iter().any(|p| p.allows(needed));
    assert!(allowed(Role::Analyst, Scope::Analytics) && allowed(Role::Admin, Scope::Analytics));
    assert!(
        !allowed(Role::Operator, Scope::Analytics) && !allowed(Role::Service, Scope::Analytics)
    );
    assert!(
        !allowed(Role::Analyst, Scope::Read),
        "analysts see no member-level data"
    );
    assert!(allowed(Role::Operator, Scope::Operator) && !allowed(Role::Analyst, Scope::Operator));
    // Every served route is in the table and the OpenAPI document, with the table's access.
    let doc = call(&router, get("/openapi.json", None)).await;
    for rule in exact_routes() {
        let operation = &doc.json["paths"][rule.path][rule.method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} documented",
            rule.method,
            rule.path
        );
        let expected = match rule.access {
            Access::Open | Access::OpenThrottled => "open".to_owned(),
            Access::Authenticated => "authenticated".to_owned(),
            Access::Session => "session".to_owned(),
            Access::Needs(scope) => scope.as_str().to_owned(),
        };
        assert_eq!(
            operation["x-showrunner-access"],
            expected.as_str(),
            "{}",
            rule.path
        );
    }
    assert!(ROUTES.len() > exact_routes().count(), "prefix rules exist");
}

#[tokio::test]
async fn logins_open_sessions_that_end_on_logout_disable_and_role_changes() {
    let mut fixture = Fixture::new();
    // Back-off has its own test; here a wrong password must not delay the next login.
    fixture.config.security.login_backoff_base_ms = 0;
    let admin_id = create_account(&fixture, "root-admin", "admin");
    let analyst_id = create_account(&fixture, "ana", "analyst");
    let state = fixture.state().await;
    let router = app(state.clone());

    // Full-width letters are the same name after NFKC.
    let answer = login(&router, "ＲＯＯＴ-admin", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let admin = answer.json["token"].as_str().expect("token").to_owned();
    assert!(
        admin.starts_with("srs_") && admin.len() == 68,
        "256-bit opaque token"
    );
    assert_eq!(answer.json["account"]["role"], "admin");
    let me = call(&router, get("/v1/auth/me", Some(&admin))).await;
    assert_eq!(me.json["principal"]["kind"], "session");
    assert_eq!(me.json["principal"]["id"], admin_id);

    // Unknown user and wrong password: the same status, code and message.
    let unknown = login(&router, "nobody-here", PASSWORD).await;
    let wrong = login(&router, "ana", "not the right password at all").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (&unknown.json["code"], &unknown.json["message"]),
        (&wrong.json["code"], &wrong.json["message"])
    );
    assert_eq!(unknown.json["code"], "invalid_credentials");

    // A role change takes effect on the session's next request.
    let analyst = session(&router, "ana").await;
    assert_eq!(
        call(&router, get("/metrics", Some(&analyst))).await.status,
        StatusCode::FORBIDDEN
    );
    let patch = |id: i64, body: serde_json::Value| {
        Request::patch(format!("/v1/accounts/{id}"))
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    };
    let changed = call(
        &router,
        patch(analyst_id, serde_json::json!({"role": "operator"})),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(
        call(&router, get("/metrics", Some(&analyst))).await.status,
        StatusCode::OK
    );
    let bad_role = call(
        &router,
        patch(analyst_id, serde_json::json!({"role": "root"})),
    )
    .await;
    assert_eq!(bad_role.json["code"], "invalid_role");
    assert_eq!(
        call(&router, patch(999, serde_json::json!({})))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Disabling ends every session and refuses new ones.
    let disabled = call(
        &router,
        patch(analyst_id, serde_json::json!({"disabled": true})),
    )
    .await;
    assert_eq!(disabled.json["account"]["disabled"], true);
    assert_eq!(
        call(&router, get("/v1/auth/me", Some(&analyst)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&router, "ana", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Logout ends the session; an API key cannot log out.
    let out = call(
        &router,
        post("/v1/auth/logout", Some(&admin), "application/json", ""),
    )
    .await;
    assert_eq!(out.json["revoked"], true, "{}", out.text);
    let after = call(&router, get("/v1/auth/me", Some(&admin))).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let key_logout = call(
        &router,
        post(
            "/v1/auth/logout",
            Some(&fixture.admin_key),
            "application/json",
            "",
        ),
    )
    .await;
    assert_eq!(key_logout.status, StatusCode::FORBIDDEN);

    // An expired session (absolute expiry passed) is refused.
    let admin = session(&router, "root-admin").await;
    let raw = rusqlite::Connection::open(&fixture.config.db).expect("opens");
    raw.execute("UPDATE sessions SET expires_at = 0", [])
        .expect("expires");
    let expired = call(&router, get("/v1/auth/me", Some(&admin))).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.json["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired")
    );

    let log = actions(&fixture);
    for action in [
        "login",
        "login_failed",
        "role_changed",
        "account_disabled",
        "sessions_revoked",
        "logout",
        "auth_failed",
        "access_denied",
    ] {
        assert!(
            log.iter().any(|(a, _, _)| a == action),
            "{action} is audited: {log:?}"
        );
    }
    assert!(matches!(
        fixture.store().verify_audit().expect("verifies"),
        AuditVerification::Intact { .. }
    ));
}

#[tokio::test]
async fn failed_logins_back_off_then_lock_until_an_admin_unlocks() {
    let mut fixture = Fixture::new();
    fixture.config.security.login_backoff_base_ms = 600_000;
    let id = create_account(&fixture, "bob", "operator");
    create_account(&fixture, "boss", "admin");
    let state = fixture.state().await;
    let router = app(state.clone());
    assert_eq!(
        login(&router, "bob", "wrong wrong wrong wrong")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Backed off: even the right password is refused, with the same answer.
    let refused = login(&router, "bob", PASSWORD).await;
    assert_eq!(refused.json["code"], "invalid_credentials");
    let admin = session(&router, "boss").await;
    let unlock = Request::patch(format!("/v1/accounts/{id}"))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"unlock":true}"#))
        .expect("request");
    assert_eq!(call(&router, unlock).await.status, StatusCode::OK);
    assert_eq!(login(&router, "bob", PASSWORD).await.status, StatusCode::OK);
    let log = actions(&fixture);
    assert!(log.iter().any(|(a, _, _)| a == "login_throttled"));
    assert!(log.iter().any(|(a, _, _)| a == "account_unlocked"));

    // Without back-off, the lock after the configured number of failures still holds.
    let mut fixture = Fixture::new();
    fixture.config.security.login_backoff_base_ms = 0;
    fixture.config.security.login_lock_failures = 3;
    create_account(&fixture, "carol", "analyst");
    create_account(&fixture, "boss", "admin");
    let router = app(fixture.state().await);
    for _ in 0..3 {
        assert_eq!(
            login(&router, "carol", "wrong wrong wrong wrong")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(&router, "carol", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED,
        "locked"
    );
    let admin = session(&router, "boss").await;
    let accounts = call(&router, get("/v1/accounts", Some(&admin))).await;
    let carol = accounts.json["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["username"] == "carol")
        .cloned()
        .expect("carol");
    assert_eq!(
        (carol["locked"].as_bool(), carol["failed_logins"].as_u64()),
        (Some(true), Some(3))
    );
    assert!(
        carol.get("password_hash").is_none(),
        "hashes are never served"
    );
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_take_comparable_time() {
    let fixture = Fixture::new();
    create_account(&fixture, "dave", "analyst");
    let mut fixture = fixture;
    fixture.config.security.auth_ip_burst = 1_000;
    fixture.config.security.login_backoff_base_ms = 0;
    let router = app(fixture.state().await);
    // Warm up (the dummy hash is made on first use).
    login(&router, "nobody", "whatever whatever").await;
    let median = |username: &'static str| {
        let router = router.clone();
        async move {
            let mut times = Vec::new();
            for _ in 0..5 {
                let started = Instant::now();
                login(&router, username, "wrong wrong wrong wrong").await;
                times.push(started.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            times[2]
        }
    };
    let unknown = median("nobody").await;
    let wrong = median("dave").await;
    let ratio = unknown / wrong;
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown {unknown:.4}s vs wrong password {wrong:.4}s"
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_and_proxies_are_trusted_only_when_configured() {
    let mut fixture = Fixture::with_model();
    fixture.config.security.key_rate_per_second = 1;
    fixture.config.security.key_burst = 2;
    fixture.config.security.auth_ip_burst = 3;
    fixture.config.security.auth_ip_per_minute = 1;
    fixture.config.security.trusted_proxies = vec!["10.0.0.0/8".into()];
    let router = app(fixture.state().await);
    for _ in 0..2 {
        assert_eq!(
            call(&router, get("/v1/trending", Some(&fixture.read_key)))
                .await
                .status,
            StatusCode::OK
        );
    }
    let limited = call(&router, get("/v1/trending", Some(&fixture.read_key))).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json["code"], "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    // Another key is not affected.
    assert_eq!(
        call(&router, get("/v1/trending", Some(&fixture.admin_key)))
            .await
            .status,
        StatusCode::OK
    );

    // The auth routes' per-IP bucket: the client behind a trusted proxy is the one limited.
    let attempt = |peer: &str, forwarded: &str| {
        let mut request = json_post(
            "/v1/auth/login",
            None,
            serde_json::json!({"username": "nobody", "password": "wrong wrong wrong wrong"}),
        );
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded.parse().expect("header"));
        from(request, peer)
    };
    for _ in 0..3 {
        let answer = call(&router, attempt("10.1.2.3:5000", "203.0.113.9")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let answer = call(&router, attempt("10.1.2.3:5000", "203.0.113.9")).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.headers.contains_key("retry-after"));
    // Another client through the same proxy still gets through.
    let other = call(&router, attempt("10.1.2.3:5000", "203.0.113.10")).await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    // An untrusted peer's X-Forwarded-For is ignored: it is limited as itself.
    let direct = call(&router, attempt("198.51.100.1:6000", "203.0.113.11")).await;
    assert_eq!(direct.status, StatusCode::UNAUTHORIZED);
    let ips: Vec<String> = actions(&fixture)
        .into_iter()
        .filter(|(a, _, _)| a == "login_failed")
        .map(|(_, _, ip)| ip)
        .collect();
    assert!(ips.contains(&"203.0.113.9".to_owned()), "{ips:?}");
    assert!(ips.contains(&"198.51.100.1".to_owned()), "{ips:?}");
    assert!(!ips.contains(&"203.0.113.11".to_owned()), "{ips:?}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_cors_is_off_unless_configured() {
    let fixture = Fixture::new();
    let router = app(fixture.state().await);
    for request in [
        get("/healthz", None),
        get("/v1/trending", None),
        get("/nowhere", None),
    ] {
        let answer = call(&router, request).await;
        assert_eq!(answer.headers["x-content-type-options"], "nosniff");
        assert_eq!(answer.headers["x-frame-options"], "DENY");
        assert!(
            answer.headers["content-security-policy"]
                .to_str()
                .expect("ascii")
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(answer.headers["referrer-policy"], "no-referrer");
        assert_eq!(answer.headers["cache-control"], "no-store");
        assert!(!answer.headers.contains_key("strict-transport-security"));
    }
    let preflight = |origin: &str| {
        Request::options("/v1/trending")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .expect("request")
    };
    let off = call(&router, preflight("https://dash.example.com")).await;
    assert!(!off.headers.contains_key("access-control-allow-origin"));

    let mut fixture = Fixture::new();
    fixture.config.security.cors_allowed_origins = vec!["https://dash.example.com".into()];
    fixture.config.security.hsts = true;
    let router = app(fixture.state().await);
    let on = call(&router, preflight("https://dash.example.com")).await;
    assert_eq!(
        on.headers["access-control-allow-origin"],
        "https://dash.example.com"
    );
    let other = call(&router, preflight("https://evil.example.net")).await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));
    assert!(
        call(&router, get("/healthz", None))
            .await
            .headers
            .contains_key("strict-transport-security")
    );
}

#[tokio::test]
async fn bad_credentials_and_names_are_refused_audited_and_not_echoed() {
    let mut fixture = Fixture::new();
    fixture.config.security.auth_ip_burst = 1_000;
    create_account(&fixture, "admin", "admin");
    let state: AppState = fixture.state().await;
    let router = app(state);
    let admin = session(&router, "admin").await;

    let forged = format!("srs_{}", "ab".repeat(32));
    let truncated = &admin[..admin.len() - 1];
    let oversized = format!("sr_{}", "a".repeat(5_000));
    for (what, token) in [
        ("forged", forged.as_str()),
        ("truncated", truncated),
        ("oversized", oversized.as_str()),
        ("garbage", "\u{0}\u{1}"),
    ] {
        let mut request = get("/v1/auth/me", None);
        if let Ok(value) = format!("Bearer {token}").parse() {
            request.headers_mut().insert("authorization", value);
        }
        let answer = call(&router, request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            !answer.text.contains(token) || token.len() < 4,
            "{what} echoed: {}",
            answer.text
        );
    }
    let wrong_scheme = Request::get("/v1/auth/me")
        .header("authorization", format!("Basic {admin}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        call(&router, wrong_scheme).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Wrong scope.
    let denied = call(&router, get("/v1/accounts", Some(&fixture.read_key))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    // Oversized credentials at login: refused before any hashing.
    let long = login(&router, "admin", &"x".repeat(1_000)).await;
    assert_eq!(
        (long.status, long.json["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("credentials_too_long"))
    );
    let huge = login(&router, &"y".repeat(10_000), PASSWORD).await;
    assert_eq!(
        (huge.status, huge.json["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    // SQL-meaningful characters are just wrong credentials.
    for name in [
        "admin' --",
        "' OR '1'='1",
        "admin\"; DROP TABLE accounts; --",
    ] {
        let answer = login(&router, name, PASSWORD).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(!answer.text.contains(PASSWORD));
    }
    // Unicode tricks in new names.
    let create = |username: &str| {
        json_post(
            "/v1/accounts",
            Some(&admin),
            serde_json::json!({"username": username, "password": "a long enough passphrase here", "role": "analyst"}),
        )
    };
    for (name, status, code) in [
        ("\u{0430}dmin", StatusCode::BAD_REQUEST, "invalid_username"), // Cyrillic a
        ("ad\u{200b}min", StatusCode::BAD_REQUEST, "invalid_username"), // zero-width space
        ("admin\u{202e}", StatusCode::BAD_REQUEST, "invalid_username"), // right-to-left override
        ("ＡＤＭＩＮ", StatusCode::CONFLICT, "username_taken"),        // full width: `admin`
        ("x' OR 1=1", StatusCode::BAD_REQUEST, "invalid_username"),
        ("new.analyst", StatusCode::CREATED, ""),
    ] {
        let answer = call(&router, create(name)).await;
        assert_eq!(answer.status, status, "{name:?}: {}", answer.text);
        if !code.is_empty() {
            assert_eq!(answer.json["code"], code, "{name:?}");
        }
    }
    let weak = call(
        &router,
        json_post("/v1/accounts", Some(&admin), serde_json::json!({"username": "eve", "password": "password12345678", "role": "analyst"})),
    )
    .await;
    assert_eq!(weak.json["code"], "weak_password");
    assert!(
        !weak.text.contains("password12345678"),
        "the password is not echoed"
    );
    let malformed = call(
        &router,
        post(
            "/v1/accounts",
            Some(&admin),
            "application/json",
            "{not json",
        ),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    let log = actions(&fixture);
    let count = |action: &str, outcome: &str| {
        log.iter()
            .filter(|(a, o, _)| a == action && o == outcome)
            .count()
    };
    assert!(count("auth_failed", "denied") >= 4, "{log:?}");
    assert!(count("access_denied", "denied") >= 1);
    assert!(count("login_failed", "denied") >= 4);
    assert!(count("account_created", "denied") >= 5);
    assert_eq!(count("account_created", "ok"), 1);
    let store = fixture.store();
    for record in store.audit_records(0, 10_000).expect("reads") {
        assert!(
            !record.entry.detail.contains(PASSWORD) && !record.entry.detail.contains(&admin),
            "no secrets in the audit log"
        );
    }
}

#[test]
fn the_password_policy_follows_nist_without_composition_rules() {
    for (password, refused) in [
        ("short pass", true),
        ("password12345678", true),
        ("qwertyuiopasdfghjkl", true),
        ("aaaaaaaaaaaaaaaaaaaa", true),
        ("123456789012345678", true),
        ("iloveyouiloveyou!!", true),
        ("my name is frank!!", true), // contains the user name
        ("correct horse battery staple", false),
        ("all lower case no digits", false),
        ("ünïcödé pässwörd fïne", false),
    ] {
        assert_eq!(
            password_problem(password, "frank").is_some(),
            refused,
            "{password:?}"
        );
    }
    let sixty_four = "x".repeat(40) + "correct horse battery st";
    assert_eq!(sixty_four.chars().count(), 64);
    assert_eq!(
        password_problem(&sixty_four, "frank"),
        None,
        "64 characters are allowed"
    );
    let too_long = "correct horse ".repeat(19);
    assert!(too_long.len() > 256 && password_problem(&too_long, "frank").is_some());
    // NFKC: the same password typed as full-width or decomposed letters is the same bytes.
    assert_eq!(*normalise_password("ｐａｓｓ"), "pass");
    assert_eq!(*normalise_password("e\u{301}"), "\u{e9}");
    assert!(
        normalise_username(" Admin").is_err(),
        "spaces are not allowed"
    );
    assert_eq!(normalise_username("ＡＤＭＩＮ").as_deref(), Ok("admin"));
}

#[tokio::test]
async fn a_login_rehashes_when_the_configured_cost_rises() {
    let mut fixture = Fixture::new();
    create_account(&fixture, "frank", "analyst");
    let before = fixture
        .store()
        .account_by_name("frank")
        .expect("reads")
        .expect("exists");
    assert!(
        before
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        before.password_hash
    );
    fixture.config.security.argon2_iterations = 3;
    let router = app(fixture.state().await);
    assert_eq!(
        login(&router, "frank", PASSWORD).await.status,
        StatusCode::OK
    );
    let after = fixture
        .store()
        .account_by_name("frank")
        .expect("reads")
        .expect("exists");
    assert!(
        after.password_hash.contains(",t=3,"),
        "{}",
        after.password_hash
    );
    assert_eq!(
        login(&router, "frank", PASSWORD).await.status,
        StatusCode::OK,
        "the new hash verifies"
    );
    // Lower than OWASP's minimum is refused outright.
    let env = [(
        "SHOWRUNNER_SECURITY_ARGON2_MEMORY_KIB".to_owned(),
        "4096".to_owned(),
    )];
    let error = showrunner_server::Config::load(None, env).expect_err("too weak");
    assert!(error.to_string().contains("argon2_memory_kib"), "{error}");
}

#[test]
fn the_auth_header_parser_takes_any_bytes() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use showrunner_server::auth::{MAX_AUTHORIZATION_BYTES, parse_authorization};
    let slow = std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_some_and(|v| v == "1");
    let mut runner = TestRunner::new(Config {
        cases: if slow { 100_000 } else { 512 },
        failure_persistence: None,
        ..Config::default()
    });
    let check = |bytes: &[u8]| -> Result<(), TestCaseError> {
        if let Ok(token) = parse_authorization(bytes) {
            prop_assert!(bytes.len() <= MAX_AUTHORIZATION_BYTES);
            prop_assert!(!token.is_empty() && !token.contains(' '));
        }
        Ok(())
    };
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..700), |bytes| {
            check(&bytes)
        })
        .expect("any bytes");
    runner
        .run(&("(?i)(bearer|basic|)[ ]{0,3}[ -~]{0,80}"), |text| {
            check(text.as_bytes())
        })
        .expect("header-like text");
    assert_eq!(parse_authorization(b"Bearer sr_abc"), Ok("sr_abc"));
    assert_eq!(parse_authorization(b"bearer  sr_abc "), Ok("sr_abc"));
    assert!(parse_authorization(b"Bearer ").is_err());
    assert!(parse_authorization(b"Bearer a b").is_err());
    assert!(parse_authorization(b"Basic dXNlcjpwYXNz").is_err());
}
