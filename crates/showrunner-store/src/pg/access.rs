//! [`AccountStore`] for PostgreSQL: the `accounts` and `sessions` tables of
//! `migrations/pg/0004_access.sql`.

use showrunner_model::Timestamp;

use super::{AtDb, PgStore, write};
use crate::StoreError;
use crate::access::{AccountChange, AccountRecord, AccountStore, SessionRecord};

const ACCOUNT_COLUMNS: &str = "a.id, a.username, a.password_hash, a.role, a.disabled, \
     a.failed_logins, a.last_failed_at, a.created_at, a.updated_at";

fn account_from(
    location: &std::path::Path,
    row: &postgres::Row,
) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: row.try_get(0).at(location)?,
        username: row.try_get(1).at(location)?,
        password_hash: row.try_get(2).at(location)?,
        role: row.try_get(3).at(location)?,
        disabled: row.try_get::<_, i64>(4).at(location)? != 0,
        failed_logins: row
            .try_get::<_, i64>(5)
            .at(location)?
            .clamp(0, i64::from(u32::MAX)) as u32,
        last_failed_at: row
            .try_get::<_, Option<i64>>(6)
            .at(location)?
            .map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.try_get(7).at(location)?),
        updated_at: Timestamp::from_millis(row.try_get(8).at(location)?),
    })
}

impl PgStore {
    fn account_where(
        &self,
        condition: &str,
        value: &(dyn postgres::types::ToSql + Sync),
    ) -> Result<Option<AccountRecord>, StoreError> {
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE {condition}"),
                &[value],
            )
            .at(location)?;
        row.map(|row| account_from(location, &row)).transpose()
    }
}

impl AccountStore for PgStore {
    fn create_account(
        &mut self,
        username: &str,
        password_hash: &str,
        role: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                "INSERT INTO accounts (username, password_hash, role, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (username) DO NOTHING RETURNING id",
                &[&username, &password_hash, &role, &write::now_millis()],
            )
            .at(location)?;
        row.map(|row| row.try_get(0).at(location)).transpose()
    }

    fn account(&self, id: i64) -> Result<Option<AccountRecord>, StoreError> {
        self.account_where("a.id = $1", &id)
    }

    fn account_by_name(&self, username: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.account_where("a.username = $1", &username)
    }

    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.id"),
                &[],
            )
            .at(location)?;
        rows.iter().map(|row| account_from(location, row)).collect()
    }

    fn update_account(
        &mut self,
        id: i64,
        change: &AccountChange,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                &format!(
                    "UPDATE accounts a SET \
                         role = coalesce($2, a.role), \
                         disabled = coalesce($3, a.disabled), \
                         failed_logins = CASE WHEN $4 THEN 0 ELSE a.failed_logins END, \
                         last_failed_at = CASE WHEN $4 THEN NULL ELSE a.last_failed_at END, \
                         updated_at = $5 \
                     WHERE a.id = $1 RETURNING {ACCOUNT_COLUMNS}"
                ),
                &[
                    &id,
                    &change.role,
                    &change.disabled.map(i64::from),
                    &change.reset_failures,
                    &write::now_millis(),
                ],
            )
            .at(location)?;
        row.map(|row| account_from(location, &row)).transpose()
    }

    fn set_password_hash(&mut self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1",
                &[&id, &password_hash, &write::now_millis()],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn record_login_failure(&mut self, id: i64, at: Timestamp) -> Result<u32, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                "UPDATE accounts SET failed_logins = failed_logins + 1, last_failed_at = $2 \
                 WHERE id = $1 RETURNING failed_logins",
                &[&id, &at.millis()],
            )
            .at(location)?;
        let count: i64 = match row {
            Some(row) => row.try_get(0).at(location)?,
            None => 0,
        };
        Ok(count.clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn record_login_success(&mut self, id: i64) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "UPDATE accounts SET failed_logins = 0, last_failed_at = NULL \
                 WHERE id = $1 AND failed_logins <> 0",
                &[&id],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn create_session(
        &mut self,
        token_hash: &[u8; 32],
        account_id: i64,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, \
                     expires_at) \
                 VALUES ($1, $2, $3, $3, $4)",
                &[
                    &token_hash.as_slice(),
                    &account_id,
                    &created_at.millis(),
                    &expires_at.millis(),
                ],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS}, s.created_at, s.last_seen_at, s.expires_at, \
                         s.revoked_at \
                     FROM sessions s JOIN accounts a ON a.id = s.account_id \
                     WHERE s.token_hash = $1"
                ),
                &[&token_hash.as_slice()],
            )
            .at(location)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            account: account_from(location, &row)?,
            created_at: Timestamp::from_millis(row.try_get(9).at(location)?),
            last_seen_at: Timestamp::from_millis(row.try_get(10).at(location)?),
            expires_at: Timestamp::from_millis(row.try_get(11).at(location)?),
            revoked: row.try_get::<_, Option<i64>>(12).at(location)?.is_some(),
        }))
    }

    fn touch_session(&mut self, token_hash: &[u8; 32], at: Timestamp) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2) \
                 WHERE token_hash = $1",
                &[&token_hash.as_slice(), &at.millis()],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn revoke_session(&mut self, token_hash: &[u8; 32], at: Timestamp) -> Result<bool, StoreError> {
        self.ensure_writable()?;
        let revoked = self
            .connection()?
            .execute(
                "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
                &[&token_hash.as_slice(), &at.millis()],
            )
            .at(&self.location)?;
        Ok(revoked == 1)
    }

    fn revoke_sessions_of(&mut self, account_id: i64, at: Timestamp) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "UPDATE sessions SET revoked_at = $2 \
                 WHERE account_id = $1 AND revoked_at IS NULL",
                &[&account_id, &at.millis()],
            )
            .at(&self.location)
    }
}
