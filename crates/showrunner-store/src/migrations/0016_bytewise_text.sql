-- Migration 16: nothing to do on SQLite, whose text columns already compare byte by byte
-- (the BINARY collation). PostgreSQL's migration of the same number gives its text columns
-- the same order ("C"), so both stores sort and compare ids alike.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);
