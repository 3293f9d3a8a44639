//! [`AuditStore`] for SQLite: the `audit_log` table of migration `0004_access.sql`. The
//! append reads the chain's head and inserts the new row in one `IMMEDIATE` transaction, so
//! concurrent writers (the server and a CLI) cannot fork the chain.
//!
//! The client IP is personal data: it is stored sealed under the store-wide audit key (see
//! `crate::vault`), and opened again on read. The chain hashes the plain entry, so
//! verification reads back what was appended and re-sealing (a new nonce) changes no hash.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use showrunner_model::Timestamp;

use super::vault::Keys;
use super::{AtPath, SqliteStore};
use crate::StoreError;
use crate::audit::{AuditEntry, AuditRecord, AuditStore, audit_hash};
use crate::vault::{AUDIT_IP_COLUMN as IP_COLUMN, AUDIT_SUBJECT};

fn hash_from(
    path: &std::path::Path,
    column: &'static str,
    bytes: Vec<u8>,
) -> Result<[u8; 32], StoreError> {
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt {
            path: path.to_owned(),
            table: "audit_log",
            column,
            detail: format!("{} bytes, expected 32", bytes.len()),
        })
}

impl AuditStore for SqliteStore {
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let head: Option<(i64, Vec<u8>)> = transaction
            .query_row(
                "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .at(&path)?;
        let (id, prev_hash) = match head {
            Some((id, hash)) => (id + 1, hash_from(&path, "hash", hash)?),
            None => (1, [0u8; 32]),
        };
        let hash = audit_hash(&prev_hash, id, entry);
        let ip = if entry.ip.is_empty() {
            String::new()
        } else {
            let mut keys = Keys {
                connection: &transaction,
                path: &path,
            };
            self.vault
                .seal(&mut keys, AUDIT_SUBJECT, IP_COLUMN, &entry.ip)?
        };
        transaction
            .execute(
                "INSERT INTO audit_log (id, at, actor, action, target, outcome, ip, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    entry.at.millis(),
                    entry.actor,
                    entry.action,
                    entry.target,
                    entry.outcome,
                    ip,
                    entry.detail,
                    prev_hash.as_slice(),
                    hash.as_slice()
                ],
            )
            .at(&path)?;
        transaction.commit().at(&path)?;
        Ok(AuditRecord {
            id,
            entry: entry.clone(),
            prev_hash,
            hash,
        })
    }

    fn audit_records(&self, after_id: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, at, actor, action, target, outcome, ip, detail, prev_hash, hash
                 FROM audit_log WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .at(path)?;
        let rows = statement
            .query_map(params![after_id, limit as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    AuditEntry {
                        at: Timestamp::from_millis(row.get(1)?),
                        actor: row.get(2)?,
                        action: row.get(3)?,
                        target: row.get(4)?,
                        outcome: row.get(5)?,
                        ip: row.get(6)?,
                        detail: row.get(7)?,
                    },
                    row.get::<_, Vec<u8>>(8)?,
                    row.get::<_, Vec<u8>>(9)?,
                ))
            })
            .at(path)?;
        let mut keys = Keys {
            connection: &self.connection,
            path,
        };
        let mut records = Vec::new();
        for row in rows {
            let (id, mut entry, prev_hash, hash) = row.at(path)?;
            entry.ip = self
                .vault
                .open(&mut keys, IP_COLUMN, std::mem::take(&mut entry.ip))?;
            records.push(AuditRecord {
                id,
                entry,
                prev_hash: hash_from(path, "prev_hash", prev_hash)?,
                hash: hash_from(path, "hash", hash)?,
            });
        }
        Ok(records)
    }
}
