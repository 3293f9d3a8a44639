-- Migration 11: nothing to do on SQLite, whose models have been registered since migration 6.
-- PostgreSQL's migration of the same number makes the newest of the models published there
-- before its backend kept the registry live, as migration 6 did here.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);
