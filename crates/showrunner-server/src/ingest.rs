//! `POST /v1/events`: a JSON array or NDJSON body (gzip accepted) of events, cleaned by the
//! importer's `Cleaner` and written by one writer thread that owns the store's write
//! connection. A request is answered only after its batch is committed (durable), with
//! accepted / duplicate / rejected counts and the reason for every rejected row; rejected
//! rows also go to the quarantine, with `http:<request id>` as their source.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use showrunner_ingest::{
    Cleaner, CleaningRules, KnownEntities, KnownTitle, Prepared, prepare_json,
};
use showrunner_model::{Batch, Problem, ProblemKind, Quarantined, Record};
use showrunner_store::{Backend, StoreError};
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use crate::AppState;
use crate::directory::MemberDirectory;
use crate::error::ApiError;
use crate::request_id;

/// One rejected row of a request.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RejectedRow {
    /// 0-based position of the row in the request.
    pub index: usize,
    /// The stable reason code (`unknown_title`, `missing_field`, ...).
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub detail: String,
}

/// The answer to `POST /v1/events`: every count is durable when it is sent.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IngestResponse {
    pub request_id: String,
    /// Events new to the store.
    pub accepted: u64,
    /// Events the store already had (same id).
    pub duplicate: u64,
    /// Rows that failed cleaning (also stored in the quarantine).
    pub rejected: u64,
    pub rejections: Vec<RejectedRow>,
}

/// One request's rows on their way to the writer.
pub(crate) struct IngestJob {
    pub(crate) request_id: String,
    pub(crate) rows: Vec<Vec<u8>>,
    /// The rows after the stateless half of cleaning (parsing, validation, normalisation,
    /// ids), one per row, done by the request's handler so that the one writer thread only
    /// resolves references and writes; empty when the writer is to prepare them itself.
    pub(crate) prepared: Vec<Prepared>,
    pub(crate) reply: oneshot::Sender<Result<IngestResponse, String>>,
}

/// The stateless half of cleaning for every row, with "now" read afresh (the
/// future-timestamp check).
pub(crate) fn prepare_rows(rows: &[Vec<u8>]) -> Vec<Prepared> {
    let rules = CleaningRules::default();
    rows.iter().map(|row| prepare_json(&rules, row)).collect()
}

/// A change to the store made on the writer's connection (catalog and member management), so
/// that it is serialised with ingest and the writer's caches stay true. The task answers its
/// requester itself.
pub(crate) type StoreTask = Box<dyn FnOnce(&mut dyn Backend) + Send>;

/// Work for the writer thread.
pub(crate) enum WriterJob {
    Ingest(IngestJob),
    /// Run on the store; afterwards the cleaner re-reads the known titles and members.
    Task(StoreTask),
}

/// The handle to the writer thread.
pub(crate) type WriterSender = mpsc::Sender<WriterJob>;

fn known_entities(store: &dyn Backend) -> Result<KnownEntities, StoreError> {
    let mut known = KnownEntities::default();
    for title in store.known_titles()? {
        known.titles.insert(
            title.id,
            KnownTitle {
                kind: title.kind,
                duration_s: title.duration_s,
            },
        );
    }
    known.members.extend(store.known_members()?);
    Ok(known)
}

/// How often the writer may re-read the known titles and members when rows name ones it
/// does not know (they may have been imported since it started).
const KNOWN_REFRESH: Duration = Duration::from_secs(2);

/// Jobs committed together at most, and rows: a group shares one fsync.
const GROUP_JOBS: usize = 64;
const GROUP_ROWS: usize = 100_000;

/// The writer thread's state: the write connection and the cleaner.
struct Writer {
    store: Box<dyn Backend>,
    cleaner: Cleaner,
    known_at: Instant,
    /// Told the known members whenever the writer reads them.
    directory: Arc<MemberDirectory>,
}

/// One job cleaned: its batch and its rejected rows.
struct Cleaned {
    batch: Batch,
    rejections: Vec<RejectedRow>,
}

impl Writer {
    /// Cleans a job; when a row names a title or member the cleaner does not know, re-reads
    /// them from the store (at most every `KNOWN_REFRESH`) and cleans the job again.
    fn clean(&mut self, job: &mut IngestJob) -> Cleaned {
        let prepared = match std::mem::take(&mut job.prepared) {
            prepared if prepared.len() == job.rows.len() => prepared,
            _ => prepare_rows(&job.rows),
        };
        let (cleaned, names_unknown) = clean_job(&mut self.cleaner, job, prepared);
        if !names_unknown || self.known_at.elapsed() < KNOWN_REFRESH {
            return cleaned;
        }
        self.known_at = Instant::now();
        match known_entities(&*self.store) {
            Ok(known) => {
                self.directory.replace(known.members.clone());
                self.cleaner = Cleaner::new(CleaningRules::default(), known);
                clean_job(&mut self.cleaner, job, prepare_rows(&job.rows)).0
            }
            Err(error) => {
                tracing::warn!(%error, "re-reading known titles and members failed");
                cleaned
            }
        }
    }

    /// Runs a task on the store, then re-reads the titles and members the cleaner knows
    /// (the task may have added or removed some).
    fn run_task(&mut self, task: StoreTask) {
        task(&mut *self.store);
        self.known_at = Instant::now();
        match known_entities(&*self.store) {
            Ok(known) => {
                self.directory.replace(known.members.clone());
                self.cleaner = Cleaner::new(CleaningRules::default(), known);
            }
            Err(error) => {
                tracing::warn!(%error, "re-reading known titles and members failed");
            }
        }
    }

    /// Cleans and commits a group of jobs, then hands their answers to the syncer, which
    /// sends them once the group is durable (one fsync for all, while this thread goes on
    /// to the next group).
    fn run_group(&mut self, mut jobs: Vec<IngestJob>, syncer: &Syncer) {
        let (batches, rejections): (Vec<Batch>, Vec<Vec<RejectedRow>>) = jobs
            .iter_mut()
            .map(|job| {
                let cleaned = self.clean(job);
                (cleaned.batch, cleaned.rejections)
            })
            .unzip();
        // The raw rows are in the batches now; they need not wait for the fsync.
        for job in &mut jobs {
            job.rows = Vec::new();
        }
        match self.store.write_batches_then_sync(&batches) {
            Ok((outcomes, durability)) => {
                let answers = jobs
                    .into_iter()
                    .zip(rejections)
                    .zip(outcomes)
                    .map(|((job, rejections), outcome)| {
                        let response = IngestResponse {
                            request_id: job.request_id,
                            accepted: outcome.events_accepted,
                            duplicate: outcome.events_duplicate,
                            rejected: rejections.len() as u64,
                            rejections,
                        };
                        (job.reply, response)
                    })
                    .collect();
                syncer.send(Committed {
                    answers,
                    durability,
                });
            }
            Err(error) => {
                tracing::error!(%error, jobs = jobs.len(), "writing a group of batches failed");
                for job in jobs {
                    let _ = job.reply.send(Err(error.to_string()));
                }
            }
        }
    }
}

/// A committed group whose requesters are told once it is durable.
struct Committed {
    answers: Vec<(
        oneshot::Sender<Result<IngestResponse, String>>,
        IngestResponse,
    )>,
    durability: showrunner_store::Durability,
}

/// The thread that makes committed groups durable and then answers their requests, in
/// commit order. When several groups wait, one fsync (the last group's) serves them all.
struct Syncer {
    sender: Option<std::sync::mpsc::Sender<Committed>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn start(name: String, metrics: Arc<crate::metrics::Metrics>) -> std::io::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::channel::<Committed>();
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            while let Ok(first) = receiver.recv() {
                let mut groups = vec![first];
                groups.extend(receiver.try_iter());
                // The last group's fsync covers the earlier ones (same store, committed
                // before it); theirs are dropped unwaited.
                let synced = groups.last_mut().map_or(Ok(()), |last| {
                    std::mem::replace(&mut last.durability, showrunner_store::Durability::done())
                        .wait()
                });
                for group in groups {
                    for (reply, response) in group.answers {
                        match &synced {
                            Ok(()) => {
                                metrics.count_ingest(
                                    response.accepted,
                                    response.duplicate,
                                    response.rejected,
                                );
                                // The requester may have gone (client disconnected): the
                                // rows are stored all the same.
                                let _ = reply.send(Ok(response));
                            }
                            Err(error) => {
                                let _ = reply.send(Err(error.to_string()));
                            }
                        }
                    }
                }
                if let Err(error) = &synced {
                    tracing::error!(%error, "making committed batches durable failed");
                }
            }
        })?;
        Ok(Syncer {
            sender: Some(sender),
            handle: Some(handle),
        })
    }

    fn send(&self, committed: Committed) {
        if let Some(sender) = &self.sender
            && let Err(std::sync::mpsc::SendError(committed)) = sender.send(committed)
        {
            // The thread is gone (it panicked): nothing can be promised durable.
            for (reply, _) in committed.answers {
                let _ = reply.send(Err("the syncer has stopped".to_owned()));
            }
        }
    }
}

impl Drop for Syncer {
    /// Answers every group committed so far before the writer thread ends.
    fn drop(&mut self) {
        self.sender = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Starts the writer thread on its own connection to `path`. It takes every job waiting
/// (up to a group's size), commits them together and answers them; it ends when every
/// sender is dropped, after answering every job it received.
pub(crate) fn start_writer(
    path: PathBuf,
    metrics: Arc<crate::metrics::Metrics>,
    directory: Arc<MemberDirectory>,
) -> Result<(WriterSender, std::thread::JoinHandle<()>), StoreError> {
    let (sender, mut handles) = start_writers(path, metrics, directory, 1)?;
    let handle = handles.pop().ok_or_else(|| StoreError::Unsupported {
        path: PathBuf::from("writer"),
        operation: "starting the writer",
        backend: "any",
        hint: "no writer thread started",
    })?;
    Ok((sender, handle))
}

/// Starts `count` writer threads (at least one), each on its own connection to `path` with
/// its own cleaner, sharing one queue: a thread that is free takes every job waiting (up to
/// a group's size) and commits them together while the others clean and write theirs. For
/// ingest only (`showrunner consume`): with more than one writer, a [`WriterJob::Task`] is
/// no longer ordered with the ingest around it. They end when every sender is dropped,
/// after answering every job they received.
pub(crate) fn start_writers(
    path: PathBuf,
    metrics: Arc<crate::metrics::Metrics>,
    directory: Arc<MemberDirectory>,
    count: usize,
) -> Result<(WriterSender, Vec<std::thread::JoinHandle<()>>), StoreError> {
    let (sender, receiver) = mpsc::channel::<WriterJob>(GROUP_JOBS);
    let receiver = Arc::new(std::sync::Mutex::new(receiver));
    let mut handles = Vec::new();
    for n in 0..count.max(1) {
        let (store, known) = crate::off_runtime(|| {
            let store = showrunner_store::open_path(&path)?;
            let known = known_entities(&*store)?;
            Ok::<_, StoreError>((store, known))
        })?;
        directory.replace(known.members.clone());
        let mut writer = Writer {
            store,
            cleaner: Cleaner::new(CleaningRules::default(), known),
            known_at: Instant::now(),
            directory: Arc::clone(&directory),
        };
        let receiver = Arc::clone(&receiver);
        let syncer = Syncer::start(format!("showrunner-sync-{n}"), Arc::clone(&metrics)).map_err(
            |source| StoreError::Io {
                path: path.clone(),
                source,
            },
        )?;
        let handle = std::thread::Builder::new()
            .name(format!("showrunner-writer-{n}"))
            .spawn(move || {
                // A task met while gathering a group runs after that group, in arrival order.
                let mut next: Option<WriterJob> = None;
                loop {
                    let (group, task) = {
                        let Ok(mut queue) = receiver.lock() else {
                            return;
                        };
                        let Some(job) = next.take().or_else(|| queue.blocking_recv()) else {
                            return;
                        };
                        match job {
                            WriterJob::Task(task) => (Vec::new(), Some(task)),
                            WriterJob::Ingest(first) => {
                                let mut rows = first.rows.len();
                                let mut group = vec![first];
                                while group.len() < GROUP_JOBS && rows < GROUP_ROWS {
                                    match queue.try_recv() {
                                        Ok(WriterJob::Ingest(job)) => {
                                            rows += job.rows.len();
                                            group.push(job);
                                        }
                                        Ok(task) => {
                                            next = Some(task);
                                            break;
                                        }
                                        Err(_) => break,
                                    }
                                }
                                (group, None)
                            }
                        }
                    };
                    // The queue is free again: another writer takes the next group meanwhile.
                    if let Some(task) = task {
                        writer.run_task(task);
                    } else {
                        writer.run_group(group, &syncer);
                    }
                }
            })
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        handles.push(handle);
    }
    Ok((sender, handles))
}

/// Cleans one job's rows (`prepared`, one per row) into a batch; also says whether any row
/// was rejected for naming an unknown title or member.
fn clean_job(cleaner: &mut Cleaner, job: &IngestJob, prepared: Vec<Prepared>) -> (Cleaned, bool) {
    let source = format!("http:{}", job.request_id);
    let mut batch = Batch::default();
    let mut rejections = Vec::new();
    let mut names_unknown = false;
    for (index, (raw, prepared)) in job.rows.iter().zip(prepared).enumerate() {
        let outcome = match cleaner.resolve(prepared) {
            Ok(Record::Event(event)) => Ok(event),
            Ok(_) => Err(Problem::new(
                ProblemKind::UnknownType,
                "titles and members are not accepted on /v1/events",
            )),
            Err(problem) => Err(problem),
        };
        match outcome {
            Ok(event) => batch.events.push(event),
            Err(problem) => {
                names_unknown |= matches!(
                    problem.kind,
                    ProblemKind::UnknownTitle | ProblemKind::UnknownMember
                );
                rejections.push(RejectedRow {
                    index,
                    reason: problem.kind.code().to_owned(),
                    field: problem.field.clone(),
                    detail: problem.detail.clone(),
                });
                batch
                    .quarantined
                    .push(Quarantined::new(&source, index as u64 + 1, raw, problem));
            }
        }
    }
    (Cleaned { batch, rejections }, names_unknown)
}

/// Splits a body into rows: a JSON array's elements, or NDJSON's non-blank lines.
pub(crate) fn split_rows(body: &[u8], json_array: bool) -> Result<Vec<Vec<u8>>, ApiError> {
    if json_array {
        let values: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(
                "malformed_json",
                format!("the body is not a JSON array: {e}"),
            )
        })?;
        values
            .iter()
            .map(|v| serde_json::to_vec(v).map_err(ApiError::internal))
            .collect()
    } else {
        Ok(body
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
            .map(<[u8]>::to_vec)
            .collect())
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is larger than {limit} bytes (after decompression)"),
    )
}

/// Reads the body within the limit, gunzipping it when its `Content-Encoding` says so.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let raw = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "identity" | "" => Ok(raw),
        "gzip" | "x-gzip" => {
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(raw.as_ref())
                .take(limit as u64 + 1)
                .read_to_end(&mut decoded)
                .map_err(|e| {
                    ApiError::bad_request("bad_encoding", format!("the gzip body is corrupt: {e}"))
                })?;
            if decoded.len() > limit {
                return Err(too_large(limit));
            }
            Ok(Bytes::from(decoded))
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            format!("Content-Encoding {other:?} is not supported; send identity or gzip"),
        )),
    }
}

/// A batch body as rows: its media type (a JSON array or NDJSON) checked, read within the
/// body limit (gunzipped if need be), split, and held to the batch limit. Shared by event
/// ingest and the catalog's bulk loads.
pub(crate) async fn read_rows(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<Vec<u8>>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json_array = match content_type.as_str() {
        "application/json" => true,
        "application/x-ndjson"
        | "application/jsonl"
        | "application/json-lines"
        | "application/ndjson" => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type application/json (an array) or application/x-ndjson",
            ));
        }
    };
    let config = state.config();
    let body = read_body(headers, body, config.max_body_bytes).await?;
    let rows = split_rows(&body, json_array)?;
    if rows.len() > config.max_batch_events {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "{} rows; at most {} per request",
                rows.len(),
                config.max_batch_events
            ),
        ));
    }
    Ok(rows)
}

/// Post a batch of events
///
/// A JSON array (`application/json`) or NDJSON (`application/x-ndjson`), optionally
/// gzip-compressed (`Content-Encoding: gzip`). Answered after the batch is durable.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "ingest",
    request_body(content = Vec<Object>, description = "Events as documented in docs/events.md", content_type = "application/json"),
    responses(
        (status = 200, description = "The batch is stored", body = IngestResponse),
        (status = 202, description = "Published to the event bus (`[bus] publish = true`); a consumer cleans and stores it", body = crate::bus::QueuedResponse),
        (status = 400, description = "Malformed body (`malformed_json`, `bad_encoding`)", body = crate::error::ErrorBody),
        (status = 401, description = "No valid API key", body = crate::error::ErrorBody),
        (status = 403, description = "The key lacks the ingest scope", body = crate::error::ErrorBody),
        (status = 413, description = "Body or batch too large (`body_too_large`, `batch_too_large`)", body = crate::error::ErrorBody),
        (status = 415, description = "Unsupported content type or encoding", body = crate::error::ErrorBody),
        (status = 503, description = "The store (`store_unavailable`) or the event bus (`bus_unavailable`) cannot be written", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let rows = read_rows(&state, &headers, body).await?;
    if let Some(bus) = state.bus() {
        let queued = bus
            .publish(&request_id::current(), &rows)
            .await
            .map_err(|error| {
                tracing::error!(%error, "publishing to the event bus failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "bus_unavailable",
                    "the event bus cannot take the batch now; retry",
                )
            })?;
        return Ok((StatusCode::ACCEPTED, Json(queued)).into_response());
    }
    let Some(sender) = state.writer() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry on another replica",
        ));
    };
    // Parsing and validating on the blocking pool, in parallel across requests, leaves the
    // one writer thread only the work that must be serial. At most one core fewer than the
    // machine has prepares at a time: the writer sets the pace, and thirty requests
    // preparing at once would take its core from it (measured: it waited for a CPU a
    // quarter of the time) without feeding it any faster.
    let permit = prepare_permits()
        .acquire()
        .await
        .map_err(|error| ApiError::internal(format!("preparing the rows failed: {error}")))?;
    let (rows, prepared) = tokio::task::spawn_blocking(move || {
        let prepared = prepare_rows(&rows);
        (rows, prepared)
    })
    .await
    .map_err(|error| ApiError::internal(format!("preparing the rows failed: {error}")))?;
    drop(permit);
    let (reply, answer) = oneshot::channel();
    let job = IngestJob {
        request_id: request_id::current(),
        rows,
        prepared,
        reply,
    };
    sender
        .send(WriterJob::Ingest(job))
        .await
        .map_err(|_| ApiError::store_unavailable("the writer has stopped"))?;
    match answer.await {
        Ok(Ok(response)) => Ok(Json(response).into_response()),
        Ok(Err(error)) => Err(ApiError::store_unavailable(error)),
        Err(_) => Err(ApiError::store_unavailable("the writer dropped the batch")),
    }
}

/// The batches that may be prepared at once: one per core but the writer's, at least one.
fn prepare_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

/// Runs `work` on the writer's connection, after the ingest requests queued before it, and
/// returns its result. Catalog and member changes go this way so that they are serialised
/// with ingest and the writer's cleaner and caches see them.
pub(crate) async fn on_writer<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut dyn Backend) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let Some(sender) = state.writer() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry on another replica",
        ));
    };
    let (reply, answer) = oneshot::channel();
    let task: StoreTask = Box::new(move |store| {
        let _ = reply.send(work(store));
    });
    sender
        .send(WriterJob::Task(task))
        .await
        .map_err(|_| ApiError::store_unavailable("the writer has stopped"))?;
    match answer.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(ApiError::store_unavailable(error)),
        Err(_) => Err(ApiError::store_unavailable("the writer dropped the task")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use showrunner_model::Timestamp;
    use showrunner_model::time::DAY_MS;

    /// The writer's cleaner is made at start (and again only after catalog changes or an
    /// unknown name); the future-timestamp check must still use the time of each request.
    #[test]
    fn a_writer_made_days_ago_accepts_an_event_of_now() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut store = showrunner_store::open_path(&dir.path().join("db.sqlite")).expect("store");
        let mut catalog = Cleaner::new(CleaningRules::default(), KnownEntities::default());
        let mut batch = Batch::default();
        for line in [
            r#"{"type":"title","id":"t1","kind":"movie","name":"One","duration_s":5400}"#,
            r#"{"type":"member","id":"m1","country":"US","plan":"basic"}"#,
        ] {
            match catalog.clean_json(line.as_bytes()).expect("a valid record") {
                Record::Title(title) => batch.titles.push(title),
                Record::Member(member) => batch.members.push(member),
                Record::Event(_) => unreachable!("no events above"),
            }
        }
        store.write_batches(&[batch]).expect("catalog written");
        let now = CleaningRules::default().now;
        let days_ago = Timestamp::from_millis(now.millis() - 3 * DAY_MS);
        let mut writer = Writer {
            cleaner: Cleaner::new(
                CleaningRules::at(days_ago),
                known_entities(&*store).expect("known"),
            ),
            store,
            known_at: Instant::now(),
            directory: Arc::default(),
        };
        let row = format!(
            r#"{{"type":"rating","ts":"{now}","member_id":"m1","title_id":"t1","thumbs":"up"}}"#
        );
        let (reply, mut answer) = oneshot::channel();
        let job = IngestJob {
            request_id: "r1".into(),
            rows: vec![row.into_bytes()],
            prepared: Vec::new(),
            reply,
        };
        let syncer = Syncer::start("test-sync".into(), Arc::default()).expect("syncer");
        writer.run_group(vec![job], &syncer);
        // Dropping the syncer waits for every committed group to be answered.
        drop(syncer);
        let response = answer.try_recv().expect("answered").expect("stored");
        assert_eq!(response.accepted, 1, "{:?}", response.rejections);
        assert_eq!(response.rejected, 0);
    }
}
