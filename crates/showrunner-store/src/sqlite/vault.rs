//! Personal data at rest for SQLite: the `data_keys` table (migration `0008_vault.sql`)
//! behind [`KeyTable`], lookups by email, erasure and master-key rotation. What is sealed
//! and the cryptography are `crate::vault`'s; this file only moves keys and values.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use showrunner_model::Member;

use super::{AtPath, SqliteStore, read, write};
use crate::vault::{
    BLIND_INDEX_REF, KeyRef, KeyTable, REWRAP_CHUNK, RewrapSummary, WrappedKey, erasure_subjects,
    stored_key,
};
use crate::{Store, StoreError, VaultStore};

/// The key table seen through one connection (or transaction).
pub(super) struct Keys<'c> {
    pub(super) connection: &'c Connection,
    pub(super) path: &'c Path,
}

impl KeyTable for Keys<'_> {
    fn load(&mut self, reference: &KeyRef) -> Result<Option<WrappedKey>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT master_id, wrapped FROM data_keys WHERE reference = ?1")
            .at(self.path)?;
        let found = statement
            .query_row([&reference[..]], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .optional()
            .at(self.path)?;
        let Some((master_id, wrapped)) = found else {
            return Ok(None);
        };
        let master_id: [u8; 8] = master_id.try_into().map_err(|_| StoreError::Corrupt {
            path: self.path.to_owned(),
            table: "data_keys",
            column: "master_id",
            detail: "not 8 bytes".into(),
        })?;
        Ok(Some(WrappedKey {
            reference: *reference,
            master_id,
            wrapped,
        }))
    }

    /// Writers take turns on SQLite (`IMMEDIATE` transactions), so no other key can have
    /// been stored under the reference since it was looked up.
    fn insert(&mut self, key: &WrappedKey) -> Result<Option<WrappedKey>, StoreError> {
        self.connection
            .prepare_cached(
                "INSERT INTO data_keys (reference, master_id, wrapped, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .at(self.path)?
            .execute(params![
                &key.reference[..],
                &key.master_id[..],
                key.wrapped,
                write::now_millis()
            ])
            .at(self.path)?;
        Ok(None)
    }
}

/// The distinct master keys the store's data keys are wrapped under.
pub(super) fn master_ids(connection: &Connection, path: &Path) -> Result<Vec<[u8; 8]>, StoreError> {
    let mut statement = connection
        .prepare("SELECT DISTINCT master_id FROM data_keys")
        .at(path)?;
    let ids = statement
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .at(path)?
        .collect::<Result<Vec<_>, _>>()
        .at(path)?;
    Ok(ids
        .into_iter()
        .filter_map(|id| <[u8; 8]>::try_from(id).ok())
        .collect())
}

impl VaultStore for SqliteStore {
    fn member_by_email(&self, email: &str) -> Result<Option<Member>, StoreError> {
        let mut keys = Keys {
            connection: &self.connection,
            path: &self.path,
        };
        // No blind index key yet means no member has an email index.
        if keys.load(&BLIND_INDEX_REF)?.is_none() {
            return Ok(None);
        }
        let index = self.vault.email_index(&mut keys, email)?;
        let id: Option<String> = self
            .connection
            .query_row(
                "SELECT id FROM members WHERE email_index = ?1 ORDER BY id LIMIT 1",
                [&index[..]],
                |row| row.get(0),
            )
            .optional()
            .at(&self.path)?;
        match id {
            Some(id) => self.member(&id),
            None => Ok(None),
        }
    }

    fn erase_personal_data(&mut self, member_id: &str) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        // The email may be the account the member's logins tried: its key goes too.
        let email = read::member(&self.connection, &path, member_id)?
            .and_then(|member| member.email)
            .map(|email| {
                self.vault.open(
                    &mut Keys {
                        connection: &self.connection,
                        path: &path,
                    },
                    "members.email",
                    email.into_inner(),
                )
            })
            .transpose()?;
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let mut destroyed = 0;
        {
            let mut keys = Keys {
                connection: &transaction,
                path: &path,
            };
            if keys.load(&BLIND_INDEX_REF)?.is_some() {
                for subject in erasure_subjects(member_id, email) {
                    let reference = self.vault.reference(&mut keys, &subject)?;
                    destroyed += transaction
                        .execute(
                            "DELETE FROM data_keys WHERE reference = ?1",
                            [&reference[..]],
                        )
                        .at(&path)? as u64;
                }
            }
            transaction
                .execute(
                    "UPDATE members SET email = NULL, name = NULL, email_index = NULL \
                     WHERE id = ?1",
                    [member_id],
                )
                .at(&path)?;
        }
        transaction.commit().at(&path)?;
        self.vault.forget();
        // secure_delete zeroed the freed cells; checkpointing moves that into the main file
        // and truncates the WAL, so the old page images go too.
        self.connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .at(&path)?;
        Ok(destroyed)
    }

    fn rewrap_data_keys(
        &mut self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RewrapSummary, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let current = self.vault.master_id();
        let total: i64 = self
            .connection
            .query_row("SELECT count(*) FROM data_keys", [], |row| row.get(0))
            .at(&path)?;
        let mut summary = RewrapSummary {
            rewrapped: 0,
            total: total as u64,
        };
        loop {
            let transaction = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .at(&path)?;
            let stale: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = {
                let mut statement = transaction
                    .prepare(
                        "SELECT reference, master_id, wrapped FROM data_keys \
                         WHERE master_id <> ?1 LIMIT ?2",
                    )
                    .at(&path)?;
                statement
                    .query_map(params![&current[..], REWRAP_CHUNK as i64], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .at(&path)?
                    .collect::<Result<_, _>>()
                    .at(&path)?
            };
            if stale.is_empty() {
                transaction.commit().at(&path)?;
                break;
            }
            for (reference, master_id, wrapped) in stale {
                let stored = stored_key(reference, master_id, wrapped).map_err(|column| {
                    StoreError::Corrupt {
                        path: path.clone(),
                        table: "data_keys",
                        column,
                        detail: "wrong length".into(),
                    }
                })?;
                let fresh = self.vault.rewrap(&stored)?;
                transaction
                    .execute(
                        "UPDATE data_keys SET master_id = ?1, wrapped = ?2 WHERE reference = ?3",
                        params![&fresh.master_id[..], fresh.wrapped, &fresh.reference[..]],
                    )
                    .at(&path)?;
                summary.rewrapped += 1;
            }
            transaction.commit().at(&path)?;
            progress(summary.rewrapped, summary.total);
        }
        self.connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .at(&path)?;
        Ok(summary)
    }
}
