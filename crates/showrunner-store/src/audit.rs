//! The audit log: append-only and hash-chained. Each row stores `hash = SHA-256(prev_hash ||
//! canonical(row))` where `prev_hash` is the previous row's hash (32 zero bytes for the
//! first row), so editing, inserting or deleting a row anywhere but at the very end breaks
//! every hash after it. [`AuditStore::verify_audit`] walks the chain; the head hash it
//! reports can be written down elsewhere to catch truncation too.
//!
//! The encoding and the check are here, not in a backend, so every backend chains the same
//! way and one verifier reads them all.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use showrunner_model::Timestamp;

use crate::{Store, StoreError};

/// One thing that happened, as the server records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// Who: `account:<id>:<name>`, `key:<id>`, `cli`, `server` or `anonymous`.
    pub actor: String,
    /// What: `login`, `login_failed`, `account_created`, `role_changed`, ...
    pub action: String,
    /// On what (an account, a key, a member); empty when nothing in particular.
    pub target: String,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// The client's address when there was a request; empty otherwise.
    pub ip: String,
    /// Anything else, as JSON text.
    pub detail: String,
}

/// A stored audit row with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// What [`AuditStore::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerification {
    /// Every row's hash matches; `head` is the last row's hash (zeros when empty).
    Intact { rows: u64, head: [u8; 32] },
    /// The first row whose stored hashes do not match its content or its predecessor.
    Broken {
        id: i64,
        rows_checked: u64,
        reason: String,
    },
}

/// The chained hash of a row: SHA-256 of the previous hash and the row's canonical bytes
/// (every field length-prefixed, integers little-endian, so no two rows encode alike).
pub fn audit_hash(prev_hash: &[u8; 32], id: i64, entry: &AuditEntry) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(id.to_le_bytes());
    hasher.update(entry.at.millis().to_le_bytes());
    for field in [
        &entry.actor,
        &entry.action,
        &entry.target,
        &entry.outcome,
        &entry.ip,
        &entry.detail,
    ] {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

/// Rows read per page while verifying.
const VERIFY_PAGE: usize = 10_000;

/// The audit log. Backends chain rows with [`audit_hash`] inside the appending transaction.
pub trait AuditStore: Store {
    /// Appends an entry (durable on return) and returns it with its id and hashes.
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, StoreError>;

    /// Up to `limit` rows with ids above `after_id`, in id order.
    fn audit_records(&self, after_id: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Walks the whole chain and reports the first broken row, if any.
    fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let mut expected_prev = [0u8; 32];
        let mut after = i64::MIN;
        let mut rows = 0u64;
        loop {
            let page = self.audit_records(after, VERIFY_PAGE)?;
            if page.is_empty() {
                return Ok(AuditVerification::Intact {
                    rows,
                    head: expected_prev,
                });
            }
            for record in &page {
                if record.prev_hash != expected_prev {
                    return Ok(AuditVerification::Broken {
                        id: record.id,
                        rows_checked: rows,
                        reason: "its previous-hash does not match the row before it (a row \
                                 was removed, inserted or rewritten)"
                            .into(),
                    });
                }
                if audit_hash(&record.prev_hash, record.id, &record.entry) != record.hash {
                    return Ok(AuditVerification::Broken {
                        id: record.id,
                        rows_checked: rows,
                        reason: "its content does not match its hash (the row was edited)".into(),
                    });
                }
                expected_prev = record.hash;
                after = record.id;
                rows += 1;
            }
        }
    }
}
