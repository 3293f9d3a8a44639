//! showrunner's HTTP service, as a library: [`app`] builds the axum `Router` over an
//! [`AppState`], so tests drive it in-process and `showrunner serve` binds it to a port
//! ([`serve`]).
//!
//! - `POST /v1/events` (ingest scope): [`ingest`];
//! - `GET /v1/members/{id}/recommendations`, `/v1/members/{id}/home`,
//!   `/v1/titles/{id}/similar`, `/v1/trending` (read scope): [`recs`];
//! - `GET /v1/jobs`, `GET /v1/models` (operator permission): [`automation`], which also runs
//!   the job scheduler beside the service; `POST /v1/models/{version}/shadow`,
//!   `GET`/`DELETE /v1/models/shadow` (operator permission): [`shadow`];
//! - `PUT`/`PATCH`/`GET`/`DELETE /v1/titles/{id}` and `/v1/members/{id}` (deleting a
//!   member erases them), `POST /v1/titles:bulk`, `/v1/members:bulk` (admin scope):
//!   [`catalog`];
//! - `GET /v1/analytics/report`, `/v1/analytics/titles/{id}`, `/v1/analytics/trending`,
//!   `/v1/analytics/supply`, `/v1/metrics/take-rate` (analytics scope): [`analytics`];
//! - `GET /metrics` (operator permission), `GET /openapi.json`, `GET /docs` ([`docs`]),
//!   `GET /healthz`, `GET /readyz` (open);
//! - `POST /v1/auth/login`, `/v1/auth/logout`, `GET /v1/auth/me`, `/v1/accounts`,
//!   `PATCH /v1/accounts/{id}`, `GET /v1/audit`: [`accounts`], [`audit`].
//! - `GET /v1/security/findings`: [`findings`], filled by the threat detection pass
//!   ([`threats`]) that `serve` runs beside the service.
//!
//! What each route needs is one table, [`routes::ROUTES`], enforced by [`auth::enforce`];
//! [`hardening`] adds the security headers and CORS, [`throttle`] the rate limits.
//!
//! The state holds one writer thread owning the store's write connection (ingest), a few
//! read-only connections for per-request reads, the key ring, the served model
//! ([`serving::ModelSlot`]) and the metrics. [`AppState::poll`] reloads keys and swaps in
//! a newer published model; [`serve`] runs it every `poll_seconds`.
//!
//! The crate holds no business logic: cleaning is `showrunner-ingest`'s, storage
//! `showrunner-store`'s, ranking and rows `showrunner-recommend`'s.

pub mod access;
pub mod accounts;
pub mod analytics;
pub mod audit;
pub mod auth;
pub mod automation;
pub mod bus;
pub mod catalog;
pub mod config;
mod directory;
pub mod docs;
pub mod error;
pub mod experiments;
pub mod findings;
pub mod hardening;
pub mod ingest;
pub mod metrics;
pub mod monitor;
pub mod openapi;
pub mod password;
pub mod recs;
pub mod request_id;
pub mod routes;
pub mod security_config;
pub mod serving;
pub mod shadow;
mod snapshots;
pub mod threats;
pub mod throttle;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use showrunner_store::{Backend, StoreError};
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use utoipa::ToSchema;

pub use audit::audit;
pub use auth::{Caller, Principal, Role, Scope, generate_key, hash_key};
pub use config::{Config, ConfigError};
pub use error::ApiError;

use crate::auth::KeyRing;
use crate::metrics::Metrics;
use crate::serving::{ModelSlot, Serving, ServingInputs};

struct Inner {
    config: Config,
    /// This process among the replicas sharing the store (heartbeats, rate-limit shares).
    replica_id: String,
    keys: Arc<KeyRing>,
    /// Accounts, sessions, rate limits and the audit log's writer.
    access: Arc<access::AccessState>,
    models: ModelSlot,
    /// The running experiment's arms, if any.
    experiments: experiments::ExperimentSlot,
    /// The shadowed model, if any, and its worker's queue.
    shadow: shadow::ShadowSlot,
    metrics: Arc<Metrics>,
    writer: Mutex<Option<ingest::WriterSender>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Read-only connections for per-request reads, used round-robin.
    readers: Arc<Vec<Mutex<Box<dyn Backend>>>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// The event bus `POST /v1/events` publishes to (`[bus] publish = true`).
    bus: std::sync::OnceLock<bus::Bus>,
    /// The monitor, unless `[monitor] enabled = false`.
    monitor: Option<monitor::MonitorHandle>,
    /// The threat detection pass, unless `[threats] enabled = false`.
    threats: Option<threats::ThreatsHandle>,
    /// Whole-range viewing facts the analytics routes answer from while fresh.
    snapshots: Arc<snapshots::FactsSnapshots>,
    /// The member ids the writer last read from the store.
    members: Arc<directory::MemberDirectory>,
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field(
                "db",
                &showrunner_store::redact_url(&self.inner.config.db.to_string_lossy()),
            )
            .finish()
    }
}

/// Starting the service failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] serving::LoadError),
    #[error("{0}")]
    Background(String),
    #[error(transparent)]
    Monitor(#[from] monitor::MonitorError),
}

impl AppState {
    /// Opens the store named by the configuration (creating and migrating it), starts the
    /// writer thread and loads the keys. Call [`AppState::poll`] to load the model.
    ///
    /// May be called from async code: the opening runs on a thread of its own (a
    /// PostgreSQL store's synchronous client cannot block on a runtime's thread).
    pub fn open(config: Config) -> Result<AppState, StartError> {
        off_runtime(|| AppState::open_blocking(config))
    }

    fn open_blocking(config: Config) -> Result<AppState, StartError> {
        let metrics = Arc::new(Metrics::default());
        let members = Arc::new(directory::MemberDirectory::default());
        let (writer, writer_thread) = ingest::start_writer(
            config.db.clone(),
            Arc::clone(&metrics),
            Arc::clone(&members),
        )?;
        let readers = (0..READERS)
            .map(|_| showrunner_store::open_path_read_only(&config.db).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let access = Arc::new(access::AccessState::open(&config.db, &config.security)?);
        let keys = Arc::new(KeyRing::default());
        if let Some(reader) = readers.first().and_then(|r| r.lock().ok()) {
            keys.replace(&reader.api_keys()?);
        }
        let shadow = shadow::ShadowSlot::start(Arc::clone(&metrics))
            .map_err(|e| StartError::Background(format!("starting the shadow worker: {e}")))?;
        let monitor = if config.monitor.enabled {
            Some(monitor::MonitorHandle::open(
                &config.db,
                config.monitor.clone(),
            )?)
        } else {
            config
                .monitor
                .check()
                .map_err(monitor::MonitorError::from)?;
            None
        };
        let threats = if config.threats.enabled {
            Some(threats::ThreatsHandle::open(
                &config.db,
                config.threats.clone(),
                Arc::clone(&metrics),
                monitor.clone(),
            )?)
        } else {
            None
        };
        let snapshots = Arc::new(snapshots::FactsSnapshots::new(
            std::time::Duration::from_secs(config.analytics.snapshot_seconds),
            config.analytics.snapshots,
        ));
        Ok(AppState {
            inner: Arc::new(Inner {
                replica_id: format!(
                    "{}-{}-{:08x}",
                    std::env::var("HOSTNAME").unwrap_or_else(|_| "serve".into()),
                    std::process::id(),
                    rand::random::<u32>()
                ),
                config,
                keys,
                access,
                models: ModelSlot::default(),
                experiments: experiments::ExperimentSlot::default(),
                shadow,
                metrics,
                writer: Mutex::new(Some(writer)),
                writer_thread: Mutex::new(Some(writer_thread)),
                readers: Arc::new(readers),
                next_reader: std::sync::atomic::AtomicUsize::new(0),
                bus: std::sync::OnceLock::new(),
                monitor,
                threats,
                snapshots,
                members,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn models(&self) -> &ModelSlot {
        &self.inner.models
    }

    pub fn experiments(&self) -> &experiments::ExperimentSlot {
        &self.inner.experiments
    }

    pub fn shadow(&self) -> &shadow::ShadowSlot {
        &self.inner.shadow
    }

    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// Makes `POST /v1/events` publish to `bus` instead of writing (set once, at start).
    pub fn publish_to(&self, bus: bus::Bus) {
        let _ = self.inner.bus.set(bus);
    }

    pub(crate) fn bus(&self) -> Option<&bus::Bus> {
        self.inner.bus.get()
    }

    pub fn access(&self) -> &access::AccessState {
        &self.inner.access
    }

    pub(crate) fn access_arc(&self) -> Arc<access::AccessState> {
        Arc::clone(&self.inner.access)
    }

    /// The monitor, unless it is switched off.
    pub fn monitor(&self) -> Option<&monitor::MonitorHandle> {
        self.inner.monitor.as_ref()
    }

    /// The threat detection pass, unless it is switched off.
    pub fn threats(&self) -> Option<&threats::ThreatsHandle> {
        self.inner.threats.as_ref()
    }

    pub(crate) fn snapshots(&self) -> &Arc<snapshots::FactsSnapshots> {
        &self.inner.snapshots
    }

    /// The member ids the writer last read from the store (see [`directory`]).
    pub(crate) fn members(&self) -> &directory::MemberDirectory {
        &self.inner.members
    }

    pub(crate) fn writer(&self) -> Option<ingest::WriterSender> {
        self.inner.writer.lock().ok().and_then(|w| w.clone())
    }

    /// Runs a read on the read-only connection, off the async runtime.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Backend) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let readers = Arc::clone(&self.inner.readers);
        let first = self
            .inner
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            // The first free connection from a rotating start, else wait for that one.
            let count = readers.len();
            let free = (0..count).find_map(|k| readers[(first + k) % count].try_lock().ok());
            let store = match free {
                Some(store) => store,
                None => readers[first % count]
                    .lock()
                    .map_err(|_| ApiError::internal("a store reader is poisoned"))?,
            };
            work(&**store).map_err(|e| {
                tracing::error!(error = %e, "store read failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store cannot be read now",
                )
            })
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Reloads the API keys and, when the live model changed (published, promoted or rolled
    /// back), loads it and swaps it in
    /// (requests in flight finish on the model they started with). Returns the version
    /// served afterwards.
    pub async fn poll(&self) -> Result<Option<i64>, StartError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || state.poll_blocking())
            .await
            .map_err(|e| StartError::Background(e.to_string()))?
    }

    fn poll_blocking(&self) -> Result<Option<i64>, StartError> {
        // Alive for three polls: a replica missing that many has stopped or lost the store.
        let live_ms = 3_000 * i64::try_from(self.inner.config.poll_seconds.max(1)).unwrap_or(60);
        match self
            .inner
            .access
            .heartbeat(&self.inner.replica_id, access::now_millis(), live_ms)
        {
            Ok(replicas) => self.inner.metrics.set_replicas(replicas),
            Err(error) => tracing::warn!(%error, "the replica heartbeat failed"),
        }
        let served = self.poll_live()?;
        self.poll_experiment()?;
        self.poll_shadow()?;
        Ok(served)
    }

    /// Loads the running experiment's arms when it changed (started, stopped, another one).
    fn poll_experiment(&self) -> Result<(), StartError> {
        let inner = &self.inner;
        let running = {
            let store = inner.readers[0]
                .lock()
                .map_err(|_| StartError::Background("the store reader is poisoned".into()))?;
            store.running_experiment()?
        };
        let Some(record) = running else {
            inner.experiments.set(None);
            return Ok(());
        };
        if inner.experiments.id() == Some(record.id) {
            return Ok(());
        }
        let mut arms = Vec::with_capacity(record.arms.len());
        for arm in &record.arms {
            let Some(serving) = self.serving_of(arm.model_version)? else {
                tracing::error!(
                    experiment = record.id,
                    version = arm.model_version,
                    "an experiment arm's model is not in the store; not running it"
                );
                inner.experiments.set(None);
                return Ok(());
            };
            arms.push(serving);
        }
        tracing::info!(experiment = record.id, "serving experiment");
        inner
            .experiments
            .set(Some(experiments::ActiveExperiment::new(record, arms)));
        Ok(())
    }

    /// Loads the shadowed model when the store's choice changed (started, stopped, started
    /// again: a new start restarts the figures).
    fn poll_shadow(&self) -> Result<(), StartError> {
        let inner = &self.inner;
        let setting = {
            let store = inner.readers[0]
                .lock()
                .map_err(|_| StartError::Background("the store reader is poisoned".into()))?;
            store.shadow()?
        };
        let Some(setting) = setting else {
            inner.shadow.set(None);
            return Ok(());
        };
        if inner
            .shadow
            .get()
            .is_some_and(|active| active.setting == setting)
        {
            return Ok(());
        }
        let Some(serving) = self.serving_of(setting.version)? else {
            tracing::error!(
                version = setting.version,
                "the shadowed model is not in the store; not shadowing it"
            );
            inner.shadow.set(None);
            return Ok(());
        };
        tracing::info!(version = setting.version, "shadowing model");
        inner
            .shadow
            .set(Some(shadow::ActiveShadow::new(setting, serving)));
        Ok(())
    }

    /// The loaded model of `version`: the one already in memory when the live model, a
    /// running experiment's arm or the shadowed model is that version, else loaded from the
    /// store (`None` when the store has no such version). Experiments and shadowing share
    /// it, so one version is loaded once.
    fn serving_of(&self, version: i64) -> Result<Option<Arc<Serving>>, StartError> {
        let inner = &self.inner;
        let loaded = inner
            .models
            .get()
            .into_iter()
            .chain(
                inner
                    .experiments
                    .get()
                    .into_iter()
                    .flat_map(|e| e.arms.clone()),
            )
            .chain(inner.shadow.get().map(|s| Arc::clone(&s.serving)))
            .find(|serving| serving.version == version);
        if let Some(serving) = loaded {
            return Ok(Some(serving));
        }
        Ok(self.load_version(version)?.map(Arc::new))
    }

    /// Loads a published model with the catalog and recent viewing (`None` when the store
    /// has no such version).
    fn load_version(&self, version: i64) -> Result<Option<Serving>, StartError> {
        let inner = &self.inner;
        let (published, inputs) = {
            // Its own connection: these reads take a while on a big store, and requests keep
            // using the shared reader meanwhile.
            let store = showrunner_store::open_path_read_only(&inner.config.db)?;
            let Some(published) = store.published_model(version)? else {
                return Ok(None);
            };
            let now = store
                .latest_view_at()?
                .map_or_else(unix_now, |t| t.seconds());
            let window = showrunner_recommend::rows::RowConfig::default().trending_window_s;
            let inputs = ServingInputs {
                titles: store.titles()?,
                daily_views: store.daily_views_since(showrunner_model::Timestamp::from_seconds(
                    now - window - 86_400,
                ))?,
                segments: store.segment_views()?,
                now,
            };
            (published, inputs)
        };
        Ok(Some(Serving::load(
            &published,
            inputs,
            inner.config.rows_threads,
        )?))
    }

    fn poll_live(&self) -> Result<Option<i64>, StartError> {
        let inner = &self.inner;
        let (latest, keys) = {
            let store = inner.readers[0]
                .lock()
                .map_err(|_| StartError::Background("the store reader is poisoned".into()))?;
            (store.latest_model()?, store.api_keys()?)
        };
        inner.keys.replace(&keys);
        let current = inner.models.version();
        let Some(latest) = latest else {
            return Ok(current);
        };
        // The live model, which a promotion or a rollback changes in either direction.
        if current == Some(latest.version) {
            return Ok(current);
        }
        let Some(serving) = self.load_version(latest.version)? else {
            return Ok(current);
        };
        inner
            .metrics
            .set_model(serving.version, serving.published_at.millis());
        tracing::info!(version = serving.version, "serving model");
        let version = serving.version;
        inner.models.set(serving);
        Ok(Some(version))
    }

    /// Stops accepting ingest, lets the writer finish every batch it was handed, and waits
    /// for it. Call after the server has stopped taking requests.
    pub fn shutdown(&self) {
        if let Err(error) = self.inner.access.leave(&self.inner.replica_id) {
            tracing::warn!(%error, "could not remove this replica from the store's list");
        }
        if let Ok(mut writer) = self.inner.writer.lock() {
            writer.take();
        }
        let handle = self
            .inner
            .writer_thread
            .lock()
            .ok()
            .and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// Read-only connections kept for requests (SQLite readers do not block each other in WAL
/// mode; more than the cores gains nothing).
const READERS: usize = 4;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The body of `/healthz` and `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    pub status: &'static str,
    /// The served model's version, if any.
    pub model_version: Option<i64>,
    pub request_id: String,
}

/// Liveness
///
/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = HealthBody)))]
pub async fn healthz(State(state): State<AppState>) -> axum::Json<HealthBody> {
    axum::Json(HealthBody {
        status: "ok",
        model_version: state.models().version(),
        request_id: request_id::current(),
    })
}

/// Readiness
///
/// Ready to serve: a model is loaded and the store can be read.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = HealthBody),
              (status = 503, description = "Not ready (`not_ready`)", body = error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<HealthBody>, ApiError> {
    let version = state.models().version();
    state.read(|store| store.latest_model()).await?;
    if version.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "no model is loaded yet",
        ));
    }
    Ok(axum::Json(HealthBody {
        status: "ready",
        model_version: version,
        request_id: request_id::current(),
    }))
}

/// Prometheus metrics
///
/// Requests and latency per route, ingest rows by outcome, model version and age, in
/// Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
              (status = 401, body = error::ErrorBody), (status = 403, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn metrics_handler(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().encode(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such endpoint")
}

/// The service's router over `state`. What each route needs is in the route table
/// ([`routes::ROUTES`]), enforced by one middleware ([`auth::enforce`]).
pub fn app(state: AppState) -> Router {
    let ingest = Router::new().route("/v1/events", post(ingest::post_events));
    let read = Router::new()
        .route(
            "/v1/members/{id}/recommendations",
            get(recs::recommendations),
        )
        .route("/v1/members/{id}/home", get(recs::home))
        .route("/v1/titles/{id}/similar", get(recs::similar))
        .route("/v1/trending", get(recs::trending));
    let operations = Router::new().route("/metrics", get(metrics_handler));
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi::openapi_json));
    let timeout = Duration::from_secs(state.config().request_timeout_seconds.max(1));
    let cors = hardening::cors(&state.config().security.cors_allowed_origins);
    Router::new()
        .merge(ingest)
        .merge(read)
        .merge(operations)
        .merge(automation::routes(&state))
        .merge(experiments::routes(&state))
        .merge(shadow::routes())
        .merge(open)
        .merge(catalog::routes(&state))
        .merge(analytics::routes(&state))
        .merge(docs::routes())
        .merge(accounts::routes())
        .merge(findings::routes())
        .merge(monitor::api::routes(&state))
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), auth::enforce))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(from_fn_with_state(state.clone(), hardening::headers))
        .layer(tower::util::option_layer(cors))
        .layer(from_fn_with_state(state.clone(), request_id::middleware))
        .with_state(state)
}

/// Accepts HTTP/1.1 connections until `shutdown` resolves, then closes the listener, lets
/// every connection finish the request it is on (idle keep-alive connections are closed),
/// and returns once all are done. Each connection must send a request's headers within
/// `header_read_timeout_seconds` (slow-loris clients are cut off).
async fn accept_loop(
    listener: TcpListener,
    state: &AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(state.clone());
    let header_timeout = Duration::from_secs(state.config().header_read_timeout_seconds.max(1));
    let (close, closing) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut closing = closing.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    // The peer's address, for the client IP (throttling, audit).
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    tower::ServiceExt::oneshot(router.clone(), request)
                },
            );
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection =
                builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                _ = closing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        // Forget connections that have ended.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = close.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Runs `work` (which opens stores and reads them synchronously) on a scoped thread of its
/// own that still sees the caller's tokio runtime, so that async code may call it: a
/// PostgreSQL store's synchronous client cannot block on a runtime's thread.
pub(crate) fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    let runtime = tokio::runtime::Handle::try_current().ok();
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let _context = runtime.as_ref().map(|r| r.enter());
            work()
        });
        match worker.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// On a shared store (PostgreSQL), a thread listening for model changes that wakes the
/// poller as soon as one is committed anywhere; `None` on a store without notifications.
/// A lost connection is retried every few seconds, with a poll after each reconnection (a
/// change made meanwhile was not heard).
async fn start_model_watch(
    state: &AppState,
    changed: Arc<tokio::sync::Notify>,
) -> Option<(
    Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
)> {
    let opened = state.read(|store| store.watch_models()).await;
    let watch = match opened {
        Ok(Some(watch)) => watch,
        Ok(None) => return None,
        Err(error) => {
            tracing::warn!(
                code = error.code,
                "cannot listen for model changes; polling only"
            );
            return None;
        }
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let db = state.config().db.clone();
    let thread = std::thread::Builder::new()
        .name("showrunner-model-watch".into())
        .spawn(move || {
            let mut watch = Some(watch);
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                let Some(current) = watch.as_mut() else {
                    std::thread::sleep(Duration::from_secs(2));
                    watch = showrunner_store::open_path_read_only(&db)
                        .and_then(|store| store.watch_models())
                        .inspect_err(
                            |error| tracing::warn!(%error, "listening for model changes failed"),
                        )
                        .ok()
                        .flatten();
                    if watch.is_some() {
                        changed.notify_one();
                    }
                    continue;
                };
                match current.wait(Duration::from_secs(1)) {
                    Ok(true) => {
                        tracing::info!("the models served changed; reloading");
                        changed.notify_one();
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, "listening for model changes failed");
                        watch = None;
                    }
                }
            }
        })
        .ok()?;
    Some((stop, thread))
}

/// Serves `state` on `listener` until `shutdown` resolves, polling the store for keys and
/// models every `poll_seconds`. On shutdown, requests in flight finish and every batch
/// handed to the writer is committed before this returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Err(error) = state.poll().await {
        tracing::error!(%error, "loading the published model failed");
    }
    // The configuration in force, as a digest: a change between starts shows in the log.
    let started = showrunner_store::AuditEntry {
        at: showrunner_model::Timestamp::from_millis(access::now_millis()),
        actor: "server".into(),
        action: "config_loaded".into(),
        target: state.config().listen.clone(),
        outcome: "ok".into(),
        ip: String::new(),
        detail: serde_json::json!({"sha256": audit::config_digest(state.config())}).to_string(),
    };
    if let Err(error) = audit::audit_entry(&state, started).await {
        tracing::error!(code = error.code, "writing the audit log failed");
    }
    let scheduler =
        automation::start_scheduler(&state).map_err(|e| std::io::Error::other(e.to_string()))?;
    // Polls every `poll_seconds`, and at once when a shared store says the models changed.
    let models_changed = Arc::new(tokio::sync::Notify::new());
    let watcher = start_model_watch(&state, Arc::clone(&models_changed)).await;
    let poller = {
        let state = state.clone();
        let every = Duration::from_secs(state.config().poll_seconds.max(1));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.tick().await;
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    () = models_changed.notified() => {}
                }
                if let Err(error) = state.poll().await {
                    tracing::error!(%error, "polling the store failed");
                }
            }
        })
    };
    if state.config().bus.publish {
        let bus = bus::Bus::connect(&state.config().bus)
            .await
            .map_err(std::io::Error::other)?;
        state.publish_to(bus);
    }
    let consumer = match (state.config().bus.consume, state.writer()) {
        (true, Some(writer)) => {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let config = state.config().bus.clone();
            let task = tokio::spawn(async move {
                let stopped = async {
                    let _ = stopped.await;
                };
                if let Err(error) = bus::consume(&config, writer, stopped, |_| {}).await {
                    tracing::error!(%error, "consuming the event bus failed");
                }
            });
            Some((stop, task))
        }
        _ => None,
    };
    let monitor = state
        .monitor()
        .cloned()
        .map(|handle| tokio::spawn(monitor::run(handle, Arc::clone(&state.inner.metrics))));
    let threat_pass = state
        .threats()
        .cloned()
        .map(|handle| tokio::spawn(threats::run(handle)));
    let result = accept_loop(listener, &state, shutdown).await;
    poller.abort();
    if let Some((stop, thread)) = watcher {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    if let Some(monitor) = monitor {
        monitor.abort();
    }
    if let Some(threat_pass) = threat_pass {
        // A pass in progress finishes on its blocking thread; no new one starts.
        threat_pass.abort();
    }
    if let Some((stop, task)) = consumer {
        // The round in hand is written and acknowledged; what is not yet acknowledged is
        // redelivered to another consumer.
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    // Stops the scheduler after the run in progress, off the async runtime.
    let _ = tokio::task::spawn_blocking(move || drop(scheduler)).await;
    let closing = state.clone();
    let _ = tokio::task::spawn_blocking(move || closing.shutdown()).await;
    result
}
