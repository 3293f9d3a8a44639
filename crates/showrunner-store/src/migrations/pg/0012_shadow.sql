-- Migration 12 for PostgreSQL (see the SQLite migration of the same number): the shadowed
-- model, at most one row.
CREATE TABLE model_shadow (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL,
    started_at bigint NOT NULL,
    started_by text NOT NULL
);
