//! Model-change notifications on PostgreSQL (`Backend::watch_models`): a change committed by
//! another store is heard at once, nothing is heard when nothing changed, and SQLite, which
//! has no channel, offers no watch.

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
