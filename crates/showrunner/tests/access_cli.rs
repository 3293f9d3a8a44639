//! `showrunner accounts create` and `showrunner audit verify` end to end: the password comes
//! from stdin and is checked like the API checks it, key and account creation land in the
//! audit log, and a row edited directly in SQLite makes `audit verify` exit 1 naming it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn showrunner(args: &[&str], dir: &Path, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(args)
        .current_dir(dir)
        .env_remove("SHOWRUNNER_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    child.wait_with_output().expect("finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn accounts_and_keys_are_audited_and_tampering_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let create = |user: &str, password: &str| {
        showrunner(
            &[
                "accounts",
                "create",
                "--db",
                "db.sqlite",
                "--user",
                user,
                "--role",
                "admin",
            ],
            dir.path(),
            &format!("{password}\n"),
        )
    };
    let made = create("alice", "correct horse battery staple");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let again = create("ALICE", "correct horse battery staple");
    assert_eq!(
        again.status.code(),
        Some(2),
        "a taken name: {}",
        text(&again.stderr)
    );
    assert!(text(&again.stderr).contains("already exists"));
    let weak = create("bob", "password12345678");
    assert_eq!(weak.status.code(), Some(2));
    assert!(
        text(&weak.stderr).contains("weak_password"),
        "{}",
        text(&weak.stderr)
    );
    assert!(
        !text(&weak.stderr).contains("password12345678"),
        "the password is not echoed"
    );
    let key = showrunner(
        &["keys", "create", "--db", "db.sqlite", "--scope", "read"],
        dir.path(),
        "",
    );
    assert!(key.status.success());

    let verify = || showrunner(&["audit", "verify", "--db", "db.sqlite"], dir.path(), "");
    let ok = verify();
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).starts_with("OK: 2 audit entries"),
        "{}",
        text(&ok.stdout)
    );

    let raw = rusqlite::Connection::open(dir.path().join("db.sqlite")).expect("opens");
    raw.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         UPDATE audit_log SET detail = '{\"scope\":\"admin\"}' WHERE id = 2;",
    )
    .expect("tampers");
    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        text(&broken.stdout).starts_with("BROKEN at entry 2"),
        "{}",
        text(&broken.stdout)
    );
}
