//! PostgreSQL's write path: a batch's rows are copied straight into their tables, and when
//! one is stored already (by an earlier batch, or by another writer at the same moment) the
//! batch must still store every event exactly once, fold only its own new plays into views,
//! and report the stored event as a duplicate; several batches written together are each
//! told their own counts.

use std::time::{Duration, Instant};

use showrunner_model::{Batch, Event, EventBody, Play, PlayAction, Timestamp};
use showrunner_store::testing::TestDatabase;
use showrunner_store::{EventFilter, PgStore, ServerStore, Store, ViewFilter, event_key};

fn play(minute: u32) -> Event {
    let start = Timestamp::from_civil(2026, 10, 1, 20, 0, 0, 0).map_or(0, Timestamp::millis);
    let action = if minute == 0 {
        PlayAction::Start
    } else {
        PlayAction::Heartbeat
    };
    Event::with_derived_id(
        Timestamp::from_millis(start + i64::from(minute) * 60_000),
        EventBody::Play(Play {
            member_id: "m1".to_owned(),
            profile_id: None,
            title_id: "t1".to_owned(),
            session_id: "s1".to_owned(),
            action,
            position_s: minute * 60,
            watched_s: minute * 60,
            device: Some("tv".to_owned()),
            country: Some("GB".to_owned()),
            request_id: None,
        }),
    )
}

/// Inserts `event` as another writer would, in a transaction left open.
fn insert_uncommitted<'a>(
    client: &'a mut postgres::Client,
    event: &Event,
) -> postgres::Transaction<'a> {
    let EventBody::Play(body) = &event.body else {
        panic!("a play");
    };
    let key = event_key(event.ts, &event.id).expect("a keyable time");
    let mut transaction = client.transaction().expect("a transaction");
    transaction
        .execute(
            "INSERT INTO plays (key, id, ts, member_id, title_id, session_id, action, \
             position_s, watched_s, device, country) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &key,
                &event.id,
                &event.ts.millis(),
                &body.member_id,
                &body.title_id,
                &body.session_id,
                &body.action.as_str(),
                &i64::from(body.position_s),
                &i64::from(body.watched_s),
                &body.device,
                &body.country,
            ],
        )
        .expect("the other writer's insert");
    transaction
}

/// Waits until some session of `database` waits for a lock (the store's writer, blocked on
/// the other writer's row), polling the server's activity view.
fn wait_for_a_blocked_writer(observer: &mut postgres::Client, database: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&database],
            )
            .expect("pg_stat_activity")
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the store's writer never waited for the other writer's row"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_event_another_writer_stores_meanwhile_is_stored_once_and_not_folded_twice() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let mut store = PgStore::open(database.url()).expect("store opens");
    // One play stored before, so the batch's keys are all above the newest stored key.
    store
        .write_batch(&Batch {
            events: vec![play(0)],
            ..Batch::default()
        })
        .expect("first batch");
    let batch = Batch {
        events: vec![play(1), play(2), play(3)],
        ..Batch::default()
    };

    let mut other = postgres::Client::connect(database.url(), postgres::NoTls).expect("connects");
    let other_writer = insert_uncommitted(&mut other, &batch.events[1]);
    let outcome = std::thread::scope(|scope| {
        let writer = scope.spawn(|| store.write_batch(&batch));
        let mut observer =
            postgres::Client::connect(database.url(), postgres::NoTls).expect("connects");
        wait_for_a_blocked_writer(&mut observer, database.name());
        other_writer.commit().expect("the other writer commits");
        writer.join().expect("the writer thread")
    })
    .expect("the batch is stored despite the other writer");

    assert_eq!(
        (outcome.events_accepted, outcome.events_duplicate),
        (2, 1),
        "the other writer's play counts as a duplicate"
    );
    assert_eq!(
        stored_play_ids(&store),
        sorted_play_ids(0..=3),
        "every play stored exactly once"
    );
    let views = store.views(&ViewFilter::default()).expect("views");
    assert_eq!(views.len(), 1);
    // The other writer did not fold its play; this batch folds only its own two new ones.
    assert_eq!(views[0].events, 3, "{views:?}");
    assert_eq!(views[0].max_position_s, 180, "{views:?}");
}

#[test]
fn a_batch_repeating_an_event_within_itself_above_the_newest_key_stores_it_once() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let mut store = PgStore::open(database.url()).expect("store opens");
    let outcome = store
        .write_batch(&Batch {
            events: vec![play(1), play(2), play(1), play(2), play(1)],
            ..Batch::default()
        })
        .expect("batch");
    assert_eq!((outcome.events_accepted, outcome.events_duplicate), (2, 3));
    let views = store.views(&ViewFilter::default()).expect("views");
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].events, 2, "{views:?}");
}

fn stored_play_ids(store: &PgStore) -> Vec<String> {
    let mut ids: Vec<String> = store
        .events(&EventFilter::all(showrunner_model::EventKind::Play))
        .expect("plays")
        .into_iter()
        .map(|event| event.id)
        .collect();
    ids.sort();
    ids
}

/// The ids of the plays at `minutes`, sorted.
fn sorted_play_ids(minutes: impl IntoIterator<Item = u32>) -> Vec<String> {
    let mut ids: Vec<String> = minutes.into_iter().map(|minute| play(minute).id).collect();
    ids.sort();
    ids
}

/// Each outcome's (accepted, duplicate) events.
fn counts(outcomes: &[showrunner_model::BatchOutcome]) -> Vec<(u64, u64)> {
    outcomes
        .iter()
        .map(|o| (o.events_accepted, o.events_duplicate))
        .collect()
}

fn plays(minutes: &[u32]) -> Batch {
    Batch {
        events: minutes.iter().map(|&minute| play(minute)).collect(),
        ..Batch::default()
    }
}

#[test]
fn batches_written_together_are_each_told_their_own_counts() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let mut store = PgStore::open(database.url()).expect("store opens");
    store.write_batch(&plays(&[1])).expect("first batch");

    // New rows only: every table's rows go straight in.
    let outcomes = store
        .write_batches(&[plays(&[2, 3]), plays(&[4])])
        .expect("all new");
    assert_eq!(counts(&outcomes), vec![(2, 0), (1, 0)]);

    // The second batch repeats the first's play 6 and a stored play 1; the third repeats
    // the second's play 7: the later copy is the duplicate, as when written one by one.
    let outcomes = store
        .write_batches(&[plays(&[5, 6]), plays(&[6, 1, 7]), plays(&[7])])
        .expect("with duplicates");
    assert_eq!(counts(&outcomes), vec![(2, 0), (1, 2), (0, 1)]);

    let expected = sorted_play_ids(1..=7);
    assert_eq!(stored_play_ids(&store), expected, "each play stored once");
    let views = store.views(&ViewFilter::default()).expect("views");
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].events, 7, "each new play folded once: {views:?}");
    assert_eq!(views[0].max_position_s, 7 * 60, "{views:?}");

    // Everything again: nothing new, each batch told so.
    let outcomes = store
        .write_batches(&[plays(&[1, 2]), plays(&[3, 4, 5, 6, 7])])
        .expect("all stored");
    assert_eq!(counts(&outcomes), vec![(0, 2), (0, 5)]);
    assert_eq!(stored_play_ids(&store), expected);
    assert_eq!(
        store.views(&ViewFilter::default()).expect("views")[0].events,
        7
    );
}
