//! `CatalogStore` on both backends: erasing a member leaves no trace of them in any table
//! (on SQLite, nor in the database file or its WAL), and leaves everyone else's data as it
//! was; deleting a title is refused while anything refers to it; the take rate counts
//! impressions and the plays that cite them.

mod common;

use common::{
    Backend, CatalogTestStore, TestLocation, at, full_member, mentions, movie, quarantined,
};
use showrunner_model::event::Thumbs;
use showrunner_model::{
    Batch, Event, EventBody, EventKind, Impression, Login, LoginOutcome, Play, PlayAction,
    ProblemKind, Qoe, Rating, RatingValue, Search, Title, TitleKind,
};
use showrunner_store::{
    EventFilter, ExperimentArm, NewExperiment, QuarantineFilter, RowTakeRate, TakeRateFilter,
    TitleDeletion, ViewFilter,
};

const ERASED: &str = "zq-erase-me";
const KEPT: &str = "keep-me";

fn play(member: &str, title: &str, session: &str, seconds: i64, request: Option<&str>) -> Event {
    Event::with_derived_id(
        at(seconds),
        EventBody::Play(Play {
            member_id: member.into(),
            profile_id: Some(format!("{member}-p1")),
            title_id: title.into(),
            session_id: session.into(),
            action: PlayAction::Stop,
            position_s: 600,
            watched_s: 600,
            device: Some("tv".into()),
            country: Some("GB".into()),
            request_id: request.map(str::to_owned),
        }),
    )
}

fn impression(member: &str, title: &str, row: &str, request: &str, seconds: i64) -> Event {
    Event::with_derived_id(
        at(seconds),
        EventBody::Impression(Impression {
            member_id: member.into(),
            profile_id: Some(format!("{member}-p1")),
            title_id: title.into(),
            row: row.into(),
            rank: 1,
            request_id: request.into(),
            device: Some("tv".into()),
        }),
    )
}

/// One event of every kind naming `member` (logins by their email).
fn member_events(member: &str) -> Vec<Event> {
    let email = format!("{member}@example.com");
    vec![
        play(member, "t1", &format!("{member}-s1"), 10, Some("rq-1")),
        play(member, "t2", &format!("{member}-s2"), 20, None),
        Event::with_derived_id(
            at(30),
            EventBody::Rating(Rating {
                member_id: member.into(),
                profile_id: Some(format!("{member}-p2")),
                title_id: "t1".into(),
                value: RatingValue::Thumbs(Thumbs::Up),
            }),
        ),
        impression(member, "t1", "top_picks", "rq-1", 5),
        Event::with_derived_id(
            at(40),
            EventBody::Search(Search {
                member_id: member.into(),
                profile_id: Some(format!("{member}-p1")),
                query: "quiet".into(),
                clicked_title_id: Some("t2".into()),
                request_id: None,
            }),
        ),
        Event::with_derived_id(
            at(50),
            EventBody::Qoe(Qoe {
                session_id: format!("{member}-s1"),
                member_id: Some(member.into()),
                title_id: Some("t1".into()),
                startup_ms: Some(900),
                exit_before_start: false,
                rebuffer_count: 0,
                rebuffer_ms: 0,
                watch_s: 600,
                avg_bitrate_kbps: 4000,
                bitrate_switches: 1,
                error_code: None,
                cdn: "cdn-a".into(),
                isp: None,
                asn: None,
                country: "GB".into(),
                device: "tv".into(),
                player: "web/1".into(),
            }),
        ),
        Event::with_derived_id(
            at(60),
            EventBody::Login(Login {
                account: email,
                outcome: LoginOutcome::Success,
                ip: "198.51.100.7".into(),
                country: Some("GB".into()),
                city: None,
                latitude: None,
                longitude: None,
                asn: None,
                device: None,
                user_agent: None,
            }),
        ),
        Event::with_derived_id(
            at(70),
            EventBody::Login(Login {
                account: member.into(),
                outcome: LoginOutcome::BadPassword,
                ip: "198.51.100.8".into(),
                country: None,
                city: None,
                latitude: None,
                longitude: None,
                asn: None,
                device: None,
                user_agent: None,
            }),
        ),
    ]
}

fn platform(location: &TestLocation) -> Box<dyn CatalogTestStore> {
    let mut store = location.catalog();
    let mut batch = Batch {
        titles: vec![movie("t1", Some(1200)), movie("t2", Some(1200))],
        members: vec![full_member(ERASED), full_member(KEPT)],
        ..Batch::default()
    };
    batch.events.extend(member_events(ERASED));
    batch.events.extend(member_events(KEPT));
    batch.quarantined = vec![
        quarantined(
            "events.jsonl",
            7,
            &format!(r#"{{"type":"play","member_id":"{ERASED}","title_id":"nope"}}"#),
            ProblemKind::UnknownTitle,
        ),
        quarantined(
            "logins.csv",
            3,
            &format!("login,{ERASED}@EXAMPLE.com,bogus-ip"),
            ProblemKind::InvalidIp,
        ),
        quarantined(
            "events.jsonl",
            8,
            &format!(r#"{{"type":"play","member_id":"{KEPT}","title_id":"nope"}}"#),
            ProblemKind::UnknownTitle,
        ),
    ];
    store.write_batch(&batch).expect("writes");
    store.refresh_derived().expect("derives");
    // Both members were served in an A/B test.
    let arm = |name: &str, version: i64| ExperimentArm {
        name: name.to_owned(),
        model_version: version,
        weight: 1,
    };
    let experiment = store
        .create_experiment(&NewExperiment {
            name: "rows".to_owned(),
            arms: vec![arm("a", 1), arm("b", 2)],
            salt: "00".repeat(16),
            created_at: at(0),
            created_by: "test".to_owned(),
        })
        .expect("creates the experiment");
    let assignments = [ERASED, KEPT].map(|member| (member.to_owned(), "a".to_owned()));
    store
        .record_assignments(experiment, &assignments, at(1))
        .expect("records assignments");
    store
}

fn kept_state(
    store: &dyn CatalogTestStore,
) -> (Option<showrunner_model::Member>, usize, Vec<usize>, usize) {
    let member = store.member(KEPT).unwrap();
    let views = store
        .views(&ViewFilter {
            member_id: Some(KEPT.into()),
            ..ViewFilter::default()
        })
        .unwrap()
        .len();
    let events = [
        EventKind::Play,
        EventKind::Rating,
        EventKind::Impression,
        EventKind::Search,
        EventKind::Qoe,
        EventKind::Login,
    ]
    .into_iter()
    .map(|kind| {
        store
            .events(&EventFilter::all(kind))
            .unwrap()
            .into_iter()
            .filter(|e| format!("{:?}", e.body).contains(KEPT))
            .count()
    })
    .collect();
    let quarantined = store
        .quarantine(&QuarantineFilter::default())
        .unwrap()
        .into_iter()
        .filter(|q| q.raw.contains(KEPT))
        .count();
    (member, views, events, quarantined)
}

fn erasure_leaves_no_trace_of_the_member_and_keeps_everyone_else(backend: Backend) {
    let location = backend.location();
    let mut store = platform(&location);
    assert!(
        !mentions(&location, ERASED).is_empty(),
        "the fixture names the member"
    );
    let before = kept_state(store.as_ref());
    assert_eq!(before.1, 2);
    assert_eq!(
        before.2,
        vec![2, 1, 1, 1, 1, 2],
        "the other member's events"
    );

    let erasure = store.erase_member(ERASED).expect("erases").expect("found");
    assert_eq!(erasure.members, 1);
    assert_eq!(erasure.plays, 2);
    assert_eq!(erasure.views, 2);
    assert_eq!(erasure.ratings, 1);
    assert_eq!(erasure.impressions, 1);
    assert_eq!(erasure.searches, 1);
    assert_eq!(erasure.qoe, 1);
    assert_eq!(erasure.logins, 2, "by email (any case) and by id");
    assert_eq!(erasure.quarantined, 2);
    assert_eq!(erasure.experiment_assignments, 1);
    // The member id and their two profile ids in SQLite's dictionary; PostgreSQL keeps
    // texts in the rows, which are gone.
    let identifiers = match backend {
        Backend::Sqlite => 3,
        Backend::Postgres => 0,
    };
    assert_eq!(erasure.identifiers, identifiers);

    assert_eq!(mentions(&location, ERASED), Vec::<(String, String)>::new());
    assert_eq!(kept_state(store.as_ref()), before);
    assert!(store.member(ERASED).unwrap().is_none());

    // Nor do the bytes of SQLite's file or its WAL hold it (freed pages are zeroed and the
    // WAL truncated).
    let path = std::path::PathBuf::from(location.location());
    let files = match backend {
        Backend::Sqlite => vec![path.clone(), path.with_extension("db-wal")],
        Backend::Postgres => vec![],
    };
    for file in files {
        if let Ok(bytes) = std::fs::read(&file) {
            let text = String::from_utf8_lossy(&bytes).to_lowercase();
            assert!(
                !text.contains(ERASED),
                "{} holds the member",
                file.display()
            );
        }
    }

    // Erasing again finds nothing; the same id can come back as a new member afterwards.
    assert_eq!(store.erase_member(ERASED).unwrap(), None);
    let again = Batch {
        members: vec![full_member(ERASED)],
        events: vec![play(ERASED, "t1", "later", 500, None)],
        ..Batch::default()
    };
    store.write_batch(&again).unwrap();
    let events = store.events(&EventFilter::all(EventKind::Play)).unwrap();
    assert!(events.iter().any(|e| match &e.body {
        EventBody::Play(p) => p.member_id == ERASED && p.session_id == "later",
        _ => false,
    }));
    assert_eq!(kept_state(store.as_ref()), before);
}

fn deleting_a_title_is_refused_while_anything_refers_to_it(backend: Backend) {
    let location = backend.location();
    let mut store = platform(&location);
    let series = Title::new("s9", TitleKind::Series, "Series Nine");
    let episode = Title {
        series_id: Some("s9".into()),
        duration_s: Some(1800),
        ..Title::new("s9-e1", TitleKind::Episode, "Episode One")
    };
    store
        .write_batch(&Batch {
            titles: vec![series, episode, movie("t-unused", Some(100))],
            ..Batch::default()
        })
        .unwrap();
    match store.delete_title("t1").unwrap() {
        TitleDeletion::InUse {
            parts,
            referenced_by,
        } => {
            assert_eq!(parts, 0);
            for table in ["views", "plays", "ratings", "impressions", "qoe"] {
                assert!(
                    referenced_by.contains(&table.to_owned()),
                    "{referenced_by:?}"
                );
            }
        }
        other => panic!("deleted a watched title: {other:?}"),
    }
    assert_eq!(
        store.delete_title("s9").unwrap(),
        TitleDeletion::InUse {
            parts: 1,
            referenced_by: vec![]
        }
    );
    assert_eq!(
        store.delete_title("t-unused").unwrap(),
        TitleDeletion::Deleted
    );
    assert!(store.title("t-unused").unwrap().is_none());
    assert_eq!(
        store.delete_title("t-unused").unwrap(),
        TitleDeletion::NotFound
    );
    assert!(store.title("t1").unwrap().is_some());
    // An episode with no events goes, and then its series can.
    assert_eq!(store.delete_title("s9-e1").unwrap(), TitleDeletion::Deleted);
    assert_eq!(store.delete_title("s9").unwrap(), TitleDeletion::Deleted);
}

fn take_rate_counts_impressions_and_the_plays_citing_them(backend: Backend) {
    let location = backend.location();
    let mut store = location.catalog();
    let batch = Batch {
        titles: vec![
            movie("t1", Some(1200)),
            movie("t2", Some(1200)),
            movie("t3", Some(1200)),
        ],
        members: vec![full_member("a"), full_member("b")],
        events: vec![
            // Request rq-a showed a three titles in two rows; a played t1 from it (two play
            // events of one session count once) and t3 without citing it.
            impression("a", "t1", "top_picks", "rq-a", 0),
            impression("a", "t2", "top_picks", "rq-a", 0),
            impression("a", "t3", "because_you_watched:t9", "rq-a", 0),
            play("a", "t1", "a-1", 60, Some("rq-a")),
            Event::with_derived_id(
                at(120),
                EventBody::Play(Play {
                    action: PlayAction::Heartbeat,
                    position_s: 60,
                    watched_s: 60,
                    ..match play("a", "t1", "a-1", 120, Some("rq-a")).body {
                        EventBody::Play(p) => p,
                        _ => unreachable!(),
                    }
                }),
            ),
            play("a", "t3", "a-2", 60, None),
            // b was shown t2 in rq-b and played it citing rq-b; b also cites rq-a (not
            // shown to b: not counted) and plays t1 citing rq-b (not shown in rq-b).
            impression("b", "t2", "because_you_watched:t7", "rq-b", 10),
            play("b", "t2", "b-1", 70, Some("rq-b")),
            play("b", "t1", "b-2", 80, Some("rq-a")),
            play("b", "t3", "b-3", 90, Some("rq-b")),
            // An impression outside the range.
            impression("b", "t1", "top_picks", "rq-c", 86_400 * 3),
        ],
        ..Batch::default()
    };
    store.write_batch(&batch).unwrap();
    let filter = |row: Option<&str>| TakeRateFilter {
        from: at(0),
        to: at(86_400),
        row: row.map(str::to_owned),
    };
    let row = |row: &str, impressions, plays| RowTakeRate {
        row: row.into(),
        impressions,
        plays,
    };
    assert_eq!(
        store.take_rate(&filter(None)).unwrap(),
        vec![
            row("because_you_watched:t7", 1, 1),
            row("because_you_watched:t9", 1, 0),
            row("top_picks", 2, 1),
        ]
    );
    assert_eq!(
        store
            .take_rate(&filter(Some("because_you_watched")))
            .unwrap(),
        vec![
            row("because_you_watched:t7", 1, 1),
            row("because_you_watched:t9", 1, 0),
        ]
    );
    assert_eq!(
        store.take_rate(&filter(Some("top_picks"))).unwrap(),
        vec![row("top_picks", 2, 1)]
    );
    assert_eq!(store.take_rate(&filter(Some("because"))).unwrap(), vec![]);
}

backend_tests!(
    erasure_leaves_no_trace_of_the_member_and_keeps_everyone_else,
    deleting_a_title_is_refused_while_anything_refers_to_it,
    take_rate_counts_impressions_and_the_plays_citing_them,
);
