//! NATS JetStream as the durable event bus, for running past one machine.
//!
//! With `[bus] publish = true`, `POST /v1/events` checks the body as usual (size, encoding,
//! rows) and publishes its rows as one message to the stream instead of writing them,
//! answering `202 Accepted` once JetStream has stored the message (its `PubAck`). The
//! request id is the message's `Nats-Msg-Id`, so a publisher's retry inside the stream's
//! duplicate window is stored once.
//!
//! A consumer (`showrunner consume`, or any `serve` with `[bus] consume = true`) pulls
//! messages with a durable pull consumer: every process using the same durable name shares
//! the messages (the JetStream form of a queue group). Each message becomes one job for the
//! same writer thread `POST /v1/events` uses (same cleaning, quarantine, group commit), and
//! is acknowledged only after the writer reports its batch durable. A message whose write
//! fails is not acknowledged and comes back after `ack_wait_seconds`; a consumer killed
//! mid-batch leaves its messages unacknowledged, and another consumer gets them. Events
//! carry stable ids and quarantined rows are keyed by source and line, so a redelivered
//! message adds nothing that was already stored.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::ToSchema;

use crate::ingest::{IngestJob, WriterSender};

/// `[bus]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// The NATS server (`SHOWRUNNER_NATS_URL`).
    pub nats_url: String,
    /// The JetStream stream; created when missing (`SHOWRUNNER_BUS_STREAM`).
    pub stream: String,
    /// The subject events are published on (the stream captures it).
    pub subject: String,
    /// `POST /v1/events` publishes instead of writing (`SHOWRUNNER_BUS_PUBLISH`).
    pub publish: bool,
    /// `serve` also consumes the stream into the store (`SHOWRUNNER_BUS_CONSUME`).
    pub consume: bool,
    /// The durable consumer's name, shared by every consuming process.
    pub durable: String,
    /// An unacknowledged message is redelivered after this long.
    pub ack_wait_seconds: u64,
    /// Messages pulled (and committed together) at most per round
    /// (`SHOWRUNNER_BUS_FETCH_MAX`).
    pub fetch_max: usize,
    /// Writer threads of `showrunner consume`, each on its own connection, cleaning and
    /// committing groups side by side; 0 picks: 2 on PostgreSQL, 1 on SQLite (whose file
    /// takes one writer at a time). `serve` always writes with one
    /// (`SHOWRUNNER_BUS_WRITERS`).
    pub writers: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            nats_url: "nats://127.0.0.1:4222".into(),
            stream: "SHOWRUNNER_EVENTS".into(),
            subject: "showrunner.events".into(),
            publish: false,
            consume: false,
            durable: "showrunner-ingest".into(),
            ack_wait_seconds: 30,
            fetch_max: 64,
            writers: 0,
        }
    }
}

/// The bus could not be reached or used.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("connecting to NATS at {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("JetStream stream {stream}: {detail}")]
    Stream { stream: String, detail: String },
    #[error("publishing to {subject}: {detail}")]
    Publish { subject: String, detail: String },
    #[error("consuming {stream} as {durable}: {detail}")]
    Consume {
        stream: String,
        durable: String,
        detail: String,
    },
}

/// The answer to `POST /v1/events` when publishing to the bus.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QueuedResponse {
    pub request_id: String,
    /// Rows stored in the stream, to be cleaned and written by a consumer.
    pub queued: u64,
    pub stream: String,
    /// The message's sequence number in the stream.
    pub sequence: u64,
    /// JetStream already had a message with this request id (a retry).
    pub duplicate: bool,
}

/// Header naming the request a message came from.
const REQUEST_ID_HEADER: &str = "Showrunner-Request-Id";

/// A connection to the stream, for publishing.
#[derive(Debug, Clone)]
pub struct Bus {
    jetstream: jetstream::Context,
    config: BusConfig,
}

impl Bus {
    /// Connects and makes sure the stream exists (file storage, capturing `subject`).
    pub async fn connect(config: &BusConfig) -> Result<Bus, BusError> {
        let client =
            async_nats::connect(&config.nats_url)
                .await
                .map_err(|e| BusError::Connect {
                    url: config.nats_url.clone(),
                    detail: e.to_string(),
                })?;
        let jetstream = jetstream::new(client);
        jetstream
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: vec![config.subject.clone()],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::Stream {
                stream: config.stream.clone(),
                detail: e.to_string(),
            })?;
        Ok(Bus {
            jetstream,
            config: config.clone(),
        })
    }

    /// Publishes one request's rows (NDJSON) and waits until JetStream has stored them.
    pub async fn publish(
        &self,
        request_id: &str,
        rows: &[Vec<u8>],
    ) -> Result<QueuedResponse, BusError> {
        let mut payload = Vec::with_capacity(rows.iter().map(|r| r.len() + 1).sum());
        for row in rows {
            payload.extend_from_slice(row);
            payload.push(b'\n');
        }
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", request_id);
        headers.insert(REQUEST_ID_HEADER, request_id);
        let failed = |e: &dyn std::fmt::Display| BusError::Publish {
            subject: self.config.subject.clone(),
            detail: e.to_string(),
        };
        let ack = self
            .jetstream
            .publish_with_headers(self.config.subject.clone(), headers, payload.into())
            .await
            .map_err(|e| failed(&e))?
            .await
            .map_err(|e| failed(&e))?;
        Ok(QueuedResponse {
            request_id: request_id.to_owned(),
            queued: rows.len() as u64,
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}

/// What a consumer did, so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConsumeSummary {
    /// Messages written and acknowledged.
    pub messages: u64,
    /// Events new to the store, and already stored (redeliveries, retries).
    pub accepted: u64,
    pub duplicate: u64,
    /// Rows that failed cleaning (quarantined).
    pub rejected: u64,
    /// Messages whose write failed (left for redelivery).
    pub failed: u64,
}

/// Rounds of messages whose writes and acknowledgements may be outstanding while the next
/// round is fetched.
const ROUNDS_IN_FLIGHT: usize = 2;

impl ConsumeSummary {
    fn add(&mut self, other: &ConsumeSummary) {
        self.messages += other.messages;
        self.accepted += other.accepted;
        self.duplicate += other.duplicate;
        self.rejected += other.rejected;
        self.failed += other.failed;
    }
}

/// A settled round's figures, or why it could not be settled.
fn joined(
    round: Result<Result<ConsumeSummary, BusError>, tokio::task::JoinError>,
    config: &BusConfig,
) -> Result<ConsumeSummary, BusError> {
    round.map_err(|e| BusError::Consume {
        stream: config.stream.clone(),
        durable: config.durable.clone(),
        detail: format!("a round's acknowledgements stopped: {e}"),
    })?
}

/// Waits for the writer's answer on each message of a round, in order, and acknowledges
/// each one whose events are durable (a failed write leaves its message for redelivery).
async fn settle(
    pending: Vec<(
        jetstream::Message,
        oneshot::Receiver<Result<crate::ingest::IngestResponse, String>>,
    )>,
    config: BusConfig,
) -> Result<ConsumeSummary, BusError> {
    let mut summary = ConsumeSummary::default();
    for (message, answer) in pending {
        match answer.await {
            Ok(Ok(response)) => {
                // Confirmed by the server: once this returns, the message will not come
                // back (unless the ack itself is lost, when the redelivery is a duplicate).
                message.double_ack().await.map_err(|e| BusError::Consume {
                    stream: config.stream.clone(),
                    durable: config.durable.clone(),
                    detail: e.to_string(),
                })?;
                summary.messages += 1;
                summary.accepted += response.accepted;
                summary.duplicate += response.duplicate;
                summary.rejected += response.rejected;
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "writing a message's events failed; left for redelivery");
                summary.failed += 1;
            }
            Err(_) => {
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}

/// Pulls messages from the stream and hands each to the writer as one job, acknowledging a
/// message only once the writer has made its batch durable. Runs until `stop` resolves,
/// then finishes the round in hand (its messages are written and acknowledged) and returns.
/// `progress` is called after every round.
pub(crate) async fn consume(
    config: &BusConfig,
    writer: WriterSender,
    stop: impl std::future::Future<Output = ()>,
    mut progress: impl FnMut(&ConsumeSummary),
) -> Result<ConsumeSummary, BusError> {
    let bus = Bus::connect(config).await?;
    let failed = |e: &dyn std::fmt::Display| BusError::Consume {
        stream: config.stream.clone(),
        durable: config.durable.clone(),
        detail: e.to_string(),
    };
    let stream = bus
        .jetstream
        .get_stream(&config.stream)
        .await
        .map_err(|e| failed(&e))?;
    let puller: consumer::PullConsumer = stream
        .get_or_create_consumer(
            &config.durable,
            consumer::pull::Config {
                durable_name: Some(config.durable.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(config.ack_wait_seconds.max(1)),
                filter_subject: config.subject.clone(),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| failed(&e))?;
    let mut summary = ConsumeSummary::default();
    // Rounds whose answers are awaited and messages acknowledged while the next round is
    // fetched and written (at most ROUNDS_IN_FLIGHT): the writers never wait on a fetch.
    let mut in_flight: std::collections::VecDeque<
        tokio::task::JoinHandle<Result<ConsumeSummary, BusError>>,
    > = std::collections::VecDeque::new();
    tokio::pin!(stop);
    loop {
        let round = async {
            puller
                .fetch()
                .max_messages(config.fetch_max.max(1))
                .expires(Duration::from_millis(500))
                .messages()
                .await
        };
        let mut messages = tokio::select! {
            biased;
            () = &mut stop => break,
            messages = round => messages.map_err(|e| failed(&e))?,
        };
        // Every message of the round goes to the writer before any answer is awaited, so
        // the writer commits them as one group.
        let mut pending = Vec::new();
        while let Some(message) = messages.next().await {
            let message = message.map_err(|e| failed(&e))?;
            let request_id = message
                .headers
                .as_ref()
                .and_then(|h| h.get(REQUEST_ID_HEADER))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| {
                    message
                        .info()
                        .map(|i| format!("nats-{}", i.stream_sequence))
                        .unwrap_or_else(|_| "nats".into())
                });
            let rows: Vec<Vec<u8>> = message
                .payload
                .split(|&b| b == b'\n')
                .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
                .map(<[u8]>::to_vec)
                .collect();
            let (reply, answer) = oneshot::channel();
            let job = IngestJob {
                request_id,
                rows,
                prepared: Vec::new(),
                reply,
            };
            if writer
                .send(crate::ingest::WriterJob::Ingest(job))
                .await
                .is_err()
            {
                return Err(failed(&"the writer has stopped"));
            }
            pending.push((message, answer));
        }
        in_flight.push_back(tokio::spawn(settle(pending, config.clone())));
        while in_flight.len() > ROUNDS_IN_FLIGHT {
            if let Some(round) = in_flight.pop_front() {
                summary.add(&joined(round.await, config)?);
                progress(&summary);
            }
        }
    }
    // Stopping: every round in hand is written and acknowledged.
    while let Some(round) = in_flight.pop_front() {
        summary.add(&joined(round.await, config)?);
        progress(&summary);
    }
    Ok(summary)
}

/// `showrunner consume`: a writer on the configured store and a consumer feeding it, until
/// `stop` resolves; then every message in hand is written and acknowledged, the writer
/// drains, and the totals are returned.
pub async fn run_consumer(
    config: &crate::Config,
    stop: impl std::future::Future<Output = ()>,
    progress: impl FnMut(&ConsumeSummary),
) -> Result<ConsumeSummary, crate::StartError> {
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let writers = match config.bus.writers {
        0 if showrunner_store::StoreLocation::from_path(&config.db)?.is_postgres() => 2,
        0 => 1,
        n => n,
    };
    let (writer, threads) = crate::ingest::start_writers(
        config.db.clone(),
        metrics,
        std::sync::Arc::default(),
        writers,
    )?;
    let result = consume(&config.bus, writer, stop, progress).await;
    let _ = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    })
    .await;
    result.map_err(|e| crate::StartError::Background(e.to_string()))
}
