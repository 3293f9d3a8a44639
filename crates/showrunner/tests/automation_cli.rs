//! End-to-end tests of `showrunner models`, `jobs` and `restore`: the registry through
//! `train --publish`, promote and rollback; a configured job run now and listed; a backup
//! restored into a new file (never over one) that reads the same.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

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

fn ok(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// 12 movies in 3 genres; 9 members who each watch the movies of one genre.
fn platform(dir: &Path) {
    let mut lines = Vec::new();
    for t in 0..12 {
        lines.push(format!(
            r#"{{"type":"title","id":"t{t}","kind":"movie","name":"Title {t}","genres":["g{}"],"duration_s":5400}}"#,
            t % 3
        ));
    }
    let mut n = 0;
    for m in 0..9 {
        lines.push(format!(r#"{{"type":"member","id":"m{m}","country":"US"}}"#));
        for t in (0..12).filter(|t| t % 3 == m % 3) {
            n += 1;
            lines.push(format!(
                r#"{{"type":"play","id":"p{n}","ts":"2026-10-{:02}T20:00:00Z","member_id":"m{m}","title_id":"t{t}","session_id":"s{n}","action":"stop","position_s":5400,"watched_s":5400}}"#,
                1 + t
            ));
        }
    }
    fs::write(dir.join("platform.jsonl"), lines.join("\n")).unwrap();
    ok(&run(
        &["import", "--db", "db.sqlite", "platform.jsonl"],
        dir,
    ));
}

#[test]
fn models_are_registered_promoted_and_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    platform(d);
    for _ in 0..2 {
        let out = run(
            &[
                "train",
                "--db",
                "db.sqlite",
                "--publish",
                "--algo",
                "ease",
                "--out",
                "model",
            ],
            d,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let list = |d: &Path| -> Vec<(i64, String)> {
        let json: serde_json::Value = serde_json::from_str(&ok(&run(
            &["models", "list", "--db", "db.sqlite", "--json"],
            d,
        )))
        .unwrap();
        json.as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["version"].as_i64().unwrap(),
                    m["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(list(d), [(2, "live".into()), (1, "retired".into())]);
    let table = ok(&run(&["models", "list", "--db", "db.sqlite"], d));
    assert!(
        table.contains("showrunner train") && table.contains("ease"),
        "{table}"
    );

    let out = ok(&run(&["models", "rollback", "--db", "db.sqlite"], d));
    assert!(out.contains("version 1 is live again"), "{out}");
    assert_eq!(list(d), [(2, "retired".into()), (1, "live".into())]);
    ok(&run(&["models", "promote", "2", "--db", "db.sqlite"], d));
    assert_eq!(list(d)[0], (2, "live".into()));

    // Shadowing: not the live version; another one is stored until stopped.
    let live = run(&["models", "shadow", "2", "--db", "db.sqlite"], d);
    assert_eq!(live.status.code(), Some(2));
    assert!(
        text(&live.stderr).contains("live model"),
        "{}",
        text(&live.stderr)
    );
    let out = ok(&run(&["models", "shadow", "1", "--db", "db.sqlite"], d));
    assert!(out.contains("shadowing version 1"), "{out}");
    let out = ok(&run(
        &["models", "shadow", "--status", "--db", "db.sqlite"],
        d,
    ));
    assert!(out.contains("shadowing version 1 since"), "{out}");
    let out = ok(&run(
        &["models", "shadow", "--stop", "--db", "db.sqlite"],
        d,
    ));
    assert!(out.contains("stopped shadowing version 1"), "{out}");
    let out = ok(&run(&["models", "shadow", "--db", "db.sqlite"], d));
    assert!(out.contains("no model version is shadowed"), "{out}");

    let missing = run(&["models", "promote", "9", "--db", "db.sqlite"], d);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("no model version 9"));
    let nowhere = run(&["models", "list", "--db", "nowhere.sqlite"], d);
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(
        !d.join("nowhere.sqlite").exists(),
        "never creates a database"
    );
}

#[test]
fn a_configured_job_runs_now_and_a_backup_restores_into_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    platform(d);
    fs::write(
        d.join("showrunner.toml"),
        "db = \"db.sqlite\"\n[jobs.backup]\nschedule = \"0 2 * * *\"\ndir = \"backups\"\nkeep = 2\n",
    )
    .unwrap();
    ok(&run(
        &["jobs", "run", "backup", "--config", "showrunner.toml"],
        d,
    ));
    let unknown = run(
        &["jobs", "run", "retrain", "--config", "showrunner.toml"],
        d,
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("no job named \"retrain\""),
        "{}",
        text(&unknown.stderr)
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(&run(
        &["jobs", "list", "--json", "--config", "showrunner.toml"],
        d,
    )))
    .unwrap();
    assert_eq!(listed["schedules"][0]["job"], "backup");
    assert_eq!(listed["runs"][0]["outcome"], "succeeded");
    let backup = listed["runs"][0]["figures"]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(d.join(&backup).is_file(), "{backup}");

    ok(&run(
        &["restore", "--from", &backup, "--db", "restored.sqlite"],
        d,
    ));
    let again = run(
        &["restore", "--from", &backup, "--db", "restored.sqlite"],
        d,
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists"));
    let status = |db: &str| ok(&run(&["status", "--db", db, "--json"], d));
    assert_eq!(status("db.sqlite"), status("restored.sqlite"));
}
