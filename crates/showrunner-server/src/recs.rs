//! The read endpoints: a member's top-N, the home page, similar titles, trending. Member
//! state (account, views, thumbs-down) is read from the store per request; the catalog and
//! recent viewing come with the loaded model (see `serving.rs`). While a model is shadowed,
//! the top-N and the home page also hand the same request to it (`shadow.rs`), after the
//! answer is built and without waiting for it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use showrunner_model::Member;
use showrunner_recommend::Filter;
use showrunner_recommend::rows::{
    HomeInputs, InProgress, Maturity, MemberContext, Reason, Row, RowItem, Rows, Watched,
};
use showrunner_store::{View, ViewFilter};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::request_id;
use crate::serving::{Serving, maturity_band};

/// Largest `n` accepted.
const MAX_N: usize = 100;

/// One recommended title.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoredTitle {
    pub title_id: String,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecommendationsResponse {
    pub request_id: String,
    pub member_id: String,
    pub model_version: i64,
    /// Present while an experiment serves this member from one of its arms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<crate::experiments::ExperimentTag>,
    /// The model does not know the member: the most popular titles.
    pub cold_start: bool,
    pub items: Vec<ScoredTitle>,
}

/// One title in a row, with why it is there.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowItemBody {
    pub title_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub score: f32,
    /// The reason as a stable code (`top_pick`, `resume`, `because_you_watched`, ...).
    pub reason_code: String,
    /// The reason as a sentence.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowBody {
    /// Stable: impressions name rows by it (`top_picks`, `because_you_watched:t42`, ...).
    pub key: String,
    pub heading: String,
    pub items: Vec<RowItemBody>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HomeResponse {
    pub request_id: String,
    pub member_id: String,
    pub model_version: i64,
    /// Present while an experiment serves this member from one of its arms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<crate::experiments::ExperimentTag>,
    pub rows: Vec<RowBody>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowResponse {
    pub request_id: String,
    pub model_version: i64,
    pub row: RowBody,
}

/// Query parameters: `n` titles (1 to 100, default 20).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopNParams {
    /// How many titles (1 to 100, default 20).
    pub n: Option<usize>,
}

/// Query parameters of the home page.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HomeParams {
    /// The profile whose maturity setting applies (default: the member's first profile).
    pub profile: Option<String>,
}

/// Query parameters of trending.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendingParams {
    /// ISO 3166-1 alpha-2 country (default: everywhere).
    pub country: Option<String>,
    /// How many titles (1 to 100, default 20).
    pub n: Option<usize>,
}

/// Decodes a query string into pairs, refusing unknown parameters.
pub(crate) fn query_pairs(
    raw: Option<&str>,
    known: &[&str],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        if !known.contains(&name) {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("unknown query parameter {name:?}; this endpoint takes {known:?}"),
            ));
        }
        pairs.push((name.to_owned(), percent_decode(value)?));
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request("invalid_parameter", "bad %-escape in the query")
                    })?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::bad_request("invalid_parameter", "the query is not UTF-8"))
}

fn parse_n(pairs: &[(String, String)]) -> Result<usize, ApiError> {
    match pairs.iter().find(|(k, _)| k == "n") {
        None => Ok(20),
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_N).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("n must be a whole number from 1 to {MAX_N}, not {v:?}"),
            )),
        },
    }
}

pub(crate) fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn serving(state: &AppState) -> Result<Arc<Serving>, ApiError> {
    state.models().get().ok_or_else(ApiError::model_unavailable)
}

/// What the store knows of a member for the home page.
#[derive(Clone)]
struct MemberState {
    member: Option<Member>,
    views: Vec<View>,
    thumbs_down: Vec<String>,
}

async fn member_state(state: &AppState, member_id: &str) -> Result<MemberState, ApiError> {
    let member_id = member_id.to_owned();
    state
        .read(move |store| {
            let member = store.member_without_personal_data(&member_id)?;
            let views = store.views(&ViewFilter {
                member_id: Some(member_id.clone()),
                ..ViewFilter::default()
            })?;
            let thumbs_down = store.thumbs_down(&member_id)?;
            Ok(MemberState {
                member,
                views,
                thumbs_down,
            })
        })
        .await
}

fn context(
    member_id: &str,
    profile: Option<&str>,
    found: MemberState,
    serving: &Serving,
    finished_share: f32,
) -> MemberContext {
    let member = found.member.as_ref();
    let maturity_limit = member
        .and_then(|m| match profile {
            Some(p) => m.profiles.iter().find(|x| x.id == p),
            None => m.profiles.first(),
        })
        .map_or(Maturity::Adults, |p| maturity_band(p.maturity));
    let mut in_progress = Vec::new();
    let mut watched = Vec::new();
    for view in &found.views {
        let duration = serving.durations.get(&view.title_id).copied();
        let completion = view.completion.map(|c| c as f32).unwrap_or_else(|| {
            duration.map_or(0.0, |d| view.max_position_s as f32 / d.max(1) as f32)
        });
        let at = view.last_at.seconds();
        watched.push(Watched {
            title_id: view.title_id.clone(),
            at,
            completion: completion.min(1.0),
        });
        if let Some(duration_s) = duration
            && completion < finished_share
        {
            in_progress.push(InProgress {
                title_id: view.title_id.clone(),
                position_s: view.max_position_s,
                duration_s,
                last_at: at,
            });
        }
    }
    MemberContext {
        member_id: member_id.to_owned(),
        country: member.and_then(|m| m.country.clone()),
        plan: member.and_then(|m| m.plan.clone()),
        maturity_limit,
        in_progress,
        watched,
        thumbs_down: found.thumbs_down,
    }
}

fn anonymous(country: Option<String>) -> MemberContext {
    MemberContext {
        member_id: String::new(),
        country,
        plan: None,
        maturity_limit: Maturity::Adults,
        in_progress: Vec::new(),
        watched: Vec::new(),
        thumbs_down: Vec::new(),
    }
}

fn reason_code(reason: &Reason) -> &'static str {
    match reason {
        Reason::TopPick => "top_pick",
        Reason::NewForYou => "new_for_you",
        Reason::Popular { .. } => "popular",
        Reason::BecauseYouWatched { .. } => "because_you_watched",
        Reason::MoreLikeThis { .. } => "more_like_this",
        Reason::Trending { .. } => "trending",
        Reason::Resume { .. } => "resume",
        Reason::NextEpisode { .. } => "next_episode",
        Reason::NewRelease { .. } => "new_release",
    }
}

fn row_body(rows: &Rows<'_>, row: Row, limit: usize) -> RowBody {
    RowBody {
        key: row.key,
        heading: row.heading,
        items: row
            .items
            .into_iter()
            .take(limit)
            .map(|item: RowItem| RowItemBody {
                name: rows.item(&item.title_id).map(|c| c.name.clone()),
                reason_code: reason_code(&item.reason).to_owned(),
                reason: item.reason.text(),
                title_id: item.title_id,
                score: item.score,
            })
            .collect(),
    }
}

/// The member's top `n` titles by `serving`'s model: movies and series only, never one in
/// their history or thumbed down.
fn top_n(serving: &Serving, member_id: &str, n: usize) -> Vec<ScoredTitle> {
    let not_recommendable = &serving.not_recommendable;
    let exclude = |item: u32| {
        not_recommendable
            .get(item as usize)
            .copied()
            .unwrap_or(false)
    };
    let filter = Filter {
        exclude: Some(&exclude),
        include_history: false,
    };
    let (top, _) = serving.model.recommend(member_id, n, &filter);
    top.into_iter()
        .filter_map(|(item, score)| {
            serving
                .model
                .data
                .item_ids
                .get(item as usize)
                .map(|id| ScoredTitle {
                    title_id: id.clone(),
                    score,
                })
        })
        .collect()
}

/// The home page's rows for a member by `serving`'s model (run on its rows worker).
fn home_rows(
    rows: &Rows<'_>,
    serving: &Serving,
    member_id: &str,
    profile: Option<&str>,
    found: MemberState,
) -> Vec<Row> {
    let member = context(
        member_id,
        profile,
        found,
        serving,
        rows.config().finished_share,
    );
    let inputs = HomeInputs {
        recent_views: &serving.recent_views,
        segment_counts: &serving.segment_counts,
        now: serving.now,
    };
    rows.home(&member, &inputs)
}

/// The row of a home page a shadowed model is compared on: the model's own pick, Top Picks
/// (Popular in your country for a member it cannot score). Continue Watching, Trending
/// and New Releases hardly depend on the model, so they would only dilute the comparison.
fn is_model_pick(key: &str) -> bool {
    key == "top_picks" || key == "popular"
}

/// A member's top-N
///
/// The model's best titles for the member, never one in their history or thumbed down.
/// A member the model does not know (but the store does) gets the most popular titles.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/recommendations",
    tag = "recommendations",
    params(("id" = String, Path, description = "Member id"), TopNParams),
    responses(
        (status = 200, body = RecommendationsResponse),
        (status = 400, description = "Invalid query parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown member (`unknown_member`)", body = ErrorBody),
        (status = 503, description = "No model published (`model_unavailable`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn recommendations(
    State(state): State<AppState>,
    Path(member_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<RecommendationsResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["n"])?;
    let n = parse_n(&pairs)?;
    let (serving, experiment) =
        crate::experiments::serving_for(&state, &member_id, serving(&state)?);
    let known = serving.model.user(&member_id).is_some();
    // A member the model does not know must still be one the store holds: from memory
    // when the writer has seen them, else from the store.
    if !known && !state.members().contains(&member_id) {
        let id = member_id.clone();
        let exists = state
            .read(move |store| Ok(store.member(&id)?.is_some()))
            .await?;
        if !exists {
            return Err(ApiError::not_found(
                "unknown_member",
                format!("no member {member_id:?}"),
            ));
        }
    }
    crate::experiments::record_assignment(&state, &member_id, experiment.as_ref()).await;
    let items = top_n(&serving, &member_id, n);
    if let Some(shadow) = state.shadow().for_response(serving.version) {
        let served = items.iter().map(|t| t.title_id.clone()).collect();
        let id = member_id.clone();
        state.shadow().submit(
            shadow,
            served,
            Box::new(move |shadow_serving| {
                Some(
                    top_n(shadow_serving, &id, n)
                        .into_iter()
                        .map(|t| t.title_id)
                        .collect(),
                )
            }),
        );
    }
    Ok(Json(RecommendationsResponse {
        request_id: request_id::current(),
        member_id,
        model_version: serving.version,
        experiment,
        cold_start: !known,
        items,
    }))
}

/// A member's home page
///
/// Continue Watching, Top Picks (Popular in your country for a new member), Because You
/// Watched X, Trending Now, New Releases: de-duplicated across rows, filtered by the
/// profile's maturity and the member's country, each title with its reason.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/home",
    tag = "recommendations",
    params(("id" = String, Path, description = "Member id"), HomeParams),
    responses(
        (status = 200, body = HomeResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown member (`unknown_member`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn home(
    State(state): State<AppState>,
    Path(member_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<HomeResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["profile"])?;
    let profile = param(&pairs, "profile");
    let (serving, experiment) =
        crate::experiments::serving_for(&state, &member_id, serving(&state)?);
    let found = member_state(&state, &member_id).await?;
    if found.member.is_none() && serving.model.user(&member_id).is_none() {
        return Err(ApiError::not_found(
            "unknown_member",
            format!("no member {member_id:?}"),
        ));
    }
    crate::experiments::record_assignment(&state, &member_id, experiment.as_ref()).await;
    // What the shadowed model needs of the request, taken before the rows use it (only
    // while a model is shadowed: otherwise one atomic load).
    let shadowing = state
        .shadow()
        .for_response(serving.version)
        .map(|shadow| (shadow, found.clone(), profile.clone()));
    let job_serving = Arc::clone(&serving);
    let id = member_id.clone();
    let rows = serving
        .with_rows(move |rows| {
            home_rows(rows, &job_serving, &id, profile.as_deref(), found)
                .into_iter()
                .map(|row| row_body(rows, row, usize::MAX))
                .collect::<Vec<_>>()
        })
        .await
        .ok_or_else(|| ApiError::internal("the rows workers stopped"))?;
    if let Some((shadow, found, profile)) = shadowing {
        let served: Vec<String> = rows
            .iter()
            .find(|row| is_model_pick(&row.key))
            .map(|row| row.items.iter().map(|i| i.title_id.clone()).collect())
            .unwrap_or_default();
        let id = member_id.clone();
        state.shadow().submit(
            shadow,
            served,
            Box::new(move |shadow_serving| {
                let job_serving = Arc::clone(shadow_serving);
                shadow_serving.with_rows_blocking(move |rows| {
                    home_rows(rows, &job_serving, &id, profile.as_deref(), found)
                        .into_iter()
                        .find(|row| is_model_pick(&row.key))
                        .map(|row| row.items.into_iter().map(|i| i.title_id).collect())
                        .unwrap_or_default()
                })
            }),
        );
    }
    Ok(Json(HomeResponse {
        request_id: request_id::current(),
        member_id,
        model_version: serving.version,
        experiment,
        rows,
    }))
}

/// Titles similar to a title
///
/// More Like This: the title's nearest neighbours by the model's item similarity.
#[utoipa::path(
    get,
    path = "/v1/titles/{id}/similar",
    tag = "recommendations",
    params(("id" = String, Path, description = "Title id"), TopNParams),
    responses(
        (status = 200, body = RowResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown title (`unknown_title`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn similar(
    State(state): State<AppState>,
    Path(title_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<RowResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["n"])?;
    let n = parse_n(&pairs)?;
    let serving = serving(&state)?;
    let id = title_id.clone();
    let row = serving
        .with_rows(move |rows| {
            rows.more_like_this(&anonymous(None), &id)
                .map(|row| row_body(rows, row, n))
        })
        .await
        .ok_or_else(|| ApiError::internal("the rows workers stopped"))?
        .ok_or_else(|| ApiError::not_found("unknown_title", format!("no title {title_id:?}")))?;
    Ok(Json(RowResponse {
        request_id: request_id::current(),
        model_version: serving.version,
        row,
    }))
}

/// Trending now
///
/// Titles with the most recent views (time-decayed), in a country or everywhere.
#[utoipa::path(
    get,
    path = "/v1/trending",
    tag = "recommendations",
    params(TrendingParams),
    responses(
        (status = 200, body = RowResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn trending(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<RowResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["n", "country"])?;
    let n = parse_n(&pairs)?;
    let country = param(&pairs, "country").map(|c| c.to_ascii_uppercase());
    if let Some(c) = &country
        && (c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("country must be an ISO 3166-1 alpha-2 code, not {c:?}"),
        ));
    }
    let serving = serving(&state)?;
    let job_serving = Arc::clone(&serving);
    let row = serving
        .with_rows(move |rows| {
            let row = rows.trending_now(
                &anonymous(country),
                &job_serving.recent_views,
                job_serving.now,
            );
            row_body(rows, row, n)
        })
        .await
        .ok_or_else(|| ApiError::internal("the rows workers stopped"))?;
    Ok(Json(RowResponse {
        request_id: request_id::current(),
        model_version: serving.version,
        row,
    }))
}
