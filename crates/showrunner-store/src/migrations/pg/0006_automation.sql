-- Migration 6 for PostgreSQL (see the SQLite migration of the same number): the model
-- registry's fields and live history, job runs and locks, and retention's daily rollups.
-- The PostgreSQL backend does not implement the registry, job and retention traits yet.
ALTER TABLE models ADD COLUMN algorithm text NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN parameters text NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN data_from bigint;
ALTER TABLE models ADD COLUMN data_to bigint;
ALTER TABLE models ADD COLUMN metrics text NOT NULL DEFAULT '{}';
ALTER TABLE models ADD COLUMN published_by text NOT NULL DEFAULT '';
ALTER TABLE models ADD COLUMN status text NOT NULL DEFAULT 'candidate';
ALTER TABLE models ADD COLUMN reason text;

CREATE TABLE model_live (
    id bigserial PRIMARY KEY,
    version bigint NOT NULL,
    at bigint NOT NULL,
    actor text NOT NULL,
    reason text NOT NULL
);

UPDATE models SET status = 'retired';
UPDATE models SET status = 'live' WHERE version = (SELECT max(version) FROM models);
INSERT INTO model_live (version, at, actor, reason)
    SELECT version, published_at, 'migration', 'the newest model when the registry was added'
    FROM models WHERE status = 'live';

CREATE TABLE job_runs (
    id bigserial PRIMARY KEY,
    job text NOT NULL,
    trigger text NOT NULL,
    attempt bigint NOT NULL,
    started_at bigint NOT NULL,
    finished_at bigint,
    outcome text NOT NULL,
    log text NOT NULL DEFAULT '',
    figures text NOT NULL DEFAULT '{}'
);
CREATE INDEX job_runs_by_job ON job_runs (job, id);

CREATE TABLE job_locks (
    job text PRIMARY KEY,
    holder text NOT NULL,
    acquired_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE TABLE daily_rollups (
    day bigint NOT NULL,
    kind text NOT NULL,
    title_id text NOT NULL,
    events bigint NOT NULL,
    members bigint NOT NULL,
    PRIMARY KEY (day, kind, title_id)
);
