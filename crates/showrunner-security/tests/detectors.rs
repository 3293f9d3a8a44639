//! Hand-made event sequences per detector: each one fires on the pattern it is for and stays
//! quiet on the ordinary look-alike.

use showrunner_model::time::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};
use showrunner_model::{Event, EventBody, Login, LoginOutcome, Play, PlayAction, Timestamp};
use showrunner_security::{Finding, FindingKind, SecurityConfig, scan};

const T0: i64 = 1_788_220_800_000;

struct Place {
    ip: &'static str,
    asn: u32,
    country: &'static str,
    latitude: f64,
    longitude: f64,
}

const NEW_YORK: Place = Place {
    ip: "24.10.20.30",
    asn: 20_007,
    country: "US",
    latitude: 40.71,
    longitude: -74.0,
};
const BOSTON: Place = Place {
    ip: "24.99.1.2",
    asn: 20_007,
    country: "US",
    latitude: 42.36,
    longitude: -71.06,
};
const TOKYO: Place = Place {
    ip: "56.7.8.9",
    asn: 20_135,
    country: "JP",
    latitude: 35.68,
    longitude: 139.65,
};
const HOSTING: Place = Place {
    ip: "185.107.3.4",
    asn: 209_101,
    country: "NL",
    latitude: 52.37,
    longitude: 4.89,
};

fn login(ts: i64, account: &str, outcome: LoginOutcome, place: &Place, device: &str) -> Event {
    login_from(ts, account, outcome, place, place.ip, device)
}

fn login_from(
    ts: i64,
    account: &str,
    outcome: LoginOutcome,
    place: &Place,
    ip: &str,
    device: &str,
) -> Event {
    Event {
        id: String::new(),
        ts: Timestamp::from_millis(ts),
        body: EventBody::Login(Login {
            account: account.to_string(),
            outcome,
            ip: ip.to_string(),
            country: Some(place.country.to_string()),
            city: None,
            latitude: Some(place.latitude),
            longitude: Some(place.longitude),
            asn: Some(place.asn),
            device: Some(device.to_string()),
            user_agent: Some(format!("agent-{device}")),
        }),
    }
}

fn play(ts: i64, member: &str, session: &str, action: PlayAction, country: &str) -> Event {
    Event {
        id: String::new(),
        ts: Timestamp::from_millis(ts),
        body: EventBody::Play(Play {
            member_id: member.to_string(),
            profile_id: None,
            title_id: "t1".to_string(),
            session_id: session.to_string(),
            action,
            position_s: 0,
            watched_s: 0,
            device: Some("tv".to_string()),
            country: Some(country.to_string()),
            request_id: None,
        }),
    }
}

fn run(mut events: Vec<Event>) -> Vec<Finding> {
    events.sort_by_key(|event| event.ts);
    scan(&SecurityConfig::default(), &events)
}

fn of_kind(findings: &[Finding], kind: FindingKind) -> Vec<&Finding> {
    findings.iter().filter(|f| f.kind == kind).collect()
}

/// Ordinary members: a sign-in at home every few days, the odd typo first.
fn ordinary(members: usize, days: i64) -> Vec<Event> {
    let mut events = Vec::new();
    for member in 0..members {
        let account = format!("member{member}@example.com");
        for day in 0..days {
            let ts = T0 + day * DAY_MS + 19 * HOUR_MS + member as i64 * MINUTE_MS;
            if member % 7 == 0 {
                events.push(login(
                    ts - 20 * SECOND_MS,
                    &account,
                    LoginOutcome::BadPassword,
                    &NEW_YORK,
                    "tv",
                ));
            }
            events.push(login(ts, &account, LoginOutcome::Success, &NEW_YORK, "tv"));
        }
    }
    events
}

#[test]
fn stuffing_fires_on_one_ip_failing_across_many_accounts() {
    let mut events = ordinary(20, 2);
    for attempt in 0..30 {
        let ts = T0 + DAY_MS + attempt * 40 * SECOND_MS;
        events.push(login(
            ts,
            &format!("victim{attempt}@example.net"),
            LoginOutcome::UnknownAccount,
            &HOSTING,
            "web",
        ));
    }
    let findings = run(events);
    let stuffing = of_kind(&findings, FindingKind::CredentialStuffing);
    assert!(!stuffing.is_empty(), "{findings:#?}");
    assert!(
        stuffing
            .iter()
            .all(|f| f.ips == vec![HOSTING.ip.to_string()])
    );
    assert!(stuffing.iter().any(|f| f.account_count >= 20));
    assert!(of_kind(&findings, FindingKind::BruteForce).is_empty());
}

#[test]
fn spraying_from_many_ips_with_few_attempts_each_is_found_by_network() {
    let mut events = ordinary(20, 2);
    // 60 IPs of one hosting network, one attempt each, over 30 minutes.
    let ips: Vec<String> = (0..60)
        .map(|i| format!("185.107.{}.{}", i * 4, 10 + i))
        .collect();
    for (i, ip) in ips.iter().enumerate() {
        let ts = T0 + DAY_MS + i as i64 * 30 * SECOND_MS;
        events.push(login_from(
            ts,
            &format!("member{}@example.com", i % 20),
            LoginOutcome::BadPassword,
            &HOSTING,
            ip,
            "web",
        ));
    }
    let findings = run(events);
    let stuffing = of_kind(&findings, FindingKind::CredentialStuffing);
    assert_eq!(stuffing.len(), 1, "{stuffing:#?}");
    assert_eq!(stuffing[0].source, "asn 209101");
    assert_eq!(stuffing[0].subject(), "AS209101");
    assert_eq!(stuffing[0].detector(), "stuffing");
    assert_eq!(stuffing[0].ips.len(), 60);
}

#[test]
fn ordinary_typos_are_not_stuffing_or_brute_force() {
    let findings = run(ordinary(200, 5));
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn brute_force_fires_on_many_failures_on_one_account() {
    let mut events = ordinary(5, 2);
    for attempt in 0..25 {
        let ts = T0 + DAY_MS + 2 * HOUR_MS + attempt * 2 * SECOND_MS;
        events.push(login(
            ts,
            "member1@example.com",
            LoginOutcome::BadPassword,
            &HOSTING,
            "web",
        ));
    }
    events.push(login(
        T0 + DAY_MS + 2 * HOUR_MS + 60 * SECOND_MS,
        "member1@example.com",
        LoginOutcome::Success,
        &HOSTING,
        "web",
    ));
    let findings = run(events);
    let brute = of_kind(&findings, FindingKind::BruteForce);
    assert_eq!(brute.len(), 1, "{findings:#?}");
    assert_eq!(brute[0].accounts, vec!["member1@example.com".to_string()]);
    assert_eq!(brute[0].subject(), "member1@example.com");
    assert_eq!(brute[0].events, 26);
    assert!(brute[0].reason.contains("succeeded"));
    // The success after the burst is a takeover signal.
    let takeover = of_kind(&findings, FindingKind::AccountTakeover);
    assert_eq!(takeover.len(), 1, "{findings:#?}");
    assert!(takeover[0].reason.contains("after 25 failures"));
    // One IP on one account is not stuffing.
    assert!(of_kind(&findings, FindingKind::CredentialStuffing).is_empty());
}

#[test]
fn a_few_failures_then_success_is_not_brute_force_or_takeover() {
    let mut events = ordinary(5, 2);
    for attempt in 0..3 {
        events.push(login(
            T0 + DAY_MS + 2 * HOUR_MS + attempt * 10 * SECOND_MS,
            "member1@example.com",
            LoginOutcome::BadPassword,
            &NEW_YORK,
            "tv",
        ));
    }
    events.push(login(
        T0 + DAY_MS + 2 * HOUR_MS + 60 * SECOND_MS,
        "member1@example.com",
        LoginOutcome::Success,
        &NEW_YORK,
        "tv",
    ));
    let findings = run(events);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn takeover_fires_on_new_device_and_new_country_after_learning() {
    let mut events = ordinary(3, 5);
    events.push(login(
        T0 + 5 * DAY_MS,
        "member1@example.com",
        LoginOutcome::Success,
        &HOSTING,
        "web",
    ));
    let findings = run(events);
    let takeover = of_kind(&findings, FindingKind::AccountTakeover);
    assert_eq!(takeover.len(), 1, "{findings:#?}");
    assert!(
        takeover[0]
            .reason
            .contains("new device web and new country NL")
    );
    // A new device at home is not.
    let mut events = ordinary(3, 5);
    events.push(login(
        T0 + 5 * DAY_MS,
        "member1@example.com",
        LoginOutcome::Success,
        &NEW_YORK,
        "web",
    ));
    assert!(run(events).is_empty());
}

#[test]
fn travel_fires_on_a_fast_jump_to_a_new_place_after_learning() {
    let mut events = ordinary(3, 3);
    let home = T0 + 3 * DAY_MS + 10 * HOUR_MS;
    events.push(login(
        home,
        "member2@example.com",
        LoginOutcome::Success,
        &NEW_YORK,
        "tv",
    ));
    events.push(login(
        home + 40 * MINUTE_MS,
        "member2@example.com",
        LoginOutcome::Success,
        &TOKYO,
        "tv",
    ));
    let findings = run(events);
    let travel = of_kind(&findings, FindingKind::ImpossibleTravel);
    assert_eq!(travel.len(), 1, "{findings:#?}");
    assert_eq!(
        travel[0].ips,
        vec![NEW_YORK.ip.to_string(), TOKYO.ip.to_string()]
    );
    assert_eq!(
        travel[0].countries,
        vec!["US".to_string(), "JP".to_string()]
    );
}

#[test]
fn travel_stays_quiet_when_slow_enough_learning_or_through_a_relay() {
    // Fourteen hours New York to Tokyo: a flight.
    let mut events = ordinary(3, 3);
    let home = T0 + 3 * DAY_MS + 10 * HOUR_MS;
    events.push(login(
        home,
        "member2@example.com",
        LoginOutcome::Success,
        &NEW_YORK,
        "tv",
    ));
    events.push(login(
        home + 14 * HOUR_MS,
        "member2@example.com",
        LoginOutcome::Success,
        &TOKYO,
        "tv",
    ));
    assert!(of_kind(&run(events), FindingKind::ImpossibleTravel).is_empty());
    // A brand-new account: still learning.
    let events = vec![
        login(
            T0,
            "new@example.com",
            LoginOutcome::Success,
            &NEW_YORK,
            "tv",
        ),
        login(
            T0 + 30 * MINUTE_MS,
            "new@example.com",
            LoginOutcome::Success,
            &TOKYO,
            "tv",
        ),
    ];
    assert!(of_kind(&run(events), FindingKind::ImpossibleTravel).is_empty());
    // Through a relay network listed as exempt.
    let mut events = ordinary(3, 3);
    events.push(login(
        home,
        "member2@example.com",
        LoginOutcome::Success,
        &NEW_YORK,
        "tv",
    ));
    events.push(login(
        home + 40 * MINUTE_MS,
        "member2@example.com",
        LoginOutcome::Success,
        &TOKYO,
        "tv",
    ));
    events.sort_by_key(|event| event.ts);
    let mut config = SecurityConfig::default();
    config.travel.exempt_asns = vec![TOKYO.asn];
    assert!(
        scan(&config, &events)
            .iter()
            .all(|f| f.kind != FindingKind::ImpossibleTravel)
    );
}

#[test]
fn sharing_fires_on_two_recurring_households() {
    let mut events = ordinary(3, 4);
    for day in 0..4 {
        events.push(login(
            T0 + day * DAY_MS + 21 * HOUR_MS,
            "member0@example.com",
            LoginOutcome::Success,
            &BOSTON,
            "tablet",
        ));
    }
    let findings = run(events);
    let sharing = of_kind(&findings, FindingKind::AccountSharing);
    assert_eq!(sharing.len(), 1, "{findings:#?}");
    assert_eq!(sharing[0].accounts, vec!["member0@example.com".to_string()]);
    assert_eq!(sharing[0].ips.len(), 2);
}

#[test]
fn a_single_trip_is_not_a_household() {
    let mut events = ordinary(3, 4);
    events.push(login(
        T0 + 2 * DAY_MS + 12 * HOUR_MS,
        "member0@example.com",
        LoginOutcome::Success,
        &BOSTON,
        "tv",
    ));
    assert!(of_kind(&run(events), FindingKind::AccountSharing).is_empty());
}

#[test]
fn sharing_fires_on_concurrent_streams_from_two_countries_on_two_days() {
    let mut events = Vec::new();
    for day in 0..2 {
        let ts = T0 + day * DAY_MS + 20 * HOUR_MS;
        events.push(play(ts, "m1", &format!("a{day}"), PlayAction::Start, "US"));
        events.push(play(
            ts + 60_000,
            "m1",
            &format!("b{day}"),
            PlayAction::Start,
            "CA",
        ));
        events.push(play(
            ts + 5 * MINUTE_MS,
            "m1",
            &format!("a{day}"),
            PlayAction::Heartbeat,
            "US",
        ));
        // The same member streaming twice at home at once is not sharing.
        events.push(play(ts, "m2", &format!("a{day}"), PlayAction::Start, "US"));
        events.push(play(
            ts + 60_000,
            "m2",
            &format!("b{day}"),
            PlayAction::Start,
            "US",
        ));
        // One after the other from two countries is not concurrent.
        events.push(play(ts, "m3", &format!("a{day}"), PlayAction::Start, "US"));
        events.push(play(
            ts + 60_000,
            "m3",
            &format!("a{day}"),
            PlayAction::Stop,
            "US",
        ));
        events.push(play(
            ts + 2 * MINUTE_MS,
            "m3",
            &format!("b{day}"),
            PlayAction::Start,
            "CA",
        ));
    }
    let findings = run(events);
    let sharing = of_kind(&findings, FindingKind::AccountSharing);
    assert_eq!(sharing.len(), 1, "{findings:#?}");
    assert_eq!(sharing[0].accounts, vec!["m1".to_string()]);
    assert_eq!(
        sharing[0].countries,
        vec!["CA".to_string(), "US".to_string()]
    );
}

#[test]
fn spraying_through_many_networks_is_found_by_its_user_agent() {
    let mut events = ordinary(30, 2);
    // One script, 40 attempts over 8 minutes, each from another residential network.
    for i in 0..40i64 {
        let ts = T0 + DAY_MS + 3 * HOUR_MS + i * 12 * SECOND_MS;
        let mut event = login_from(
            ts,
            &format!("member{}@example.com", i % 30),
            LoginOutcome::BadPassword,
            &NEW_YORK,
            &format!("{}.1.2.3", 30 + i),
            "web",
        );
        if let EventBody::Login(login) = &mut event.body {
            login.asn = Some(30_000 + i as u32);
            login.user_agent = Some("python-requests/2.31.0".to_string());
        }
        events.push(event);
    }
    let findings = run(events);
    let stuffing = of_kind(&findings, FindingKind::CredentialStuffing);
    assert_eq!(stuffing.len(), 1, "{findings:#?}");
    assert_eq!(stuffing[0].source, "user_agent python-requests/2.31.0");
    assert_eq!(stuffing[0].ips.len(), 40);
    assert_eq!(stuffing[0].asns.len(), 40);
}

#[test]
fn a_success_from_a_source_later_seen_attacking_is_reported_as_takeover() {
    let mut events = ordinary(10, 2);
    let start = T0 + DAY_MS + 4 * HOUR_MS;
    // The attacker's first attempt works; the failures that show it is attacking come after.
    events.push(login(
        start,
        "member3@example.com",
        LoginOutcome::Success,
        &HOSTING,
        "web",
    ));
    for i in 0..8 {
        events.push(login(
            start + (i + 1) * MINUTE_MS,
            &format!("leaked{i}@example.org"),
            LoginOutcome::UnknownAccount,
            &HOSTING,
            "web",
        ));
    }
    let findings = run(events);
    let takeover = of_kind(&findings, FindingKind::AccountTakeover);
    assert_eq!(takeover.len(), 1, "{findings:#?}");
    assert_eq!(
        takeover[0].accounts,
        vec!["member3@example.com".to_string()]
    );
    assert_eq!(takeover[0].start, Timestamp::from_millis(start));
    assert!(takeover[0].reason.contains("distinct accounts failed"));
}

#[test]
fn settings_with_an_unknown_key_are_refused_by_name() {
    let partial: SecurityConfig =
        serde_json::from_str(r#"{"brute_force": {"min_failures": 20}}"#).expect("a subset");
    assert_eq!(partial.brute_force.min_failures, 20);
    assert_eq!(
        partial.brute_force.window_minutes,
        SecurityConfig::default().brute_force.window_minutes
    );
    for (text, name) in [
        (r#"{"brute_forse": {}}"#, "brute_forse"),
        (r#"{"brute_force": {"min_failure": 3}}"#, "min_failure"),
        (
            r#"{"stuffing": {"ip": {"window_minutes": 5, "min_acounts": 2}}}"#,
            "min_acounts",
        ),
    ] {
        let error = serde_json::from_str::<SecurityConfig>(text)
            .expect_err(text)
            .to_string();
        assert!(error.contains(name), "{text}: {error}");
    }
}
