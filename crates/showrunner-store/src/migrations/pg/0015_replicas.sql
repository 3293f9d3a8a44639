-- Migration 15 for PostgreSQL: the `serve` replicas sharing this database. Each upserts its
-- row on every poll; a row not refreshed for a few polls is a replica that stopped, and is
-- deleted by the next heartbeat. The count of live rows divides the per-key and per-IP rate
-- limits between the replicas.
CREATE TABLE IF NOT EXISTS serve_replicas (
    id text PRIMARY KEY,
    seen_at bigint NOT NULL
);
