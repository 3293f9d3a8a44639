//! Operator accounts over HTTP: `POST /v1/auth/login` (a session token), `POST
//! /v1/auth/logout`, `GET /v1/auth/me`, and for admins `GET`/`POST /v1/accounts` and
//! `PATCH /v1/accounts/{id}` (role, disable, unlock, end sessions). Each change and each
//! login attempt is audited. The rules live in `access.rs` (login), `password.rs` (names
//! and passwords) and `auth.rs` (roles).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use showrunner_store::{AccountChange, AccountRecord};
use utoipa::ToSchema;
use zeroize::Zeroize;

use crate::access::{AccessState, LoginOutcome, now_millis};
use crate::audit::{audit, audit_quietly};
use crate::auth::{Caller, Principal, PrincipalBody, Role};
use crate::error::ApiError;
use crate::password::{self, PASSWORD_MAX_BYTES, USERNAME_MAX_BYTES};
use crate::{AppState, request_id};

/// Largest body the account routes read.
const BODY_LIMIT: usize = 8 * 1024;

/// The account routes, to merge into the app's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
        .route("/v1/accounts", get(list).post(create))
        .route("/v1/accounts/{id}", patch(update))
        .route("/v1/audit", get(crate::audit::list))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

fn body_error(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        "unsupported_media_type"
    } else {
        "invalid_body"
    };
    // A body that is JSON but not the documented shape is a bad request like any other
    // (axum says 422); wrong and missing media types stay 415.
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    ApiError::new(status, code, rejection.body_text())
}

/// A login request. The password is wiped from memory when the request is dropped.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

impl Drop for LoginRequest {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").finish_non_exhaustive()
    }
}

/// An account as the API shows it (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    /// Too many consecutive failed logins: only an admin's `unlock` lets it sign in again.
    pub locked: bool,
    pub failed_logins: u32,
    /// RFC 3339.
    pub created_at: String,
}

impl AccountBody {
    fn new(account: &AccountRecord, lock_failures: u32) -> Self {
        AccountBody {
            id: account.id,
            username: account.username.clone(),
            role: account.role.clone(),
            disabled: account.disabled,
            locked: account.failed_logins >= lock_failures,
            failed_logins: account.failed_logins,
            created_at: account.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The session token: send it as `Authorization: Bearer <token>`. Shown once.
    pub token: String,
    pub token_type: &'static str,
    /// When the session ends whatever its use (RFC 3339).
    pub expires_at: String,
    /// The session also ends after this long unused.
    pub idle_timeout_seconds: u64,
    pub account: AccountBody,
    pub request_id: String,
}

const INVALID_LOGIN: &str = "the user name or password is wrong, or the account cannot sign in now";

/// Log in
///
/// Exchanges a user name and password for a session token. Every failure (unknown name,
/// wrong password, disabled, locked or backed-off account) gets the same 401.
#[utoipa::path(post, path = "/v1/auth/login", tag = "access", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 400, body = crate::error::ErrorBody),
              (status = 415, description = "The body is not `application/json` (`unsupported_media_type`)", body = crate::error::ErrorBody),
              (status = 401, description = "`invalid_credentials`", body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody),
              (status = 429, description = "`rate_limited`, with Retry-After", body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiError> {
    let Json(request) = body.map_err(body_error)?;
    if request.password.len() > PASSWORD_MAX_BYTES
        || request.username.len() > USERNAME_MAX_BYTES * 4
    {
        audit_quietly(
            &state,
            &caller,
            "login_failed",
            "",
            "denied",
            serde_json::json!({"reason": "oversized"}),
        )
        .await;
        return Err(ApiError::bad_request(
            "credentials_too_long",
            format!(
                "the user name may have at most {USERNAME_MAX_BYTES} characters and the password at most {PASSWORD_MAX_BYTES} bytes"
            ),
        ));
    }
    let access = state.access_arc();
    let permit = state.access().hashing_permit().await?;
    let outcome =
        tokio::task::spawn_blocking(move || access.login(&request.username, &request.password))
            .await
            .map_err(ApiError::internal)??;
    drop(permit);
    let lock_failures = state.config().security.login_lock_failures;
    match outcome {
        LoginOutcome::Success {
            token,
            account,
            expires_at,
            rehashed,
        } => {
            let caller = Caller {
                principal: Some(Principal::Session {
                    account_id: account.id,
                    username: account.username.clone(),
                    role: Role::parse(&account.role).unwrap_or(Role::Service),
                    token_hash: [0; 32],
                }),
                ip: caller.ip,
            };
            audit(
                &state,
                &caller,
                "login",
                &format!("account:{}", account.id),
                "ok",
                serde_json::json!({"rehashed": rehashed}),
            )
            .await?;
            Ok(Json(LoginResponse {
                token: token.to_string(),
                token_type: "Bearer",
                expires_at: expires_at.to_rfc3339(),
                idle_timeout_seconds: state.config().security.session_idle_seconds,
                account: AccountBody::new(&account, lock_failures),
                request_id: request_id::current(),
            }))
        }
        LoginOutcome::Failure {
            reason,
            account,
            failures,
        } => {
            let target = account
                .as_ref()
                .map_or_else(String::new, |a| format!("account:{}", a.id));
            let action = if reason == "locked" || reason == "backoff" {
                "login_throttled"
            } else {
                "login_failed"
            };
            audit(
                &state,
                &caller,
                action,
                &target,
                "denied",
                serde_json::json!({"reason": reason, "consecutive_failures": failures}),
            )
            .await?;
            if failures == lock_failures && reason == "wrong_password" {
                tracing::warn!(%target, "account locked after {failures} consecutive failed logins");
            }
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                INVALID_LOGIN,
            ))
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogoutResponse {
    pub revoked: bool,
    pub request_id: String,
}

/// Log out
///
/// Ends the session whose token authorised this request.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "access",
    responses((status = 200, body = LogoutResponse),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<LogoutResponse>, ApiError> {
    let Some(Principal::Session {
        token_hash,
        account_id,
        ..
    }) = caller.principal.clone()
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a session can log out",
        ));
    };
    let at = showrunner_model::Timestamp::from_millis(now_millis());
    let revoked =
        AccessState::write(&state, move |store| store.revoke_session(&token_hash, at)).await?;
    audit(
        &state,
        &caller,
        "logout",
        &format!("account:{account_id}"),
        "ok",
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(LogoutResponse {
        revoked,
        request_id: request_id::current(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub principal: PrincipalBody,
    pub request_id: String,
}

/// Who am I
///
/// The credential's kind, account, role and permissions.
#[utoipa::path(get, path = "/v1/auth/me", tag = "access",
    responses((status = 200, body = MeResponse), (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(Extension(caller): Extension<Caller>) -> Result<Json<MeResponse>, ApiError> {
    let principal = caller
        .principal
        .as_ref()
        .ok_or_else(|| ApiError::internal("no principal on an authenticated route"))?;
    Ok(Json(MeResponse {
        principal: PrincipalBody::from(principal),
        request_id: request_id::current(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountsResponse {
    pub accounts: Vec<AccountBody>,
    pub request_id: String,
}

/// List accounts
#[utoipa::path(get, path = "/v1/accounts", tag = "access",
    responses((status = 200, body = AccountsResponse),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<AccountsResponse>, ApiError> {
    let lock_failures = state.config().security.login_lock_failures;
    let accounts = state.read(|store| store.accounts()).await?;
    Ok(Json(AccountsResponse {
        accounts: accounts
            .iter()
            .map(|a| AccountBody::new(a, lock_failures))
            .collect(),
        request_id: request_id::current(),
    }))
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub username: String,
    pub password: String,
    /// `admin`, `analyst`, `operator` or `service`.
    pub role: String,
}

impl Drop for CreateAccountRequest {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

impl std::fmt::Debug for CreateAccountRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateAccountRequest")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    pub account: AccountBody,
    pub request_id: String,
}

/// Checks and hashes a new account's credentials: the normalised name and the PHC string.
pub fn prepare_account(
    hasher: &password::Hasher,
    raw_username: &str,
    raw_password: &str,
    role: &str,
) -> Result<(String, String), ApiError> {
    let username = password::normalise_username(raw_username).map_err(|problem| {
        ApiError::bad_request("invalid_username", format!("the user name {problem}"))
    })?;
    if Role::parse(role).is_none() {
        return Err(ApiError::bad_request(
            "invalid_role",
            "role must be one of admin, analyst, operator, service",
        ));
    }
    if raw_password.len() > PASSWORD_MAX_BYTES {
        return Err(ApiError::bad_request(
            "weak_password",
            format!("the password is longer than {PASSWORD_MAX_BYTES} bytes"),
        ));
    }
    let password = password::normalise_password(raw_password);
    if let Some(problem) = password::password_problem(&password, &username) {
        return Err(ApiError::bad_request(
            "weak_password",
            format!("the password {problem}"),
        ));
    }
    let phc = hasher.hash(&password).map_err(ApiError::internal)?;
    Ok((username, phc))
}

/// Create an account
///
/// Passwords need 15 or more characters (up to 256 bytes), are checked against common
/// passwords and the user name, and have no composition rules.
#[utoipa::path(post, path = "/v1/accounts", tag = "access", request_body = CreateAccountRequest,
    responses((status = 201, body = AccountResponse),
              (status = 400, description = "`invalid_username`, `invalid_role`, `weak_password`", body = crate::error::ErrorBody),
              (status = 415, description = "The body is not `application/json` (`unsupported_media_type`)", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
              (status = 409, description = "`username_taken`", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<CreateAccountRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<AccountResponse>), ApiError> {
    let Json(request) = body.map_err(body_error)?;
    let access = state.access_arc();
    let permit = state.access().hashing_permit().await?;
    let role = request.role.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        prepare_account(
            access.hasher(),
            &request.username,
            &request.password,
            &request.role,
        )
    })
    .await
    .map_err(ApiError::internal)?;
    drop(permit);
    let (username, phc) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            audit_quietly(
                &state,
                &caller,
                "account_created",
                "",
                "denied",
                serde_json::json!({"reason": error.code}),
            )
            .await;
            return Err(error);
        }
    };
    let (name, stored_role) = (username.clone(), role.clone());
    let created = AccessState::write(&state, move |store| {
        let id = store.create_account(&name, &phc, &stored_role)?;
        match id {
            Some(id) => store.account(id),
            None => Ok(None),
        }
    })
    .await?;
    let Some(account) = created else {
        audit_quietly(
            &state,
            &caller,
            "account_created",
            "",
            "denied",
            serde_json::json!({"reason": "username_taken"}),
        )
        .await;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "username_taken",
            "an account with this user name exists",
        ));
    };
    audit(
        &state,
        &caller,
        "account_created",
        &format!("account:{}", account.id),
        "ok",
        serde_json::json!({"username": account.username, "role": role}),
    )
    .await?;
    let lock_failures = state.config().security.login_lock_failures;
    Ok((
        StatusCode::CREATED,
        Json(AccountResponse {
            account: AccountBody::new(&account, lock_failures),
            request_id: request_id::current(),
        }),
    ))
}

/// What an admin changes on an account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    /// `admin`, `analyst`, `operator` or `service`.
    pub role: Option<String>,
    /// Disabling also ends every session of the account.
    pub disabled: Option<bool>,
    /// Clears the failed-login count (lifts a back-off or a lock).
    #[serde(default)]
    pub unlock: bool,
    /// Ends every session of the account.
    #[serde(default)]
    pub revoke_sessions: bool,
}

/// Change an account
///
/// Role, disabled, unlock after too many failed logins, end its sessions.
#[utoipa::path(patch, path = "/v1/accounts/{id}", tag = "access", request_body = UpdateAccountRequest,
    params(("id" = i64, Path, description = "The account's id")),
    responses((status = 200, body = AccountResponse),
              (status = 400, body = crate::error::ErrorBody),
              (status = 415, description = "The body is not `application/json` (`unsupported_media_type`)", body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
              (status = 404, description = "`account_not_found`", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<UpdateAccountRequest>, JsonRejection>,
) -> Result<Json<AccountResponse>, ApiError> {
    let Path(id) = id.map_err(|_| {
        ApiError::bad_request("invalid_parameter", "the account id must be a whole number")
    })?;
    let Json(request) = body.map_err(body_error)?;
    if let Some(role) = &request.role
        && Role::parse(role).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_role",
            "role must be one of admin, analyst, operator, service",
        ));
    }
    let before = state.read(move |store| store.account(id)).await?;
    let Some(before) = before else {
        return Err(ApiError::not_found(
            "account_not_found",
            "no account has this id",
        ));
    };
    let change = AccountChange {
        role: request.role.clone(),
        disabled: request.disabled,
        reset_failures: request.unlock,
    };
    let end_sessions = request.revoke_sessions || request.disabled == Some(true);
    let at = showrunner_model::Timestamp::from_millis(now_millis());
    let (after, ended) = AccessState::write(&state, move |store| {
        let after = store.update_account(id, &change)?;
        let ended = if end_sessions {
            store.revoke_sessions_of(id, at)?
        } else {
            0
        };
        Ok((after, ended))
    })
    .await?;
    let after =
        after.ok_or_else(|| ApiError::not_found("account_not_found", "no account has this id"))?;
    let target = format!("account:{id}");
    if after.role != before.role {
        audit(
            &state,
            &caller,
            "role_changed",
            &target,
            "ok",
            serde_json::json!({"from": before.role, "to": after.role}),
        )
        .await?;
    }
    if after.disabled != before.disabled {
        let action = if after.disabled {
            "account_disabled"
        } else {
            "account_enabled"
        };
        audit(
            &state,
            &caller,
            action,
            &target,
            "ok",
            serde_json::json!({}),
        )
        .await?;
    }
    if request.unlock {
        audit(
            &state,
            &caller,
            "account_unlocked",
            &target,
            "ok",
            serde_json::json!({"failed_logins_before": before.failed_logins}),
        )
        .await?;
    }
    if ended > 0 || request.revoke_sessions {
        audit(
            &state,
            &caller,
            "sessions_revoked",
            &target,
            "ok",
            serde_json::json!({"sessions": ended}),
        )
        .await?;
    }
    let lock_failures = state.config().security.login_lock_failures;
    Ok(Json(AccountResponse {
        account: AccountBody::new(&after, lock_failures),
        request_id: request_id::current(),
    }))
}
