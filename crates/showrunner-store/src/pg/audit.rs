//! [`AuditStore`] for PostgreSQL: the `audit_log` table of `migrations/pg/0004_access.sql`
//! (a trigger refuses updates and deletes). The append takes the table in a
//! self-conflicting mode, reads the chain's head and inserts the new row in one
//! transaction, so appenders on several processes cannot fork the chain. Rows hash exactly
//! as on SQLite ([`audit_hash`]).
//!
//! The client IP is personal data: it is stored sealed under the store-wide audit key (see
//! `crate::vault`), and opened again on read. The chain hashes the plain entry, so
//! verification reads back what was appended and re-sealing (a new nonce) changes no hash.

use showrunner_model::Timestamp;

use super::vault::Keys;
use super::{AtDb, PgStore};
use crate::StoreError;
use crate::audit::{AuditEntry, AuditRecord, AuditStore, audit_hash};
use crate::vault::{AUDIT_IP_COLUMN, AUDIT_SUBJECT};

fn hash_from(
    location: &std::path::Path,
    column: &'static str,
    bytes: &[u8],
) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt {
        path: location.to_owned(),
        table: "audit_log",
        column,
        detail: format!("{} bytes, expected 32", bytes.len()),
    })
}

impl PgStore {
    fn append_audit_in_transaction(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        transaction
            .batch_execute("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
            .at(location)?;
        let head = transaction
            .query_opt(
                "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
                &[],
            )
            .at(location)?;
        let (id, prev_hash) = match head {
            Some(row) => {
                let id: i64 = row.try_get(0).at(location)?;
                let hash: &[u8] = row.try_get(1).at(location)?;
                (id + 1, hash_from(location, "hash", hash)?)
            }
            None => (1, [0u8; 32]),
        };
        let hash = audit_hash(&prev_hash, id, entry);
        let ip = if entry.ip.is_empty() {
            String::new()
        } else {
            self.vault.seal(
                &mut Keys::new(&mut transaction, location),
                AUDIT_SUBJECT,
                AUDIT_IP_COLUMN,
                &entry.ip,
            )?
        };
        transaction
            .execute(
                "INSERT INTO audit_log \
                     (id, at, actor, action, target, outcome, ip, detail, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &id,
                    &entry.at.millis(),
                    &entry.actor,
                    &entry.action,
                    &entry.target,
                    &entry.outcome,
                    &ip,
                    &entry.detail,
                    &prev_hash.as_slice(),
                    &hash.as_slice(),
                ],
            )
            .at(location)?;
        transaction.commit().at(location)?;
        Ok(AuditRecord {
            id,
            entry: entry.clone(),
            prev_hash,
            hash,
        })
    }
}

impl AuditStore for PgStore {
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        self.ensure_writable()?;
        self.vault
            .forget_if_failed(self.append_audit_in_transaction(entry))
    }

    fn audit_records(&self, after_id: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let location = &self.location;
        let mut client = self.connection()?;
        let rows = client
            .query(
                "SELECT id, at, actor, action, target, outcome, ip, detail, prev_hash, hash \
                 FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after_id, &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .at(location)?;
        let mut keys = Keys::new(&mut *client, location);
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(AuditRecord {
                id: row.try_get(0).at(location)?,
                entry: AuditEntry {
                    at: Timestamp::from_millis(row.try_get(1).at(location)?),
                    actor: row.try_get(2).at(location)?,
                    action: row.try_get(3).at(location)?,
                    target: row.try_get(4).at(location)?,
                    outcome: row.try_get(5).at(location)?,
                    ip: self.vault.open(
                        &mut keys,
                        AUDIT_IP_COLUMN,
                        row.try_get(6).at(location)?,
                    )?,
                    detail: row.try_get(7).at(location)?,
                },
                prev_hash: hash_from(location, "prev_hash", row.try_get(8).at(location)?)?,
                hash: hash_from(location, "hash", row.try_get(9).at(location)?)?,
            });
        }
        Ok(records)
    }
}
