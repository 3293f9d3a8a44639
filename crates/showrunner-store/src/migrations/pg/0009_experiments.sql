-- Migration 9 for PostgreSQL (see the SQLite migration of the same number): experiments
-- (A/B tests of models) and the arm each member was assigned.
CREATE TABLE experiments (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    arms text NOT NULL,
    salt text NOT NULL,
    status text NOT NULL,
    created_at bigint NOT NULL,
    stopped_at bigint,
    created_by text NOT NULL
);

CREATE TABLE experiment_assignments (
    experiment_id bigint NOT NULL,
    member_id text NOT NULL,
    arm text NOT NULL,
    assigned_at bigint NOT NULL,
    PRIMARY KEY (experiment_id, member_id)
);

CREATE INDEX impressions_by_member ON impressions (member_id, ts);
