-- Migration 8 for PostgreSQL: the data key table and the email lookup index (see the
-- SQLite migration of the same number). The PostgreSQL write path does not seal personal
-- data yet; the tables are here so that both dialects share one schema version.
CREATE TABLE data_keys (
    reference bytea PRIMARY KEY,
    master_id bytea NOT NULL,
    wrapped bytea NOT NULL,
    created_at bigint NOT NULL
);

CREATE INDEX data_keys_by_master ON data_keys (master_id);

ALTER TABLE members ADD COLUMN email_index bytea;
CREATE INDEX members_by_email_index ON members (email_index);
