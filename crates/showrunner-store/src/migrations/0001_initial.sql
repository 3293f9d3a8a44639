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

CREATE TABLE plays (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    profile_id TEXT,
    title_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    action TEXT NOT NULL,
    position_s INTEGER NOT NULL,
    watched_s INTEGER NOT NULL,
    device TEXT,
    country TEXT,
    request_id TEXT
);

-- Exactly one of `thumbs` ('up' / 'down') and `stars` (0.5 to 5) is set.
CREATE TABLE ratings (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    profile_id TEXT,
    title_id TEXT NOT NULL,
    thumbs TEXT,
    stars REAL
);

CREATE TABLE impressions (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    profile_id TEXT,
    title_id TEXT NOT NULL,
    row_name TEXT NOT NULL,
    row_rank INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    device TEXT
);

-- `ip` is personal data.
CREATE TABLE logins (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    account TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ip TEXT NOT NULL,
    country TEXT,
    city TEXT,
    latitude REAL,
    longitude REAL,
    asn INTEGER,
    device TEXT,
    user_agent TEXT
);

CREATE TABLE qoe (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    session_id TEXT NOT NULL,
    member_id TEXT,
    title_id TEXT,
    startup_ms INTEGER,
    exit_before_start INTEGER NOT NULL,
    rebuffer_count INTEGER NOT NULL,
    rebuffer_ms INTEGER NOT NULL,
    watch_s INTEGER NOT NULL,
    avg_bitrate_kbps INTEGER NOT NULL,
    bitrate_switches INTEGER NOT NULL,
    error_code TEXT,
    cdn TEXT NOT NULL,
    isp TEXT,
    asn INTEGER,
    country TEXT NOT NULL,
    device TEXT NOT NULL,
    player TEXT NOT NULL
);

CREATE TABLE searches (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    profile_id TEXT,
    query_text TEXT NOT NULL,
    clicked_title_id TEXT,
    request_id TEXT
);

-- One row per playback session, maintained from the plays as they are stored.
CREATE TABLE views (
    session_id TEXT NOT NULL PRIMARY KEY,
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
) WITHOUT ROWID;

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
