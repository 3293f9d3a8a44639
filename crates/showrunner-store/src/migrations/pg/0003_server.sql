-- Migration 3 for PostgreSQL: what the HTTP service keeps (see the SQLite migration of the
-- same number). Group commit needs no barrier table here: a commit with
-- synchronous_commit on flushes the WAL up to it, and with it every earlier commit.

-- `key_hash` is the SHA-256 of the key; the key itself is never stored.
CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    key_hash bytea NOT NULL UNIQUE,
    scope text NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint
);

CREATE TABLE models (
    version bigint PRIMARY KEY,
    manifest text NOT NULL,
    blob bytea NOT NULL,
    published_at bigint NOT NULL
);

CREATE INDEX views_by_member ON views (member_id, started_at);
CREATE INDEX views_by_start ON views (started_at);
CREATE INDEX ratings_by_member ON ratings (member_id);
