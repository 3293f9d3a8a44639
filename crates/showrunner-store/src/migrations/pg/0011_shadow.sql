-- Migration 11 for PostgreSQL (see the SQLite migration of the same number): the shadowed
-- model, at most one row. The PostgreSQL backend does not implement the registry yet.
CREATE TABLE model_shadow (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL,
    started_at bigint NOT NULL,
    started_by text NOT NULL
);
