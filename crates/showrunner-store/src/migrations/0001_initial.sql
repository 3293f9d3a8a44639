-- Migration 1: the whole schema of the embedded store.
--
-- Conventions: times are INTEGER milliseconds since the Unix epoch (UTC); list and nested
-- fields are JSON text; booleans are INTEGER 0/1. Foreign keys are not declared: the
-- importer checks references before writing, and declared keys would slow bulk ingest.
--
-- Event tables are keyed by `key INTEGER PRIMARY KEY` (the rowid), computed from the event's
-- time and id (see key.rs), so time-ordered imports append to the b-tree and the event id
-- needs no unique index of its own. Secondary indexes are deliberately absent: every index
-- costs ingest time on each row, and the queries that need one (plays by member, say) belong
-- to the features that run them; those add their index in a later migration or after a bulk
-- import.

CREATE TABLE titles (
    id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    series_id TEXT,
    season_number INTEGER,
    episode_number INTEGER,
    genres TEXT NOT NULL,
    release_year INTEGER,
    duration_s INTEGER,
    maturity_rating TEXT,
    cast_members TEXT NOT NULL,
    directors TEXT NOT NULL,
    countries TEXT NOT NULL,
    availability TEXT NOT NULL,
    added_at INTEGER,
    description TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- `email` and `name` are personal data; the security work will encrypt them at rest.
CREATE TABLE members (
    id TEXT NOT NULL PRIMARY KEY,
    email TEXT,
    name TEXT,
    country TEXT,
    signup_at INTEGER,
    plan TEXT,
    profiles TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Repeated short texts of the event tables (member, profile and title ids, devices,
-- countries, actions, ...) are stored once here; the event tables hold their `key` in the
-- columns named `*_key` (a play takes about 70 bytes rather than 110, and is cheaper to
-- insert). The writer keeps the table in memory. Keys are never reused or deleted. Texts
-- that are personal data or nearly unique (accounts, IPs, queries, request and QoE session
-- ids) stay in their rows.
CREATE TABLE strings (
    key INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE
);

-- In every event table, `id` is the event's id: a content-derived id (32 lower-case hex
-- digits) is stored as its 16 bytes in a BLOB, an id given by the client as TEXT.

-- `view_id` is the `id` of the play's session in `views`.
CREATE TABLE plays (
    key INTEGER PRIMARY KEY,
    id NOT NULL,
    ts INTEGER NOT NULL,
    member_key INTEGER NOT NULL,
    profile_key INTEGER,
    title_key INTEGER NOT NULL,
    view_id INTEGER NOT NULL,
    action_key INTEGER NOT NULL,
    position_s INTEGER NOT NULL,
    watched_s INTEGER NOT NULL,
    device_key INTEGER,
    country_key INTEGER,
    request_id TEXT
);

-- Exactly one of `thumbs` ('up' / 'down') and `stars` (0.5 to 5) is set.
CREATE TABLE ratings (
    key INTEGER PRIMARY KEY,
    id NOT NULL,
    ts INTEGER NOT NULL,
    member_key INTEGER NOT NULL,
    profile_key INTEGER,
    title_key INTEGER NOT NULL,
    thumbs TEXT,
    stars REAL
);

CREATE TABLE impressions (
    key INTEGER PRIMARY KEY,
    id NOT NULL,
    ts INTEGER NOT NULL,
    member_key INTEGER NOT NULL,
    profile_key INTEGER,
    title_key INTEGER NOT NULL,
    row_name_key INTEGER NOT NULL,
    row_rank INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    device_key INTEGER
);

-- `account` and `ip` are personal data, and kept as text (not in `strings`) so that they
-- can be erased or encrypted with their rows.
CREATE TABLE logins (
    key INTEGER PRIMARY KEY,
    id NOT NULL,
    ts INTEGER NOT NULL,
    account TEXT NOT NULL,
    outcome_key INTEGER NOT NULL,
    ip TEXT NOT NULL,
    country_key INTEGER,
    city_key INTEGER,
    latitude REAL,
    longitude REAL,
    asn INTEGER,
    device_key INTEGER,
    user_agent TEXT
);

CREATE TABLE qoe (
    key INTEGER PRIMARY KEY,
    id NOT NULL,
    ts INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    member_key INTEGER,
    title_key INTEGER,
    startup_ms INTEGER,
    exit_before_start INTEGER NOT NULL,
    rebuffer_count INTEGER NOT NULL,
    rebuffer_ms INTEGER NOT NULL,
    watch_s INTEGER NOT NULL,
    avg_bitrate_kbps INTEGER NOT NULL,
    bitrate_switches INTEGER NOT NULL,
    error_code_key INTEGER,
    cdn_key INTEGER NOT NULL,
    isp_key INTEGER,
    asn INTEGER,
    country_key INTEGER NOT NULL,
    device_key INTEGER NOT NULL,
    player_key INTEGER NOT NULL
);

CREATE TABLE searches (
    key INTEGER PRIMARY KEY,
    id NOT NULL,
    ts INTEGER NOT NULL,
    member_key INTEGER NOT NULL,
    profile_key INTEGER,
    query_text TEXT NOT NULL,
    clicked_title_key INTEGER,
    request_id TEXT
);

-- One row per playback session, maintained from the plays as they are stored. `id` is
-- declared (rather than the implicit rowid) so that VACUUM keeps it: plays refer to it.
CREATE TABLE views (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    member_id TEXT NOT NULL,
    profile_id TEXT,
    title_id TEXT NOT NULL,
    device TEXT,
    country TEXT,
    started_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    watched_s INTEGER NOT NULL,
    max_position_s INTEGER NOT NULL,
    events INTEGER NOT NULL,
    stopped INTEGER NOT NULL,
    completion REAL,
    non_human INTEGER NOT NULL DEFAULT 0
);

-- Rejected input rows. The unique key makes re-importing a bad file add nothing.
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    line INTEGER NOT NULL,
    raw TEXT NOT NULL,
    raw_hash INTEGER NOT NULL,
    reason TEXT NOT NULL,
    field TEXT,
    detail TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    UNIQUE (source, line, raw_hash)
);

CREATE TABLE imports (
    id INTEGER PRIMARY KEY,
    sources TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    counts TEXT NOT NULL,
    interrupted INTEGER NOT NULL
);
