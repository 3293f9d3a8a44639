-- Migration 14: nothing to do on SQLite, whose servers poll the file for model changes.
-- PostgreSQL's migration of the same number notifies listening replicas whenever the models
-- served change.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);
