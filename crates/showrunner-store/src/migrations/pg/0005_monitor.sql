-- Migration 5 for PostgreSQL (see the SQLite migration of the same number): the monitor's
-- series, rollups, alert history, silences and notification log. The PostgreSQL backend
-- does not implement the series and alert store traits yet.
CREATE TABLE monitor_series (
    id bigserial PRIMARY KEY,
    key text NOT NULL UNIQUE,
    name text NOT NULL,
    labels text NOT NULL
);
CREATE INDEX monitor_series_by_name ON monitor_series (name);

CREATE TABLE monitor_samples (
    series_id bigint NOT NULL,
    ts bigint NOT NULL,
    value double precision NOT NULL,
    PRIMARY KEY (series_id, ts)
);
CREATE INDEX monitor_samples_by_ts ON monitor_samples (ts);

CREATE TABLE monitor_rollups (
    series_id bigint NOT NULL,
    bucket bigint NOT NULL,
    width_ms bigint NOT NULL,
    count bigint NOT NULL,
    sum double precision NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    PRIMARY KEY (series_id, bucket)
);
CREATE INDEX monitor_rollups_by_bucket ON monitor_rollups (bucket);

CREATE TABLE monitor_meta (
    name text PRIMARY KEY,
    value text NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE monitor_alert_history (
    id bigserial PRIMARY KEY,
    at bigint NOT NULL,
    fingerprint text NOT NULL,
    rule text NOT NULL,
    state text NOT NULL,
    alert text NOT NULL
);

CREATE TABLE monitor_silences (
    id text PRIMARY KEY,
    matchers text NOT NULL,
    starts_at bigint NOT NULL,
    ends_at bigint NOT NULL,
    created_by text NOT NULL,
    comment text NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE monitor_notifications (
    id bigserial PRIMARY KEY,
    at bigint NOT NULL,
    receiver text NOT NULL,
    kind text NOT NULL,
    group_key text NOT NULL,
    status text NOT NULL,
    attempts bigint NOT NULL,
    http_status bigint,
    error text,
    payload text NOT NULL
);
