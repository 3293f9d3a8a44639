//! `/v1/monitor/…`: current alerts, alert history, silences, series queries and the
//! notification log (operator scope), and `POST /v1/monitor/push` for samples (ingest
//! scope). Reads go through the service's read-only store connections; writes (silences,
//! pushed samples) through the monitor's own connection, or a short-lived one when the
//! monitor is switched off.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;
use showrunner_store::{SeriesQuery, SeriesSelector, SilenceRecord};
use utoipa::{IntoParams, ToSchema};

use super::scrape::{self, SampleProblem};
use super::{MonitorHandle, SavedState};
use crate::error::{ApiError, ErrorBody};
use crate::recs::query_pairs;
use crate::{AppState, request_id};

/// The monitor's routes (operator permission; pushing samples needs ingest), as
/// `routes::ROUTES` declares them.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/monitor/alerts", get(alerts))
        .route("/v1/monitor/alerts/history", get(history))
        .route("/v1/monitor/silences", get(silences).post(create_silence))
        .route("/v1/monitor/silences/{id}", delete(expire_silence))
        .route("/v1/monitor/series", get(series))
        .route("/v1/monitor/notifications", get(notifications))
        .route("/v1/monitor/push", post(push))
}

fn now_ms() -> i64 {
    super::Clock::now_ms(&super::SystemClock)
}

fn monitor_or_now(state: &AppState) -> i64 {
    state.monitor().map_or_else(now_ms, MonitorHandle::now_ms)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_parameter", message)
}

/// A time: milliseconds since the epoch, or RFC 3339.
fn parse_time(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.trim().parse::<i64>() {
        return Ok(ms);
    }
    Timestamp::parse(text.trim())
        .map(Timestamp::millis)
        .map_err(|_| {
            bad(format!(
                "{name} must be milliseconds since the epoch or an RFC 3339 time, not {text:?}"
            ))
        })
}

/// A duration: seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_duration_ms(name: &str, text: &str) -> Result<i64, ApiError> {
    let text = text.trim();
    let (number, unit_ms) = match text.chars().last() {
        Some('s') => (&text[..text.len() - 1], 1_000),
        Some('m') => (&text[..text.len() - 1], 60_000),
        Some('h') => (&text[..text.len() - 1], 3_600_000),
        Some('d') => (&text[..text.len() - 1], 86_400_000),
        _ => (text, 1_000),
    };
    match number.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n * unit_ms),
        _ => Err(bad(format!(
            "{name} must be a positive duration like 60, 30s, 5m, 1h or 1d, not {text:?}"
        ))),
    }
}

fn parse_limit(pairs: &[(String, String)]) -> Result<u64, ApiError> {
    match pairs.iter().find(|(k, _)| k == "limit") {
        None => Ok(100),
        Some((_, v)) => match v.parse::<u64>() {
            Ok(n) if (1..=10_000).contains(&n) => Ok(n),
            _ => Err(bad(format!(
                "limit must be a whole number from 1 to 10000, not {v:?}"
            ))),
        },
    }
}

/// Current alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsResponse {
    /// Pending and firing alerts: rule, fingerprint, state, severity, labels,
    /// annotations, times, last value and anomaly score.
    #[schema(value_type = Vec<Object>)]
    pub alerts: Vec<serde_json::Value>,
    pub request_id: String,
}

/// Current alerts
///
/// Pending and firing alerts, as the monitor holds them (or as last saved when the monitor
/// is off).
#[utoipa::path(get, path = "/v1/monitor/alerts", tag = "monitoring",
    responses((status = 200, body = AlertsResponse),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn alerts(State(state): State<AppState>) -> Result<Json<AlertsResponse>, ApiError> {
    let alerts = match state.monitor() {
        Some(handle) => handle
            .with(|m| Ok(m.active_alerts()))
            .await
            .map_err(ApiError::internal)?,
        None => {
            let saved = state.read(|store| store.alert_state()).await?;
            match saved {
                Some(text) => {
                    serde_json::from_str::<SavedState>(&text)
                        .map_err(ApiError::internal)?
                        .engine
                        .alerts
                }
                None => Vec::new(),
            }
        }
    };
    Ok(Json(AlertsResponse {
        alerts: alerts
            .iter()
            .map(|a| serde_json::to_value(a).unwrap_or_default())
            .collect(),
        request_id: request_id::current(),
    }))
}

/// Query parameters with a `limit` (1 to 10000, default 100).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// How many, newest first (1 to 10000, default 100).
    pub limit: Option<u64>,
}

/// Alert history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// State changes, newest first: `{id, at_ms, fingerprint, rule, state, alert}`.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<serde_json::Value>,
    pub request_id: String,
}

/// Alert history
///
/// Every alert that fired or resolved, newest first.
#[utoipa::path(get, path = "/v1/monitor/alerts/history", tag = "monitoring",
    params(LimitParams),
    responses((status = 200, body = HistoryResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<HistoryResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["limit"])?;
    let limit = parse_limit(&pairs)?;
    let history = state.read(move |store| store.alert_history(limit)).await?;
    Ok(Json(HistoryResponse {
        history: history
            .iter()
            .map(|h| serde_json::to_value(h).unwrap_or_default())
            .collect(),
        request_id: request_id::current(),
    }))
}

/// Silences.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilencesResponse {
    /// Every silence, newest first: `{id, matchers, starts_at_ms, ends_at_ms, created_by,
    /// comment, created_at_ms}`; expired ones too.
    #[schema(value_type = Vec<Object>)]
    pub silences: Vec<serde_json::Value>,
    pub request_id: String,
}

/// Silences
///
/// Every silence, active or expired, newest first.
#[utoipa::path(get, path = "/v1/monitor/silences", tag = "monitoring",
    responses((status = 200, body = SilencesResponse),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn silences(State(state): State<AppState>) -> Result<Json<SilencesResponse>, ApiError> {
    let silences = state.read(|store| store.silences()).await?;
    Ok(Json(SilencesResponse {
        silences: silences
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .collect(),
        request_id: request_id::current(),
    }))
}

/// A new silence.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    /// Label name → exact value; every muted alert has all of them (at least one).
    pub matchers: BTreeMap<String, String>,
    /// RFC 3339 or milliseconds (default: now).
    pub starts_at: Option<String>,
    /// RFC 3339 or milliseconds; or give `duration`.
    pub ends_at: Option<String>,
    /// `30m`, `2h`, `1d`, or seconds (when `ends_at` is absent).
    pub duration: Option<String>,
    #[serde(default)]
    pub created_by: String,
    pub comment: String,
}

/// The silence created.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilenceResponse {
    #[schema(value_type = Object)]
    pub silence: serde_json::Value,
    pub request_id: String,
}

/// Checks a new silence and gives it an id.
pub fn silence_record(body: NewSilence, now: i64) -> Result<SilenceRecord, String> {
    if body.matchers.is_empty() {
        return Err(
            "matchers must name at least one label (a silence of everything is refused)".into(),
        );
    }
    if body.comment.trim().is_empty() {
        return Err("comment must say why the alerts are silenced".into());
    }
    let starts = match &body.starts_at {
        Some(text) => parse_time("starts_at", text).map_err(|e| e.message)?,
        None => now,
    };
    let ends = match (&body.ends_at, &body.duration) {
        (Some(text), _) => parse_time("ends_at", text).map_err(|e| e.message)?,
        (None, Some(duration)) => {
            starts + parse_duration_ms("duration", duration).map_err(|e| e.message)?
        }
        (None, None) => return Err("give ends_at or duration".into()),
    };
    if ends <= starts {
        return Err("a silence must end after it starts".into());
    }
    let id: [u8; 8] = rand::random();
    Ok(SilenceRecord {
        id: id.iter().map(|b| format!("{b:02x}")).collect(),
        matchers: body.matchers,
        starts_at_ms: starts,
        ends_at_ms: ends,
        created_by: if body.created_by.trim().is_empty() {
            "api".into()
        } else {
            body.created_by
        },
        comment: body.comment,
        created_at_ms: now,
    })
}

/// Create a silence
///
/// Mutes notifications of alerts whose labels match, from `starts_at` to `ends_at`.
#[utoipa::path(post, path = "/v1/monitor/silences", tag = "monitoring",
    request_body = NewSilence,
    responses((status = 201, body = SilenceResponse),
              (status = 400, description = "Bad silence (`invalid_silence`)", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_silence(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<SilenceResponse>), ApiError> {
    let body: NewSilence = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_silence", format!("the body: {e}")))?;
    let record = silence_record(body, monitor_or_now(&state))
        .map_err(|e| ApiError::bad_request("invalid_silence", e))?;
    let stored = record.clone();
    match state.monitor() {
        Some(handle) => handle
            .with(move |m| m.put_silence(&stored))
            .await
            .map_err(ApiError::store_unavailable)?,
        None => {
            let db = state.config().db.clone();
            tokio::task::spawn_blocking(move || {
                showrunner_store::open_path(&db)?.put_silence(&stored)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::store_unavailable)?
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(SilenceResponse {
            silence: serde_json::to_value(&record).unwrap_or_default(),
            request_id: request_id::current(),
        }),
    ))
}

/// A silence ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpiredResponse {
    pub id: String,
    pub expired: bool,
    pub request_id: String,
}

/// End a silence
///
/// Ends the silence now; it stays listed with its new end.
#[utoipa::path(delete, path = "/v1/monitor/silences/{id}", tag = "monitoring",
    params(("id" = String, Path, description = "Silence id")),
    responses((status = 200, body = ExpiredResponse),
              (status = 404, description = "No active silence with this id (`unknown_silence`)", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn expire_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ExpiredResponse>, ApiError> {
    let now = monitor_or_now(&state);
    let target = id.clone();
    let expired = match state.monitor() {
        Some(handle) => handle
            .with(move |m| m.expire_silence(&target, now))
            .await
            .map_err(ApiError::store_unavailable)?,
        None => {
            let db = state.config().db.clone();
            tokio::task::spawn_blocking(move || {
                showrunner_store::open_path(&db)?.expire_silence(&target, now)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::store_unavailable)?
        }
    };
    if !expired {
        return Err(ApiError::not_found(
            "unknown_silence",
            format!("no active silence has id {id:?}"),
        ));
    }
    Ok(Json(ExpiredResponse {
        id,
        expired,
        request_id: request_id::current(),
    }))
}

/// Query parameters of a series query.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// A selector: `name`, `name{label="v",other!="w"}` or `{label="v"}`.
    #[param(rename = "match")]
    pub selector: String,
    /// Start, RFC 3339 or milliseconds (default: an hour before `to`).
    pub from: Option<String>,
    /// End, exclusive (default: now).
    pub to: Option<String>,
    /// Bucket width: `60`, `30s`, `5m`, `1h` (default 1m); at most 11,000 buckets.
    pub step: Option<String>,
}

/// Series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesResponse {
    /// `{key, name, labels, points: [{ts_ms, value, min, max, count}]}` per series.
    #[schema(value_type = Vec<Object>)]
    pub series: Vec<serde_json::Value>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub step_ms: i64,
    pub request_id: String,
}

/// Most series one query returns.
const MAX_SERIES: usize = 1_000;

/// Query series
///
/// The selected series' points in `[from, to)`, averaged into `step` buckets: raw samples
/// where they are kept, hourly rollups before that.
#[utoipa::path(get, path = "/v1/monitor/series", tag = "monitoring",
    params(SeriesParams),
    responses((status = 200, body = SeriesResponse),
              (status = 400, description = "Bad selector or range (`invalid_parameter`)", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn series(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<SeriesResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["match", "from", "to", "step"])?;
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let selector_text = param("match")
        .ok_or_else(|| bad("match is required, e.g. match=qoe_playback_failure_pct"))?;
    let selector = SeriesSelector::parse(&selector_text).map_err(|e| bad(e.to_string()))?;
    let to_ms = match param("to") {
        Some(text) => parse_time("to", &text)?,
        None => monitor_or_now(&state),
    };
    let from_ms = match param("from") {
        Some(text) => parse_time("from", &text)?,
        None => to_ms - 3_600_000,
    };
    let step_ms = match param("step") {
        Some(text) => parse_duration_ms("step", &text)?,
        None => 60_000,
    };
    if from_ms >= to_ms {
        return Err(bad("from must be before to"));
    }
    if (to_ms - from_ms) / step_ms > 11_000 {
        return Err(bad(
            "too many buckets: widen step or narrow from..to (at most 11000)",
        ));
    }
    let query = SeriesQuery {
        selector,
        from_ms,
        to_ms,
        step_ms,
        max_series: MAX_SERIES,
    };
    let found = state.read(move |store| store.query_series(&query)).await?;
    Ok(Json(SeriesResponse {
        series: found
            .iter()
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .collect(),
        from_ms,
        to_ms,
        step_ms,
        request_id: request_id::current(),
    }))
}

/// The notification log.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsResponse {
    /// Newest first: `{id, at_ms, receiver, kind, group_key, status, attempts,
    /// http_status, error, payload}`.
    #[schema(value_type = Vec<Object>)]
    pub notifications: Vec<serde_json::Value>,
    pub request_id: String,
}

/// Notification log
///
/// Every notification sent or given up on, with its attempts, last HTTP status and error.
#[utoipa::path(get, path = "/v1/monitor/notifications", tag = "monitoring",
    params(LimitParams),
    responses((status = 200, body = NotificationsResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<NotificationsResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["limit"])?;
    let limit = parse_limit(&pairs)?;
    let log = state.read(move |store| store.notifications(limit)).await?;
    Ok(Json(NotificationsResponse {
        notifications: log
            .iter()
            .map(|n| serde_json::to_value(n).unwrap_or_default())
            .collect(),
        request_id: request_id::current(),
    }))
}

/// What a push stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushResponse {
    pub accepted: u64,
    /// Lines (text) or elements (JSON) that could not be used.
    pub problems: Vec<SampleProblem>,
    pub request_id: String,
}

/// Push samples
///
/// Metric samples in the Prometheus text exposition format (`text/plain`) or as JSON
/// (`application/json`: `[{name, labels, value, ts_ms}]`); stored at once and detected on
/// at the next tick. Samples without a time get the time of the push.
#[utoipa::path(post, path = "/v1/monitor/push", tag = "monitoring",
    request_body(content = String, description = "Text exposition or JSON samples"),
    responses((status = 200, body = PushResponse),
              (status = 400, description = "Nothing readable (`invalid_samples`)", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, description = "The monitor is off (`monitor_disabled`)", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PushResponse>, ApiError> {
    let Some(handle) = state.monitor() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "monitor_disabled",
            "the monitor is switched off ([monitor] enabled = false)",
        ));
    };
    let now = handle.now_ms();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (samples, problems) = if json {
        scrape::from_json(&body, now).map_err(|e| ApiError::bad_request("invalid_samples", e))?
    } else {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_request("invalid_samples", "the body is not UTF-8"))?;
        scrape::from_exposition(text, &BTreeMap::new(), now)
    };
    if samples.is_empty() && !problems.is_empty() {
        let first = &problems[0];
        return Err(ApiError::bad_request(
            "invalid_samples",
            format!(
                "no sample could be read; line {}: {} ({} problems)",
                first.line,
                first.problem,
                problems.len()
            ),
        ));
    }
    let accepted = handle
        .with(move |m| m.push(samples))
        .await
        .map_err(ApiError::store_unavailable)?;
    Ok(Json(PushResponse {
        accepted,
        problems,
        request_id: request_id::current(),
    }))
}
