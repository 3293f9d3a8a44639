//! Stored security findings on both backends: recording the same (kind, key, opened_at)
//! twice updates one finding, filters and the id cursor page through them, and on SQLite
//! neither the key nor the evidence reaches the database file in the clear.

mod common;

use common::at;
use showrunner_store::testing::TestDatabase;
use showrunner_store::{
    FindingFilter, FindingStore, Keyring, MasterKey, NewFinding, PgStore, Recorded, SqliteStore,
};

const ACCOUNT: &str = "grace.hopper@navy.example";
const IP: &str = "203.0.113.199";

fn finding(kind: &str, key: &str, opened: i64, last: i64) -> NewFinding {
    NewFinding {
        kind: kind.into(),
        severity: "high".into(),
        key: key.into(),
        opened_at: at(opened),
        last_seen: at(last),
        detector: "travel/v1".into(),
        evidence: format!(r#"{{"accounts":["{key}"],"ips":["{IP}"],"reason":"far"}}"#),
    }
}

fn check(store: &mut dyn FindingStore) {
    let first = store
        .record_finding(&finding("impossible_travel", ACCOUNT, 100, 160))
        .unwrap();
    assert!(first.is_new());
    // The same finding from a later pass over an overlapping window: updated, not added.
    let mut again = finding("impossible_travel", ACCOUNT, 100, 400);
    again.severity = "critical".into();
    assert_eq!(
        store.record_finding(&again).unwrap(),
        Recorded::Updated(first.id())
    );
    // An older report changes nothing: last_seen does not move back, severity stays.
    store
        .record_finding(&finding("impossible_travel", ACCOUNT, 100, 120))
        .unwrap();
    let other_time = store
        .record_finding(&finding("impossible_travel", ACCOUNT, 900, 960))
        .unwrap();
    let other_kind = store
        .record_finding(&finding("account_takeover", ACCOUNT, 100, 100))
        .unwrap();
    let other_key = store
        .record_finding(&finding("credential_stuffing", IP, 50, 500))
        .unwrap();
    assert!(other_time.is_new() && other_kind.is_new() && other_key.is_new());

    let all = store.findings(&FindingFilter::default()).unwrap();
    let ids: Vec<i64> = all.iter().map(|record| record.id).collect();
    assert_eq!(
        ids,
        [other_key.id(), other_kind.id(), other_time.id(), first.id()],
        "newest first, one row per (kind, key, opened_at)"
    );
    let updated = &all[3].finding;
    assert_eq!(updated.key, ACCOUNT);
    assert_eq!(updated.severity, "critical");
    assert_eq!(updated.last_seen, at(400));
    assert!(updated.evidence.contains(IP));

    let by_kind = store
        .findings(&FindingFilter {
            kind: Some("impossible_travel".into()),
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(by_kind.len(), 2);
    let by_key = store
        .findings(&FindingFilter {
            key: Some(IP.into()),
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(by_key.len(), 1);
    assert_eq!(by_key[0].finding.kind, "credential_stuffing");
    let in_window = store
        .findings(&FindingFilter {
            from: Some(at(100)),
            until: Some(at(900)),
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(
        in_window.iter().map(|r| r.id).collect::<Vec<_>>(),
        [other_kind.id(), first.id()]
    );

    // Paging: two, then the rest from the cursor.
    let page = store
        .findings(&FindingFilter {
            limit: 2,
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(page.len(), 2);
    let rest = store
        .findings(&FindingFilter {
            limit: 2,
            before_id: Some(page[1].id),
            ..FindingFilter::default()
        })
        .unwrap();
    assert_eq!(
        page.iter().chain(&rest).map(|r| r.id).collect::<Vec<_>>(),
        ids
    );
}

#[test]
fn findings_are_recorded_once_and_listed_on_sqlite_with_nothing_in_the_clear() {
    let directory = tempfile::tempdir().unwrap();
    let db = directory.path().join("findings.db");
    let keyring = Keyring::single(MasterKey::generate());
    let mut store = SqliteStore::open_with_keyring(&db, keyring).unwrap();
    check(&mut store);
    drop(store);
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(found) = std::fs::read(&name) {
            bytes.extend(found);
        }
    }
    assert!(
        bytes
            .windows(b"impossible_travel".len())
            .any(|w| w == b"impossible_travel"),
        "the scan can find plain columns"
    );
    for secret in [ACCOUNT, IP] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in the clear"
        );
    }
}

#[test]
fn findings_are_recorded_once_and_listed_on_postgres() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let mut store = PgStore::open(database.url()).unwrap();
    check(&mut store);
}
