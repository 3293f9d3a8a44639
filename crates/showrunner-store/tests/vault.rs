//! Personal data at rest: emails, names, login accounts and IP addresses never reach the
//! database file or its WAL in the clear, read back intact with the right master key, are
//! found by email through the blind index, survive a master-key rotation, and are gone for
//! good once a member's data keys are erased.

mod common;

use std::path::Path;

use common::at;
use showrunner_model::{
    Batch, Event, EventBody, EventKind, Login, LoginOutcome, ProblemKind, Quarantined,
};
use showrunner_store::vault::ERASED;
use showrunner_store::{AuditEntry, AuditStore, AuditVerification};
use showrunner_store::{
    EventFilter, Keyring, MasterKey, QuarantineFilter, SqliteStore, Store, StoreError, VaultError,
    VaultStore,
};

const EMAIL: &str = "ada.lovelace@analytical.example";
const IP: &str = "198.51.100.213";
const NAME: &str = "Augusta Ada King";
const AUDIT_IP: &str = "203.0.113.77";

fn login(id: &str, account: &str, ip: &str) -> Event {
    Event {
        id: id.into(),
        ts: at(60),
        body: EventBody::Login(Login {
            account: account.into(),
            outcome: LoginOutcome::Success,
            ip: ip.into(),
            country: Some("GB".into()),
            city: None,
            latitude: None,
            longitude: None,
            asn: Some(2856),
            device: Some("tv".into()),
            user_agent: None,
        }),
    }
}

fn personal_batch() -> Batch {
    let mut ada = common::full_member("ada");
    ada.email = Some(showrunner_model::Personal::new(EMAIL.into()));
    ada.name = Some(showrunner_model::Personal::new(NAME.into()));
    let other = common::full_member("bob");
    Batch {
        titles: vec![common::movie("t1", Some(3_600))],
        members: vec![ada, other],
        events: vec![
            login("l1", EMAIL, IP),
            login("l2", "bob@example.com", "192.0.2.44"),
        ],
        quarantined: vec![Quarantined {
            ..common::quarantined(
                "logins.jsonl",
                7,
                &format!(r#"{{"account":"{EMAIL}","ip":"{IP}","ts":"yesterday"}}"#),
                ProblemKind::Malformed,
            )
        }],
    }
}

/// Every file SQLite keeps for the database.
fn raw_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(found) = std::fs::read(&name) {
            bytes.extend(found);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn logins(store: &SqliteStore) -> Vec<Login> {
    store
        .events(&EventFilter::all(EventKind::Login))
        .unwrap()
        .into_iter()
        .map(|event| match event.body {
            EventBody::Login(login) => login,
            other => panic!("not a login: {other:?}"),
        })
        .collect()
}

#[test]
fn personal_data_is_only_ciphertext_in_the_file_and_the_wal_and_reads_back_intact() {
    let directory = tempfile::tempdir().unwrap();
    let db = directory.path().join("vault.db");
    let key = MasterKey::generate();
    let mut store = SqliteStore::open_with_keyring(&db, Keyring::single(key.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();
    let audit_entry = AuditEntry {
        at: at(90),
        actor: "account:1:ada".into(),
        action: "login".into(),
        target: String::new(),
        outcome: "ok".into(),
        ip: AUDIT_IP.into(),
        detail: "{}".into(),
    };
    store.append_audit(&audit_entry).unwrap();

    // While the store is open the data sits in the WAL; afterwards in the main file.
    let bytes = raw_bytes(&db);
    assert!(contains(&bytes, "bob"), "the scan can find plain ids");
    for secret in [
        EMAIL,
        IP,
        NAME,
        "Dana",
        "bob@example.com",
        "192.0.2.44",
        AUDIT_IP,
    ] {
        assert!(!contains(&bytes, secret), "{secret} is stored in the clear");
    }
    assert!(!contains(&bytes, &key.to_hex()), "the master key is stored");
    drop(store);
    let bytes = raw_bytes(&db);
    for secret in [EMAIL, IP, NAME, AUDIT_IP] {
        assert!(
            !contains(&bytes, secret),
            "{secret} is in the file after close"
        );
    }

    let store = SqliteStore::open_with_keyring(&db, Keyring::single(key)).unwrap();
    let ada = store.member("ada").unwrap().unwrap();
    assert_eq!(ada.email.unwrap().expose(), EMAIL);
    assert_eq!(ada.name.unwrap().expose(), NAME);
    assert_eq!(ada.profiles[0].name.as_ref().unwrap().expose(), "Dana");
    let found = logins(&store);
    assert_eq!(found.len(), 2);
    assert!(found.iter().any(|l| l.account == EMAIL && l.ip == IP));
    let quarantined = store.quarantine(&QuarantineFilter::default()).unwrap();
    assert!(quarantined[0].raw.contains(EMAIL));
    // The audit row reads back with its IP, and the chain (hashed over the plain entry)
    // still verifies.
    let audit = store.audit_records(0, 10).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry, audit_entry);
    assert!(matches!(
        store.verify_audit().unwrap(),
        AuditVerification::Intact { rows: 1, .. }
    ));

    // The blind index finds a member by email, whatever the case and spacing.
    let by_email = store
        .member_by_email(&format!("  {}  ", EMAIL.to_uppercase()))
        .unwrap()
        .unwrap();
    assert_eq!(by_email.id, "ada");
    assert_eq!(store.member_by_email("nobody@example.com").unwrap(), None);
}

#[test]
fn requarantining_a_row_does_not_add_it_twice_although_its_ciphertext_differs() {
    let directory = tempfile::tempdir().unwrap();
    let db = directory.path().join("q.db");
    let mut store =
        SqliteStore::open_with_keyring(&db, Keyring::single(MasterKey::generate())).unwrap();
    let first = store.write_batch(&personal_batch()).unwrap();
    let second = store.write_batch(&personal_batch()).unwrap();
    assert_eq!(first.quarantined_new, 1);
    assert_eq!(second.quarantined_new, 0);
    assert_eq!(second.events_duplicate, 2);
}

#[test]
fn the_wrong_master_key_is_refused_by_name() {
    let directory = tempfile::tempdir().unwrap();
    let db = directory.path().join("k.db");
    let right = MasterKey::generate();
    let mut store = SqliteStore::open_with_keyring(&db, Keyring::single(right.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();
    drop(store);

    let wrong = MasterKey::generate();
    let error = SqliteStore::open_with_keyring(&db, Keyring::single(wrong.clone())).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Vault(VaultError::UnknownMasterKey { .. })
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains(&right.id_hex()), "{message}");
    assert!(message.contains(&wrong.id_hex()), "{message}");
    assert!(
        !message.contains(&*right.to_hex()),
        "the key itself leaks: {message}"
    );
    let error = SqliteStore::open_read_only_with_keyring(&db, Keyring::single(wrong)).unwrap_err();
    assert!(matches!(error, StoreError::Vault(_)), "{error}");
}

#[test]
fn rotation_rewraps_every_data_key_under_the_new_master_key_while_readers_keep_reading() {
    let directory = tempfile::tempdir().unwrap();
    let db = directory.path().join("r.db");
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let mut store = SqliteStore::open_with_keyring(&db, Keyring::single(old.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();
    // A reader (a running service) that only knows the old key.
    let reader =
        SqliteStore::open_read_only_with_keyring(&db, Keyring::single(old.clone())).unwrap();
    assert_eq!(logins(&reader).len(), 2);

    let mut rotating =
        SqliteStore::open_with_keyring(&db, Keyring::single(new.clone()).with_other(old.clone()))
            .unwrap();
    let mut reported = Vec::new();
    let summary = rotating
        .rewrap_data_keys(&mut |done, total| reported.push((done, total)))
        .unwrap();
    // The blind index key, ada, bob, the two login accounts, the quarantine key.
    assert_eq!(summary.total, 6);
    assert_eq!(summary.rewrapped, 6);
    assert_eq!(reported.last(), Some(&(6, 6)));
    // Nothing left to do the second time.
    assert_eq!(
        rotating.rewrap_data_keys(&mut |_, _| {}).unwrap().rewrapped,
        0
    );
    drop(rotating);

    // Only the new key is needed now, and the old one alone no longer opens the store.
    let after = SqliteStore::open_with_keyring(&db, Keyring::single(new)).unwrap();
    assert_eq!(
        after
            .member("ada")
            .unwrap()
            .unwrap()
            .email
            .unwrap()
            .expose(),
        EMAIL
    );
    assert!(logins(&after).iter().any(|l| l.ip == IP));
    assert!(SqliteStore::open_with_keyring(&db, Keyring::single(old)).is_err());
}

#[test]
fn erasing_a_member_destroys_their_keys_and_leaves_others_readable() {
    let directory = tempfile::tempdir().unwrap();
    let db = directory.path().join("e.db");
    let key = MasterKey::generate();
    let mut store = SqliteStore::open_with_keyring(&db, Keyring::single(key.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();

    // The member and the account their logins tried (their email).
    assert_eq!(store.erase_personal_data("ada").unwrap(), 2);
    let ada = store.member("ada").unwrap().unwrap();
    assert_eq!(ada.email, None);
    assert_eq!(ada.name, None);
    assert_eq!(store.member_by_email(EMAIL).unwrap(), None);
    let found = logins(&store);
    let erased = found.iter().find(|l| l.ip != "192.0.2.44").unwrap();
    assert_eq!(
        (erased.account.as_str(), erased.ip.as_str()),
        (ERASED, ERASED)
    );
    let bob = found.iter().find(|l| l.ip == "192.0.2.44").unwrap();
    assert_eq!(bob.account, "bob@example.com");
    assert_eq!(
        store
            .member("bob")
            .unwrap()
            .unwrap()
            .email
            .unwrap()
            .expose(),
        "bob@example.com"
    );
    // Erasing again finds nothing more to destroy.
    assert_eq!(store.erase_personal_data("ada").unwrap(), 0);
    drop(store);

    // The erasure is durable: a fresh process reads the same.
    let reopened = SqliteStore::open_with_keyring(&db, Keyring::single(key)).unwrap();
    assert!(logins(&reopened).iter().any(|l| l.ip == ERASED));
}
