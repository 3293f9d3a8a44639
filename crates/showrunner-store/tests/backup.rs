//! Online backups: a copy of a live database opens as a store with the same contents, holds
//! only what was committed when it was taken, and never overwrites a file.

mod common;

use common::{PlaySpec, events_batch, events_of_every_kind};
use showrunner_model::{Batch, ProblemKind};
use showrunner_store::{SqliteStore, Store, StoreError, ViewFilter};

fn filled_store(path: &std::path::Path) -> SqliteStore {
    let mut store = SqliteStore::open(path).unwrap();
    let viewer = PlaySpec {
        session: "s9",
        member: "m9",
        title: "t1",
        device: "tv",
    };
    let mut events = events_of_every_kind();
    events.extend(viewer.session(0, 30, 0));
    store
        .write_batch(&Batch {
            titles: vec![common::movie("t1", Some(3_600))],
            members: vec![common::full_member("m9")],
            events,
            quarantined: vec![common::quarantined("in", 1, "?", ProblemKind::Malformed)],
        })
        .unwrap();
    store
}

#[test]
fn a_backup_of_a_live_database_has_the_same_contents() {
    let directory = tempfile::tempdir().unwrap();
    let store = filled_store(&directory.path().join("live.db"));
    let copy_path = directory.path().join("copy.db");
    store.backup_to(&copy_path).unwrap();

    let copy = SqliteStore::open(&copy_path).unwrap();
    assert_eq!(copy.counts().unwrap(), store.counts().unwrap());
    assert_eq!(
        copy.views(&ViewFilter::default()).unwrap(),
        store.views(&ViewFilter::default()).unwrap()
    );
    assert_eq!(copy.member("m9").unwrap(), store.member("m9").unwrap());
}

#[test]
fn a_backup_taken_during_another_write_transaction_holds_only_committed_data() {
    let directory = tempfile::tempdir().unwrap();
    let live_path = directory.path().join("live.db");
    let store = filled_store(&live_path);
    let committed = store.counts().unwrap();

    // Another connection (another showrunner process, say) is in the middle of a batch.
    let mut other = rusqlite::Connection::open(&live_path).unwrap();
    let transaction = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    transaction
        .execute(
            "INSERT INTO titles (id, kind, name, genres, cast_members, directors, countries, \
                 availability, updated_at) \
             VALUES ('uncommitted', 'movie', 'x', '[]', '[]', '[]', '[]', '[]', 0)",
            [],
        )
        .unwrap();

    let copy_path = directory.path().join("copy.db");
    store.backup_to(&copy_path).unwrap();
    transaction.commit().unwrap();

    let copy = SqliteStore::open(&copy_path).unwrap();
    assert_eq!(copy.counts().unwrap(), committed);
    assert_eq!(copy.title("uncommitted").unwrap(), None);
    assert_eq!(store.counts().unwrap().titles, committed.titles + 1);
}

#[test]
fn a_backup_never_overwrites_a_file() {
    let directory = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_in_memory().unwrap();
    store
        .write_batch(&events_batch(events_of_every_kind()))
        .unwrap();
    let existing = directory.path().join("existing.db");
    std::fs::write(&existing, "precious").unwrap();

    let error = store.backup_to(&existing).unwrap_err();
    assert!(
        matches!(error, StoreError::DestinationExists { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(&existing.display().to_string()));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "precious");

    // An in-memory store backs up to a file like any other.
    let copy_path = directory.path().join("from-memory.db");
    store.backup_to(&copy_path).unwrap();
    let copy = SqliteStore::open_read_only(&copy_path).unwrap();
    assert_eq!(copy.counts().unwrap().events_total(), 12);
}
