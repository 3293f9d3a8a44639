//! The cleaner's verdict on single JSON lines: every bad-input kind, and the normalisations.

mod common;

use showrunner_ingest::{Cleaner, KnownEntities};
use showrunner_model::{EventBody, ProblemKind, Record};

/// What a line should come out as: accepted (as a record of this type), or rejected with
/// this problem on this field.
#[derive(Debug, PartialEq)]
enum Expect {
    Accepted(&'static str),
    Rejected(ProblemKind, Option<&'static str>),
}
use Expect::{Accepted, Rejected};

fn verdict(result: &Result<Record, showrunner_model::Problem>) -> Expect {
    match result {
        Ok(Record::Title(_)) => Accepted("title"),
        Ok(Record::Member(_)) => Accepted("member"),
        Ok(Record::Event(event)) => Accepted(event.kind().as_str()),
        Err(problem) => Rejected(
            problem.kind,
            problem
                .field
                .as_deref()
                .map(|field| &*Box::leak(field.to_owned().into_boxed_str())),
        ),
    }
}

fn cleaner() -> Cleaner {
    Cleaner::new(common::rules(), common::known())
}

fn check(line: &str, expected: Expect) {
    let result = cleaner().clean_json(line.as_bytes());
    assert_eq!(verdict(&result), expected, "line {line} gave {result:?}");
}

const PLAY: &str = r#"{"type":"play","ts":"2026-10-01T20:15:03Z","member_id":"m1","profile_id":"m1-p1","title_id":"t1","session_id":"s1","action":"heartbeat","position_s":600,"watched_s":598,"device":"tv","country":"US"}"#;

fn play_with(field: &str, value: &str) -> String {
    let mut object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(PLAY).expect("fixture is JSON");
    if value == "<absent>" {
        object.remove(field);
    } else {
        object.insert(
            field.to_owned(),
            serde_json::from_str(value).expect("value is JSON"),
        );
    }
    serde_json::to_string(&object).expect("serialise")
}

#[test]
fn accepts_every_event_kind() {
    check(PLAY, Accepted("play"));
    check(
        r#"{"type":"rating","ts":"2026-10-01T20:15:03Z","member_id":"m1","title_id":"t1","stars":4.5}"#,
        Accepted("rating"),
    );
    check(
        r#"{"type":"rating","ts":"2026-10-01T20:15:03Z","member_id":"m1","title_id":"s1","thumbs":"up"}"#,
        Accepted("rating"),
    );
    check(
        r#"{"type":"impression","ts":"2026-10-01T20:15:03Z","member_id":"m1","title_id":"t2","row":"top_picks","rank":3,"request_id":"r1"}"#,
        Accepted("impression"),
    );
    check(
        r#"{"type":"login","ts":"2026-10-01T20:15:03Z","account":"a@example.com","outcome":"bad_password","ip":"2001:db8::1","country":"de"}"#,
        Accepted("login"),
    );
    check(
        r#"{"type":"qoe","ts":"2026-10-01T20:15:03Z","session_id":"s1","member_id":"m1","title_id":"t1","startup_ms":900,"rebuffer_count":1,"rebuffer_ms":1200,"watch_s":1800,"avg_bitrate_kbps":4500,"bitrate_switches":2,"cdn":"cdn-a","country":"FR","device":"tv","player":"web/5.12.0"}"#,
        Accepted("qoe"),
    );
    check(
        r#"{"type":"search","ts":"2026-10-01T20:15:03Z","member_id":"m2","query":"space opera","clicked_title_id":"t2"}"#,
        Accepted("search"),
    );
    check(
        r#"{"type":"title","id":"t9","kind":"episode","name":" Pilot ","series_id":"s1","duration_s":2700,"countries":["us","United Kingdom"]}"#,
        Accepted("title"),
    );
    check(
        r#"{"type":"member","id":"m9","country":"gb","profiles":[{"id":"m9-p1","maturity":"kids"}]}"#,
        Accepted("member"),
    );
}

#[test]
fn rejects_broken_lines() {
    check(
        r#"{"type":"play","ts":"2026-10-01T20:15:03Z","member_id":"m1","ti"#,
        Rejected(ProblemKind::Truncated, None),
    );
    check("this is not json", Rejected(ProblemKind::Malformed, None));
    check("[1,2,3]", Rejected(ProblemKind::Malformed, None));
    check(
        r#"{"type":"play"} trailing"#,
        Rejected(ProblemKind::Malformed, None),
    );
    check(
        &play_with("ts", r#""2026-10-01T20:15:03Z""#).replacen(
            '{',
            r#"{"ts":"2026-10-01T20:15:03Z","#,
            1,
        ),
        Rejected(ProblemKind::Malformed, None),
    );
    let mut invalid_utf8 = PLAY.as_bytes().to_vec();
    invalid_utf8[60] = 0xff;
    let result = cleaner().clean_json(&invalid_utf8);
    assert_eq!(verdict(&result), Rejected(ProblemKind::InvalidUtf8, None));
    let long_line = format!(
        r#"{{"type":"search","query":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    check(&long_line, Rejected(ProblemKind::LineTooLong, None));
}

#[test]
fn rejects_missing_and_mistyped_fields() {
    check(
        &play_with("type", "<absent>"),
        Rejected(ProblemKind::MissingField, Some("type")),
    );
    check(
        &play_with("type", r#""teleport""#),
        Rejected(ProblemKind::UnknownType, Some("type")),
    );
    check(
        &play_with("session_id", "<absent>"),
        Rejected(ProblemKind::MissingField, Some("session_id")),
    );
    check(
        &play_with("ts", "<absent>"),
        Rejected(ProblemKind::MissingField, Some("ts")),
    );
    check(
        &play_with("position_s", r#""abc""#),
        Rejected(ProblemKind::WrongType, Some("position_s")),
    );
    check(
        &play_with("position_s", "true"),
        Rejected(ProblemKind::WrongType, Some("position_s")),
    );
    check(
        &play_with("position_s", "12.5"),
        Rejected(ProblemKind::WrongType, Some("position_s")),
    );
    check(
        &play_with("member_id", "5"),
        Rejected(ProblemKind::WrongType, Some("member_id")),
    );
    check(
        &play_with("device", "{}"),
        Rejected(ProblemKind::WrongType, Some("device")),
    );
    // Numbers as strings (as CSV sends them) are read as numbers.
    check(&play_with("position_s", r#""600""#), Accepted("play"));
    check(
        &play_with("action", r#""rewind""#),
        Rejected(ProblemKind::InvalidValue, Some("action")),
    );
}

#[test]
fn rejects_bad_values() {
    check(
        &play_with("position_s", "-5"),
        Rejected(ProblemKind::NegativeValue, Some("position_s")),
    );
    check(
        &play_with("watched_s", r#""-1""#),
        Rejected(ProblemKind::NegativeValue, Some("watched_s")),
    );
    check(
        &play_with("watched_s", "90000"),
        Rejected(ProblemKind::ImpossibleValue, Some("watched_s")),
    );
    check(
        &play_with("watched_s", "5000000000"),
        Rejected(ProblemKind::ImpossibleValue, Some("watched_s")),
    );
    check(
        &play_with("member_id", &format!(r#""{}""#, "m".repeat(129))),
        Rejected(ProblemKind::FieldTooLong, Some("member_id")),
    );
    check(
        &play_with("device", &format!(r#""{}""#, "d".repeat(257))),
        Rejected(ProblemKind::FieldTooLong, Some("device")),
    );
    check(
        &play_with("country", r#""XX""#),
        Rejected(ProblemKind::InvalidCountry, Some("country")),
    );
    check(
        &play_with("country", r#""Atlantis""#),
        Rejected(ProblemKind::InvalidCountry, Some("country")),
    );
    check(
        r#"{"type":"qoe","ts":"2026-10-01T20:15:03Z","session_id":"s1","startup_ms":700000,"rebuffer_count":1,"rebuffer_ms":1,"watch_s":10,"avg_bitrate_kbps":4500,"bitrate_switches":0,"cdn":"a","country":"FR","device":"tv","player":"p"}"#,
        Rejected(ProblemKind::ImpossibleValue, Some("startup_ms")),
    );
    check(
        r#"{"type":"qoe","ts":"2026-10-01T20:15:03Z","session_id":"s1","rebuffer_count":1,"rebuffer_ms":4000000,"watch_s":10,"avg_bitrate_kbps":4500,"bitrate_switches":0,"cdn":"a","country":"FR","device":"tv","player":"p"}"#,
        Rejected(ProblemKind::ImpossibleValue, Some("rebuffer_ms")),
    );
    check(
        r#"{"type":"login","ts":"2026-10-01T20:15:03Z","account":"a","outcome":"success","ip":"300.1.2.3"}"#,
        Rejected(ProblemKind::InvalidIp, Some("ip")),
    );
    check(
        r#"{"type":"login","ts":"2026-10-01T20:15:03Z","account":"a","outcome":"hacked","ip":"1.2.3.4"}"#,
        Rejected(ProblemKind::InvalidValue, Some("outcome")),
    );
    for stars in ["7", "0", "4.3", "-1"] {
        check(
            &format!(
                r#"{{"type":"rating","ts":"2026-10-01T20:15:03Z","member_id":"m1","title_id":"t1","stars":{stars}}}"#
            ),
            Rejected(ProblemKind::InvalidValue, Some("stars")),
        );
    }
    check(
        r#"{"type":"rating","ts":"2026-10-01T20:15:03Z","member_id":"m1","title_id":"t1","thumbs":"sideways"}"#,
        Rejected(ProblemKind::InvalidValue, Some("thumbs")),
    );
}

#[test]
fn checks_timestamps() {
    check(
        &play_with("ts", r#""2026-10-16T11:00:00Z""#),
        Accepted("play"),
    ); // within a day of skew
    check(
        &play_with("ts", r#""2026-10-17T12:00:00Z""#),
        Rejected(ProblemKind::FutureTimestamp, Some("ts")),
    );
    check(
        &play_with("ts", r#""1989-12-31T23:59:59Z""#),
        Rejected(ProblemKind::BadTimestamp, Some("ts")),
    );
    check(
        &play_with("ts", r#""yesterday""#),
        Rejected(ProblemKind::BadTimestamp, Some("ts")),
    );
    check(
        &play_with("ts", r#""2026-02-30T00:00:00Z""#),
        Rejected(ProblemKind::BadTimestamp, Some("ts")),
    );
    check(
        &play_with("ts", "0"),
        Rejected(ProblemKind::BadTimestamp, Some("ts")),
    );
    check(&play_with("ts", "1790000000"), Accepted("play"));
    check(&play_with("ts", "1790000000123"), Accepted("play"));
    check(
        &play_with("ts", r#""2026-10-01 22:15:03+02:00""#),
        Accepted("play"),
    );
}

#[test]
fn checks_references_and_lengths() {
    check(
        &play_with("title_id", r#""t404""#),
        Rejected(ProblemKind::UnknownTitle, Some("title_id")),
    );
    check(
        &play_with("member_id", r#""m404""#),
        Rejected(ProblemKind::UnknownMember, Some("member_id")),
    );
    check(
        &play_with("title_id", r#""s1""#),
        Rejected(ProblemKind::InvalidValue, Some("title_id")),
    );
    // t1 runs 7200 s: the playhead may overshoot by 60 s, watched time may reach 3x + 600 s.
    check(&play_with("position_s", "7260"), Accepted("play"));
    check(
        &play_with("position_s", "7261"),
        Rejected(ProblemKind::WatchedBeyondLength, Some("position_s")),
    );
    check(&play_with("watched_s", "22200"), Accepted("play"));
    check(
        &play_with("watched_s", "22201"),
        Rejected(ProblemKind::WatchedBeyondLength, Some("watched_s")),
    );
    // t2 has no known length: only the 24 h session bound applies.
    check(
        &play_with("title_id", r#""t2""#).replace("\"position_s\":600", "\"position_s\":50000"),
        Accepted("play"),
    );
}

fn clean_play(line: &str) -> showrunner_model::Event {
    match cleaner().clean_json(line.as_bytes()) {
        Ok(Record::Event(event)) => event,
        other => panic!("expected an event from {line}, got {other:?}"),
    }
}

#[test]
fn normalises_and_derives_stable_ids() {
    let canonical = clean_play(PLAY);
    assert_eq!(canonical.id.len(), 32);
    for (field, value) in [
        ("country", r#""us""#),
        ("country", r#""USA""#),
        ("country", r#"" United States ""#),
        ("ts", r#""2026-10-01T22:15:03+02:00""#),
        ("ts", "1790000000"),
        ("member_id", r#""  m1 ""#),
    ] {
        let event = clean_play(&play_with(field, value));
        if field == "ts" && value == "1790000000" {
            assert_ne!(
                event.id, canonical.id,
                "a different time is a different event"
            );
            continue;
        }
        assert_eq!(
            event, canonical,
            "{field}={value} normalises to the canonical event"
        );
    }
    // Empty optional strings are absent.
    let event = clean_play(&play_with("device", r#""""#));
    match &event.body {
        EventBody::Play(play) => assert_eq!(play.device, None),
        other => panic!("not a play: {other:?}"),
    }
    // A given id is kept as is.
    let event = clean_play(&play_with("id", r#""client-42""#));
    assert_eq!(event.id, "client-42");
    // Serialising the clean event gives the documented wire shape back.
    let json = serde_json::to_value(&canonical).expect("serialise");
    assert_eq!(json["country"], "US");
    assert_eq!(json["ts"], "2026-10-01T20:15:03Z");
}

#[test]
fn remembers_titles_and_members_it_lets_through() {
    let mut cleaner = Cleaner::new(common::rules(), KnownEntities::default());
    let play = PLAY.replace("\"t1\"", "\"t7\"").replace("\"m1\"", "\"m7\"");
    let before = cleaner.clean_json(play.as_bytes());
    assert_eq!(
        verdict(&before),
        Rejected(ProblemKind::UnknownMember, Some("member_id"))
    );
    let member = cleaner.clean_json(br#"{"type":"member","id":"m7","country":"us"}"#);
    match member {
        Ok(Record::Member(member)) => assert_eq!(member.country.as_deref(), Some("US")),
        other => panic!("member rejected: {other:?}"),
    }
    let title = cleaner.clean_json(
        br#"{"type":"title","id":"t7","kind":"movie","name":"Seven","duration_s":"500"}"#,
    );
    assert_eq!(verdict(&title), Accepted("title"));
    assert!(cleaner.known_title("t7").is_some());
    assert!(cleaner.knows_member("m7"));
    let after = cleaner.clean_json(play.as_bytes());
    assert_eq!(
        verdict(&after),
        Rejected(ProblemKind::WatchedBeyondLength, Some("position_s"))
    );
}

#[test]
fn keeps_titles_with_unmappable_countries() {
    let mut cleaner = cleaner();
    let result = cleaner.clean_json(
        br#"{"type":"title","id":"t8","kind":"movie","name":"Old","countries":["Soviet Union","West Germany","Germany","kr"]}"#,
    );
    match result {
        Ok(Record::Title(title)) => assert_eq!(title.countries, vec!["DE", "KR"]),
        other => panic!("title rejected: {other:?}"),
    }
    assert_eq!(cleaner.warnings().unmappable_countries_dropped, 1);
}

#[test]
fn country_names_and_codes_map_to_alpha2() {
    let cases = [
        ("US", Some("US")),
        ("us", Some("US")),
        ("USA", Some("US")),
        ("United States", Some("US")),
        ("united kingdom", Some("GB")),
        ("UK", Some("GB")),
        ("South Korea", Some("KR")),
        ("KOR", Some("KR")),
        ("Czech Republic", Some("CZ")),
        ("Vatican City", Some("VA")),
        ("Côte d'Ivoire", Some("CI")),
        ("cote divoire", Some("CI")),
        ("Türkiye", Some("TR")),
        ("Curaçao", Some("CW")),
        ("West Germany", Some("DE")),
        ("Soviet Union", None),
        ("XX", None),
        ("", None),
    ];
    for (input, expected) in cases {
        assert_eq!(
            showrunner_ingest::normalize_country(input),
            expected,
            "country {input:?}"
        );
    }
}

#[test]
fn escaped_and_plain_lines_clean_identically() {
    // An escape anywhere sends the line down the serde path instead of the flat fast path;
    // both must agree.
    let plain = clean_play(PLAY);
    let escaped = clean_play(&PLAY.replace("\"m1-p1\"", "\"m1\\u002dp1\""));
    assert_eq!(escaped, plain);
    let with_unknown_nested_field =
        clean_play(&PLAY.replace("{\"type\"", "{\"extra\":{\"a\":[1]},\"type\""));
    assert_eq!(with_unknown_nested_field, plain);
    let search = cleaner().clean_json(
        br#"{"type":"search","ts":"2026-10-01T20:15:03Z","member_id":"m1","query":"say \"hi\"\n"}"#,
    );
    match search {
        Ok(Record::Event(event)) => match event.body {
            EventBody::Search(search) => assert_eq!(search.query, "say \"hi\""),
            other => panic!("not a search: {other:?}"),
        },
        other => panic!("search rejected: {other:?}"),
    }
}
