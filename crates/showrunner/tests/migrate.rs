//! `showrunner migrate`: an imported SQLite store (with quarantined rows, an API key and a
//! published model) copied into a fresh PostgreSQL database holds the same counts and
//! events; a re-run adds nothing; a copy cut short (rows missing on the target, as after an
//! interruption) is completed by running the same command again. Skipped with a note when
//! PostgreSQL is not reachable (a failure with CI=true).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use showrunner_model::EventKind;
use showrunner_store::testing::TestDatabase;
use showrunner_store::{EventFilter, ServerStore, SqliteStore, Store, StoreLocation};

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(args)
        .current_dir(dir)
        .env_remove("SHOWRUNNER_DB")
        .stdin(Stdio::null())
        .output()
        .expect("the showrunner binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sorted_ids(store: &dyn ServerStore, kind: EventKind) -> Vec<String> {
    let mut ids: Vec<String> = store
        .events(&EventFilter::all(kind))
        .unwrap()
        .into_iter()
        .map(|event| event.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn migrate_copies_everything_resumes_and_verifies() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let synth = run(
        &["synth", "--events", "5000", "--seed", "5", "--out", "data"],
        d,
    );
    assert!(synth.status.success(), "{}", text(&synth.stderr));
    // A bad row, so the quarantine has something to copy.
    std::fs::write(d.join("bad.jsonl"), "{\"type\":\"play\"\nnot json\n").unwrap();
    let import = run(
        &[
            "import",
            "--db",
            "source.db",
            "data/catalog.jsonl",
            "data/members.jsonl",
            "data/events.jsonl",
            "bad.jsonl",
        ],
        d,
    );
    assert_eq!(import.status.code(), Some(1), "{}", text(&import.stderr));
    let key = run(
        &["keys", "create", "--db", "source.db", "--scope", "read"],
        d,
    );
    assert!(key.status.success(), "{}", text(&key.stderr));
    {
        let mut source = SqliteStore::open(&d.join("source.db")).unwrap();
        source
            .publish_model("{\"manifest\":1}", b"blob one")
            .unwrap();
        source
            .publish_model("{\"manifest\":2}", b"blob two")
            .unwrap();
    }

    let url = database.url().to_owned();
    let migrate = || run(&["migrate", "--from", "source.db", "--to", &url], d);
    let first = migrate();
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    assert!(stdout.contains("events: play"), "{stdout}");
    assert!(!stdout.contains("DIFFERS"), "{stdout}");

    let source = SqliteStore::open_read_only(&d.join("source.db")).unwrap();
    let target = StoreLocation::parse(&url)
        .unwrap()
        .open_read_only()
        .unwrap();
    let counts = source.counts().unwrap();
    assert!(counts.events_total() > 2_000 && counts.quarantined >= 2 && counts.views > 0);
    assert_eq!(target.counts().unwrap(), counts);
    // Views are derived again on the target, and come out the same.
    assert_eq!(
        target.views(&Default::default()).unwrap(),
        source.views(&Default::default()).unwrap()
    );
    for kind in EventKind::ALL {
        assert_eq!(
            sorted_ids(target.as_ref(), kind),
            sorted_ids(&source, kind),
            "{kind:?}"
        );
    }
    assert_eq!(target.api_keys().unwrap().len(), 1);
    let newest = target.latest_model().unwrap().unwrap();
    assert_eq!(newest.version, 2);
    assert_eq!(
        target.published_model(2).unwrap().unwrap().blob,
        b"blob two"
    );
    assert_eq!(
        target.imports().unwrap().len(),
        source.imports().unwrap().len()
    );
    let some_member = source.known_members().unwrap().remove(0);
    assert_eq!(
        target.member(&some_member).unwrap(),
        source.member(&some_member).unwrap()
    );

    // The other commands read the copy through its URL.
    let status = |db: &str| {
        let output = run(&["status", "--db", db, "--json"], d);
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    assert_eq!(status(&url), status("source.db"));
    let quarantine = run(&["quarantine", "--db", &url], d);
    assert!(quarantine.status.success(), "{}", text(&quarantine.stderr));
    assert!(text(&quarantine.stdout).contains("bad.jsonl"));

    // Again: nothing is added.
    let again = migrate();
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(target.counts().unwrap(), counts);
    assert_eq!(target.api_keys().unwrap().len(), 1);
    assert_eq!(target.latest_model().unwrap().unwrap().version, 2);

    // As if interrupted: some batches never reached the target (a batch's plays and the
    // views they update commit together, so whole sessions are missing).
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "DELETE FROM plays WHERE session_id IN (SELECT session_id FROM views WHERE id % 2 = 0); \
             DELETE FROM views WHERE id % 2 = 0; \
             DELETE FROM ratings WHERE key % 2 = 1;",
        )
        .unwrap();
    assert_ne!(target.counts().unwrap(), counts);
    let resumed = migrate();
    assert!(
        resumed.status.success(),
        "{}\n{}",
        text(&resumed.stdout),
        text(&resumed.stderr)
    );
    assert_eq!(target.counts().unwrap(), counts);
    assert_eq!(
        target.views(&Default::default()).unwrap(),
        source.views(&Default::default()).unwrap()
    );
}

#[test]
fn migrate_refuses_a_target_that_is_not_a_database_location() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    drop(SqliteStore::open(&d.join("source.db")).unwrap());
    let output = run(
        &[
            "migrate",
            "--from",
            "source.db",
            "--to",
            "postgress://x:secret@h/db",
        ],
        d,
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown scheme"), "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}
