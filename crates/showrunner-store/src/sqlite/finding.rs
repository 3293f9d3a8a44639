//! [`FindingStore`] for SQLite: the `findings` table of migration `0010_findings.sql`. The
//! key and the evidence are sealed under a store-wide findings key; the key's lookup index
//! (`subject`, a keyed hash) is what the uniqueness and the key filter use.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};
use showrunner_model::Timestamp;

use super::vault::Keys;
use super::{AtPath, SqliteStore, write};
use crate::StoreError;
use crate::finding::{
    FindingFilter, FindingRecord, FindingStore, NewFinding, Recorded, page_limit,
};
use crate::vault::{FINDING_INDEX_DOMAIN as INDEX_DOMAIN, SealedFinding, seal_finding};

impl FindingStore for SqliteStore {
    fn record_finding(&mut self, finding: &NewFinding) -> Result<Recorded, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let mut keys = Keys {
            connection: &transaction,
            path: &path,
        };
        let SealedFinding {
            subject,
            key,
            evidence,
        } = seal_finding(&self.vault, &mut keys, &finding.key, &finding.evidence)?;
        let existing: Option<i64> = transaction
            .query_row(
                "SELECT id FROM findings WHERE kind = ?1 AND subject = ?2 AND opened_at = ?3",
                params![finding.kind, &subject[..], finding.opened_at.millis()],
                |row| row.get(0),
            )
            .optional()
            .at(&path)?;
        let recorded = match existing {
            Some(id) => {
                transaction
                    .execute(
                        "UPDATE findings SET \
                         severity = CASE WHEN ?3 >= last_seen THEN ?2 ELSE severity END, \
                         detector = CASE WHEN ?3 >= last_seen THEN ?4 ELSE detector END, \
                         evidence = CASE WHEN ?3 >= last_seen THEN ?5 ELSE evidence END, \
                         last_seen = max(last_seen, ?3) WHERE id = ?1",
                        params![
                            id,
                            finding.severity,
                            finding.last_seen.millis(),
                            finding.detector,
                            evidence
                        ],
                    )
                    .at(&path)?;
                Recorded::Updated(id)
            }
            None => {
                transaction
                    .execute(
                        "INSERT INTO findings (kind, severity, subject, key, opened_at, \
                         last_seen, detector, evidence, recorded_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![
                            finding.kind,
                            finding.severity,
                            &subject[..],
                            key,
                            finding.opened_at.millis(),
                            finding.last_seen.millis(),
                            finding.detector,
                            evidence,
                            write::now_millis()
                        ],
                    )
                    .at(&path)?;
                Recorded::New(transaction.last_insert_rowid())
            }
        };
        transaction.commit().at(&path)?;
        Ok(recorded)
    }

    fn findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRecord>, StoreError> {
        let path = &self.path;
        let mut keys = Keys {
            connection: &self.connection,
            path,
        };
        let mut sql = String::from(
            "SELECT id, kind, severity, key, opened_at, last_seen, detector, evidence, \
             recorded_at FROM findings WHERE 1 = 1",
        );
        let mut values: Vec<Value> = Vec::new();
        if let Some(kind) = &filter.kind {
            values.push(Value::Text(kind.clone()));
            sql.push_str(&format!(" AND kind = ?{}", values.len()));
        }
        if let Some(key) = &filter.key {
            let subject = self.vault.lookup_index(&mut keys, INDEX_DOMAIN, key)?;
            values.push(Value::Blob(subject.to_vec()));
            sql.push_str(&format!(" AND subject = ?{}", values.len()));
        }
        if let Some(from) = filter.from {
            values.push(Value::Integer(from.millis()));
            sql.push_str(&format!(" AND opened_at >= ?{}", values.len()));
        }
        if let Some(until) = filter.until {
            values.push(Value::Integer(until.millis()));
            sql.push_str(&format!(" AND opened_at < ?{}", values.len()));
        }
        if let Some(before) = filter.before_id {
            values.push(Value::Integer(before));
            sql.push_str(&format!(" AND id < ?{}", values.len()));
        }
        values.push(Value::Integer(page_limit(filter)));
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", values.len()));
        let mut statement = self.connection.prepare(&sql).at(path)?;
        let rows = statement
            .query_map(params_from_iter(values), |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, i64>(8)?,
                ))
            })
            .at(path)?;
        let mut found = Vec::new();
        for row in rows {
            let (id, kind, severity, key, opened_at, last_seen, detector, evidence, recorded_at) =
                row.at(path)?;
            found.push(FindingRecord {
                id,
                finding: NewFinding {
                    kind,
                    severity,
                    key: self.vault.open(&mut keys, "findings.key", key)?,
                    opened_at: Timestamp::from_millis(opened_at),
                    last_seen: Timestamp::from_millis(last_seen),
                    detector,
                    evidence: self.vault.open(&mut keys, "findings.evidence", evidence)?,
                },
                recorded_at: Timestamp::from_millis(recorded_at),
            });
        }
        Ok(found)
    }
}
