//! Threat detection inside `showrunner serve`: every `interval_seconds` a pass replays the
//! `login` and `play` events of the last `window_hours` from the store through a fresh
//! `showrunner_security::Scanner`, records every finding with the store's `FindingStore`
//! (a re-observation updates the stored finding instead of adding one), and sends one
//! firing `security_finding` alert through the monitor's receivers for each finding that is
//! new. The `[threats]` table of the configuration is [`ThreatsConfig`].
//!
//! The conversion of a detector's `Finding` into the store's `NewFinding` and the recording
//! ([`record_findings`]) are shared with `showrunner security scan --record`.
//!
//! A pass runs on a blocking thread over its own store connection (request readers and the
//! ingest writer are never held), reading an hour of events at a time, so memory stays
//! bounded by an hour of logins and plays. Passes never overlap: the background loop awaits
//! each one, and the pass state sits behind a lock. Time is passed in
//! ([`ThreatsHandle::run_once`]), so tests step it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use showrunner_model::{Event, EventKind, Timestamp};
use showrunner_monitor::alerts::{Alert, Notification, Severity, State as AlertState};
use showrunner_security::{Finding, FindingKind, Scanner, SecurityConfig};
use showrunner_store::{
    Backend, EventFilter, FindingFilter, FindingStore, NewFinding, NotificationEntry, Recorded,
    Store, StoreError,
};

use crate::config::ConfigError;
use crate::metrics::Metrics;
use crate::monitor::{Clock, MonitorError, MonitorHandle, SystemClock};

const HOUR_MS: i64 = 3_600_000;

/// The most accounts, IPs, ASNs or countries an alert lists (the finding's id leads to the
/// whole evidence through `GET /v1/security/findings`).
pub const ALERT_LIST_CAP: usize = 10;

/// The `[threats]` table: the detection pass of `serve` (docs/security.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThreatsConfig {
    /// Run the pass (`SHOWRUNNER_THREATS_ENABLED`).
    pub enabled: bool,
    /// Seconds between the starts of two passes (`SHOWRUNNER_THREATS_INTERVAL_SECONDS`).
    pub interval_seconds: u64,
    /// How many hours of logins and plays each pass replays
    /// (`SHOWRUNNER_THREATS_WINDOW_HOURS`). Longer than the detectors' learning periods
    /// (takeover 72 h, travel 24 h) and the sharing detector's two days, or those never fire.
    pub window_hours: u64,
    /// The detectors' settings, shaped like `security scan --config` (`[threats.detectors]`).
    pub detectors: SecurityConfig,
    /// The severity of the `security_finding` alert of each kind
    /// (`[threats.alert_severity]`).
    pub alert_severity: AlertSeverities,
}

impl Default for ThreatsConfig {
    fn default() -> Self {
        ThreatsConfig {
            enabled: true,
            interval_seconds: 60,
            window_hours: 96,
            detectors: SecurityConfig::default(),
            alert_severity: AlertSeverities::default(),
        }
    }
}

/// The longest window a pass may replay (90 days).
const MAX_WINDOW_HOURS: u64 = 90 * 24;

impl ThreatsConfig {
    /// Refuses settings a pass cannot run with, naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &str, problem: String| ConfigError::Invalid {
            setting: format!("threats.{setting}"),
            problem,
        };
        if !(1..=86_400).contains(&self.interval_seconds) {
            return Err(invalid(
                "interval_seconds",
                format!("{} is not from 1 to 86400", self.interval_seconds),
            ));
        }
        if !(1..=MAX_WINDOW_HOURS).contains(&self.window_hours) {
            return Err(invalid(
                "window_hours",
                format!("{} is not from 1 to {MAX_WINDOW_HOURS}", self.window_hours),
            ));
        }
        Ok(())
    }

    pub(crate) fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let bad = |problem: &str| ConfigError::Env {
            name: name.into(),
            value: value.into(),
            problem: problem.into(),
        };
        let number = || -> Result<u64, ConfigError> {
            value
                .trim()
                .parse()
                .map_err(|_| bad("not a non-negative whole number"))
        };
        match name {
            "SHOWRUNNER_THREATS_ENABLED" => {
                self.enabled = match value.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => true,
                    "0" | "false" | "no" | "off" | "" => false,
                    _ => return Err(bad("not a boolean (true/false, 1/0, yes/no, on/off)")),
                }
            }
            "SHOWRUNNER_THREATS_INTERVAL_SECONDS" => self.interval_seconds = number()?,
            "SHOWRUNNER_THREATS_WINDOW_HOURS" => self.window_hours = number()?,
            _ => {}
        }
        Ok(())
    }
}

/// One alert severity per finding kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSeverities {
    pub credential_stuffing: Severity,
    pub brute_force: Severity,
    pub account_takeover: Severity,
    pub impossible_travel: Severity,
    pub account_sharing: Severity,
}

impl Default for AlertSeverities {
    fn default() -> Self {
        AlertSeverities {
            credential_stuffing: Severity::Critical,
            brute_force: Severity::Warning,
            account_takeover: Severity::Critical,
            impossible_travel: Severity::Warning,
            account_sharing: Severity::Info,
        }
    }
}

impl AlertSeverities {
    pub fn of(&self, kind: FindingKind) -> Severity {
        match kind {
            FindingKind::CredentialStuffing => self.credential_stuffing,
            FindingKind::BruteForce => self.brute_force,
            FindingKind::AccountTakeover => self.account_takeover,
            FindingKind::ImpossibleTravel => self.impossible_travel,
            FindingKind::AccountSharing => self.account_sharing,
        }
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// The stored severity of a finding of `kind` (the store's `low`..`critical`): a takeover
/// means someone may be inside an account; stuffing and brute force are attacks that may
/// not have succeeded; travel is a signal to look at; sharing is a business matter.
pub fn finding_severity(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::AccountTakeover => "critical",
        FindingKind::CredentialStuffing | FindingKind::BruteForce => "high",
        FindingKind::ImpossibleTravel => "medium",
        FindingKind::AccountSharing => "low",
    }
}

/// A short digest of the detectors' settings: stored with each finding (`detector` is
/// `stuffing@<digest>`), so a finding names the settings that produced it.
pub fn settings_version(config: &SecurityConfig) -> String {
    let text = serde_json::to_vec(config).unwrap_or_default();
    let digest = Sha256::digest(&text);
    digest[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A detector's finding as the store keeps it: kind, stored severity, subject key, first
/// and last event, detector and settings version, and the finding itself as the evidence.
pub fn new_finding(finding: &Finding, settings_version: &str) -> NewFinding {
    NewFinding {
        kind: finding.kind.as_str().to_owned(),
        severity: finding_severity(finding.kind).to_owned(),
        key: finding.subject(),
        opened_at: finding.start,
        last_seen: finding.end,
        detector: format!("{}@{settings_version}", finding.detector()),
        evidence: serde_json::to_string(finding).unwrap_or_default(),
    }
}

/// A finding after recording: its id and whether the store had not seen it before.
#[derive(Debug, Clone)]
pub struct StoredFinding {
    pub id: i64,
    pub is_new: bool,
    pub finding: Finding,
}

/// Stored findings of the same kind and subject a pass may see again looked up per finding.
const CONTINUATION_LOOKUP: usize = 20;

/// Records `findings` and says which were new. A finding that overlaps a stored one of the
/// same kind and subject in time (its first event at or before the stored one's last, its
/// last at or after the stored one's first) continues it: it is recorded under the stored
/// one's opening time, so it updates that row. That is what keeps a sliding window from
/// reporting an attack twice when its first events fall out of the window and the
/// detector sees it open later.
pub fn record_findings<S: FindingStore + ?Sized>(
    store: &mut S,
    findings: &[Finding],
    settings_version: &str,
) -> Result<Vec<StoredFinding>, StoreError> {
    let mut stored = Vec::with_capacity(findings.len());
    for finding in findings {
        let mut record = new_finding(finding, settings_version);
        let earlier = store.findings(&FindingFilter {
            kind: Some(record.kind.clone()),
            key: Some(record.key.clone()),
            until: Some(Timestamp::from_millis(
                record.last_seen.millis().saturating_add(1),
            )),
            limit: CONTINUATION_LOOKUP,
            ..FindingFilter::default()
        })?;
        if let Some(continued) = earlier
            .iter()
            .find(|r| r.finding.last_seen >= record.opened_at)
        {
            record.opened_at = continued.finding.opened_at;
        }
        let recorded = store.record_finding(&record)?;
        stored.push(StoredFinding {
            id: recorded.id(),
            is_new: matches!(recorded, Recorded::New(_)),
            finding: finding.clone(),
        });
    }
    Ok(stored)
}

/// What the detectors found in a span of the store.
#[derive(Debug, Clone, Default)]
pub struct WindowScan {
    pub findings: Vec<Finding>,
    /// Logins and plays fed to the detectors.
    pub events_scanned: u64,
    /// Events older than one already fed (see `Scanner::out_of_order`).
    pub out_of_order: u64,
}

/// Runs a fresh scanner over the logins and plays stored in `[from, until)`, in time
/// order, an hour of events at a time (the store's time-bounded read).
pub fn scan_window<S: Store + ?Sized>(
    store: &S,
    config: &SecurityConfig,
    from: Timestamp,
    until: Timestamp,
) -> Result<WindowScan, StoreError> {
    let mut scanner = Scanner::new(config);
    let mut start = from.millis();
    let mut chunk: Vec<Event> = Vec::new();
    while start < until.millis() {
        let end = start.saturating_add(HOUR_MS).min(until.millis());
        chunk.clear();
        for kind in [EventKind::Login, EventKind::Play] {
            chunk.extend(store.events(&EventFilter {
                kind,
                from: Some(Timestamp::from_millis(start)),
                until: Some(Timestamp::from_millis(end)),
                limit: None,
            })?);
        }
        // Stable: at the same instant logins come before plays, as `security scan` has it.
        chunk.sort_by_key(|event| event.ts);
        for event in &chunk {
            scanner.observe(event);
        }
        start = end;
    }
    let events_scanned = scanner.events_seen();
    let out_of_order = scanner.out_of_order();
    Ok(WindowScan {
        findings: scanner.finish(),
        events_scanned,
        out_of_order,
    })
}

/// What one pass did.
#[derive(Debug, Clone)]
pub struct PassReport {
    /// The replayed span, `[from, until)`.
    pub from: Timestamp,
    pub until: Timestamp,
    pub events_scanned: u64,
    pub out_of_order: u64,
    /// Every finding of the pass, recorded.
    pub findings: Vec<StoredFinding>,
    pub elapsed: Duration,
    /// Another replica was running a pass: this one did nothing.
    pub skipped: bool,
}

impl PassReport {
    /// Findings the store had not seen before (each one is alerted).
    pub fn new_findings(&self) -> impl Iterator<Item = &StoredFinding> {
        self.findings.iter().filter(|f| f.is_new)
    }
}

/// The pass's state: its own store connection and the settings.
pub struct ThreatWatch {
    config: ThreatsConfig,
    settings_version: String,
    store: Box<dyn Backend>,
}

impl std::fmt::Debug for ThreatWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreatWatch")
            .field("store", &self.store)
            .field("settings_version", &self.settings_version)
            .finish()
    }
}

impl ThreatWatch {
    /// Opens the pass's own connection to the database (migrating it when needed).
    pub fn open(db: &Path, config: ThreatsConfig) -> Result<ThreatWatch, StoreError> {
        let store = showrunner_store::open_path(db)?;
        Ok(ThreatWatch {
            settings_version: settings_version(&config.detectors),
            config,
            store,
        })
    }

    /// One pass at `now_ms`: the window `[now - window_hours, now)` scanned and every
    /// finding recorded.
    ///
    /// On a store shared by replicas, a pass holds the job lock `threat-pass` (a
    /// PostgreSQL advisory lock) for its length, so that two replicas never scan at once:
    /// one that finds it held skips its pass (an empty report, `skipped`). Passes that
    /// follow one another merge into the same findings, so only the first alerts.
    pub fn pass(&mut self, now_ms: i64) -> Result<PassReport, StoreError> {
        let started = Instant::now();
        let _held = if self.store.is_shared() {
            match self.store.try_hold_job("threat-pass")? {
                Some(lock) => Some(lock),
                None => {
                    let at = Timestamp::from_millis(now_ms);
                    return Ok(PassReport {
                        from: at,
                        until: at,
                        events_scanned: 0,
                        out_of_order: 0,
                        findings: Vec::new(),
                        elapsed: started.elapsed(),
                        skipped: true,
                    });
                }
            }
        } else {
            None
        };
        let window_ms = i64::try_from(self.config.window_hours)
            .unwrap_or(i64::MAX / HOUR_MS)
            .saturating_mul(HOUR_MS);
        let from = Timestamp::from_millis(now_ms.saturating_sub(window_ms));
        let until = Timestamp::from_millis(now_ms);
        let scan = scan_window(&*self.store, &self.config.detectors, from, until)?;
        let findings = record_findings(&mut *self.store, &scan.findings, &self.settings_version)?;
        Ok(PassReport {
            from,
            until,
            events_scanned: scan.events_scanned,
            out_of_order: scan.out_of_order,
            findings,
            elapsed: started.elapsed(),
            skipped: false,
        })
    }
}

/// A pass could not run, or its alerts could not be logged.
#[derive(Debug, thiserror::Error)]
pub enum ThreatsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Monitor(#[from] MonitorError),
    #[error("the threat detection pass panicked or its lock is poisoned")]
    Poisoned,
}

/// An identifier shown in an alert: an e-mail address keeps its first character and its
/// domain (`a***@example.com`); anything else is shown as it is (member ids, IPs).
pub fn mask_account(account: &str) -> String {
    match account.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => account.to_owned(),
    }
}

fn capped<T: ToString>(items: &[T], total: usize) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(ALERT_LIST_CAP)
        .map(ToString::to_string)
        .collect();
    let more = total.saturating_sub(shown.len());
    if more > 0 {
        format!("{} (+{more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The notification a new finding sends through the monitoring receivers: one firing alert
/// `security_finding` with the kind and severity as labels, and as annotations the reason,
/// the accounts (e-mail addresses masked), IPs, ASNs and countries (at most
/// [`ALERT_LIST_CAP`] of each), the time span and the finding's id. Its fingerprint is the
/// finding's.
pub fn finding_notification(
    stored: &StoredFinding,
    severity: Severity,
    now_ms: i64,
) -> Notification {
    let finding = &stored.finding;
    let kind = finding.kind.as_str();
    let labels = BTreeMap::from([
        ("alertname".to_owned(), "security_finding".to_owned()),
        ("kind".to_owned(), kind.to_owned()),
        ("severity".to_owned(), severity_name(severity).to_owned()),
    ]);
    let masked: Vec<String> = finding.accounts.iter().map(|a| mask_account(a)).collect();
    let subject = if finding.source.is_empty() {
        masked.first().cloned().unwrap_or_default()
    } else {
        finding.source.clone()
    };
    let mut annotations = BTreeMap::from([
        (
            "summary".to_owned(),
            format!(
                "{kind}: {subject} ({} accounts, {} events)",
                finding.account_count, finding.events
            ),
        ),
        ("reason".to_owned(), finding.reason.clone()),
        (
            "accounts".to_owned(),
            capped(
                &masked,
                usize::try_from(finding.account_count).unwrap_or(usize::MAX),
            ),
        ),
        ("ips".to_owned(), capped(&finding.ips, finding.ips.len())),
        ("asns".to_owned(), capped(&finding.asns, finding.asns.len())),
        ("start".to_owned(), finding.start.to_rfc3339()),
        ("end".to_owned(), finding.end.to_rfc3339()),
        ("finding_id".to_owned(), stored.id.to_string()),
        (
            "finding_severity".to_owned(),
            finding_severity(finding.kind).to_owned(),
        ),
    ]);
    if !finding.countries.is_empty() {
        annotations.insert(
            "countries".to_owned(),
            capped(&finding.countries, finding.countries.len()),
        );
    }
    let group_labels = BTreeMap::from([
        ("alertname".to_owned(), "security_finding".to_owned()),
        ("kind".to_owned(), kind.to_owned()),
    ]);
    Notification {
        group_key: format!(
            "alertname=security_finding,kind={kind},finding={}",
            stored.id
        ),
        group_labels,
        alerts: vec![Alert {
            rule: "security_finding".to_owned(),
            fingerprint: format!("security_finding/{}", stored.id),
            state: AlertState::Firing,
            severity,
            labels,
            annotations,
            active_since: finding.start.millis(),
            fired_at: Some(now_ms),
            resolved_at: None,
            value: finding.account_count as f64,
            score: 0.0,
        }],
    }
}

/// The pass as the server shares it: the state behind a lock (used off the async runtime),
/// the metrics, the monitor to alert through (if it is on) and the clock.
#[derive(Clone)]
pub struct ThreatsHandle {
    watch: Arc<Mutex<ThreatWatch>>,
    config: Arc<ThreatsConfig>,
    metrics: Arc<Metrics>,
    monitor: Option<MonitorHandle>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ThreatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreatsHandle").finish_non_exhaustive()
    }
}

impl ThreatsHandle {
    pub fn open(
        db: &Path,
        config: ThreatsConfig,
        metrics: Arc<Metrics>,
        monitor: Option<MonitorHandle>,
    ) -> Result<ThreatsHandle, StoreError> {
        let watch = ThreatWatch::open(db, config.clone())?;
        Ok(ThreatsHandle {
            watch: Arc::new(Mutex::new(watch)),
            config: Arc::new(config),
            metrics,
            monitor,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same pass reading another clock in the background loop.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> ThreatsHandle {
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &ThreatsConfig {
        &self.config
    }

    /// One pass at `now_ms` on a blocking thread (waiting for a pass in progress to end
    /// first), counted in the metrics and logged.
    pub async fn pass(&self, now_ms: i64) -> Result<PassReport, ThreatsError> {
        let watch = Arc::clone(&self.watch);
        let report = tokio::task::spawn_blocking(move || {
            let mut guard = watch.lock().map_err(|_| ThreatsError::Poisoned)?;
            guard.pass(now_ms).map_err(ThreatsError::from)
        })
        .await
        .map_err(|_| ThreatsError::Poisoned)??;
        if report.skipped {
            tracing::debug!("another replica is running the threat detection pass; skipped");
            return Ok(report);
        }
        let mut new_by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
        for stored in report.new_findings() {
            *new_by_kind.entry(stored.finding.kind.as_str()).or_default() += 1;
        }
        for (kind, count) in &new_by_kind {
            self.metrics.count_security_findings(kind, *count);
        }
        self.metrics
            .observe_security_pass(report.elapsed, report.events_scanned);
        // Counts only: the findings' accounts and IPs are personal data.
        tracing::info!(
            events = report.events_scanned,
            out_of_order = report.out_of_order,
            findings = report.findings.len(),
            new = new_by_kind.values().sum::<u64>(),
            seconds = report.elapsed.as_secs_f64(),
            "threat detection pass"
        );
        Ok(report)
    }

    /// One notification per new finding of `report`.
    pub fn notifications(&self, report: &PassReport, now_ms: i64) -> Vec<Notification> {
        report
            .new_findings()
            .map(|stored| {
                let severity = self.config.alert_severity.of(stored.finding.kind);
                finding_notification(stored, severity, now_ms)
            })
            .collect()
    }

    /// A pass and the delivery of its alerts, awaited (tests step this). Without a monitor
    /// the findings are stored and nothing is sent.
    pub async fn run_once(
        &self,
        now_ms: i64,
    ) -> Result<(PassReport, Vec<NotificationEntry>), ThreatsError> {
        let report = self.pass(now_ms).await?;
        let notifications = self.notifications(&report, now_ms);
        let entries = match (&self.monitor, notifications.is_empty()) {
            (Some(monitor), false) => monitor.dispatch(&notifications, now_ms).await?,
            _ => Vec::new(),
        };
        Ok((report, entries))
    }
}

/// The background work of `serve`: a pass every `interval_seconds` (the next one starts
/// only after the previous one ended; alerts are delivered beside it, so a slow receiver
/// never delays a pass). Runs until aborted.
pub async fn run(handle: ThreatsHandle) {
    let mut interval =
        tokio::time::interval(Duration::from_secs(handle.config.interval_seconds.max(1)));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = handle.clock.now_ms();
        match handle.pass(now).await {
            Ok(report) => {
                let notifications = handle.notifications(&report, now);
                if let (Some(monitor), false) = (handle.monitor.clone(), notifications.is_empty()) {
                    tokio::spawn(async move {
                        if let Err(error) = monitor.dispatch(&notifications, now).await {
                            tracing::error!(%error, "logging security finding alerts failed");
                        }
                    });
                }
            }
            Err(error) => tracing::error!(%error, "threat detection pass failed"),
        }
    }
}
