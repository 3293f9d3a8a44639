//! `GET /v1/security/findings` (operator and admin): the security findings the store keeps
//! (see `showrunner_store::FindingStore`), newest first, filtered by kind, account (the
//! finding's subject), and opening time, paged with an opaque cursor.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;
use showrunner_store::{FindingFilter, MAX_FINDINGS_PAGE};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::{AppState, request_id};

/// The finding kinds a filter may name.
pub const KINDS: [&str; 5] = [
    "credential_stuffing",
    "brute_force",
    "account_takeover",
    "impossible_travel",
    "account_sharing",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/security/findings", get(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingsQuery {
    /// One kind: `credential_stuffing`, `brute_force`, `account_takeover`,
    /// `impossible_travel` or `account_sharing`.
    pub kind: Option<String>,
    /// Only findings about this account (or IP or ASN: the finding's subject).
    pub account: Option<String>,
    /// Findings opened at or after this time (RFC 3339 or milliseconds since the epoch).
    pub from: Option<String>,
    /// Findings opened before this time.
    pub until: Option<String>,
    /// At most this many (1 to 1000, default 100).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingBody {
    pub id: i64,
    pub kind: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The account, IP or ASN the finding is about.
    pub key: String,
    /// RFC 3339.
    pub opened_at: String,
    pub last_seen: String,
    pub detector: String,
    /// Accounts, IPs, ASNs, countries, times and the reason.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingsResponse {
    pub findings: Vec<FindingBody>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    pub request_id: String,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_parameter", message)
}

fn parse_time(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(Timestamp::from_millis(ms));
    }
    Timestamp::parse(text).map_err(|_| {
        bad(format!(
            "{name} must be milliseconds since the epoch or an RFC 3339 time, not {text:?}"
        ))
    })
}

/// Security findings
///
/// Newest first. Filter by `kind`, `account` and opening time (`from` inclusive, `until`
/// exclusive); page with `limit` and `cursor`.
#[utoipa::path(get, path = "/v1/security/findings", tag = "security", params(FindingsQuery),
    responses((status = 200, body = FindingsResponse),
              (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<FindingsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<FindingsResponse>, ApiError> {
    let Query(query) = query.map_err(|e| bad(e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_FINDINGS_PAGE).contains(&limit) {
        return Err(bad(format!(
            "limit must be between 1 and {MAX_FINDINGS_PAGE}, not {limit}"
        )));
    }
    if let Some(kind) = &query.kind
        && !KINDS.contains(&kind.as_str())
    {
        return Err(bad(format!(
            "kind must be one of {}, not {kind:?}",
            KINDS.join(", ")
        )));
    }
    let from = query
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?;
    let until = query
        .until
        .as_deref()
        .map(|t| parse_time("until", t))
        .transpose()?;
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        return Err(bad("from must be before until"));
    }
    let before_id = match &query.cursor {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => return Err(bad(format!("cursor {text:?} is not one this API gave out"))),
        },
    };
    let filter = FindingFilter {
        kind: query.kind,
        key: query.account,
        from,
        until,
        before_id,
        limit,
    };
    let records = state.read(move |store| store.findings(&filter)).await?;
    let next_cursor = (records.len() == limit)
        .then(|| records.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(FindingsResponse {
        findings: records
            .into_iter()
            .map(|r| FindingBody {
                id: r.id,
                evidence: serde_json::from_str(&r.finding.evidence)
                    .unwrap_or(serde_json::Value::String(r.finding.evidence)),
                kind: r.finding.kind,
                severity: r.finding.severity,
                key: r.finding.key,
                opened_at: r.finding.opened_at.to_rfc3339(),
                last_seen: r.finding.last_seen.to_rfc3339(),
                detector: r.finding.detector,
            })
            .collect(),
        next_cursor,
        request_id: request_id::current(),
    }))
}
