//! [`AccountStore`] for SQLite: the `accounts` and `sessions` tables of migration
//! `0004_access.sql`.

use rusqlite::{OptionalExtension, Row, params};
use showrunner_model::Timestamp;

use super::{AtPath, SqliteStore, write};
use crate::StoreError;
use crate::access::{AccountChange, AccountRecord, AccountStore, SessionRecord};

const ACCOUNT_COLUMNS: &str = "a.id, a.username, a.password_hash, a.role, a.disabled, \
     a.failed_logins, a.last_failed_at, a.created_at, a.updated_at";

fn account_from(row: &Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        role: row.get(3)?,
        disabled: row.get::<_, i64>(4)? != 0,
        failed_logins: row.get::<_, i64>(5)?.clamp(0, i64::from(u32::MAX)) as u32,
        last_failed_at: row.get::<_, Option<i64>>(6)?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.get(7)?),
        updated_at: Timestamp::from_millis(row.get(8)?),
    })
}

impl SqliteStore {
    fn account_where(
        &self,
        condition: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE {condition}");
        self.connection
            .prepare_cached(&sql)
            .at(&self.path)?
            .query_row([value], account_from)
            .optional()
            .at(&self.path)
    }
}

impl AccountStore for SqliteStore {
    fn create_account(
        &mut self,
        username: &str,
        password_hash: &str,
        role: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.ensure_writable()?;
        let now = write::now_millis();
        let inserted = self
            .connection
            .execute(
                "INSERT INTO accounts (username, password_hash, role, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (username) DO NOTHING",
                params![username, password_hash, role, now],
            )
            .at(&self.path)?;
        Ok((inserted == 1).then(|| self.connection.last_insert_rowid()))
    }

    fn account(&self, id: i64) -> Result<Option<AccountRecord>, StoreError> {
        self.account_where("a.id = ?1", &id)
    }

    fn account_by_name(&self, username: &str) -> Result<Option<AccountRecord>, StoreError> {
        self.account_where("a.username = ?1", &username)
    }

    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.id");
        let mut statement = self.connection.prepare_cached(&sql).at(&self.path)?;
        let rows = statement.query_map([], account_from).at(&self.path)?;
        rows.collect::<Result<Vec<_>, _>>().at(&self.path)
    }

    fn update_account(
        &mut self,
        id: i64,
        change: &AccountChange,
    ) -> Result<Option<AccountRecord>, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self.connection.transaction().at(&path)?;
        let now = write::now_millis();
        let updated = transaction
            .execute(
                "UPDATE accounts SET
                    role = coalesce(?2, role),
                    disabled = coalesce(?3, disabled),
                    failed_logins = CASE WHEN ?4 THEN 0 ELSE failed_logins END,
                    last_failed_at = CASE WHEN ?4 THEN NULL ELSE last_failed_at END,
                    updated_at = ?5
                 WHERE id = ?1",
                params![
                    id,
                    change.role,
                    change.disabled.map(i64::from),
                    change.reset_failures,
                    now
                ],
            )
            .at(&path)?;
        transaction.commit().at(&path)?;
        if updated == 0 {
            return Ok(None);
        }
        self.account(id)
    }

    fn set_password_hash(&mut self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "UPDATE accounts SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, password_hash, write::now_millis()],
            )
            .at(&self.path)?;
        Ok(())
    }

    fn record_login_failure(&mut self, id: i64, at: Timestamp) -> Result<u32, StoreError> {
        self.ensure_writable()?;
        let count: Option<i64> = self
            .connection
            .query_row(
                "UPDATE accounts SET failed_logins = failed_logins + 1, last_failed_at = ?2
                 WHERE id = ?1 RETURNING failed_logins",
                params![id, at.millis()],
                |row| row.get(0),
            )
            .optional()
            .at(&self.path)?;
        Ok(count.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32)
    }

    fn record_login_success(&mut self, id: i64) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "UPDATE accounts SET failed_logins = 0, last_failed_at = NULL
                 WHERE id = ?1 AND failed_logins <> 0",
                [id],
            )
            .at(&self.path)?;
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
        self.connection
            .execute(
                "INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at)
                 VALUES (?1, ?2, ?3, ?3, ?4)",
                params![
                    token_hash.as_slice(),
                    account_id,
                    created_at.millis(),
                    expires_at.millis()
                ],
            )
            .at(&self.path)?;
        Ok(())
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS}, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at
             FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = ?1"
        );
        self.connection
            .prepare_cached(&sql)
            .at(&self.path)?
            .query_row([token_hash.as_slice()], |row| {
                Ok(SessionRecord {
                    account: account_from(row)?,
                    created_at: Timestamp::from_millis(row.get(9)?),
                    last_seen_at: Timestamp::from_millis(row.get(10)?),
                    expires_at: Timestamp::from_millis(row.get(11)?),
                    revoked: row.get::<_, Option<i64>>(12)?.is_some(),
                })
            })
            .optional()
            .at(&self.path)
    }

    fn touch_session(&mut self, token_hash: &[u8; 32], at: Timestamp) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE token_hash = ?1",
                params![token_hash.as_slice(), at.millis()],
            )
            .at(&self.path)?;
        Ok(())
    }

    fn revoke_session(&mut self, token_hash: &[u8; 32], at: Timestamp) -> Result<bool, StoreError> {
        self.ensure_writable()?;
        let revoked = self
            .connection
            .execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
                params![token_hash.as_slice(), at.millis()],
            )
            .at(&self.path)?;
        Ok(revoked == 1)
    }

    fn revoke_sessions_of(&mut self, account_id: i64, at: Timestamp) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        let revoked = self
            .connection
            .execute(
                "UPDATE sessions SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL",
                params![account_id, at.millis()],
            )
            .at(&self.path)?;
        Ok(revoked as u64)
    }
}
