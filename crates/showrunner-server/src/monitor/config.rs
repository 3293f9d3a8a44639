//! The `[monitor]` table of the server's configuration file: the evaluation interval, which
//! playback dimensions get their own series, retention and downsampling, scrape targets,
//! alert rules, receivers and routes, and the retry schedule of notifications
//! (docs/monitoring.md has a full example).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use showrunner_monitor::alerts::Rule;
use showrunner_monitor::qoe::Dimension;
use showrunner_store::RetentionPolicy;

/// Every monitoring setting of `showrunner serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Run the monitor (series, detection, alerts) inside `serve`.
    pub enabled: bool,
    /// How often series are computed, detected on and alert rules evaluated.
    pub interval_seconds: u64,
    /// A minute of playback sessions is closed this long after it ends (late reports).
    pub qoe_grace_seconds: u64,
    /// On the first start, playback series are computed from this many minutes back.
    pub qoe_backfill_minutes: u64,
    /// Dimensions with a playback series per value (`cdn`, `isp`, `asn`, `country`,
    /// `device`, `player`, `title`).
    pub qoe_dimensions: Vec<String>,
    /// The detector run on every series (`showrunner detect --help` lists them).
    pub detector: String,
    pub retention: RetentionConfig,
    /// Prometheus targets scraped on an interval.
    pub scrape: Vec<ScrapeTarget>,
    /// Alert rules (see `showrunner_monitor::alerts::Rule`).
    pub rules: Vec<Rule>,
    pub receivers: Vec<Receiver>,
    /// Which receivers get which notifications; without routes every receiver gets all.
    pub routes: Vec<Route>,
    pub retry: RetryConfig,
    /// Where people reach this service (links in notifications).
    pub external_url: String,
    /// Each HTTP request to a receiver or scrape target gives up after this long.
    pub http_timeout_seconds: u64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            enabled: true,
            interval_seconds: 60,
            qoe_grace_seconds: 30,
            qoe_backfill_minutes: 60,
            qoe_dimensions: ["cdn", "isp", "country", "device", "player"]
                .map(String::from)
                .to_vec(),
            detector: "combined".into(),
            retention: RetentionConfig::default(),
            scrape: Vec::new(),
            rules: Vec::new(),
            receivers: Vec::new(),
            routes: Vec::new(),
            retry: RetryConfig::default(),
            external_url: "http://127.0.0.1:8080".into(),
            http_timeout_seconds: 10,
        }
    }
}

/// How long series are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Raw samples (one a minute per series, or as scraped) are kept this many days.
    pub raw_days: u64,
    /// Rollups (mean, min, max, count) are this many minutes wide...
    pub rollup_minutes: u64,
    /// ...and kept this many days.
    pub rollup_days: u64,
    /// The retention and downsampling pass runs this often.
    pub every_minutes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            raw_days: 7,
            rollup_minutes: 60,
            rollup_days: 400,
            every_minutes: 60,
        }
    }
}

impl RetentionConfig {
    pub fn policy(&self) -> RetentionPolicy {
        const MINUTE: i64 = 60_000;
        let width = (self.rollup_minutes.max(1) as i64) * MINUTE;
        RetentionPolicy {
            raw_retention_ms: self.raw_days as i64 * 24 * 60 * MINUTE,
            rollup_width_ms: width,
            rollup_retention_ms: self.rollup_days as i64 * 24 * 60 * MINUTE,
            late_ms: width,
        }
    }
}

/// A Prometheus target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeTarget {
    /// The `job` label of its samples.
    pub job: String,
    /// The exposition's URL, e.g. `http://127.0.0.1:9100/metrics`.
    pub url: String,
    #[serde(default = "default_scrape_interval")]
    pub interval_seconds: u64,
    /// Sent as `Authorization: Bearer ...` when set.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Labels added to every sample.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_scrape_interval() -> u64 {
    60
}

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Receiver {
    /// Any webhook taking Alertmanager's webhook payload (version 4).
    Webhook { name: String, url: String },
    /// A Slack incoming webhook.
    Slack { name: String, url: String },
    /// PagerDuty Events API v2 (trigger and resolve under one dedup key per alert).
    Pagerduty {
        name: String,
        routing_key: String,
        #[serde(default = "default_pagerduty_url")]
        url: String,
    },
    /// A Prometheus Alertmanager: alerts are posted to `<url>/api/v2/alerts`.
    Alertmanager { name: String, url: String },
}

fn default_pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

impl Receiver {
    pub fn name(&self) -> &str {
        match self {
            Receiver::Webhook { name, .. }
            | Receiver::Slack { name, .. }
            | Receiver::Pagerduty { name, .. }
            | Receiver::Alertmanager { name, .. } => name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Receiver::Webhook { .. } => "webhook",
            Receiver::Slack { .. } => "slack",
            Receiver::Pagerduty { .. } => "pagerduty",
            Receiver::Alertmanager { .. } => "alertmanager",
        }
    }
}

/// Sends the notifications whose alerts all carry these labels to a receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub receiver: String,
    #[serde(default)]
    pub matchers: BTreeMap<String, String>,
}

/// Tries per notification and the back-off between them (doubling from `base_ms` up to
/// `max_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    pub attempts: u32,
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 5,
            base_ms: 1_000,
            max_ms: 60_000,
        }
    }
}

/// A monitor setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[monitor] {0}")]
pub struct MonitorConfigError(pub String);

impl MonitorConfig {
    /// The configured dimensions, each checked.
    pub fn dimensions(&self) -> Result<Vec<Dimension>, MonitorConfigError> {
        self.qoe_dimensions
            .iter()
            .map(|name| {
                Dimension::ALL
                    .into_iter()
                    .find(|d| d.name() == name)
                    .ok_or_else(|| {
                        MonitorConfigError(format!(
                            "qoe_dimensions: {name:?} is not a dimension (known: {})",
                            Dimension::ALL.map(Dimension::name).join(", ")
                        ))
                    })
            })
            .collect()
    }

    /// Checks what deserialising cannot: names, URLs, rules, routes to known receivers.
    pub fn check(&self) -> Result<(), MonitorConfigError> {
        self.dimensions()?;
        showrunner_monitor::detector::build(&self.detector)
            .map_err(|e| MonitorConfigError(format!("detector: {e}")))?;
        showrunner_monitor::alerts::AlertEngine::new(self.rules.clone())
            .map_err(|e| MonitorConfigError(format!("rules: {e}")))?;
        let mut names = std::collections::HashSet::new();
        for receiver in &self.receivers {
            if !names.insert(receiver.name()) {
                return Err(MonitorConfigError(format!(
                    "receivers: two receivers are named {:?}",
                    receiver.name()
                )));
            }
            let url = match receiver {
                Receiver::Webhook { url, .. }
                | Receiver::Slack { url, .. }
                | Receiver::Pagerduty { url, .. }
                | Receiver::Alertmanager { url, .. } => url,
            };
            check_url(&format!("receiver {:?}", receiver.name()), url)?;
        }
        for route in &self.routes {
            if !names.contains(route.receiver.as_str()) {
                return Err(MonitorConfigError(format!(
                    "routes: receiver {:?} is not among the receivers",
                    route.receiver
                )));
            }
        }
        for target in &self.scrape {
            check_url(&format!("scrape target {:?}", target.job), &target.url)?;
        }
        if self.retry.attempts == 0 {
            return Err(MonitorConfigError(
                "retry.attempts must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

fn check_url(what: &str, url: &str) -> Result<(), MonitorConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(MonitorConfigError(format!(
            "{what}: url {url:?} must start with http:// or https://"
        )))
    }
}
