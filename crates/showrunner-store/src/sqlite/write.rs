//! The write path: one batch in one transaction (titles, members, events with exactly-once
//! dedup, the views their plays update, quarantined rows), the derived-data refresh and the
//! import log.
//!
//! Speed matters here (about a million rows a second on one core is the target), so every
//! statement is prepared once and cached, values are bound straight from the batch without
//! copying, and a batch's plays are folded into one upsert per session.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::ToSql;
use rusqlite::{
    CachedStatement, Connection, OptionalExtension, Transaction, TransactionBehavior, params,
};
use showrunner_model::{
    Batch, BatchOutcome, Event, EventBody, EventKind, Member, Play, PlayAction, Quarantined,
    RatingValue, Title,
};
use xxhash_rust::xxh3::xxh3_64;

use super::AtPath;
use crate::key::event_key;
use crate::{DerivedSummary, ImportLog, StoreError};

/// How many keys after its first one an event may be stored at. Two different events share
/// a key with probability about 2^-31 per pair within one second, so a chain of even two is
/// rare; a chain this long means the table holds something that is not an event key.
pub(crate) const PROBE_LIMIT: i64 = 64;

/// Watching beyond this in one UTC day on one device marks a member's views as non-human.
const NON_HUMAN_SECONDS_PER_DAY: i64 = 20 * 3600;

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

fn json_text<T: serde::Serialize + ?Sized>(
    path: &Path,
    table: &'static str,
    column: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt {
        path: path.to_owned(),
        table,
        column,
        detail: format!("cannot encode as JSON: {error}"),
    })
}

pub(super) fn write_batch(
    connection: &mut Connection,
    path: &Path,
    batch: &Batch,
) -> Result<BatchOutcome, StoreError> {
    // IMMEDIATE takes the write lock up front, so a busy database fails (after the busy
    // timeout) before any work rather than at the first write.
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .at(path)?;
    let now = now_millis();
    let mut outcome = BatchOutcome {
        // Titles first: the views' completion below reads the batch's runtimes.
        titles_upserted: upsert_titles(&transaction, path, &batch.titles, now)?,
        members_upserted: upsert_members(&transaction, path, &batch.members, now)?,
        ..BatchOutcome::default()
    };
    let sessions = insert_events(&transaction, path, &batch.events, &mut outcome)?;
    upsert_views(&transaction, path, &sessions)?;
    outcome.quarantined_new = insert_quarantined(&transaction, path, &batch.quarantined, now)?;
    // With synchronous=FULL in WAL mode, commit returns after the WAL is fsync'd.
    transaction.commit().at(path)?;
    Ok(outcome)
}

fn upsert_titles(
    transaction: &Transaction<'_>,
    path: &Path,
    titles: &[Title],
    now: i64,
) -> Result<u64, StoreError> {
    if titles.is_empty() {
        return Ok(0);
    }
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO titles (id, kind, name, series_id, season_number, episode_number, \
                 genres, release_year, duration_s, maturity_rating, cast_members, directors, \
                 countries, availability, added_at, description, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
                 series_id = excluded.series_id, season_number = excluded.season_number, \
                 episode_number = excluded.episode_number, genres = excluded.genres, \
                 release_year = excluded.release_year, duration_s = excluded.duration_s, \
                 maturity_rating = excluded.maturity_rating, \
                 cast_members = excluded.cast_members, directors = excluded.directors, \
                 countries = excluded.countries, availability = excluded.availability, \
                 added_at = excluded.added_at, description = excluded.description, \
                 updated_at = excluded.updated_at",
        )
        .at(path)?;
    for title in titles {
        statement
            .execute(params![
                title.id,
                title.kind.as_str(),
                title.name,
                title.series_id,
                title.season_number,
                title.episode_number,
                json_text(path, "titles", "genres", &title.genres)?,
                title.release_year,
                title.duration_s,
                title.maturity_rating,
                json_text(path, "titles", "cast_members", &title.cast)?,
                json_text(path, "titles", "directors", &title.directors)?,
                json_text(path, "titles", "countries", &title.countries)?,
                json_text(path, "titles", "availability", &title.availability)?,
                title.added_at.map(|ts| ts.millis()),
                title.description,
                now,
            ])
            .at(path)?;
    }
    Ok(titles.len() as u64)
}

fn upsert_members(
    transaction: &Transaction<'_>,
    path: &Path,
    members: &[Member],
    now: i64,
) -> Result<u64, StoreError> {
    if members.is_empty() {
        return Ok(0);
    }
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO members (id, email, name, country, signup_at, plan, profiles, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, \
                 country = excluded.country, signup_at = excluded.signup_at, \
                 plan = excluded.plan, profiles = excluded.profiles, \
                 updated_at = excluded.updated_at",
        )
        .at(path)?;
    for member in members {
        statement
            .execute(params![
                member.id,
                member.email.as_ref().map(|email| email.expose()),
                member.name.as_ref().map(|name| name.expose()),
                member.country,
                member.signup_at.map(|ts| ts.millis()),
                member.plan,
                json_text(path, "members", "profiles", &member.profiles)?,
                now,
            ])
            .at(path)?;
    }
    Ok(members.len() as u64)
}

/// Where each event kind is stored: table, columns in binding order, and their count.
/// Indexed by [`kind_index`].
struct EventTable {
    table: &'static str,
    columns: &'static str,
    column_count: usize,
}

const EVENT_TABLES: [EventTable; 6] = [
    EventTable {
        table: "plays",
        columns: "key, id, ts, member_id, profile_id, title_id, session_id, action, position_s, \
                  watched_s, device, country, request_id",
        column_count: 13,
    },
    EventTable {
        table: "ratings",
        columns: "key, id, ts, member_id, profile_id, title_id, thumbs, stars",
        column_count: 8,
    },
    EventTable {
        table: "impressions",
        columns: "key, id, ts, member_id, profile_id, title_id, row_name, row_rank, request_id, \
                  device",
        column_count: 10,
    },
    EventTable {
        table: "logins",
        columns: "key, id, ts, account, outcome, ip, country, city, latitude, longitude, asn, \
                  device, user_agent",
        column_count: 13,
    },
    EventTable {
        table: "qoe",
        columns: "key, id, ts, session_id, member_id, title_id, startup_ms, exit_before_start, \
                  rebuffer_count, rebuffer_ms, watch_s, avg_bitrate_kbps, bitrate_switches, \
                  error_code, cdn, isp, asn, country, device, player",
        column_count: 20,
    },
    EventTable {
        table: "searches",
        columns: "key, id, ts, member_id, profile_id, query_text, clicked_title_id, request_id",
        column_count: 8,
    },
];

/// Rows per multi-row INSERT. Starting, stepping and resetting a statement costs about as
/// much as a row's own work; one statement of 64 rows spreads that cost (measured about 7%
/// faster than one row per statement in `store_speed`; 16 to 256 rows perform alike).
const ROWS_PER_INSERT: usize = 64;

pub(crate) fn kind_index(kind: EventKind) -> usize {
    match kind {
        EventKind::Play => 0,
        EventKind::Rating => 1,
        EventKind::Impression => 2,
        EventKind::Login => 3,
        EventKind::Qoe => 4,
        EventKind::Search => 5,
    }
}

pub(crate) fn table_of(kind: EventKind) -> &'static str {
    EVENT_TABLES[kind_index(kind)].table
}

/// The insert statements of every kind: `[kind][0]` for one row, `[kind][1]` for
/// [`ROWS_PER_INSERT`] rows. Plain INSERTs: the keys were checked free before, so a conflict
/// would be a bug and must fail loudly rather than lose an event.
fn insert_sql() -> &'static [[String; 2]; 6] {
    static SQL: OnceLock<[[String; 2]; 6]> = OnceLock::new();
    SQL.get_or_init(|| {
        std::array::from_fn(|index| {
            let table = &EVENT_TABLES[index];
            let row = format!("({})", vec!["?"; table.column_count].join(", "));
            let rows = vec![row.as_str(); ROWS_PER_INSERT].join(", ");
            [
                format!(
                    "INSERT INTO {} ({}) VALUES {row}",
                    table.table, table.columns
                ),
                format!(
                    "INSERT INTO {} ({}) VALUES {rows}",
                    table.table, table.columns
                ),
            ]
        })
    })
}

/// A session's plays accepted in this batch, folded together. Borrowed from the batch, so
/// folding allocates nothing per event.
struct SessionFold<'a> {
    /// Member, profile, title, device and country of the earliest event seen.
    first: &'a Play,
    started_at: i64,
    last_at: i64,
    watched_s: u32,
    max_position_s: u32,
    events: u64,
    stopped: bool,
}

impl<'a> SessionFold<'a> {
    fn new(ts: i64, play: &'a Play) -> Self {
        SessionFold {
            first: play,
            started_at: ts,
            last_at: ts,
            watched_s: play.watched_s,
            max_position_s: play.position_s,
            events: 1,
            stopped: play.action == PlayAction::Stop,
        }
    }

    fn add(&mut self, ts: i64, play: &'a Play) {
        if ts < self.started_at {
            self.started_at = ts;
            self.first = play;
        }
        self.last_at = self.last_at.max(ts);
        self.watched_s = self.watched_s.max(play.watched_s);
        self.max_position_s = self.max_position_s.max(play.position_s);
        self.events += 1;
        self.stopped |= play.action == PlayAction::Stop;
    }
}

/// Stores each event unless it is already stored, and folds the newly stored plays by
/// session.
///
/// Dedup: an event belongs at its key (see `key.rs`). If that key holds the same id, the
/// event is a duplicate (from an earlier import, a re-run after a crash, or earlier in this
/// batch); if it holds another id, that is a hash collision and the next key is tried
/// (linear probing); a free key is the event's. Deleting an event (erasure requests, a later
/// feature) must therefore leave a tombstone row with its id at its key: a hole in a probe
/// chain would let a re-import store a collided event a second time.
///
/// This is the `INSERT ... ON CONFLICT (key) DO NOTHING`, then "read the id at the key"
/// scheme, with the checks done before inserting so the inserts can be batched: each kind's
/// events are sorted by key; a key above the table's largest key is free without a lookup
/// (the common case: an import appends newer events), a key below it is looked up; keys
/// taken earlier in this batch are found in the (sorted) list of placed events.
fn insert_events<'a>(
    transaction: &Transaction<'_>,
    path: &Path,
    events: &'a [Event],
    outcome: &mut BatchOutcome,
) -> Result<HashMap<&'a str, SessionFold<'a>>, StoreError> {
    let mut sessions: HashMap<&'a str, SessionFold<'a>> = HashMap::new();
    let mut by_kind: [Vec<(i64, usize)>; 6] = Default::default();
    for (position, event) in events.iter().enumerate() {
        let key =
            event_key(event.ts, &event.id).ok_or_else(|| StoreError::TimestampOutOfRange {
                path: path.to_owned(),
                event_id: event.id.clone(),
                ts_millis: event.ts.millis(),
            })?;
        by_kind[kind_index(event.kind())].push((key, position));
    }
    for (index, mut rows) in by_kind.into_iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        // Stable: of two events with one key, the earlier in the batch is placed first.
        rows.sort_by_key(|(key, _)| *key);
        let placed = place_events(transaction, path, index, events, &rows, outcome)?;
        insert_placed(transaction, path, index, events, &placed)?;
        outcome.events_accepted += placed.len() as u64;
        if index == kind_index(EventKind::Play) {
            let mut accepted = vec![false; events.len()];
            for (_, position) in &placed {
                accepted[*position] = true;
            }
            for (event, accepted) in events.iter().zip(accepted) {
                if !accepted {
                    continue;
                }
                if let EventBody::Play(play) = &event.body {
                    let ts = event.ts.millis();
                    sessions
                        .entry(play.session_id.as_str())
                        .and_modify(|fold| fold.add(ts, play))
                        .or_insert_with(|| SessionFold::new(ts, play));
                }
            }
        }
    }
    Ok(sessions)
}

/// What a key holds, as far as placing one event is concerned.
enum KeyHolds {
    Free,
    SameEvent,
    OtherEvent,
}

/// Chooses the key of every new event of one kind and counts the duplicates. `rows` are
/// sorted by first key; the result is sorted by key too: placed keys only grow, because a
/// probe passes only keys that are taken, and keys stay taken.
fn place_events(
    transaction: &Transaction<'_>,
    path: &Path,
    index: usize,
    events: &[Event],
    rows: &[(i64, usize)],
    outcome: &mut BatchOutcome,
) -> Result<Vec<(i64, usize)>, StoreError> {
    let table = EVENT_TABLES[index].table;
    let largest_stored: Option<i64> = transaction
        .prepare_cached(&format!("SELECT max(key) FROM {table}"))
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .at(path)?;
    let mut lookup = transaction
        .prepare_cached(&format!("SELECT id FROM {table} WHERE key = ?1"))
        .at(path)?;
    let mut placed: Vec<(i64, usize)> = Vec::with_capacity(rows.len());
    for &(first_key, position) in rows {
        let event = &events[position];
        let mut key = first_key;
        loop {
            if key >= first_key.saturating_add(PROBE_LIMIT) {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    table,
                    column: "key",
                    detail: format!(
                        "no free key within {PROBE_LIMIT} of {first_key} for event {:?}",
                        event.id
                    ),
                });
            }
            let holds = match placed_at(events, &placed, key) {
                Some(other) if other.id == event.id => KeyHolds::SameEvent,
                Some(_) => KeyHolds::OtherEvent,
                None if largest_stored.is_none_or(|largest| key > largest) => KeyHolds::Free,
                None => lookup
                    .query_row([key], |row| {
                        Ok(if row.get_ref(0)?.as_str()? == event.id {
                            KeyHolds::SameEvent
                        } else {
                            KeyHolds::OtherEvent
                        })
                    })
                    .optional()
                    .at(path)?
                    .unwrap_or(KeyHolds::Free),
            };
            match holds {
                KeyHolds::Free => {
                    placed.push((key, position));
                    break;
                }
                KeyHolds::SameEvent => {
                    outcome.events_duplicate += 1;
                    break;
                }
                KeyHolds::OtherEvent => key += 1,
            }
        }
    }
    Ok(placed)
}

/// The event placed at `key` in this batch, if any. `placed` is sorted by key, and the
/// usual question (is a key above everything placed so far) is answered by its last entry.
fn placed_at<'a>(events: &'a [Event], placed: &[(i64, usize)], key: i64) -> Option<&'a Event> {
    match placed.last() {
        None => None,
        Some(&(last, _)) if key > last => None,
        _ => placed
            .binary_search_by_key(&key, |(placed_key, _)| *placed_key)
            .ok()
            .map(|found| &events[placed[found].1]),
    }
}

/// Inserts placed events (sorted by key) [`ROWS_PER_INSERT`] at a time, the rest one by one.
fn insert_placed(
    transaction: &Transaction<'_>,
    path: &Path,
    index: usize,
    events: &[Event],
    placed: &[(i64, usize)],
) -> Result<(), StoreError> {
    if placed.is_empty() {
        return Ok(());
    }
    let column_count = EVENT_TABLES[index].column_count;
    let [one_row_sql, many_rows_sql] = &insert_sql()[index];
    let mut chunks = placed.chunks_exact(ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let mut many = transaction.prepare_cached(many_rows_sql).at(path)?;
        for chunk in &mut chunks {
            for (row, &(key, position)) in chunk.iter().enumerate() {
                bind_event(&mut many, row * column_count, key, &events[position]).at(path)?;
            }
            many.raw_execute().at(path)?;
        }
    }
    let remainder = chunks.remainder();
    if !remainder.is_empty() {
        let mut one = transaction.prepare_cached(one_row_sql).at(path)?;
        for &(key, position) in remainder {
            bind_event(&mut one, 0, key, &events[position]).at(path)?;
            one.raw_execute().at(path)?;
        }
    }
    Ok(())
}

/// Binds one event's columns, in [`EventTable::columns`] order, after parameter `offset`.
fn bind_event(
    statement: &mut CachedStatement<'_>,
    offset: usize,
    key: i64,
    event: &Event,
) -> Result<(), rusqlite::Error> {
    let mut next = Binder {
        statement,
        index: offset,
    };
    next.bind(key)?;
    next.bind(event.id.as_str())?;
    next.bind(event.ts.millis())?;
    match &event.body {
        EventBody::Play(play) => {
            next.bind(play.member_id.as_str())?;
            next.bind(play.profile_id.as_deref())?;
            next.bind(play.title_id.as_str())?;
            next.bind(play.session_id.as_str())?;
            next.bind(play.action.as_str())?;
            next.bind(play.position_s)?;
            next.bind(play.watched_s)?;
            next.bind(play.device.as_deref())?;
            next.bind(play.country.as_deref())?;
            next.bind(play.request_id.as_deref())?;
        }
        EventBody::Rating(rating) => {
            let (thumbs, stars) = match rating.value {
                RatingValue::Thumbs(thumbs) => (Some(thumbs_code(thumbs)), None),
                RatingValue::Stars(stars) => (None, Some(f64::from(stars))),
            };
            next.bind(rating.member_id.as_str())?;
            next.bind(rating.profile_id.as_deref())?;
            next.bind(rating.title_id.as_str())?;
            next.bind(thumbs)?;
            next.bind(stars)?;
        }
        EventBody::Impression(impression) => {
            next.bind(impression.member_id.as_str())?;
            next.bind(impression.profile_id.as_deref())?;
            next.bind(impression.title_id.as_str())?;
            next.bind(impression.row.as_str())?;
            next.bind(impression.rank)?;
            next.bind(impression.request_id.as_str())?;
            next.bind(impression.device.as_deref())?;
        }
        EventBody::Login(login) => {
            next.bind(login.account.as_str())?;
            next.bind(login.outcome.as_str())?;
            next.bind(login.ip.as_str())?;
            next.bind(login.country.as_deref())?;
            next.bind(login.city.as_deref())?;
            next.bind(login.latitude)?;
            next.bind(login.longitude)?;
            next.bind(login.asn)?;
            next.bind(login.device.as_deref())?;
            next.bind(login.user_agent.as_deref())?;
        }
        EventBody::Qoe(qoe) => {
            next.bind(qoe.session_id.as_str())?;
            next.bind(qoe.member_id.as_deref())?;
            next.bind(qoe.title_id.as_deref())?;
            next.bind(qoe.startup_ms)?;
            next.bind(qoe.exit_before_start)?;
            next.bind(qoe.rebuffer_count)?;
            next.bind(i64::try_from(qoe.rebuffer_ms).unwrap_or(i64::MAX))?;
            next.bind(qoe.watch_s)?;
            next.bind(qoe.avg_bitrate_kbps)?;
            next.bind(qoe.bitrate_switches)?;
            next.bind(qoe.error_code.as_deref())?;
            next.bind(qoe.cdn.as_str())?;
            next.bind(qoe.isp.as_deref())?;
            next.bind(qoe.asn)?;
            next.bind(qoe.country.as_str())?;
            next.bind(qoe.device.as_str())?;
            next.bind(qoe.player.as_str())?;
        }
        EventBody::Search(search) => {
            next.bind(search.member_id.as_str())?;
            next.bind(search.profile_id.as_deref())?;
            next.bind(search.query.as_str())?;
            next.bind(search.clicked_title_id.as_deref())?;
            next.bind(search.request_id.as_deref())?;
        }
    }
    Ok(())
}

/// Binds values to consecutive parameters.
struct Binder<'s, 'c> {
    statement: &'s mut CachedStatement<'c>,
    /// Parameters bound so far (SQLite numbers parameters from 1).
    index: usize,
}

impl Binder<'_, '_> {
    fn bind<T: ToSql>(&mut self, value: T) -> Result<(), rusqlite::Error> {
        self.index += 1;
        self.statement.raw_bind_parameter(self.index, value)
    }
}

pub(crate) fn thumbs_code(thumbs: showrunner_model::event::Thumbs) -> &'static str {
    match thumbs {
        showrunner_model::event::Thumbs::Up => "up",
        showrunner_model::event::Thumbs::Down => "down",
    }
}

/// One upsert per session touched by the batch. Every column is a minimum, a maximum, a sum
/// of distinct new events or the earliest event's value, so the result does not depend on
/// the order of events within or across batches. Completion is recomputed from the title's
/// runtime as stored now (the batch's titles are already written).
fn upsert_views(
    transaction: &Transaction<'_>,
    path: &Path,
    sessions: &HashMap<&str, SessionFold<'_>>,
) -> Result<(), StoreError> {
    if sessions.is_empty() {
        return Ok(());
    }
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO views (session_id, member_id, profile_id, title_id, device, country, \
                 started_at, last_at, watched_s, max_position_s, events, stopped, completion, \
                 non_human) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 (SELECT min(1.0, CAST(?10 AS REAL) / duration_s) FROM titles \
                  WHERE id = ?4 AND duration_s > 0), \
                 0) \
             ON CONFLICT (session_id) DO UPDATE SET \
                 member_id = CASE WHEN excluded.started_at < views.started_at \
                     THEN excluded.member_id ELSE views.member_id END, \
                 profile_id = CASE WHEN excluded.started_at < views.started_at \
                     THEN excluded.profile_id ELSE views.profile_id END, \
                 title_id = CASE WHEN excluded.started_at < views.started_at \
                     THEN excluded.title_id ELSE views.title_id END, \
                 device = CASE WHEN excluded.started_at < views.started_at \
                     THEN excluded.device ELSE views.device END, \
                 country = CASE WHEN excluded.started_at < views.started_at \
                     THEN excluded.country ELSE views.country END, \
                 started_at = min(views.started_at, excluded.started_at), \
                 last_at = max(views.last_at, excluded.last_at), \
                 watched_s = max(views.watched_s, excluded.watched_s), \
                 max_position_s = max(views.max_position_s, excluded.max_position_s), \
                 events = views.events + excluded.events, \
                 stopped = max(views.stopped, excluded.stopped), \
                 completion = (SELECT min(1.0, \
                         CAST(max(views.max_position_s, excluded.max_position_s) AS REAL) \
                         / duration_s) \
                     FROM titles \
                     WHERE id = CASE WHEN excluded.started_at < views.started_at \
                         THEN excluded.title_id ELSE views.title_id END \
                     AND duration_s > 0)",
        )
        .at(path)?;
    // In key order, so consecutive upserts touch neighbouring b-tree pages.
    let mut ordered: Vec<(&&str, &SessionFold<'_>)> = sessions.iter().collect();
    ordered.sort_unstable_by_key(|(session_id, _)| **session_id);
    for (session_id, fold) in ordered {
        let first = fold.first;
        statement
            .execute(params![
                session_id,
                first.member_id,
                first.profile_id,
                first.title_id,
                first.device,
                first.country,
                fold.started_at,
                fold.last_at,
                fold.watched_s,
                fold.max_position_s,
                i64::try_from(fold.events).unwrap_or(i64::MAX),
                fold.stopped,
            ])
            .at(path)?;
    }
    Ok(())
}

fn insert_quarantined(
    transaction: &Transaction<'_>,
    path: &Path,
    rows: &[Quarantined],
    now: i64,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO quarantine (source, line, raw, raw_hash, reason, field, detail, \
                 first_seen) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (source, line, raw_hash) DO NOTHING",
        )
        .at(path)?;
    let mut new_rows = 0;
    for row in rows {
        // The hash of the raw text stands for it in the unique key: the raw text can be
        // 16 KiB, too big to index.
        let raw_hash = xxh3_64(row.raw.as_bytes()) as i64;
        new_rows += statement
            .execute(params![
                row.source,
                i64::try_from(row.line).unwrap_or(i64::MAX),
                row.raw,
                raw_hash,
                row.problem.kind.code(),
                row.problem.field,
                row.problem.detail,
                now,
            ])
            .at(path)? as u64;
    }
    Ok(new_rows)
}

/// Recomputes completion and the non-human flag over all views, writing only the rows that
/// change. Both are single statements over the views table (about a tenth the size of
/// plays), grouped in memory by SQLite.
pub(super) fn refresh_derived(
    connection: &mut Connection,
    path: &Path,
) -> Result<DerivedSummary, StoreError> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .at(path)?;
    transaction
        .execute(
            "UPDATE views SET completion = (SELECT min(1.0, CAST(views.max_position_s AS REAL) \
                 / titles.duration_s) FROM titles \
                 WHERE titles.id = views.title_id AND titles.duration_s > 0) \
             WHERE completion IS NOT (SELECT min(1.0, CAST(views.max_position_s AS REAL) \
                 / titles.duration_s) FROM titles \
                 WHERE titles.id = views.title_id AND titles.duration_s > 0)",
            [],
        )
        .at(path)?;
    // A view belongs to the UTC day it started on; a missing device counts as one device.
    transaction
        .execute(
            "UPDATE views SET non_human = 1 - non_human \
             WHERE non_human <> ((member_id, coalesce(device, ''), started_at / 86400000) IN ( \
                 SELECT member_id, coalesce(device, ''), started_at / 86400000 FROM views \
                 GROUP BY member_id, coalesce(device, ''), started_at / 86400000 \
                 HAVING sum(watched_s) > ?1))",
            [NON_HUMAN_SECONDS_PER_DAY],
        )
        .at(path)?;
    let (views, non_human_views): (i64, i64) = transaction
        .query_row(
            "SELECT count(*), coalesce(sum(non_human), 0) FROM views",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .at(path)?;
    transaction.commit().at(path)?;
    Ok(DerivedSummary {
        views: views as u64,
        non_human_views: non_human_views as u64,
    })
}

pub(super) fn record_import(
    connection: &Connection,
    path: &Path,
    record: &ImportLog,
) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO imports (sources, started_at, finished_at, counts, interrupted) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                json_text(path, "imports", "sources", &record.sources)?,
                record.started_at.millis(),
                record.finished_at.millis(),
                json_text(path, "imports", "counts", &record.counts)?,
                record.interrupted,
            ],
        )
        .at(path)?;
    Ok(())
}
