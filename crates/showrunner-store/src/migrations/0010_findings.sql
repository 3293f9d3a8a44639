-- Security findings (see `finding.rs`). `subject` identifies the finding's key without
-- storing it: a keyed hash under the blind index key. `key` and `evidence` are sealed with
-- the store-wide findings key. One row per (kind, subject, opened_at): a repeated detection
-- pass updates the row.
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject BLOB NOT NULL,
    key TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    detector TEXT NOT NULL,
    evidence TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (kind, subject, opened_at)
);

CREATE INDEX IF NOT EXISTS findings_by_time ON findings (opened_at);
CREATE INDEX IF NOT EXISTS findings_by_kind ON findings (kind, opened_at);
CREATE INDEX IF NOT EXISTS findings_by_subject ON findings (subject);
