//! Writing the audit log from the service: [`audit`] appends one hash-chained entry (see
//! `showrunner_store::AuditStore`) naming the caller, what they did, to what, and how it
//! came out. Any route that does something worth answering for later (logins, key and
//! account changes, exports, erasures) calls it; `serve` records the configuration's
//! digest at start. `GET /v1/audit` (admin) reads the log back.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use showrunner_model::Timestamp;
use showrunner_store::AuditEntry;
use utoipa::{IntoParams, ToSchema};

use crate::access::{AccessState, now_millis};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, request_id};

/// Appends one entry: `action` (`login`, `role_changed`, `export`, `erasure`, ...),
/// `target` (what it was done to, e.g. `account:7` or `member:m1`), `outcome` (`ok`,
/// `denied`, `failed`) and any `detail` (never a secret). Durable when it returns Ok.
pub async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    outcome: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        at: Timestamp::from_millis(now_millis()),
        actor: caller.actor(),
        action: action.to_owned(),
        target: target.to_owned(),
        outcome: outcome.to_owned(),
        ip: caller.ip.to_string(),
        detail: detail.to_string(),
    };
    audit_entry(state, entry).await
}

/// Appends an entry made by the caller (for actors that are not a request's caller, such
/// as `server` at start).
pub async fn audit_entry(state: &AppState, entry: AuditEntry) -> Result<(), ApiError> {
    AccessState::write(state, move |store| store.append_audit(&entry).map(|_| ())).await
}

/// [`audit`] where the request goes on either way (a refusal): a failure is logged.
pub async fn audit_quietly(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    outcome: &str,
    detail: serde_json::Value,
) {
    if let Err(error) = audit(state, caller, action, target, outcome, detail).await {
        tracing::error!(action, code = error.code, "writing the audit log failed");
    }
}

/// The configuration's digest (SHA-256 of its JSON form, hex), recorded at every start so
/// a changed configuration shows in the log.
pub fn config_digest(config: &crate::Config) -> String {
    let json = serde_json::to_vec(config).unwrap_or_default();
    Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries with ids above this (paging); default 0.
    pub after: Option<i64>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<usize>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryBody {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub ip: String,
    /// JSON text.
    pub detail: String,
    /// This entry's chained hash, hex.
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditResponse {
    pub entries: Vec<AuditEntryBody>,
    pub request_id: String,
}

/// The audit log
///
/// Entries in id order, paged with `after`. Check the chain with `showrunner audit verify`.
#[utoipa::path(get, path = "/v1/audit", tag = "access", params(AuditQuery),
    responses((status = 200, body = AuditResponse),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditResponse>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            "limit must be between 1 and 1000",
        ));
    }
    let after = query.after.unwrap_or(0);
    let records = state
        .read(move |store| store.audit_records(after, limit))
        .await?;
    let hex = |bytes: &[u8; 32]| bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Json(AuditResponse {
        entries: records
            .into_iter()
            .map(|r| AuditEntryBody {
                id: r.id,
                at: r.entry.at.to_rfc3339(),
                hash: hex(&r.hash),
                actor: r.entry.actor,
                action: r.entry.action,
                target: r.entry.target,
                outcome: r.entry.outcome,
                ip: r.entry.ip,
                detail: r.entry.detail,
            })
            .collect(),
        request_id: request_id::current(),
    }))
}
