//! Personal data at rest, on both backends: emails, names, login accounts and IP addresses
//! never reach the database (on SQLite its file and WAL, on PostgreSQL any text or bytea
//! column of any table) in the clear, read back intact with the right master key, are found
//! by email through the blind index, survive a master-key rotation, and are gone for good
//! once a member's data keys are erased. On PostgreSQL, values an earlier version wrote in
//! the clear are sealed by migration 13.

mod common;

use std::path::Path;

use common::{Backend, TestLocation, at, mentions};
use showrunner_model::{
    Batch, Event, EventBody, EventKind, Login, LoginOutcome, ProblemKind, Quarantined,
};
use showrunner_store::vault::ERASED;
use showrunner_store::{
    AuditEntry, AuditStore, AuditVerification, FindingFilter, FindingStore, NewFinding, Recorded,
};
use showrunner_store::{
    EventFilter, Keyring, MasterKey, PgStore, QuarantineFilter, SqliteStore, StoreError,
    VaultError, VaultStore,
};

const EMAIL: &str = "ada.lovelace@analytical.example";
const IP: &str = "198.51.100.213";
const NAME: &str = "Augusta Ada King";
/// A profile name. Every secret the scans look for has a character base64 never produces
/// (a space, `@`, `.`), so no ciphertext can contain it by chance.
const PROFILE: &str = "Little Ada";
const AUDIT_IP: &str = "203.0.113.77";

/// What these tests use of a store.
trait VaultTestStore: VaultStore + AuditStore + FindingStore {}
impl<S: VaultStore + AuditStore + FindingStore> VaultTestStore for S {}

fn open(location: &TestLocation, keyring: Keyring) -> Result<Box<dyn VaultTestStore>, StoreError> {
    Ok(match location.backend() {
        Backend::Sqlite => Box::new(SqliteStore::open_with_keyring(
            Path::new(location.location()),
            keyring,
        )?),
        Backend::Postgres => Box::new(PgStore::open_with_keyring(location.location(), keyring)?),
    })
}

fn open_read_only(
    location: &TestLocation,
    keyring: Keyring,
) -> Result<Box<dyn VaultTestStore>, StoreError> {
    Ok(match location.backend() {
        Backend::Sqlite => Box::new(SqliteStore::open_read_only_with_keyring(
            Path::new(location.location()),
            keyring,
        )?),
        Backend::Postgres => Box::new(PgStore::open_read_only_with_keyring(
            location.location(),
            keyring,
        )?),
    })
}

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
    ada.profiles[0].name = Some(showrunner_model::Personal::new(PROFILE.into()));
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

fn audit_entry() -> AuditEntry {
    AuditEntry {
        at: at(90),
        actor: "account:1:ada".into(),
        action: "login".into(),
        target: String::new(),
        outcome: "ok".into(),
        ip: AUDIT_IP.into(),
        detail: "{}".into(),
    }
}

fn finding() -> NewFinding {
    NewFinding {
        kind: "credential_stuffing".into(),
        severity: "high".into(),
        key: EMAIL.into(),
        opened_at: at(100),
        last_seen: at(110),
        detector: "v1".into(),
        evidence: format!(r#"{{"ips":["{IP}"]}}"#),
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

/// Whether the database holds `needle` anywhere: on SQLite in the bytes of its file and
/// WAL, on PostgreSQL in any text or bytea column of any table (cast to text).
fn stored_anywhere(location: &TestLocation, needle: &str) -> bool {
    match location.backend() {
        Backend::Sqlite => contains(&raw_bytes(Path::new(location.location())), needle),
        Backend::Postgres => !mentions(location, needle).is_empty(),
    }
}

fn logins(store: &dyn VaultTestStore) -> Vec<Login> {
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

/// Everything personal the fixture writes reads back, opened.
fn check_reads_back(store: &dyn VaultTestStore) {
    // Without personal data: everything else of the member, and nothing sealed (neither
    // plain text nor ciphertext).
    let public = store.member_without_personal_data("ada").unwrap().unwrap();
    let ada = store.member("ada").unwrap().unwrap();
    assert_eq!((&public.email, &public.name), (&None, &None));
    assert!(
        public.profiles.iter().all(|p| p.name.is_none()),
        "{public:?}"
    );
    assert_eq!(
        (&public.id, &public.country, &public.plan, public.signup_at),
        (&ada.id, &ada.country, &ada.plan, ada.signup_at)
    );
    let profiles = |m: &showrunner_model::Member| {
        m.profiles
            .iter()
            .map(|p| (p.id.clone(), p.maturity))
            .collect::<Vec<_>>()
    };
    assert_eq!(profiles(&public), profiles(&ada));
    assert!(
        store
            .member_without_personal_data("nobody")
            .unwrap()
            .is_none()
    );
    assert_eq!(ada.email.unwrap().expose(), EMAIL);
    assert_eq!(ada.name.unwrap().expose(), NAME);
    assert_eq!(ada.profiles[0].name.as_ref().unwrap().expose(), PROFILE);
    let found = logins(store);
    assert_eq!(found.len(), 2);
    assert!(found.iter().any(|l| l.account == EMAIL && l.ip == IP));
    let quarantined = store.quarantine(&QuarantineFilter::default()).unwrap();
    assert!(quarantined[0].raw.contains(EMAIL));
    assert_eq!(quarantined[0].problem.detail, "bad value on line 7");
    // The audit row reads back with its IP, and the chain (hashed over the plain entry)
    // still verifies.
    let audit = store.audit_records(0, 10).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry, audit_entry());
    assert!(matches!(
        store.verify_audit().unwrap(),
        AuditVerification::Intact { rows: 1, .. }
    ));
    // The finding reads back, and is found by its key.
    let by_key = store
        .findings(&FindingFilter {
            key: Some(EMAIL.into()),
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key[0].finding, finding());

    // The blind index finds a member by email, whatever the case and spacing.
    let by_email = store
        .member_by_email(&format!("  {}  ", EMAIL.to_uppercase()))
        .unwrap()
        .unwrap();
    assert_eq!(by_email.id, "ada");
    assert_eq!(store.member_by_email("nobody@example.com").unwrap(), None);
}

/// Secrets of the fixture that must never be stored in the clear.
const SECRETS: [&str; 8] = [
    EMAIL,
    IP,
    NAME,
    PROFILE,
    "Dana Example",
    "bob@example.com",
    "192.0.2.44",
    AUDIT_IP,
];

fn personal_data_is_only_ciphertext_in_the_database_and_reads_back_intact(backend: Backend) {
    let location = backend.location();
    let key = MasterKey::generate();
    let mut store = open(&location, Keyring::single(key.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();
    store.append_audit(&audit_entry()).unwrap();
    assert!(matches!(
        store.record_finding(&finding()).unwrap(),
        Recorded::New(_)
    ));

    // While a SQLite store is open the data sits in the WAL; afterwards in the main file.
    assert!(
        stored_anywhere(&location, "bob"),
        "the scan can find plain ids"
    );
    assert!(
        stored_anywhere(&location, "credential_stuffing"),
        "the scan can find plain columns"
    );
    for secret in SECRETS {
        assert!(
            !stored_anywhere(&location, secret),
            "{secret} is stored in the clear"
        );
    }
    assert!(
        !stored_anywhere(&location, &key.to_hex()),
        "the master key is stored"
    );
    drop(store);
    for secret in [EMAIL, IP, NAME, AUDIT_IP] {
        assert!(
            !stored_anywhere(&location, secret),
            "{secret} is in the database after close"
        );
    }

    let mut store = open(&location, Keyring::single(key)).unwrap();
    check_reads_back(store.as_ref());
    // The same finding seen again continues the stored one (its subject is the keyed hash).
    assert!(matches!(
        store.record_finding(&finding()).unwrap(),
        Recorded::Updated(_)
    ));
}

fn requarantining_a_row_does_not_add_it_twice_although_its_ciphertext_differs(backend: Backend) {
    let location = backend.location();
    let mut store = open(&location, Keyring::single(MasterKey::generate())).unwrap();
    let first = store.write_batch(&personal_batch()).unwrap();
    let second = store.write_batch(&personal_batch()).unwrap();
    assert_eq!(first.quarantined_new, 1);
    assert_eq!(second.quarantined_new, 0);
    assert_eq!(second.events_duplicate, 2);
}

fn the_wrong_master_key_is_refused_by_name(backend: Backend) {
    let location = backend.location();
    let right = MasterKey::generate();
    let mut store = open(&location, Keyring::single(right.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();
    drop(store);

    let wrong = MasterKey::generate();
    let error = open(&location, Keyring::single(wrong.clone()))
        .map(|_| ())
        .unwrap_err();
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
    let error = open_read_only(&location, Keyring::single(wrong))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(error, StoreError::Vault(_)), "{error}");
}

fn rotation_rewraps_every_data_key_under_the_new_master_key_while_readers_keep_reading(
    backend: Backend,
) {
    let location = backend.location();
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let mut store = open(&location, Keyring::single(old.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();
    // A reader (a running service) that only knows the old key.
    let reader = open_read_only(&location, Keyring::single(old.clone())).unwrap();
    assert_eq!(logins(reader.as_ref()).len(), 2);

    let mut rotating = open(
        &location,
        Keyring::single(new.clone()).with_other(old.clone()),
    )
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
    let after = open(&location, Keyring::single(new)).unwrap();
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
    assert!(logins(after.as_ref()).iter().any(|l| l.ip == IP));
    assert!(open(&location, Keyring::single(old)).is_err());
}

fn erasing_a_member_destroys_their_keys_and_leaves_others_readable(backend: Backend) {
    let location = backend.location();
    let key = MasterKey::generate();
    let mut store = open(&location, Keyring::single(key.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();

    // The member and the account their logins tried (their email).
    assert_eq!(store.erase_personal_data("ada").unwrap(), 2);
    let ada = store.member("ada").unwrap().unwrap();
    assert_eq!(ada.email, None);
    assert_eq!(ada.name, None);
    assert_eq!(
        ada.profiles[0]
            .name
            .as_ref()
            .map(|name| name.expose().as_str()),
        Some(ERASED)
    );
    assert_eq!(store.member_by_email(EMAIL).unwrap(), None);
    let found = logins(store.as_ref());
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
    let reopened = open(&location, Keyring::single(key)).unwrap();
    assert!(logins(reopened.as_ref()).iter().any(|l| l.ip == ERASED));
}

backend_tests!(
    personal_data_is_only_ciphertext_in_the_database_and_reads_back_intact,
    requarantining_a_row_does_not_add_it_twice_although_its_ciphertext_differs,
    the_wrong_master_key_is_refused_by_name,
    rotation_rewraps_every_data_key_under_the_new_master_key_while_readers_keep_reading,
    erasing_a_member_destroys_their_keys_and_leaves_others_readable,
);

/// A PostgreSQL database written by a version that stored personal data in the clear (no
/// data keys, plain values, findings keyed by the key's own bytes) is sealed by migration
/// 13 when a store opens it: nothing personal is left in the clear, and everything reads
/// back, is found by email and by finding key, and the audit chain still verifies.
/// Migration 18 moves SQLite's data keys from a table clustered by reference into one that
/// appends: a store written by version 17 opens, every sealed value still opens, and new
/// keys land in the new table.
#[test]
fn sqlite_data_keys_of_a_version_17_store_still_open_after_migration_18() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("store.db");
    let key = MasterKey::generate();
    let mut store: Box<dyn VaultTestStore> =
        Box::new(SqliteStore::open_with_keyring(&path, Keyring::single(key.clone())).unwrap());
    store.write_batch(&personal_batch()).unwrap();
    store.append_audit(&audit_entry()).unwrap();
    assert!(matches!(
        store.record_finding(&finding()).unwrap(),
        Recorded::New(_)
    ));
    drop(store);
    // Back to version 17's shape, as that version left it.
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "BEGIN; \
             CREATE TABLE data_keys_v17 (reference BLOB NOT NULL PRIMARY KEY, \
                 master_id BLOB NOT NULL, wrapped BLOB NOT NULL, created_at INTEGER NOT NULL) \
                 WITHOUT ROWID; \
             INSERT INTO data_keys_v17 SELECT reference, master_id, wrapped, created_at \
                 FROM data_keys; \
             DROP TABLE data_keys; \
             ALTER TABLE data_keys_v17 RENAME TO data_keys; \
             CREATE INDEX data_keys_by_master_age ON data_keys (master_id, created_at); \
             DELETE FROM schema_migrations WHERE version = 18; \
             PRAGMA user_version = 17; \
             COMMIT;",
        )
        .unwrap();
    let keys_before: i64 = connection
        .query_row("SELECT count(*) FROM data_keys", [], |row| row.get(0))
        .unwrap();
    assert!(keys_before >= 3, "{keys_before} keys");
    drop(connection);

    let mut store: Box<dyn VaultTestStore> =
        Box::new(SqliteStore::open_with_keyring(&path, Keyring::single(key)).unwrap());
    check_reads_back(&*store);
    // A new subject's key is stored (and used) after the migration.
    store
        .write_batch(&Batch {
            events: vec![login("l3", "carol@example.com", "192.0.2.99")],
            ..Batch::default()
        })
        .unwrap();
    let accounts: Vec<String> = logins(&*store).into_iter().map(|l| l.account).collect();
    assert!(
        accounts.contains(&"carol@example.com".to_owned()),
        "{accounts:?}"
    );
    drop(store);
    let connection = rusqlite::Connection::open(&path).unwrap();
    let (keys_after, appended): (i64, i64) = connection
        .query_row("SELECT count(*), max(id) FROM data_keys", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!((keys_after, appended), (keys_before + 1, keys_before + 1));
}

#[test]
fn postgres_plain_values_from_before_sealing_are_sealed_by_migration_13() {
    const EXTRA_MEMBERS: usize = 1_200;
    const PLAIN_PROFILE: &str = "Plain Profile";
    if !Backend::Postgres.available() {
        return;
    }
    let location = Backend::Postgres.location();
    let key = MasterKey::generate();
    let mut store = open(&location, Keyring::single(key.clone())).unwrap();
    store.write_batch(&personal_batch()).unwrap();
    store.append_audit(&audit_entry()).unwrap();
    store.record_finding(&finding()).unwrap();
    // Enough members for several chunks of the migration's walk, with ids whose byte order
    // and whose order in the database's collation may differ.
    let many: Vec<_> = (0..EXTRA_MEMBERS)
        .map(|n| {
            let id = if n % 2 == 0 {
                format!("Zed-{n}")
            } else {
                format!("abe_{n}")
            };
            common::full_member(&id)
        })
        .collect();
    store
        .write_batch(&Batch {
            members: many,
            ..Batch::default()
        })
        .unwrap();
    drop(store);
    // The state the earlier backend left: every value plain, migration 13 not applied.
    let profiles = serde_json::to_string(&personal_batch().members[0].profiles).unwrap();
    let mut plain_profiles = personal_batch().members[1].profiles.clone();
    plain_profiles[0].name = Some(showrunner_model::Personal::new(PLAIN_PROFILE.into()));
    let evidence = finding().evidence;
    location
        .raw_sql(
            "",
            &format!(
                "DELETE FROM schema_migrations WHERE version >= 13; \
                 DELETE FROM data_keys; \
                 UPDATE members SET email = id || '@plain.example', name = 'Dana Example', \
                     email_index = NULL, profiles = '{}' WHERE id <> 'ada'; \
                 UPDATE members SET email = 'bob@example.com' WHERE id = 'bob'; \
                 UPDATE members SET email = '{EMAIL}', name = '{NAME}', email_index = NULL, \
                     profiles = '{profiles}' WHERE id = 'ada'; \
                 UPDATE logins SET account = '{EMAIL}', ip = '{IP}' WHERE id = 'l1'; \
                 UPDATE logins SET account = 'bob@example.com', ip = '192.0.2.44' \
                     WHERE id = 'l2'; \
                 UPDATE quarantine SET raw = '{raw}', detail = 'bad value on line 7'; \
                 ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change; \
                 UPDATE audit_log SET ip = '{AUDIT_IP}'; \
                 ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change; \
                 UPDATE findings SET subject = convert_to('{EMAIL}', 'UTF8'), key = '{EMAIL}', \
                     evidence = '{evidence}';",
                serde_json::to_string(&plain_profiles).unwrap(),
                raw = personal_batch().quarantined[0].raw,
            ),
        )
        .unwrap();
    for secret in [
        EMAIL,
        IP,
        NAME,
        PROFILE,
        AUDIT_IP,
        "192.0.2.44",
        "@plain.example",
        PLAIN_PROFILE,
    ] {
        assert!(
            stored_anywhere(&location, secret),
            "the plain state holds {secret}"
        );
    }
    assert_eq!(
        mentions(&location, "@plain.example").len(),
        EXTRA_MEMBERS,
        "every extra member's email is plain"
    );

    let mut store = open(&location, Keyring::single(key)).unwrap();
    for secret in SECRETS.iter().chain(&["@plain.example", PLAIN_PROFILE]) {
        assert!(
            !stored_anywhere(&location, secret),
            "{secret} is still in the clear after migration 13"
        );
    }
    check_reads_back(store.as_ref());
    let found = store
        .member_by_email(&format!("abe_{}@plain.example", EXTRA_MEMBERS - 1))
        .unwrap()
        .expect("the last extra member, found by email");
    assert_eq!(found.name.unwrap().expose(), "Dana Example");
    assert_eq!(
        found.profiles[0].name.as_ref().unwrap().expose(),
        PLAIN_PROFILE
    );
    assert!(matches!(
        store.record_finding(&finding()).unwrap(),
        Recorded::Updated(_)
    ));
    // The audit log refuses changes again once the migration is done.
    let refused = location.raw_sql("", "UPDATE audit_log SET ip = ''");
    assert!(refused.is_err(), "the audit log's guard is back");
}

/// PostgreSQL's writers do not take turns: stores in several threads writing the same new
/// members and sign-ins at once (in opposite orders) all succeed, share one data key per
/// subject, and read each other's values. First on an empty database (every writer makes
/// the blind index key), then with new subjects only (every writer makes their keys).
#[test]
fn postgres_writers_creating_the_same_data_keys_at_once_share_them() {
    if !Backend::Postgres.available() {
        return;
    }
    const WRITERS: usize = 4;
    const MEMBERS: usize = 30;
    let location = Backend::Postgres.location();
    let key = MasterKey::generate();
    drop(open(&location, Keyring::single(key.clone())).unwrap());
    let batch = |round: usize, reversed: bool| {
        let numbers = round * MEMBERS..(round + 1) * MEMBERS;
        let mut members: Vec<_> = numbers
            .clone()
            .map(|n| common::full_member(&format!("m{n}")))
            .collect();
        let mut events: Vec<_> = numbers
            .map(|n| login(&format!("l{n}"), &format!("m{n}@example.com"), IP))
            .collect();
        if reversed {
            members.reverse();
            events.reverse();
        }
        Batch {
            members,
            events,
            ..Batch::default()
        }
    };
    for round in 0..2 {
        let barrier = std::sync::Barrier::new(WRITERS);
        std::thread::scope(|scope| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|writer| {
                    let (location, barrier, key) = (&location, &barrier, key.clone());
                    let batch = batch(round, writer % 2 == 1);
                    scope.spawn(move || {
                        let mut store = open(location, Keyring::single(key)).unwrap();
                        barrier.wait();
                        store.write_batch(&batch)
                    })
                })
                .collect();
            for writer in writers {
                writer.join().unwrap().expect("every writer succeeds");
            }
        });
    }

    let mut store = open(&location, Keyring::single(key)).unwrap();
    for n in 0..2 * MEMBERS {
        let email = format!("m{n}@example.com");
        let member = store
            .member_by_email(&email)
            .unwrap()
            .expect("found by email");
        assert_eq!(member.id, format!("m{n}"));
        assert_eq!(member.email.unwrap().expose(), &email);
    }
    let logins = logins(store.as_ref());
    assert_eq!(logins.len(), 2 * MEMBERS);
    assert!(logins.iter().all(|login| login.ip == IP));
    // The blind index key, one key per member and one per sign-in account.
    let summary = store.rewrap_data_keys(&mut |_, _| {}).unwrap();
    assert_eq!(
        (summary.total, summary.rewrapped),
        (1 + 4 * MEMBERS as u64, 0)
    );
}
