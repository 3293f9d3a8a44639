-- What the HTTP service keeps: API keys (hashed) and published models, plus the indexes
-- its per-member reads need.

-- `key_hash` is the SHA-256 of the key; the key itself is never stored. `scope` is one of
-- `ingest`, `read`, `admin`.
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    key_hash BLOB NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- One row per `showrunner train --publish`; the server serves the highest version.
CREATE TABLE IF NOT EXISTS models (
    version INTEGER PRIMARY KEY,
    manifest TEXT NOT NULL,
    blob BLOB NOT NULL,
    published_at INTEGER NOT NULL
);

-- One row, rewritten with `synchronous=FULL` after a group of batches written with
-- `synchronous=NORMAL`: its commit fsyncs the WAL, and with it every batch of the group
-- (see `ServerStore::write_batches`).
CREATE TABLE IF NOT EXISTS durability_barrier (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS views_by_member ON views (member_id, started_at);
CREATE INDEX IF NOT EXISTS views_by_start ON views (started_at);
CREATE INDEX IF NOT EXISTS ratings_by_member ON ratings (member_key);
