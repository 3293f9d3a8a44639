//! [`FindingStore`] for PostgreSQL: the `findings` table of `migrations/pg/0010_findings.sql`.
//! As on SQLite, the key and the evidence are sealed under a store-wide findings key; the
//! key's lookup index (`subject`, a keyed hash) is what the uniqueness and the key filter
//! use.

use postgres::types::ToSql;
use showrunner_model::Timestamp;

use super::vault::Keys;
use super::{AtDb, PgStore, write};
use crate::StoreError;
use crate::finding::{
    FindingFilter, FindingRecord, FindingStore, NewFinding, Recorded, page_limit,
};
use crate::vault::{BLIND_INDEX_REF, FINDING_INDEX_DOMAIN, KeyTable, seal_finding};

impl PgStore {
    fn record_finding_in_transaction(&self, finding: &NewFinding) -> Result<Recorded, StoreError> {
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        // Serialises writers of the same finding, so two passes cannot both insert it.
        transaction
            .execute("LOCK TABLE findings IN SHARE ROW EXCLUSIVE MODE", &[])
            .at(location)?;
        let sealed = seal_finding(
            &self.vault,
            &mut Keys::new(&mut transaction, location),
            &finding.key,
            &finding.evidence,
        )?;
        let subject = &sealed.subject[..];
        let existing = transaction
            .query_opt(
                "SELECT id FROM findings WHERE kind = $1 AND subject = $2 AND opened_at = $3",
                &[&finding.kind, &subject, &finding.opened_at.millis()],
            )
            .at(location)?;
        let recorded = match existing {
            Some(row) => {
                let id: i64 = row.try_get(0).at(location)?;
                transaction
                    .execute(
                        "UPDATE findings SET \
                         severity = CASE WHEN $3 >= last_seen THEN $2 ELSE severity END, \
                         detector = CASE WHEN $3 >= last_seen THEN $4 ELSE detector END, \
                         evidence = CASE WHEN $3 >= last_seen THEN $5 ELSE evidence END, \
                         last_seen = GREATEST(last_seen, $3) WHERE id = $1",
                        &[
                            &id,
                            &finding.severity,
                            &finding.last_seen.millis(),
                            &finding.detector,
                            &sealed.evidence,
                        ],
                    )
                    .at(location)?;
                Recorded::Updated(id)
            }
            None => {
                let row = transaction
                    .query_one(
                        "INSERT INTO findings (kind, severity, subject, key, opened_at, \
                         last_seen, detector, evidence, recorded_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                        &[
                            &finding.kind,
                            &finding.severity,
                            &subject,
                            &sealed.key,
                            &finding.opened_at.millis(),
                            &finding.last_seen.millis(),
                            &finding.detector,
                            &sealed.evidence,
                            &write::now_millis(),
                        ],
                    )
                    .at(location)?;
                Recorded::New(row.try_get(0).at(location)?)
            }
        };
        transaction.commit().at(location)?;
        Ok(recorded)
    }
}

impl FindingStore for PgStore {
    fn record_finding(&mut self, finding: &NewFinding) -> Result<Recorded, StoreError> {
        self.ensure_writable()?;
        self.vault
            .forget_if_failed(self.record_finding_in_transaction(finding))
    }

    fn findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRecord>, StoreError> {
        let location = &self.location;
        let mut sql = String::from(
            "SELECT id, kind, severity, key, opened_at, last_seen, detector, evidence, \
             recorded_at FROM findings WHERE TRUE",
        );
        let mut client = self.connection()?;
        let mut keys = Keys::new(&mut *client, location);
        let subject = match &filter.key {
            // No blind index key yet: nothing was recorded, and nothing is created here.
            Some(_) if keys.load(&BLIND_INDEX_REF)?.is_none() => return Ok(Vec::new()),
            Some(key) => Some(
                self.vault
                    .lookup_index(&mut keys, FINDING_INDEX_DOMAIN, key)?,
            ),
            None => None,
        };
        let key_bytes: Option<&[u8]> = subject.as_ref().map(|subject| &subject[..]);
        let from = filter.from.map(Timestamp::millis);
        let until = filter.until.map(Timestamp::millis);
        let limit = page_limit(filter);
        let mut values: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(kind) = &filter.kind {
            values.push(kind);
            sql.push_str(&format!(" AND kind = ${}", values.len()));
        }
        if let Some(key) = &key_bytes {
            values.push(key);
            sql.push_str(&format!(" AND subject = ${}", values.len()));
        }
        if let Some(from) = &from {
            values.push(from);
            sql.push_str(&format!(" AND opened_at >= ${}", values.len()));
        }
        if let Some(until) = &until {
            values.push(until);
            sql.push_str(&format!(" AND opened_at < ${}", values.len()));
        }
        if let Some(before) = &filter.before_id {
            values.push(before);
            sql.push_str(&format!(" AND id < ${}", values.len()));
        }
        values.push(&limit);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
        let rows = client.query(sql.as_str(), &values).at(location)?;
        let mut keys = Keys::new(&mut *client, location);
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            found.push(FindingRecord {
                id: row.try_get(0).at(location)?,
                finding: NewFinding {
                    kind: row.try_get(1).at(location)?,
                    severity: row.try_get(2).at(location)?,
                    key: self.vault.open(
                        &mut keys,
                        "findings.key",
                        row.try_get(3).at(location)?,
                    )?,
                    opened_at: Timestamp::from_millis(row.try_get(4).at(location)?),
                    last_seen: Timestamp::from_millis(row.try_get(5).at(location)?),
                    detector: row.try_get(6).at(location)?,
                    evidence: self.vault.open(
                        &mut keys,
                        "findings.evidence",
                        row.try_get(7).at(location)?,
                    )?,
                },
                recorded_at: Timestamp::from_millis(row.try_get(8).at(location)?),
            });
        }
        Ok(found)
    }
}
