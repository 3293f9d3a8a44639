//! Automation: the chores a streaming data team would otherwise script by hand, run by
//! showrunner itself, visibly and safely.
//!
//! - [`scheduler`]: cron schedules ([`schedule`]), one run of a job at a time (a lock row
//!   in the store), every run recorded with its log excerpt and figures, failures retried
//!   with back-off; time comes from a [`Clock`], so tests step it instead of sleeping;
//! - [`retrain`]: trains a candidate, evaluates it and the live model's configuration on
//!   a recent holdout, and publishes it only if it passes the quality [`gate`];
//! - [`backup`]: scheduled backups with N kept, and [`backup::restore`];
//! - [`retention`]: raw events rolled up and purged after a horizon, quarantine purged
//!   after its own;
//! - [`training`]: the store's views, ratings and impressions as training signals (also
//!   used by `showrunner train --db`).
//!
//! Configuration is [`JobsConfig`] (the `[jobs]` table of the server's config file). Only
//! configured jobs are registered: a job that would do nothing is not scheduled.
//!
//! No HTTP and no async runtime: the server runs the scheduler on a thread of its own.

pub mod backup;
pub mod clock;
pub mod config;
mod error;
pub mod gate;
pub mod retention;
pub mod retrain;
pub mod schedule;
pub mod scheduler;
pub mod training;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AlertSeverity, BackupConfig, JobsConfig, RetentionConfig, RetrainConfig, RetryConfig,
};
pub use error::JobError;
pub use schedule::Schedule;
pub use scheduler::{Job, RunContext, ScheduleInfo, Scheduler};
