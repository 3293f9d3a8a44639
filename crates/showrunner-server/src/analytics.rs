//! Content analytics over the API (analytics scope; admin keys pass too): the whole content
//! report, one show's dashboard, and the trending and demand-and-supply sections, each the
//! same JSON `showrunner report content --format json` writes (the library's types
//! serialised as they are; figures defined in docs/analytics.md). Plus the take rate of
//! recommendation rows, `GET /v1/metrics/take-rate`, read from the store.
//!
//! Handlers are thin: the store reads the facts (`Store::viewing_facts`) and
//! `showrunner-analytics` computes, both on the blocking pool. A range's facts read whole
//! are kept in memory for `[analytics] snapshot_seconds` (`crate::snapshots`), and the
//! routes over that range answer from them meanwhile, with an `Age` header; one show's
//! dashboard is then cut from the range's facts instead of read from the store.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use showrunner_analytics::{Prepared, ReportOptions, TitleDashboard};
use showrunner_model::{Timestamp, ViewingFacts};
use showrunner_store::{FactsFilter, TakeRateFilter};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::recs::{param, query_pairs};
use crate::snapshots::{Lookup, RangeKey};
use crate::{AppState, request_id};

/// The longest range a request may cover.
const MAX_RANGE_DAYS: i64 = 3_660;

/// Query parameters of the analytics reports.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// First day (`YYYY-MM-DD`, UTC) or instant (RFC 3339) of the range.
    pub from: String,
    /// End of the range, exclusive (`YYYY-MM-DD` or RFC 3339).
    pub to: String,
    /// Only views played in this country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

/// Query parameters of one show's dashboard.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TitleRangeParams {
    /// First day (`YYYY-MM-DD`, UTC) or instant (RFC 3339) of the range.
    pub from: String,
    /// End of the range, exclusive (`YYYY-MM-DD` or RFC 3339).
    pub to: String,
}

/// Query parameters of the take rate.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TakeRateParams {
    /// Impressions made from this day (`YYYY-MM-DD`, UTC) or instant (RFC 3339).
    pub from: String,
    /// Impressions made before this day or instant.
    pub to: String,
    /// One row key (`top_picks`), or a family of keys by the part before `:`
    /// (`because_you_watched`).
    pub row: Option<String>,
}

/// A date (midnight UTC) or an RFC 3339 instant, for the parameter `name`.
pub(crate) fn parse_time(text: &str, name: &str) -> Result<Timestamp, ApiError> {
    let is_date = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    let with_time = if is_date {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let parsed = Timestamp::parse(&with_time).map_err(|error| {
        ApiError::bad_request(
            "invalid_parameter",
            format!(
                "{name} must be a date (YYYY-MM-DD) or an RFC 3339 time, not {text:?}: {error}"
            ),
        )
    })?;
    // Keep to the years the store can key and the facts can count days over.
    if !(0..=4_102_444_800_000).contains(&parsed.millis()) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("{name} {text:?} is outside 1970..2100"),
        ));
    }
    Ok(parsed)
}

/// The required `from` and `to` of a query, `to` after `from`, at most ten years apart.
fn range(pairs: &[(String, String)]) -> Result<(Timestamp, Timestamp), ApiError> {
    let get = |name: &str| {
        param(pairs, name).ok_or_else(|| {
            ApiError::bad_request("invalid_parameter", format!("{name} is required"))
        })
    };
    let from = parse_time(&get("from")?, "from")?;
    let to = parse_time(&get("to")?, "to")?;
    if to <= from {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            "to must be after from",
        ));
    }
    if to.millis() - from.millis() > MAX_RANGE_DAYS * 86_400_000 {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("the range may cover at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok((from, to))
}

fn country(pairs: &[(String, String)]) -> Result<Option<String>, ApiError> {
    match param(pairs, "country") {
        None => Ok(None),
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(c.to_ascii_uppercase()))
        }
        Some(c) => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("country must be an ISO 3166-1 alpha-2 code, not {c:?}"),
        )),
    }
}

fn facts_filter(query: Option<&str>, title_id: Option<String>) -> Result<FactsFilter, ApiError> {
    let known: &[&str] = if title_id.is_some() {
        &["from", "to"]
    } else {
        &["from", "to", "country"]
    };
    let pairs = query_pairs(query, known)?;
    let (from, to) = range(&pairs)?;
    Ok(FactsFilter {
        from,
        to,
        country: country(&pairs)?,
        title_id,
    })
}

/// An answer, and the age of the snapshot in memory it was computed from (none when it
/// was read from the store for this request).
struct Computed<T> {
    value: T,
    age: Option<Duration>,
}

/// The snapshot cache's key for `filter`'s range (its title, if any, left out: one range's
/// snapshot serves every show's dashboard).
fn range_key(filter: &FactsFilter) -> RangeKey {
    RangeKey {
        from_ms: filter.from.millis(),
        to_ms: filter.to.millis(),
        country: filter.country.clone(),
    }
}

/// Runs `work` on the blocking pool over a fresh snapshot.
async fn over_snapshot<T: Send + 'static>(
    facts: Arc<ViewingFacts>,
    age: Duration,
    work: impl FnOnce(&ViewingFacts) -> T + Send + 'static,
) -> Result<Computed<T>, ApiError> {
    let value = tokio::task::spawn_blocking(move || work(&facts))
        .await
        .map_err(ApiError::internal)?;
    Ok(Computed {
        value,
        age: Some(age),
    })
}

/// Computes `work` over the whole range of `filter` (no title): from the range's snapshot
/// while fresh, else from facts read now, which are kept as the new snapshot when no other
/// read of the range is in flight.
async fn over_range<T: Send + 'static>(
    state: &AppState,
    filter: FactsFilter,
    work: impl FnOnce(&ViewingFacts) -> T + Send + 'static,
) -> Result<Computed<T>, ApiError> {
    match state.snapshots().lookup(&range_key(&filter)) {
        Lookup::Fresh { facts, age } => over_snapshot(facts, age, work).await,
        Lookup::Miss(ticket) => {
            let value = state
                .read(move |store| {
                    let facts = store.viewing_facts(&filter)?;
                    let value = work(&facts);
                    if let Some(ticket) = ticket {
                        ticket.fill(Arc::new(facts));
                    }
                    Ok(value)
                })
                .await?;
            Ok(Computed { value, age: None })
        }
    }
}

/// One show's dashboard over `filter`'s range: cut from the range's snapshot while fresh,
/// else from the store's facts of that show alone, while the whole range is read in the
/// background for the next dashboards (when no read of it is in flight).
async fn show_dashboard(
    state: &AppState,
    filter: FactsFilter,
    title_id: String,
) -> Result<Computed<Option<TitleDashboard>>, ApiError> {
    let range = FactsFilter {
        title_id: None,
        ..filter.clone()
    };
    match state.snapshots().lookup(&range_key(&range)) {
        Lookup::Fresh { facts, age } => {
            over_snapshot(facts, age, move |facts| {
                showrunner_analytics::title_dashboard(facts, &title_id)
            })
            .await
        }
        Lookup::Miss(ticket) => {
            if let Some(ticket) = ticket {
                let background = state.clone();
                tokio::spawn(async move {
                    // A failure is logged by `read`; the ticket's drop frees the range.
                    let _ = background
                        .read(move |store| {
                            let facts = store.viewing_facts(&range)?;
                            ticket.fill(Arc::new(facts));
                            Ok(())
                        })
                        .await;
                });
            }
            let value = state
                .read(move |store| {
                    let facts = store.viewing_facts(&filter)?;
                    Ok(showrunner_analytics::title_dashboard(&facts, &title_id))
                })
                .await?;
            Ok(Computed { value, age: None })
        }
    }
}

/// The JSON answer, with an `Age` header (whole seconds) when it came from a snapshot.
fn answer<T: Serialize>(computed: &Computed<T>) -> Result<Response, ApiError> {
    let mut response =
        Json(serde_json::to_value(&computed.value).map_err(ApiError::internal)?).into_response();
    if let Some(age) = computed.age {
        response
            .headers_mut()
            .insert(header::AGE, HeaderValue::from(age.as_secs()));
    }
    Ok(response)
}

/// The content report
///
/// Every section of `showrunner report content --format json` over the range: totals,
/// breakdowns, top titles, launches, trending, demand and supply, cohorts, forecast (see
/// docs/analytics.md for each figure).
#[utoipa::path(get, path = "/v1/analytics/report", tag = "analytics",
    params(RangeParams),
    responses(
        (status = 200, description = "The report (docs/analytics.md)", body = Object,
            headers(("Age" = u64, description = "Seconds since the range's facts were read, when the answer came from the snapshot kept in memory (`[analytics] snapshot_seconds`)"))),
        (status = 400, description = "Invalid query parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, description = "The store cannot be read (`store_unavailable`)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter = facts_filter(query.as_deref(), None)?;
    let report = over_range(&state, filter, |facts| {
        showrunner_analytics::content_report(facts, &ReportOptions::default())
    })
    .await?;
    answer(&report)
}

/// One show's dashboard
///
/// Performance with breakdowns, daily hours, launch curve and forecast of the title's show
/// (an episode or season selects its series), as `showrunner report content --title ID
/// --format json` writes it.
#[utoipa::path(get, path = "/v1/analytics/titles/{id}", tag = "analytics",
    params(("id" = String, Path, description = "Title id"), TitleRangeParams),
    responses(
        (status = 200, description = "The dashboard (docs/analytics.md)", body = Object,
            headers(("Age" = u64, description = "Seconds since the range's facts were read, when the answer came from the snapshot kept in memory (`[analytics] snapshot_seconds`)"))),
        (status = 400, description = "Invalid query parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Unknown title (`unknown_title`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn title(
    State(state): State<AppState>,
    Path(title_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter = facts_filter(query.as_deref(), Some(title_id.clone()))?;
    let dashboard = show_dashboard(&state, filter, title_id.clone()).await?;
    if dashboard.value.is_none() {
        return Err(ApiError::not_found(
            "unknown_title",
            format!("no title {title_id:?}"),
        ));
    }
    answer(&dashboard)
}

/// Trending and rising titles
///
/// The report's trending section: titles whose viewing accelerates against their own
/// baseline and the catalog's, overall and per country, with the size of the jump.
#[utoipa::path(get, path = "/v1/analytics/trending", tag = "analytics",
    params(RangeParams),
    responses(
        (status = 200, description = "The trending section (docs/analytics.md)", body = Object,
            headers(("Age" = u64, description = "Seconds since the range's facts were read, when the answer came from the snapshot kept in memory (`[analytics] snapshot_seconds`)"))),
        (status = 400, description = "Invalid query parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn trending(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter = facts_filter(query.as_deref(), None)?;
    let options = ReportOptions::default();
    let section = over_range(&state, filter, move |facts| {
        showrunner_analytics::trending(
            &Prepared::new(facts),
            options.trending,
            options.trending_per_country,
        )
    })
    .await?;
    answer(&section)
}

/// Demand against supply
///
/// The report's demand-and-supply section: hours per genre (and per genre by country,
/// maturity, release decade) against the catalog's share, the Effective Catalog Size, and
/// the ranked gaps.
#[utoipa::path(get, path = "/v1/analytics/supply", tag = "analytics",
    params(RangeParams),
    responses(
        (status = 200, description = "The demand-and-supply section (docs/analytics.md)", body = Object,
            headers(("Age" = u64, description = "Seconds since the range's facts were read, when the answer came from the snapshot kept in memory (`[analytics] snapshot_seconds`)"))),
        (status = 400, description = "Invalid query parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn supply(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter = facts_filter(query.as_deref(), None)?;
    let gaps = ReportOptions::default().gaps;
    let section = over_range(&state, filter, move |facts| {
        showrunner_analytics::demand_supply(&Prepared::new(facts), gaps)
    })
    .await?;
    answer(&section)
}

/// One row's take rate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TakeRateRow {
    /// The row key the impressions named (`overall` for the total).
    pub row: String,
    /// Impressions made in the range.
    pub impressions: u64,
    /// Of those, the impressions taken: a play of the same member and title citing the
    /// impression's `request_id`.
    pub plays: u64,
    /// `plays / impressions`; absent without impressions.
    pub take_rate: Option<f64>,
}

/// The take rate per row and overall.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TakeRateResponse {
    pub request_id: String,
    pub from: String,
    pub to: String,
    /// Every row's figures, by row key.
    pub rows: Vec<TakeRateRow>,
    /// All rows together.
    pub overall: TakeRateRow,
}

fn take_rate_row(row: String, impressions: u64, plays: u64) -> TakeRateRow {
    TakeRateRow {
        row,
        impressions,
        plays,
        take_rate: (impressions > 0).then(|| plays as f64 / impressions as f64),
    }
}

/// Take rate of recommendation rows
///
/// Per row and overall: the impressions made in `[from, to)`, how many of them were taken
/// (a play of the same title by the same member citing the impression's `request_id`, at
/// any time), and take rate = taken / impressions. Apps send back the `request_id` of the
/// home or recommendations response they showed.
#[utoipa::path(get, path = "/v1/metrics/take-rate", tag = "analytics",
    params(TakeRateParams),
    responses(
        (status = 200, body = TakeRateResponse),
        (status = 400, description = "Invalid query parameter (`invalid_parameter`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn take_rate(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<TakeRateResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["from", "to", "row"])?;
    let (from, to) = range(&pairs)?;
    let filter = TakeRateFilter {
        from,
        to,
        row: param(&pairs, "row").filter(|r| !r.is_empty()),
    };
    let rows = state.read(move |store| store.take_rate(&filter)).await?;
    let impressions = rows.iter().map(|r| r.impressions).sum();
    let plays = rows.iter().map(|r| r.plays).sum();
    Ok(Json(TakeRateResponse {
        request_id: request_id::current(),
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        rows: rows
            .into_iter()
            .map(|r| take_rate_row(r.row, r.impressions, r.plays))
            .collect(),
        overall: take_rate_row("overall".into(), impressions, plays),
    }))
}

/// The analytics routes, behind the analytics scope.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/analytics/report", get(report))
        .route("/v1/analytics/titles/{id}", get(title))
        .route("/v1/analytics/trending", get(trending))
        .route("/v1/analytics/supply", get(supply))
        .route("/v1/metrics/take-rate", get(take_rate))
}
