-- Security findings (see `finding.rs`). PostgreSQL does not seal personal data yet:
-- `subject` is the key's own bytes and `key` and `evidence` are stored as given
-- (docs/privacy.md, Limits). One row per (kind, subject, opened_at).
CREATE TABLE IF NOT EXISTS findings (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject BYTEA NOT NULL,
    key TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    detector TEXT NOT NULL,
    evidence TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    UNIQUE (kind, subject, opened_at)
);

CREATE INDEX IF NOT EXISTS findings_by_time ON findings (opened_at);
CREATE INDEX IF NOT EXISTS findings_by_kind ON findings (kind, opened_at);
CREATE INDEX IF NOT EXISTS findings_by_subject ON findings (subject);
