//! Catalog and member management (admin scope): create or replace (`PUT`), update
//! (`PATCH`, a JSON merge patch), read, delete and bulk-load titles and members. Every
//! record goes through the importer's cleaning (`showrunner_ingest::Cleaner`), so the API
//! accepts exactly what `showrunner import` accepts; writes run on the writer thread (see
//! `ingest::on_writer`), serialised with ingest.
//!
//! Deleting a member is a right-to-erasure request: the store removes every row naming them
//! in one durable transaction (`CatalogStore::erase_member`) and the answer counts what was
//! erased. Deleting a title that events or views refer to, or that has seasons or episodes,
//! is refused with 409 `title_in_use` (its history would otherwise point at nothing);
//! change its `availability` instead to stop showing it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use showrunner_ingest::{Cleaner, CleaningRules, KnownEntities};
use showrunner_model::{Batch, Member, Record, Title};
use showrunner_store::{Erasure, TitleDeletion};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::ingest::{RejectedRow, on_writer, read_body};
use crate::{AppState, request_id};

/// Which kind of record a route manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Title,
    Member,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Title => "title",
            Kind::Member => "member",
        }
    }
}

/// A title or member as stored, in the import format (docs/events.md).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordResponse {
    pub request_id: String,
    /// True when the record did not exist before this request.
    pub created: bool,
    /// The record after cleaning, as `showrunner import` would have stored it.
    #[schema(value_type = Object)]
    pub record: Value,
}

/// A stored title or member.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordBody {
    pub request_id: String,
    #[schema(value_type = Object)]
    pub record: Value,
}

/// The answer to a bulk load: every accepted record is durable when it is sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResponse {
    pub request_id: String,
    /// Records written (new or replaced).
    pub accepted: u64,
    pub rejected: u64,
    pub rejections: Vec<RejectedRow>,
}

/// The answer to deleting a title.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TitleDeleted {
    pub request_id: String,
    pub title_id: String,
    pub deleted: bool,
}

/// Rows erased, per table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasedCounts {
    /// The member's own row (0 when only events named them).
    pub members: u64,
    pub plays: u64,
    pub views: u64,
    pub ratings: u64,
    pub impressions: u64,
    pub searches: u64,
    pub qoe: u64,
    /// Sign-ins whose account is the member's id or email.
    pub logins: u64,
    /// Quarantined rows mentioning the member's id or email.
    pub quarantined: u64,
    /// The member's assignments to A/B tests' arms.
    pub experiment_assignments: u64,
    /// Stored identifiers (the member id, profile ids containing it) overwritten.
    pub identifiers: u64,
}

impl From<Erasure> for ErasedCounts {
    fn from(e: Erasure) -> Self {
        ErasedCounts {
            members: e.members,
            plays: e.plays,
            views: e.views,
            ratings: e.ratings,
            impressions: e.impressions,
            searches: e.searches,
            qoe: e.qoe,
            logins: e.logins,
            quarantined: e.quarantined,
            experiment_assignments: e.experiment_assignments,
            identifiers: e.identifiers,
        }
    }
}

/// The answer to a right-to-erasure request: durable when sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasureResponse {
    pub request_id: String,
    pub member_id: String,
    pub erased: ErasedCounts,
}

fn invalid(kind: Kind, problem: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        match kind {
            Kind::Title => "invalid_title",
            Kind::Member => "invalid_member",
        },
        format!("the {} is not valid: {problem}", kind.type_name()),
    )
}

fn unknown(kind: Kind, id: &str) -> ApiError {
    match kind {
        Kind::Title => ApiError::not_found("unknown_title", format!("no title {id:?}")),
        Kind::Member => ApiError::not_found("unknown_member", format!("no member {id:?}")),
    }
}

/// Cleans one JSON object as a record of `kind` (its `type` is filled in when absent, and
/// its `id`, when `id` is given, must match).
fn clean(kind: Kind, mut value: Value, id: Option<&str>) -> Result<Record, String> {
    let Some(object) = value.as_object_mut() else {
        return Err("expected a JSON object".into());
    };
    match object.get("type") {
        None => {
            object.insert("type".into(), Value::from(kind.type_name()));
        }
        Some(Value::String(t)) if t == kind.type_name() => {}
        Some(other) => {
            return Err(format!(
                "type is {other}, but this endpoint takes {:?}",
                kind.type_name()
            ));
        }
    }
    if let Some(id) = id {
        match object.get("id") {
            None => {
                object.insert("id".into(), Value::from(id));
            }
            Some(Value::String(given)) if given == id => {}
            Some(other) => {
                return Err(format!("id is {other}, but the path names {id:?}"));
            }
        }
    }
    let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    let mut cleaner = Cleaner::new(CleaningRules::default(), KnownEntities::default());
    let record = cleaner.clean_json(&bytes).map_err(|p| p.to_string())?;
    // Cleaning trims ids; a path id that would be stored as another id is refused rather
    // than stored under a name the client did not use.
    let cleaned = match &record {
        Record::Title(t) => t.id.as_str(),
        Record::Member(m) => m.id.as_str(),
        Record::Event(_) => return Err("expected a title or member".into()),
    };
    if let Some(id) = id
        && cleaned != id
    {
        return Err(format!(
            "the id {id:?} would be stored as {cleaned:?}: ids have no leading or trailing spaces"
        ));
    }
    Ok(record)
}

fn to_batch(record: Record) -> Batch {
    let mut batch = Batch::default();
    batch.push(record);
    batch
}

/// The record in the import format, with its `type`.
fn record_json(kind: Kind, record: &impl Serialize) -> Result<Value, ApiError> {
    let mut value = serde_json::to_value(record).map_err(ApiError::internal)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("type".into(), Value::from(kind.type_name()));
    }
    Ok(value)
}

/// Applies a JSON merge patch (RFC 7396): objects merge, `null` removes, anything else
/// replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

fn parse_json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}")))
}

async fn read_json(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = read_body(headers, body, state.config().max_body_bytes).await?;
    parse_json_body(&bytes)
}

/// Writes one cleaned record; returns whether it existed before and the stored copy.
async fn write_record(
    state: &AppState,
    kind: Kind,
    id: String,
    record: Record,
) -> Result<(bool, Value), ApiError> {
    let (existed, stored) = on_writer(state, move |store| {
        let existed = match kind {
            Kind::Title => store.title(&id)?.is_some(),
            Kind::Member => store.member(&id)?.is_some(),
        };
        store.write_batch(&to_batch(record))?;
        let stored = match kind {
            Kind::Title => store.title(&id)?.map(StoredRecord::Title),
            Kind::Member => store.member(&id)?.map(StoredRecord::Member),
        };
        Ok((existed, stored))
    })
    .await?;
    let stored =
        stored.ok_or_else(|| ApiError::internal("a written record cannot be read back"))?;
    Ok((existed, stored.to_json()?))
}

enum StoredRecord {
    Title(Title),
    Member(Member),
}

impl StoredRecord {
    fn to_json(&self) -> Result<Value, ApiError> {
        match self {
            StoredRecord::Title(t) => record_json(Kind::Title, t),
            StoredRecord::Member(m) => record_json(Kind::Member, m),
        }
    }
}

async fn read_record(state: &AppState, kind: Kind, id: String) -> Result<Value, ApiError> {
    let lookup = id.clone();
    let stored = state
        .read(move |store| {
            Ok(match kind {
                Kind::Title => store.title(&lookup)?.map(StoredRecord::Title),
                Kind::Member => store.member(&lookup)?.map(StoredRecord::Member),
            })
        })
        .await?;
    stored.ok_or_else(|| unknown(kind, &id))?.to_json()
}

async fn put(
    state: AppState,
    kind: Kind,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<RecordResponse>), ApiError> {
    let value = read_json(&state, &headers, body).await?;
    let record = clean(kind, value, Some(&id)).map_err(|p| invalid(kind, p))?;
    let (existed, record) = write_record(&state, kind, id, record).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(RecordResponse {
            request_id: request_id::current(),
            created: !existed,
            record,
        }),
    ))
}

async fn patch(
    state: AppState,
    kind: Kind,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RecordResponse>, ApiError> {
    let patch = read_json(&state, &headers, body).await?;
    if !patch.is_object() {
        return Err(invalid(
            kind,
            "a patch is a JSON object (RFC 7396 merge patch)",
        ));
    }
    let mut current = read_record(&state, kind, id.clone()).await?;
    merge_patch(&mut current, &patch);
    let record = clean(kind, current, Some(&id)).map_err(|p| invalid(kind, p))?;
    let (_, record) = write_record(&state, kind, id, record).await?;
    Ok(Json(RecordResponse {
        request_id: request_id::current(),
        created: false,
        record,
    }))
}

async fn bulk(
    state: AppState,
    kind: Kind,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BulkResponse>, ApiError> {
    let rows = crate::ingest::read_rows(&state, &headers, body).await?;
    let mut batch = Batch::default();
    let mut rejections = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let outcome = serde_json::from_slice::<Value>(row)
            .map_err(|e| format!("not JSON: {e}"))
            .and_then(|value| clean(kind, value, None));
        match outcome {
            Ok(record) => batch.push(record),
            Err(detail) => rejections.push(RejectedRow {
                index,
                reason: format!("invalid_{}", kind.type_name()),
                field: None,
                detail,
            }),
        }
    }
    let accepted = (batch.titles.len() + batch.members.len()) as u64;
    if accepted > 0 {
        on_writer(&state, move |store| store.write_batch(&batch).map(|_| ())).await?;
    }
    Ok(Json(BulkResponse {
        request_id: request_id::current(),
        accepted,
        rejected: rejections.len() as u64,
        rejections,
    }))
}

/// Create or replace a title
///
/// The body is a title as in docs/events.md (`type` may be left out; `id`, if given, must
/// match the path). It is cleaned as `showrunner import` cleans it. 201 when created, 200
/// when replaced.
#[utoipa::path(put, path = "/v1/titles/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Title id")),
    request_body(content = Object, description = "A title (docs/events.md)", content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced", body = RecordResponse),
        (status = 201, description = "Created", body = RecordResponse),
        (status = 400, description = "Not a valid title (`invalid_title`, `malformed_json`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "Body too large (`body_too_large`)", body = ErrorBody),
        (status = 503, description = "The store cannot be written (`store_unavailable`)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_title(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<RecordResponse>), ApiError> {
    put(state, Kind::Title, id, headers, body).await
}

/// Update a title
///
/// A JSON merge patch (RFC 7396) over the stored title: fields given replace, `null`
/// removes; the result is cleaned like a new title.
#[utoipa::path(patch, path = "/v1/titles/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Title id")),
    request_body(content = Object, description = "Fields to change", content_type = "application/json"),
    responses(
        (status = 200, body = RecordResponse),
        (status = 400, description = "Not a valid title (`invalid_title`, `malformed_json`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown title (`unknown_title`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn patch_title(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RecordResponse>, ApiError> {
    patch(state, Kind::Title, id, headers, body).await
}

/// A title
#[utoipa::path(get, path = "/v1/titles/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Title id")),
    responses(
        (status = 200, body = RecordBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown title (`unknown_title`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_title(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RecordBody>, ApiError> {
    let record = read_record(&state, Kind::Title, id).await?;
    Ok(Json(RecordBody {
        request_id: request_id::current(),
        record,
    }))
}

/// Delete a title
///
/// Refused with 409 `title_in_use` while events or views refer to the title or it has
/// seasons or episodes: set its `availability` to stop showing it instead.
#[utoipa::path(delete, path = "/v1/titles/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Title id")),
    responses(
        (status = 200, body = TitleDeleted),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown title (`unknown_title`)", body = ErrorBody),
        (status = 409, description = "Events, views or parts refer to the title (`title_in_use`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn delete_title(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TitleDeleted>, ApiError> {
    let target = id.clone();
    let outcome = on_writer(&state, move |store| store.delete_title(&target)).await?;
    match outcome {
        TitleDeletion::Deleted => Ok(Json(TitleDeleted {
            request_id: request_id::current(),
            title_id: id,
            deleted: true,
        })),
        TitleDeletion::NotFound => Err(unknown(Kind::Title, &id)),
        TitleDeletion::InUse {
            parts,
            referenced_by,
        } => {
            let mut reasons = Vec::new();
            if parts > 0 {
                reasons.push(format!("{parts} seasons or episodes belong to it"));
            }
            if !referenced_by.is_empty() {
                reasons.push(format!("{} refer to it", referenced_by.join(", ")));
            }
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "title_in_use",
                format!(
                    "title {id:?} cannot be deleted: {}; change its availability to stop showing it",
                    reasons.join(" and ")
                ),
            ))
        }
    }
}

/// Load many titles
///
/// A JSON array or NDJSON of titles; each is cleaned on its own, the valid ones are written
/// together (durable when answered) and the others listed with their reason.
#[utoipa::path(post, path = "/v1/titles:bulk", tag = "catalog",
    request_body(content = Vec<Object>, description = "Titles (docs/events.md)", content_type = "application/json"),
    responses(
        (status = 200, body = BulkResponse),
        (status = 400, description = "Malformed body (`malformed_json`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "Body or batch too large", body = ErrorBody),
        (status = 415, description = "Unsupported content type", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn bulk_titles(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BulkResponse>, ApiError> {
    bulk(state, Kind::Title, headers, body).await
}

/// Create or replace a member
///
/// The body is a member as in docs/events.md (with `email`, `name`: personal data). 201
/// when created, 200 when replaced.
#[utoipa::path(put, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "Member id")),
    request_body(content = Object, description = "A member (docs/events.md)", content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced", body = RecordResponse),
        (status = 201, description = "Created", body = RecordResponse),
        (status = 400, description = "Not a valid member (`invalid_member`, `malformed_json`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<RecordResponse>), ApiError> {
    put(state, Kind::Member, id, headers, body).await
}

/// Update a member
///
/// A JSON merge patch (RFC 7396) over the stored member.
#[utoipa::path(patch, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "Member id")),
    request_body(content = Object, description = "Fields to change", content_type = "application/json"),
    responses(
        (status = 200, body = RecordResponse),
        (status = 400, description = "Not a valid member (`invalid_member`, `malformed_json`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown member (`unknown_member`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn patch_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RecordResponse>, ApiError> {
    patch(state, Kind::Member, id, headers, body).await
}

/// A member
///
/// The stored member, personal data included.
#[utoipa::path(get, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "Member id")),
    responses(
        (status = 200, body = RecordBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown member (`unknown_member`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RecordBody>, ApiError> {
    let record = read_record(&state, Kind::Member, id).await?;
    Ok(Json(RecordBody {
        request_id: request_id::current(),
        record,
    }))
}

/// Erase a member (right to erasure)
///
/// Removes, in one durable transaction, the member's row and personal data, every event
/// naming them (plays, ratings, impressions, searches, QoE reports), their views, sign-ins
/// with their id or email as the account, quarantined rows mentioning their id or email,
/// and their stored identifiers; answers with what was erased. See docs/server.md.
#[utoipa::path(delete, path = "/v1/members/{id}", tag = "members",
    params(("id" = String, Path, description = "Member id")),
    responses(
        (status = 200, body = ErasureResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Nothing names this member (`unknown_member`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn delete_member(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ErasureResponse>, ApiError> {
    let target = id.clone();
    let erasure = on_writer(&state, move |store| store.erase_member(&target)).await?;
    let Some(erasure) = erasure else {
        return Err(unknown(Kind::Member, &id));
    };
    // No analytics answer may come from facts read before the erasure, and no request
    // answered after this one may find the member in memory (the writer's own re-read of
    // the members may land after the answer).
    state.snapshots().clear();
    state.members().forget(&id);
    tracing::info!(erased_rows = erasure.total(), "member erased");
    Ok(Json(ErasureResponse {
        request_id: request_id::current(),
        member_id: id,
        erased: erasure.into(),
    }))
}

/// Load many members
///
/// A JSON array or NDJSON of members; each is cleaned on its own, the valid ones are
/// written together (durable when answered) and the others listed with their reason.
#[utoipa::path(post, path = "/v1/members:bulk", tag = "members",
    request_body(content = Vec<Object>, description = "Members (docs/events.md)", content_type = "application/json"),
    responses(
        (status = 200, body = BulkResponse),
        (status = 400, description = "Malformed body (`malformed_json`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, description = "Body or batch too large", body = ErrorBody),
        (status = 415, description = "Unsupported content type", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn bulk_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BulkResponse>, ApiError> {
    bulk(state, Kind::Member, headers, body).await
}

/// The catalog and member routes, behind the admin scope.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/titles/{id}",
            get(get_title)
                .put(put_title)
                .patch(patch_title)
                .delete(delete_title),
        )
        .route("/v1/titles:bulk", post(bulk_titles))
        .route(
            "/v1/members/{id}",
            get(get_member)
                .put(put_member)
                .patch(patch_member)
                .delete(delete_member),
        )
        .route("/v1/members:bulk", post(bulk_members))
}
