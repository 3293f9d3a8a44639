//! What replicas sharing a PostgreSQL database tell each other. Model-change notifications
//! (`Backend::watch_models`): a change committed by another store is heard at once, nothing
//! is heard when nothing changed, and SQLite, which has no channel, offers no watch. Replica
//! heartbeats (`Backend::replica_heartbeat`): the live count, expiry and a clean leave.

use std::time::{Duration, Instant};

use showrunner_store::testing::TestDatabase;
use showrunner_store::{Backend, PgStore, ServerStore, SqliteStore};

#[test]
fn a_publication_or_shadowing_by_another_store_is_heard_at_once() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let listener = PgStore::open(database.url()).expect("opens");
    let mut watch = Backend::watch_models(&listener)
        .expect("listens")
        .expect("PostgreSQL has a channel");
    // Nothing changed yet: the wait runs out.
    let started = Instant::now();
    assert!(!watch.wait(Duration::from_millis(200)).expect("waits"));
    assert!(started.elapsed() >= Duration::from_millis(150));

    let mut publisher = PgStore::open(database.url()).expect("opens");
    let first = publisher.publish_model("{}", b"model").expect("publishes");
    let started = Instant::now();
    assert!(watch.wait(Duration::from_secs(10)).expect("waits"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "heard only after {:?}",
        started.elapsed()
    );
    // The publication's notifications were folded into one: nothing more is pending.
    assert!(!watch.wait(Duration::from_millis(200)).expect("waits"));

    publisher.publish_model("{}", b"second").expect("publishes");
    assert!(watch.wait(Duration::from_secs(10)).expect("waits"));
    // Shadowing the first (no longer live) is a change too.
    let at = showrunner_model::Timestamp::from_seconds(1_800_000_000);
    showrunner_store::RegistryStore::start_shadow(&mut publisher, first, "test", at)
        .expect("shadows");
    assert!(watch.wait(Duration::from_secs(10)).expect("waits"));
}

#[test]
fn an_embedded_store_offers_no_watch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("s.db")).expect("opens");
    assert!(Backend::watch_models(&store).expect("answers").is_none());
    assert!(!store.is_shared());
}

#[test]
fn replicas_count_themselves_and_stopped_ones_are_forgotten() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let mut first = PgStore::open(database.url()).expect("opens");
    let mut second = PgStore::open(database.url()).expect("opens");
    let live = 15_000;
    assert_eq!(
        Backend::replica_heartbeat(&mut first, "a", 1_000, live).unwrap(),
        1
    );
    assert_eq!(
        Backend::replica_heartbeat(&mut second, "b", 2_000, live).unwrap(),
        2
    );
    // A heartbeat again is the same replica, not another.
    assert_eq!(
        Backend::replica_heartbeat(&mut first, "a", 3_000, live).unwrap(),
        2
    );
    // "b" stops beating: past its live time it is forgotten.
    assert_eq!(
        Backend::replica_heartbeat(&mut first, "a", 20_000, live).unwrap(),
        1
    );
    assert_eq!(
        Backend::replica_heartbeat(&mut second, "b", 21_000, live).unwrap(),
        2
    );
    // A replica that stops cleanly leaves at once.
    Backend::replica_gone(&mut second, "b").unwrap();
    assert_eq!(
        Backend::replica_heartbeat(&mut first, "a", 22_000, live).unwrap(),
        1
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let mut embedded = SqliteStore::open(&dir.path().join("s.db")).expect("opens");
    assert_eq!(
        Backend::replica_heartbeat(&mut embedded, "a", 1, live).unwrap(),
        1
    );
    assert_eq!(
        Backend::replica_heartbeat(&mut embedded, "b", 2, live).unwrap(),
        1
    );
}
