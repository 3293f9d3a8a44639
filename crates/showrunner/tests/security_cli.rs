//! End to end: `showrunner security scan` over a synthetic platform's events file and over
//! the database it was imported into finds the same things, including the planted brute
//! force, and exits 1 (findings); `--record` stores them once (a second run updates, adds
//! nothing).

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

fn findings(output: &Output) -> Vec<serde_json::Value> {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("scan --json prints JSON");
    report["findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn scan_of_file_and_database_find_the_planted_brute_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let synth = run(
        &["synth", "--events", "20000", "--seed", "3", "--out", "data"],
        dir.path(),
    );
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("data/truth.json")).expect("truth"),
    )
    .expect("truth parses");
    let account = truth["brute_force"]["account"].as_str().expect("account");

    let from_file = findings(&run(
        &[
            "security",
            "scan",
            "--events",
            "data/events.jsonl",
            "--json",
        ],
        dir.path(),
    ));
    assert!(
        from_file
            .iter()
            .any(|finding| finding["kind"] == "brute_force" && finding["accounts"][0] == account),
        "{from_file:#?}"
    );

    let import = run(
        &[
            "import",
            "--db",
            "s.db",
            "data/catalog.jsonl",
            "data/members.jsonl",
            "data/events.jsonl",
        ],
        dir.path(),
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let from_db = findings(&run(
        &["security", "scan", "--db", "s.db", "--json"],
        dir.path(),
    ));
    assert_eq!(from_db, from_file);

    // Recorded: every finding new the first time, updated the second.
    for (round, (new, updated)) in [(from_db.len(), 0), (0, from_db.len())]
        .into_iter()
        .enumerate()
    {
        let output = run(
            &["security", "scan", "--db", "s.db", "--json", "--record"],
            dir.path(),
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
        assert_eq!(
            report["recorded"],
            serde_json::json!({"new": new, "updated": updated}),
            "round {round}"
        );
    }
    {
        use showrunner_store::{FindingFilter, FindingStore, SqliteStore};
        let store = SqliteStore::open_read_only(&dir.path().join("s.db")).expect("opens");
        let stored = store.findings(&FindingFilter::default()).expect("reads");
        assert_eq!(stored.len(), from_db.len());
        assert!(
            stored
                .iter()
                .any(|r| r.finding.kind == "brute_force" && r.finding.key == account),
            "{stored:#?}"
        );
    }
    let without_db = run(
        &[
            "security",
            "scan",
            "--events",
            "data/events.jsonl",
            "--record",
        ],
        dir.path(),
    );
    assert_eq!(without_db.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&without_db.stderr).contains("--db"));

    // The table names the kind and the account too.
    let table = run(
        &["security", "scan", "--events", "data/events.jsonl"],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("brute_force") && text.contains(account),
        "{text}"
    );
}
