//! The scheduler: each registered [`Job`] with its cron [`Schedule`], run when due by
//! [`Scheduler::tick`], one run of a job at a time.
//!
//! A run takes the job's lock row in the store first (so a second scheduler on the same
//! database, or `showrunner jobs run` while the service runs the job, records a skipped run
//! instead of running it twice), records its start, runs, and records its end, outcome,
//! the last lines it logged and the figures it returned. A failed run is retried with
//! back-off ([`RetryConfig`]) until it succeeds or runs out of attempts; then the failure
//! is handed to the `on_failure` hook (the service logs it as an error and alerts).
//!
//! Time comes from a [`Clock`]: tests set a [`crate::ManualClock`] and call `tick`, so
//! nothing sleeps. [`Scheduler::spawn`] runs the loop on a thread of its own for the
//! service.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use showrunner_model::Timestamp;
use showrunner_store::{JobOutcome, JobRun};

use crate::clock::Clock;
use crate::config::{JobsConfig, RetryConfig, schedule};
use crate::error::JobError;
use crate::schedule::Schedule;

/// Lines of a run's log kept in its record.
const LOG_EXCERPT_LINES: usize = 40;

/// One kind of scheduled work.
pub trait Job: Send {
    /// The name the job is configured, listed and run by (`retrain`, `backup`, ...).
    fn name(&self) -> &'static str;

    /// Does the work; returns the figures to record (a JSON object). Log what a reader of
    /// the run's record should see with [`RunContext::log`].
    fn run(&self, context: &mut RunContext<'_>) -> Result<serde_json::Value, JobError>;
}

/// What a running job gets: the database, the scheduler's "now", and its log.
#[derive(Debug)]
pub struct RunContext<'a> {
    pub db: &'a Path,
    pub now: Timestamp,
    log: Vec<String>,
}

impl RunContext<'_> {
    /// Adds a line to the run's log (and to the process log).
    pub fn log(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(target: "showrunner_jobs", "{line}");
        self.log.push(line);
    }

    fn excerpt(&self) -> String {
        let skip = self.log.len().saturating_sub(LOG_EXCERPT_LINES);
        let mut text = String::new();
        if skip > 0 {
            text.push_str(&format!("({skip} earlier lines left out)\n"));
        }
        text.push_str(&self.log[skip..].join("\n"));
        text
    }
}

/// A job's schedule as listed by `showrunner jobs` and `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleInfo {
    pub job: String,
    pub schedule: String,
    /// The next scheduled run.
    pub next_run: Option<Timestamp>,
    /// A pending retry of a failed run, and its attempt number.
    pub retry_at: Option<Timestamp>,
    pub retry_attempt: Option<u32>,
}

struct Entry {
    job: Box<dyn Job>,
    schedule: Schedule,
    next_due: Option<Timestamp>,
    /// The next attempt's number and time, after a failure.
    retry: Option<(u32, Timestamp)>,
}

type FailureHook = Box<dyn Fn(&JobRun) + Send>;

/// Runs the registered jobs when due. See the module documentation.
pub struct Scheduler {
    db: PathBuf,
    clock: Arc<dyn Clock>,
    retry: RetryConfig,
    lock_for: Duration,
    /// Who holds the locks this scheduler takes (unique per scheduler).
    holder: String,
    entries: Vec<Entry>,
    on_failure: Option<FailureHook>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("db", &self.db)
            .field("jobs", &self.job_names())
            .finish()
    }
}

/// The schedules of the configured jobs, as they would be listed at `now` (for callers
/// that do not run the scheduler themselves, such as `GET /v1/jobs`).
pub fn configured_schedules(
    config: &JobsConfig,
    now: Timestamp,
) -> Result<Vec<ScheduleInfo>, JobError> {
    let mut out = Vec::new();
    let mut add = |job: &str, text: &str| -> Result<(), JobError> {
        let parsed = schedule(&format!("{job}.schedule"), text)?;
        out.push(ScheduleInfo {
            job: job.to_owned(),
            schedule: parsed.as_str().to_owned(),
            next_run: parsed.next_after(now),
            retry_at: None,
            retry_attempt: None,
        });
        Ok(())
    };
    if let Some(retrain) = &config.retrain {
        add("retrain", &retrain.schedule)?;
    }
    if let Some(backup) = &config.backup {
        add("backup", &backup.schedule)?;
    }
    if let Some(retention) = &config.retention {
        add("retention", &retention.schedule)?;
    }
    Ok(out)
}

impl Scheduler {
    /// A scheduler with no jobs. Use [`Scheduler::from_config`] for the configured ones.
    pub fn new(db: &Path, clock: Arc<dyn Clock>, config: &JobsConfig) -> Scheduler {
        let holder = format!(
            "{}-{}-{:x}",
            std::process::id(),
            clock.now().millis(),
            rand_suffix()
        );
        Scheduler {
            db: db.to_owned(),
            clock,
            retry: config.retry.clone(),
            lock_for: Duration::from_secs(config.lock_seconds.max(1)),
            holder,
            entries: Vec::new(),
            on_failure: None,
        }
    }

    /// A scheduler with every job configured in `config` (checked first).
    pub fn from_config(
        db: &Path,
        clock: Arc<dyn Clock>,
        config: &JobsConfig,
    ) -> Result<Scheduler, JobError> {
        config.validate()?;
        let mut scheduler = Scheduler::new(db, clock, config);
        if let Some(retrain) = &config.retrain {
            scheduler.register(
                Box::new(crate::retrain::RetrainJob::new(retrain.clone())),
                schedule("retrain.schedule", &retrain.schedule)?,
            );
        }
        if let Some(backup) = &config.backup {
            scheduler.register(
                Box::new(crate::backup::BackupJob::new(backup.clone())),
                schedule("backup.schedule", &backup.schedule)?,
            );
        }
        if let Some(retention) = &config.retention {
            scheduler.register(
                Box::new(crate::retention::RetentionJob::new(retention.clone())),
                schedule("retention.schedule", &retention.schedule)?,
            );
        }
        Ok(scheduler)
    }

    /// Adds a job; its first run is the schedule's next time after now.
    pub fn register(&mut self, job: Box<dyn Job>, schedule: Schedule) {
        let next_due = schedule.next_after(self.clock.now());
        self.entries.retain(|e| e.job.name() != job.name());
        self.entries.push(Entry {
            job,
            schedule,
            next_due,
            retry: None,
        });
    }

    /// Called with the record of a run that failed its last attempt.
    pub fn on_failure(&mut self, hook: impl Fn(&JobRun) + Send + 'static) {
        self.on_failure = Some(Box::new(hook));
    }

    pub fn job_names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.job.name()).collect()
    }

    pub fn schedules(&self) -> Vec<ScheduleInfo> {
        self.entries
            .iter()
            .map(|e| ScheduleInfo {
                job: e.job.name().to_owned(),
                schedule: e.schedule.as_str().to_owned(),
                next_run: e.next_due,
                retry_at: e.retry.map(|(_, at)| at),
                retry_attempt: e.retry.map(|(attempt, _)| attempt),
            })
            .collect()
    }

    /// The earliest time something is due.
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.entries
            .iter()
            .flat_map(|e| [e.next_due, e.retry.map(|(_, at)| at)])
            .flatten()
            .min()
    }

    /// Runs every job due at the clock's now, one after the other, and returns their
    /// records. A schedule that fired several times since the last tick (the service was
    /// down) runs once.
    pub fn tick(&mut self) -> Result<Vec<JobRun>, JobError> {
        let mut runs = Vec::new();
        for index in 0..self.entries.len() {
            let now = self.clock.now();
            let entry = &self.entries[index];
            let scheduled = entry.next_due.is_some_and(|due| due <= now);
            let retry = entry.retry.filter(|(_, at)| *at <= now);
            let (trigger, attempt) = if scheduled {
                ("schedule", 1)
            } else if let Some((attempt, _)) = retry {
                ("retry", attempt)
            } else {
                continue;
            };
            if scheduled {
                let next = entry.schedule.next_after(now);
                self.entries[index].next_due = next;
            }
            runs.push(self.run_entry(index, trigger, attempt)?);
        }
        Ok(runs)
    }

    /// Runs one job now (`showrunner jobs run NAME`), with the same lock and record as a
    /// scheduled run. A failure is recorded and returned, not retried.
    pub fn run_now(&mut self, name: &str) -> Result<JobRun, JobError> {
        let index = self
            .entries
            .iter()
            .position(|e| e.job.name() == name)
            .ok_or_else(|| JobError::UnknownJob {
                name: name.to_owned(),
                configured: if self.entries.is_empty() {
                    "none".to_owned()
                } else {
                    self.job_names().join(", ")
                },
            })?;
        let retry = self.entries[index].retry;
        let run = self.run_entry(index, "manual", 1)?;
        // A manual run does not disturb a pending retry of a scheduled one, unless it
        // succeeded (then there is nothing left to retry).
        self.entries[index].retry = if run.outcome == JobOutcome::Succeeded {
            None
        } else {
            retry
        };
        Ok(run)
    }

    fn run_entry(&mut self, index: usize, trigger: &str, attempt: u32) -> Result<JobRun, JobError> {
        let name = self.entries[index].job.name();
        let mut store = showrunner_store::open_path(&self.db)?;
        let started = self.clock.now();
        let expires = Timestamp::from_millis(started.millis() + self.lock_for.as_millis() as i64);
        // Two locks: the hold (a PostgreSQL advisory lock, or a per-process set on SQLite)
        // is released by the server if this process dies, so schedulers on several
        // replicas never run a job at once; the lease row (with its expiry) also says who
        // runs it to anyone reading the database, and covers processes on other machines
        // sharing an SQLite file over a network share.
        let hold = store.try_hold_job(name)?;
        if hold.is_none() || !store.try_lock_job(name, &self.holder, started, expires)? {
            let id = store.start_job_run(name, trigger, attempt, started, JobOutcome::Skipped)?;
            let log = "another run of this job holds its lock; not started";
            store.finish_job_run(
                id,
                started,
                JobOutcome::Skipped,
                log,
                &serde_json::json!({}),
            )?;
            tracing::warn!(job = name, "{log}");
            return Ok(JobRun {
                id,
                job: name.to_owned(),
                trigger: trigger.to_owned(),
                attempt,
                started_at: started,
                finished_at: Some(started),
                outcome: JobOutcome::Skipped,
                log: log.to_owned(),
                figures: serde_json::json!({}),
            });
        }
        let id = store.start_job_run(name, trigger, attempt, started, JobOutcome::Running)?;
        tracing::info!(job = name, trigger, attempt, "job started");
        let mut context = RunContext {
            db: &self.db,
            now: started,
            log: Vec::new(),
        };
        let job = &self.entries[index].job;
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run(&mut context)))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_owned());
                    Err(JobError::Failed(format!("the job panicked: {message}")))
                });
        let (outcome, figures) = match result {
            Ok(figures) => (JobOutcome::Succeeded, figures),
            Err(error) => {
                context.log(format!("failed: {error}"));
                (JobOutcome::Failed, serde_json::json!({}))
            }
        };
        let finished = self.clock.now();
        let log = context.excerpt();
        store.finish_job_run(id, finished, outcome, &log, &figures)?;
        store.unlock_job(name, &self.holder)?;
        if let Some(hold) = hold {
            hold.release()?;
        }
        let run = JobRun {
            id,
            job: name.to_owned(),
            trigger: trigger.to_owned(),
            attempt,
            started_at: started,
            finished_at: Some(finished),
            outcome,
            log,
            figures,
        };
        let entry = &mut self.entries[index];
        if outcome == JobOutcome::Failed {
            if attempt < self.retry.max_attempts {
                let delay = self.retry.delay_after(attempt);
                let at = Timestamp::from_millis(finished.millis() + delay.as_millis() as i64);
                entry.retry = Some((attempt + 1, at));
                tracing::warn!(job = name, attempt, retry_at = %at, "job failed; will retry");
            } else {
                entry.retry = None;
                tracing::error!(job = name, attempt, log = %run.log, "job failed for good");
                if let Some(hook) = &self.on_failure {
                    hook(&run);
                }
            }
        } else if outcome == JobOutcome::Succeeded {
            entry.retry = None;
            tracing::info!(job = name, "job succeeded");
        }
        Ok(run)
    }

    /// Runs the scheduler on its own thread with the system's time, until `stop` is set.
    /// It wakes when something is due, and at least every `poll` to notice `stop`.
    pub fn spawn(
        mut self,
        stop: Arc<AtomicBool>,
        poll: Duration,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("showrunner-jobs".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Err(error) = self.tick() {
                        tracing::error!(%error, "the job scheduler could not run a job");
                    }
                    let now = self.clock.now();
                    let wait = self
                        .next_wake()
                        .map_or(poll, |at| {
                            Duration::from_millis((at.millis() - now.millis()).max(0) as u64)
                        })
                        .min(poll);
                    std::thread::park_timeout(wait.max(Duration::from_millis(10)));
                }
            })
    }
}

/// A number unique within the process, so two schedulers of one process hold different
/// locks.
fn rand_suffix() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
