//! Writing batches and reading them back: every field of every kind survives the round trip,
//! re-imports store nothing twice (events, views, quarantine), colliding keys both land, and
//! views do not depend on the order heartbeats arrive in.

mod common;

use std::collections::BTreeMap;

use common::{
    Backend, PlaySpec, TestStore, at, events_batch, events_of_every_kind, full_member, full_title,
    movie,
};
use showrunner_model::{
    Batch, BatchOutcome, Event, EventBody, EventKind, Member, PlayAction, ProblemKind, Timestamp,
    TitleKind,
};
use showrunner_store::{
    EventFilter, ImportLog, KnownTitle, QuarantineFilter, View, ViewFilter, event_key,
};

fn store(backend: Backend) -> TestStore {
    backend.store()
}

fn stored_events(store: &TestStore, kind: EventKind) -> Vec<Event> {
    store
        .events(&EventFilter::all(kind))
        .expect("events read back")
}

fn all_views(store: &TestStore) -> Vec<View> {
    store
        .views(&ViewFilter::default())
        .expect("views read back")
}

fn sorted_by_id(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by(|a, b| a.id.cmp(&b.id));
    events
}

fn every_field_of_every_event_kind_round_trips(backend: Backend) {
    let mut store = store(backend);
    let events = events_of_every_kind();
    let outcome = store.write_batch(&events_batch(events.clone())).unwrap();
    assert_eq!(outcome.events_accepted, events.len() as u64);
    assert_eq!(outcome.events_duplicate, 0);

    let counts = store.counts().unwrap();
    for kind in EventKind::ALL {
        let written: Vec<Event> = events
            .iter()
            .filter(|e| e.kind() == kind)
            .cloned()
            .collect();
        assert_eq!(counts.events_of(kind), written.len() as u64, "{kind:?}");
        assert_eq!(
            sorted_by_id(stored_events(&store, kind)),
            sorted_by_id(written),
            "{kind:?} read back differs"
        );
    }
}

fn plays_of_many_sessions_round_trip_in_big_batches(backend: Backend) {
    // Enough plays for the multi-row inserts, with fields that vary from row to row and
    // within a session (optional fields missing, a session changing device), some with
    // client-given ids, over two batches so that the second continues the first's views.
    let devices = [Some("tv"), None, Some("web")];
    let plays: Vec<Event> = (0..600_i64)
        .map(|n| {
            let session = n % 7;
            let event = Event::with_derived_id(
                at(n),
                EventBody::Play(showrunner_model::Play {
                    member_id: format!("m{}", session % 3),
                    profile_id: (session % 2 == 0).then(|| format!("m{}-p{}", session % 3, n % 2)),
                    title_id: format!("t{session}"),
                    session_id: format!("s{session}"),
                    action: if n % 11 == 0 {
                        PlayAction::Stop
                    } else {
                        PlayAction::Heartbeat
                    },
                    position_s: (n * 7 % 1000) as u32,
                    watched_s: n as u32,
                    device: devices[(n % 3) as usize].map(str::to_owned),
                    country: (n % 5 != 0).then(|| "SE".to_owned()),
                    request_id: (n % 4 == 0).then(|| format!("r{n}")),
                }),
            );
            if n % 9 == 0 {
                Event {
                    id: format!("client-{n}"),
                    ..event
                }
            } else {
                event
            }
        })
        .collect();
    let mut store = store(backend);
    for half in plays.chunks(300) {
        let outcome = store.write_batch(&events_batch(half.to_vec())).unwrap();
        assert_eq!(outcome.events_accepted, 300);
    }
    assert_eq!(
        sorted_by_id(stored_events(&store, EventKind::Play)),
        sorted_by_id(plays.clone())
    );
    let views = all_views(&store);
    assert_eq!(views.len(), 7);
    assert_eq!(views.iter().map(|view| view.events).sum::<u64>(), 600);
}

fn titles_and_members_round_trip_and_the_last_write_wins(backend: Backend) {
    let mut store = store(backend);
    let title = full_title();
    let member = full_member("m1");
    let batch = Batch {
        titles: vec![title.clone(), movie("t2", None)],
        members: vec![member.clone(), Member::bare("m2")],
        ..Batch::default()
    };
    let outcome = store.write_batch(&batch).unwrap();
    assert_eq!(outcome.titles_upserted, 2);
    assert_eq!(outcome.members_upserted, 2);
    assert_eq!(store.title("t-full").unwrap(), Some(title.clone()));
    assert_eq!(store.member("m1").unwrap(), Some(member));
    assert_eq!(store.member("m2").unwrap(), Some(Member::bare("m2")));
    assert_eq!(store.title("nope").unwrap(), None);

    let renamed = showrunner_model::Title {
        name: "Renamed".into(),
        duration_s: Some(60),
        ..title
    };
    let batch = Batch {
        titles: vec![renamed.clone()],
        ..Batch::default()
    };
    assert_eq!(store.write_batch(&batch).unwrap().titles_upserted, 1);
    assert_eq!(store.title("t-full").unwrap(), Some(renamed));

    let counts = store.counts().unwrap();
    assert_eq!((counts.titles, counts.members), (2, 2));
    assert_eq!(
        store.known_titles().unwrap(),
        vec![
            KnownTitle {
                id: "t-full".into(),
                kind: TitleKind::Episode,
                duration_s: Some(60),
            },
            KnownTitle {
                id: "t2".into(),
                kind: TitleKind::Movie,
                duration_s: None,
            },
        ]
    );
    assert_eq!(store.known_members().unwrap(), vec!["m1", "m2"]);
}

fn the_same_batch_twice_stores_nothing_twice(backend: Backend) {
    let mut store = store(backend);
    let viewer = PlaySpec {
        session: "s-viewer",
        member: "m1",
        title: "t1",
        device: "tv",
    };
    let mut events = viewer.session(0, 30, 0);
    events.extend(events_of_every_kind());
    let batch = Batch {
        titles: vec![movie("t1", Some(3_600))],
        events: events.clone(),
        quarantined: vec![
            common::quarantined("in.jsonl", 4, "{\"ts\":", ProblemKind::Truncated),
            common::quarantined("in.jsonl", 9, "{\"ts\":\"x\"}", ProblemKind::BadTimestamp),
        ],
        ..Batch::default()
    };

    let first = store.write_batch(&batch).unwrap();
    assert_eq!(first.events_accepted, events.len() as u64);
    assert_eq!(first.quarantined_new, 2);
    let counts_after_first = store.counts().unwrap();
    let views_after_first = all_views(&store);

    let second = store.write_batch(&batch).unwrap();
    assert_eq!(
        second,
        BatchOutcome {
            titles_upserted: 1,
            members_upserted: 0,
            events_accepted: 0,
            events_duplicate: events.len() as u64,
            quarantined_new: 0,
        }
    );
    assert_eq!(store.counts().unwrap(), counts_after_first);
    assert_eq!(all_views(&store), views_after_first);
    let session = &views_after_first
        .iter()
        .find(|view| view.session_id == "s-viewer")
        .expect("view of s-viewer");
    assert_eq!(session.watched_s, 30 * 60);
    assert_eq!(session.events, 31);
}

fn duplicates_within_one_batch_are_stored_once(backend: Backend) {
    let mut store = store(backend);
    let viewer = PlaySpec {
        session: "s1",
        member: "m1",
        title: "t1",
        device: "tv",
    };
    let events = viewer.session(0, 5, 0);
    let mut doubled = events.clone();
    doubled.extend(events.iter().rev().cloned());
    let outcome = store.write_batch(&events_batch(doubled)).unwrap();
    assert_eq!(outcome.events_accepted, 6);
    assert_eq!(outcome.events_duplicate, 6);
    assert_eq!(store.counts().unwrap().events_of(EventKind::Play), 6);
    assert_eq!(all_views(&store)[0].events, 6);
}

/// Two different event ids that get the same storage key at the same time, found by brute
/// force over short ids (31 hash bits: a pair turns up within about 100k tries).
fn colliding_ids(ts: Timestamp) -> (String, String) {
    let mut seen: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    for n in 0..1_000_000 {
        let id = format!("c{n}");
        let key = event_key(ts, &id).expect("keyable time");
        if let Some(first) = seen.insert(key, id.clone()) {
            return (first, id);
        }
    }
    panic!("no collision among a million ids");
}

fn events_whose_keys_collide_are_both_stored_exactly_once(backend: Backend) {
    let ts = at(100);
    let (first_id, second_id) = colliding_ids(ts);
    assert_eq!(event_key(ts, &first_id), event_key(ts, &second_id));
    let viewer = PlaySpec {
        session: "s1",
        member: "m1",
        title: "t1",
        device: "tv",
    };
    let with_id = |id: &str, watched_s: u32| Event {
        id: id.to_owned(),
        ..viewer.event(100, PlayAction::Heartbeat, watched_s, watched_s)
    };
    let first = with_id(&first_id, 60);
    let second = with_id(&second_id, 120);
    // Another event of the same second, written between them in one order.
    let neighbour = Event {
        id: "neighbour".into(),
        ..viewer.event(100, PlayAction::Heartbeat, 30, 30)
    };

    // Both in one batch, in either order, then again in separate batches.
    for order in [
        vec![vec![first.clone(), second.clone()]],
        vec![vec![second.clone(), first.clone()]],
        vec![vec![first.clone()], vec![second.clone()]],
        vec![vec![second.clone()], vec![neighbour.clone(), first.clone()]],
    ] {
        let mut store = store(backend);
        let mut accepted = 0;
        for events in &order {
            accepted += store
                .write_batch(&events_batch(events.clone()))
                .unwrap()
                .events_accepted;
        }
        let written: usize = order.iter().map(Vec::len).sum();
        assert_eq!(accepted, written as u64);

        let again: Vec<Event> = order.concat();
        let outcome = store.write_batch(&events_batch(again.clone())).unwrap();
        assert_eq!(outcome.events_accepted, 0, "re-import after {order:?}");
        assert_eq!(outcome.events_duplicate, again.len() as u64);
        let stored = stored_events(&store, EventKind::Play);
        assert_eq!(sorted_by_id(stored), sorted_by_id(again));
        assert_eq!(all_views(&store)[0].events, written as u64);
    }
}

fn heartbeats_out_of_order_give_the_same_view_as_in_order(backend: Backend) {
    let viewer = PlaySpec {
        session: "s1",
        member: "m1",
        title: "t1",
        device: "tv",
    };
    let events = viewer.session(1_000, 40, 300);
    let titles = vec![movie("t1", Some(4_000))];

    let mut in_order = store(backend);
    in_order
        .write_batch(&Batch {
            titles: titles.clone(),
            events: events.clone(),
            ..Batch::default()
        })
        .unwrap();

    // Reversed, interleaved across three batches, with repeats.
    let mut shuffled = store(backend);
    shuffled
        .write_batch(&Batch {
            titles,
            ..Batch::default()
        })
        .unwrap();
    let reversed: Vec<Event> = events.iter().rev().cloned().collect();
    for part in [
        reversed.iter().step_by(3).cloned().collect::<Vec<_>>(),
        reversed.iter().skip(1).step_by(3).cloned().collect(),
        reversed.iter().skip(2).step_by(3).cloned().collect(),
        reversed[10..20].to_vec(),
    ] {
        shuffled.write_batch(&events_batch(part)).unwrap();
    }

    let expected = View {
        session_id: "s1".into(),
        member_id: "m1".into(),
        profile_id: Some("m1-p1".into()),
        title_id: "t1".into(),
        device: Some("tv".into()),
        country: Some("US".into()),
        started_at: at(1_000),
        last_at: at(1_000 + 40 * 60),
        watched_s: 40 * 60,
        max_position_s: 300 + 40 * 60,
        events: 41,
        stopped: true,
        completion: Some((300.0 + 2_400.0) / 4_000.0),
        non_human: false,
    };
    assert_eq!(all_views(&in_order), vec![expected.clone()]);
    assert_eq!(all_views(&shuffled), vec![expected]);
}

fn completion_is_capped_unknown_without_a_runtime_and_refreshed_later(backend: Backend) {
    let mut store = store(backend);
    let long = PlaySpec {
        session: "long",
        member: "m1",
        title: "short-film",
        device: "tv",
    };
    let unknown = PlaySpec {
        session: "unknown",
        member: "m1",
        title: "t-later",
        device: "tv",
    };
    let mut events = long.session(0, 20, 0);
    events.extend(unknown.session(0, 10, 0));
    store
        .write_batch(&Batch {
            titles: vec![movie("short-film", Some(600))],
            events,
            ..Batch::default()
        })
        .unwrap();
    let completion = |store: &TestStore, session: &str| {
        store
            .views(&ViewFilter {
                session_id: Some(session.into()),
                ..ViewFilter::default()
            })
            .unwrap()[0]
            .completion
    };
    assert_eq!(completion(&store, "long"), Some(1.0));
    assert_eq!(completion(&store, "unknown"), None);

    store
        .write_batch(&Batch {
            titles: vec![movie("t-later", Some(1_200))],
            ..Batch::default()
        })
        .unwrap();
    store.refresh_derived().unwrap();
    assert_eq!(completion(&store, "unknown"), Some(0.5));
}

fn more_than_twenty_hours_a_day_on_one_device_is_flagged_non_human(backend: Backend) {
    let mut store = store(backend);
    let mut events = Vec::new();
    // m-bot: three 7-hour sessions on one TV in one UTC day (21 h): flagged.
    // m-binge: the same on three devices (7 h each): not flagged.
    // m-late: 12 h one day and 12 h the next on one device: not flagged.
    let seven_hours = 7 * 60;
    for (index, start) in [0_i64, 7 * 3_600, 14 * 3_600].into_iter().enumerate() {
        let session = format!("bot-{index}");
        let spec = PlaySpec {
            session: &session,
            member: "m-bot",
            title: "t1",
            device: "tv",
        };
        events.extend(spec.session(start, seven_hours, 0));
        let session = format!("binge-{index}");
        let device = ["tv", "web", "ios"][index];
        let spec = PlaySpec {
            session: &session,
            member: "m-binge",
            title: "t1",
            device,
        };
        events.extend(spec.session(start, seven_hours, 0));
    }
    for (session, start) in [("late-1", 11 * 3_600), ("late-2", 24 * 3_600)] {
        let spec = PlaySpec {
            session,
            member: "m-late",
            title: "t1",
            device: "tv",
        };
        events.extend(spec.session(start, 12 * 60, 0));
    }
    store.write_batch(&events_batch(events)).unwrap();
    let summary = store.refresh_derived().unwrap();
    assert_eq!(summary.views, 8);
    assert_eq!(summary.non_human_views, 3);

    let flagged = store
        .views(&ViewFilter {
            non_human: Some(true),
            ..ViewFilter::default()
        })
        .unwrap();
    let flagged_sessions: Vec<&str> = flagged.iter().map(|v| v.session_id.as_str()).collect();
    assert_eq!(flagged_sessions, vec!["bot-0", "bot-1", "bot-2"]);
    assert_eq!(store.counts().unwrap().non_human_views, 3);
    // Refreshing again changes nothing.
    assert_eq!(store.refresh_derived().unwrap(), summary);
}

fn views_and_events_can_be_filtered(backend: Backend) {
    let mut store = store(backend);
    let mut events = Vec::new();
    for (session, member, start) in [("a", "m1", 0), ("b", "m2", 600), ("c", "m1", 1_200)] {
        let spec = PlaySpec {
            session,
            member,
            title: "t1",
            device: "tv",
        };
        events.extend(spec.session(start, 5, 0));
    }
    store.write_batch(&events_batch(events)).unwrap();
    let sessions = |filter: ViewFilter| -> Vec<String> {
        store
            .views(&filter)
            .unwrap()
            .into_iter()
            .map(|view| view.session_id)
            .collect()
    };
    assert_eq!(
        sessions(ViewFilter {
            member_id: Some("m1".into()),
            ..ViewFilter::default()
        }),
        vec!["a", "c"]
    );
    assert_eq!(
        sessions(ViewFilter {
            limit: Some(2),
            ..ViewFilter::default()
        }),
        vec!["a", "b"]
    );

    let between = store
        .events(&EventFilter {
            kind: EventKind::Play,
            from: Some(at(600)),
            until: Some(at(900)),
            limit: None,
        })
        .unwrap();
    // Session b runs from 600 to 900 s; its stop at 900 s is excluded.
    assert_eq!(between.len(), 5);
    assert!(between.iter().all(|event| match &event.body {
        EventBody::Play(play) => play.session_id == "b",
        _ => false,
    }));
    assert!(between.windows(2).all(|pair| pair[0].ts <= pair[1].ts));
}

fn quarantine_is_not_duplicated_and_can_be_filtered_counted_and_paged(backend: Backend) {
    let mut store = store(backend);
    let rows = vec![
        common::quarantined("data/a.jsonl", 1, "{", ProblemKind::Truncated),
        common::quarantined("data/a.jsonl", 2, "{\"ts\":1}", ProblemKind::MissingField),
        common::quarantined("data/b.csv", 1, "x,y", ProblemKind::MissingField),
        // Same source and line but different bytes (the file changed): a new row.
        common::quarantined("data/a.jsonl", 1, "{\"", ProblemKind::Truncated),
    ];
    let batch = Batch {
        quarantined: rows.clone(),
        ..Batch::default()
    };
    assert_eq!(store.write_batch(&batch).unwrap().quarantined_new, 4);
    assert_eq!(store.write_batch(&batch).unwrap().quarantined_new, 0);
    assert_eq!(store.counts().unwrap().quarantined, 4);
    assert_eq!(
        store.quarantine_counts().unwrap(),
        vec![(ProblemKind::Truncated, 2), (ProblemKind::MissingField, 2)]
    );

    let all = store.quarantine(&QuarantineFilter::default()).unwrap();
    let read_back: Vec<_> = all
        .iter()
        .cloned()
        .map(|row| row.into_quarantined())
        .collect();
    assert_eq!(read_back, rows);

    let from_a = store
        .quarantine(&QuarantineFilter {
            source_contains: Some("a.json".into()),
            reason: Some(ProblemKind::MissingField),
            ..QuarantineFilter::default()
        })
        .unwrap();
    assert_eq!(from_a.len(), 1);
    assert_eq!(from_a[0].line, 2);

    // Paging visits every row once.
    let mut paged = Vec::new();
    loop {
        let page = store
            .quarantine(&QuarantineFilter {
                limit: Some(3),
                offset: paged.len() as u64,
                ..QuarantineFilter::default()
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(
        all[1].reason_text(),
        "missing_field (ts): bad value on line 2"
    );
    let second_page = store
        .quarantine(&QuarantineFilter {
            limit: Some(3),
            offset: 3,
            ..QuarantineFilter::default()
        })
        .unwrap();
    assert_eq!(second_page, all[3..]);
}

fn imports_are_recorded(backend: Backend) {
    let mut store = store(backend);
    let log = ImportLog {
        sources: vec!["a.jsonl".into(), "b.csv".into()],
        started_at: at(0),
        finished_at: at(42),
        counts: serde_json::json!({"lines": 10, "accepted": 8, "quarantined": {"truncated": 2}}),
        interrupted: true,
    };
    store.record_import(&log).unwrap();
    let imports = store.imports().unwrap();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].log, log);
}

fn an_event_time_outside_the_keyable_range_is_refused_with_its_id(backend: Backend) {
    let mut store = store(backend);
    let mut event = events_of_every_kind().remove(0);
    event.ts = Timestamp::from_millis(-1_000);
    let error = store
        .write_batch(&events_batch(vec![event.clone()]))
        .unwrap_err();
    assert!(error.to_string().contains(&event.id), "{error}");
    assert_eq!(store.counts().unwrap().events_total(), 0);
}

/// A copy of `event` at a time no key can hold: writing it fails its batch.
fn unkeyable(event: &Event) -> Event {
    let mut bad = event.clone();
    bad.id = "bad".into();
    bad.ts = Timestamp::from_millis(i64::MAX);
    bad
}

/// Every one of `written` is stored exactly as written.
fn assert_stored_as_written(store: &TestStore, written: &[Event]) {
    for kind in EventKind::ALL {
        let wanted: Vec<Event> = written
            .iter()
            .filter(|e| e.kind() == kind)
            .cloned()
            .collect();
        let stored: Vec<Event> = stored_events(store, kind)
            .into_iter()
            .filter(|e| wanted.iter().any(|w| w.id == e.id))
            .collect();
        assert_eq!(sorted_by_id(stored), sorted_by_id(wanted), "{kind:?}");
    }
}

fn a_batch_that_fails_leaves_nothing_behind(backend: Backend) {
    let mut store = store(backend);
    let mut events = events_of_every_kind();
    events.push(unkeyable(&events[0]));
    let batch = Batch {
        titles: vec![movie("t1", None)],
        events,
        quarantined: vec![common::quarantined("x", 1, "y", ProblemKind::Malformed)],
        ..Batch::default()
    };
    assert!(store.write_batch(&batch).is_err());
    let counts = store.counts().unwrap();
    assert_eq!(
        (
            counts.titles,
            counts.events_total(),
            counts.views,
            counts.quarantined
        ),
        (0, 0, 0, 0)
    );
}

fn a_batch_after_a_failed_one_stores_its_texts_correctly(backend: Backend) {
    // The failed batch met new members, titles, devices and sessions first; nothing it
    // learnt about them may outlive its rollback.
    let mut store = store(backend);
    let events = events_of_every_kind();
    let mut failing = events.clone();
    failing.push(unkeyable(&events[0]));
    assert!(store.write_batch(&events_batch(failing)).is_err());

    store.write_batch(&events_batch(events.clone())).unwrap();
    assert_eq!(store.counts().unwrap().events_total(), events.len() as u64);
    assert_stored_as_written(&store, &events);
    assert_eq!(
        all_views(&store).len(),
        store.counts().unwrap().views as usize
    );
}

/// `write_batches`: one group, each batch told its own counts as if written in turn; a
/// group with a failing batch stores nothing of any batch, and the next group is whole.
fn batches_written_as_a_group_count_alone_and_fail_together(backend: Backend) {
    let mut store = store(backend);
    // Start, three heartbeats, stop.
    let all = PlaySpec {
        session: "s1",
        member: "m1",
        title: "t1",
        device: "tv",
    }
    .session(0, 4, 0);
    assert_eq!(all.len(), 5);
    let (first, rest) = all.split_at(2);
    // The second batch repeats the first's last play; the third repeats all of the second.
    let mut second = vec![first[1].clone()];
    second.extend_from_slice(&rest[..2]);
    let third = second.clone();
    let outcomes = store
        .write_batches(&[
            events_batch(first.to_vec()),
            events_batch(second),
            events_batch(third),
        ])
        .unwrap();
    let counts: Vec<(u64, u64)> = outcomes
        .iter()
        .map(|o| (o.events_accepted, o.events_duplicate))
        .collect();
    assert_eq!(counts, vec![(2, 0), (2, 1), (0, 3)]);
    assert_eq!(store.counts().unwrap().events_total(), 4);
    assert_eq!(all_views(&store).len(), 1);
    assert_eq!(all_views(&store)[0].events, 4);

    // A group whose last batch cannot be stored: the new play of its first batch is not
    // stored either.
    let bad = unkeyable(&all[4]);
    let before = store.counts().unwrap();
    let new_member = events_of_every_kind();
    assert!(
        store
            .write_batches(&[
                events_batch(vec![all[4].clone()]),
                events_batch(new_member.clone()),
                events_batch(vec![bad]),
            ])
            .is_err()
    );
    let after = store.counts().unwrap();
    assert_eq!(
        (after.events_total(), after.views),
        (before.events_total(), before.views)
    );
    assert_eq!(
        all_views(&store)[0].events,
        4,
        "the rolled-back play is not folded"
    );

    // The texts the failed group met are not remembered from it.
    let outcomes = store
        .write_batches(&[
            events_batch(vec![all[4].clone()]),
            events_batch(new_member.clone()),
        ])
        .unwrap();
    assert_eq!(outcomes[0].events_accepted, 1);
    assert_eq!(outcomes[1].events_accepted, new_member.len() as u64);
    assert_stored_as_written(&store, &new_member);
}

/// `write_batches_then_sync`: the same outcomes as `write_batches`, the group readable at
/// once; a failing group stores nothing, and the store takes plain writes afterwards.
/// (The SQLite file store's WAL sync is tested in `sqlite::server`.)
fn a_group_written_then_synced_counts_alone_and_is_kept(backend: Backend) {
    let mut store = store(backend);
    let all = PlaySpec {
        session: "s1",
        member: "m1",
        title: "t1",
        device: "tv",
    }
    .session(0, 4, 0);
    let (first, rest) = all.split_at(2);
    let mut second = vec![first[1].clone()];
    second.extend_from_slice(&rest[..2]);
    let (outcomes, durability) = store
        .write_batches_then_sync(&[events_batch(first.to_vec()), events_batch(second)])
        .unwrap();
    let counts: Vec<(u64, u64)> = outcomes
        .iter()
        .map(|o| (o.events_accepted, o.events_duplicate))
        .collect();
    assert_eq!(counts, vec![(2, 0), (2, 1)]);
    assert_eq!(store.counts().unwrap().events_total(), 4);
    durability.wait().unwrap();

    let bad = unkeyable(&all[4]);
    assert!(
        store
            .write_batches_then_sync(&[events_batch(vec![all[4].clone()]), events_batch(vec![bad])])
            .is_err()
    );
    // The connection is still usable, and plain writes still work after the synced ones.
    let outcome = store
        .write_batch(&events_batch(vec![all[4].clone()]))
        .unwrap();
    assert_eq!(outcome.events_accepted, 1);
    assert_eq!(store.counts().unwrap().events_total(), 5);
    assert_eq!(all_views(&store)[0].events, 5);
}

fn counts_list_every_event_kind(backend: Backend) {
    let store = store(backend);
    let counts = store.counts().unwrap();
    let expected: BTreeMap<EventKind, u64> = EventKind::ALL.into_iter().map(|k| (k, 0)).collect();
    assert_eq!(counts.events, expected);
}

backend_tests!(
    every_field_of_every_event_kind_round_trips,
    plays_of_many_sessions_round_trip_in_big_batches,
    titles_and_members_round_trip_and_the_last_write_wins,
    the_same_batch_twice_stores_nothing_twice,
    duplicates_within_one_batch_are_stored_once,
    events_whose_keys_collide_are_both_stored_exactly_once,
    heartbeats_out_of_order_give_the_same_view_as_in_order,
    completion_is_capped_unknown_without_a_runtime_and_refreshed_later,
    more_than_twenty_hours_a_day_on_one_device_is_flagged_non_human,
    views_and_events_can_be_filtered,
    quarantine_is_not_duplicated_and_can_be_filtered_counted_and_paged,
    imports_are_recorded,
    an_event_time_outside_the_keyable_range_is_refused_with_its_id,
    a_batch_that_fails_leaves_nothing_behind,
    a_batch_after_a_failed_one_stores_its_texts_correctly,
    counts_list_every_event_kind,
    batches_written_as_a_group_count_alone_and_fail_together,
    a_group_written_then_synced_counts_alone_and_is_kept,
);
