//! The write path: one batch in one transaction (titles, members, events with exactly-once
//! dedup, the views their plays update, quarantined rows), the derived-data refresh and the
//! import log.
//!
//! Speed matters here (about a million rows a second on one core is the target), so every
//! statement is prepared once and cached, event rows are compact (repeated texts are keys
//! into `strings`, kept in memory by [`WriteCache`]; derived ids are 16-byte BLOBs; a play
//! refers to its view by `id`), a batch's plays are folded into one upsert per session, and
//! the batch is read once, in its own order, into compact rows that are then bound in key
//! order.
//!
//! The hot statements say `OR FAIL`: with the default `ABORT`, SQLite keeps a statement
//! journal (a copy of every page a statement touches, to undo just that statement), which
//! cost about a fifth of the write time. Any failure fails the whole batch, whose
//! transaction is then rolled back, so undoing one statement buys nothing.

use std::collections::HashMap;
use std::num::NonZeroI64;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::{ToSql, ValueRef};
use rusqlite::{
    CachedStatement, Connection, OptionalExtension, Transaction, TransactionBehavior, params,
};
use showrunner_model::{
    Batch, BatchOutcome, Event, EventBody, EventKind, Member, Play, PlayAction, Quarantined,
    RatingValue, Title,
};

use super::{AtPath, vault};
use crate::key::event_key;
use crate::vault::Vault;
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

/// The in-memory copy of the `strings` dictionary: text to key, filled as texts are met
/// (a text not found here is looked up, then added, in the database). It lives as long as
/// the store, so after the first batches every lookup is a hash lookup; it holds the few
/// hundred thousand member, profile and title ids of a platform (tens of MB at most), never
/// session or request ids. Entries added by a batch that then fails are dropped with the
/// whole cache, since the rolled-back transaction took their rows with it.
#[derive(Default)]
pub(crate) struct WriteCache {
    /// foldhash (seeded per process): the lookup runs several times an event, and SipHash
    /// lookups were 4% of the ingest writer's time.
    keys: HashMap<String, StringKey, foldhash::fast::RandomState>,
    /// Whether `keys` holds the whole table as of some committed state, so that a text not
    /// in `keys` is most likely new.
    loaded: bool,
    /// The view `id`s of the sessions of the last batch, which the next batch usually
    /// continues: an update by `id` then needs no lookup by session id. A guess only (the
    /// update checks the session id too), so it cannot go stale in a harmful way.
    recent_views: HashMap<String, i64>,
}

impl WriteCache {
    pub(crate) fn clear(&mut self) {
        self.keys = HashMap::default();
        self.loaded = false;
        self.recent_views = HashMap::default();
    }

    /// Reads the whole dictionary, once per store (and again after a failed batch): one
    /// scan costs less than looking up each text the first time it is met.
    fn load(&mut self, transaction: &Transaction<'_>, path: &Path) -> Result<(), StoreError> {
        if self.loaded {
            return Ok(());
        }
        let mut statement = transaction
            .prepare("SELECT key, text FROM strings")
            .at(path)?;
        let mut rows = statement.query([]).at(path)?;
        while let Some(row) = rows.next().at(path)? {
            let key = string_key(path, row.get(0).at(path)?)?;
            let text: String = row.get(1).at(path)?;
            self.keys.insert(text, key);
        }
        self.loaded = true;
        Ok(())
    }
}

/// A key of `strings`. SQLite numbers rows from 1, so a key is never 0, and an
/// `Option<StringKey>` takes 8 bytes, which keeps a batch's coded events compact.
type StringKey = NonZeroI64;

fn string_key(path: &Path, key: i64) -> Result<StringKey, StoreError> {
    NonZeroI64::new(key).ok_or_else(|| StoreError::Corrupt {
        path: path.to_owned(),
        table: "strings",
        column: "key",
        detail: "key 0 (keys are assigned from 1)".to_owned(),
    })
}

/// Turns texts into their `strings` keys within one batch's transaction.
struct Encoder<'t, 'c> {
    transaction: &'t Transaction<'c>,
    path: &'t Path,
    cache: &'t mut WriteCache,
    action_keys: [Option<StringKey>; 3],
    /// The sealed account and IP of each login, by position in the batch.
    sealed_logins: &'t HashMap<usize, [String; 2]>,
}

impl Encoder<'_, '_> {
    fn key(&mut self, text: &str) -> Result<StringKey, StoreError> {
        if let Some(&key) = self.cache.keys.get(text) {
            return Ok(key);
        }
        let path = self.path;
        // Usually new; unless another process stored it since the dictionary was loaded.
        let inserted: Option<i64> = self
            .transaction
            .prepare_cached(
                "INSERT OR FAIL INTO strings (text) VALUES (?1) ON CONFLICT (text) DO NOTHING \
                 RETURNING key",
            )
            .and_then(|mut statement| statement.query_row([text], |row| row.get(0)).optional())
            .at(path)?;
        let key = match inserted {
            Some(key) => key,
            None => self
                .transaction
                .prepare_cached("SELECT key FROM strings WHERE text = ?1")
                .and_then(|mut statement| statement.query_row([text], |row| row.get(0)))
                .at(path)?,
        };
        let key = string_key(path, key)?;
        self.cache.keys.insert(text.to_owned(), key);
        Ok(key)
    }

    /// The key of a play action, looked up once per batch.
    fn action_key(&mut self, action: PlayAction) -> Result<StringKey, StoreError> {
        let slot = match action {
            PlayAction::Start => 0,
            PlayAction::Heartbeat => 1,
            PlayAction::Stop => 2,
        };
        if let Some(key) = self.action_keys[slot] {
            return Ok(key);
        }
        let key = self.key(action.as_str())?;
        self.action_keys[slot] = Some(key);
        Ok(key)
    }

    fn optional_key(&mut self, text: Option<&str>) -> Result<Option<StringKey>, StoreError> {
        text.map(|text| self.key(text)).transpose()
    }
}

/// The 16 bytes of a content-derived event id (32 lower-case hex digits), stored as a BLOB
/// in place of the 32 characters; `None` for any other id, which is stored as TEXT. The two
/// never meet: a stored BLOB always reads back as lower-case hex.
pub(crate) fn derived_id_bytes(id: &str) -> Option<[u8; 16]> {
    /// The value of each lower-case hex digit; 0xFF for every other byte.
    const DIGIT_VALUE: [u8; 256] = {
        let mut table = [0xFF_u8; 256];
        let mut digit = 0;
        while digit < 16 {
            table[b"0123456789abcdef"[digit] as usize] = digit as u8;
            digit += 1;
        }
        table
    };
    let digits = id.as_bytes();
    if digits.len() != 32 {
        return None;
    }
    let mut bytes = [0_u8; 16];
    // Checked once at the end: a bad digit sets high bits in `invalid`.
    let mut invalid = 0_u8;
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let high = DIGIT_VALUE[usize::from(pair[0])];
        let low = DIGIT_VALUE[usize::from(pair[1])];
        invalid |= high | low;
        *byte = (high << 4) | (low & 0x0F);
    }
    (invalid & 0xF0 == 0).then_some(bytes)
}

/// Whether a stored `id` value is the id `id`, whose BLOB form (if any) is `bytes`.
fn is_stored_id(stored: ValueRef<'_>, id: &str, bytes: Option<&[u8; 16]>) -> bool {
    match stored {
        ValueRef::Text(text) => text == id.as_bytes(),
        ValueRef::Blob(blob) => bytes.is_some_and(|bytes| blob == bytes),
        _ => false,
    }
}

/// One batch in one transaction: [`write_group`] of one.
pub(super) fn write_batch(
    connection: &mut Connection,
    cache: &mut WriteCache,
    vault: &Vault,
    path: &Path,
    batch: &Batch,
) -> Result<BatchOutcome, StoreError> {
    let mut outcomes = write_group(connection, cache, vault, path, std::slice::from_ref(batch))?;
    Ok(outcomes.pop().unwrap_or_default())
}

/// Writes several batches in one transaction (one commit, one fsync) and tells each its own
/// outcome, as if each had been written alone in turn: a later batch finds an earlier one's
/// events stored already. Any failure rolls back all of them. A page that several batches
/// touch (an index leaf, a view) is written to the WAL once instead of once per batch,
/// which is most of the cost of small batches on a large store.
pub(super) fn write_group(
    connection: &mut Connection,
    cache: &mut WriteCache,
    vault: &Vault,
    path: &Path,
    batches: &[Batch],
) -> Result<Vec<BatchOutcome>, StoreError> {
    let result = (|| {
        // IMMEDIATE takes the write lock up front, so a busy database fails (after the busy
        // timeout) before any work rather than at the first write.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        let outcomes = batches
            .iter()
            .map(|batch| write_batch_into(&transaction, cache, vault, path, batch))
            .collect::<Result<Vec<_>, _>>()?;
        // With synchronous=FULL in WAL mode, commit returns after the WAL is fsync'd.
        transaction.commit().at(path)?;
        Ok(outcomes)
    })();
    if result.is_err() {
        cache.clear();
        // Data keys the rolled-back transaction created must not be used from memory.
        vault.forget();
    }
    result
}

/// One batch's rows, written within `transaction` (which the caller commits).
fn write_batch_into(
    transaction: &Transaction<'_>,
    cache: &mut WriteCache,
    vault: &Vault,
    path: &Path,
    batch: &Batch,
) -> Result<BatchOutcome, StoreError> {
    let now = now_millis();
    // Personal data is sealed inside the transaction, so a data key it creates is stored
    // together with the first ciphertext under it, or not at all.
    let mut keys = vault::Keys {
        connection: transaction,
        path,
    };
    let members = batch
        .members
        .iter()
        .map(|member| crate::vault::seal_member(vault, &mut keys, member))
        .collect::<Result<Vec<_>, _>>()?;
    let sealed_logins = crate::vault::seal_logins(vault, &mut keys, &batch.events)?;
    let quarantined = crate::vault::seal_quarantined(vault, &mut keys, &batch.quarantined)?;
    let mut outcome = BatchOutcome {
        // Titles first: the views' completion below reads the batch's runtimes.
        titles_upserted: upsert_titles(transaction, path, &batch.titles, now)?,
        members_upserted: upsert_members(transaction, path, &members, now)?,
        ..BatchOutcome::default()
    };
    cache.load(transaction, path)?;
    let mut encoder = Encoder {
        transaction,
        path,
        cache,
        action_keys: [None; 3],
        sealed_logins: &sealed_logins,
    };
    insert_events(&mut encoder, &batch.events, &mut outcome)?;
    outcome.quarantined_new = insert_quarantined(transaction, path, &quarantined, now)?;
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

/// Upserts members whose personal fields are already sealed, with their email indexes.
fn upsert_members(
    transaction: &Transaction<'_>,
    path: &Path,
    members: &[(Member, Option<[u8; 32]>)],
    now: i64,
) -> Result<u64, StoreError> {
    if members.is_empty() {
        return Ok(0);
    }
    let mut statement = transaction
        .prepare_cached(
            "INSERT INTO members (id, email, name, country, signup_at, plan, profiles, updated_at, \
                 email_index) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, \
                 email_index = excluded.email_index, \
                 country = excluded.country, signup_at = excluded.signup_at, \
                 plan = excluded.plan, profiles = excluded.profiles, \
                 updated_at = excluded.updated_at",
        )
        .at(path)?;
    for (member, email_index) in members {
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
                email_index.as_ref().map(|index| &index[..]),
            ])
            .at(path)?;
    }
    Ok(members.len() as u64)
}

/// How a column after `key, id, ts` holds its field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// The value itself.
    Plain,
    /// The value's key in `strings` (see [`WriteCache`]).
    Dictionary,
    /// The `id` of the play's session in `views`.
    View,
}

/// Where each event kind is stored: table and the columns after `key, id, ts`, in binding
/// order, with how each holds its field. Indexed by [`kind_index`].
pub(crate) struct EventTable {
    pub(crate) table: &'static str,
    pub(crate) columns: &'static [(&'static str, Coding)],
}

impl EventTable {
    fn column_count(&self) -> usize {
        3 + self.columns.len()
    }
}

use Coding::{Dictionary as Str, Plain, View as ViewId};

pub(crate) const EVENT_TABLES: [EventTable; 6] = [
    EventTable {
        table: "plays",
        columns: &[
            ("member_key", Str),
            ("profile_key", Str),
            ("title_key", Str),
            ("view_id", ViewId),
            ("action_key", Str),
            ("position_s", Plain),
            ("watched_s", Plain),
            ("device_key", Str),
            ("country_key", Str),
            ("request_id", Plain),
        ],
    },
    EventTable {
        table: "ratings",
        columns: &[
            ("member_key", Str),
            ("profile_key", Str),
            ("title_key", Str),
            ("thumbs", Plain),
            ("stars", Plain),
        ],
    },
    EventTable {
        table: "impressions",
        columns: &[
            ("member_key", Str),
            ("profile_key", Str),
            ("title_key", Str),
            ("row_name_key", Str),
            ("row_rank", Plain),
            ("request_id", Plain),
            ("device_key", Str),
        ],
    },
    EventTable {
        table: "logins",
        columns: &[
            ("account", Plain),
            ("outcome_key", Str),
            ("ip", Plain),
            ("country_key", Str),
            ("city_key", Str),
            ("latitude", Plain),
            ("longitude", Plain),
            ("asn", Plain),
            ("device_key", Str),
            ("user_agent", Plain),
        ],
    },
    EventTable {
        table: "qoe",
        columns: &[
            ("session_id", Plain),
            ("member_key", Str),
            ("title_key", Str),
            ("startup_ms", Plain),
            ("exit_before_start", Plain),
            ("rebuffer_count", Plain),
            ("rebuffer_ms", Plain),
            ("watch_s", Plain),
            ("avg_bitrate_kbps", Plain),
            ("bitrate_switches", Plain),
            ("error_code_key", Str),
            ("cdn_key", Str),
            ("isp_key", Str),
            ("asn", Plain),
            ("country_key", Str),
            ("device_key", Str),
            ("player_key", Str),
        ],
    },
    EventTable {
        table: "searches",
        columns: &[
            ("member_key", Str),
            ("profile_key", Str),
            ("query_text", Plain),
            ("clicked_title_key", Str),
            ("request_id", Plain),
        ],
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
/// [`ROWS_PER_INSERT`] rows. Plain INSERTs (no `ON CONFLICT`): the keys were checked free
/// before, so a conflict would be a bug and must fail the batch rather than lose an event.
fn insert_sql() -> &'static [[String; 2]; 6] {
    static SQL: OnceLock<[[String; 2]; 6]> = OnceLock::new();
    SQL.get_or_init(|| {
        std::array::from_fn(|index| {
            let table = &EVENT_TABLES[index];
            let row = format!("({})", vec!["?"; table.column_count()].join(", "));
            let columns: Vec<&str> = ["key", "id", "ts"]
                .into_iter()
                .chain(table.columns.iter().map(|(name, _)| *name))
                .collect();
            let columns = columns.join(", ");
            let rows = vec![row.as_str(); ROWS_PER_INSERT].join(", ");
            [
                format!(
                    "INSERT OR FAIL INTO {} ({columns}) VALUES {row}",
                    table.table
                ),
                format!(
                    "INSERT OR FAIL INTO {} ({columns}) VALUES {rows}",
                    table.table
                ),
            ]
        })
    })
}

/// A session met in the batch: the first of its plays met and the `strings` keys of that
/// play's member, profile, title, device and country (its other plays almost always have
/// the same, and comparing with these texts, in cache, is cheaper than a dictionary
/// lookup), and the fold of its newly stored plays.
struct Session<'a> {
    like: &'a Play,
    like_keys: [Option<StringKey>; 5],
    /// `None` when every play of the session in this batch is a duplicate.
    fold: Option<SessionFold>,
    /// The session's `id` in `views`, known once the views are upserted.
    view_id: i64,
}

impl<'a> Session<'a> {
    fn new(play: &'a Play, encoder: &mut Encoder<'_, '_>) -> Result<Self, StoreError> {
        Ok(Session {
            like: play,
            like_keys: [
                Some(encoder.key(&play.member_id)?),
                encoder.optional_key(play.profile_id.as_deref())?,
                Some(encoder.key(&play.title_id)?),
                encoder.optional_key(play.device.as_deref())?,
                encoder.optional_key(play.country.as_deref())?,
            ],
            fold: None,
            view_id: 0,
        })
    }

    /// The `strings` keys of a play of this session, in `coded_texts` order.
    fn code_play(
        &self,
        encoder: &mut Encoder<'_, '_>,
        play: &Play,
    ) -> Result<[Option<StringKey>; MAX_CODED], StoreError> {
        let like = self.like;
        let [member, profile, title, device, country] = self.like_keys;
        let mut keys = [None; MAX_CODED];
        keys[0] = if play.member_id == like.member_id {
            member
        } else {
            Some(encoder.key(&play.member_id)?)
        };
        keys[1] = if play.profile_id == like.profile_id {
            profile
        } else {
            encoder.optional_key(play.profile_id.as_deref())?
        };
        keys[2] = if play.title_id == like.title_id {
            title
        } else {
            Some(encoder.key(&play.title_id)?)
        };
        keys[3] = Some(encoder.action_key(play.action)?);
        keys[4] = if play.device == like.device {
            device
        } else {
            encoder.optional_key(play.device.as_deref())?
        };
        keys[5] = if play.country == like.country {
            country
        } else {
            encoder.optional_key(play.country.as_deref())?
        };
        Ok(keys)
    }

    /// Folds in a newly stored play, at `position` in the batch.
    fn add(&mut self, position: usize, play: &Coded<'_>) {
        match &mut self.fold {
            None => {
                self.fold = Some(SessionFold {
                    first_position: position,
                    started_at: play.ts,
                    last_at: play.ts,
                    watched_s: play.watched_s,
                    max_position_s: play.position_s,
                    events: 1,
                    stopped: play.stopped,
                });
            }
            Some(fold) => {
                if play.ts < fold.started_at {
                    fold.started_at = play.ts;
                    fold.first_position = position;
                }
                fold.last_at = fold.last_at.max(play.ts);
                fold.watched_s = fold.watched_s.max(play.watched_s);
                fold.max_position_s = fold.max_position_s.max(play.position_s);
                fold.events += 1;
                fold.stopped |= play.stopped;
            }
        }
    }
}

/// A session's plays newly stored by this batch, folded together.
struct SessionFold {
    /// Where in the batch the earliest play is; its member, profile, title, device and
    /// country are the view's.
    first_position: usize,
    started_at: i64,
    last_at: i64,
    watched_s: u32,
    max_position_s: u32,
    events: u64,
    stopped: bool,
}

/// Stores each event unless it is already stored, and upserts the views of the newly stored
/// plays (before the plays themselves, which refer to their view's `id`).
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
fn insert_events(
    encoder: &mut Encoder<'_, '_>,
    events: &[Event],
    outcome: &mut BatchOutcome,
) -> Result<(), StoreError> {
    let path = encoder.path;
    // One pass over the batch in its order works out everything that is bound later (in
    // key order, a shuffled order in which reading the events themselves would cost cache
    // misses): keys, coded ids and texts, sessions. A duplicate's texts are coded too; they
    // are in `strings` already, since the event was stored before.
    let mut by_kind: [Vec<(i64, usize)>; 6] = Default::default();
    let mut coded: Vec<Coded<'_>> = Vec::with_capacity(events.len());
    let mut session_index: HashMap<&str, usize> = HashMap::default();
    let mut sessions: Vec<Session<'_>> = Vec::new();
    for (position, event) in events.iter().enumerate() {
        let key =
            event_key(event.ts, &event.id).ok_or_else(|| StoreError::TimestampOutOfRange {
                path: path.to_owned(),
                event_id: event.id.clone(),
                ts_millis: event.ts.millis(),
            })?;
        by_kind[kind_index(event.kind())].push((key, position));
        coded.push(match &event.body {
            EventBody::Play(play) => {
                let session = match session_index.get(play.session_id.as_str()) {
                    Some(&session) => session,
                    None => {
                        sessions.push(Session::new(play, encoder)?);
                        session_index.insert(play.session_id.as_str(), sessions.len() - 1);
                        sessions.len() - 1
                    }
                };
                Coded {
                    id: derived_id_bytes(&event.id),
                    keys: sessions[session].code_play(encoder, play)?,
                    ts: event.ts.millis(),
                    session,
                    view_id: 0,
                    position_s: play.position_s,
                    watched_s: play.watched_s,
                    stopped: play.action == PlayAction::Stop,
                    request_id: play.request_id.as_deref(),
                }
            }
            _ => code_event(encoder, event)?,
        });
    }
    for (index, mut rows) in by_kind.into_iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        // Stable: of two events with one key, the earlier in the batch is placed first.
        rows.sort_by_key(|(key, _)| *key);
        let placed = place_events(encoder.transaction, path, index, events, &rows, outcome)?;
        if placed.is_empty() {
            continue;
        }
        if index == kind_index(EventKind::Play) {
            // In batch order, so that of two plays at the same time the earlier one's texts
            // go to the view, as they would have if the two came in separate batches.
            let mut new_positions: Vec<usize> =
                placed.iter().map(|&(_, position)| position).collect();
            new_positions.sort_unstable();
            for position in new_positions {
                let play = &coded[position];
                sessions[play.session].add(position, play);
            }
            encoder.cache.recent_views = upsert_views(
                encoder.transaction,
                path,
                events,
                &session_index,
                &mut sessions,
                &encoder.cache.recent_views,
            )?;
        }
        // The placed events' coded rows in key order, for binding. Gathered by reading the
        // rows in batch order and writing each to its place: scattered writes cost the CPU
        // nothing, scattered reads a cache miss each.
        let mut slot_of_position = vec![u32::MAX; events.len()];
        for (slot, &(_, position)) in placed.iter().enumerate() {
            slot_of_position[position] = slot as u32;
        }
        let mut ordered = vec![Coded::default(); placed.len()];
        for (row, &slot) in coded.iter().zip(&slot_of_position) {
            if slot != u32::MAX {
                let mut row = *row;
                row.view_id = sessions
                    .get(row.session)
                    .map_or(0, |session| session.view_id);
                ordered[slot as usize] = row;
            }
        }
        drop(slot_of_position);
        insert_placed(encoder, index, events, &placed, &ordered)?;
        outcome.events_accepted += placed.len() as u64;
    }
    Ok(())
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
                        let id_bytes = derived_id_bytes(&event.id);
                        Ok(
                            if is_stored_id(row.get_ref(0)?, &event.id, id_bytes.as_ref()) {
                                KeyHolds::SameEvent
                            } else {
                                KeyHolds::OtherEvent
                            },
                        )
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

/// Most `strings`-coded columns of any event table (qoe has 8).
const MAX_CODED: usize = 8;

/// An event's values as bound, worked out in batch order: its id's BLOB form, its texts'
/// keys in `strings` (in `coded_texts` order, `None` for NULL) and, for a play, its session's
/// fold and the rest of its columns. Binding (in key order) then reads these compact rows
/// one after the other rather than the batch's events in a shuffled order, which costs a
/// cache miss per event.
#[derive(Clone, Copy)]
struct Coded<'a> {
    id: Option<[u8; 16]>,
    keys: [Option<StringKey>; MAX_CODED],
    ts: i64,
    session: usize,
    /// The `id` of the play's view, filled in once the views are upserted.
    view_id: i64,
    position_s: u32,
    watched_s: u32,
    stopped: bool,
    request_id: Option<&'a str>,
}

/// `Coded::session` of an event that is not a play.
const NOT_A_PLAY: usize = usize::MAX;

impl Default for Coded<'_> {
    fn default() -> Self {
        Coded {
            id: None,
            keys: [None; MAX_CODED],
            ts: 0,
            session: NOT_A_PLAY,
            view_id: 0,
            position_s: 0,
            watched_s: 0,
            stopped: false,
            request_id: None,
        }
    }
}

/// The texts of an event that are stored as `strings` keys, in column order.
fn coded_texts(body: &EventBody) -> ([Option<&str>; MAX_CODED], usize) {
    let mut texts = [None; MAX_CODED];
    let values: &[Option<&str>] = match body {
        EventBody::Play(play) => &[
            Some(play.member_id.as_str()),
            play.profile_id.as_deref(),
            Some(play.title_id.as_str()),
            Some(play.action.as_str()),
            play.device.as_deref(),
            play.country.as_deref(),
        ],
        EventBody::Rating(rating) => &[
            Some(rating.member_id.as_str()),
            rating.profile_id.as_deref(),
            Some(rating.title_id.as_str()),
        ],
        EventBody::Impression(impression) => &[
            Some(impression.member_id.as_str()),
            impression.profile_id.as_deref(),
            Some(impression.title_id.as_str()),
            Some(impression.row.as_str()),
            impression.device.as_deref(),
        ],
        EventBody::Login(login) => &[
            Some(login.outcome.as_str()),
            login.country.as_deref(),
            login.city.as_deref(),
            login.device.as_deref(),
        ],
        EventBody::Qoe(qoe) => &[
            qoe.member_id.as_deref(),
            qoe.title_id.as_deref(),
            qoe.error_code.as_deref(),
            Some(qoe.cdn.as_str()),
            qoe.isp.as_deref(),
            Some(qoe.country.as_str()),
            Some(qoe.device.as_str()),
            Some(qoe.player.as_str()),
        ],
        EventBody::Search(search) => &[
            Some(search.member_id.as_str()),
            search.profile_id.as_deref(),
            search.clicked_title_id.as_deref(),
        ],
    };
    texts[..values.len()].copy_from_slice(values);
    (texts, values.len())
}

fn code_event<'a>(
    encoder: &mut Encoder<'_, '_>,
    event: &'a Event,
) -> Result<Coded<'a>, StoreError> {
    let mut coded = Coded {
        id: derived_id_bytes(&event.id),
        ts: event.ts.millis(),
        ..Coded::default()
    };
    let (texts, count) = coded_texts(&event.body);
    for (key, text) in coded.keys.iter_mut().zip(&texts[..count]) {
        *key = encoder.optional_key(*text)?;
    }
    Ok(coded)
}

/// Inserts placed events (sorted by key) [`ROWS_PER_INSERT`] at a time, the rest one by one.
fn insert_placed(
    encoder: &Encoder<'_, '_>,
    index: usize,
    events: &[Event],
    placed: &[(i64, usize)],
    coded: &[Coded<'_>],
) -> Result<(), StoreError> {
    let transaction = encoder.transaction;
    let path = encoder.path;
    let column_count = EVENT_TABLES[index].column_count();
    let [one_row_sql, many_rows_sql] = &insert_sql()[index];
    let mut chunks = placed.chunks_exact(ROWS_PER_INSERT);
    let mut slot = 0;
    // What the cached statements hold from earlier batches is not known here.
    let mut bound = vec![None; column_count * ROWS_PER_INSERT];
    if chunks.len() > 0 {
        let mut many = transaction.prepare_cached(many_rows_sql).at(path)?;
        for chunk in &mut chunks {
            for (row, &(key, position)) in chunk.iter().enumerate() {
                let mut binder = Binder {
                    statement: &mut many,
                    index: row * column_count,
                    path,
                    bound: &mut bound,
                };
                let sealed = encoder.sealed_logins.get(&position);
                bind_event(&mut binder, &coded[slot], key, &events[position], sealed)?;
                slot += 1;
            }
            many.raw_execute().at(path)?;
        }
    }
    let remainder = chunks.remainder();
    if !remainder.is_empty() {
        let mut one = transaction.prepare_cached(one_row_sql).at(path)?;
        bound.fill(None);
        for &(key, position) in remainder {
            let mut binder = Binder {
                statement: &mut one,
                index: 0,
                path,
                bound: &mut bound,
            };
            let sealed = encoder.sealed_logins.get(&position);
            bind_event(&mut binder, &coded[slot], key, &events[position], sealed)?;
            slot += 1;
            one.raw_execute().at(path)?;
        }
    }
    Ok(())
}

/// Binds one event's columns, in [`EVENT_TABLES`] order, the coded ones from `coded`.
fn bind_event(
    next: &mut Binder<'_, '_, '_>,
    coded: &Coded<'_>,
    key: i64,
    event: &Event,
    sealed: Option<&[String; 2]>,
) -> Result<(), StoreError> {
    next.bind(key)?;
    match &coded.id {
        Some(bytes) => next.bind(&bytes[..])?,
        None => next.bind(event.id.as_str())?,
    }
    next.bind(coded.ts)?;
    // The keys of the coded texts, in the order `coded_texts` lists them.
    let mut keys = coded.keys.iter().copied();
    let mut string_key = move || keys.next().flatten().map(NonZeroI64::get);
    if coded.session != NOT_A_PLAY {
        // Everything a play's row needs is in `coded`; `event` is not read.
        next.bind_integer(string_key())?; // member
        next.bind_integer(string_key())?; // profile
        next.bind_integer(string_key())?; // title
        next.bind_integer(Some(coded.view_id))?;
        next.bind_integer(string_key())?; // action
        next.bind_integer(Some(i64::from(coded.position_s)))?;
        next.bind_integer(Some(i64::from(coded.watched_s)))?;
        next.bind_integer(string_key())?; // device
        next.bind_integer(string_key())?; // country
        match coded.request_id {
            Some(request_id) => next.bind(request_id)?,
            None => next.bind_integer(None)?,
        }
        return Ok(());
    }
    match &event.body {
        EventBody::Play(_) => {
            return Err(StoreError::Corrupt {
                path: next.path.to_owned(),
                table: "plays",
                column: "view_id",
                detail: format!("play {:?} was not coded with its session", event.id),
            });
        }
        EventBody::Rating(rating) => {
            let (thumbs, stars) = match rating.value {
                RatingValue::Thumbs(thumbs) => (Some(thumbs_code(thumbs)), None),
                RatingValue::Stars(stars) => (None, Some(f64::from(stars))),
            };
            next.bind(string_key())?; // member
            next.bind(string_key())?; // profile
            next.bind(string_key())?; // title
            next.bind(thumbs)?;
            next.bind(stars)?;
        }
        EventBody::Impression(impression) => {
            next.bind(string_key())?; // member
            next.bind(string_key())?; // profile
            next.bind(string_key())?; // title
            next.bind(string_key())?; // row
            next.bind(impression.rank)?;
            next.bind(impression.request_id.as_str())?;
            next.bind(string_key())?; // device
        }
        EventBody::Login(login) => {
            let [account, ip] = sealed.ok_or_else(|| StoreError::Corrupt {
                path: next.path.to_owned(),
                table: "logins",
                column: "ip",
                detail: format!("login {:?} was not sealed", event.id),
            })?;
            next.bind(account.as_str())?;
            next.bind(string_key())?; // outcome
            next.bind(ip.as_str())?;
            next.bind(string_key())?; // country
            next.bind(string_key())?; // city
            next.bind(login.latitude)?;
            next.bind(login.longitude)?;
            next.bind(login.asn)?;
            next.bind(string_key())?; // device
            next.bind(login.user_agent.as_deref())?;
        }
        EventBody::Qoe(qoe) => {
            next.bind(qoe.session_id.as_str())?;
            next.bind(string_key())?; // member
            next.bind(string_key())?; // title
            next.bind(qoe.startup_ms)?;
            next.bind(qoe.exit_before_start)?;
            next.bind(qoe.rebuffer_count)?;
            next.bind(i64::try_from(qoe.rebuffer_ms).unwrap_or(i64::MAX))?;
            next.bind(qoe.watch_s)?;
            next.bind(qoe.avg_bitrate_kbps)?;
            next.bind(qoe.bitrate_switches)?;
            next.bind(string_key())?; // error code
            next.bind(string_key())?; // cdn
            next.bind(string_key())?; // isp
            next.bind(qoe.asn)?;
            next.bind(string_key())?; // country
            next.bind(string_key())?; // device
            next.bind(string_key())?; // player
        }
        EventBody::Search(search) => {
            next.bind(string_key())?; // member
            next.bind(string_key())?; // profile
            next.bind(search.query.as_str())?;
            next.bind(string_key())?; // clicked title
            next.bind(search.request_id.as_deref())?;
        }
    }
    Ok(())
}

/// Binds values to consecutive parameters.
struct Binder<'s, 'c, 'p> {
    statement: &'s mut CachedStatement<'c>,
    /// Parameters bound so far (SQLite numbers parameters from 1).
    index: usize,
    path: &'p Path,
    /// The integer or NULL (`Some(None)`) each parameter holds, where known. SQLite keeps
    /// a statement's bindings from one execution to the next, so a parameter that would get
    /// the value it already holds (the same action, device or country, a NULL request id
    /// as in the row bound at that place before) is left alone: a bind call costs more
    /// than the comparison.
    bound: &'s mut [Option<Option<i64>>],
}

impl Binder<'_, '_, '_> {
    fn bind<T: ToSql>(&mut self, value: T) -> Result<(), StoreError> {
        self.index += 1;
        self.bound[self.index - 1] = None;
        self.statement
            .raw_bind_parameter(self.index, value)
            .at(self.path)
    }

    /// Binds an integer or NULL, unless the parameter holds it already.
    fn bind_integer(&mut self, value: Option<i64>) -> Result<(), StoreError> {
        self.index += 1;
        let bound = &mut self.bound[self.index - 1];
        if *bound == Some(value) {
            return Ok(());
        }
        *bound = Some(value);
        self.statement
            .raw_bind_parameter(self.index, value)
            .at(self.path)
    }
}

pub(crate) fn thumbs_code(thumbs: showrunner_model::event::Thumbs) -> &'static str {
    match thumbs {
        showrunner_model::event::Thumbs::Up => "up",
        showrunner_model::event::Thumbs::Down => "down",
    }
}

/// The columns a view's later events grow (parameters 8 to 12 of the views upsert), shared
/// by its full update and its update of a view extended after its start.
macro_rules! view_growth {
    () => {
        "last_at = max(last_at, ?8), watched_s = max(watched_s, ?9), \
         max_position_s = max(max_position_s, ?10), events = events + ?11, \
         stopped = max(stopped, ?12), "
    };
}

/// One upsert per session touched by the batch, noting each session's view `id`. Every
/// column is a minimum, a maximum, a sum of distinct new events or the earliest event's
/// value, so the result does not depend on the order of events within or across batches.
/// Completion is recomputed from the title's runtime as stored now (the batch's titles are
/// already written).
///
/// The upsert is spelled as a lookup, then an UPDATE by `id` or an INSERT: measured about
/// twice as fast as `INSERT ... ON CONFLICT DO UPDATE ... RETURNING id`, which buffers its
/// output in a temporary table and journals every page it touches for a possible abort.
fn upsert_views(
    transaction: &Transaction<'_>,
    path: &Path,
    events: &[Event],
    session_index: &HashMap<&str, usize>,
    sessions: &mut [Session<'_>],
    recent_views: &HashMap<String, i64>,
) -> Result<HashMap<String, i64>, StoreError> {
    let mut upserted: HashMap<String, i64> = HashMap::default();
    if sessions.iter().all(|session| session.fold.is_none()) {
        return Ok(upserted);
    }
    let mut find = transaction
        .prepare_cached("SELECT id FROM views WHERE session_id = ?1")
        .at(path)?;
    // In UPDATE, every expression reads the row as it was before the update.
    let mut update = transaction
        .prepare_cached(concat!(
            "UPDATE OR FAIL views SET \
                 member_id = CASE WHEN ?7 < started_at THEN ?2 ELSE member_id END, \
                 profile_id = CASE WHEN ?7 < started_at THEN ?3 ELSE profile_id END, \
                 title_id = CASE WHEN ?7 < started_at THEN ?4 ELSE title_id END, \
                 device = CASE WHEN ?7 < started_at THEN ?5 ELSE device END, \
                 country = CASE WHEN ?7 < started_at THEN ?6 ELSE country END, \
                 started_at = min(started_at, ?7), ",
            view_growth!(),
            "completion = (SELECT min(1.0, \
                         CAST(max(views.max_position_s, ?10) AS REAL) / duration_s) \
                     FROM titles \
                     WHERE titles.id = CASE WHEN ?7 < views.started_at \
                         THEN ?4 ELSE views.title_id END \
                     AND duration_s > 0) \
             WHERE id = ?13 AND session_id = ?1"
        ))
        .at(path)?;
    // The common case, events after the view's start: only the columns no index covers
    // change, so SQLite leaves the view's index entries alone (an UPDATE that names an
    // indexed column rewrites its entry even when the value stays the same, and
    // `views_by_member` is in random order: a page written per view and commit).
    let mut extend = transaction
        .prepare_cached(concat!(
            "UPDATE OR FAIL views SET ",
            view_growth!(),
            "completion = (SELECT min(1.0, \
                         CAST(max(views.max_position_s, ?10) AS REAL) / duration_s) \
                     FROM titles WHERE titles.id = views.title_id AND duration_s > 0) \
             WHERE id = ?13 AND session_id = ?1 AND started_at <= ?7"
        ))
        .at(path)?;
    let mut insert = transaction
        .prepare_cached(
            "INSERT OR FAIL INTO views (session_id, member_id, profile_id, title_id, device, \
                 country, started_at, last_at, watched_s, max_position_s, events, stopped, \
                 completion, non_human) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 (SELECT min(1.0, CAST(?10 AS REAL) / duration_s) FROM titles \
                  WHERE id = ?4 AND duration_s > 0), \
                 0)",
        )
        .at(path)?;
    // In key order, so consecutive upserts touch neighbouring b-tree pages.
    let mut ordered: Vec<(&str, usize)> = session_index
        .iter()
        .map(|(session_id, index)| (*session_id, *index))
        .collect();
    ordered.sort_unstable();
    for (session_id, index) in ordered {
        let session = &mut sessions[index];
        let Some(fold) = &session.fold else {
            continue;
        };
        let EventBody::Play(first) = &events[fold.first_position].body else {
            continue;
        };
        let values = params![
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
        ];
        for (index, value) in values.iter().enumerate() {
            update.raw_bind_parameter(index + 1, value).at(path)?;
        }
        for index in [1, 7, 8, 9, 10, 11, 12] {
            extend
                .raw_bind_parameter(index, values[index - 1])
                .at(path)?;
        }
        // Extends the view, or (events before its start) updates it whole; true if the view
        // `view_id` of this session exists.
        let mut upsert_into = |view_id: i64| -> Result<bool, StoreError> {
            extend.raw_bind_parameter(13, view_id).at(path)?;
            if extend.raw_execute().at(path)? == 1 {
                return Ok(true);
            }
            update.raw_bind_parameter(13, view_id).at(path)?;
            Ok(update.raw_execute().at(path)? == 1)
        };
        let mut updated = None;
        if let Some(&view_id) = recent_views.get(session_id)
            && upsert_into(view_id)?
        {
            updated = Some(view_id);
        }
        if updated.is_none() {
            let stored: Option<i64> = find
                .query_row([session_id], |row| row.get(0))
                .optional()
                .at(path)?;
            if let Some(view_id) = stored {
                if !upsert_into(view_id)? {
                    return Err(StoreError::Corrupt {
                        path: path.to_owned(),
                        table: "views",
                        column: "id",
                        detail: format!("view {view_id} of session {session_id:?} vanished"),
                    });
                }
                updated = Some(view_id);
            }
        }
        let view_id = match updated {
            Some(view_id) => view_id,
            None => {
                insert.execute(values).at(path)?;
                transaction.last_insert_rowid()
            }
        };
        session.view_id = view_id;
        upserted.insert(session_id.to_owned(), view_id);
    }
    Ok(upserted)
}

/// Inserts quarantined rows already sealed, each with the hash of its plain raw text.
fn insert_quarantined(
    transaction: &Transaction<'_>,
    path: &Path,
    rows: &[(Quarantined, i64)],
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
    for (row, raw_hash) in rows {
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
