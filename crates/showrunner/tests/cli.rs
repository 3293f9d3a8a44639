//! End-to-end tests of the `showrunner` binary: what a user sees for good input, for every
//! kind of bad input the foundation issue lists, and after the importer is killed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use showrunner_model::EventKind;
use showrunner_store::{EventFilter, SqliteStore, Store};

fn showrunner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
}

fn run(args: &[&str], dir: &Path) -> Output {
    showrunner()
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

/// `(rows, distinct ids)` over every event kind of a database, read through the store.
fn event_counts(db: &Path) -> (u64, u64) {
    let store = SqliteStore::open_read_only(db).expect("open db");
    let mut rows = 0;
    let mut ids = HashSet::new();
    for kind in EventKind::ALL {
        for event in store.events(&EventFilter::all(kind)).expect("read events") {
            rows += 1;
            ids.insert((kind, event.id));
        }
    }
    (rows, ids.len() as u64)
}

/// Plays committed so far, or 0 while the database is still being created.
fn committed_plays(db: &Path) -> u64 {
    SqliteStore::open_read_only(db)
        .and_then(|store| store.counts())
        .map_or(0, |counts| counts.events_of(EventKind::Play))
}

fn synth(dir: &Path, events: u64) -> Vec<PathBuf> {
    let out = dir.join("data");
    let output = run(
        &[
            "synth",
            "--events",
            &events.to_string(),
            "--seed",
            "3",
            "--out",
            out.to_str().unwrap(),
        ],
        dir,
    );
    assert!(
        output.status.success(),
        "synth failed: {}",
        text(&output.stderr)
    );
    ["catalog.jsonl", "members.jsonl", "events.jsonl"]
        .map(|name| out.join(name))
        .to_vec()
}

fn import(dir: &Path, db: &Path, files: &[PathBuf]) -> Output {
    let mut args = vec![
        "import".to_owned(),
        "--db".to_owned(),
        db.display().to_string(),
        "--json".to_owned(),
    ];
    args.extend(files.iter().map(|file| file.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, dir)
}

fn summary(output: &Output) -> serde_json::Value {
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "import --json printed no JSON ({error}): {}",
                text(&output.stdout)
            )
        });
    report["summary"].clone()
}

#[test]
fn import_of_synthetic_platform_is_clean_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let files = synth(dir.path(), 3_000);
    let db = dir.path().join("store.db");

    let first = import(dir.path(), &db, &files);
    assert_eq!(
        first.status.code(),
        Some(0),
        "stderr: {}",
        text(&first.stderr)
    );
    let first = summary(&first);
    let accepted = first["events_accepted"].as_u64().unwrap();
    assert!(accepted > 2_000, "accepted only {accepted}");
    assert_eq!(first["events_duplicate"], 0);
    let (rows, distinct) = event_counts(&db);
    assert_eq!((rows, distinct), (accepted, accepted));

    let second = import(dir.path(), &db, &files);
    assert_eq!(
        second.status.code(),
        Some(0),
        "stderr: {}",
        text(&second.stderr)
    );
    let second = summary(&second);
    assert_eq!(second["events_accepted"], 0);
    assert_eq!(second["events_duplicate"].as_u64().unwrap(), accepted);
    assert_eq!(
        event_counts(&db),
        (accepted, accepted),
        "a re-import doubled events"
    );
}

/// One file with one good row and one row per kind of bad input; the good rows are kept, each
/// bad one is quarantined with its reason, and the exit code says there were findings.
#[test]
fn bad_rows_are_quarantined_with_reasons_and_good_rows_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let catalog = dir.path().join("catalog.jsonl");
    std::fs::write(
        &catalog,
        concat!(
            r#"{"type":"title","id":"t1","kind":"movie","name":"One","duration_s":3600}"#,
            "\n",
            r#"{"type":"member","id":"m1","country":"US"}"#,
            "\n",
        ),
    )
    .unwrap();
    let long_id = "x".repeat(10_000);
    let mut events: Vec<u8> = Vec::new();
    let mut line = |text: &str| {
        events.extend_from_slice(text.as_bytes());
        events.push(b'\n');
    };
    line(
        r#"{"type":"play","ts":"2026-10-01T20:00:00Z","member_id":"m1","title_id":"t1","session_id":"s1","action":"start","position_s":0,"watched_s":0}"#,
    );
    // Out of order: an earlier heartbeat after a later one is fine.
    line(
        r#"{"type":"play","ts":"2026-10-01T19:00:00Z","member_id":"m1","title_id":"t1","session_id":"s0","action":"start","position_s":0,"watched_s":0}"#,
    );
    // Duplicate ids: the second is merged into the first.
    line(
        r#"{"type":"rating","id":"dup-1","ts":"2026-10-01T21:00:00Z","member_id":"m1","title_id":"t1","thumbs":"up"}"#,
    );
    line(
        r#"{"type":"rating","id":"dup-1","ts":"2026-10-01T21:00:00Z","member_id":"m1","title_id":"t1","thumbs":"up"}"#,
    );
    line(
        r#"{"type":"play","ts":"2026-10-01T20:00:00Z","member_id":"m1","title_id":"t1","session_id":"s2","action":"start","position_s":"zero","watched_s":0}"#,
    ); // wrong type
    line(&format!(
        r#"{{"type":"play","ts":"2026-10-01T20:00:00Z","member_id":"{long_id}","title_id":"t1","session_id":"s3","action":"start","position_s":0,"watched_s":0}}"#
    )); // absurdly long
    line(
        r#"{"type":"play","ts":"2026-10-01T20:00:00Z","member_id":"m1","title_id":"nope","session_id":"s4","action":"start","position_s":0,"watched_s":0}"#,
    ); // unknown title
    line(
        r#"{"type":"play","ts":"2099-10-01T20:00:00Z","member_id":"m1","title_id":"t1","session_id":"s5","action":"start","position_s":0,"watched_s":0}"#,
    ); // future
    line(
        r#"{"type":"play","ts":"2026-10-01T20:00:00Z","member_id":"m1","title_id":"t1","session_id":"s6","action":"heartbeat","position_s":9000,"watched_s":5000}"#,
    ); // beyond length
    events.extend_from_slice(b"{\"type\":\"search\",\"ts\":\"2026-10-01T20:00:00Z\",\"member_id\":\"m1\",\"query\":\"caf\xff\"}\n"); // invalid UTF-8
    events.extend_from_slice(br#"{"type":"play","ts":"2026-10-01T20:00:00Z","member_id":"m1","ti"#); // truncated last line
    let events_path = dir.path().join("events.jsonl");
    std::fs::write(&events_path, &events).unwrap();

    let output = import(dir.path(), &db, &[catalog, events_path]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        text(&output.stderr)
    );
    let summary = summary(&output);
    assert_eq!(summary["events_accepted"], 3, "{summary:#}");
    assert_eq!(summary["events_duplicate"], 1, "{summary:#}");
    let quarantined = &summary["quarantined"];
    for reason in [
        "wrong_type",
        "field_too_long",
        "unknown_title",
        "future_timestamp",
        "watched_beyond_length",
        "invalid_utf8",
        "truncated",
    ] {
        assert_eq!(quarantined[reason], 1, "reason {reason} in {quarantined:#}");
    }
    let total_quarantined: u64 = quarantined
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total_quarantined, 7);
    assert_eq!(summary["rows_read"], 2 + 11, "every row is counted once");

    // The quarantine lists every bad row with its file and line.
    let listing = run(
        &["quarantine", "--db", db.to_str().unwrap(), "--export", "-"],
        dir.path(),
    );
    assert!(listing.status.success(), "{}", text(&listing.stderr));
    let rows: Vec<serde_json::Value> = text(&listing.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 7);
    let truncated = rows
        .iter()
        .find(|row| row.to_string().contains("truncated"))
        .unwrap();
    assert_eq!(truncated["line"], 11);
    assert!(
        truncated["source"]
            .as_str()
            .unwrap()
            .ends_with("events.jsonl")
    );
}

#[test]
fn unusable_inputs_fail_with_the_path_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let good = dir.path().join("good.jsonl");
    std::fs::write(
        &good,
        r#"{"type":"title","id":"t1","kind":"movie","name":"One"}"#,
    )
    .unwrap();

    let missing = import(
        dir.path(),
        &db,
        &[good.clone(), dir.path().join("missing.jsonl")],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("missing.jsonl"),
        "{}",
        text(&missing.stderr)
    );

    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).unwrap();
    let directory = import(dir.path(), &db, &[folder]);
    assert_eq!(directory.status.code(), Some(2));
    let message = text(&directory.stderr);
    assert!(
        message.contains("a-folder") && message.contains("directory"),
        "{message}"
    );

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let output = import(dir.path(), &db, &[empty]);
    assert_eq!(output.status.code(), Some(1), "an empty input is a finding");
    assert!(
        text(&output.stderr).contains("empty.jsonl")
            || text(&output.stdout).contains("empty.jsonl")
    );

    let not_sqlite = dir.path().join("notes.db");
    std::fs::write(
        &not_sqlite,
        "these are my notes, not a database\n".repeat(200),
    )
    .unwrap();
    let output = import(dir.path(), &not_sqlite, std::slice::from_ref(&good));
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output.stderr);
    assert!(
        message.contains("notes.db") && message.contains("not a showrunner database"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(&not_sqlite).unwrap(),
        "these are my notes, not a database\n".repeat(200),
        "a file that is not ours is left untouched"
    );
}

#[test]
fn read_only_database_is_refused_and_left_intact() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let files = synth(dir.path(), 500);
    let first = import(dir.path(), &db, &files);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let before = event_counts(&db);

    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let more = dir.path().join("more.jsonl");
    std::fs::write(
        &more,
        r#"{"type":"title","id":"t-new","kind":"movie","name":"New"}"#,
    )
    .unwrap();
    let output = import(dir.path(), &db, &[more]);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output.stderr);
    assert!(
        message.contains("store.db") && message.contains("read-only"),
        "{message}"
    );
    assert_eq!(event_counts(&db), before);
}

/// Kills the importer with SIGKILL part-way, re-runs it, and checks that every event is
/// stored exactly once and that the result equals an uninterrupted import.
#[test]
fn sigkill_mid_import_then_rerun_stores_every_event_exactly_once() {
    let slow = std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_some();
    let dir = tempfile::tempdir().unwrap();
    let files = synth(dir.path(), if slow { 400_000 } else { 120_000 });

    let reference = dir.path().join("reference.db");
    let clean = import(dir.path(), &reference, &files);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
    let expected = event_counts(&reference);

    let db = dir.path().join("killed.db");
    let mut child = showrunner()
        .args(["import", "--db", db.to_str().unwrap()])
        .args(&files)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some events are committed, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed_with = 0;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        let committed = if db.exists() { committed_plays(&db) } else { 0 };
        if committed > 0 {
            child.kill().unwrap();
            killed_with = committed;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
    assert!(
        killed_with > 0,
        "the import finished or never committed before it could be killed"
    );
    let partial = event_counts(&db);
    assert!(
        partial.0 < expected.0,
        "the kill came too late to test anything: {partial:?} of {expected:?}"
    );
    assert_eq!(partial.0, partial.1, "duplicates after the kill");

    let rerun = import(dir.path(), &db, &files);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun.stderr));
    assert_eq!(
        event_counts(&db),
        expected,
        "after the re-run every event is stored exactly once"
    );
}

#[test]
fn docs_examples_parse_into_the_model() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md");
    let text = std::fs::read_to_string(&docs).unwrap();
    let mut blocks = 0;
    for block in text.split("```json\n").skip(1) {
        let json = block.split("```").next().unwrap().trim();
        let value: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        match value["type"].as_str().unwrap() {
            "title" => drop(serde_json::from_value::<showrunner_model::Title>(value).unwrap()),
            "member" => drop(serde_json::from_value::<showrunner_model::Member>(value).unwrap()),
            _ => drop(serde_json::from_value::<showrunner_model::Event>(value).unwrap()),
        }
        blocks += 1;
    }
    assert!(blocks >= 10, "found only {blocks} examples");
}

/// The documented examples also go through the real importer cleanly.
#[test]
fn docs_examples_import_cleanly() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events.md");
    let docs_text = std::fs::read_to_string(&docs).unwrap();
    let mut jsonl = String::new();
    for block in docs_text.split("```json\n").skip(1) {
        jsonl.push_str(block.split("```").next().unwrap().trim());
        jsonl.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("examples.jsonl");
    std::fs::write(&path, jsonl).unwrap();
    let output = import(dir.path(), &dir.path().join("store.db"), &[path]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// The main job runs end to end on a small platform and finds the planted non-human device,
/// and nothing else.
#[test]
fn demo_runs_and_finds_the_planted_non_human_device() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&["demo", "--events", "60000", "--dir", "demo"], dir.path());
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("the planted round-the-clock device"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("false positive") && !stdout.contains("MISSED"),
        "{stdout}"
    );
    assert!(dir.path().join("demo/showrunner.db").exists());
    assert!(dir.path().join("demo/data/truth.json").exists());
    assert!(dir.path().join("demo/content-report.html").exists());
    assert!(
        stdout.contains("the report's top gap is Anime (planted: Anime)"),
        "{stdout}"
    );
}

/// Ctrl-C (SIGINT) stops the import at a batch boundary with exit code 130, keeps what was
/// committed, and a re-run completes it exactly.
#[test]
fn ctrl_c_stops_cleanly_and_keeps_what_was_imported() {
    let dir = tempfile::tempdir().unwrap();
    let files = synth(dir.path(), 120_000);
    let db = dir.path().join("interrupted.db");
    let mut child = showrunner()
        .args(["import", "--db", db.to_str().unwrap()])
        .args(&files)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut interrupted = false;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if db.exists() && committed_plays(&db) > 0 {
            let status = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            interrupted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        interrupted,
        "the import finished before it could be interrupted"
    );
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stdout));
    assert!(
        text(&output.stdout).contains("INTERRUPTED"),
        "{}",
        text(&output.stdout)
    );
    let kept = event_counts(&db);
    assert!(kept.0 > 0 && kept.0 == kept.1, "kept {kept:?}");

    let rerun = import(dir.path(), &db, &files);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun.stderr));
    let rerun = summary(&rerun);
    assert_eq!(
        rerun["events_duplicate"].as_u64().unwrap(),
        kept.0,
        "what was kept is recognised"
    );
    let total = event_counts(&db);
    assert_eq!(total.0, total.1);
    assert_eq!(total.0, kept.0 + rerun["events_accepted"].as_u64().unwrap());
}

#[test]
fn backup_copies_a_database_that_status_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let files = synth(dir.path(), 2_000);
    let db = dir.path().join("live.db");
    assert_eq!(import(dir.path(), &db, &files).status.code(), Some(0));
    let copy = dir.path().join("copy.db");
    let backup = run(
        &[
            "backup",
            "--db",
            db.to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(backup.status.code(), Some(0), "{}", text(&backup.stderr));
    let again = run(
        &[
            "backup",
            "--db",
            db.to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(again.status.code(), Some(2), "a backup never overwrites");
    assert!(
        text(&again.stderr).contains("copy.db"),
        "{}",
        text(&again.stderr)
    );

    let status = |path: &Path| {
        let output = run(
            &["status", "--json", "--db", path.to_str().unwrap()],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let live = status(&db);
    assert!(live["events"]["play"].as_u64().unwrap() > 0);
    assert_eq!(live, status(&copy));
    assert_eq!(event_counts(&db), event_counts(&copy));
}

#[test]
fn report_content_writes_html_json_csv_and_a_title_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let files = synth(dir.path(), 30_000);
    let db = dir.path().join("report.db");
    assert_eq!(import(dir.path(), &db, &files).status.code(), Some(0));
    let db = db.display().to_string();
    let range = ["--from", "2026-09-01", "--to", "2026-10-01"];
    let report = |extra: &[&str]| -> Output {
        let mut args = vec!["report", "content", "--db", &db];
        args.extend(range);
        args.extend(extra);
        run(&args, dir.path())
    };

    let json = report(&["--format", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let whole: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON report");
    assert!(whole["totals"]["views"].as_u64().unwrap() > 100);
    assert_eq!(whole["days"], 30);
    let top = whole["titles"][0]["title_id"].as_str().unwrap().to_owned();

    let html = report(&["--format", "html", "--out", "report.html"]);
    assert_eq!(html.status.code(), Some(0), "{}", text(&html.stderr));
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"));
    assert!(!page.contains("<script") && !page.contains("src=\"http"));

    let csv = report(&["--format", "csv"]);
    assert!(text(&csv.stdout).starts_with("section,path,value\n"));

    let dashboard = report(&["--format", "json", "--title", &top, "--country", "us"]);
    assert_eq!(
        dashboard.status.code(),
        Some(0),
        "{}",
        text(&dashboard.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&dashboard.stdout).unwrap();
    assert_eq!(value["performance"]["title_id"], top.as_str());
    // Read from the store for that show alone, its figures are the full report's.
    let alone = report(&["--format", "json", "--title", &top]);
    assert_eq!(alone.status.code(), Some(0), "{}", text(&alone.stderr));
    let alone: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
    assert_eq!(alone["performance"], whole["titles"][0]);

    let unknown = report(&["--title", "no-such-title"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no-such-title"));
    let backwards = run(
        &[
            "report",
            "content",
            "--db",
            &db,
            "--from",
            "2026-10-01",
            "--to",
            "2026-09-01",
        ],
        dir.path(),
    );
    assert_eq!(backwards.status.code(), Some(2));
}
