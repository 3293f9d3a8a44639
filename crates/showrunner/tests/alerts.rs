//! `showrunner alerts`: silences added, listed and ended on a database, alerts listed from
//! the state a monitor saved, and bad input named.

use std::path::Path;
use std::process::{Command, Output};

use showrunner_store::{AlertStore, SqliteStore};

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(args)
        .current_dir(dir)
        .env_remove("SHOWRUNNER_DB")
        .output()
        .expect("runs showrunner")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn silences_are_added_listed_and_ended_and_alerts_listed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    drop(SqliteStore::open(&db).unwrap());
    let db_arg = db.to_str().unwrap();

    let empty = run(&["alerts", "list", "--db", db_arg], dir.path());
    assert_eq!(empty.status.code(), Some(0), "{}", text(&empty.stderr));
    assert!(text(&empty.stdout).contains("no pending or firing alerts"));

    let added = run(
        &[
            "alerts",
            "silence",
            "add",
            "--db",
            db_arg,
            "--match",
            "cdn=b",
            "--match",
            "country=BR",
            "--duration",
            "2h",
            "--comment",
            "CDN maintenance",
            "--by",
            "ana",
        ],
        dir.path(),
    );
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    let id = text(&added.stdout).trim().to_owned();
    assert_eq!(id.len(), 16, "the id alone on stdout: {id:?}");
    let listed = run(
        &["alerts", "silences", "--db", db_arg, "--json"],
        dir.path(),
    );
    let silences: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(silences[0]["id"], id.as_str());
    assert_eq!(silences[0]["matchers"]["country"], "BR");
    assert_eq!(silences[0]["created_by"], "ana");
    let ended = run(
        &["alerts", "silence", "expire", &id, "--db", db_arg],
        dir.path(),
    );
    assert_eq!(ended.status.code(), Some(0), "{}", text(&ended.stderr));
    let again = run(
        &["alerts", "silence", "expire", &id, "--db", db_arg],
        dir.path(),
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains(&id));

    let bad = run(
        &[
            "alerts",
            "silence",
            "add",
            "--db",
            db_arg,
            "--match",
            "cdn",
            "--comment",
            "x",
        ],
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("--match \"cdn\""),
        "{}",
        text(&bad.stderr)
    );

    // A firing alert saved by a monitor: listed, exit code 1.
    let state = serde_json::json!({"engine": {"alerts": [{
        "rule": "PlaybackFailuresHigh", "fingerprint": "00ff", "state": "firing",
        "severity": "critical", "labels": {"alertname": "PlaybackFailuresHigh", "cdn": "b"},
        "annotations": {"summary": "failures on CDN b"}, "active_since": 1_800_000_000_000i64,
        "fired_at": 1_800_000_060_000i64, "resolved_at": null, "value": 12.5, "score": 0.97
    }], "silences": [], "history": []}});
    SqliteStore::open(&db)
        .unwrap()
        .save_alert_state(&state.to_string(), 0)
        .unwrap();
    let firing = run(&["alerts", "list", "--db", db_arg], dir.path());
    assert_eq!(firing.status.code(), Some(1));
    let out = text(&firing.stdout);
    assert!(
        out.contains("firing")
            && out.contains("PlaybackFailuresHigh")
            && out.contains("failures on CDN b"),
        "{out}"
    );

    let missing = run(&["alerts", "list", "--db", "nope.db"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("nope.db"));
}
