//! [`CatalogStore`] for SQLite: deleting a title, erasing a member, the take rate (see
//! migration `0007_catalog.sql` for its index).
//!
//! Erasure runs with `secure_delete` on, so the pages it frees are overwritten with zeros,
//! and truncates the write-ahead log afterwards, so neither the database file nor its WAL
//! keeps a copy of what was erased (the truncation is skipped while another connection
//! holds a read transaction; the next checkpoint does it then). The member's id in the
//! `strings` dictionary is overwritten with a tombstone rather than deleted, because
//! dictionary keys are never reused; the writer's in-memory copy of the dictionary is
//! dropped, so a later event naming the same id gets a fresh key.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{AtPath, SqliteStore};
use crate::catalog::{
    CatalogStore, Erasure, RowTakeRate, TakeRateFilter, TitleDeletion, contains_word,
};
use crate::{Store, StoreError};

/// Event tables keyed by member, whose rows are erased with the member.
const MEMBER_EVENT_TABLES: [&str; 5] = ["plays", "ratings", "impressions", "searches", "qoe"];

impl SqliteStore {
    fn erase_member_in_transaction(&mut self, id: &str) -> Result<Option<Erasure>, StoreError> {
        let path = self.path.clone();
        // Opened: the stored email is sealed.
        let member = self.member(id)?;
        let stored_email = member
            .as_ref()
            .and_then(|m| m.email.as_ref())
            .map(|e| e.expose().clone())
            .filter(|e| e != crate::vault::ERASED);
        let email = stored_email.as_ref().map(|e| e.to_lowercase());
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let key: Option<i64> = transaction
            .query_row("SELECT key FROM strings WHERE text = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .at(&path)?;
        // Profile ids: the member's profiles, and those their views were watched on.
        let mut profiles: Vec<String> = member
            .as_ref()
            .map(|m| m.profiles.iter().map(|p| p.id.clone()).collect())
            .unwrap_or_default();
        {
            let mut statement = transaction
                .prepare(
                    "SELECT DISTINCT profile_id FROM views \
                     WHERE member_id = ?1 AND profile_id IS NOT NULL",
                )
                .at(&path)?;
            let rows = statement
                .query_map([id], |row| row.get::<_, String>(0))
                .at(&path)?;
            for profile in rows {
                let profile = profile.at(&path)?;
                if !profiles.contains(&profile) {
                    profiles.push(profile);
                }
            }
        }
        let mut erasure = Erasure::default();
        if let Some(key) = key {
            for table in MEMBER_EVENT_TABLES {
                let removed = transaction
                    .execute(&format!("DELETE FROM {table} WHERE member_key = ?1"), [key])
                    .at(&path)? as u64;
                match table {
                    "plays" => erasure.plays = removed,
                    "ratings" => erasure.ratings = removed,
                    "impressions" => erasure.impressions = removed,
                    "searches" => erasure.searches = removed,
                    _ => erasure.qoe = removed,
                }
            }
        }
        erasure.views = transaction
            .execute("DELETE FROM views WHERE member_id = ?1", [id])
            .at(&path)? as u64;
        erasure.experiment_assignments = transaction
            .execute(
                "DELETE FROM experiment_assignments WHERE member_id = ?1",
                [id],
            )
            .at(&path)? as u64;
        // Sign-ins are sealed under the account they tried: the member's id or email (as
        // stored, and lower-cased). A sealed value starts with its key's reference, so the
        // rows are found by that prefix, and the keys themselves are destroyed below.
        let mut subjects = vec![id.to_owned()];
        subjects.extend(stored_email.iter().cloned());
        subjects.extend(email.iter().cloned());
        subjects.dedup();
        let mut references = Vec::new();
        {
            let mut keys = super::vault::Keys {
                connection: &transaction,
                path: &path,
            };
            for subject in &subjects {
                references.push(self.vault.reference(&mut keys, subject)?);
            }
        }
        for reference in &references {
            erasure.logins += transaction
                .execute(
                    "DELETE FROM logins WHERE substr(account, 1, ?2) = ?1 OR account = ?3",
                    params![
                        crate::vault::sealed_prefix(reference),
                        crate::vault::sealed_prefix(reference).len() as i64,
                        subjects[0],
                    ],
                )
                .at(&path)? as u64;
        }
        // Quarantined rows (sealed): opened one by one, kept when they hold the member's id
        // or email as a whole word.
        let mut quarantined = Vec::new();
        {
            let mut statement = transaction
                .prepare("SELECT id, raw FROM quarantine")
                .at(&path)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .at(&path)?;
            let mut keys = super::vault::Keys {
                connection: &transaction,
                path: &path,
            };
            for row in rows {
                let (row_id, raw) = row.at(&path)?;
                let raw = self.vault.open(&mut keys, "quarantine.raw", raw)?;
                let names_member = contains_word(&raw, id)
                    || email
                        .as_deref()
                        .is_some_and(|e| contains_word(&raw.to_lowercase(), e));
                if names_member {
                    quarantined.push(row_id);
                }
            }
        }
        for row_id in &quarantined {
            transaction
                .execute("DELETE FROM quarantine WHERE id = ?1", [row_id])
                .at(&path)?;
        }
        erasure.quarantined = quarantined.len() as u64;
        erasure.members = transaction
            .execute("DELETE FROM members WHERE id = ?1", [id])
            .at(&path)? as u64;
        // Crypto-shredding: whatever was sealed under these keys (here, in the WAL, in any
        // copy) can no longer be opened.
        for reference in &references {
            erasure.data_keys += transaction
                .execute(
                    "DELETE FROM data_keys WHERE reference = ?1",
                    [&reference[..]],
                )
                .at(&path)? as u64;
        }
        // The dictionary: the member's id (unless a title has the same id, as in public
        // rating datasets that number users and movies alike) and profile ids containing it.
        let mut texts = vec![id.to_owned()];
        texts.extend(profiles.into_iter().filter(|p| p != id && p.contains(id)));
        for text in texts {
            let title_has_it: bool = transaction
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM titles WHERE id = ?1)",
                    [&text],
                    |row| row.get(0),
                )
                .at(&path)?;
            if title_has_it {
                continue;
            }
            erasure.identifiers += transaction
                .execute(
                    "UPDATE strings SET text = 'erased:' || key WHERE text = ?1",
                    [&text],
                )
                .at(&path)? as u64;
        }
        if erasure.total() == 0 {
            transaction.rollback().at(&path)?;
            // A blind index key made for the references above went with the rollback.
            self.vault.forget();
            return Ok(None);
        }
        transaction.commit().at(&path)?;
        self.vault.forget();
        Ok(Some(erasure))
    }
}

impl CatalogStore for SqliteStore {
    fn delete_title(&mut self, id: &str) -> Result<TitleDeletion, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let exists: bool = transaction
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM titles WHERE id = ?1)",
                [id],
                |row| row.get(0),
            )
            .at(&path)?;
        if !exists {
            return Ok(TitleDeletion::NotFound);
        }
        let parts: i64 = transaction
            .query_row(
                "SELECT count(*) FROM titles WHERE series_id = ?1 AND id <> ?1",
                [id],
                |row| row.get(0),
            )
            .at(&path)?;
        let key: Option<i64> = transaction
            .query_row("SELECT key FROM strings WHERE text = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .at(&path)?;
        let mut referenced_by = Vec::new();
        let views: bool = transaction
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM views WHERE title_id = ?1)",
                [id],
                |row| row.get(0),
            )
            .at(&path)?;
        if views {
            referenced_by.push("views".to_owned());
        }
        if let Some(key) = key {
            for (table, column) in [
                ("plays", "title_key"),
                ("ratings", "title_key"),
                ("impressions", "title_key"),
                ("qoe", "title_key"),
                ("searches", "clicked_title_key"),
            ] {
                let found: bool = transaction
                    .query_row(
                        &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} = ?1)"),
                        [key],
                        |row| row.get(0),
                    )
                    .at(&path)?;
                if found {
                    referenced_by.push(table.to_owned());
                }
            }
        }
        if parts > 0 || !referenced_by.is_empty() {
            return Ok(TitleDeletion::InUse {
                parts: parts as u64,
                referenced_by,
            });
        }
        transaction
            .execute("DELETE FROM titles WHERE id = ?1", [id])
            .at(&path)?;
        transaction.commit().at(&path)?;
        Ok(TitleDeletion::Deleted)
    }

    fn erase_member(&mut self, id: &str) -> Result<Option<Erasure>, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let previous: i64 = self
            .connection
            .query_row("PRAGMA secure_delete", [], |row| row.get(0))
            .at(&path)?;
        self.connection
            .pragma_update(None, "secure_delete", true)
            .at(&path)?;
        let result = self.erase_member_in_transaction(id);
        // Whatever happened, the dictionary may have changed under the writer's cache.
        self.write_cache.clear();
        let restored = self
            .connection
            .pragma_update(None, "secure_delete", previous)
            .at(&path);
        let erasure = result?;
        restored?;
        if erasure.is_some() {
            // Copy the erased pages (now zeros) into the database and empty the WAL, which
            // still holds earlier versions of them. A reader elsewhere may keep it from
            // finishing; the erasure itself is already durable.
            if let Err(error) =
                self.connection
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            {
                tracing::warn!(%error, database = %path.display(), "checkpoint after erasure failed");
            }
        }
        Ok(erasure)
    }

    fn take_rate(&self, filter: &TakeRateFilter) -> Result<Vec<RowTakeRate>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT s.text, count(*), \
                     sum(EXISTS (SELECT 1 FROM plays p \
                                 WHERE p.request_id = i.request_id \
                                   AND p.member_key = i.member_key \
                                   AND p.title_key = i.title_key)) \
                 FROM impressions i JOIN strings s ON s.key = i.row_name_key \
                 WHERE i.ts >= ?1 AND i.ts < ?2 \
                   AND (?3 IS NULL OR s.text = ?3 OR substr(s.text, 1, length(?3) + 1) = ?3 || ':') \
                 GROUP BY s.text ORDER BY s.text",
            )
            .at(path)?;
        let rows = statement
            .query_map(
                params![filter.from.millis(), filter.to.millis(), filter.row],
                |row| {
                    Ok(RowTakeRate {
                        row: row.get(0)?,
                        impressions: row.get::<_, i64>(1)? as u64,
                        plays: row.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .at(path)?;
        rows.map(|row| row.at(path)).collect()
    }
}
