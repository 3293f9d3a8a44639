//! Personal data at rest for SQLite: the `data_keys` table (migration `0008_vault.sql`)
//! behind [`KeyTable`], sealing of the batch's personal fields before they are written and
//! opening them after they are read, lookups by email, erasure and master-key rotation.
//! The cryptography is `crate::vault`'s; this file only moves keys and values.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use showrunner_model::event::Login;
use showrunner_model::{Event, EventBody, Member, Personal, Quarantined};

use super::{AtPath, SqliteStore, read, write};
use crate::vault::{BLIND_INDEX_REF, KeyRef, KeyTable, Vault, WrappedKey};
use crate::{QuarantineRow, Store, StoreError, VaultStore};

/// The subject every quarantined row is sealed under: rows that failed validation cannot
/// be trusted to name their member.
const QUARANTINE_SUBJECT: &str = "\0quarantine";

/// Data keys re-wrapped per transaction during a rotation, so a running service's writes
/// wait at most one short transaction.
const REWRAP_CHUNK: usize = 500;

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

    fn insert(&mut self, key: &WrappedKey) -> Result<(), StoreError> {
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
        Ok(())
    }
}

/// A member as stored: personal fields sealed under the member's data key, and the email's
/// lookup index.
pub(super) fn seal_member(
    vault: &Vault,
    keys: &mut Keys<'_>,
    member: &Member,
) -> Result<(Member, Option<[u8; 32]>), StoreError> {
    let mut sealed = member.clone();
    let mut index = None;
    if let Some(email) = &member.email {
        index = Some(vault.email_index(keys, email.expose())?);
        sealed.email = Some(Personal::new(vault.seal(
            keys,
            &member.id,
            "members.email",
            email.expose(),
        )?));
    }
    if let Some(name) = &member.name {
        sealed.name = Some(Personal::new(vault.seal(
            keys,
            &member.id,
            "members.name",
            name.expose(),
        )?));
    }
    for profile in &mut sealed.profiles {
        if let Some(name) = &profile.name {
            profile.name = Some(Personal::new(vault.seal(
                keys,
                &member.id,
                "members.profiles.name",
                name.expose(),
            )?));
        }
    }
    Ok((sealed, index))
}

pub(super) fn open_member(
    vault: &Vault,
    keys: &mut Keys<'_>,
    mut member: Member,
) -> Result<Member, StoreError> {
    if let Some(email) = member.email.take() {
        member.email = Some(Personal::new(vault.open(
            keys,
            "members.email",
            email.into_inner(),
        )?));
    }
    if let Some(name) = member.name.take() {
        member.name = Some(Personal::new(vault.open(
            keys,
            "members.name",
            name.into_inner(),
        )?));
    }
    for profile in &mut member.profiles {
        if let Some(name) = profile.name.take() {
            profile.name = Some(Personal::new(vault.open(
                keys,
                "members.profiles.name",
                name.into_inner(),
            )?));
        }
    }
    Ok(member)
}

/// The sealed `account` and `ip` of every login of a batch, by the event's position. A
/// login is sealed under the account it tried, which need not be a member.
pub(super) fn seal_logins(
    vault: &Vault,
    keys: &mut Keys<'_>,
    events: &[Event],
) -> Result<HashMap<usize, [String; 2]>, StoreError> {
    let mut sealed = HashMap::new();
    for (position, event) in events.iter().enumerate() {
        if let EventBody::Login(login) = &event.body {
            sealed.insert(
                position,
                [
                    vault.seal(keys, &login.account, "logins.account", &login.account)?,
                    vault.seal(keys, &login.account, "logins.ip", &login.ip)?,
                ],
            );
        }
    }
    Ok(sealed)
}

pub(super) fn open_login(
    vault: &Vault,
    keys: &mut Keys<'_>,
    login: &mut Login,
) -> Result<(), StoreError> {
    login.account = vault.open(keys, "logins.account", std::mem::take(&mut login.account))?;
    login.ip = vault.open(keys, "logins.ip", std::mem::take(&mut login.ip))?;
    Ok(())
}

/// Quarantined rows with their raw text and problem detail sealed (either may quote an
/// email or an address).
pub(super) fn seal_quarantined(
    vault: &Vault,
    keys: &mut Keys<'_>,
    rows: &[Quarantined],
) -> Result<Vec<(Quarantined, i64)>, StoreError> {
    rows.iter()
        .map(|row| {
            let mut sealed = row.clone();
            sealed.raw = vault.seal(keys, QUARANTINE_SUBJECT, "quarantine.raw", &row.raw)?;
            sealed.problem.detail = vault.seal(
                keys,
                QUARANTINE_SUBJECT,
                "quarantine.detail",
                &row.problem.detail,
            )?;
            // The unique key hashes the plain text, so the same row quarantined twice is
            // still one row although its ciphertexts differ.
            Ok((sealed, write::raw_hash(&row.raw)))
        })
        .collect()
}

pub(super) fn open_quarantine_row(
    vault: &Vault,
    keys: &mut Keys<'_>,
    mut row: QuarantineRow,
) -> Result<QuarantineRow, StoreError> {
    row.raw = vault.open(keys, "quarantine.raw", std::mem::take(&mut row.raw))?;
    row.problem.detail = vault.open(
        keys,
        "quarantine.detail",
        std::mem::take(&mut row.problem.detail),
    )?;
    Ok(row)
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

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RewrapSummary {
    /// Data keys now wrapped under the current master key that were not before.
    pub rewrapped: u64,
    /// Data keys in the store.
    pub total: u64,
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
                let mut subjects = vec![member_id.to_owned()];
                subjects.extend(email.filter(|e| e != crate::vault::ERASED));
                for subject in subjects {
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
                let corrupt = |column| StoreError::Corrupt {
                    path: path.clone(),
                    table: "data_keys",
                    column,
                    detail: "wrong length".into(),
                };
                let stored = WrappedKey {
                    reference: reference.try_into().map_err(|_| corrupt("reference"))?,
                    master_id: master_id.try_into().map_err(|_| corrupt("master_id"))?,
                    wrapped,
                };
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
