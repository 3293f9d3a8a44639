//! What operator accounts need from a store: accounts (a name, an Argon2id PHC string, a
//! role, the consecutive-failure count that drives login back-off) and their sessions (only
//! the SHA-256 of each opaque token is stored, with its idle and absolute expiry).
//!
//! The store keeps the rows; the rules (password policy, hashing, back-off, expiry) are the
//! server's. A separate trait so the importer's contract stays small.

use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;

use crate::{Store, StoreError};

/// A stored operator account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: i64,
    /// Normalised by the server (NFKC, lower case) before it is stored.
    pub username: String,
    /// An Argon2id PHC string, never the password.
    pub password_hash: String,
    /// `admin`, `analyst`, `operator` or `service` (the server interprets it).
    pub role: String,
    pub disabled: bool,
    /// Consecutive failed logins since the last success or admin reset.
    pub failed_logins: u32,
    pub last_failed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A stored session with the account it belongs to (as it is now, so a role change or a
/// disable takes effect on the session's next request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub account: AccountRecord,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The absolute expiry, fixed at login.
    pub expires_at: Timestamp,
    pub revoked: bool,
}

/// What an admin changes on an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChange {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// Clears the consecutive-failure count (lifts a back-off or a lock).
    pub reset_failures: bool,
}

/// Accounts and sessions. Backends hide their SQL as for [`Store`].
pub trait AccountStore: Store {
    /// Creates an account; `None` when the name is taken.
    fn create_account(
        &mut self,
        username: &str,
        password_hash: &str,
        role: &str,
    ) -> Result<Option<i64>, StoreError>;

    fn account(&self, id: i64) -> Result<Option<AccountRecord>, StoreError>;

    fn account_by_name(&self, username: &str) -> Result<Option<AccountRecord>, StoreError>;

    /// Every account, by id.
    fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError>;

    /// Applies `change`; returns the account as it is afterwards, `None` when there is no
    /// such account.
    fn update_account(
        &mut self,
        id: i64,
        change: &AccountChange,
    ) -> Result<Option<AccountRecord>, StoreError>;

    /// Replaces the password hash (a re-hash under stronger parameters).
    fn set_password_hash(&mut self, id: i64, password_hash: &str) -> Result<(), StoreError>;

    /// Counts one more consecutive failure at `at`; returns the new count.
    fn record_login_failure(&mut self, id: i64, at: Timestamp) -> Result<u32, StoreError>;

    /// A successful login: the failure count goes back to zero.
    fn record_login_success(&mut self, id: i64) -> Result<(), StoreError>;

    fn create_session(
        &mut self,
        token_hash: &[u8; 32],
        account_id: i64,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// The session with this token hash, expired and revoked ones included (the caller
    /// decides).
    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError>;

    /// Records activity on a session (its idle expiry counts from here).
    fn touch_session(&mut self, token_hash: &[u8; 32], at: Timestamp) -> Result<(), StoreError>;

    /// Revokes one session; false when it did not exist or was already revoked.
    fn revoke_session(&mut self, token_hash: &[u8; 32], at: Timestamp) -> Result<bool, StoreError>;

    /// Revokes every live session of an account; returns how many.
    fn revoke_sessions_of(&mut self, account_id: i64, at: Timestamp) -> Result<u64, StoreError>;
}
