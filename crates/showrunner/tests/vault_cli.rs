//! Personal data at rest, through the binary: a synthetic platform imported with a key file
//! leaves no member email or login IP in the clear in the database or its WAL, and
//! `showrunner keys rotate` moves the store to a new master key that then reads it alone.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use showrunner_model::EventKind;
use showrunner_store::{EventFilter, Keyring, MasterKey, SqliteStore, Store, VaultStore};

fn run(args: &[&str], dir: &Path, key_file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(args)
        .current_dir(dir)
        .env_remove("SHOWRUNNER_DB")
        .env_remove("SHOWRUNNER_MASTER_KEY")
        .env("SHOWRUNNER_MASTER_KEY_FILE", key_file)
        .stdin(Stdio::null())
        .output()
        .expect("the showrunner binary runs")
}

fn ok(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn raw_bytes(db: &Path) -> Vec<u8> {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            std::fs::read(name).ok()
        })
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The first value of `"field":"…"` in a JSONL file.
fn first_value(path: &Path, field: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let pattern = format!("\"{field}\":\"");
    let start = text
        .find(&pattern)
        .unwrap_or_else(|| panic!("{field} in {path:?}"))
        + pattern.len();
    text[start..start + text[start..].find('"').unwrap()].to_owned()
}

#[test]
fn imported_personal_data_is_ciphertext_and_survives_a_master_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let key_file = keys.join("master.key");
    let old = MasterKey::generate();
    old.write_new_file(&key_file).unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("db").join("platform.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();

    ok(
        run(
            &[
                "synth",
                "--events",
                "20000",
                "--seed",
                "5",
                "--out",
                data.to_str().unwrap(),
            ],
            dir.path(),
            &key_file,
        ),
        "synth",
    );
    let members = data.join("members.jsonl");
    let events = data.join("events.jsonl");
    ok(
        run(
            &[
                "import",
                "--db",
                db.to_str().unwrap(),
                data.join("catalog.jsonl").to_str().unwrap(),
                members.to_str().unwrap(),
                events.to_str().unwrap(),
            ],
            dir.path(),
            &key_file,
        ),
        "import",
    );
    let email = first_value(&members, "email");
    let ip = first_value(&events, "ip");
    let bytes = raw_bytes(&db);
    assert!(!contains(&bytes, &email), "{email} is stored in the clear");
    assert!(!contains(&bytes, &ip), "{ip} is stored in the clear");

    let store =
        SqliteStore::open_read_only_with_keyring(&db, Keyring::single(old.clone())).unwrap();
    let member = store
        .member_by_email(&email)
        .unwrap()
        .expect("found by email");
    assert_eq!(member.email.unwrap().expose(), &email);
    let logins = store.events(&EventFilter::all(EventKind::Login)).unwrap();
    assert!(!logins.is_empty());
    drop(store);

    let output = ok(
        run(
            &["keys", "rotate", "--db", db.to_str().unwrap()],
            dir.path(),
            &key_file,
        ),
        "keys rotate",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&old.id_hex()), "{stderr}");
    let new = MasterKey::read_file(&key_file).unwrap();
    assert_ne!(new.id(), old.id());
    let previous = MasterKey::read_file(&keys.join("master.key.previous")).unwrap();
    assert_eq!(previous.id(), old.id());
    assert!(!keys.join("master.key.next").exists());

    // The new key alone reads everything; the old key alone no longer opens the store.
    let store = SqliteStore::open_read_only_with_keyring(&db, Keyring::single(new)).unwrap();
    assert_eq!(
        store.member_by_email(&email).unwrap().unwrap().id,
        member.id
    );
    assert_eq!(
        store.events(&EventFilter::all(EventKind::Login)).unwrap(),
        logins
    );
    assert!(SqliteStore::open_read_only_with_keyring(&db, Keyring::single(old)).is_err());
}
