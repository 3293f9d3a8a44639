//! [`CatalogStore`] for PostgreSQL: deleting a title, erasing a member, the take rate (see
//! `migrations/pg/0007_catalog.sql` for its index).
//!
//! This backend holds texts in the event rows (no dictionary), so erasure has no
//! identifiers to tombstone: it deletes rows by the member's id, finds their sign-ins by
//! the reference of the data key they are sealed under, opens the quarantined rows to test
//! them, and destroys the member's data keys (so whatever was sealed under them, in the
//! server's write-ahead log and its archive too, can no longer be opened). After the
//! transaction commits, the touched tables are vacuumed so that the deleted rows' space is
//! reclaimed.

use super::vault::Keys;
use super::{AtDb, PgStore, read};
use crate::StoreError;
use crate::catalog::{
    CatalogStore, Erasure, RowTakeRate, TakeRateFilter, TitleDeletion, contains_word,
};
use crate::vault::{Vault, sealed_prefix};

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
        let result = erase_member_in_transaction(&mut client, location, &self.vault, id);
        // After a rollback (a blind index key it made is gone) and after the erasure (the
        // erased keys must not be used from memory).
        self.vault.forget();
        let erasure = result?;
        if erasure.is_some() {
            // VACUUM runs outside a transaction; the erasure is durable whatever it does.
            if let Err(error) = client.batch_execute(
                "VACUUM members, plays, ratings, impressions, searches, qoe, views, logins, \
                 quarantine, experiment_assignments, data_keys",
            ) {
                tracing::warn!(%error, database = %location.display(), "vacuum after erasure failed");
            }
        }
        Ok(erasure)
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

fn erase_member_in_transaction(
    client: &mut postgres::Client,
    location: &std::path::Path,
    vault: &Vault,
    id: &str,
) -> Result<Option<Erasure>, StoreError> {
    let mut transaction = client.transaction().at(location)?;
    transaction
        .execute("SELECT 1 FROM members WHERE id = $1 FOR UPDATE", &[&id])
        .at(location)?;
    let member = read::member(&mut transaction, location, id)?;
    let mut keys = Keys::new(&mut transaction, location);
    // Opened: the stored email is sealed (or plain, from before sealing).
    let stored_email = member
        .and_then(|member| member.email)
        .map(|email| vault.open(&mut keys, "members.email", email.into_inner()))
        .transpose()?
        .filter(|email| email != crate::vault::ERASED);
    let email = stored_email.as_ref().map(|email| email.to_lowercase());
    // Sign-ins are sealed under the account they tried: the member's id or email (as
    // stored, and lower-cased). A sealed value starts with its key's reference, so the
    // rows are found by that prefix, and the keys themselves are destroyed below.
    let mut subjects = vec![id.to_owned()];
    subjects.extend(stored_email.iter().cloned());
    subjects.extend(email.iter().cloned());
    subjects.dedup();
    let mut references = Vec::with_capacity(subjects.len());
    let mut prefixes = Vec::with_capacity(subjects.len());
    for subject in &subjects {
        let reference = vault.reference(&mut keys, subject)?;
        prefixes.push(sealed_prefix(&reference));
        references.push(reference.to_vec());
    }
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
    // Sealed sign-ins by their key's prefix; plain ones (written before sealing) by the
    // member's id or their email in any case.
    erasure.logins = transaction
        .execute(
            "DELETE FROM logins WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) AS p(prefix) \
                 WHERE left(account, length(p.prefix)) = p.prefix) \
             OR account = $2 OR lower(account) = $3",
            &[&prefixes, &id, &email],
        )
        .at(location)?;
    // Quarantined rows (sealed): opened one by one, kept when they hold the member's id or
    // email as a whole word.
    let rows = transaction
        .query("SELECT id, raw FROM quarantine", &[])
        .at(location)?;
    let mut keys = Keys::new(&mut transaction, location);
    let mut quarantined: Vec<i64> = Vec::new();
    for row in &rows {
        let raw = vault.open(&mut keys, "quarantine.raw", row.try_get(1).at(location)?)?;
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
    // Crypto-shredding: whatever was sealed under these keys (here, in the write-ahead log,
    // in any copy) can no longer be opened.
    erasure.data_keys = transaction
        .execute(
            "DELETE FROM data_keys WHERE reference = ANY($1)",
            &[&references],
        )
        .at(location)?;
    if erasure.total() == 0 {
        transaction.rollback().at(location)?;
        return Ok(None);
    }
    transaction.commit().at(location)?;
    Ok(Some(erasure))
}
