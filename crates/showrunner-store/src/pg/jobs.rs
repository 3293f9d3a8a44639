//! [`JobStore`] for PostgreSQL: the `job_locks` and `job_runs` tables
//! (`migrations/pg/0006_automation.sql`), and held jobs as session advisory locks.

use postgres::NoTls;
use sha2::{Digest, Sha256};
use showrunner_model::Timestamp;

use super::{AtDb, PgStore};
use crate::StoreError;
use crate::jobs::{HeldJob, JobLock, JobOutcome, JobRun, JobStore};

/// The advisory lock key of a held job: the first 8 bytes of SHA-256 over a prefix and the
/// job's name, so every process derives the same key, and keys do not meet the migration
/// lock's. Two names sharing a key would only take turns.
fn job_lock_key(job: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"showrunner job lock\0")
        .chain_update(job.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// A job held by a session advisory lock on a connection of its own: releasing unlocks and
/// closes it; if the process dies instead, the server ends the session and the lock with it.
struct HeldAdvisory {
    client: postgres::Client,
    key: i64,
    location: std::path::PathBuf,
}

impl HeldJob for HeldAdvisory {
    fn release(self: Box<Self>) -> Result<(), StoreError> {
        // A lock may be released (or dropped) from async code, where the synchronous
        // client cannot block.
        super::off_async(move || self.unlock_and_close())
    }
}

impl HeldAdvisory {
    fn unlock_and_close(mut self: Box<Self>) -> Result<(), StoreError> {
        let unlocked: bool = self
            .client
            .query_one("SELECT pg_advisory_unlock($1)", &[&self.key])
            .at(&self.location)?
            .try_get(0)
            .at(&self.location)?;
        if !unlocked {
            tracing::warn!(
                database = %self.location.display(),
                key = self.key,
                "a held job's advisory lock was already gone"
            );
        }
        // Closing the session would release it as well; closing tells the server at once.
        self.client.close().at(&self.location)
    }
}

impl JobStore for PgStore {
    fn try_lock_job(
        &mut self,
        job: &str,
        holder: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        self.ensure_writable()?;
        // One statement: the row is taken when free, when this holder has it, or when its
        // holder's lease ran out; concurrent callers serialise on the row.
        let taken = self
            .connection()?
            .execute(
                "INSERT INTO job_locks (job, holder, acquired_at, expires_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, \
                     acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
                 WHERE job_locks.holder = excluded.holder OR job_locks.expires_at <= $3",
                &[&job, &holder, &now.millis(), &expires_at.millis()],
            )
            .at(&self.location)?;
        Ok(taken == 1)
    }

    fn unlock_job(&mut self, job: &str, holder: &str) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "DELETE FROM job_locks WHERE job = $1 AND holder = $2",
                &[&job, &holder],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn try_hold_job(&self, job: &str) -> Result<Option<JobLock>, StoreError> {
        let location = &self.location;
        let mut client = self.config.connect(NoTls).at(location)?;
        let key = job_lock_key(job);
        let held: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .at(location)?
            .try_get(0)
            .at(location)?;
        if !held {
            return Ok(None);
        }
        Ok(Some(JobLock::new(
            job,
            Box::new(HeldAdvisory {
                client,
                key,
                location: location.clone(),
            }),
        )))
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
        let row = self
            .connection()?
            .query_one(
                "INSERT INTO job_runs (job, trigger, attempt, started_at, finished_at, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &job,
                    &trigger,
                    &i64::from(attempt),
                    &at.millis(),
                    &finished,
                    &outcome.as_str(),
                ],
            )
            .at(&self.location)?;
        row.try_get(0).at(&self.location)
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
        self.connection()?
            .execute(
                "UPDATE job_runs SET finished_at = $2, outcome = $3, log = $4, figures = $5 \
                 WHERE id = $1",
                &[
                    &id,
                    &at.millis(),
                    &outcome.as_str(),
                    &log,
                    &figures.to_string(),
                ],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn job_runs(&self, job: Option<&str>, limit: u64) -> Result<Vec<JobRun>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT id, job, trigger, attempt, started_at, finished_at, outcome, log, figures \
                 FROM job_runs WHERE $1::text IS NULL OR job = $1 ORDER BY id DESC LIMIT $2",
                &[&job, &(limit.min(i64::MAX as u64) as i64)],
            )
            .at(location)?;
        let corrupt = |column: &'static str, detail: String| StoreError::Corrupt {
            path: location.clone(),
            table: "job_runs",
            column,
            detail,
        };
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            let attempt: i64 = row.try_get(3).at(location)?;
            let outcome: String = row.try_get(6).at(location)?;
            let figures: String = row.try_get(8).at(location)?;
            runs.push(JobRun {
                id: row.try_get(0).at(location)?,
                job: row.try_get(1).at(location)?,
                trigger: row.try_get(2).at(location)?,
                attempt: u32::try_from(attempt)
                    .map_err(|_| corrupt("attempt", format!("{attempt} is not an attempt")))?,
                started_at: Timestamp::from_millis(row.try_get(4).at(location)?),
                finished_at: row
                    .try_get::<_, Option<i64>>(5)
                    .at(location)?
                    .map(Timestamp::from_millis),
                outcome: outcome.parse().map_err(|e| corrupt("outcome", e))?,
                log: row.try_get(7).at(location)?,
                figures: serde_json::from_str(&figures)
                    .map_err(|e| corrupt("figures", e.to_string()))?,
            });
        }
        Ok(runs)
    }
}
