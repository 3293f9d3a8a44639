//! The server's configuration: defaults, overridden by a TOML file, overridden by
//! `SHOWRUNNER_*` environment variables (docs/server.md lists every setting).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Every setting of `showrunner serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on (`SHOWRUNNER_LISTEN`).
    pub listen: String,
    /// The database (`SHOWRUNNER_DB`): an SQLite file's path (the default), or a
    /// `postgres://` URL shared by every replica (docs/scaling.md).
    pub db: PathBuf,
    /// Largest request body accepted, in bytes, after gzip decoding too
    /// (`SHOWRUNNER_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Most rows in one `POST /v1/events` (`SHOWRUNNER_MAX_BATCH_EVENTS`).
    pub max_batch_events: usize,
    /// How often the store is polled for a newer model and new API keys
    /// (`SHOWRUNNER_POLL_SECONDS`).
    pub poll_seconds: u64,
    /// A request taking longer is answered 408 (`SHOWRUNNER_REQUEST_TIMEOUT_SECONDS`).
    pub request_timeout_seconds: u64,
    /// Threads building home-page rows (`SHOWRUNNER_ROWS_THREADS`).
    pub rows_threads: usize,
    /// A client must send a request's headers within this time, or the connection is
    /// closed (slow-loris clients; `SHOWRUNNER_HEADER_READ_TIMEOUT_SECONDS`).
    pub header_read_timeout_seconds: u64,
    /// NATS JetStream as the event bus (`[bus]`; see `bus.rs` and docs/server.md).
    pub bus: crate::bus::BusConfig,
    /// Accounts, sessions, rate limits, proxies, CORS (`[security]`, `SHOWRUNNER_SECURITY_*`;
    /// docs/security.md).
    pub security: crate::security_config::SecurityConfig,
    /// The scheduled jobs (`[jobs]`; docs/automation.md).
    pub jobs: showrunner_jobs::JobsConfig,
    /// The `[monitor]` table: series, detection, alert rules, receivers (docs/monitoring.md).
    pub monitor: crate::monitor::MonitorConfig,
    /// The `[threats]` table: the threat detection pass over logins and plays
    /// (`SHOWRUNNER_THREATS_*`; docs/security.md).
    pub threats: crate::threats::ThreatsConfig,
    /// The `[analytics]` table: whole-range facts kept in memory for the analytics routes.
    pub analytics: AnalyticsConfig,
}

/// How the analytics routes keep whole-range facts in memory (`crate::snapshots`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// A range's facts, once read whole, answer the analytics routes for this long; 0 reads
    /// the store for every request (`SHOWRUNNER_ANALYTICS_SNAPSHOT_SECONDS`).
    pub snapshot_seconds: u64,
    /// Most ranges held at once, the least recently used dropped first; 0 holds none
    /// (`SHOWRUNNER_ANALYTICS_SNAPSHOTS`).
    pub snapshots: usize,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            snapshot_seconds: 300,
            snapshots: 2,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            db: PathBuf::from("showrunner.db"),
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_events: 10_000,
            poll_seconds: 5,
            request_timeout_seconds: 30,
            rows_threads: 2,
            header_read_timeout_seconds: 10,
            bus: crate::bus::BusConfig::default(),
            security: Default::default(),
            jobs: showrunner_jobs::JobsConfig::default(),
            monitor: crate::monitor::MonitorConfig::default(),
            threats: crate::threats::ThreatsConfig::default(),
            analytics: AnalyticsConfig::default(),
        }
    }
}

/// A configuration file or variable that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("setting {setting}: {problem}")]
    Invalid { setting: String, problem: String },
    #[error("environment variable {name}={value:?}: {problem}")]
    Env {
        name: String,
        value: String,
        problem: String,
    },
}

impl Config {
    /// Defaults, then `file` when given, then the `SHOWRUNNER_*` variables among `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        for (name, value) in env {
            config.apply_env(&name, &value)?;
        }
        config.security.validate()?;
        config.threats.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError> {
            value.trim().parse().map_err(|_| ConfigError::Env {
                name: name.into(),
                value: value.into(),
                problem: "not a non-negative whole number".into(),
            })
        }
        fn flag(name: &str, value: &str) -> Result<bool, ConfigError> {
            match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" | "" => Ok(false),
                _ => Err(ConfigError::Env {
                    name: name.into(),
                    value: value.into(),
                    problem: "not a boolean (true/false, 1/0, yes/no, on/off)".into(),
                }),
            }
        }
        match name {
            "SHOWRUNNER_LISTEN" => self.listen = value.to_owned(),
            "SHOWRUNNER_DB" => self.db = PathBuf::from(value),
            "SHOWRUNNER_MAX_BODY_BYTES" => self.max_body_bytes = number(name, value)?,
            "SHOWRUNNER_MAX_BATCH_EVENTS" => self.max_batch_events = number(name, value)?,
            "SHOWRUNNER_POLL_SECONDS" => self.poll_seconds = number(name, value)?,
            "SHOWRUNNER_REQUEST_TIMEOUT_SECONDS" => {
                self.request_timeout_seconds = number(name, value)?
            }
            "SHOWRUNNER_ROWS_THREADS" => self.rows_threads = number(name, value)?,
            "SHOWRUNNER_HEADER_READ_TIMEOUT_SECONDS" => {
                self.header_read_timeout_seconds = number(name, value)?
            }
            "SHOWRUNNER_NATS_URL" => self.bus.nats_url = value.to_owned(),
            "SHOWRUNNER_BUS_STREAM" => self.bus.stream = value.to_owned(),
            "SHOWRUNNER_BUS_PUBLISH" => self.bus.publish = flag(name, value)?,
            "SHOWRUNNER_BUS_CONSUME" => self.bus.consume = flag(name, value)?,
            "SHOWRUNNER_BUS_FETCH_MAX" => self.bus.fetch_max = number(name, value)?,
            "SHOWRUNNER_BUS_WRITERS" => self.bus.writers = number(name, value)?,
            "SHOWRUNNER_ANALYTICS_SNAPSHOT_SECONDS" => {
                self.analytics.snapshot_seconds = number(name, value)?
            }
            "SHOWRUNNER_ANALYTICS_SNAPSHOTS" => self.analytics.snapshots = number(name, value)?,
            _ if name.starts_with("SHOWRUNNER_THREATS_") => self.threats.apply_env(name, value)?,
            _ if name.starts_with("SHOWRUNNER_SECURITY_") => {
                self.security.apply_env(name, value)?
            }
            _ => {}
        }
        Ok(())
    }
}
