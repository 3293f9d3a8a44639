//! Queries on PostgreSQL: the same reads as the SQLite backend's `read.rs`, over the
//! PostgreSQL schema (texts stored in the event rows, ids as text).

use std::collections::BTreeMap;
use std::path::Path;

use postgres::Row;
use postgres::types::ToSql;
use serde::de::DeserializeOwned;
use showrunner_model::event::Thumbs;
use showrunner_model::{
    Event, EventBody, EventKind, Impression, Login, LoginOutcome, Member, Personal, Play,
    PlayAction, Problem, ProblemKind, Qoe, Rating, RatingValue, Search, Timestamp, Title,
    TitleKind,
};

use super::AtDb;
use super::write::{body_columns, table_of};
use crate::key::first_key_at;
use crate::{
    EventFilter, ImportLog, ImportRecord, KnownTitle, QuarantineFilter, QuarantineRow, StoreCounts,
    StoreError, View, ViewFilter,
};

pub(super) fn corrupt(
    location: &Path,
    table: &'static str,
    column: &'static str,
    detail: String,
) -> StoreError {
    StoreError::Corrupt {
        path: location.to_owned(),
        table,
        column,
        detail,
    }
}

pub(super) fn from_json<T: DeserializeOwned>(
    location: &Path,
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| corrupt(location, table, column, format!("bad JSON: {error}")))
}

/// A bigint column holding a u32 field.
fn u32_at(
    location: &Path,
    row: &Row,
    index: usize,
    table: &'static str,
    column: &'static str,
) -> Result<u32, StoreError> {
    let value: i64 = row.try_get(index).at(location)?;
    u32::try_from(value)
        .map_err(|_| corrupt(location, table, column, format!("{value} is out of range")))
}

fn optional_u32(
    location: &Path,
    row: &Row,
    index: usize,
    table: &'static str,
    column: &'static str,
) -> Result<Option<u32>, StoreError> {
    let value: Option<i64> = row.try_get(index).at(location)?;
    value
        .map(|value| {
            u32::try_from(value)
                .map_err(|_| corrupt(location, table, column, format!("{value} is out of range")))
        })
        .transpose()
}

fn limit_value(limit: Option<u64>) -> Option<i64> {
    limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX))
}

pub(super) fn known_titles(
    client: &mut postgres::Client,
    location: &Path,
) -> Result<Vec<KnownTitle>, StoreError> {
    let rows = client
        .query("SELECT id, kind, duration_s FROM titles ORDER BY id", &[])
        .at(location)?;
    let mut titles = Vec::with_capacity(rows.len());
    for row in &rows {
        let kind: &str = row.try_get(1).at(location)?;
        let kind = TitleKind::parse(kind)
            .ok_or_else(|| corrupt(location, "titles", "kind", format!("unknown kind {kind:?}")))?;
        titles.push(KnownTitle {
            id: row.try_get(0).at(location)?,
            kind,
            duration_s: optional_u32(location, row, 2, "titles", "duration_s")?,
        });
    }
    Ok(titles)
}

pub(super) fn known_members(
    client: &mut postgres::Client,
    location: &Path,
) -> Result<Vec<String>, StoreError> {
    let rows = client
        .query("SELECT id FROM members ORDER BY id", &[])
        .at(location)?;
    rows.iter().map(|row| row.try_get(0).at(location)).collect()
}

pub(super) fn counts(
    client: &mut postgres::Client,
    location: &Path,
) -> Result<StoreCounts, StoreError> {
    // One snapshot for every count.
    let mut transaction = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .at(location)?;
    let mut events = BTreeMap::new();
    for kind in EventKind::ALL {
        let sql = format!("SELECT count(*) FROM {}", table_of(kind));
        let value: i64 = transaction.query_one(&sql, &[]).at(location)?.get(0);
        events.insert(kind, value as u64);
    }
    let row = transaction
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE non_human), \
                 (SELECT count(*) FROM titles), (SELECT count(*) FROM members), \
                 (SELECT count(*) FROM quarantine) \
             FROM views",
            &[],
        )
        .at(location)?;
    let counts = StoreCounts {
        titles: row.get::<_, i64>(2) as u64,
        members: row.get::<_, i64>(3) as u64,
        events,
        views: row.get::<_, i64>(0) as u64,
        non_human_views: row.get::<_, i64>(1) as u64,
        quarantined: row.get::<_, i64>(4) as u64,
    };
    transaction.commit().at(location)?;
    Ok(counts)
}

pub(super) fn views(
    client: &mut postgres::Client,
    location: &Path,
    filter: &ViewFilter,
) -> Result<Vec<View>, StoreError> {
    let mut sql = String::from(
        "SELECT session_id, member_id, profile_id, title_id, device, country, started_at, \
             last_at, watched_s, max_position_s, events, stopped, completion, non_human \
         FROM views WHERE true",
    );
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    for (column, wanted) in [
        ("member_id", &filter.member_id),
        ("session_id", &filter.session_id),
        ("title_id", &filter.title_id),
    ] {
        if let Some(wanted) = wanted {
            params.push(Box::new(wanted.clone()));
            sql.push_str(&format!(" AND {column} = ${}", params.len()));
        }
    }
    if let Some(non_human) = filter.non_human {
        params.push(Box::new(non_human));
        sql.push_str(&format!(" AND non_human = ${}", params.len()));
    }
    params.push(Box::new(limit_value(filter.limit)));
    sql.push_str(&format!(
        " ORDER BY started_at, session_id LIMIT ${}",
        params.len()
    ));
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|param| param.as_ref()).collect();
    let rows = client.query(&sql, &refs).at(location)?;
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        views.push(View {
            session_id: row.try_get(0).at(location)?,
            member_id: row.try_get(1).at(location)?,
            profile_id: row.try_get(2).at(location)?,
            title_id: row.try_get(3).at(location)?,
            device: row.try_get(4).at(location)?,
            country: row.try_get(5).at(location)?,
            started_at: Timestamp::from_millis(row.try_get(6).at(location)?),
            last_at: Timestamp::from_millis(row.try_get(7).at(location)?),
            watched_s: u32_at(location, row, 8, "views", "watched_s")?,
            max_position_s: u32_at(location, row, 9, "views", "max_position_s")?,
            events: row.try_get::<_, i64>(10).at(location)? as u64,
            stopped: row.try_get(11).at(location)?,
            completion: row.try_get(12).at(location)?,
            non_human: row.try_get(13).at(location)?,
        });
    }
    Ok(views)
}

pub(super) fn quarantine(
    client: &mut postgres::Client,
    location: &Path,
    filter: &QuarantineFilter,
) -> Result<Vec<QuarantineRow>, StoreError> {
    let mut sql = String::from(
        "SELECT id, source, line, raw, reason, field, detail, first_seen FROM quarantine \
         WHERE true",
    );
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    if let Some(source) = &filter.source_contains {
        // strpos rather than LIKE: the text is matched literally, `%` and `_` included.
        params.push(Box::new(source.clone()));
        sql.push_str(&format!(" AND strpos(source, ${}) > 0", params.len()));
    }
    if let Some(reason) = filter.reason {
        params.push(Box::new(reason.code().to_owned()));
        sql.push_str(&format!(" AND reason = ${}", params.len()));
    }
    params.push(Box::new(limit_value(filter.limit)));
    sql.push_str(&format!(" ORDER BY id LIMIT ${}", params.len()));
    params.push(Box::new(i64::try_from(filter.offset).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" OFFSET ${}", params.len()));
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|param| param.as_ref()).collect();
    let rows = client.query(&sql, &refs).at(location)?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let reason: &str = row.try_get(4).at(location)?;
        let kind = ProblemKind::from_code(reason).ok_or_else(|| {
            corrupt(
                location,
                "quarantine",
                "reason",
                format!("unknown reason {reason:?}"),
            )
        })?;
        found.push(QuarantineRow {
            id: row.try_get(0).at(location)?,
            source: row.try_get(1).at(location)?,
            line: row.try_get::<_, i64>(2).at(location)? as u64,
            raw: row.try_get(3).at(location)?,
            problem: Problem {
                kind,
                field: row.try_get(5).at(location)?,
                detail: row.try_get(6).at(location)?,
            },
            first_seen: Timestamp::from_millis(row.try_get(7).at(location)?),
        });
    }
    Ok(found)
}

pub(super) fn quarantine_counts(
    client: &mut postgres::Client,
    location: &Path,
) -> Result<Vec<(ProblemKind, u64)>, StoreError> {
    let rows = client
        .query(
            "SELECT reason, count(*) FROM quarantine GROUP BY reason",
            &[],
        )
        .at(location)?;
    let mut counts = Vec::with_capacity(rows.len());
    for row in &rows {
        let reason: &str = row.try_get(0).at(location)?;
        let kind = ProblemKind::from_code(reason).ok_or_else(|| {
            corrupt(
                location,
                "quarantine",
                "reason",
                format!("unknown reason {reason:?}"),
            )
        })?;
        counts.push((kind, row.try_get::<_, i64>(1).at(location)? as u64));
    }
    counts.sort();
    Ok(counts)
}

pub(super) fn imports(
    client: &mut postgres::Client,
    location: &Path,
) -> Result<Vec<ImportRecord>, StoreError> {
    let rows = client
        .query(
            "SELECT id, sources, started_at, finished_at, counts, interrupted FROM imports \
             ORDER BY id",
            &[],
        )
        .at(location)?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        records.push(ImportRecord {
            id: row.try_get(0).at(location)?,
            log: ImportLog {
                sources: from_json(location, "imports", "sources", row.try_get(1).at(location)?)?,
                started_at: Timestamp::from_millis(row.try_get(2).at(location)?),
                finished_at: Timestamp::from_millis(row.try_get(3).at(location)?),
                counts: from_json(location, "imports", "counts", row.try_get(4).at(location)?)?,
                interrupted: row.try_get(5).at(location)?,
            },
        });
    }
    Ok(records)
}

pub(super) const TITLE_COLUMNS: &str = "id, kind, name, series_id, season_number, \
     episode_number, genres, release_year, duration_s, maturity_rating, cast_members, \
     directors, countries, availability, added_at, description";

/// A title from a row of [`TITLE_COLUMNS`].
pub(super) fn title_from_row(location: &Path, row: &Row) -> Result<Title, StoreError> {
    let kind: &str = row.try_get(1).at(location)?;
    let text = |index: usize| -> Result<&str, StoreError> { row.try_get(index).at(location) };
    let release_year: Option<i64> = row.try_get(7).at(location)?;
    Ok(Title {
        id: row.try_get(0).at(location)?,
        kind: TitleKind::parse(kind)
            .ok_or_else(|| corrupt(location, "titles", "kind", format!("unknown kind {kind:?}")))?,
        name: row.try_get(2).at(location)?,
        series_id: row.try_get(3).at(location)?,
        season_number: optional_u32(location, row, 4, "titles", "season_number")?,
        episode_number: optional_u32(location, row, 5, "titles", "episode_number")?,
        genres: from_json(location, "titles", "genres", text(6)?)?,
        release_year: release_year
            .map(|year| {
                i32::try_from(year).map_err(|_| {
                    corrupt(
                        location,
                        "titles",
                        "release_year",
                        format!("{year} is out of range"),
                    )
                })
            })
            .transpose()?,
        duration_s: optional_u32(location, row, 8, "titles", "duration_s")?,
        maturity_rating: row.try_get(9).at(location)?,
        cast: from_json(location, "titles", "cast_members", text(10)?)?,
        directors: from_json(location, "titles", "directors", text(11)?)?,
        countries: from_json(location, "titles", "countries", text(12)?)?,
        availability: from_json(location, "titles", "availability", text(13)?)?,
        added_at: row
            .try_get::<_, Option<i64>>(14)
            .at(location)?
            .map(Timestamp::from_millis),
        description: row.try_get(15).at(location)?,
    })
}

pub(super) fn title(
    client: &mut postgres::Client,
    location: &Path,
    id: &str,
) -> Result<Option<Title>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {TITLE_COLUMNS} FROM titles WHERE id = $1"),
            &[&id],
        )
        .at(location)?;
    row.map(|row| title_from_row(location, &row)).transpose()
}

pub(super) fn member(
    client: &mut impl postgres::GenericClient,
    location: &Path,
    id: &str,
) -> Result<Option<Member>, StoreError> {
    let Some(row) = client
        .query_opt(
            "SELECT id, email, name, country, signup_at, plan, profiles FROM members \
             WHERE id = $1",
            &[&id],
        )
        .at(location)?
    else {
        return Ok(None);
    };
    Ok(Some(Member {
        id: row.try_get(0).at(location)?,
        email: row
            .try_get::<_, Option<String>>(1)
            .at(location)?
            .map(Personal::new),
        name: row
            .try_get::<_, Option<String>>(2)
            .at(location)?
            .map(Personal::new),
        country: row.try_get(3).at(location)?,
        signup_at: row
            .try_get::<_, Option<i64>>(4)
            .at(location)?
            .map(Timestamp::from_millis),
        plan: row.try_get(5).at(location)?,
        profiles: from_json(
            location,
            "members",
            "profiles",
            row.try_get(6).at(location)?,
        )?,
    }))
}

pub(super) fn events(
    client: &mut postgres::Client,
    location: &Path,
    filter: &EventFilter,
) -> Result<Vec<Event>, StoreError> {
    let kind = filter.kind;
    let table = table_of(kind);
    // The key bounds range-scan the primary key; the `ts` bounds are exact.
    let from_key = filter.from.map_or(0, first_key_at);
    let until_key = filter.until.map_or(i64::MAX, |until| {
        first_key_at(Timestamp::from_seconds(until.seconds() + 1))
    });
    let from_ms = filter.from.map_or(i64::MIN, Timestamp::millis);
    let until_ms = filter.until.map_or(i64::MAX, Timestamp::millis);
    let sql = format!(
        "SELECT id, ts, {} FROM {table} \
         WHERE key >= $1 AND key < $2 AND ts >= $3 AND ts < $4 \
         ORDER BY key, id LIMIT $5",
        body_columns(kind)
    );
    let rows = client
        .query(
            &sql,
            &[
                &from_key,
                &until_key,
                &from_ms,
                &until_ms,
                &limit_value(filter.limit),
            ],
        )
        .at(location)?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        events.push(Event {
            id: row.try_get(0).at(location)?,
            ts: Timestamp::from_millis(row.try_get(1).at(location)?),
            body: decode_body(location, kind, row)?,
        });
    }
    Ok(events)
}

fn decode_body(location: &Path, kind: EventKind, row: &Row) -> Result<EventBody, StoreError> {
    let table = table_of(kind);
    let bad_code = |column: &'static str, value: &str| {
        corrupt(location, table, column, format!("unknown value {value:?}"))
    };
    let get_u32 = |index: usize, column: &'static str| u32_at(location, row, index, table, column);
    let get_opt_u32 =
        |index: usize, column: &'static str| optional_u32(location, row, index, table, column);
    // Columns after `id, ts` start at index 2, in `EVENT_COLUMNS` order.
    let body = match kind {
        EventKind::Play => {
            let action: &str = row.try_get(6).at(location)?;
            EventBody::Play(Play {
                member_id: row.try_get(2).at(location)?,
                profile_id: row.try_get(3).at(location)?,
                title_id: row.try_get(4).at(location)?,
                session_id: row.try_get(5).at(location)?,
                action: PlayAction::parse(action).ok_or_else(|| bad_code("action", action))?,
                position_s: get_u32(7, "position_s")?,
                watched_s: get_u32(8, "watched_s")?,
                device: row.try_get(9).at(location)?,
                country: row.try_get(10).at(location)?,
                request_id: row.try_get(11).at(location)?,
            })
        }
        EventKind::Rating => {
            let thumbs: Option<&str> = row.try_get(5).at(location)?;
            let stars: Option<f64> = row.try_get(6).at(location)?;
            let value = match (thumbs, stars) {
                (Some("up"), _) => RatingValue::Thumbs(Thumbs::Up),
                (Some("down"), _) => RatingValue::Thumbs(Thumbs::Down),
                (Some(other), _) => return Err(bad_code("thumbs", other)),
                (None, Some(stars)) => RatingValue::Stars(stars as f32),
                (None, None) => return Err(bad_code("stars", "NULL")),
            };
            EventBody::Rating(Rating {
                member_id: row.try_get(2).at(location)?,
                profile_id: row.try_get(3).at(location)?,
                title_id: row.try_get(4).at(location)?,
                value,
            })
        }
        EventKind::Impression => EventBody::Impression(Impression {
            member_id: row.try_get(2).at(location)?,
            profile_id: row.try_get(3).at(location)?,
            title_id: row.try_get(4).at(location)?,
            row: row.try_get(5).at(location)?,
            rank: get_u32(6, "row_rank")?,
            request_id: row.try_get(7).at(location)?,
            device: row.try_get(8).at(location)?,
        }),
        EventKind::Login => {
            let outcome: &str = row.try_get(3).at(location)?;
            EventBody::Login(Login {
                account: row.try_get(2).at(location)?,
                outcome: LoginOutcome::parse(outcome)
                    .ok_or_else(|| bad_code("outcome", outcome))?,
                ip: row.try_get(4).at(location)?,
                country: row.try_get(5).at(location)?,
                city: row.try_get(6).at(location)?,
                latitude: row.try_get(7).at(location)?,
                longitude: row.try_get(8).at(location)?,
                asn: get_opt_u32(9, "asn")?,
                device: row.try_get(10).at(location)?,
                user_agent: row.try_get(11).at(location)?,
            })
        }
        EventKind::Qoe => EventBody::Qoe(Qoe {
            session_id: row.try_get(2).at(location)?,
            member_id: row.try_get(3).at(location)?,
            title_id: row.try_get(4).at(location)?,
            startup_ms: get_opt_u32(5, "startup_ms")?,
            exit_before_start: row.try_get(6).at(location)?,
            rebuffer_count: get_u32(7, "rebuffer_count")?,
            rebuffer_ms: row.try_get::<_, i64>(8).at(location)?.max(0) as u64,
            watch_s: get_u32(9, "watch_s")?,
            avg_bitrate_kbps: get_u32(10, "avg_bitrate_kbps")?,
            bitrate_switches: get_u32(11, "bitrate_switches")?,
            error_code: row.try_get(12).at(location)?,
            cdn: row.try_get(13).at(location)?,
            isp: row.try_get(14).at(location)?,
            asn: get_opt_u32(15, "asn")?,
            country: row.try_get(16).at(location)?,
            device: row.try_get(17).at(location)?,
            player: row.try_get(18).at(location)?,
        }),
        EventKind::Search => EventBody::Search(Search {
            member_id: row.try_get(2).at(location)?,
            profile_id: row.try_get(3).at(location)?,
            query: row.try_get(4).at(location)?,
            clicked_title_id: row.try_get(5).at(location)?,
            request_id: row.try_get(6).at(location)?,
        }),
    };
    Ok(body)
}
