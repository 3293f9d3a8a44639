//! The automation endpoints and the scheduler's thread: `GET /v1/jobs` (the configured
//! schedules and the recorded runs) and `GET /v1/models` (the model registry), for keys
//! with the operator scope (or admin). The scheduler itself is `showrunner-jobs`'; this
//! module only starts it beside the service ([`start_scheduler`]) and reads what it
//! records.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use showrunner_jobs::{AlertSeverity, Clock, Scheduler, SystemClock};
use showrunner_monitor::alerts::{Alert, Notification, Severity, State as AlertState};
use showrunner_store::{JobRun, ModelRecord};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;

use crate::error::{ApiError, ErrorBody};
use crate::recs::query_pairs;
use crate::request_id;

/// Most runs one request lists.
const MAX_RUNS: u64 = 500;

/// The routes of this module (operator permission, in `routes::ROUTES`).
pub(crate) fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/jobs", get(jobs))
        .route("/v1/models", get(models))
}

/// The scheduler's thread; stops it when dropped.
#[derive(Debug)]
pub struct SchedulerHandle {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // A run in progress finishes first (jobs are not interrupted half-way).
            let _ = thread.join();
        }
    }
}

/// Lines of a failed run's log an alert carries (the last ones: where it failed).
const ALERT_LOG_LINES: usize = 5;

/// The notification a run that failed its last attempt sends through the monitoring
/// receivers: one firing alert `job_failed` with the job and severity as labels and the run
/// id, attempt and the end of its log as annotations. Its fingerprint is the job's, so a
/// receiver groups repeated failures of one job.
pub fn job_failure_notification(run: &JobRun, severity: Severity, now_ms: i64) -> Notification {
    let labels = BTreeMap::from([
        ("alertname".to_owned(), "job_failed".to_owned()),
        ("job".to_owned(), run.job.clone()),
        (
            "severity".to_owned(),
            match severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Critical => "critical",
            }
            .to_owned(),
        ),
    ]);
    let lines: Vec<&str> = run.log.lines().collect();
    let excerpt = lines[lines.len().saturating_sub(ALERT_LOG_LINES)..].join("\n");
    let annotations = BTreeMap::from([
        (
            "summary".to_owned(),
            format!(
                "job {} failed on attempt {} ({} run {})",
                run.job, run.attempt, run.trigger, run.id
            ),
        ),
        ("run_id".to_owned(), run.id.to_string()),
        ("attempt".to_owned(), run.attempt.to_string()),
        ("log".to_owned(), excerpt),
    ]);
    let group_labels = BTreeMap::from([
        ("alertname".to_owned(), "job_failed".to_owned()),
        ("job".to_owned(), run.job.clone()),
    ]);
    Notification {
        group_key: format!("alertname=job_failed,job={}", run.job),
        group_labels,
        alerts: vec![Alert {
            rule: "job_failed".to_owned(),
            fingerprint: format!("job_failed/{}", run.job),
            state: AlertState::Firing,
            severity,
            labels,
            annotations,
            active_since: run.started_at.millis(),
            fired_at: Some(now_ms),
            resolved_at: None,
            value: f64::from(run.attempt),
            score: 0.0,
        }],
    }
}

/// Makes the scheduler log a run that fails its last attempt as an error and, given a
/// monitor and the runtime to send on, alert it through the monitor's receivers
/// ([`job_failure_notification`]; delivery is spawned, so the scheduler's thread never waits
/// on a receiver).
pub fn report_failures(
    scheduler: &mut Scheduler,
    alerting: Option<(crate::monitor::MonitorHandle, tokio::runtime::Handle)>,
    severity: Severity,
) {
    scheduler.on_failure(move |run| {
        tracing::error!(
            job = %run.job,
            run = run.id,
            attempt = run.attempt,
            log = %run.log,
            "scheduled job failed after its last attempt"
        );
        if let Some((monitor, runtime)) = &alerting {
            let now_ms = monitor.now_ms();
            let notification = job_failure_notification(run, severity, now_ms);
            let monitor = monitor.clone();
            runtime.spawn(async move {
                if let Err(error) = monitor.dispatch(&[notification], now_ms).await {
                    tracing::error!(%error, "sending the job failure alert failed");
                }
            });
        }
    });
}

/// Starts the configured jobs on a thread of their own, unless `[jobs] enabled = false` or
/// no job is configured. A run that fails its last attempt is logged as an error and, when
/// the monitor is on, alerted through its receivers (with their retries and the
/// notification log). Call it on the Tokio runtime: deliveries are spawned on it.
pub fn start_scheduler(
    state: &AppState,
) -> Result<Option<SchedulerHandle>, showrunner_jobs::JobError> {
    let config = state.config();
    let mut scheduler = Scheduler::from_config(&config.db, Arc::new(SystemClock), &config.jobs)?;
    if !config.jobs.enabled || scheduler.job_names().is_empty() {
        return Ok(None);
    }
    let severity = match config.jobs.alert_severity {
        AlertSeverity::Info => Severity::Info,
        AlertSeverity::Warning => Severity::Warning,
        AlertSeverity::Critical => Severity::Critical,
    };
    let alerting = state
        .monitor()
        .cloned()
        .zip(tokio::runtime::Handle::try_current().ok());
    report_failures(&mut scheduler, alerting, severity);
    tracing::info!(jobs = ?scheduler.job_names(), "job scheduler started");
    let stop = Arc::new(AtomicBool::new(false));
    let thread = scheduler
        .spawn(Arc::clone(&stop), Duration::from_secs(30))
        .map_err(|source| showrunner_jobs::JobError::Io {
            path: config.db.clone(),
            source,
        })?;
    Ok(Some(SchedulerHandle {
        stop,
        thread: Some(thread),
    }))
}

/// A configured job's schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleBody {
    pub job: String,
    /// Cron, UTC.
    pub schedule: String,
    /// RFC 3339.
    #[schema(value_type = Option<String>)]
    pub next_run: Option<showrunner_model::Timestamp>,
}

/// One recorded run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunBody {
    pub id: i64,
    pub job: String,
    /// `schedule`, `retry` or `manual`.
    pub trigger: String,
    pub attempt: u32,
    #[schema(value_type = String)]
    pub started_at: showrunner_model::Timestamp,
    #[schema(value_type = Option<String>)]
    pub finished_at: Option<showrunner_model::Timestamp>,
    /// `running`, `succeeded`, `failed` or `skipped`.
    pub outcome: String,
    /// The last lines the run logged.
    pub log: String,
    /// What the run measured.
    #[schema(value_type = Object)]
    pub figures: serde_json::Value,
}

impl From<JobRun> for RunBody {
    fn from(run: JobRun) -> Self {
        RunBody {
            id: run.id,
            job: run.job,
            trigger: run.trigger,
            attempt: run.attempt,
            started_at: run.started_at,
            finished_at: run.finished_at,
            outcome: run.outcome.as_str().to_owned(),
            log: run.log,
            figures: run.figures,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobsResponse {
    pub request_id: String,
    /// Whether this server runs the scheduler.
    pub scheduler_enabled: bool,
    pub schedules: Vec<ScheduleBody>,
    /// Newest first.
    pub runs: Vec<RunBody>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query; parsed by hand for stable error codes
pub struct JobsParams {
    /// Only this job's runs.
    job: Option<String>,
    /// How many runs (1 to 500, default 50).
    limit: Option<u64>,
}

/// Scheduled jobs and their runs
///
/// The jobs configured in the server's `[jobs]` table with their next run, and the
/// recorded runs (of every scheduler and `showrunner jobs run` on this database), newest
/// first.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "operations",
    params(JobsParams),
    responses(
        (status = 200, body = JobsResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn jobs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<JobsResponse>, ApiError> {
    let pairs = query_pairs(query.as_deref(), &["job", "limit"])?;
    let job = pairs
        .iter()
        .find(|(k, _)| k == "job")
        .map(|(_, v)| v.clone());
    let limit = match pairs.iter().find(|(k, _)| k == "limit") {
        None => 50,
        Some((_, v)) => match v.parse::<u64>() {
            Ok(n) if (1..=MAX_RUNS).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!("limit must be a whole number from 1 to {MAX_RUNS}, not {v:?}"),
                ));
            }
        },
    };
    let config = &state.config().jobs;
    let schedules = showrunner_jobs::scheduler::configured_schedules(config, SystemClock.now())
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|s| ScheduleBody {
            job: s.job,
            schedule: s.schedule,
            next_run: s.next_run,
        })
        .collect();
    let runs = state
        .read(move |store| store.job_runs(job.as_deref(), limit))
        .await?;
    Ok(Json(JobsResponse {
        request_id: request_id::current(),
        scheduler_enabled: config.enabled,
        schedules,
        runs: runs.into_iter().map(RunBody::from).collect(),
    }))
}

/// One registered model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelBody {
    pub version: i64,
    #[schema(value_type = String)]
    pub published_at: showrunner_model::Timestamp,
    pub algorithm: String,
    #[schema(value_type = Object)]
    pub parameters: serde_json::Value,
    #[schema(value_type = Option<String>)]
    pub data_from: Option<showrunner_model::Timestamp>,
    #[schema(value_type = Option<String>)]
    pub data_to: Option<showrunner_model::Timestamp>,
    /// Validation figures and the quality gate's verdict.
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    pub published_by: String,
    /// `candidate`, `live`, `rejected` or `retired`.
    pub status: String,
    pub reason: Option<String>,
}

impl From<ModelRecord> for ModelBody {
    fn from(r: ModelRecord) -> Self {
        ModelBody {
            version: r.version,
            published_at: r.published_at,
            algorithm: r.algorithm,
            parameters: r.parameters,
            data_from: r.data_from,
            data_to: r.data_to,
            metrics: r.metrics,
            published_by: r.published_by,
            status: r.status.as_str().to_owned(),
            reason: r.reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    pub request_id: String,
    /// The live version in the store.
    pub live_version: Option<i64>,
    /// The version this server is serving (it follows the live one within a poll).
    pub served_version: Option<i64>,
    /// Newest first.
    pub models: Vec<ModelBody>,
}

/// The model registry
///
/// Every registered model with its status (`live`, `candidate`, `rejected`, `retired`),
/// algorithm, parameters, data window, validation figures and who published it.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "operations",
    responses(
        (status = 200, body = ModelsResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn models(State(state): State<AppState>) -> Result<Json<ModelsResponse>, ApiError> {
    let (live_version, records) = state
        .read(|store| Ok((store.live_version()?, store.model_records()?)))
        .await?;
    Ok(Json(ModelsResponse {
        request_id: request_id::current(),
        live_version,
        served_version: state.models().version(),
        models: records.into_iter().map(ModelBody::from).collect(),
    }))
}
