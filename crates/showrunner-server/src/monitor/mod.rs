//! Monitoring inside `showrunner serve`: every interval (a minute by default) the
//! [`Monitor`] turns the playback-quality events stored since the last closed minute into
//! per-minute series (platform and per dimension value, `showrunner_monitor::qoe`), adds the
//! service's own health series (request and error rates, mean latency, ingest rate and
//! lag, from the metrics registry), takes the samples scraped from Prometheus targets or
//! pushed to `POST /v1/monitor/push`, stores them all ([`SeriesStore`]), scores every new
//! point with the configured online detector (per-series state), evaluates the alert rules,
//! explains firing playback alerts with the dimension drill-down, and returns the
//! notifications, which [`MonitorHandle::dispatch`] sends with retries and logs.
//!
//! Time is always passed in (`tick(now_ms)`), so tests step it; the background loop reads
//! a [`Clock`]. Alert state (active alerts, the playback watermark) is saved in the store
//! after every tick that changes it, and silences are read from the store every tick, so
//! both survive restarts and a silence added with `showrunner alerts silence add` is heard.

pub mod api;
pub mod config;
pub mod notifier;
pub mod scrape;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use showrunner_model::{EventBody, EventKind, Qoe, Timestamp};
use showrunner_monitor::alerts::{
    Alert, AlertEngine, Notification, Sample, Silence, Snapshot, State,
};
use showrunner_monitor::detector::{self, CombinedConfig, CombinedDetector, Detector};
use showrunner_monitor::drilldown::{self, Problem};
use showrunner_monitor::exposition;
use showrunner_monitor::qoe::{Dimension, QoeMetrics, QoeSeries};
use showrunner_store::{
    AlertHistoryEntry, Backend, CompactionSummary, EventFilter, NotificationEntry, SeriesSample,
    StoreError,
};

pub use config::{MonitorConfig, MonitorConfigError};

const MINUTE_MS: i64 = 60_000;

/// Where the background loop reads the time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(now_ms))
    }

    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance(&self, by_ms: i64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The monitor could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Config(#[from] MonitorConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the saved alert state in the store cannot be read: {0}")]
    State(String),
    #[error("the monitor's lock is poisoned")]
    Poisoned,
}

/// What is saved in the store after each tick (history lives in its own table).
#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedState {
    engine: Snapshot,
    /// Playback minutes before this are done.
    qoe_watermark_ms: Option<i64>,
    last_compaction_ms: Option<i64>,
}

/// The active alerts in a saved alert state (as `AlertStore::alert_state` returns it), for
/// readers that do not run a monitor (`showrunner alerts list`).
pub fn saved_alerts(state: &str) -> Result<Vec<Alert>, MonitorError> {
    serde_json::from_str::<SavedState>(state)
        .map(|saved| saved.engine.alerts)
        .map_err(|e| MonitorError::State(e.to_string()))
}

/// Counters of the previous health reading, for rates.
#[derive(Debug, Clone, Copy)]
struct HealthCounters {
    at_ms: i64,
    requests: f64,
    server_errors: f64,
    latency_sum: f64,
    latency_count: f64,
    ingest_rows: f64,
}

/// What one tick did.
#[derive(Debug, Clone, Default)]
pub struct TickOutcome {
    /// Samples detected on this tick (computed, scraped and pushed).
    pub samples: usize,
    /// The highest anomaly score of the tick and its series.
    pub top_score: Option<(String, f64)>,
    pub notifications: Vec<Notification>,
    pub compaction: Option<CompactionSummary>,
}

/// The monitor's state: its own store connection, the alert engine, one detector per
/// series, and the playback sessions of the last hour (the drill-down's baseline).
pub struct Monitor {
    config: MonitorConfig,
    dimensions: Vec<Dimension>,
    store: Box<dyn Backend>,
    engine: AlertEngine,
    detectors: HashMap<String, (i64, Box<dyn Detector>)>,
    qoe_watermark_ms: Option<i64>,
    recent_sessions: VecDeque<(i64, Qoe)>,
    newest_qoe_ms: Option<i64>,
    pending: Vec<SeriesSample>,
    health: Option<HealthCounters>,
    last_compaction_ms: Option<i64>,
    last_saved: String,
    /// On a store shared by replicas: the lock that makes this replica the one running the
    /// monitor (`None`: standing by, or an embedded store, where there is one process).
    leader: Option<showrunner_store::JobLock>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("store", &self.store)
            .field("series", &self.detectors.len())
            .finish()
    }
}

fn floor_minute(ms: i64) -> i64 {
    ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

/// The metric names of a bucket's playback metrics.
fn qoe_values(m: &QoeMetrics) -> Vec<(&'static str, f64)> {
    let mut out = vec![
        ("qoe_sessions", m.sessions as f64),
        ("qoe_playback_failure_pct", m.playback_failure_pct),
        ("qoe_exit_before_start_pct", m.exit_before_start_pct),
        ("qoe_rebuffer_pct", m.rebuffer_pct),
        ("qoe_rebuffers_per_minute", m.rebuffers_per_minute),
        ("qoe_avg_bitrate_kbps", m.avg_bitrate_kbps),
        ("qoe_stream_starts_per_second", m.stream_starts_per_second),
    ];
    if let Some(p50) = m.startup_p50_ms {
        out.push(("qoe_startup_p50_ms", p50));
    }
    if let Some(p95) = m.startup_p95_ms {
        out.push(("qoe_startup_p95_ms", p95));
    }
    out
}

/// The alert state saved in the store (the default when none was).
fn saved_state(store: &dyn Backend) -> Result<SavedState, MonitorError> {
    match store.alert_state()? {
        Some(text) => serde_json::from_str(&text).map_err(|e| MonitorError::State(e.to_string())),
        None => Ok(SavedState::default()),
    }
}

impl Monitor {
    /// Opens the monitor's own connection to the database (migrating it), checks the
    /// configuration and restores the saved alert state.
    pub fn open(db: &Path, config: MonitorConfig) -> Result<Monitor, MonitorError> {
        config.check()?;
        let dimensions = config.dimensions()?;
        let store = showrunner_store::open_path(db)?;
        let mut engine = AlertEngine::new(config.rules.clone())
            .map_err(|e| MonitorConfigError(format!("rules: {e}")))?;
        let saved = saved_state(&*store)?;
        engine.restore(saved.engine);
        Ok(Monitor {
            config,
            dimensions,
            store,
            engine,
            detectors: HashMap::new(),
            qoe_watermark_ms: saved.qoe_watermark_ms,
            recent_sessions: VecDeque::new(),
            newest_qoe_ms: None,
            pending: Vec::new(),
            health: None,
            last_compaction_ms: saved.last_compaction_ms,
            last_saved: String::new(),
            leader: None,
        })
    }

    /// Whether this replica runs the monitor now. Always on an embedded store; on a shared
    /// one, only the replica holding the `monitor` job lock (a PostgreSQL advisory lock,
    /// released by the server if that replica dies) evaluates, so alerts are neither
    /// doubled nor lost across replicas. A replica taking the lead restores the alert state
    /// the previous leader saved.
    fn lead(&mut self) -> Result<bool, StoreError> {
        if !self.store.is_shared() || self.leader.is_some() {
            return Ok(true);
        }
        let Some(lock) = self.store.try_hold_job("monitor")? else {
            return Ok(false);
        };
        let saved = saved_state(&*self.store).map_err(|error| StoreError::Corrupt {
            path: std::path::PathBuf::from("the saved alert state"),
            table: "monitor_meta",
            column: "value",
            detail: error.to_string(),
        })?;
        self.engine.restore(saved.engine);
        self.qoe_watermark_ms = saved.qoe_watermark_ms;
        self.last_compaction_ms = saved.last_compaction_ms;
        self.last_saved = String::new();
        self.leader = Some(lock);
        tracing::info!("this replica now runs the monitor (alert rules and playback series)");
        Ok(true)
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    /// Pending and firing alerts.
    pub fn active_alerts(&self) -> Vec<Alert> {
        self.engine.active().into_iter().cloned().collect()
    }

    /// Stores samples at once and queues them for the next tick's detection and rules.
    pub fn push(&mut self, samples: Vec<SeriesSample>) -> Result<u64, StoreError> {
        let written = self.store.write_samples(&samples)?;
        self.pending.extend(samples);
        Ok(written)
    }

    /// Adds a silence to the store and to the running engine.
    pub fn put_silence(
        &mut self,
        silence: &showrunner_store::SilenceRecord,
    ) -> Result<(), StoreError> {
        self.store.put_silence(silence)?;
        let _ = self.engine.add_silence(to_silence(silence));
        Ok(())
    }

    pub fn expire_silence(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let expired = self.store.expire_silence(id, now_ms)?;
        self.engine.expire_silence(id);
        Ok(expired)
    }

    pub fn record_notifications(
        &mut self,
        entries: &[NotificationEntry],
    ) -> Result<(), StoreError> {
        for entry in entries {
            self.store.record_notification(entry)?;
        }
        Ok(())
    }

    /// One round at `now_ms`: series, detection, rules, state saved. `metrics_text` is the
    /// service's own metrics in the text exposition format (the health series).
    pub fn tick(
        &mut self,
        now_ms: i64,
        metrics_text: Option<&str>,
    ) -> Result<TickOutcome, StoreError> {
        if !self.lead()? {
            // Another replica runs the monitor; pushed samples are stored already.
            let samples = std::mem::take(&mut self.pending).len();
            return Ok(TickOutcome {
                samples,
                top_score: None,
                notifications: Vec::new(),
                compaction: None,
            });
        }
        let mut computed = self.qoe_samples(now_ms)?;
        if let Some(text) = metrics_text {
            computed.extend(self.health_samples(now_ms, text));
        }
        self.store.write_samples(&computed)?;
        let mut samples = std::mem::take(&mut self.pending);
        samples.extend(computed);
        samples.sort_by_key(|s| s.ts_ms);

        // Score every new point in time order; the rules see each series' latest point.
        let mut latest: HashMap<String, (f64, f64)> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut top: Option<(String, f64)> = None;
        for sample in &samples {
            let key = sample.key();
            if !self.detectors.contains_key(&key) {
                // The configuration was checked at start, so the detector's name is known.
                let built: Box<dyn Detector> = detector::build(&self.config.detector)
                    .unwrap_or_else(|_| Box::new(CombinedDetector::new(CombinedConfig::default())));
                self.detectors.insert(key.clone(), (i64::MIN, built));
            }
            let Some((last_ts, series_detector)) = self.detectors.get_mut(&key) else {
                continue;
            };
            // A point older than one already scored cannot be scored without look-back.
            let score = if sample.ts_ms > *last_ts {
                *last_ts = sample.ts_ms;
                series_detector.update(sample.ts_ms.div_euclid(1000), sample.value)
            } else {
                0.0
            };
            if top.as_ref().is_none_or(|(_, s)| score > *s) {
                top = Some((key.clone(), score));
            }
            if latest.insert(key.clone(), (sample.value, score)).is_none() {
                order.push(key);
            }
        }

        self.sync_silences(now_ms)?;
        let evaluated: Vec<Sample<'_>> = order
            .iter()
            .map(|key| {
                let (value, score) = latest[key];
                Sample {
                    series: key,
                    value,
                    score,
                }
            })
            .collect();
        let history_before = self.engine.history().len();
        let mut notifications = self.engine.evaluate(now_ms, &evaluated);
        let history = self.engine.history();
        let changes: Vec<AlertHistoryEntry> = history[history_before.min(history.len())..]
            .iter()
            .map(|alert| AlertHistoryEntry {
                at_ms: now_ms,
                fingerprint: alert.fingerprint.clone(),
                rule: alert.rule.clone(),
                state: match alert.state {
                    State::Pending => "pending",
                    State::Firing => "firing",
                    State::Resolved => "resolved",
                }
                .into(),
                alert: serde_json::to_value(alert).unwrap_or_default(),
            })
            .collect();
        if !changes.is_empty() {
            self.store.append_alert_history(&changes)?;
        }
        self.explain(&mut notifications);

        let mut compaction = None;
        let every = self.config.retention.every_minutes.max(1) as i64 * MINUTE_MS;
        if self
            .last_compaction_ms
            .is_none_or(|last| now_ms - last >= every)
        {
            compaction = Some(
                self.store
                    .compact_series(&self.config.retention.policy(), now_ms)?,
            );
            self.last_compaction_ms = Some(now_ms);
        }
        self.save_state()?;
        Ok(TickOutcome {
            samples: samples.len(),
            top_score: top,
            notifications,
            compaction,
        })
    }

    fn save_state(&mut self) -> Result<(), StoreError> {
        let mut engine = self.engine.snapshot();
        engine.history.clear();
        let saved = SavedState {
            engine,
            qoe_watermark_ms: self.qoe_watermark_ms,
            last_compaction_ms: self.last_compaction_ms,
        };
        let text = serde_json::to_string(&saved).unwrap_or_default();
        if text != self.last_saved {
            let now = self.last_compaction_ms.unwrap_or(0);
            self.store.save_alert_state(&text, now)?;
            self.last_saved = text;
        }
        Ok(())
    }

    /// The engine's silences follow the store's (added by the API or the CLI).
    fn sync_silences(&mut self, now_ms: i64) -> Result<(), StoreError> {
        let stored = self.store.silences()?;
        let active: Vec<&showrunner_store::SilenceRecord> =
            stored.iter().filter(|s| s.ends_at_ms > now_ms).collect();
        for silence in self.engine.snapshot().silences {
            if !active.iter().any(|s| s.id == silence.id) {
                self.engine.expire_silence(&silence.id);
            }
        }
        for silence in active {
            let _ = self.engine.add_silence(to_silence(silence));
        }
        Ok(())
    }

    /// Playback series for every minute closed since the last tick.
    fn qoe_samples(&mut self, now_ms: i64) -> Result<Vec<SeriesSample>, StoreError> {
        let close_end = floor_minute(now_ms - self.config.qoe_grace_seconds as i64 * 1000);
        let start = self
            .qoe_watermark_ms
            .unwrap_or_else(|| close_end - self.config.qoe_backfill_minutes as i64 * MINUTE_MS);
        if close_end <= start {
            return Ok(Vec::new());
        }
        let events = self.store.events(&EventFilter {
            kind: EventKind::Qoe,
            from: Some(Timestamp::from_millis(start)),
            until: Some(Timestamp::from_millis(close_end)),
            limit: None,
        })?;
        self.qoe_watermark_ms = Some(close_end);
        let mut series = QoeSeries::new(60);
        for event in events {
            if let EventBody::Qoe(qoe) = event.body {
                let ts = event.ts.millis();
                series.add(ts, &qoe);
                self.newest_qoe_ms = Some(self.newest_qoe_ms.map_or(ts, |n| n.max(ts)));
                self.recent_sessions.push_back((ts, qoe));
            }
        }
        // The drill-down's baseline: the hour before the newest closed minute.
        while self
            .recent_sessions
            .front()
            .is_some_and(|(ts, _)| *ts < close_end - 61 * MINUTE_MS)
        {
            self.recent_sessions.pop_front();
        }
        let mut out = Vec::new();
        for key in series.keys() {
            let labels: std::collections::BTreeMap<String, String> = match key {
                None => Default::default(),
                Some((dimension, value)) => {
                    if !self.dimensions.contains(dimension) {
                        continue;
                    }
                    [(dimension.name().to_string(), value.clone())].into()
                }
            };
            for (start_s, metrics) in series.series(key) {
                if metrics.sessions == 0 {
                    continue;
                }
                for (name, value) in qoe_values(&metrics) {
                    out.push(SeriesSample {
                        name: name.into(),
                        labels: labels.clone(),
                        ts_ms: start_s * 1000,
                        value,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The service's health series from its own metrics: rates since the last reading.
    fn health_samples(&mut self, now_ms: i64, text: &str) -> Vec<SeriesSample> {
        let parsed = exposition::parse(text);
        let sum = |name: &str, keep: &dyn Fn(&exposition::MetricSample) -> bool| -> f64 {
            parsed
                .samples
                .iter()
                .filter(|s| s.name == name && keep(s))
                .map(|s| s.value)
                .filter(|v| v.is_finite())
                .sum()
        };
        let all = |_: &exposition::MetricSample| true;
        let current = HealthCounters {
            at_ms: now_ms,
            requests: sum("showrunner_http_requests_total", &all),
            server_errors: sum("showrunner_http_requests_total", &|s| {
                s.labels
                    .get("status")
                    .and_then(|v| v.parse::<u16>().ok())
                    .is_some_and(|status| status >= 500)
            }),
            latency_sum: sum("showrunner_http_request_duration_seconds_sum", &all),
            latency_count: sum("showrunner_http_request_duration_seconds_count", &all),
            ingest_rows: sum("showrunner_ingest_rows_total", &all),
        };
        let sample = |name: &str, value: f64| SeriesSample {
            name: name.into(),
            labels: Default::default(),
            ts_ms: now_ms,
            value,
        };
        let mut out = Vec::new();
        if let Some(previous) = self.health.filter(|p| now_ms > p.at_ms) {
            let seconds = (now_ms - previous.at_ms) as f64 / 1000.0;
            let rate = |now: f64, before: f64| ((now - before).max(0.0)) / seconds;
            out.push(sample(
                "showrunner_http_requests_per_second",
                rate(current.requests, previous.requests),
            ));
            out.push(sample(
                "showrunner_http_server_errors_per_second",
                rate(current.server_errors, previous.server_errors),
            ));
            let answered = current.latency_count - previous.latency_count;
            if answered > 0.0 {
                out.push(sample(
                    "showrunner_http_request_seconds_mean",
                    (current.latency_sum - previous.latency_sum).max(0.0) / answered,
                ));
            }
            out.push(sample(
                "showrunner_ingest_rows_per_second",
                rate(current.ingest_rows, previous.ingest_rows),
            ));
        }
        if let Some(newest) = self.newest_qoe_ms {
            out.push(sample(
                "showrunner_ingest_lag_seconds",
                ((now_ms - newest) as f64 / 1000.0).max(0.0),
            ));
        }
        // Gauges as they are (model version and age).
        for s in &parsed.samples {
            let family_type = parsed.types.get(&s.name).map(String::as_str);
            if family_type == Some("gauge") && s.value.is_finite() {
                out.push(SeriesSample {
                    name: s.name.clone(),
                    labels: s.labels.clone(),
                    ts_ms: now_ms,
                    value: s.value,
                });
            }
        }
        self.health = Some(current);
        out
    }

    /// Adds the drill-down to firing playback alerts: which dimension values hold the
    /// excess bad sessions of the last closed minute against the hour before it.
    fn explain(&self, notifications: &mut [Notification]) {
        let Some(end) = self.qoe_watermark_ms else {
            return;
        };
        let minute_start = end - MINUTE_MS;
        for notification in notifications.iter_mut() {
            for alert in notification.alerts.iter_mut() {
                if alert.state != State::Firing {
                    continue;
                }
                let Some(rule) = self.config.rules.iter().find(|r| r.name == alert.rule) else {
                    continue;
                };
                let problem = if rule.series.starts_with("qoe_playback_failure_pct")
                    || rule.series.starts_with("qoe_exit_before_start_pct")
                {
                    Problem::FailedToPlay
                } else if rule.series.starts_with("qoe_startup_p") {
                    Problem::SlowStartup { over_ms: 4_000 }
                } else {
                    continue;
                };
                let anomalous = self
                    .recent_sessions
                    .iter()
                    .filter(|(ts, _)| *ts >= minute_start && *ts < end)
                    .map(|(_, q)| q);
                let baseline = self
                    .recent_sessions
                    .iter()
                    .filter(|(ts, _)| *ts < minute_start)
                    .map(|(_, q)| q);
                let explanations =
                    drilldown::explain(anomalous, baseline, problem, &self.dimensions);
                if let Some(best) = explanations.first() {
                    alert.annotations.insert(
                        "explanation".into(),
                        format!(
                            "{}: {} of {} sessions bad where {:.0} were expected ({:.0}% of the excess)",
                            best.describe_segment(),
                            best.bad,
                            best.sessions,
                            best.expected_bad,
                            100.0 * best.share_of_excess
                        ),
                    );
                }
            }
        }
    }
}

fn to_silence(record: &showrunner_store::SilenceRecord) -> Silence {
    Silence {
        id: record.id.clone(),
        matchers: record.matchers.clone(),
        starts_at: record.starts_at_ms,
        ends_at: record.ends_at_ms,
        created_by: record.created_by.clone(),
        comment: record.comment.clone(),
    }
}

/// The monitor as the server shares it: the state behind a lock (used off the async
/// runtime), the HTTP client for receivers and targets, and the clock.
#[derive(Clone)]
pub struct MonitorHandle {
    monitor: Arc<Mutex<Monitor>>,
    client: reqwest::Client,
    config: Arc<MonitorConfig>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MonitorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorHandle").finish_non_exhaustive()
    }
}

impl MonitorHandle {
    pub fn open(db: &Path, config: MonitorConfig) -> Result<MonitorHandle, MonitorError> {
        let monitor = Monitor::open(db, config.clone())?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.http_timeout_seconds.max(1)))
            .build()
            .map_err(|e| MonitorError::Config(MonitorConfigError(format!("HTTP client: {e}"))))?;
        Ok(MonitorHandle {
            monitor: Arc::new(Mutex::new(monitor)),
            client,
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same monitor reading another clock (tests step a [`ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> MonitorHandle {
        self.clock = clock;
        self
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Runs `work` on the monitor, off the async runtime.
    pub async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Monitor) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, MonitorError> {
        let monitor = Arc::clone(&self.monitor);
        tokio::task::spawn_blocking(move || {
            let mut guard = monitor.lock().map_err(|_| MonitorError::Poisoned)?;
            work(&mut guard).map_err(MonitorError::from)
        })
        .await
        .map_err(|_| MonitorError::Poisoned)?
    }

    /// One tick at `now_ms` (see [`Monitor::tick`]).
    pub async fn tick(
        &self,
        now_ms: i64,
        metrics_text: Option<String>,
    ) -> Result<TickOutcome, MonitorError> {
        self.with(move |m| m.tick(now_ms, metrics_text.as_deref()))
            .await
    }

    /// Sends every notification to its receivers (with retries) and logs each delivery in
    /// the store; returns the log entries.
    pub async fn dispatch(
        &self,
        notifications: &[Notification],
        now_ms: i64,
    ) -> Result<Vec<NotificationEntry>, MonitorError> {
        let mut sends = tokio::task::JoinSet::new();
        for notification in notifications {
            for receiver in
                notifier::receivers_for(notification, &self.config.receivers, &self.config.routes)
            {
                let client = self.client.clone();
                let receiver = receiver.clone();
                let notification = notification.clone();
                let config = Arc::clone(&self.config);
                sends.spawn(async move {
                    notifier::deliver(
                        &client,
                        &receiver,
                        &notification,
                        &config.retry,
                        &config.external_url,
                        now_ms,
                    )
                    .await
                });
            }
        }
        let mut entries = Vec::new();
        while let Some(done) = sends.join_next().await {
            if let Ok(delivered) = done {
                entries.extend(delivered);
            }
        }
        let logged = entries.clone();
        self.with(move |m| m.record_notifications(&logged)).await?;
        Ok(entries)
    }

    /// A tick and the delivery of its notifications, awaited (tests step this).
    pub async fn run_once(
        &self,
        now_ms: i64,
        metrics_text: Option<String>,
    ) -> Result<(TickOutcome, Vec<NotificationEntry>), MonitorError> {
        let outcome = self.tick(now_ms, metrics_text).await?;
        let entries = self.dispatch(&outcome.notifications, now_ms).await?;
        Ok((outcome, entries))
    }
}

/// The background work of `serve`: a tick every interval (deliveries run beside it, so a
/// slow receiver never delays the next tick) and one scrape loop per target. Runs until
/// aborted.
pub async fn run(handle: MonitorHandle, metrics: Arc<crate::metrics::Metrics>) {
    // Aborted with this future: a JoinSet aborts its tasks when dropped.
    let mut scrapes = tokio::task::JoinSet::new();
    for target in handle.config.scrape.clone() {
        let handle = handle.clone();
        scrapes.spawn(async move {
            let mut interval =
                tokio::time::interval(Duration::from_secs(target.interval_seconds.max(1)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if let Err(error) = scrape::scrape_into(&handle, &target).await {
                    tracing::warn!(job = %target.job, %error, "scrape failed");
                }
            }
        });
    }
    let mut interval =
        tokio::time::interval(Duration::from_secs(handle.config.interval_seconds.max(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = handle.now_ms();
        match handle.tick(now, Some(metrics.encode())).await {
            Ok(outcome) => {
                if !outcome.notifications.is_empty() {
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        if let Err(error) = handle.dispatch(&outcome.notifications, now).await {
                            tracing::error!(%error, "logging notifications failed");
                        }
                    });
                }
            }
            Err(error) => tracing::error!(%error, "monitor tick failed"),
        }
    }
}
