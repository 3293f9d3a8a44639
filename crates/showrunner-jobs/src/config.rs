//! The `[jobs]` table of the server's configuration file. A job runs only when its table is
//! present (`[jobs.retrain]`, `[jobs.backup]`, `[jobs.retention]`); docs/automation.md lists
//! every setting.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::JobError;
use crate::schedule::Schedule;

/// Every setting of the scheduler and its jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Whether `showrunner serve` runs the scheduler (`showrunner jobs run` works either way).
    pub enabled: bool,
    /// A run holds its job's lock at most this long; a lock left by a process that died is
    /// taken over after it.
    pub lock_seconds: u64,
    pub retry: RetryConfig,
    /// Severity of the `job_failed` alert sent through the monitoring receivers when a run
    /// fails its last attempt.
    pub alert_severity: AlertSeverity,
    pub retrain: Option<RetrainConfig>,
    pub backup: Option<BackupConfig>,
    pub retention: Option<RetentionConfig>,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            enabled: true,
            lock_seconds: 6 * 3600,
            retry: RetryConfig::default(),
            alert_severity: AlertSeverity::Warning,
            retrain: None,
            backup: None,
            retention: None,
        }
    }
}

/// The severity label of a job failure alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

/// How a failed run is retried: after `first_delay_seconds`, then `factor` times longer
/// each time, at most `max_delay_seconds`, for `max_attempts` tries in all (the first
/// included). The next scheduled run happens anyway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    pub max_attempts: u32,
    pub first_delay_seconds: u64,
    pub factor: f64,
    pub max_delay_seconds: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            first_delay_seconds: 60,
            factor: 4.0,
            max_delay_seconds: 3600,
        }
    }
}

impl RetryConfig {
    /// The wait before try number `attempt + 1`, after try `attempt` (from 1) failed.
    pub fn delay_after(&self, attempt: u32) -> std::time::Duration {
        let exponent = attempt.saturating_sub(1).min(30) as i32;
        let seconds = (self.first_delay_seconds as f64 * self.factor.max(1.0).powi(exponent))
            .min(self.max_delay_seconds as f64);
        std::time::Duration::from_secs_f64(seconds.max(0.0))
    }
}

/// `[jobs.retrain]`: retrain the recommendation model behind the quality gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrainConfig {
    pub schedule: String,
    /// `auto` (search every algorithm), `live` (the live model's algorithm and
    /// parameters), or one of `ease`, `itemknn`, `ials`, `pop` with default parameters.
    pub algo: String,
    /// The candidate is published only if its NDCG@10 is at least the live model's minus
    /// this.
    pub margin: f64,
    /// The share of each member's latest interactions held out for the gate.
    pub holdout_fraction: f64,
    /// Members with fewer interactions are not held out (they all train).
    pub min_events: usize,
    /// Halve an event's confidence every N days of age (as `train --decay-days`).
    pub decay_days: Option<f64>,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        RetrainConfig {
            schedule: "0 3 * * *".into(),
            algo: "auto".into(),
            margin: 0.01,
            holdout_fraction: 0.2,
            min_events: 5,
            decay_days: None,
        }
    }
}

/// `[jobs.backup]`: a consistent copy of the database into `dir`, keeping the newest `keep`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    pub schedule: String,
    pub dir: PathBuf,
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            schedule: "0 2 * * *".into(),
            dir: PathBuf::from("backups"),
            keep: 7,
        }
    }
}

/// `[jobs.retention]`: roll up and purge raw events older than `raw_events_days`, purge
/// quarantined rows older than `quarantine_days`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    pub schedule: String,
    pub raw_events_days: u32,
    pub quarantine_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            schedule: "30 4 * * *".into(),
            raw_events_days: 90,
            quarantine_days: 30,
        }
    }
}

fn bad(setting: &str, problem: impl Into<String>) -> JobError {
    JobError::Config {
        setting: setting.to_owned(),
        problem: problem.into(),
    }
}

pub(crate) fn schedule(setting: &str, text: &str) -> Result<Schedule, JobError> {
    Schedule::parse(text).map_err(|problem| bad(setting, problem))
}

/// The algorithms `[jobs.retrain] algo` accepts.
pub const RETRAIN_ALGOS: [&str; 6] = ["auto", "live", "ease", "itemknn", "ials", "pop"];

impl JobsConfig {
    /// Checks every setting, so a bad one fails at start-up with its name.
    pub fn validate(&self) -> Result<(), JobError> {
        if self.retry.max_attempts == 0 {
            return Err(bad("retry.max_attempts", "must be at least 1"));
        }
        if !(self.retry.factor.is_finite() && self.retry.factor >= 1.0) {
            return Err(bad("retry.factor", "must be a number of at least 1"));
        }
        if self.lock_seconds == 0 {
            return Err(bad("lock_seconds", "must be at least 1"));
        }
        if let Some(retrain) = &self.retrain {
            schedule("retrain.schedule", &retrain.schedule)?;
            if !RETRAIN_ALGOS.contains(&retrain.algo.as_str()) {
                return Err(bad(
                    "retrain.algo",
                    format!(
                        "{:?} is not one of {}",
                        retrain.algo,
                        RETRAIN_ALGOS.join(", ")
                    ),
                ));
            }
            if !(retrain.margin.is_finite() && retrain.margin >= 0.0) {
                return Err(bad("retrain.margin", "must be a non-negative number"));
            }
            if !(retrain.holdout_fraction > 0.0 && retrain.holdout_fraction < 1.0) {
                return Err(bad(
                    "retrain.holdout_fraction",
                    "must be between 0 and 1 (exclusive)",
                ));
            }
            if retrain.min_events < 2 {
                return Err(bad("retrain.min_events", "must be at least 2"));
            }
        }
        if let Some(backup) = &self.backup {
            schedule("backup.schedule", &backup.schedule)?;
            if backup.keep == 0 {
                return Err(bad("backup.keep", "must be at least 1"));
            }
            if backup.dir.as_os_str().is_empty() {
                return Err(bad("backup.dir", "must name a directory"));
            }
        }
        if let Some(retention) = &self.retention {
            schedule("retention.schedule", &retention.schedule)?;
            if retention.raw_events_days == 0 {
                return Err(bad("retention.raw_events_days", "must be at least 1"));
            }
            if retention.quarantine_days == 0 {
                return Err(bad("retention.quarantine_days", "must be at least 1"));
            }
        }
        Ok(())
    }
}
