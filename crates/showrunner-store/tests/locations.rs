//! Choosing the backend by location, and opening PostgreSQL databases: migrations once (and
//! concurrently), read-only opens, a newer schema refused, errors that name the database
//! without its password, and `backup_to` refused with what to use instead.

mod common;

use common::{PlaySpec, events_batch};
use showrunner_model::Batch;
use showrunner_store::testing::TestDatabase;
use showrunner_store::{
    PgStore, SCHEMA_VERSION, ServerStore, Store, StoreError, StoreLocation, open, open_read_only,
};

#[test]
fn locations_pick_the_backend_and_refuse_unknown_schemes() {
    assert_eq!(
        StoreLocation::parse("data/showrunner.db").unwrap(),
        StoreLocation::Sqlite("data/showrunner.db".into())
    );
    assert_eq!(
        StoreLocation::parse("sqlite:///var/lib/s.db").unwrap(),
        StoreLocation::Sqlite("/var/lib/s.db".into())
    );
    for url in [
        "postgres://u:secret@db.example:5432/prod",
        "postgresql://u@db.example/prod",
        "POSTGRES://u@db.example/prod",
    ] {
        assert!(StoreLocation::parse(url).unwrap().is_postgres(), "{url}");
    }
    let shown = StoreLocation::parse("postgres://u:secret@db.example:5432/prod").unwrap();
    assert_eq!(shown.to_string(), "postgres://u:***@db.example:5432/prod");
    assert!(!format!("{shown:?}").contains("secret"));

    let error = StoreLocation::parse("postgress://u:secret@db/x").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("unknown scheme \"postgress\""),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
    assert!(StoreLocation::parse("sqlite://").is_err());
    assert!(StoreLocation::parse("").is_err());
}

#[test]
fn open_by_path_gives_an_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("by-path.db");
    let mut store = open(path.to_str().unwrap()).unwrap();
    store
        .write_batch(&Batch {
            titles: vec![common::movie("t1", None)],
            ..Batch::default()
        })
        .unwrap();
    drop(store);
    assert!(path.exists());
    let url = format!("sqlite://{}", path.display());
    assert_eq!(open_read_only(&url).unwrap().counts().unwrap().titles, 1);
}

#[test]
fn an_unreachable_server_is_reported_with_the_url_but_not_the_password() {
    // Port 1 on the loopback: nothing listens there.
    let url = "postgres://someone:hunter2@127.0.0.1:1/nowhere?connect_timeout=2";
    let error = PgStore::open(url).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StoreError::Postgres { .. }), "{error:?}");
    assert!(message.contains("127.0.0.1:1/nowhere"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

fn pg() -> Option<TestDatabase> {
    TestDatabase::create()
}

#[test]
fn a_new_database_is_migrated_once_even_by_concurrent_opens() {
    let Some(database) = pg() else { return };
    let url = database.url().to_owned();
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open(&url).map(|store| store.schema_version()))
        })
        .collect();
    for opener in openers {
        assert_eq!(opener.join().unwrap().unwrap().unwrap(), SCHEMA_VERSION);
    }
    let mut store = open(&url).unwrap();
    store
        .write_batch(&events_batch(
            PlaySpec {
                session: "s1",
                member: "m1",
                title: "t1",
                device: "tv",
            }
            .session(0, 3, 0),
        ))
        .unwrap();
    drop(store);
    // Opening again keeps the data and applies nothing.
    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.counts().unwrap().views, 1);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let applied: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    // Versions may skip numbers (branches that add migrations are merged in any order).
    let newest: i64 = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(newest, SCHEMA_VERSION);
    let distinct: i64 = client
        .query_one("SELECT count(DISTINCT version) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, distinct, "a migration was applied twice");
}

#[test]
fn read_only_opens_read_refuse_writes_and_need_a_migrated_database() {
    let Some(database) = pg() else { return };
    let error = PgStore::open_read_only(database.url()).unwrap_err();
    assert!(
        matches!(error, StoreError::NeedsMigration { found: 0, .. }),
        "{error:?}"
    );
    let mut writer = PgStore::open(database.url()).unwrap();
    writer
        .create_api_key(&[7; 32], "read")
        .expect("the writer writes");
    let mut reader = open_read_only(database.url()).unwrap();
    assert_eq!(reader.api_keys().unwrap().len(), 1);
    let error = reader.create_api_key(&[8; 32], "read").unwrap_err();
    assert!(matches!(error, StoreError::ReadOnly { .. }), "{error:?}");
}

#[test]
fn a_database_from_a_newer_showrunner_is_refused() {
    let Some(database) = pg() else { return };
    drop(PgStore::open(database.url()).unwrap());
    let mut client = postgres::Client::connect(database.url(), postgres::NoTls).unwrap();
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)",
            &[&(SCHEMA_VERSION + 1)],
        )
        .unwrap();
    for error in [
        PgStore::open(database.url()).unwrap_err(),
        PgStore::open_read_only(database.url()).unwrap_err(),
    ] {
        assert!(
            matches!(error, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
            "{error:?}"
        );
        assert!(error.to_string().contains(database.name()), "{error}");
    }
}

#[test]
fn backup_on_postgresql_says_to_use_pg_dump() {
    let Some(database) = pg() else { return };
    let store = PgStore::open(database.url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.db");
    let error = store.backup_to(&dest).unwrap_err();
    assert!(error.to_string().contains("pg_dump"), "{error}");
    assert!(!dest.exists());
}

#[test]
fn group_commit_reports_each_batch_and_stores_them_all() {
    let Some(database) = pg() else { return };
    let mut store = PgStore::open(database.url()).unwrap();
    let batches: Vec<Batch> = (0..3)
        .map(|n| {
            let session = format!("s{n}");
            events_batch(
                PlaySpec {
                    session: &session,
                    member: "m1",
                    title: "t1",
                    device: "tv",
                }
                .session(n * 1000, 2, 0),
            )
        })
        .collect();
    let outcomes = store.write_batches(&batches).unwrap();
    assert_eq!(
        outcomes
            .iter()
            .map(|o| o.events_accepted)
            .collect::<Vec<_>>(),
        vec![3, 3, 3]
    );
    let again = store.write_batches(&batches).unwrap();
    assert!(
        again
            .iter()
            .all(|o| o.events_accepted == 0 && o.events_duplicate == 3)
    );
    assert_eq!(store.counts().unwrap().views, 3);
}
