-- Migration 13: nothing to do on SQLite, which has sealed personal data since migration 8.
-- PostgreSQL's migration of the same number marks the columns that now hold sealed values,
-- and the opening store seals the values written there in the clear before it (see
-- `pg/vault.rs`, `seal_plain_rows`).
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);
