//! Shadow mode (operator permission): `POST /v1/models/{version}/shadow`,
//! `GET /v1/models/shadow` and `DELETE /v1/models/shadow`.
//!
//! While a model version is shadowed, every member's top-N and home page is also scored by
//! it, off the request path, and compared with what was served (the live model's answer,
//! or the member's experiment arm's). The handler only hands a [`ShadowJob`] to a bounded
//! queue (`try_send`: when the queue is full the request is counted as dropped, never
//! waited for); one worker thread scores the jobs and keeps the running totals in the
//! [`ActiveShadow`]. With nothing shadowed the request path pays one atomic load.
//!
//! The choice is the store's (`RegistryStore::start_shadow`), so every replica shadows the
//! same version and a restart keeps shadowing; the poll loads it ([`ShadowSlot`]), reusing
//! the live model's or an experiment arm's when one serves that version. The figures are
//! each server's own, in memory: they restart at zero when the server restarts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use showrunner_model::Timestamp;
use showrunner_recommend::agreement::{AgreementTotals, agreement};
use showrunner_store::{RegistryError, ShadowSetting};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::ingest::on_writer;
use crate::metrics::Metrics;
use crate::serving::Serving;
use crate::{AppState, request_id};

/// Requests waiting for the shadow worker at most; more are dropped (and counted).
pub const SHADOW_QUEUE: usize = 256;

/// What the shadowed model answers for one request: its titles, best first (`None` when it
/// could not answer, e.g. its rows workers stopped: not compared).
pub type ShadowScore = Box<dyn FnOnce(&Arc<Serving>) -> Option<Vec<String>> + Send>;

/// One request to score with the shadowed model and compare.
pub struct ShadowJob {
    shadow: Arc<ActiveShadow>,
    /// The titles served, in order (the compared list: N is its length).
    served: Vec<String>,
    score: ShadowScore,
}

/// Scoring latency and agreement so far.
#[derive(Debug, Default)]
struct Tally {
    agreement: AgreementTotals,
    scored: u64,
    scoring_seconds: f64,
    scoring_max_seconds: f64,
}

/// The shadowed model as loaded by this server, with its running totals.
pub struct ActiveShadow {
    pub setting: ShadowSetting,
    pub serving: Arc<Serving>,
    /// When this server began counting (its load of the setting).
    pub counted_since: Timestamp,
    tally: Mutex<Tally>,
    dropped: AtomicU64,
}

impl std::fmt::Debug for ActiveShadow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveShadow")
            .field("version", &self.setting.version)
            .finish()
    }
}

impl ActiveShadow {
    pub fn new(setting: ShadowSetting, serving: Arc<Serving>) -> ActiveShadow {
        ActiveShadow {
            setting,
            serving,
            counted_since: now(),
            tally: Mutex::new(Tally::default()),
            dropped: AtomicU64::new(0),
        }
    }

    /// The figures so far.
    pub fn figures(&self) -> ShadowFigures {
        let (totals, scored, seconds, max_seconds) = {
            let tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
            (
                tally.agreement,
                tally.scored,
                tally.scoring_seconds,
                tally.scoring_max_seconds,
            )
        };
        ShadowFigures {
            compared: totals.compared,
            dropped: self.dropped.load(Ordering::Relaxed),
            mean_overlap: totals.mean_overlap(),
            top1_agreement: totals.top1_rate(),
            mean_rank_agreement: totals.mean_rank(),
            scoring: ScoringLatency {
                count: scored,
                mean_ms: (scored > 0).then(|| seconds * 1000.0 / scored as f64),
                max_ms: (scored > 0).then_some(max_seconds * 1000.0),
            },
        }
    }
}

/// The shadowed model, swapped atomically by the poll, and the queue to its worker.
#[derive(Debug)]
pub struct ShadowSlot {
    current: ArcSwapOption<ActiveShadow>,
    queue: crossbeam_channel::Sender<ShadowJob>,
    metrics: Arc<Metrics>,
}

impl ShadowSlot {
    /// An empty slot and its worker thread, which ends when the slot is dropped.
    pub fn start(metrics: Arc<Metrics>) -> std::io::Result<ShadowSlot> {
        let (queue, jobs) = crossbeam_channel::bounded::<ShadowJob>(SHADOW_QUEUE);
        let worker_metrics = Arc::clone(&metrics);
        std::thread::Builder::new()
            .name("showrunner-shadow".into())
            .spawn(move || {
                while let Ok(job) = jobs.recv() {
                    score(job, &worker_metrics);
                }
            })?;
        Ok(ShadowSlot {
            current: ArcSwapOption::empty(),
            queue,
            metrics,
        })
    }

    pub fn get(&self) -> Option<Arc<ActiveShadow>> {
        self.current.load_full()
    }

    /// The shadowed model to compare a response served by `served_version` with: none when
    /// nothing is shadowed or the shadowed version served it itself (it was promoted, or an
    /// experiment arm serves it).
    pub fn for_response(&self, served_version: i64) -> Option<Arc<ActiveShadow>> {
        let current = self.current.load();
        current
            .as_ref()
            .filter(|shadow| shadow.setting.version != served_version)
            .map(Arc::clone)
    }

    /// Replaces the shadowed model; the one before (if any) loses its gauges.
    pub fn set(&self, shadow: Option<ActiveShadow>) {
        if let Some(old) = self.current.swap(shadow.map(Arc::new)) {
            self.metrics.clear_shadow(old.setting.version);
        }
    }

    /// Hands a request to the worker, or counts it as dropped when the queue is full.
    /// Never blocks.
    pub fn submit(&self, shadow: Arc<ActiveShadow>, served: Vec<String>, score: ShadowScore) {
        let version = shadow.setting.version;
        let job = ShadowJob {
            shadow,
            served,
            score,
        };
        if let Err(error) = self.queue.try_send(job) {
            let job = error.into_inner();
            job.shadow.dropped.fetch_add(1, Ordering::Relaxed);
            self.metrics.count_shadow_dropped(version);
        }
    }
}

/// Scores one job with the shadowed model and records the comparison.
fn score(job: ShadowJob, metrics: &Metrics) {
    let ShadowJob {
        shadow,
        served,
        score,
    } = job;
    let started = Instant::now();
    let Some(answer) = score(&shadow.serving) else {
        return;
    };
    let elapsed = started.elapsed();
    // Nothing served: there is no N to compare at.
    let Some(agreed) = agreement(&served, &answer) else {
        return;
    };
    let totals = {
        let mut tally = shadow.tally.lock().unwrap_or_else(PoisonError::into_inner);
        tally.agreement.add(&agreed);
        tally.scored += 1;
        tally.scoring_seconds += elapsed.as_secs_f64();
        tally.scoring_max_seconds = tally.scoring_max_seconds.max(elapsed.as_secs_f64());
        tally.agreement
    };
    metrics.observe_shadow(shadow.setting.version, &totals, elapsed);
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    )
}

/// The routes of this module (operator permission, in `routes::ROUTES`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models/{version}/shadow", post(start))
        .route("/v1/models/shadow", get(show).delete(stop))
}

/// Time the shadowed model took to score a request (off the request path).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoringLatency {
    /// Requests scored and compared.
    pub count: u64,
    pub mean_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// The agreement of the shadowed model with what was served (definitions in
/// docs/automation.md, "Shadow mode"); the means are absent before the first comparison.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadowFigures {
    /// Requests scored by the shadowed model and compared.
    pub compared: u64,
    /// Requests not shadowed because the queue was full.
    pub dropped: u64,
    /// Mean of |served ∩ shadow| / N, N the served list's length.
    pub mean_overlap: Option<f64>,
    /// Share of compared requests whose first title agrees.
    pub top1_agreement: Option<f64>,
    /// Mean rank-biased overlap to depth N (persistence 0.9, normalised to 0..1).
    pub mean_rank_agreement: Option<f64>,
    pub scoring: ScoringLatency,
}

/// The shadowed model and its figures on this server.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadowBody {
    pub version: i64,
    /// When shadowing this version started (the store's record).
    #[schema(value_type = String)]
    pub started_at: Timestamp,
    pub started_by: String,
    /// Whether this server has the model loaded and is comparing.
    pub loaded: bool,
    /// When this server began counting (the figures are its own, since then).
    #[schema(value_type = Option<String>)]
    pub counted_since: Option<Timestamp>,
    pub figures: ShadowFigures,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShadowResponse {
    pub request_id: String,
    /// `null` when no model is shadowed.
    pub shadow: Option<ShadowBody>,
}

/// The body for `setting` with this server's figures when it shadows that setting.
fn body(setting: ShadowSetting, active: Option<&ActiveShadow>) -> ShadowBody {
    let active = active.filter(|a| a.setting == setting);
    let figures = active.map_or_else(
        || ShadowFigures {
            compared: 0,
            dropped: 0,
            mean_overlap: None,
            top1_agreement: None,
            mean_rank_agreement: None,
            scoring: ScoringLatency {
                count: 0,
                mean_ms: None,
                max_ms: None,
            },
        },
        ActiveShadow::figures,
    );
    ShadowBody {
        version: setting.version,
        started_at: setting.started_at,
        started_by: setting.started_by,
        loaded: active.is_some(),
        counted_since: active.map(|a| a.counted_since),
        figures,
    }
}

/// Reloads the slot now rather than at the next poll.
async fn reload(state: &AppState) {
    if let Err(error) = state.poll().await {
        tracing::warn!(%error, "reloading after a shadow change failed");
    }
}

/// Start shadowing a model
///
/// The version also scores every top-N and home-page request, off the request path, and
/// its agreement with what was served is counted from now (zero figures; starting again
/// restarts them). Replaces any shadowed version. Not the live version (409
/// `shadow_conflict`); an experiment may run (its arms' answers are what is compared).
#[utoipa::path(
    post,
    path = "/v1/models/{version}/shadow",
    tag = "operations",
    params(("version" = i64, Path, description = "Model version")),
    responses(
        (status = 201, body = ShadowResponse),
        (status = 400, description = "Not a version number (`invalid_parameter`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such version (`unknown_model`)", body = ErrorBody),
        (status = 409, description = "The version is live (`shadow_conflict`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn start(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(version): Path<String>,
) -> Result<(StatusCode, Json<ShadowResponse>), ApiError> {
    let version: i64 = version.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("model version {version:?} is not a number"),
        )
    })?;
    let actor = caller.actor();
    let outcome = on_writer(&state, move |store| {
        match store.start_shadow(version, &actor, now()) {
            Ok(setting) => Ok(Ok(setting)),
            Err(RegistryError::Store(error)) => Err(error),
            Err(refused) => Ok(Err(refused)),
        }
    })
    .await?;
    let setting = outcome.map_err(|refused| match refused {
        RegistryError::NoSuchModel { .. } => {
            ApiError::not_found("unknown_model", refused.to_string())
        }
        _ => ApiError::new(StatusCode::CONFLICT, "shadow_conflict", refused.to_string()),
    })?;
    reload(&state).await;
    let active = state.shadow().get();
    Ok((
        StatusCode::CREATED,
        Json(ShadowResponse {
            request_id: request_id::current(),
            shadow: Some(body(setting, active.as_deref())),
        }),
    ))
}

/// The shadowed model
///
/// The shadowed version and this server's figures: requests compared and dropped, mean
/// overlap@N, top-1 agreement, mean rank agreement and the scoring latency. `shadow` is
/// `null` when nothing is shadowed.
#[utoipa::path(
    get,
    path = "/v1/models/shadow",
    tag = "operations",
    responses(
        (status = 200, body = ShadowResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn show(State(state): State<AppState>) -> Result<Json<ShadowResponse>, ApiError> {
    let setting = state.read(|store| store.shadow()).await?;
    let active = state.shadow().get();
    Ok(Json(ShadowResponse {
        request_id: request_id::current(),
        shadow: setting.map(|s| body(s, active.as_deref())),
    }))
}

/// Stop shadowing
///
/// Stops scoring requests with the shadowed model and answers its final figures on this
/// server. 404 `no_shadow` when nothing is shadowed.
#[utoipa::path(
    delete,
    path = "/v1/models/shadow",
    tag = "operations",
    responses(
        (status = 200, body = ShadowResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "Nothing is shadowed (`no_shadow`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn stop(State(state): State<AppState>) -> Result<Json<ShadowResponse>, ApiError> {
    let stopped = on_writer(&state, |store| store.stop_shadow()).await?;
    let setting =
        stopped.ok_or_else(|| ApiError::not_found("no_shadow", "no model version is shadowed"))?;
    let active = state.shadow().get();
    reload(&state).await;
    Ok(Json(ShadowResponse {
        request_id: request_id::current(),
        shadow: Some(body(setting, active.as_deref())),
    }))
}
