-- Automation: the model registry (what each published model is, who published it, whether
-- it is live), the history of live changes (rollback goes back along it), scheduled job
-- runs with their lock rows, and the daily rollups that retention keeps of purged events.

-- Registry fields of every model. `status` is one of `candidate`, `live`, `rejected`,
-- `retired`; exactly one model is `live` once any model has been made live. `parameters`
-- and `metrics` are JSON objects; `data_from` and `data_to` (ms since the epoch) bound the
-- interactions it was trained on.
ALTER TABLE models ADD COLUMN algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN parameters TEXT NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN data_from INTEGER;
ALTER TABLE models ADD COLUMN data_to INTEGER;
ALTER TABLE models ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN published_by TEXT NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN status TEXT NOT NULL DEFAULT 'candidate';
ALTER TABLE models ADD COLUMN reason TEXT;

-- Every change of the live model, oldest first: the live model is the last row's version.
CREATE TABLE model_live (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL
);

-- Before the registry the highest version was served: it stays live, the others retire.
UPDATE models SET status = 'retired';
UPDATE models SET status = 'live' WHERE version = (SELECT max(version) FROM models);
INSERT INTO model_live (version, at, actor, reason)
    SELECT version, published_at, 'migration', 'the newest model when the registry was added'
    FROM models WHERE status = 'live';

-- One row per run of a scheduled job (and per retry). `outcome` is `running`,
-- `succeeded`, `failed` or `skipped`; `figures` is a JSON object of what the run measured.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    trigger TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT NOT NULL,
    log TEXT NOT NULL DEFAULT '',
    figures TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX job_runs_by_job ON job_runs (job, id);

-- One row per job while a run of it holds the lock: a second scheduler (another replica)
-- or `showrunner jobs run` finds it and does not start the job again. A lock whose holder
-- died is taken over after `expires_at`.
CREATE TABLE job_locks (
    job TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- What retention keeps of the raw events it purges: per UTC day (ms of its midnight), event
-- kind and title (empty for kinds without one, e.g. logins), the number of events and of
-- distinct members.
CREATE TABLE daily_rollups (
    day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    title_id TEXT NOT NULL,
    events INTEGER NOT NULL,
    members INTEGER NOT NULL,
    PRIMARY KEY (day, kind, title_id)
) WITHOUT ROWID;
