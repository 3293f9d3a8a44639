-- Migration 15: nothing to do on SQLite, which one process serves. PostgreSQL's migration of
-- the same number keeps the serve replicas sharing a database (their heartbeats), so each
-- can take its share of the rate limits.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);
