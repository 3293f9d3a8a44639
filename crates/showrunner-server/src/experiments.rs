//! A/B tests of models over HTTP (operator permission): `POST /v1/experiments`,
//! `GET /v1/experiments`, `GET /v1/experiments/{id}` (per-arm figures with 95% intervals)
//! and `POST /v1/experiments/{id}/stop`.
//!
//! While an experiment runs, [`ExperimentSlot`] holds its arms' loaded models; the poll
//! loads them (reusing the live model's when an arm serves the live version). A member's
//! arm is `showrunner_recommend::experiment::assign` of the experiment's salt, id and the
//! member id, so every replica agrees without sharing state; the home page and top-N of the
//! member are served by that arm's model, the response names the experiment, arm and model
//! version, and the first response recorded per member and server writes the assignment
//! (insert-or-ignore, so later ones and other replicas change nothing). One experiment
//! runs at a time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;
use showrunner_recommend::experiment::{
    Interval, Sample, assign, mean_interval, newcombe, welch, wilson,
};
use showrunner_store::{
    ArmFigures, ExperimentArm, ExperimentError, ExperimentRecord, ModelStatus, NewExperiment,
    StoreError,
};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::ingest::{on_writer, read_body};
use crate::serving::Serving;
use crate::{AppState, request_id};

/// The running experiment with its arms' models, in the arms' order.
pub struct ActiveExperiment {
    pub record: ExperimentRecord,
    pub arms: Vec<Arc<Serving>>,
    weights: Vec<u32>,
    /// Members whose assignment this server has recorded.
    recorded: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ActiveExperiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveExperiment")
            .field("id", &self.record.id)
            .finish()
    }
}

impl ActiveExperiment {
    pub fn new(record: ExperimentRecord, arms: Vec<Arc<Serving>>) -> ActiveExperiment {
        let weights = record.arms.iter().map(|a| a.weight).collect();
        ActiveExperiment {
            record,
            arms,
            weights,
            recorded: Mutex::new(HashSet::new()),
        }
    }

    /// The index of the arm serving `member_id`.
    pub fn arm_of(&self, member_id: &str) -> usize {
        assign(
            self.record.salt.as_bytes(),
            self.record.id,
            member_id,
            &self.weights,
        )
    }
}

/// The running experiment, swapped atomically by the poll.
#[derive(Debug, Default)]
pub struct ExperimentSlot {
    current: ArcSwapOption<ActiveExperiment>,
}

impl ExperimentSlot {
    pub fn get(&self) -> Option<Arc<ActiveExperiment>> {
        self.current.load_full()
    }

    pub fn id(&self) -> Option<i64> {
        self.current.load().as_ref().map(|e| e.record.id)
    }

    pub fn set(&self, experiment: Option<ActiveExperiment>) {
        self.current.store(experiment.map(Arc::new));
    }
}

/// What a response served from an experiment's arm says about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExperimentTag {
    pub id: i64,
    pub arm: String,
    pub model_version: i64,
}

/// The model serving `member_id`: their arm's while an experiment runs, else the live one.
pub(crate) fn serving_for(
    state: &AppState,
    member_id: &str,
    live: Arc<Serving>,
) -> (Arc<Serving>, Option<ExperimentTag>) {
    let Some(active) = state.experiments().get() else {
        return (live, None);
    };
    let index = active.arm_of(member_id);
    let (Some(serving), Some(arm)) = (active.arms.get(index), active.record.arms.get(index)) else {
        return (live, None);
    };
    let tag = ExperimentTag {
        id: active.record.id,
        arm: arm.name.clone(),
        model_version: serving.version,
    };
    (Arc::clone(serving), Some(tag))
}

/// Records the assignment a response of `member_id` was served with (once per member and
/// server; the store keeps the first). Call once the member is known to exist. A failure
/// is logged, not answered: the response itself is fine.
pub(crate) async fn record_assignment(
    state: &AppState,
    member_id: &str,
    tag: Option<&ExperimentTag>,
) {
    let Some(tag) = tag else { return };
    let Some(active) = state.experiments().get().filter(|a| a.record.id == tag.id) else {
        return;
    };
    let new = active
        .recorded
        .lock()
        .map(|mut recorded| recorded.insert(member_id.to_owned()))
        .unwrap_or(false);
    if !new {
        return;
    }
    let (id, member, arm) = (tag.id, member_id.to_owned(), tag.arm.clone());
    let written = on_writer(state, move |store| {
        store.record_assignments(id, &[(member, arm)], now())
    })
    .await;
    if let Err(error) = written {
        tracing::warn!(experiment = id, error = %error.message, "assignment not recorded");
        if let Ok(mut recorded) = active.recorded.lock() {
            recorded.remove(member_id);
        }
    }
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    )
}

/// The routes of this module (operator permission, in `routes::ROUTES`).
pub(crate) fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/experiments", get(list).post(create))
        .route("/v1/experiments/{id}", get(show))
        .route("/v1/experiments/{id}/stop", post(stop))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArm {
    /// Unique within the experiment.
    pub name: String,
    pub model_version: i64,
    /// Relative share of members, > 0.
    pub weight: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExperiment {
    pub name: String,
    /// Two or more arms.
    pub arms: Vec<NewArm>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArmBody {
    pub name: String,
    pub model_version: i64,
    pub weight: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentBody {
    pub id: i64,
    pub name: String,
    pub arms: Vec<ArmBody>,
    /// `running` or `stopped`.
    pub status: String,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub stopped_at: Option<Timestamp>,
    pub created_by: String,
}

impl From<&ExperimentRecord> for ExperimentBody {
    fn from(r: &ExperimentRecord) -> Self {
        ExperimentBody {
            id: r.id,
            name: r.name.clone(),
            arms: r
                .arms
                .iter()
                .map(|a| ArmBody {
                    name: a.name.clone(),
                    model_version: a.model_version,
                    weight: a.weight,
                })
                .collect(),
            status: r.status.as_str().to_owned(),
            created_at: r.created_at,
            stopped_at: r.stopped_at,
            created_by: r.created_by.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentResponse {
    pub request_id: String,
    pub experiment: ExperimentBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentsResponse {
    pub request_id: String,
    /// Newest first.
    pub experiments: Vec<ExperimentBody>,
}

/// A 95% interval.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntervalBody {
    pub low: f64,
    pub high: f64,
}

impl From<Interval> for IntervalBody {
    fn from(i: Interval) -> Self {
        IntervalBody {
            low: i.low,
            high: i.high,
        }
    }
}

/// One arm's figures (definitions in docs/automation.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct ArmResult {
    pub arm: String,
    pub model_version: i64,
    pub weight: u32,
    pub members: u64,
    pub members_with_impressions: u64,
    pub members_taking: u64,
    pub impressions: u64,
    /// Impressions cited by a play of the same member and title.
    pub taken: u64,
    /// `taken / impressions`, with its Wilson interval.
    pub take_rate: Option<f64>,
    pub take_rate_ci: Option<IntervalBody>,
    /// This arm's take rate minus the first arm's (Newcombe interval); absent for the
    /// first arm.
    pub take_rate_difference_ci: Option<IntervalBody>,
    /// Mean viewing hours per assigned member since assignment, with its t interval.
    pub hours_per_member: Option<f64>,
    pub hours_per_member_ci: Option<IntervalBody>,
    /// This arm's mean hours minus the first arm's (Welch interval); absent for the first.
    pub hours_difference_ci: Option<IntervalBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentResultsResponse {
    pub request_id: String,
    pub experiment: ExperimentBody,
    pub arms: Vec<ArmResult>,
}

/// The per-arm statistics of raw figures (the first arm is the baseline).
pub fn arm_results(arms: &[ExperimentArm], figures: &[ArmFigures]) -> Vec<ArmResult> {
    let sample = |f: &ArmFigures| Sample::from_sums(f.members, f.hours_sum, f.hours_sum_squares);
    let base = figures.first();
    arms.iter()
        .zip(figures)
        .enumerate()
        .map(|(index, (arm, f))| {
            let own = sample(f);
            let versus = base.filter(|_| index > 0);
            ArmResult {
                arm: arm.name.clone(),
                model_version: arm.model_version,
                weight: arm.weight,
                members: f.members,
                members_with_impressions: f.members_with_impressions,
                members_taking: f.members_taking,
                impressions: f.impressions,
                taken: f.taken,
                take_rate: (f.impressions > 0).then(|| f.taken as f64 / f.impressions as f64),
                take_rate_ci: wilson(f.taken, f.impressions).map(Into::into),
                take_rate_difference_ci: versus
                    .and_then(|b| newcombe(f.taken, f.impressions, b.taken, b.impressions))
                    .map(Into::into),
                hours_per_member: own.map(|s| s.mean),
                hours_per_member_ci: own.as_ref().and_then(mean_interval).map(Into::into),
                hours_difference_ci: versus
                    .and_then(|b| welch(own.as_ref()?, sample(b).as_ref()?))
                    .map(Into::into),
            }
        })
        .collect()
}

fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("experiment id {text:?} is not a number"),
        )
    })
}

fn unknown(id: i64) -> ApiError {
    ApiError::not_found("unknown_experiment", format!("there is no experiment {id}"))
}

/// Splits an experiment error into a refusal (answered) and a store failure.
fn refusal(error: ExperimentError) -> Result<ApiError, StoreError> {
    match error {
        ExperimentError::Store(error) => Err(error),
        ExperimentError::AlreadyRunning { .. } | ExperimentError::AlreadyStopped { .. } => {
            Ok(ApiError::new(
                StatusCode::CONFLICT,
                "experiment_conflict",
                error.to_string(),
            ))
        }
        ExperimentError::NoSuchExperiment { id } => Ok(unknown(id)),
    }
}

/// Reloads the experiment slot now rather than at the next poll.
async fn reload(state: &AppState) {
    if let Err(error) = state.poll().await {
        tracing::warn!(%error, "reloading after an experiment change failed");
    }
}

/// Start an experiment
///
/// Splits members between the arms' model versions by a keyed hash of the member id. Every
/// version must exist and not be rejected; weights > 0; two or more arms with distinct
/// names. One experiment runs at a time (409 `experiment_conflict` otherwise).
#[utoipa::path(
    post,
    path = "/v1/experiments",
    tag = "operations",
    request_body = CreateExperiment,
    responses(
        (status = 201, body = ExperimentResponse),
        (status = 400, description = "Invalid body (`invalid_body`, `invalid_experiment`)", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "An experiment is running (`experiment_conflict`)", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ExperimentResponse>), ApiError> {
    let bytes = read_body(&headers, body, state.config().max_body_bytes).await?;
    let request: CreateExperiment = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("the body: {e}")))?;
    let invalid = |message: String| ApiError::bad_request("invalid_experiment", message);
    if request.name.trim().is_empty() {
        return Err(invalid("name: must not be empty".into()));
    }
    if request.arms.len() < 2 {
        return Err(invalid(format!(
            "arms: an experiment needs at least 2 arms, got {}",
            request.arms.len()
        )));
    }
    let mut names = HashSet::new();
    for arm in &request.arms {
        if arm.name.trim().is_empty() {
            return Err(invalid("arms: an arm's name must not be empty".into()));
        }
        if !names.insert(arm.name.clone()) {
            return Err(invalid(format!(
                "arms: the name {:?} is used twice",
                arm.name
            )));
        }
        if arm.weight == 0 {
            return Err(invalid(format!(
                "arms: arm {:?} has weight 0; weights must be > 0",
                arm.name
            )));
        }
    }
    let versions: Vec<i64> = request.arms.iter().map(|a| a.model_version).collect();
    let records = state
        .read(move |store| {
            versions
                .iter()
                .map(|&v| Ok((v, store.model_record(v)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await?;
    for (version, record) in records {
        match record {
            None => {
                return Err(invalid(format!(
                    "arms: there is no model version {version}"
                )));
            }
            Some(r) if r.status == ModelStatus::Rejected => {
                return Err(invalid(format!(
                    "arms: model version {version} was rejected ({}); promote-worthy \
                     versions only",
                    r.reason.unwrap_or_default()
                )));
            }
            Some(_) => {}
        }
    }
    let salt: [u8; 32] = rand::random();
    let experiment = NewExperiment {
        name: request.name.trim().to_owned(),
        arms: request
            .arms
            .into_iter()
            .map(|a| ExperimentArm {
                name: a.name,
                model_version: a.model_version,
                weight: a.weight,
            })
            .collect(),
        salt: salt.iter().map(|b| format!("{b:02x}")).collect(),
        created_at: now(),
        created_by: caller.actor(),
    };
    let outcome = on_writer(&state, move |store| {
        match store.create_experiment(&experiment) {
            Ok(id) => Ok(Ok(store.experiment(id)?)),
            Err(error) => refusal(error).map(Err),
        }
    })
    .await?;
    let record = outcome?.ok_or_else(|| ApiError::internal("a new experiment vanished"))?;
    reload(&state).await;
    Ok((
        StatusCode::CREATED,
        Json(ExperimentResponse {
            request_id: request_id::current(),
            experiment: ExperimentBody::from(&record),
        }),
    ))
}

/// Experiments
///
/// Every experiment, newest first.
#[utoipa::path(
    get,
    path = "/v1/experiments",
    tag = "operations",
    responses(
        (status = 200, body = ExperimentsResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<ExperimentsResponse>, ApiError> {
    let records = state.read(|store| store.experiments()).await?;
    Ok(Json(ExperimentsResponse {
        request_id: request_id::current(),
        experiments: records.iter().map(ExperimentBody::from).collect(),
    }))
}

/// An experiment's results
///
/// Per arm: members assigned, impressions and taken impressions since assignment (until
/// the stop), the take rate with its Wilson interval, mean viewing hours per member with
/// its t interval, and against the first arm the Newcombe interval of the take-rate
/// difference and the Welch interval of the hours difference (all 95%).
#[utoipa::path(
    get,
    path = "/v1/experiments/{id}",
    tag = "operations",
    params(("id" = i64, Path, description = "Experiment id")),
    responses(
        (status = 200, body = ExperimentResultsResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such experiment (`unknown_experiment`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ExperimentResultsResponse>, ApiError> {
    let id = parse_id(&id)?;
    let found = state
        .read(move |store| {
            let Some(record) = store.experiment(id)? else {
                return Ok(None);
            };
            let figures = store.experiment_figures(id)?.unwrap_or_default();
            Ok(Some((record, figures)))
        })
        .await?;
    let (record, figures) = found.ok_or_else(|| unknown(id))?;
    Ok(Json(ExperimentResultsResponse {
        request_id: request_id::current(),
        arms: arm_results(&record.arms, &figures),
        experiment: ExperimentBody::from(&record),
    }))
}

/// Stop an experiment
///
/// Every member is served the live model again; the figures stop counting events from now.
#[utoipa::path(
    post,
    path = "/v1/experiments/{id}/stop",
    tag = "operations",
    params(("id" = i64, Path, description = "Experiment id")),
    responses(
        (status = 200, body = ExperimentResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such experiment (`unknown_experiment`)", body = ErrorBody),
        (status = 409, description = "Already stopped (`experiment_conflict`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ExperimentResponse>, ApiError> {
    let id = parse_id(&id)?;
    let outcome = on_writer(&state, move |store| {
        match store.stop_experiment(id, now()) {
            Ok(()) => Ok(Ok(store.experiment(id)?)),
            Err(error) => refusal(error).map(Err),
        }
    })
    .await?;
    let record = outcome?.ok_or_else(|| unknown(id))?;
    reload(&state).await;
    Ok(Json(ExperimentResponse {
        request_id: request_id::current(),
        experiment: ExperimentBody::from(&record),
    }))
}
