//! Opening databases: the failures a user can cause (a text file, a read-only file or
//! directory, a directory, a missing directory, a database from a newer showrunner) are
//! reported as such, naming the path; migrations run once; read-only opens read and refuse
//! writes.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{events_batch, events_of_every_kind};
use showrunner_store::{SCHEMA_VERSION, SqliteStore, Store, StoreError};

fn open_error(path: &Path) -> StoreError {
    match SqliteStore::open(path) {
        Ok(_) => panic!("{} opened, expected an error", path.display()),
        Err(error) => error,
    }
}

fn assert_names_path(error: &StoreError, path: &Path, phrase: &str) {
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains(phrase),
        "message {message:?} should name {} and say {phrase:?}",
        path.display()
    );
}

#[test]
fn a_text_file_is_not_a_database() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("notes.db");
    fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    let error = open_error(&path);
    assert!(
        matches!(error, StoreError::NotADatabase { .. }),
        "{error:?}"
    );
    assert_names_path(
        &error,
        &path,
        "is not a showrunner database (not an SQLite file)",
    );
    // The file is left as it was.
    assert!(
        fs::read_to_string(&path)
            .unwrap()
            .starts_with("these are my notes")
    );
    let error = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(
        matches!(error, StoreError::NotADatabase { .. }),
        "{error:?}"
    );
}

#[test]
fn a_read_only_database_file_is_refused_for_writing_but_opens_read_only() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .write_batch(&events_batch(events_of_every_kind()))
        .unwrap();
    drop(store);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();

    let error = open_error(&path);
    assert!(matches!(error, StoreError::ReadOnly { .. }), "{error:?}");
    assert_names_path(&error, &path, "is read-only");

    let mut reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.counts().unwrap().events_total(), 12);
    let error = reader
        .write_batch(&events_batch(events_of_every_kind()))
        .unwrap_err();
    assert!(matches!(error, StoreError::ReadOnly { .. }), "{error:?}");
    assert!(matches!(
        reader.refresh_derived(),
        Err(StoreError::ReadOnly { .. })
    ));
}

#[test]
fn a_database_in_a_read_only_directory_is_refused_for_writing() {
    let directory = tempfile::tempdir().unwrap();
    let locked = directory.path().join("locked");
    fs::create_dir(&locked).unwrap();
    let existing = locked.join("existing.db");
    drop(SqliteStore::open(&existing).unwrap());
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();

    let new_error = open_error(&locked.join("new.db"));
    let existing_error = open_error(&existing);
    let new_file_created = locked.join("new.db").exists();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();

    assert!(
        matches!(new_error, StoreError::ReadOnly { .. }),
        "{new_error:?}"
    );
    assert!(
        matches!(existing_error, StoreError::ReadOnly { .. }),
        "{existing_error:?}"
    );
    assert_names_path(&existing_error, &existing, "is read-only");
    assert!(
        !new_file_created,
        "nothing is created in a read-only directory"
    );
}

#[test]
fn a_directory_or_a_missing_directory_is_reported_as_such() {
    let directory = tempfile::tempdir().unwrap();
    let error = open_error(directory.path());
    assert!(matches!(error, StoreError::IsDirectory { .. }), "{error:?}");
    assert_names_path(&error, directory.path(), "is a directory");

    let nowhere = directory.path().join("no-such-dir").join("store.db");
    let error = open_error(&nowhere);
    assert!(
        matches!(error, StoreError::MissingDirectory { .. }),
        "{error:?}"
    );
    assert_names_path(&error, &nowhere, "directory does not exist");

    let missing = directory.path().join("missing.db");
    let error = SqliteStore::open_read_only(&missing).unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
    assert!(!missing.exists(), "a read-only open creates nothing");
}

#[test]
fn a_database_from_a_newer_showrunner_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'future', 0)",
            [SCHEMA_VERSION + 5],
        )
        .unwrap();
    drop(connection);

    for error in [
        open_error(&path),
        SqliteStore::open_read_only(&path).unwrap_err(),
    ] {
        match &error {
            StoreError::NewerSchema {
                found, supported, ..
            } => assert_eq!((*found, *supported), (SCHEMA_VERSION + 5, SCHEMA_VERSION)),
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        assert_names_path(&error, &path, "newer than");
    }
}

#[test]
fn opening_twice_migrates_once_and_keeps_the_data() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    store
        .write_batch(&events_batch(events_of_every_kind()))
        .unwrap();
    let counts = store.counts().unwrap();
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.counts().unwrap(), counts);
    drop(store);

    let connection = rusqlite::Connection::open(&path).unwrap();
    let applied: i64 = connection
        .query_row("SELECT max(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .unwrap();
    let journal_mode: String = connection
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(applied, SCHEMA_VERSION);
    assert_eq!(journal_mode, "wal");
}

#[test]
fn a_second_store_reads_what_the_first_committed() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("store.db");
    let mut writer = SqliteStore::open(&path).unwrap();
    let reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.counts().unwrap().events_total(), 0);
    writer
        .write_batch(&events_batch(events_of_every_kind()))
        .unwrap();
    assert_eq!(reader.counts().unwrap().events_total(), 12);
}
