//! Queries: what the importer needs to validate, counts, views, quarantine, the import log,
//! and events, titles and members read back as model types.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};
use serde::de::DeserializeOwned;
use showrunner_model::event::Thumbs;
use showrunner_model::{
    Event, EventBody, EventKind, Impression, Login, LoginOutcome, Member, Personal, Play,
    PlayAction, Problem, ProblemKind, Qoe, Rating, RatingValue, Search, Timestamp, Title,
    TitleKind,
};

use super::AtPath;
use super::write::{Coding, EVENT_TABLES, PROBE_LIMIT, kind_index, table_of};
use crate::key::first_key_at;
use crate::{
    EventFilter, ImportLog, ImportRecord, KnownTitle, QuarantineFilter, QuarantineRow, StoreCounts,
    StoreError, View, ViewFilter,
};

/// A stored value that does not decode; named by table and column.
fn corrupt(path: &Path, table: &'static str, column: &'static str, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        table,
        column,
        detail,
    }
}

fn from_json<T: DeserializeOwned>(
    path: &Path,
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| corrupt(path, table, column, format!("bad JSON: {error}")))
}

fn count(connection: &Connection, path: &Path, sql: &str) -> Result<u64, StoreError> {
    let value: i64 = connection.query_row(sql, [], |row| row.get(0)).at(path)?;
    Ok(value as u64)
}

fn limit_value(limit: Option<u64>) -> i64 {
    // SQLite reads a negative LIMIT as "no limit".
    limit.map_or(-1, |limit| i64::try_from(limit).unwrap_or(i64::MAX))
}

pub(super) fn known_titles(
    connection: &Connection,
    path: &Path,
) -> Result<Vec<KnownTitle>, StoreError> {
    let mut statement = connection
        .prepare_cached("SELECT id, kind, duration_s FROM titles ORDER BY id")
        .at(path)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<u32>>(2)?,
            ))
        })
        .at(path)?;
    let mut titles = Vec::new();
    for row in rows {
        let (id, kind, duration_s) = row.at(path)?;
        let kind = TitleKind::parse(&kind)
            .ok_or_else(|| corrupt(path, "titles", "kind", format!("unknown kind {kind:?}")))?;
        titles.push(KnownTitle {
            id,
            kind,
            duration_s,
        });
    }
    Ok(titles)
}

pub(super) fn known_members(
    connection: &Connection,
    path: &Path,
) -> Result<Vec<String>, StoreError> {
    let mut statement = connection
        .prepare_cached("SELECT id FROM members ORDER BY id")
        .at(path)?;
    let rows = statement.query_map([], |row| row.get(0)).at(path)?;
    rows.collect::<Result<Vec<String>, _>>().at(path)
}

pub(super) fn counts(connection: &Connection, path: &Path) -> Result<StoreCounts, StoreError> {
    let mut events = BTreeMap::new();
    for kind in EventKind::ALL {
        let sql = format!("SELECT count(*) FROM {}", table_of(kind));
        events.insert(kind, count(connection, path, &sql)?);
    }
    let (views, non_human_views): (i64, i64) = connection
        .query_row(
            "SELECT count(*), coalesce(sum(non_human), 0) FROM views",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .at(path)?;
    Ok(StoreCounts {
        titles: count(connection, path, "SELECT count(*) FROM titles")?,
        members: count(connection, path, "SELECT count(*) FROM members")?,
        events,
        views: views as u64,
        non_human_views: non_human_views as u64,
        quarantined: count(connection, path, "SELECT count(*) FROM quarantine")?,
    })
}

pub(super) fn views(
    connection: &Connection,
    path: &Path,
    filter: &ViewFilter,
) -> Result<Vec<View>, StoreError> {
    let mut sql = String::from(
        "SELECT session_id, member_id, profile_id, title_id, device, country, started_at, \
             last_at, watched_s, max_position_s, events, stopped, completion, non_human \
         FROM views WHERE 1 = 1",
    );
    let mut values: Vec<Value> = Vec::new();
    for (column, wanted) in [
        ("member_id", &filter.member_id),
        ("session_id", &filter.session_id),
        ("title_id", &filter.title_id),
    ] {
        if let Some(wanted) = wanted {
            values.push(Value::Text(wanted.clone()));
            sql.push_str(&format!(" AND {column} = ?{}", values.len()));
        }
    }
    if let Some(non_human) = filter.non_human {
        values.push(Value::Integer(i64::from(non_human)));
        sql.push_str(&format!(" AND non_human = ?{}", values.len()));
    }
    values.push(Value::Integer(limit_value(filter.limit)));
    sql.push_str(&format!(
        " ORDER BY started_at, session_id LIMIT ?{}",
        values.len()
    ));
    let mut statement = connection.prepare_cached(&sql).at(path)?;
    let rows = statement
        .query_map(params_from_iter(values), |row| {
            Ok(View {
                session_id: row.get(0)?,
                member_id: row.get(1)?,
                profile_id: row.get(2)?,
                title_id: row.get(3)?,
                device: row.get(4)?,
                country: row.get(5)?,
                started_at: Timestamp::from_millis(row.get(6)?),
                last_at: Timestamp::from_millis(row.get(7)?),
                watched_s: row.get(8)?,
                max_position_s: row.get(9)?,
                events: row.get::<_, i64>(10)? as u64,
                stopped: row.get(11)?,
                completion: row.get(12)?,
                non_human: row.get(13)?,
            })
        })
        .at(path)?;
    rows.collect::<Result<Vec<View>, _>>().at(path)
}

pub(super) fn quarantine(
    connection: &Connection,
    path: &Path,
    filter: &QuarantineFilter,
) -> Result<Vec<QuarantineRow>, StoreError> {
    let mut sql = String::from(
        "SELECT id, source, line, raw, reason, field, detail, first_seen FROM quarantine \
         WHERE 1 = 1",
    );
    let mut values: Vec<Value> = Vec::new();
    if let Some(source) = &filter.source_contains {
        // instr rather than LIKE: the text is matched literally, `%` and `_` included.
        values.push(Value::Text(source.clone()));
        sql.push_str(&format!(" AND instr(source, ?{}) > 0", values.len()));
    }
    if let Some(reason) = filter.reason {
        values.push(Value::Text(reason.code().to_owned()));
        sql.push_str(&format!(" AND reason = ?{}", values.len()));
    }
    values.push(Value::Integer(limit_value(filter.limit)));
    sql.push_str(&format!(" ORDER BY id LIMIT ?{}", values.len()));
    values.push(Value::Integer(
        i64::try_from(filter.offset).unwrap_or(i64::MAX),
    ));
    sql.push_str(&format!(" OFFSET ?{}", values.len()));
    let mut statement = connection.prepare(&sql).at(path)?;
    let mut rows = statement.query(params_from_iter(values)).at(path)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().at(path)? {
        found.push(quarantine_row(path, row)?);
    }
    Ok(found)
}

fn quarantine_row(path: &Path, row: &Row<'_>) -> Result<QuarantineRow, StoreError> {
    let reason: String = row.get(4).at(path)?;
    let kind = ProblemKind::from_code(&reason).ok_or_else(|| {
        corrupt(
            path,
            "quarantine",
            "reason",
            format!("unknown reason {reason:?}"),
        )
    })?;
    Ok(QuarantineRow {
        id: row.get(0).at(path)?,
        source: row.get(1).at(path)?,
        line: row.get::<_, i64>(2).at(path)? as u64,
        raw: row.get(3).at(path)?,
        problem: Problem {
            kind,
            field: row.get(5).at(path)?,
            detail: row.get(6).at(path)?,
        },
        first_seen: Timestamp::from_millis(row.get(7).at(path)?),
    })
}

pub(super) fn quarantine_counts(
    connection: &Connection,
    path: &Path,
) -> Result<Vec<(ProblemKind, u64)>, StoreError> {
    let mut statement = connection
        .prepare_cached("SELECT reason, count(*) FROM quarantine GROUP BY reason")
        .at(path)?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .at(path)?;
    let mut counts = Vec::new();
    for row in rows {
        let (reason, count) = row.at(path)?;
        let kind = ProblemKind::from_code(&reason).ok_or_else(|| {
            corrupt(
                path,
                "quarantine",
                "reason",
                format!("unknown reason {reason:?}"),
            )
        })?;
        counts.push((kind, count as u64));
    }
    counts.sort();
    Ok(counts)
}

pub(super) fn imports(
    connection: &Connection,
    path: &Path,
) -> Result<Vec<ImportRecord>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT id, sources, started_at, finished_at, counts, interrupted FROM imports \
             ORDER BY id",
        )
        .at(path)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, bool>(5)?,
            ))
        })
        .at(path)?;
    let mut records = Vec::new();
    for row in rows {
        let (id, sources, started_at, finished_at, counts, interrupted) = row.at(path)?;
        records.push(ImportRecord {
            id,
            log: ImportLog {
                sources: from_json(path, "imports", "sources", &sources)?,
                started_at: Timestamp::from_millis(started_at),
                finished_at: Timestamp::from_millis(finished_at),
                counts: from_json(path, "imports", "counts", &counts)?,
                interrupted,
            },
        });
    }
    Ok(records)
}

pub(super) fn title(
    connection: &Connection,
    path: &Path,
    id: &str,
) -> Result<Option<Title>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT id, kind, name, series_id, season_number, episode_number, genres, \
                 release_year, duration_s, maturity_rating, cast_members, directors, countries, \
                 availability, added_at, description \
             FROM titles WHERE id = ?1",
        )
        .at(path)?;
    let mut rows = statement.query([id]).at(path)?;
    let Some(row) = rows.next().at(path)? else {
        return Ok(None);
    };
    let kind: String = row.get(1).at(path)?;
    let text = |index: usize| -> Result<String, StoreError> { row.get(index).at(path) };
    Ok(Some(Title {
        id: row.get(0).at(path)?,
        kind: TitleKind::parse(&kind)
            .ok_or_else(|| corrupt(path, "titles", "kind", format!("unknown kind {kind:?}")))?,
        name: row.get(2).at(path)?,
        series_id: row.get(3).at(path)?,
        season_number: row.get(4).at(path)?,
        episode_number: row.get(5).at(path)?,
        genres: from_json(path, "titles", "genres", &text(6)?)?,
        release_year: row.get(7).at(path)?,
        duration_s: row.get(8).at(path)?,
        maturity_rating: row.get(9).at(path)?,
        cast: from_json(path, "titles", "cast_members", &text(10)?)?,
        directors: from_json(path, "titles", "directors", &text(11)?)?,
        countries: from_json(path, "titles", "countries", &text(12)?)?,
        availability: from_json(path, "titles", "availability", &text(13)?)?,
        added_at: row
            .get::<_, Option<i64>>(14)
            .at(path)?
            .map(Timestamp::from_millis),
        description: row.get(15).at(path)?,
    }))
}

pub(super) fn member(
    connection: &Connection,
    path: &Path,
    id: &str,
) -> Result<Option<Member>, StoreError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT id, email, name, country, signup_at, plan, profiles FROM members \
             WHERE id = ?1",
        )
        .at(path)?;
    let found = statement
        .query_row([id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, String>(6)?,
            ))
        })
        .optional()
        .at(path)?;
    let Some((id, email, name, country, signup_at, plan, profiles)) = found else {
        return Ok(None);
    };
    Ok(Some(Member {
        id,
        email: email.map(Personal::new),
        name: name.map(Personal::new),
        country,
        signup_at: signup_at.map(Timestamp::from_millis),
        plan,
        profiles: from_json(path, "members", "profiles", &profiles)?,
    }))
}

/// The select list after `id, ts` for one kind, in [`EVENT_TABLES`] order (which the
/// decoders below expect), with every coded column mapped back to its text.
fn event_columns(index: usize) -> String {
    let table = &EVENT_TABLES[index];
    let expressions: Vec<String> = table
        .columns
        .iter()
        .map(|&(column, coding)| match coding {
            Coding::Plain => format!("{}.{column}", table.table),
            Coding::Dictionary => format!(
                "(SELECT text FROM strings WHERE strings.key = {}.{column})",
                table.table
            ),
            Coding::View => format!(
                "(SELECT session_id FROM views WHERE views.id = {}.{column})",
                table.table
            ),
        })
        .collect();
    expressions.join(", ")
}

/// An event id as stored (see `derived_id_bytes`): TEXT as given, a BLOB of 16 bytes as
/// lower-case hex.
fn event_id(path: &Path, table: &'static str, value: ValueRef<'_>) -> Result<String, StoreError> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match value {
        ValueRef::Text(text) => String::from_utf8(text.to_vec())
            .map_err(|error| corrupt(path, table, "id", format!("not UTF-8: {error}"))),
        ValueRef::Blob(bytes) if bytes.len() == 16 => {
            let mut text = String::with_capacity(32);
            for byte in bytes {
                text.push(char::from(HEX[usize::from(byte >> 4)]));
                text.push(char::from(HEX[usize::from(byte & 0x0F)]));
            }
            Ok(text)
        }
        other => Err(corrupt(
            path,
            table,
            "id",
            format!("not an event id: {other:?}"),
        )),
    }
}

pub(super) fn events(
    connection: &Connection,
    path: &Path,
    filter: &EventFilter,
) -> Result<Vec<Event>, StoreError> {
    let kind = filter.kind;
    let table = table_of(kind);
    // The key bounds let SQLite range-scan the primary key; the `ts` bounds are exact. A
    // probed key can lie up to PROBE_LIMIT past the start of the next second.
    let from_key = filter.from.map_or(0, first_key_at);
    let until_key = filter.until.map_or(i64::MAX, |until| {
        first_key_at(Timestamp::from_seconds(until.seconds() + 1)).saturating_add(PROBE_LIMIT)
    });
    let from_ms = filter.from.map_or(i64::MIN, Timestamp::millis);
    let until_ms = filter.until.map_or(i64::MAX, Timestamp::millis);
    let sql = format!(
        "SELECT id, ts, {} FROM {table} \
         WHERE key >= ?1 AND key < ?2 AND ts >= ?3 AND ts < ?4 \
         ORDER BY key LIMIT ?5",
        event_columns(kind_index(kind))
    );
    let mut statement = connection.prepare_cached(&sql).at(path)?;
    let mut rows = statement
        .query(rusqlite::params![
            from_key,
            until_key,
            from_ms,
            until_ms,
            limit_value(filter.limit)
        ])
        .at(path)?;
    let mut events = Vec::new();
    while let Some(row) = rows.next().at(path)? {
        let body = decode_body(path, kind, row)?;
        events.push(Event {
            id: event_id(path, table, row.get_ref(0).at(path)?)?,
            ts: Timestamp::from_millis(row.get(1).at(path)?),
            body,
        });
    }
    Ok(events)
}

fn decode_body(path: &Path, kind: EventKind, row: &Row<'_>) -> Result<EventBody, StoreError> {
    let table = table_of(kind);
    let bad_code = |column: &'static str, value: &str| {
        corrupt(path, table, column, format!("unknown value {value:?}"))
    };
    // Columns after `id, ts` start at index 2.
    let body = match kind {
        EventKind::Play => {
            let action: String = row.get(6).at(path)?;
            EventBody::Play(Play {
                member_id: row.get(2).at(path)?,
                profile_id: row.get(3).at(path)?,
                title_id: row.get(4).at(path)?,
                session_id: row.get(5).at(path)?,
                action: PlayAction::parse(&action).ok_or_else(|| bad_code("action", &action))?,
                position_s: row.get(7).at(path)?,
                watched_s: row.get(8).at(path)?,
                device: row.get(9).at(path)?,
                country: row.get(10).at(path)?,
                request_id: row.get(11).at(path)?,
            })
        }
        EventKind::Rating => {
            let thumbs: Option<String> = row.get(5).at(path)?;
            let stars: Option<f64> = row.get(6).at(path)?;
            let value = match (thumbs.as_deref(), stars) {
                (Some("up"), _) => RatingValue::Thumbs(Thumbs::Up),
                (Some("down"), _) => RatingValue::Thumbs(Thumbs::Down),
                (Some(other), _) => return Err(bad_code("thumbs", other)),
                (None, Some(stars)) => RatingValue::Stars(stars as f32),
                (None, None) => return Err(bad_code("stars", "NULL")),
            };
            EventBody::Rating(Rating {
                member_id: row.get(2).at(path)?,
                profile_id: row.get(3).at(path)?,
                title_id: row.get(4).at(path)?,
                value,
            })
        }
        EventKind::Impression => EventBody::Impression(Impression {
            member_id: row.get(2).at(path)?,
            profile_id: row.get(3).at(path)?,
            title_id: row.get(4).at(path)?,
            row: row.get(5).at(path)?,
            rank: row.get(6).at(path)?,
            request_id: row.get(7).at(path)?,
            device: row.get(8).at(path)?,
        }),
        EventKind::Login => {
            let outcome: String = row.get(3).at(path)?;
            EventBody::Login(Login {
                account: row.get(2).at(path)?,
                outcome: LoginOutcome::parse(&outcome)
                    .ok_or_else(|| bad_code("outcome", &outcome))?,
                ip: row.get(4).at(path)?,
                country: row.get(5).at(path)?,
                city: row.get(6).at(path)?,
                latitude: row.get(7).at(path)?,
                longitude: row.get(8).at(path)?,
                asn: row.get(9).at(path)?,
                device: row.get(10).at(path)?,
                user_agent: row.get(11).at(path)?,
            })
        }
        EventKind::Qoe => EventBody::Qoe(Qoe {
            session_id: row.get(2).at(path)?,
            member_id: row.get(3).at(path)?,
            title_id: row.get(4).at(path)?,
            startup_ms: row.get(5).at(path)?,
            exit_before_start: row.get(6).at(path)?,
            rebuffer_count: row.get(7).at(path)?,
            rebuffer_ms: row.get::<_, i64>(8).at(path)?.max(0) as u64,
            watch_s: row.get(9).at(path)?,
            avg_bitrate_kbps: row.get(10).at(path)?,
            bitrate_switches: row.get(11).at(path)?,
            error_code: row.get(12).at(path)?,
            cdn: row.get(13).at(path)?,
            isp: row.get(14).at(path)?,
            asn: row.get(15).at(path)?,
            country: row.get(16).at(path)?,
            device: row.get(17).at(path)?,
            player: row.get(18).at(path)?,
        }),
        EventKind::Search => EventBody::Search(Search {
            member_id: row.get(2).at(path)?,
            profile_id: row.get(3).at(path)?,
            query: row.get(4).at(path)?,
            clicked_title_id: row.get(5).at(path)?,
            request_id: row.get(6).at(path)?,
        }),
    };
    Ok(body)
}
