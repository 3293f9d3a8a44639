//! Accounts, sessions and the hash-chained audit log on a real SQLite file and a real
//! PostgreSQL database: what is written reads back, revocation and failure counts behave,
//! both backends chain the same entries to the same hashes, and a row edited directly in
//! the database (after dropping the append-only triggers) is found by `verify_audit`.

mod common;

use common::Backend;
use showrunner_model::Timestamp;
use showrunner_store::{AccountChange, AuditEntry, AuditVerification, audit_hash};

fn entry(action: &str, n: i64) -> AuditEntry {
    AuditEntry {
        at: Timestamp::from_millis(1_800_000_000_000 + n),
        actor: "account:1:alice".into(),
        action: action.into(),
        target: format!("account:{n}"),
        outcome: "ok".into(),
        ip: "192.0.2.7".into(),
        detail: r#"{"role":"analyst"}"#.into(),
    }
}

fn accounts_and_sessions_round_trip(backend: Backend) {
    let location = backend.location();
    let mut store = location.accounts();
    let id = store
        .create_account(
            "alice",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            "admin",
        )
        .expect("creates")
        .expect("new name");
    assert_eq!(
        store.create_account("alice", "x", "analyst").expect("runs"),
        None,
        "a taken name is refused"
    );
    let alice = store
        .account_by_name("alice")
        .expect("reads")
        .expect("found");
    assert_eq!(
        (alice.id, alice.role.as_str(), alice.disabled),
        (id, "admin", false)
    );
    assert_eq!(store.account_by_name("Alice").expect("reads"), None);
    // SQL-meaningful characters are data, nothing more.
    assert_eq!(store.account_by_name("' OR 1=1 --").expect("reads"), None);

    let now = Timestamp::from_millis(1_800_000_000_000);
    assert_eq!(store.record_login_failure(id, now).expect("counts"), 1);
    assert_eq!(store.record_login_failure(id, now).expect("counts"), 2);
    let changed = store
        .update_account(
            id,
            &AccountChange {
                role: Some("operator".into()),
                disabled: Some(true),
                reset_failures: true,
            },
        )
        .expect("updates")
        .expect("exists");
    assert_eq!(
        (
            changed.role.as_str(),
            changed.disabled,
            changed.failed_logins
        ),
        ("operator", true, 0)
    );
    assert_eq!(
        store
            .update_account(999, &AccountChange::default())
            .expect("runs"),
        None
    );

    let token_a = [1u8; 32];
    let token_b = [2u8; 32];
    let later = Timestamp::from_millis(now.millis() + 3_600_000);
    store
        .create_session(&token_a, id, now, later)
        .expect("session");
    store
        .create_session(&token_b, id, now, later)
        .expect("session");
    let session = store.session(&token_a).expect("reads").expect("found");
    assert_eq!((session.expires_at, session.revoked), (later, false));
    assert_eq!(session.account.role, "operator", "the account as it is now");
    store
        .touch_session(&token_a, Timestamp::from_millis(now.millis() + 5))
        .expect("touches");
    assert_eq!(
        store
            .session(&token_a)
            .expect("reads")
            .expect("found")
            .last_seen_at
            .millis(),
        now.millis() + 5
    );
    assert!(store.revoke_session(&token_a, now).expect("revokes"));
    assert!(
        !store.revoke_session(&token_a, now).expect("revokes"),
        "only once"
    );
    assert!(
        store
            .session(&token_a)
            .expect("reads")
            .expect("found")
            .revoked
    );
    assert_eq!(store.revoke_sessions_of(id, now).expect("revokes"), 1);
    assert!(
        store
            .session(&token_b)
            .expect("reads")
            .expect("found")
            .revoked
    );
    assert_eq!(store.session(&[9u8; 32]).expect("reads"), None);
}

fn the_audit_chain_detects_an_edited_row(backend: Backend) {
    let location = backend.location();
    let mut store = location.audit();
    assert!(matches!(
        store.verify_audit().expect("verifies"),
        AuditVerification::Intact { rows: 0, .. }
    ));
    let mut last = None;
    for n in 0..5 {
        let record = store
            .append_audit(&entry("role_changed", n))
            .expect("appends");
        if let Some(previous) = last {
            assert_eq!(
                record.prev_hash, previous,
                "each row chains to the one before"
            );
        }
        last = Some(record.hash);
    }
    let AuditVerification::Intact { rows, head } = store.verify_audit().expect("verifies") else {
        panic!("an untouched log verifies");
    };
    assert_eq!((rows, Some(head)), (5, last));
    // The chain is the backend-independent one: ids from 1, each hash over the one before.
    let expected = (0..5).fold([0u8; 32], |prev, n| {
        audit_hash(&prev, n + 1, &entry("role_changed", n))
    });
    assert_eq!(head, expected);
    let records = store.audit_records(2, 2).expect("reads");
    assert_eq!(
        records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [3, 4],
        "a page after an id"
    );
    assert_eq!(records[0].entry, entry("role_changed", 2));

    // Updates and deletes through SQL are refused by the triggers.
    assert!(
        location
            .raw_sql(
                "UPDATE audit_log SET outcome = 'denied' WHERE id = 3",
                "UPDATE audit_log SET outcome = 'denied' WHERE id = 3",
            )
            .is_err(),
        "the append-only trigger refuses an update"
    );
    assert!(
        location
            .raw_sql(
                "DELETE FROM audit_log WHERE id = 2",
                "DELETE FROM audit_log WHERE id = 2",
            )
            .is_err()
    );

    // Someone who drops the triggers and edits a row is still caught, at that row.
    let edit = "UPDATE audit_log SET detail = '{\"role\":\"admin\"}' WHERE id = 3";
    location
        .raw_sql(
            &format!("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; {edit}"),
            &format!("DROP TRIGGER audit_log_no_change ON audit_log; {edit}"),
        )
        .expect("edits");
    match store.verify_audit().expect("verifies") {
        AuditVerification::Broken {
            id, rows_checked, ..
        } => assert_eq!((id, rows_checked), (3, 2)),
        other => panic!("an edited row is found: {other:?}"),
    }

    // Deleting a row in the middle breaks the next row's link.
    let location = backend.location();
    let mut store = location.audit();
    for n in 0..4 {
        store.append_audit(&entry("login", n)).expect("appends");
    }
    location
        .raw_sql(
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 2;",
            "DROP TRIGGER audit_log_no_change ON audit_log; DELETE FROM audit_log WHERE id = 2;",
        )
        .expect("deletes");
    match store.verify_audit().expect("verifies") {
        AuditVerification::Broken { id, .. } => assert_eq!(id, 3),
        other => panic!("a removed row is found: {other:?}"),
    }
}

backend_tests!(
    accounts_and_sessions_round_trip,
    the_audit_chain_detects_an_edited_row,
);
