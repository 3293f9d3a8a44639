-- Migration 12: the shadowed model (see `registry.rs`). While a row is here, servers also
-- score live requests with that model version, without serving it, and report how far it
-- agrees with what was served. At most one row (`id` is always 1); stopping deletes it.
-- `started_at` is ms since the epoch.
CREATE TABLE model_shadow (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    started_by TEXT NOT NULL
);
