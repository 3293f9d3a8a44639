//! Personal data at rest for PostgreSQL: the `data_keys` table (`migrations/pg/0008_vault.sql`)
//! behind [`KeyTable`], lookups by email, erasure and master-key rotation. What is sealed
//! and the cryptography are `crate::vault`'s, shared with SQLite; this file only moves keys
//! and values.
//!
//! Unlike SQLite's, PostgreSQL's writers do not take turns: two of them may create the same
//! subject's data key at once. The key table's primary key decides, and the one that comes
//! second uses the first one's key (see [`KeyTable::insert_all`]).

use std::collections::HashMap;
use std::path::Path;

use postgres::GenericClient;
use postgres::types::ToSql;
use showrunner_model::Member;

use super::{AtDb, PgStore, read, write};
use crate::vault::{
    AUDIT_IP_COLUMN, AUDIT_SUBJECT, BLIND_INDEX_REF, KeyRef, KeyTable, QUARANTINE_SUBJECT,
    REWRAP_CHUNK, RewrapSummary, Vault, WrappedKey, erasure_subjects, is_sealed, seal_finding,
    stored_key,
};
use crate::{StoreError, VaultStore};

/// The key table seen through one connection or transaction, with the keys looked up in
/// bulk beforehand (see [`Keys::prepare`]) so that sealing a batch costs one round trip for
/// the keys that exist, not one per subject.
pub(super) struct Keys<'c, C: GenericClient> {
    client: &'c mut C,
    location: &'c Path,
    preloaded: HashMap<KeyRef, Option<WrappedKey>>,
}

impl<'c, C: GenericClient> Keys<'c, C> {
    pub(super) fn new(client: &'c mut C, location: &'c Path) -> Self {
        Keys {
            client,
            location,
            preloaded: HashMap::new(),
        }
    }

    /// The client the keys are read through, for the caller's own statements.
    pub(super) fn client(&mut self) -> &mut C {
        self.client
    }

    /// Looks up the data keys of `subjects` in one statement (their references need the
    /// blind index key, created here when missing), then creates the missing ones in the
    /// order of their references (see [`Vault::prepare_keys`]). `subjects` are those about
    /// to be sealed under, so no key is made that nothing uses.
    pub(super) fn prepare<'s>(
        &mut self,
        vault: &Vault,
        subjects: impl IntoIterator<Item = &'s str>,
    ) -> Result<(), StoreError> {
        let mut references = Vec::new();
        for subject in subjects {
            let reference = vault.reference(self, subject)?;
            if let std::collections::hash_map::Entry::Vacant(entry) =
                self.preloaded.entry(reference)
            {
                entry.insert(None);
                references.push(reference.to_vec());
            }
        }
        if references.is_empty() {
            return Ok(());
        }
        references.sort_unstable();
        let rows = self
            .client
            .query(
                "SELECT reference, master_id, wrapped FROM data_keys WHERE reference = ANY($1)",
                &[&references],
            )
            .at(self.location)?;
        for row in &rows {
            let key = key_from(
                self.location,
                row.try_get(0).at(self.location)?,
                row.try_get(1).at(self.location)?,
                row.try_get(2).at(self.location)?,
            )?;
            self.preloaded.insert(key.reference, Some(key));
        }
        let references: Vec<KeyRef> = references
            .into_iter()
            .filter_map(|reference| reference.try_into().ok())
            .collect();
        vault.prepare_keys(self, &references)
    }
}

fn key_from(
    location: &Path,
    reference: Vec<u8>,
    master_id: Vec<u8>,
    wrapped: Vec<u8>,
) -> Result<WrappedKey, StoreError> {
    stored_key(reference, master_id, wrapped).map_err(|column| StoreError::Corrupt {
        path: location.to_owned(),
        table: "data_keys",
        column,
        detail: "wrong length".into(),
    })
}

impl<C: GenericClient> KeyTable for Keys<'_, C> {
    fn load(&mut self, reference: &KeyRef) -> Result<Option<WrappedKey>, StoreError> {
        if let Some(known) = self.preloaded.get(reference) {
            return Ok(known.clone());
        }
        let row = self
            .client
            .query_opt(
                "SELECT master_id, wrapped FROM data_keys WHERE reference = $1",
                &[&&reference[..]],
            )
            .at(self.location)?;
        row.map(|row| {
            key_from(
                self.location,
                reference.to_vec(),
                row.try_get(0).at(self.location)?,
                row.try_get(1).at(self.location)?,
            )
        })
        .transpose()
    }

    fn insert(&mut self, key: &WrappedKey) -> Result<Option<WrappedKey>, StoreError> {
        // A writer that stored the same reference first (committed, or committing while
        // this statement waits for it) wins; its key is read back and used instead.
        let inserted = self
            .client
            .execute(
                "INSERT INTO data_keys (reference, master_id, wrapped, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (reference) DO NOTHING",
                &[
                    &&key.reference[..],
                    &&key.master_id[..],
                    &key.wrapped,
                    &write::now_millis(),
                ],
            )
            .at(self.location)?;
        self.preloaded.remove(&key.reference);
        if inserted == 1 {
            self.preloaded.insert(key.reference, Some(key.clone()));
            return Ok(None);
        }
        match self.load(&key.reference)? {
            Some(theirs) => Ok(Some(theirs)),
            // Stored and erased again in between: store ours after all.
            None => self.insert(key),
        }
    }

    fn insert_all(&mut self, keys: &[WrappedKey]) -> Result<Vec<WrappedKey>, StoreError> {
        self.insert_in_one_statement(keys)
    }
}

impl<C: GenericClient> Keys<'_, C> {
    /// [`KeyTable::insert_all`] in one statement, rows inserted in the order given.
    fn insert_in_one_statement(
        &mut self,
        keys: &[WrappedKey],
    ) -> Result<Vec<WrappedKey>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let references: Vec<&[u8]> = keys.iter().map(|key| &key.reference[..]).collect();
        let master_ids: Vec<&[u8]> = keys.iter().map(|key| &key.master_id[..]).collect();
        let wrapped: Vec<&[u8]> = keys.iter().map(|key| &key.wrapped[..]).collect();
        let rows = self
            .client
            .query(
                "INSERT INTO data_keys (reference, master_id, wrapped, created_at) \
                 SELECT k.reference, k.master_id, k.wrapped, $4 \
                 FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) WITH ORDINALITY \
                     AS k(reference, master_id, wrapped, n) \
                 ORDER BY k.n \
                 ON CONFLICT (reference) DO NOTHING RETURNING reference",
                &[&references, &master_ids, &wrapped, &write::now_millis()],
            )
            .at(self.location)?;
        let mut stored = std::collections::HashSet::with_capacity(rows.len());
        for row in &rows {
            stored.insert(row.try_get::<_, Vec<u8>>(0).at(self.location)?);
        }
        let mut theirs = Vec::new();
        for key in keys {
            if stored.contains(&key.reference[..]) {
                self.preloaded.insert(key.reference, Some(key.clone()));
            } else {
                self.preloaded.remove(&key.reference);
                theirs.extend(self.insert(key)?);
            }
        }
        Ok(theirs)
    }
}

/// The distinct master keys the store's data keys are wrapped under.
pub(super) fn master_ids(
    client: &mut impl GenericClient,
    location: &Path,
) -> Result<Vec<[u8; 8]>, StoreError> {
    let rows = client
        .query("SELECT DISTINCT master_id FROM data_keys", &[])
        .at(location)?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: Vec<u8> = row.try_get(0).at(location)?;
        if let Ok(id) = <[u8; 8]>::try_from(id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Deletes the data keys of `subjects` (the erasure's crypto-shredding); returns how many
/// there were. Nothing is deleted when the store has no blind index key yet, as then no
/// subject has a key.
pub(super) fn destroy_keys<C: GenericClient>(
    vault: &Vault,
    keys: &mut Keys<'_, C>,
    subjects: &[String],
) -> Result<u64, StoreError> {
    if keys.load(&BLIND_INDEX_REF)?.is_none() {
        return Ok(0);
    }
    let mut references = Vec::with_capacity(subjects.len());
    for subject in subjects {
        references.push(vault.reference(keys, subject)?.to_vec());
    }
    references.sort();
    references.dedup();
    let location = keys.location;
    keys.client()
        .execute(
            "DELETE FROM data_keys WHERE reference = ANY($1)",
            &[&references],
        )
        .at(location)
}

impl VaultStore for PgStore {
    fn member_by_email(&self, email: &str) -> Result<Option<Member>, StoreError> {
        let location = &self.location;
        let mut client = self.connection()?;
        let mut keys = Keys::new(&mut *client, location);
        // No blind index key yet means no member has an email index.
        if keys.load(&BLIND_INDEX_REF)?.is_none() {
            return Ok(None);
        }
        let index = self.vault.email_index(&mut keys, email)?;
        let id: Option<String> = client
            .query_opt(
                "SELECT id FROM members WHERE email_index = $1 ORDER BY id LIMIT 1",
                &[&&index[..]],
            )
            .at(location)?
            .map(|row| row.try_get(0))
            .transpose()
            .at(location)?;
        match id {
            Some(id) => self.read_member(&mut *client, &id),
            None => Ok(None),
        }
    }

    fn erase_personal_data(&mut self, member_id: &str) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let mut client = self.connection()?;
        let result = (|| -> Result<u64, StoreError> {
            let mut transaction = client.transaction().at(location)?;
            // Locked first, so a batch rewriting the member waits for the erasure.
            transaction
                .execute(
                    "SELECT 1 FROM members WHERE id = $1 FOR UPDATE",
                    &[&member_id],
                )
                .at(location)?;
            let member = read::member(&mut transaction, location, member_id)?;
            let mut keys = Keys::new(&mut transaction, location);
            // The email may be the account the member's logins tried: its key goes too.
            let email = member
                .and_then(|member| member.email)
                .map(|email| {
                    self.vault
                        .open(&mut keys, "members.email", email.into_inner())
                })
                .transpose()?;
            let destroyed =
                destroy_keys(&self.vault, &mut keys, &erasure_subjects(member_id, email))?;
            transaction
                .execute(
                    "UPDATE members SET email = NULL, name = NULL, email_index = NULL \
                     WHERE id = $1",
                    &[&member_id],
                )
                .at(location)?;
            transaction.commit().at(location)?;
            Ok(destroyed)
        })();
        // After a rollback (a blind index key it made is gone) and after the erasure (the
        // erased keys must not be used from memory).
        self.vault.forget();
        let destroyed = result?;
        // The deleted keys' old row versions stay in the table's pages until vacuumed.
        if let Err(error) = client.batch_execute("VACUUM data_keys, members") {
            tracing::warn!(%error, database = %location.display(), "vacuum after erasure failed");
        }
        Ok(destroyed)
    }

    fn rewrap_data_keys(
        &mut self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RewrapSummary, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let current = self.vault.master_id();
        let mut client = self.connection()?;
        let total: i64 = client
            .query_one("SELECT count(*) FROM data_keys", &[])
            .at(location)?
            .try_get(0)
            .at(location)?;
        let mut summary = RewrapSummary {
            rewrapped: 0,
            total: total as u64,
        };
        let chunk = REWRAP_CHUNK as i64;
        loop {
            let mut transaction = client.transaction().at(location)?;
            // Locked, so a concurrent rotation does not re-wrap the same keys twice.
            let rows = transaction
                .query(
                    "SELECT reference, master_id, wrapped FROM data_keys \
                     WHERE master_id <> $1 LIMIT $2 FOR UPDATE",
                    &[&&current[..], &chunk],
                )
                .at(location)?;
            if rows.is_empty() {
                transaction.commit().at(location)?;
                break;
            }
            let mut references = Vec::with_capacity(rows.len());
            let mut master_ids = Vec::with_capacity(rows.len());
            let mut wrapped = Vec::with_capacity(rows.len());
            for row in &rows {
                let stored = key_from(
                    location,
                    row.try_get(0).at(location)?,
                    row.try_get(1).at(location)?,
                    row.try_get(2).at(location)?,
                )?;
                let fresh = self.vault.rewrap(&stored)?;
                references.push(fresh.reference.to_vec());
                master_ids.push(fresh.master_id.to_vec());
                wrapped.push(fresh.wrapped);
            }
            let params: [&(dyn ToSql + Sync); 3] = [&references, &master_ids, &wrapped];
            transaction
                .execute(
                    "UPDATE data_keys SET master_id = f.master_id, wrapped = f.wrapped \
                     FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) \
                         AS f(reference, master_id, wrapped) \
                     WHERE data_keys.reference = f.reference",
                    &params,
                )
                .at(location)?;
            transaction.commit().at(location)?;
            summary.rewrapped += rows.len() as u64;
            progress(summary.rewrapped, summary.total);
        }
        // Old row versions hold the keys wrapped under the retired master key.
        if let Err(error) = client.batch_execute("VACUUM data_keys") {
            tracing::warn!(%error, database = %location.display(), "vacuum after re-wrap failed");
        }
        Ok(summary)
    }
}

/// Rows read per statement while sealing plain values.
const SEAL_CHUNK: i64 = 500;

/// `value` sealed under `subject` unless it already is; `None` when it is.
fn seal_plain(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    subject: &str,
    column: &'static str,
    value: &str,
) -> Result<Option<String>, StoreError> {
    if is_sealed(value) {
        return Ok(None);
    }
    vault.seal(keys, subject, column, value).map(Some)
}

/// Seals, in the caller's transaction (migration 13's), every personal value that an
/// earlier version of this backend wrote in the clear: members' emails, names and profile
/// names (with the email's lookup index), logins' accounts and IPs, quarantined rows, audit
/// IPs (the chain hashes plain entries, so it still verifies) and findings (whose `subject`
/// becomes the keyed hash SQLite uses). Values already sealed are left alone, so running
/// it again changes nothing. Each table is walked in key order, a chunk per statement.
pub(super) fn seal_plain_rows(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    vault: &Vault,
) -> Result<(), StoreError> {
    seal_plain_members(transaction, location, vault)?;
    seal_plain_logins(transaction, location, vault)?;
    seal_plain_quarantine(transaction, location, vault)?;
    seal_plain_audit(transaction, location, vault)?;
    seal_plain_findings(transaction, location, vault)
}

fn seal_plain_members(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    vault: &Vault,
) -> Result<(), StoreError> {
    let mut after = String::new();
    loop {
        let rows = transaction
            .query(
                "SELECT id, email, name, profiles FROM members WHERE id COLLATE \"C\" > $1 \
                 ORDER BY id COLLATE \"C\" LIMIT $2",
                &[&after, &SEAL_CHUNK],
            )
            .at(location)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0).at(location)?;
        let mut keys = Keys::new(&mut *transaction, location);
        let mut updates: (Vec<String>, Vec<Option<String>>, Vec<Option<String>>) =
            Default::default();
        let mut more: (Vec<String>, Vec<Option<Vec<u8>>>) = Default::default();
        for row in &rows {
            let id: String = row.try_get(0).at(location)?;
            let email: Option<String> = row.try_get(1).at(location)?;
            let name: Option<String> = row.try_get(2).at(location)?;
            let profiles_text: String = row.try_get(3).at(location)?;
            let mut profiles: Vec<showrunner_model::Profile> = serde_json::from_str(&profiles_text)
                .map_err(|error| StoreError::Corrupt {
                    path: location.to_owned(),
                    table: "members",
                    column: "profiles",
                    detail: error.to_string(),
                })?;
            let mut changed = false;
            let mut sealed_email = email.clone();
            let mut index = None;
            if let Some(plain) = email.as_deref().filter(|email| !is_sealed(email)) {
                index = Some(vault.email_index(&mut keys, plain)?.to_vec());
                sealed_email = seal_plain(vault, &mut keys, &id, "members.email", plain)?;
                changed = true;
            }
            let mut sealed_name = name.clone();
            if let Some(plain) = name.as_deref().filter(|name| !is_sealed(name)) {
                sealed_name = seal_plain(vault, &mut keys, &id, "members.name", plain)?;
                changed = true;
            }
            for profile in &mut profiles {
                if let Some(plain) = profile.name.as_ref().map(|name| name.expose().clone())
                    && let Some(sealed) =
                        seal_plain(vault, &mut keys, &id, "members.profiles.name", &plain)?
                {
                    profile.name = Some(showrunner_model::Personal::new(sealed));
                    changed = true;
                }
            }
            if changed {
                let profiles =
                    serde_json::to_string(&profiles).map_err(|error| StoreError::Corrupt {
                        path: location.to_owned(),
                        table: "members",
                        column: "profiles",
                        detail: error.to_string(),
                    })?;
                updates.0.push(id.clone());
                updates.1.push(sealed_email);
                updates.2.push(sealed_name);
                more.0.push(profiles);
                more.1.push(index);
            }
        }
        if updates.0.is_empty() {
            continue;
        }
        let params: [&(dyn ToSql + Sync); 5] =
            [&updates.0, &updates.1, &updates.2, &more.0, &more.1];
        transaction
            .execute(
                "UPDATE members SET email = s.email, name = s.name, profiles = s.profiles, \
                     email_index = coalesce(s.email_index, members.email_index) \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[]) \
                     AS s(id, email, name, profiles, email_index) \
                 WHERE members.id = s.id",
                &params,
            )
            .at(location)?;
    }
}

fn seal_plain_logins(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    vault: &Vault,
) -> Result<(), StoreError> {
    let (mut after_key, mut after_id) = (i64::MIN, String::new());
    loop {
        let rows = transaction
            .query(
                "SELECT key, id, account, ip FROM logins WHERE (key, id) > ($1, $2) \
                 ORDER BY key, id LIMIT $3",
                &[&after_key, &after_id, &SEAL_CHUNK],
            )
            .at(location)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after_key = last.try_get(0).at(location)?;
        after_id = last.try_get(1).at(location)?;
        let mut keys = Keys::new(&mut *transaction, location);
        let mut sealed: (Vec<i64>, Vec<String>, Vec<String>, Vec<String>) = Default::default();
        for row in &rows {
            let account: String = row.try_get(2).at(location)?;
            let ip: String = row.try_get(3).at(location)?;
            if is_sealed(&account) && is_sealed(&ip) {
                continue;
            }
            // The subject is the plain account, opened first if only the IP is plain.
            let subject = vault.open(&mut keys, "logins.account", account.clone())?;
            sealed.0.push(row.try_get(0).at(location)?);
            sealed.1.push(row.try_get(1).at(location)?);
            sealed.2.push(
                seal_plain(vault, &mut keys, &subject, "logins.account", &account)?
                    .unwrap_or(account),
            );
            sealed
                .3
                .push(seal_plain(vault, &mut keys, &subject, "logins.ip", &ip)?.unwrap_or(ip));
        }
        if sealed.0.is_empty() {
            continue;
        }
        let params: [&(dyn ToSql + Sync); 4] = [&sealed.0, &sealed.1, &sealed.2, &sealed.3];
        transaction
            .execute(
                "UPDATE logins SET account = s.account, ip = s.ip \
                 FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[]) \
                     AS s(key, id, account, ip) \
                 WHERE logins.key = s.key AND logins.id = s.id",
                &params,
            )
            .at(location)?;
    }
}

/// Seals two text columns of a table keyed by a bigint `id`, every row under `subject`.
fn seal_plain_pairs(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    vault: &Vault,
    table: &str,
    columns: [&'static str; 2],
    subject: &str,
) -> Result<(), StoreError> {
    let [first, second] = columns;
    let mut after = i64::MIN;
    loop {
        let rows = transaction
            .query(
                &format!(
                    "SELECT id, {} AS a, {} AS b FROM {table} WHERE id > $1 ORDER BY id LIMIT $2",
                    column_name(first),
                    column_name(second)
                ),
                &[&after, &SEAL_CHUNK],
            )
            .at(location)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0).at(location)?;
        let mut keys = Keys::new(&mut *transaction, location);
        let mut sealed: (Vec<i64>, Vec<String>, Vec<String>) = Default::default();
        for row in &rows {
            let a: String = row.try_get(1).at(location)?;
            let b: String = row.try_get(2).at(location)?;
            // An empty audit IP (no client address) stays empty, as written today.
            let seal = |keys: &mut Keys<'_, _>, column, value: String| {
                if value.is_empty() {
                    return Ok(None);
                }
                seal_plain(vault, keys, subject, column, &value)
            };
            let sealed_a = seal(&mut keys, first, a.clone())?;
            let sealed_b = seal(&mut keys, second, b.clone())?;
            if sealed_a.is_none() && sealed_b.is_none() {
                continue;
            }
            sealed.0.push(row.try_get(0).at(location)?);
            sealed.1.push(sealed_a.unwrap_or(a));
            sealed.2.push(sealed_b.unwrap_or(b));
        }
        if sealed.0.is_empty() {
            continue;
        }
        let params: [&(dyn ToSql + Sync); 3] = [&sealed.0, &sealed.1, &sealed.2];
        transaction
            .execute(
                &format!(
                    "UPDATE {table} SET {a} = s.a, {b} = s.b \
                     FROM unnest($1::int8[], $2::text[], $3::text[]) AS s(id, a, b) \
                     WHERE {table}.id = s.id",
                    a = column_name(first),
                    b = column_name(second)
                ),
                &params,
            )
            .at(location)?;
    }
}

/// `table.column` → `column`.
fn column_name(qualified: &str) -> &str {
    qualified.rsplit('.').next().unwrap_or(qualified)
}

fn seal_plain_quarantine(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    vault: &Vault,
) -> Result<(), StoreError> {
    // `raw_hash` is the plain text's already, as for rows written sealed.
    seal_plain_pairs(
        transaction,
        location,
        vault,
        "quarantine",
        ["quarantine.raw", "quarantine.detail"],
        QUARANTINE_SUBJECT,
    )
}

fn seal_plain_audit(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    vault: &Vault,
) -> Result<(), StoreError> {
    let rows = transaction
        .query(
            "SELECT id, ip FROM audit_log WHERE ip <> '' AND left(ip, 5) <> 'enc1:'",
            &[],
        )
        .at(location)?;
    if rows.is_empty() {
        // Nothing to seal: the log's guard stays up.
        return Ok(());
    }
    let mut keys = Keys::new(&mut *transaction, location);
    let (mut ids, mut ips) = (Vec::<i64>::new(), Vec::new());
    for row in &rows {
        ids.push(row.try_get(0).at(location)?);
        ips.push(vault.seal(
            &mut keys,
            AUDIT_SUBJECT,
            AUDIT_IP_COLUMN,
            row.try_get(1).at(location)?,
        )?);
    }
    // The log refuses updates; this one rewrites no hashed content (the chain hashes the
    // plain IP), so its guard is lifted for this statement of the migration only.
    transaction
        .batch_execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        .at(location)?;
    transaction
        .execute(
            "UPDATE audit_log SET ip = s.ip FROM unnest($1::int8[], $2::text[]) AS s(id, ip) \
             WHERE audit_log.id = s.id",
            &[&ids, &ips],
        )
        .at(location)?;
    transaction
        .batch_execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
        .at(location)?;
    Ok(())
}

fn seal_plain_findings(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    vault: &Vault,
) -> Result<(), StoreError> {
    // Before sealing, `subject` was the key's own bytes; now the key's lookup index.
    let rows = transaction
        .query(
            "SELECT id, key, evidence FROM findings WHERE left(key, 5) <> 'enc1:'",
            &[],
        )
        .at(location)?;
    let mut keys = Keys::new(&mut *transaction, location);
    let mut sealed: (Vec<i64>, Vec<Vec<u8>>, Vec<String>, Vec<String>) = Default::default();
    for row in &rows {
        let key: &str = row.try_get(1).at(location)?;
        let evidence: &str = row.try_get(2).at(location)?;
        let finding = seal_finding(vault, &mut keys, key, evidence)?;
        sealed.0.push(row.try_get(0).at(location)?);
        sealed.1.push(finding.subject.to_vec());
        sealed.2.push(finding.key);
        sealed.3.push(finding.evidence);
    }
    let params: [&(dyn ToSql + Sync); 4] = [&sealed.0, &sealed.1, &sealed.2, &sealed.3];
    transaction
        .execute(
            "UPDATE findings SET subject = s.subject, key = s.key, evidence = s.evidence \
             FROM unnest($1::int8[], $2::bytea[], $3::text[], $4::text[]) \
                 AS s(id, subject, key, evidence) \
             WHERE findings.id = s.id",
            &params,
        )
        .at(location)?;
    Ok(())
}
