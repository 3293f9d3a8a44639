//! The state behind accounts and sessions: the store connection that writes accounts,
//! sessions and the audit log, the password hasher, the rate limiters, and the two
//! decisions that need them: [`AccessState::authenticate`] (a bearer token to a principal)
//! and [`AccessState::login`] (a name and password to a session).
//!
//! Login never tells why it failed: an unknown name, a wrong password, a disabled, backed
//! off or locked account all get the same answer, and each spends one Argon2id
//! verification (against a dummy hash when there is no real one to check), so neither the
//! message nor the time says whether the account exists. The audit log records the real
//! reason.

use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use showrunner_model::Timestamp;
use showrunner_store::{AccountRecord, Backend, StoreError};
use zeroize::Zeroizing;

use crate::AppState;
use crate::auth::{Principal, Role, generate_session_token, hash_key};
use crate::error::ApiError;
use crate::password::{self, HashError, Hasher};
use crate::security_config::SecurityConfig;
use crate::throttle::{Cidr, RateLimiter};

/// A session's last-seen time is written at most this often (its idle expiry is coarse by
/// this much), so reading with a session does not write on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Everything accounts, sessions, throttling and auditing share.
pub struct AccessState {
    writer: Mutex<Box<dyn Backend>>,
    security: SecurityConfig,
    hasher: Hasher,
    dummy_hash: OnceLock<String>,
    /// Argon2id runs take 19+ MiB and tens of milliseconds each: at most this many at once.
    hashing: tokio::sync::Semaphore,
    ip_limiter: Option<RateLimiter<IpAddr>>,
    key_limiter: Option<RateLimiter<i64>>,
    trusted: Vec<Cidr>,
}

impl std::fmt::Debug for AccessState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessState").finish_non_exhaustive()
    }
}

/// Why a bearer token was not accepted.
#[derive(Debug)]
pub enum AuthFailure {
    Unknown,
    Expired,
    Revoked,
    Disabled,
    Store(ApiError),
}

impl AuthFailure {
    /// The audit reason and the client's message (which never says more than needed).
    pub fn describe(&self) -> (&'static str, &'static str) {
        match self {
            AuthFailure::Unknown => ("unknown_token", "the credential is not valid"),
            AuthFailure::Expired => ("expired", "the session has expired; log in again"),
            AuthFailure::Revoked => ("revoked", "the session has ended; log in again"),
            AuthFailure::Disabled => ("disabled", "the credential is not valid"),
            AuthFailure::Store(_) => ("store", "the store cannot be read now"),
        }
    }
}

/// What a login attempt came to.
pub enum LoginOutcome {
    Success {
        token: Zeroizing<String>,
        account: AccountRecord,
        expires_at: Timestamp,
        rehashed: bool,
    },
    /// `reason` goes to the audit log only; `account` names the account when one matched.
    Failure {
        reason: &'static str,
        account: Option<AccountRecord>,
        failures: u32,
    },
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl AccessState {
    pub fn open(
        db: &std::path::Path,
        security: &SecurityConfig,
    ) -> Result<AccessState, crate::StartError> {
        let hasher =
            Hasher::new(security).map_err(|e| crate::StartError::Background(e.to_string()))?;
        let trusted = security
            .trusted_proxies
            .iter()
            .map(|p| p.parse::<Cidr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(crate::StartError::Background)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(AccessState {
            writer: Mutex::new(showrunner_store::open_path(db)?),
            hasher,
            dummy_hash: OnceLock::new(),
            hashing: tokio::sync::Semaphore::new(cores),
            ip_limiter: RateLimiter::per_second(
                f64::from(security.auth_ip_per_minute) / 60.0,
                security.auth_ip_burst,
            ),
            key_limiter: RateLimiter::per_second(
                f64::from(security.key_rate_per_second),
                security.key_burst,
            ),
            trusted,
            security: security.clone(),
        })
    }

    pub fn security(&self) -> &SecurityConfig {
        &self.security
    }

    pub fn trusted_proxies(&self) -> &[Cidr] {
        &self.trusted
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// The per-IP leaky bucket of the auth routes and failed authentications.
    pub fn check_ip(&self, ip: IpAddr, now: Instant) -> Result<(), std::time::Duration> {
        self.ip_limiter
            .as_ref()
            .map_or(Ok(()), |l| l.check(&ip, now))
    }

    /// The per-key rate limit.
    pub fn check_key(&self, key_id: i64, now: Instant) -> Result<(), std::time::Duration> {
        self.key_limiter
            .as_ref()
            .map_or(Ok(()), |l| l.check(&key_id, now))
    }

    /// Tells the store this replica (`id`) is alive and divides the per-key and per-IP
    /// rate limits by the number of live replicas sharing the store (1 on an embedded
    /// store). A replica is alive for `live_ms` after its last heartbeat. Blocking.
    pub fn heartbeat(&self, id: &str, now_ms: i64, live_ms: i64) -> Result<u32, StoreError> {
        let replicas = self.with_writer(|store| store.replica_heartbeat(id, now_ms, live_ms))?;
        if let Some(limiter) = &self.key_limiter {
            limiter.set_replicas(replicas);
        }
        if let Some(limiter) = &self.ip_limiter {
            limiter.set_replicas(replicas);
        }
        Ok(replicas)
    }

    /// Forgets this replica in the store (it is stopping). Blocking.
    pub fn leave(&self, id: &str) -> Result<(), StoreError> {
        self.with_writer(|store| store.replica_gone(id))
    }

    /// Runs `work` on the accounts writer connection, off the async runtime.
    pub async fn write<T: Send + 'static>(
        state: &AppState,
        work: impl FnOnce(&mut dyn Backend) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = state
                .access()
                .writer
                .lock()
                .map_err(|_| ApiError::internal("the accounts writer is poisoned"))?;
            work(&mut **store).map_err(ApiError::store_unavailable)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// The principal a bearer token stands for.
    pub async fn authenticate(
        &self,
        state: &AppState,
        token: &str,
    ) -> Result<Principal, AuthFailure> {
        if token.starts_with("sr_") {
            return state
                .keys()
                .lookup(token)
                .map(|(id, scope)| Principal::Key { id, scope })
                .ok_or(AuthFailure::Unknown);
        }
        if !token.starts_with("srs_") {
            return Err(AuthFailure::Unknown);
        }
        let token_hash = hash_key(token);
        let session = state
            .read(move |store| store.session(&token_hash))
            .await
            .map_err(AuthFailure::Store)?
            .ok_or(AuthFailure::Unknown)?;
        let now = now_millis();
        if session.revoked {
            return Err(AuthFailure::Revoked);
        }
        let idle_ms = (self.security.session_idle_seconds as i64).saturating_mul(1000);
        if now >= session.expires_at.millis() || now - session.last_seen_at.millis() > idle_ms {
            return Err(AuthFailure::Expired);
        }
        if session.account.disabled {
            return Err(AuthFailure::Disabled);
        }
        let role = Role::parse(&session.account.role).ok_or(AuthFailure::Unknown)?;
        if now - session.last_seen_at.millis() > TOUCH_EVERY_MS.min(idle_ms / 4) {
            let at = Timestamp::from_millis(now);
            AccessState::write(state, move |store| store.touch_session(&token_hash, at))
                .await
                .map_err(AuthFailure::Store)?;
        }
        Ok(Principal::Session {
            account_id: session.account.id,
            username: session.account.username,
            role,
            token_hash,
        })
    }

    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            let (random, _) = generate_session_token();
            self.hasher.hash(&random).unwrap_or_default()
        })
    }

    /// Spends one verification against the dummy hash (the time a real check takes).
    fn spend_verification(&self, password: &str) {
        let _ = self.hasher.verify(password, self.dummy_hash());
    }

    /// Checks a name and password and, when they are good and the account may sign in,
    /// opens a session. Blocking (Argon2id): run it on a blocking thread.
    pub fn login(&self, raw_username: &str, raw_password: &str) -> Result<LoginOutcome, ApiError> {
        let password = password::normalise_password(raw_password);
        let store_error = |e: StoreError| ApiError::store_unavailable(e);
        let hash_error = |e: HashError| ApiError::internal(e);
        let account = match password::normalise_username(raw_username) {
            Ok(name) => self
                .with_writer(|store| store.account_by_name(&name))
                .map_err(store_error)?,
            Err(_) => None,
        };
        let Some(account) = account else {
            self.spend_verification(&password);
            return Ok(LoginOutcome::Failure {
                reason: "unknown_user",
                account: None,
                failures: 0,
            });
        };
        let now = now_millis();
        if account.failed_logins >= self.security.login_lock_failures {
            self.spend_verification(&password);
            let failures = account.failed_logins;
            return Ok(LoginOutcome::Failure {
                reason: "locked",
                account: Some(account),
                failures,
            });
        }
        let wait = self.security.backoff_ms(account.failed_logins) as i64;
        if account
            .last_failed_at
            .is_some_and(|at| now < at.millis().saturating_add(wait))
        {
            self.spend_verification(&password);
            let failures = account.failed_logins;
            return Ok(LoginOutcome::Failure {
                reason: "backoff",
                account: Some(account),
                failures,
            });
        }
        let verified = match self.hasher.verify(&password, &account.password_hash) {
            Ok(verified) => verified,
            Err(error) => {
                tracing::error!(account = account.id, %error, "stored password hash unusable");
                password::Verified {
                    matches: false,
                    needs_rehash: false,
                }
            }
        };
        if !verified.matches {
            let id = account.id;
            let failures = self
                .with_writer(|store| store.record_login_failure(id, Timestamp::from_millis(now)))
                .map_err(store_error)?;
            return Ok(LoginOutcome::Failure {
                reason: "wrong_password",
                account: Some(account),
                failures,
            });
        }
        if account.disabled {
            let failures = account.failed_logins;
            return Ok(LoginOutcome::Failure {
                reason: "disabled",
                account: Some(account),
                failures,
            });
        }
        let rehash = if verified.needs_rehash {
            Some(self.hasher.hash(&password).map_err(hash_error)?)
        } else {
            None
        };
        let (token, token_hash) = generate_session_token();
        let absolute_ms = (self.security.session_absolute_seconds as i64).saturating_mul(1000);
        let expires_at = Timestamp::from_millis(now.saturating_add(absolute_ms));
        let id = account.id;
        let rehashed = rehash.is_some();
        self.with_writer(|store| {
            store.record_login_success(id)?;
            if let Some(phc) = &rehash {
                store.set_password_hash(id, phc)?;
            }
            store.create_session(&token_hash, id, Timestamp::from_millis(now), expires_at)
        })
        .map_err(store_error)?;
        Ok(LoginOutcome::Success {
            token,
            account,
            expires_at,
            rehashed,
        })
    }

    fn with_writer<T>(
        &self,
        work: impl FnOnce(&mut dyn Backend) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut store = self.writer.lock().map_err(|_| StoreError::ReadOnly {
            path: std::path::PathBuf::from("<poisoned accounts writer>"),
        })?;
        work(&mut **store)
    }

    /// Waits for a hashing slot (bounded concurrent Argon2id runs).
    pub async fn hashing_permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.hashing.acquire().await.map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the service is stopping",
            )
        })
    }
}
