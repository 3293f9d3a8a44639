-- Migration 1 for PostgreSQL: the schema of 0001_initial.sql in PostgreSQL's dialect.
--
-- Same conventions as the SQLite schema (times are bigint milliseconds since the Unix epoch,
-- list and nested fields are JSON text, no declared foreign keys), with these differences:
-- - event tables hold their texts directly (no `strings` dictionary: PostgreSQL compresses
--   nothing per row either way, and a dictionary would cost a lookup per text in COPY-like
--   bulk inserts);
-- - event ids are text, and the primary key is `(key, id)`: `key` is the event's first key
--   (see key.rs), so time-ordered imports still append to the right edge of the index, and
--   two events whose keys collide are both stored without probing;
-- - plays name their session directly (`session_id`) rather than their view's id.

CREATE TABLE titles (
    id text PRIMARY KEY,
    kind text NOT NULL,
    name text NOT NULL,
    series_id text,
    season_number bigint,
    episode_number bigint,
    genres text NOT NULL,
    release_year bigint,
    duration_s bigint,
    maturity_rating text,
    cast_members text NOT NULL,
    directors text NOT NULL,
    countries text NOT NULL,
    availability text NOT NULL,
    added_at bigint,
    description text,
    updated_at bigint NOT NULL
);

-- `email` and `name` are personal data.
CREATE TABLE members (
    id text PRIMARY KEY,
    email text,
    name text,
    country text,
    signup_at bigint,
    plan text,
    profiles text NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE plays (
    key bigint NOT NULL,
    id text NOT NULL,
    ts bigint NOT NULL,
    member_id text NOT NULL,
    profile_id text,
    title_id text NOT NULL,
    session_id text NOT NULL,
    action text NOT NULL,
    position_s bigint NOT NULL,
    watched_s bigint NOT NULL,
    device text,
    country text,
    request_id text,
    PRIMARY KEY (key, id)
);

-- Exactly one of `thumbs` ('up' / 'down') and `stars` (0.5 to 5) is set.
CREATE TABLE ratings (
    key bigint NOT NULL,
    id text NOT NULL,
    ts bigint NOT NULL,
    member_id text NOT NULL,
    profile_id text,
    title_id text NOT NULL,
    thumbs text,
    stars double precision,
    PRIMARY KEY (key, id)
);

CREATE TABLE impressions (
    key bigint NOT NULL,
    id text NOT NULL,
    ts bigint NOT NULL,
    member_id text NOT NULL,
    profile_id text,
    title_id text NOT NULL,
    row_name text NOT NULL,
    row_rank bigint NOT NULL,
    request_id text NOT NULL,
    device text,
    PRIMARY KEY (key, id)
);

-- `account` and `ip` are personal data.
CREATE TABLE logins (
    key bigint NOT NULL,
    id text NOT NULL,
    ts bigint NOT NULL,
    account text NOT NULL,
    outcome text NOT NULL,
    ip text NOT NULL,
    country text,
    city text,
    latitude double precision,
    longitude double precision,
    asn bigint,
    device text,
    user_agent text,
    PRIMARY KEY (key, id)
);

CREATE TABLE qoe (
    key bigint NOT NULL,
    id text NOT NULL,
    ts bigint NOT NULL,
    session_id text NOT NULL,
    member_id text,
    title_id text,
    startup_ms bigint,
    exit_before_start boolean NOT NULL,
    rebuffer_count bigint NOT NULL,
    rebuffer_ms bigint NOT NULL,
    watch_s bigint NOT NULL,
    avg_bitrate_kbps bigint NOT NULL,
    bitrate_switches bigint NOT NULL,
    error_code text,
    cdn text NOT NULL,
    isp text,
    asn bigint,
    country text NOT NULL,
    device text NOT NULL,
    player text NOT NULL,
    PRIMARY KEY (key, id)
);

CREATE TABLE searches (
    key bigint NOT NULL,
    id text NOT NULL,
    ts bigint NOT NULL,
    member_id text NOT NULL,
    profile_id text,
    query_text text NOT NULL,
    clicked_title_id text,
    request_id text,
    PRIMARY KEY (key, id)
);

-- One row per playback session, maintained from the plays as they are stored.
CREATE TABLE views (
    id bigserial PRIMARY KEY,
    session_id text NOT NULL UNIQUE,
    member_id text NOT NULL,
    profile_id text,
    title_id text NOT NULL,
    device text,
    country text,
    started_at bigint NOT NULL,
    last_at bigint NOT NULL,
    watched_s bigint NOT NULL,
    max_position_s bigint NOT NULL,
    events bigint NOT NULL,
    stopped boolean NOT NULL,
    completion double precision,
    non_human boolean NOT NULL DEFAULT false
);

-- Rejected input rows. The unique key makes re-importing a bad file add nothing.
CREATE TABLE quarantine (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    line bigint NOT NULL,
    raw text NOT NULL,
    raw_hash bigint NOT NULL,
    reason text NOT NULL,
    field text,
    detail text NOT NULL,
    first_seen bigint NOT NULL,
    UNIQUE (source, line, raw_hash)
);

CREATE TABLE imports (
    id bigserial PRIMARY KEY,
    sources text NOT NULL,
    started_at bigint NOT NULL,
    finished_at bigint NOT NULL,
    counts text NOT NULL,
    interrupted boolean NOT NULL
);
