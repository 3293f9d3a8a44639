//! The write path on PostgreSQL: one batch in one transaction, every table written with one
//! statement per batch. The events of each kind are sent with one binary `COPY` into a
//! session's temporary staging table (copy.rs) and moved into their table with one
//! `INSERT ... SELECT ... ORDER BY key, id`; titles, members, views and quarantined rows,
//! far fewer, bind whole columns as arrays and insert `SELECT * FROM unnest(...)`. A batch of
//! 50 000 plays is a handful of round trips, not 50 000, and its rows are neither parsed as
//! text nor taken out of arrays by the server.
//!
//! Exactly once: an event's primary key is `(key, id)` with `key` its first key (key.rs),
//! so `ON CONFLICT DO NOTHING` skips an event stored before (or earlier in the same batch)
//! and keeps two different events that share a key. The plays' statement returns which
//! plays were new; only those fold into their sessions' views, upserted with the same
//! maxima and minima as on SQLite.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::copy::BinaryRows;
use super::vault::Keys;
use super::{AtDb, pg_error};
use crate::key::event_key;
use crate::sqlite::{kind_index, thumbs_code};
use crate::vault::{QUARANTINE_SUBJECT, Vault, seal_logins, seal_member, seal_quarantined};
use crate::{DerivedSummary, ImportLog, StoreError};
use postgres::error::SqlState;
use postgres::types::ToSql;
use showrunner_model::{
    Batch, BatchOutcome, Event, EventBody, EventKind, Member, PlayAction, Quarantined, RatingValue,
    Title,
};

/// Watching beyond this in one UTC day on one device marks a member's views as non-human.
const NON_HUMAN_SECONDS_PER_DAY: i64 = 20 * 3600;

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

fn json_text<T: serde::Serialize + ?Sized>(
    location: &Path,
    table: &'static str,
    column: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|error| StoreError::Corrupt {
        path: location.to_owned(),
        table,
        column,
        detail: format!("cannot encode as JSON: {error}"),
    })
}

/// One column of a bulk insert, bound as a PostgreSQL array.
enum Column<'a> {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Text(Vec<Option<&'a str>>),
    Bool(Vec<Option<bool>>),
    Bytes(Vec<Option<&'a [u8]>>),
}

impl<'a> Column<'a> {
    fn of(sql_type: &str) -> Self {
        match sql_type {
            "int8" => Column::Int(Vec::new()),
            "float8" => Column::Float(Vec::new()),
            "bool" => Column::Bool(Vec::new()),
            "bytea" => Column::Bytes(Vec::new()),
            _ => Column::Text(Vec::new()),
        }
    }

    fn as_param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int(values) => values,
            Column::Float(values) => values,
            Column::Text(values) => values,
            Column::Bool(values) => values,
            Column::Bytes(values) => values,
        }
    }
}

/// Appends one row's values to the columns, in order.
struct Row<'c, 'a> {
    columns: std::slice::IterMut<'c, Column<'a>>,
}

impl<'a> Row<'_, 'a> {
    fn int(&mut self, value: Option<i64>) {
        if let Some(Column::Int(values)) = self.columns.next() {
            values.push(value);
        }
    }
    fn text(&mut self, value: Option<&'a str>) {
        if let Some(Column::Text(values)) = self.columns.next() {
            values.push(value);
        }
    }
    fn bool(&mut self, value: Option<bool>) {
        if let Some(Column::Bool(values)) = self.columns.next() {
            values.push(value);
        }
    }
    fn bytes(&mut self, value: Option<&'a [u8]>) {
        if let Some(Column::Bytes(values)) = self.columns.next() {
            values.push(value);
        }
    }
}

/// A bulk statement's columns: names with their PostgreSQL types.
struct Columns<'a> {
    names: &'static [(&'static str, &'static str)],
    values: Vec<Column<'a>>,
    rows: usize,
}

impl<'a> Columns<'a> {
    fn new(names: &'static [(&'static str, &'static str)]) -> Self {
        Columns {
            names,
            values: names
                .iter()
                .map(|(_, sql_type)| Column::of(sql_type))
                .collect(),
            rows: 0,
        }
    }

    fn row(&mut self) -> Row<'_, 'a> {
        self.rows += 1;
        Row {
            columns: self.values.iter_mut(),
        }
    }

    fn column_list(&self) -> String {
        let names: Vec<&str> = self.names.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }

    /// `unnest($1::int8[], $2::text[], ...)`.
    fn unnest(&self) -> String {
        let arrays: Vec<String> = self
            .names
            .iter()
            .enumerate()
            .map(|(index, (_, sql_type))| format!("${}::{sql_type}[]", index + 1))
            .collect();
        format!("unnest({})", arrays.join(", "))
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(Column::as_param).collect()
    }
}

/// Each event table's columns, in the order `push_event` appends them. Indexed like
/// SQLite's `EVENT_TABLES` (see `kind_index`).
const EVENT_COLUMNS: [(&str, &[(&str, &str)]); 6] = [
    (
        "plays",
        &[
            ("key", "int8"),
            ("id", "text"),
            ("ts", "int8"),
            ("member_id", "text"),
            ("profile_id", "text"),
            ("title_id", "text"),
            ("session_id", "text"),
            ("action", "text"),
            ("position_s", "int8"),
            ("watched_s", "int8"),
            ("device", "text"),
            ("country", "text"),
            ("request_id", "text"),
        ],
    ),
    (
        "ratings",
        &[
            ("key", "int8"),
            ("id", "text"),
            ("ts", "int8"),
            ("member_id", "text"),
            ("profile_id", "text"),
            ("title_id", "text"),
            ("thumbs", "text"),
            ("stars", "float8"),
        ],
    ),
    (
        "impressions",
        &[
            ("key", "int8"),
            ("id", "text"),
            ("ts", "int8"),
            ("member_id", "text"),
            ("profile_id", "text"),
            ("title_id", "text"),
            ("row_name", "text"),
            ("row_rank", "int8"),
            ("request_id", "text"),
            ("device", "text"),
        ],
    ),
    (
        "logins",
        &[
            ("key", "int8"),
            ("id", "text"),
            ("ts", "int8"),
            ("account", "text"),
            ("outcome", "text"),
            ("ip", "text"),
            ("country", "text"),
            ("city", "text"),
            ("latitude", "float8"),
            ("longitude", "float8"),
            ("asn", "int8"),
            ("device", "text"),
            ("user_agent", "text"),
        ],
    ),
    (
        "qoe",
        &[
            ("key", "int8"),
            ("id", "text"),
            ("ts", "int8"),
            ("session_id", "text"),
            ("member_id", "text"),
            ("title_id", "text"),
            ("startup_ms", "int8"),
            ("exit_before_start", "bool"),
            ("rebuffer_count", "int8"),
            ("rebuffer_ms", "int8"),
            ("watch_s", "int8"),
            ("avg_bitrate_kbps", "int8"),
            ("bitrate_switches", "int8"),
            ("error_code", "text"),
            ("cdn", "text"),
            ("isp", "text"),
            ("asn", "int8"),
            ("country", "text"),
            ("device", "text"),
            ("player", "text"),
        ],
    ),
    (
        "searches",
        &[
            ("key", "int8"),
            ("id", "text"),
            ("ts", "int8"),
            ("member_id", "text"),
            ("profile_id", "text"),
            ("query_text", "text"),
            ("clicked_title_id", "text"),
            ("request_id", "text"),
        ],
    ),
];

pub(crate) fn table_of(kind: EventKind) -> &'static str {
    EVENT_COLUMNS[kind_index(kind)].0
}

/// The columns after `key, id, ts` of one kind, as `read::events` selects them.
pub(crate) fn body_columns(kind: EventKind) -> String {
    let names: Vec<&str> = EVENT_COLUMNS[kind_index(kind)].1[3..]
        .iter()
        .map(|(name, _)| *name)
        .collect();
    names.join(", ")
}

fn u32_value(value: u32) -> Option<i64> {
    Some(i64::from(value))
}

/// `sealed` is a login's sealed account and IP (the other kinds hold nothing sealed).
fn push_event(row: &mut BinaryRows, key: i64, event: &Event, sealed: Option<&[String; 2]>) {
    row.int(Some(key));
    row.text(Some(&event.id));
    row.int(Some(event.ts.millis()));
    match &event.body {
        EventBody::Play(play) => {
            row.text(Some(&play.member_id));
            row.text(play.profile_id.as_deref());
            row.text(Some(&play.title_id));
            row.text(Some(&play.session_id));
            row.text(Some(play.action.as_str()));
            row.int(u32_value(play.position_s));
            row.int(u32_value(play.watched_s));
            row.text(play.device.as_deref());
            row.text(play.country.as_deref());
            row.text(play.request_id.as_deref());
        }
        EventBody::Rating(rating) => {
            row.text(Some(&rating.member_id));
            row.text(rating.profile_id.as_deref());
            row.text(Some(&rating.title_id));
            match rating.value {
                RatingValue::Thumbs(thumbs) => {
                    row.text(Some(thumbs_code(thumbs)));
                    row.float(None);
                }
                RatingValue::Stars(stars) => {
                    row.text(None);
                    row.float(Some(f64::from(stars)));
                }
            }
        }
        EventBody::Impression(impression) => {
            row.text(Some(&impression.member_id));
            row.text(impression.profile_id.as_deref());
            row.text(Some(&impression.title_id));
            row.text(Some(&impression.row));
            row.int(u32_value(impression.rank));
            row.text(Some(&impression.request_id));
            row.text(impression.device.as_deref());
        }
        EventBody::Login(login) => {
            // `insert_events` checked that every login comes sealed.
            let [account, ip] = sealed
                .map(|[account, ip]| [account.as_str(), ip.as_str()])
                .unwrap_or_default();
            row.text(Some(account));
            row.text(Some(login.outcome.as_str()));
            row.text(Some(ip));
            row.text(login.country.as_deref());
            row.text(login.city.as_deref());
            row.float(login.latitude);
            row.float(login.longitude);
            row.int(login.asn.map(i64::from));
            row.text(login.device.as_deref());
            row.text(login.user_agent.as_deref());
        }
        EventBody::Qoe(qoe) => {
            row.text(Some(&qoe.session_id));
            row.text(qoe.member_id.as_deref());
            row.text(qoe.title_id.as_deref());
            row.int(qoe.startup_ms.map(i64::from));
            row.bool(Some(qoe.exit_before_start));
            row.int(u32_value(qoe.rebuffer_count));
            row.int(Some(i64::try_from(qoe.rebuffer_ms).unwrap_or(i64::MAX)));
            row.int(u32_value(qoe.watch_s));
            row.int(u32_value(qoe.avg_bitrate_kbps));
            row.int(u32_value(qoe.bitrate_switches));
            row.text(qoe.error_code.as_deref());
            row.text(Some(&qoe.cdn));
            row.text(qoe.isp.as_deref());
            row.int(qoe.asn.map(i64::from));
            row.text(Some(&qoe.country));
            row.text(Some(&qoe.device));
            row.text(Some(&qoe.player));
        }
        EventBody::Search(search) => {
            row.text(Some(&search.member_id));
            row.text(search.profile_id.as_deref());
            row.text(Some(&search.query));
            row.text(search.clicked_title_id.as_deref());
            row.text(search.request_id.as_deref());
        }
    }
}

/// Writes one batch in one transaction.
pub(super) fn write_batch(
    client: &mut postgres::Client,
    location: &Path,
    vault: &Vault,
    batch: &Batch,
) -> Result<BatchOutcome, StoreError> {
    let mut outcomes = write_batches(client, location, vault, std::slice::from_ref(batch))?;
    Ok(outcomes.pop().unwrap_or_default())
}

/// Writes `batches` in one transaction, as if one after the other, and tells each its own
/// outcome: one `COPY` per event table for all of them, one view upsert, one commit. All
/// of them are stored, or (on an error) none.
pub(super) fn write_batches(
    client: &mut postgres::Client,
    location: &Path,
    vault: &Vault,
    batches: &[Batch],
) -> Result<Vec<BatchOutcome>, StoreError> {
    vault.forget_if_failed(write_batches_in_transaction(
        client, location, vault, batches,
    ))
}

fn write_batches_in_transaction(
    client: &mut postgres::Client,
    location: &Path,
    vault: &Vault,
    batches: &[Batch],
) -> Result<Vec<BatchOutcome>, StoreError> {
    // Every batch's events in order, with the batch each came from.
    let mut events = Vec::with_capacity(batches.iter().map(|b| b.events.len()).sum());
    let mut owners = Vec::with_capacity(events.capacity());
    for (owner, batch) in batches.iter().enumerate() {
        for event in &batch.events {
            events.push(event);
            owners.push(owner);
        }
    }
    // Keys first: an unkeyable event fails the batch before anything is sent.
    let mut keys = Vec::with_capacity(events.len());
    for event in &events {
        keys.push(event_key(event.ts, &event.id).ok_or_else(|| {
            StoreError::TimestampOutOfRange {
                path: location.to_owned(),
                event_id: event.id.clone(),
                ts_millis: event.ts.millis(),
            }
        })?);
    }
    let mut transaction = client.transaction().at(location)?;
    let now = now_millis();
    // Personal data is sealed inside the transaction, so a data key it creates is stored
    // together with the first ciphertext under it, or not at all. The batches' data keys
    // are looked up in one statement first, and the missing ones made in a fixed order.
    let (members, sealed_logins, quarantined) = {
        let mut data_keys = Keys::new(&mut transaction, location);
        let logins = events.iter().filter_map(|event| match &event.body {
            EventBody::Login(login) => Some(login.account.as_str()),
            _ => None,
        });
        let any_quarantined = batches.iter().any(|batch| !batch.quarantined.is_empty());
        let mut subjects = batches
            .iter()
            .flat_map(|batch| &batch.members)
            .filter(|member| has_personal_fields(member))
            .map(|member| member.id.as_str())
            .chain(logins)
            .chain(any_quarantined.then_some(QUARANTINE_SUBJECT))
            .peekable();
        if subjects.peek().is_some() {
            data_keys.prepare(vault, subjects)?;
        }
        let mut members = Vec::with_capacity(batches.len());
        let mut quarantined = Vec::with_capacity(batches.len());
        for batch in batches {
            members.push(
                batch
                    .members
                    .iter()
                    .map(|member| seal_member(vault, &mut data_keys, member))
                    .collect::<Result<Vec<_>, _>>()?,
            );
            quarantined.push(seal_quarantined(vault, &mut data_keys, &batch.quarantined)?);
        }
        let sealed_logins = seal_logins(vault, &mut data_keys, events.iter().copied())?;
        (members, sealed_logins, quarantined)
    };
    let mut outcomes = Vec::with_capacity(batches.len());
    // Titles and members batch by batch (each batch's own counts; the last write of a row
    // wins as when written one after the other); titles first: the views' completion below
    // reads the batches' runtimes.
    for (batch, members) in batches.iter().zip(&members) {
        outcomes.push(BatchOutcome {
            titles_upserted: upsert_titles(&mut transaction, location, &batch.titles, now)?,
            members_upserted: upsert_members(&mut transaction, location, members, now)?,
            ..BatchOutcome::default()
        });
    }
    insert_events(
        &mut transaction,
        location,
        &Written {
            events: &events,
            owners: &owners,
            keys: &keys,
            sealed_logins: &sealed_logins,
        },
        &mut outcomes,
    )?;
    for (outcome, quarantined) in outcomes.iter_mut().zip(&quarantined) {
        outcome.quarantined_new = insert_quarantined(&mut transaction, location, quarantined, now)?;
    }
    transaction.commit().at(location)?;
    Ok(outcomes)
}

/// Whether anything of `member` is sealed (under the member's data key).
fn has_personal_fields(member: &Member) -> bool {
    member.email.is_some()
        || member.name.is_some()
        || member.profiles.iter().any(|profile| profile.name.is_some())
}

/// The positions of `items` keeping only the last of each id, in order of id: one
/// `INSERT ... ON CONFLICT DO UPDATE` may not touch a row twice, and the last write wins;
/// in id order, so concurrent writers of the same rows lock them in one order and cannot
/// deadlock.
fn last_of_each<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<usize> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (position, item) in items.iter().enumerate() {
        last.insert(id(item), position);
    }
    let mut positions: Vec<(&str, usize)> = last.into_iter().collect();
    positions.sort_unstable();
    positions
        .into_iter()
        .map(|(_, position)| position)
        .collect()
}

fn upsert_titles(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    titles: &[Title],
    now: i64,
) -> Result<u64, StoreError> {
    if titles.is_empty() {
        return Ok(0);
    }
    const COLUMNS: &[(&str, &str)] = &[
        ("id", "text"),
        ("kind", "text"),
        ("name", "text"),
        ("series_id", "text"),
        ("season_number", "int8"),
        ("episode_number", "int8"),
        ("genres", "text"),
        ("release_year", "int8"),
        ("duration_s", "int8"),
        ("maturity_rating", "text"),
        ("cast_members", "text"),
        ("directors", "text"),
        ("countries", "text"),
        ("availability", "text"),
        ("added_at", "int8"),
        ("description", "text"),
        ("updated_at", "int8"),
    ];
    let positions = last_of_each(titles, |title| &title.id);
    let mut json = Vec::with_capacity(positions.len());
    for &position in &positions {
        let title = &titles[position];
        json.push([
            json_text(location, "titles", "genres", &title.genres)?,
            json_text(location, "titles", "cast_members", &title.cast)?,
            json_text(location, "titles", "directors", &title.directors)?,
            json_text(location, "titles", "countries", &title.countries)?,
            json_text(location, "titles", "availability", &title.availability)?,
        ]);
    }
    let mut columns = Columns::new(COLUMNS);
    for (&position, json) in positions.iter().zip(&json) {
        let title = &titles[position];
        let mut row = columns.row();
        row.text(Some(&title.id));
        row.text(Some(title.kind.as_str()));
        row.text(Some(&title.name));
        row.text(title.series_id.as_deref());
        row.int(title.season_number.map(i64::from));
        row.int(title.episode_number.map(i64::from));
        row.text(Some(&json[0]));
        row.int(title.release_year.map(i64::from));
        row.int(title.duration_s.map(i64::from));
        row.text(title.maturity_rating.as_deref());
        row.text(Some(&json[1]));
        row.text(Some(&json[2]));
        row.text(Some(&json[3]));
        row.text(Some(&json[4]));
        row.int(title.added_at.map(|ts| ts.millis()));
        row.text(title.description.as_deref());
        row.int(Some(now));
    }
    let updates: Vec<String> = COLUMNS[1..]
        .iter()
        .map(|(name, _)| format!("{name} = excluded.{name}"))
        .collect();
    let sql = format!(
        "INSERT INTO titles ({}) SELECT * FROM {} ON CONFLICT (id) DO UPDATE SET {}",
        columns.column_list(),
        columns.unnest(),
        updates.join(", ")
    );
    transaction.execute(&sql, &columns.params()).at(location)?;
    Ok(titles.len() as u64)
}

/// Upserts members whose personal fields are already sealed, with their email indexes.
fn upsert_members(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    members: &[(Member, Option<[u8; 32]>)],
    now: i64,
) -> Result<u64, StoreError> {
    if members.is_empty() {
        return Ok(0);
    }
    const COLUMNS: &[(&str, &str)] = &[
        ("id", "text"),
        ("email", "text"),
        ("name", "text"),
        ("country", "text"),
        ("signup_at", "int8"),
        ("plan", "text"),
        ("profiles", "text"),
        ("updated_at", "int8"),
        ("email_index", "bytea"),
    ];
    let positions = last_of_each(members, |(member, _)| &member.id);
    let mut profiles = Vec::with_capacity(positions.len());
    for &position in &positions {
        profiles.push(json_text(
            location,
            "members",
            "profiles",
            &members[position].0.profiles,
        )?);
    }
    let mut columns = Columns::new(COLUMNS);
    for (&position, profiles) in positions.iter().zip(&profiles) {
        let (member, email_index) = &members[position];
        let mut row = columns.row();
        row.text(Some(&member.id));
        row.text(member.email.as_ref().map(|email| email.expose().as_str()));
        row.text(member.name.as_ref().map(|name| name.expose().as_str()));
        row.text(member.country.as_deref());
        row.int(member.signup_at.map(|ts| ts.millis()));
        row.text(member.plan.as_deref());
        row.text(Some(profiles));
        row.int(Some(now));
        row.bytes(email_index.as_ref().map(|index| &index[..]));
    }
    let updates: Vec<String> = COLUMNS[1..]
        .iter()
        .map(|(name, _)| format!("{name} = excluded.{name}"))
        .collect();
    let sql = format!(
        "INSERT INTO members ({}) SELECT * FROM {} ON CONFLICT (id) DO UPDATE SET {}",
        columns.column_list(),
        columns.unnest(),
        updates.join(", ")
    );
    transaction.execute(&sql, &columns.params()).at(location)?;
    Ok(members.len() as u64)
}

/// A session's plays newly stored by this batch, folded together (as on SQLite).
struct SessionFold {
    first_position: usize,
    started_at: i64,
    last_at: i64,
    watched_s: u32,
    max_position_s: u32,
    events: u64,
    stopped: bool,
}

/// A transaction's events: in order, each with the batch it came from, its key and (for a
/// login) its sealed account and address.
struct Written<'a> {
    events: &'a [&'a Event],
    owners: &'a [usize],
    keys: &'a [i64],
    sealed_logins: &'a HashMap<usize, [String; 2]>,
}

/// Stores the events not stored yet, one `COPY` per event table, folds the new plays into
/// views, and counts each batch's accepted and duplicate events into `outcomes`.
fn insert_events(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    written: &Written<'_>,
    outcomes: &mut [BatchOutcome],
) -> Result<(), StoreError> {
    let Written {
        events,
        owners,
        keys,
        sealed_logins,
    } = *written;
    let mut by_kind: [Vec<usize>; 6] = Default::default();
    for (position, event) in events.iter().enumerate() {
        by_kind[kind_index(event.kind())].push(position);
    }
    // In primary key order, so concurrent writers of the same events wait for each other in
    // one order and cannot deadlock; stable, so that of two copies of one event the earlier
    // (in an earlier batch, or earlier in the same one) is the one kept and the later counts
    // as a duplicate.
    for positions in &mut by_kind {
        positions.sort_by_key(|&position| (keys[position], events[position].id.as_str()));
        positions.dedup_by_key(|position| (keys[*position], events[*position].id.as_str()));
    }
    for (index, unique) in by_kind.iter().enumerate() {
        if unique.is_empty() {
            continue;
        }
        let (table, names) = EVENT_COLUMNS[index];
        let mut rows = BinaryRows::new(names.len(), unique.len());
        for &position in unique {
            let sealed = sealed_logins.get(&position);
            if index == kind_index(EventKind::Login) && sealed.is_none() {
                return Err(StoreError::Corrupt {
                    path: location.to_owned(),
                    table,
                    column: "account",
                    detail: format!("login {:?} was not sealed", events[position].id),
                });
            }
            push_event(rows.row(), keys[position], events[position], sealed);
        }
        let list = column_list(names);
        let expected = rows.rows() as u64;
        let data = rows.finish();
        // Rows sent in primary key order go straight into the table under a savepoint: the
        // common case, where none of them is stored yet, costs one COPY and no staging, sort
        // or `ON CONFLICT` (speculative insertion). When one is already stored (a message
        // redelivered, a file imported again, another writer storing the same events) the
        // COPY fails on the primary key, is undone (the server stops at the first such row),
        // and the rows take the staging path, which says which of them were new.
        let stored = match try_copy(transaction, location, table, &list, &data, expected)? {
            Some(_) => unique.clone(),
            None => {
                prepare_staging(transaction, location, index)?;
                let staging = staging_table(table);
                copy_rows(
                    transaction,
                    location,
                    table,
                    &staging,
                    &list,
                    &data,
                    expected,
                )?;
                // The staging table holds the rows in the order they were sent, which is
                // primary key order; ORDER BY makes sure, and costs little on sorted rows.
                let sql = format!(
                    "INSERT INTO {table} ({list}) SELECT {list} FROM {staging} ORDER BY key, id \
                     ON CONFLICT (key, id) DO NOTHING RETURNING key, id"
                );
                let rows = transaction.query(&sql, &[]).at(location)?;
                let mut new_positions = Vec::with_capacity(rows.len());
                for row in &rows {
                    let (key, id): (i64, &str) = (row.get(0), row.get(1));
                    let found = unique.binary_search_by(|&position| {
                        (keys[position], events[position].id.as_str()).cmp(&(key, id))
                    });
                    match found {
                        Ok(at) => new_positions.push(unique[at]),
                        Err(_) => {
                            return Err(StoreError::Corrupt {
                                path: location.to_owned(),
                                table,
                                column: "id",
                                detail: format!(
                                    "the server reported storing event {id:?}, not in the batch"
                                ),
                            });
                        }
                    }
                }
                new_positions
            }
        };
        for &position in &stored {
            outcomes[owners[position]].events_accepted += 1;
        }
        if index == kind_index(EventKind::Play) {
            upsert_views(transaction, location, events, stored)?;
        }
    }
    // Every event of a batch not stored now was already there (or repeated in the batches).
    let mut counts = vec![0u64; outcomes.len()];
    for &owner in owners {
        counts[owner] += 1;
    }
    for (outcome, count) in outcomes.iter_mut().zip(counts) {
        outcome.events_duplicate = count - outcome.events_accepted;
    }
    Ok(())
}

/// Copies `data` (binary `COPY` rows of `table`'s columns `list`) straight into `table`
/// under a savepoint: the number of rows stored, or `None` (and nothing stored) when a row
/// was already there.
fn try_copy(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    table: &'static str,
    list: &str,
    data: &[u8],
    expected: u64,
) -> Result<Option<u64>, StoreError> {
    let mut savepoint = transaction.savepoint("direct_copy").at(location)?;
    match copy_into(&mut savepoint, table, table, list, data, expected) {
        Ok(count) => {
            savepoint.commit().at(location)?;
            Ok(Some(count))
        }
        Err(CopyFailure::Server(error)) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            savepoint.rollback().at(location)?;
            Ok(None)
        }
        Err(failure) => Err(failure.into_store_error(location)),
    }
}

/// The session's temporary table through which `table`'s rows of a batch are copied.
fn staging_table(table: &str) -> String {
    format!("pg_temp.showrunner_staging_{table}")
}

fn column_list(names: &[(&str, &str)]) -> String {
    let names: Vec<&str> = names.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// Makes sure this session has the staging table of the event table at `index`, empty.
/// It is temporary (never WAL-logged, gone with the session) and emptied by every commit
/// that used it, and a failed batch's rows are rolled back with it.
fn prepare_staging(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    index: usize,
) -> Result<(), StoreError> {
    // The NOTICE of an existing table ("skipping") is noise. The stock 4 MB of sort memory
    // would spill a batch of 50 000 plays (about 15 MB) to a temporary file.
    let table = EVENT_COLUMNS[index].0;
    transaction
        .batch_execute(&format!(
            "SET LOCAL client_min_messages = warning; SET LOCAL work_mem = '256MB'; \
             CREATE TEMP TABLE IF NOT EXISTS showrunner_staging_{table} \
             (LIKE {table}) ON COMMIT DELETE ROWS"
        ))
        .at(location)
}

/// Why a `COPY` failed.
enum CopyFailure {
    Server(postgres::Error),
    Io(std::io::Error),
    Count {
        table: &'static str,
        copied: u64,
        expected: u64,
    },
}

impl CopyFailure {
    fn into_store_error(self, location: &Path) -> StoreError {
        match self {
            CopyFailure::Server(error) => pg_error(location, error),
            CopyFailure::Io(source) => StoreError::Io {
                path: location.to_owned(),
                source,
            },
            CopyFailure::Count {
                table,
                copied,
                expected,
            } => StoreError::Corrupt {
                path: location.to_owned(),
                table,
                column: "*",
                detail: format!("COPY stored {copied} rows of {expected}"),
            },
        }
    }
}

/// Sends `data` (binary `COPY` rows of event table `table`, `expected` of them) into
/// `target` (the table itself or its staging table) with one `COPY`.
fn copy_into(
    transaction: &mut postgres::Transaction<'_>,
    table: &'static str,
    target: &str,
    list: &str,
    data: &[u8],
    expected: u64,
) -> Result<u64, CopyFailure> {
    let mut writer = transaction
        .copy_in(&format!(
            "COPY {target} ({list}) FROM STDIN (FORMAT binary)"
        ))
        .map_err(CopyFailure::Server)?;
    if let Err(error) = writer.write_all(data) {
        // The server's own error (a duplicate key, say) is what `finish` reports; a broken
        // stream without one stays an IO error.
        return Err(match writer.finish() {
            Err(server) => CopyFailure::Server(server),
            Ok(_) => CopyFailure::Io(error),
        });
    }
    let copied = writer.finish().map_err(CopyFailure::Server)?;
    if copied != expected {
        return Err(CopyFailure::Count {
            table,
            copied,
            expected,
        });
    }
    Ok(copied)
}

/// Sends `data` (rows of event table `table`) into its staging table with one binary `COPY`.
fn copy_rows(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    table: &'static str,
    staging: &str,
    list: &str,
    data: &[u8],
    expected: u64,
) -> Result<(), StoreError> {
    copy_into(transaction, table, staging, list, data, expected)
        .map(|_| ())
        .map_err(|failure| failure.into_store_error(location))
}

/// Folds the newly stored plays into their sessions and upserts one view per session
/// (one statement), with the rules of the SQLite backend: every column a minimum, a
/// maximum, a sum of new events or the earliest play's value.
fn upsert_views(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    events: &[&Event],
    mut new_positions: Vec<usize>,
) -> Result<(), StoreError> {
    if new_positions.is_empty() {
        return Ok(());
    }
    // In batch order, so that of two plays at the same time the earlier one's texts go to
    // the view, as on SQLite.
    new_positions.sort_unstable();
    let mut sessions: HashMap<&str, SessionFold> = HashMap::new();
    for position in new_positions {
        let event = &events[position];
        let EventBody::Play(play) = &event.body else {
            continue;
        };
        let ts = event.ts.millis();
        let stopped = play.action == PlayAction::Stop;
        match sessions.get_mut(play.session_id.as_str()) {
            None => {
                sessions.insert(
                    &play.session_id,
                    SessionFold {
                        first_position: position,
                        started_at: ts,
                        last_at: ts,
                        watched_s: play.watched_s,
                        max_position_s: play.position_s,
                        events: 1,
                        stopped,
                    },
                );
            }
            Some(fold) => {
                if ts < fold.started_at {
                    fold.started_at = ts;
                    fold.first_position = position;
                }
                fold.last_at = fold.last_at.max(ts);
                fold.watched_s = fold.watched_s.max(play.watched_s);
                fold.max_position_s = fold.max_position_s.max(play.position_s);
                fold.events += 1;
                fold.stopped |= stopped;
            }
        }
    }
    // In session order, so concurrent writers lock views in the same order.
    let mut ordered: Vec<(&str, SessionFold)> = sessions.into_iter().collect();
    ordered.sort_unstable_by(|a, b| a.0.cmp(b.0));
    const COLUMNS: &[(&str, &str)] = &[
        ("session_id", "text"),
        ("member_id", "text"),
        ("profile_id", "text"),
        ("title_id", "text"),
        ("device", "text"),
        ("country", "text"),
        ("started_at", "int8"),
        ("last_at", "int8"),
        ("watched_s", "int8"),
        ("max_position_s", "int8"),
        ("events", "int8"),
        ("stopped", "bool"),
    ];
    let mut columns = Columns::new(COLUMNS);
    for (session_id, fold) in &ordered {
        let EventBody::Play(first) = &events[fold.first_position].body else {
            continue;
        };
        let mut row = columns.row();
        row.text(Some(session_id));
        row.text(Some(&first.member_id));
        row.text(first.profile_id.as_deref());
        row.text(Some(&first.title_id));
        row.text(first.device.as_deref());
        row.text(first.country.as_deref());
        row.int(Some(fold.started_at));
        row.int(Some(fold.last_at));
        row.int(u32_value(fold.watched_s));
        row.int(u32_value(fold.max_position_s));
        row.int(Some(i64::try_from(fold.events).unwrap_or(i64::MAX)));
        row.bool(Some(fold.stopped));
    }
    let earlier = "excluded.started_at < v.started_at";
    let sql = format!(
        "INSERT INTO views AS v ({list}, completion, non_human) \
         SELECT s.*, (SELECT least(1.0::float8, s.max_position_s::float8 / t.duration_s) \
                 FROM titles t WHERE t.id = s.title_id AND t.duration_s > 0), false \
         FROM {unnest} AS s({list}) \
         ON CONFLICT (session_id) DO UPDATE SET \
             member_id = CASE WHEN {earlier} THEN excluded.member_id ELSE v.member_id END, \
             profile_id = CASE WHEN {earlier} THEN excluded.profile_id ELSE v.profile_id END, \
             title_id = CASE WHEN {earlier} THEN excluded.title_id ELSE v.title_id END, \
             device = CASE WHEN {earlier} THEN excluded.device ELSE v.device END, \
             country = CASE WHEN {earlier} THEN excluded.country ELSE v.country END, \
             started_at = least(v.started_at, excluded.started_at), \
             last_at = greatest(v.last_at, excluded.last_at), \
             watched_s = greatest(v.watched_s, excluded.watched_s), \
             max_position_s = greatest(v.max_position_s, excluded.max_position_s), \
             events = v.events + excluded.events, \
             stopped = v.stopped OR excluded.stopped, \
             completion = (SELECT least(1.0::float8, \
                     greatest(v.max_position_s, excluded.max_position_s)::float8 \
                     / t.duration_s) \
                 FROM titles t \
                 WHERE t.id = CASE WHEN {earlier} THEN excluded.title_id ELSE v.title_id END \
                 AND t.duration_s > 0)",
        list = columns.column_list(),
        unnest = columns.unnest(),
    );
    transaction.execute(&sql, &columns.params()).at(location)?;
    Ok(())
}

/// Inserts quarantined rows already sealed, each with the hash of its plain raw text.
fn insert_quarantined(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    rows: &[(Quarantined, i64)],
    now: i64,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    const COLUMNS: &[(&str, &str)] = &[
        ("source", "text"),
        ("line", "int8"),
        ("raw", "text"),
        ("raw_hash", "int8"),
        ("reason", "text"),
        ("field", "text"),
        ("detail", "text"),
        ("first_seen", "int8"),
    ];
    let mut columns = Columns::new(COLUMNS);
    for (quarantined, raw_hash) in rows {
        let mut row = columns.row();
        row.text(Some(&quarantined.source));
        row.int(Some(i64::try_from(quarantined.line).unwrap_or(i64::MAX)));
        row.text(Some(&quarantined.raw));
        row.int(Some(*raw_hash));
        row.text(Some(quarantined.problem.kind.code()));
        row.text(quarantined.problem.field.as_deref());
        row.text(Some(&quarantined.problem.detail));
        row.int(Some(now));
    }
    // WITH ORDINALITY keeps the batch's order for the ids.
    let sql = format!(
        "INSERT INTO quarantine ({list}) \
         SELECT {list} FROM {unnest} WITH ORDINALITY AS q({list}, n) ORDER BY n \
         ON CONFLICT (source, line, raw_hash) DO NOTHING",
        list = columns.column_list(),
        unnest = columns.unnest(),
    );
    transaction.execute(&sql, &columns.params()).at(location)
}

/// Recomputes completion and the non-human flag over all views, writing only the rows that
/// change (the rules of `Store::refresh_derived`).
pub(super) fn refresh_derived(
    client: &mut postgres::Client,
    location: &Path,
) -> Result<DerivedSummary, StoreError> {
    let mut transaction = client.transaction().at(location)?;
    transaction
        .execute(
            "UPDATE views SET completion = c.completion \
             FROM (SELECT views.id, (SELECT least(1.0::float8, \
                         views.max_position_s::float8 / t.duration_s) \
                     FROM titles t WHERE t.id = views.title_id AND t.duration_s > 0) \
                     AS completion \
                   FROM views) AS c \
             WHERE c.id = views.id AND views.completion IS DISTINCT FROM c.completion",
            &[],
        )
        .at(location)?;
    transaction
        .execute(
            "UPDATE views SET non_human = NOT non_human \
             WHERE non_human <> ((member_id, coalesce(device, ''), started_at / 86400000) IN ( \
                 SELECT member_id, coalesce(device, ''), started_at / 86400000 FROM views \
                 GROUP BY member_id, coalesce(device, ''), started_at / 86400000 \
                 HAVING sum(watched_s) > $1::int8))",
            &[&NON_HUMAN_SECONDS_PER_DAY],
        )
        .at(location)?;
    let row = transaction
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE non_human) FROM views",
            &[],
        )
        .at(location)?;
    let (views, non_human_views): (i64, i64) = (row.get(0), row.get(1));
    transaction.commit().at(location)?;
    Ok(DerivedSummary {
        views: views as u64,
        non_human_views: non_human_views as u64,
    })
}

pub(super) fn record_import(
    client: &mut postgres::Client,
    location: &Path,
    record: &ImportLog,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO imports (sources, started_at, finished_at, counts, interrupted) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &json_text(location, "imports", "sources", &record.sources)?,
                &record.started_at.millis(),
                &record.finished_at.millis(),
                &json_text(location, "imports", "counts", &record.counts)?,
                &record.interrupted,
            ],
        )
        .at(location)?;
    Ok(())
}
