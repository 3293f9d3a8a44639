//! [`JobStore`] for SQLite: the `job_locks` and `job_runs` tables (migration
//! `0006_automation.sql`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use showrunner_model::Timestamp;

use super::{AtPath, SqliteStore};
use crate::StoreError;
use crate::jobs::{HeldJob, JobLock, JobOutcome, JobRun, JobStore};

/// The jobs held in this process, as (database, job). SQLite has one writing process, so a
/// set in that process is enough for one run of a job at a time.
static HELD_JOBS: Mutex<Option<HashSet<(String, String)>>> = Mutex::new(None);

fn held_jobs<T>(change: impl FnOnce(&mut HashSet<(String, String)>) -> T) -> T {
    // The set stays consistent whatever panicked while holding it (one insert or remove).
    let mut guard = HELD_JOBS.lock().unwrap_or_else(PoisonError::into_inner);
    change(guard.get_or_insert_with(HashSet::new))
}

struct HeldInProcess {
    entry: (String, String),
}

impl HeldJob for HeldInProcess {
    fn release(self: Box<Self>) -> Result<(), StoreError> {
        held_jobs(|held| held.remove(&self.entry));
        Ok(())
    }
}

impl SqliteStore {
    /// Which database this store is, for the held jobs: the file's canonical path, or for
    /// a database in memory (private to this store) the address of the store's vault,
    /// which is allocated per store and does not move.
    fn job_scope(&self) -> String {
        if self.path == std::path::Path::new(":memory:") {
            return format!(":memory:{:p}", Arc::as_ptr(&self.vault));
        }
        std::fs::canonicalize(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .display()
            .to_string()
    }
}

impl JobStore for SqliteStore {
    fn try_lock_job(
        &mut self,
        job: &str,
        holder: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        // IMMEDIATE: two schedulers checking the same lock serialise here.
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let held: Option<(String, i64)> = transaction
            .query_row(
                "SELECT holder, expires_at FROM job_locks WHERE job = ?1",
                [job],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .at(&path)?;
        if let Some((other, until)) = held
            && other != holder
            && until > now.millis()
        {
            return Ok(false);
        }
        transaction
            .execute(
                "INSERT OR REPLACE INTO job_locks (job, holder, acquired_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![job, holder, now.millis(), expires_at.millis()],
            )
            .at(&path)?;
        transaction.commit().at(&path)?;
        Ok(true)
    }

    fn unlock_job(&mut self, job: &str, holder: &str) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "DELETE FROM job_locks WHERE job = ?1 AND holder = ?2",
                params![job, holder],
            )
            .at(&self.path)?;
        Ok(())
    }

    fn try_hold_job(&self, job: &str) -> Result<Option<JobLock>, StoreError> {
        let entry = (self.job_scope(), job.to_owned());
        if !held_jobs(|held| held.insert(entry.clone())) {
            return Ok(None);
        }
        Ok(Some(JobLock::new(job, Box::new(HeldInProcess { entry }))))
    }

    fn start_job_run(
        &mut self,
        job: &str,
        trigger: &str,
        attempt: u32,
        at: Timestamp,
        outcome: JobOutcome,
    ) -> Result<i64, StoreError> {
        self.ensure_writable()?;
        let finished = (outcome != JobOutcome::Running).then_some(at.millis());
        self.connection
            .execute(
                "INSERT INTO job_runs (job, trigger, attempt, started_at, finished_at, outcome) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    job,
                    trigger,
                    attempt,
                    at.millis(),
                    finished,
                    outcome.as_str()
                ],
            )
            .at(&self.path)?;
        Ok(self.connection.last_insert_rowid())
    }

    fn finish_job_run(
        &mut self,
        id: i64,
        at: Timestamp,
        outcome: JobOutcome,
        log: &str,
        figures: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "UPDATE job_runs SET finished_at = ?2, outcome = ?3, log = ?4, figures = ?5 \
                 WHERE id = ?1",
                params![id, at.millis(), outcome.as_str(), log, figures.to_string()],
            )
            .at(&self.path)?;
        Ok(())
    }

    fn job_runs(&self, job: Option<&str>, limit: u64) -> Result<Vec<JobRun>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, job, trigger, attempt, started_at, finished_at, outcome, log, figures \
                 FROM job_runs WHERE ?1 IS NULL OR job = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .at(path)?;
        let rows = statement
            .query_map(params![job, limit.min(i64::MAX as u64) as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u32>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, String>(8)?,
                ))
            })
            .at(path)?;
        let corrupt = |column: &'static str, detail: String| StoreError::Corrupt {
            path: path.clone(),
            table: "job_runs",
            column,
            detail,
        };
        let mut runs = Vec::new();
        for row in rows {
            let (id, job, trigger, attempt, started, finished, outcome, log, figures) =
                row.at(path)?;
            runs.push(JobRun {
                id,
                job,
                trigger,
                attempt,
                started_at: Timestamp::from_millis(started),
                finished_at: finished.map(Timestamp::from_millis),
                outcome: outcome.parse().map_err(|e| corrupt("outcome", e))?,
                log,
                figures: serde_json::from_str(&figures)
                    .map_err(|e| corrupt("figures", e.to_string()))?,
            });
        }
        Ok(runs)
    }
}
