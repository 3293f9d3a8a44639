//! [`CatalogStore`] for PostgreSQL: deleting a title, erasing a member, the take rate (see
//! `migrations/pg/0007_catalog.sql` for its index).
//!
//! This backend holds texts in the event rows (no dictionary) and does not seal personal
//! data yet, so erasure deletes rows by the member's id and email and has no identifiers to
//! tombstone nor data keys to destroy. After the transaction commits, the touched tables
//! are vacuumed so that the deleted rows' space is reclaimed (their bytes may stay in the
//! server's write-ahead log and its archive until those are recycled).

use super::{AtDb, PgStore};
use crate::StoreError;
use crate::catalog::{
    CatalogStore, Erasure, RowTakeRate, TakeRateFilter, TitleDeletion, contains_word,
};

/// Event tables keyed by member, whose rows are erased with the member.
const MEMBER_EVENT_TABLES: [&str; 5] = ["plays", "ratings", "impressions", "searches", "qoe"];

/// Tables that reference a title, with the column, in the order they are reported.
const TITLE_REFERENCES: [(&str, &str); 6] = [
    ("views", "title_id"),
    ("plays", "title_id"),
    ("ratings", "title_id"),
    ("impressions", "title_id"),
    ("qoe", "title_id"),
    ("searches", "clicked_title_id"),
];

impl CatalogStore for PgStore {
    fn delete_title(&mut self, id: &str) -> Result<TitleDeletion, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        let exists = transaction
            .query_opt("SELECT 1 FROM titles WHERE id = $1 FOR UPDATE", &[&id])
            .at(location)?
            .is_some();
        if !exists {
            return Ok(TitleDeletion::NotFound);
        }
        let parts: i64 = transaction
            .query_one(
                "SELECT count(*) FROM titles WHERE series_id = $1 AND id <> $1",
                &[&id],
            )
            .at(location)?
            .try_get(0)
            .at(location)?;
        let mut referenced_by = Vec::new();
        for (table, column) in TITLE_REFERENCES {
            let found: bool = transaction
                .query_one(
                    &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} = $1)"),
                    &[&id],
                )
                .at(location)?
                .try_get(0)
                .at(location)?;
            if found {
                referenced_by.push(table.to_owned());
            }
        }
        if parts > 0 || !referenced_by.is_empty() {
            return Ok(TitleDeletion::InUse {
                parts: parts as u64,
                referenced_by,
            });
        }
        transaction
            .execute("DELETE FROM titles WHERE id = $1", &[&id])
            .at(location)?;
        transaction.commit().at(location)?;
        Ok(TitleDeletion::Deleted)
    }

    fn erase_member(&mut self, id: &str) -> Result<Option<Erasure>, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        let email: Option<String> = transaction
            .query_opt("SELECT email FROM members WHERE id = $1 FOR UPDATE", &[&id])
            .at(location)?
            .map(|row| row.try_get::<_, Option<String>>(0))
            .transpose()
            .at(location)?
            .flatten()
            .map(|email| email.to_lowercase());
        let mut erasure = Erasure::default();
        for table in MEMBER_EVENT_TABLES {
            let removed = transaction
                .execute(&format!("DELETE FROM {table} WHERE member_id = $1"), &[&id])
                .at(location)?;
            match table {
                "plays" => erasure.plays = removed,
                "ratings" => erasure.ratings = removed,
                "impressions" => erasure.impressions = removed,
                "searches" => erasure.searches = removed,
                _ => erasure.qoe = removed,
            }
        }
        erasure.views = transaction
            .execute("DELETE FROM views WHERE member_id = $1", &[&id])
            .at(location)?;
        erasure.experiment_assignments = transaction
            .execute(
                "DELETE FROM experiment_assignments WHERE member_id = $1",
                &[&id],
            )
            .at(location)?;
        // Sign-ins whose account is the member's id, or their email in any case.
        erasure.logins = transaction
            .execute(
                "DELETE FROM logins WHERE account = $1 OR lower(account) = $2",
                &[&id, &email],
            )
            .at(location)?;
        // Quarantined rows holding the member's id or email as a whole word: the server
        // narrows them down by substring, the word test decides.
        let candidates = transaction
            .query(
                "SELECT id, raw FROM quarantine \
                 WHERE strpos(raw, $1) > 0 OR ($2::text IS NOT NULL AND strpos(lower(raw), $2) > 0)",
                &[&id, &email],
            )
            .at(location)?;
        let mut quarantined: Vec<i64> = Vec::new();
        for row in &candidates {
            let raw: String = row.try_get(1).at(location)?;
            let names_member = contains_word(&raw, id)
                || email
                    .as_deref()
                    .is_some_and(|e| contains_word(&raw.to_lowercase(), e));
            if names_member {
                quarantined.push(row.try_get(0).at(location)?);
            }
        }
        erasure.quarantined = transaction
            .execute("DELETE FROM quarantine WHERE id = ANY($1)", &[&quarantined])
            .at(location)?;
        erasure.members = transaction
            .execute("DELETE FROM members WHERE id = $1", &[&id])
            .at(location)?;
        if erasure.total() == 0 {
            transaction.rollback().at(location)?;
            return Ok(None);
        }
        transaction.commit().at(location)?;
        // VACUUM runs outside a transaction; the erasure is durable whatever it does.
        if let Err(error) = client.batch_execute(
            "VACUUM members, plays, ratings, impressions, searches, qoe, views, logins, \
             quarantine, experiment_assignments",
        ) {
            tracing::warn!(%error, database = %location.display(), "vacuum after erasure failed");
        }
        Ok(Some(erasure))
    }

    fn take_rate(&self, filter: &TakeRateFilter) -> Result<Vec<RowTakeRate>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT i.row_name, count(*), \
                     count(*) FILTER (WHERE EXISTS (SELECT 1 FROM plays p \
                         WHERE p.request_id = i.request_id \
                           AND p.member_id = i.member_id \
                           AND p.title_id = i.title_id)) \
                 FROM impressions i \
                 WHERE i.ts >= $1 AND i.ts < $2 \
                   AND ($3::text IS NULL OR i.row_name = $3 \
                        OR left(i.row_name, length($3) + 1) = $3 || ':') \
                 GROUP BY i.row_name ORDER BY i.row_name COLLATE \"C\"",
                &[&filter.from.millis(), &filter.to.millis(), &filter.row],
            )
            .at(location)?;
        let mut rates = Vec::with_capacity(rows.len());
        for row in &rows {
            rates.push(RowTakeRate {
                row: row.try_get(0).at(location)?,
                impressions: row.try_get::<_, i64>(1).at(location)? as u64,
                plays: row.try_get::<_, i64>(2).at(location)? as u64,
            });
        }
        Ok(rates)
    }
}
