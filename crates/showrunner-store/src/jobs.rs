//! What the job scheduler keeps in the store: a lock row per job (one run of a job at a
//! time, across every scheduler sharing the database) and the record of every run (start,
//! end, outcome, a log excerpt and the figures it measured).
//!
//! Times are passed in by the caller, so a scheduler driven by a stepped clock in tests
//! records the times of that clock.
//!
//! Besides the lock rows (a lease that a dead holder loses when it expires), a job can be
//! *held* for as long as a [`JobLock`] lives ([`JobStore::try_hold_job`]): on PostgreSQL a
//! session advisory lock on a connection of its own, which the server releases the moment
//! that connection ends, so a crashed process never keeps a job locked; on SQLite (one
//! writing process) a process-wide set of held jobs per database file.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;

use crate::{Store, StoreError};

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    Running,
    Succeeded,
    Failed,
    /// Not started: another run of the job held its lock.
    Skipped,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Running => "running",
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Failed => "failed",
            JobOutcome::Skipped => "skipped",
        }
    }
}

impl fmt::Display for JobOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobOutcome {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "running" => Ok(JobOutcome::Running),
            "succeeded" => Ok(JobOutcome::Succeeded),
            "failed" => Ok(JobOutcome::Failed),
            "skipped" => Ok(JobOutcome::Skipped),
            other => Err(format!("unknown job outcome {other:?}")),
        }
    }
}

/// One recorded run of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    /// `schedule`, `retry` or `manual`.
    pub trigger: String,
    /// 1 for the first try, 2 for the first retry, ...
    pub attempt: u32,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub outcome: JobOutcome,
    /// The last lines the run logged (an excerpt, not the whole log).
    pub log: String,
    /// What the run measured, as a JSON object.
    pub figures: serde_json::Value,
}

/// How a backend lets go of a held job.
pub(crate) trait HeldJob: Send {
    fn release(self: Box<Self>) -> Result<(), StoreError>;
}

/// A job held exclusively: no other [`JobStore::try_hold_job`] of the same job on the same
/// database succeeds until this is released or dropped.
pub struct JobLock {
    job: String,
    held: Option<Box<dyn HeldJob>>,
}

impl JobLock {
    pub(crate) fn new(job: &str, held: Box<dyn HeldJob>) -> JobLock {
        JobLock {
            job: job.to_owned(),
            held: Some(held),
        }
    }

    /// The job held.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// Lets go of the job now, reporting a failure (dropping the lock releases it too, and
    /// only logs one).
    pub fn release(mut self) -> Result<(), StoreError> {
        match self.held.take() {
            Some(held) => held.release(),
            None => Ok(()),
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Some(held) = self.held.take()
            && let Err(error) = held.release()
        {
            tracing::warn!(job = %self.job, %error, "releasing the job's lock failed");
        }
    }
}

impl fmt::Debug for JobLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobLock")
            .field("job", &self.job)
            .field("held", &self.held.is_some())
            .finish()
    }
}

/// The scheduler's reads and writes. Backends hide their SQL as for [`Store`].
pub trait JobStore: Store {
    /// Takes the lock of `job` for `holder` until `expires_at`, unless another holder has
    /// it and it has not expired. Returns whether the lock was taken.
    fn try_lock_job(
        &mut self,
        job: &str,
        holder: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Releases the lock of `job` if `holder` has it.
    fn unlock_job(&mut self, job: &str, holder: &str) -> Result<(), StoreError>;

    /// Holds `job` until the returned lock is released or dropped, unless another holder
    /// (another store on the same database, here or in another process) has it: then
    /// `None`. Independent of the lock rows of [`JobStore::try_lock_job`].
    fn try_hold_job(&self, job: &str) -> Result<Option<JobLock>, StoreError>;

    /// Records the start of a run; returns its id.
    fn start_job_run(
        &mut self,
        job: &str,
        trigger: &str,
        attempt: u32,
        at: Timestamp,
        outcome: JobOutcome,
    ) -> Result<i64, StoreError>;

    /// Records how a run ended.
    fn finish_job_run(
        &mut self,
        id: i64,
        at: Timestamp,
        outcome: JobOutcome,
        log: &str,
        figures: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// The newest runs first, of one job or of all; at most `limit`.
    fn job_runs(&self, job: Option<&str>, limit: u64) -> Result<Vec<JobRun>, StoreError>;
}
