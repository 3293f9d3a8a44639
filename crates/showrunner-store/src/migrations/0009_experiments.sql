-- Migration 9: A/B tests of models (see `experiment.rs`). An experiment splits members
-- between two or more arms, each serving one model version; `arms` is a JSON array of
-- `{"name", "model_version", "weight"}`. `salt` keys the hash that assigns members to arms
-- (secret, so members cannot choose their arm). `status` is `running` or `stopped`; times
-- are ms since the epoch.
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    arms TEXT NOT NULL,
    salt TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    stopped_at INTEGER,
    created_by TEXT NOT NULL
);

-- A member's arm in an experiment, recorded the first time a response served them from it
-- (insert-or-ignore: later responses change nothing).
CREATE TABLE experiment_assignments (
    experiment_id INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    arm TEXT NOT NULL,
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, member_id)
) WITHOUT ROWID;

-- The per-arm figures read each assigned member's impressions since assignment.
CREATE INDEX IF NOT EXISTS impressions_by_member ON impressions (member_key, ts);
