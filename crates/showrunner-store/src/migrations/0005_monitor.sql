-- Monitoring: stored metric series (raw samples and downsampled rollups), alert state,
-- alert history, silences and the notification log.

-- One row per series: its key is the metric name and its labels sorted by name,
-- `name{a="x",b="y"}`; `labels` is the same labels as a JSON object.
CREATE TABLE IF NOT EXISTS monitor_series (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    labels TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_series_by_name ON monitor_series (name);

-- Raw samples, kept for the raw retention; a second sample at the same time replaces the first.
CREATE TABLE IF NOT EXISTS monitor_samples (
    series_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
-- The downsampling pass and the raw retention select by time across series.
CREATE INDEX IF NOT EXISTS monitor_samples_by_ts ON monitor_samples (ts);

-- Downsampled buckets (`width_ms` long, starting at `bucket`), kept for the rollup retention.
CREATE TABLE IF NOT EXISTS monitor_rollups (
    series_id INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    width_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS monitor_rollups_by_bucket ON monitor_rollups (bucket);

-- Small named values: the downsampling watermark, the alert engine's saved state.
CREATE TABLE IF NOT EXISTS monitor_meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Every change of an alert's state (pending alerts that never fired are not recorded).
CREATE TABLE IF NOT EXISTS monitor_alert_history (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    state TEXT NOT NULL,
    alert TEXT NOT NULL
);

-- Silences: `matchers` is a JSON object of label name to exact value.
CREATE TABLE IF NOT EXISTS monitor_silences (
    id TEXT PRIMARY KEY,
    matchers TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per notification delivered or given up on, with its attempts and last error.
CREATE TABLE IF NOT EXISTS monitor_notifications (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    receiver TEXT NOT NULL,
    kind TEXT NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    http_status INTEGER,
    error TEXT,
    payload TEXT NOT NULL
);
