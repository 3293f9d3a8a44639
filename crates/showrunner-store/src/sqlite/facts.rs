//! The viewing facts content analytics reads: one scan per table (catalog, members, views,
//! ratings, impressions) into a [`FactsBuilder`], reading integer columns and borrowing
//! texts from the rows so each distinct text is copied once.
//!
//! With a title filter only that show's rows are read, through the indexes of migration 2
//! (`views_by_day_title`, `titles_by_series`, `ratings_by_title`, `impressions_by_day_title`):
//! the show's view ids come from the views index alone and its rows are then read in id
//! order, and its viewers' memberships and string keys come from one sorted list each
//! (`json_each` joined to the table), so every page is visited once and in order.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row};
use showrunner_model::event::Thumbs;
use showrunner_model::time::DAY_MS;
use showrunner_model::{
    Availability, FactsBuilder, RatingValue, Timestamp, Title, TitleKind, ViewRow, ViewingFacts,
};

use super::AtPath;
use super::write::PROBE_LIMIT;
use crate::key::first_key_at;
use crate::{FactsFilter, StoreError};

fn corrupt(path: &Path, table: &'static str, column: &'static str, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        table,
        column,
        detail,
    }
}

/// A text column borrowed from the row (NULL as `None`).
fn text<'row>(
    path: &Path,
    row: &'row Row<'_>,
    index: usize,
    table: &'static str,
    column: &'static str,
) -> Result<Option<&'row str>, StoreError> {
    match row.get_ref(index).at(path)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|error| corrupt(path, table, column, format!("not UTF-8: {error}"))),
        other => Err(corrupt(path, table, column, format!("not text: {other:?}"))),
    }
}

fn required<'row>(
    path: &Path,
    row: &'row Row<'_>,
    index: usize,
    table: &'static str,
    column: &'static str,
) -> Result<&'row str, StoreError> {
    text(path, row, index, table, column)?
        .ok_or_else(|| corrupt(path, table, column, "NULL".into()))
}

fn json<T: serde::de::DeserializeOwned>(
    path: &Path,
    column: &'static str,
    value: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(value)
        .map_err(|error| corrupt(path, "titles", column, format!("bad JSON: {error}")))
}

/// The UTC day numbers of `[from_ms, to_ms)` as an SQL list, for the by-day indexes: one
/// seek per day.
fn range_days(from_ms: i64, to_ms: i64) -> String {
    let days: Vec<String> = (from_ms.div_euclid(DAY_MS)..=(to_ms - 1).div_euclid(DAY_MS))
        .map(|day| day.to_string())
        .collect();
    days.join(",")
}

const TITLE_COLUMNS: &str = "id, kind, name, series_id, season_number, episode_number, genres, \
     release_year, duration_s, maturity_rating, availability, added_at";

fn add_title_row(
    path: &Path,
    builder: &mut FactsBuilder,
    row: &Row<'_>,
) -> Result<String, StoreError> {
    let kind_text = required(path, row, 1, "titles", "kind")?;
    let kind = TitleKind::parse(kind_text).ok_or_else(|| {
        corrupt(
            path,
            "titles",
            "kind",
            format!("unknown kind {kind_text:?}"),
        )
    })?;
    let mut title = Title::new(
        required(path, row, 0, "titles", "id")?,
        kind,
        required(path, row, 2, "titles", "name")?,
    );
    title.series_id = text(path, row, 3, "titles", "series_id")?.map(str::to_owned);
    title.season_number = row.get(4).at(path)?;
    title.episode_number = row.get(5).at(path)?;
    title.genres = json(path, "genres", required(path, row, 6, "titles", "genres")?)?;
    title.release_year = row.get(7).at(path)?;
    title.duration_s = row.get(8).at(path)?;
    title.maturity_rating = text(path, row, 9, "titles", "maturity_rating")?.map(str::to_owned);
    let availability = required(path, row, 10, "titles", "availability")?;
    if availability != "[]" {
        title.availability = json::<Vec<Availability>>(path, "availability", availability)?;
    }
    title.added_at = row
        .get::<_, Option<i64>>(11)
        .at(path)?
        .map(Timestamp::from_millis);
    builder.add_title(&title);
    Ok(title.id)
}

/// Maps `strings` keys to member or title rows, resolving each key's text once: known
/// keys are inserted up front; a miss looks the text up, or (`placeholders`) stands for an
/// anonymous row named `#key` without reading its text.
struct KeyRows<'c> {
    lookup: rusqlite::CachedStatement<'c>,
    rows: HashMap<i64, u32, foldhash::fast::RandomState>,
    placeholders: bool,
    of: Of,
}

/// Which rows a [`KeyRows`] maps to.
#[derive(Clone, Copy)]
enum Of {
    Titles,
    Members,
}

impl<'c> KeyRows<'c> {
    fn new(
        connection: &'c Connection,
        path: &Path,
        placeholders: bool,
        of: Of,
    ) -> Result<Self, StoreError> {
        Ok(KeyRows {
            lookup: connection
                .prepare_cached("SELECT text FROM strings WHERE key = ?1")
                .at(path)?,
            rows: HashMap::default(),
            placeholders,
            of,
        })
    }

    fn insert(&mut self, key: i64, row: u32) {
        self.rows.insert(key, row);
    }

    fn row(
        &mut self,
        path: &Path,
        key: i64,
        builder: &mut FactsBuilder,
    ) -> Result<u32, StoreError> {
        if let Some(row) = self.rows.get(&key) {
            return Ok(*row);
        }
        let row = if self.placeholders {
            let label = format!("#{key}");
            match self.of {
                Of::Titles => builder.title_row(&label),
                Of::Members => builder.anonymous_member(label),
            }
        } else {
            let text: Option<String> = self
                .lookup
                .query_row([key], |row| row.get(0))
                .optional()
                .at(path)?;
            let text =
                text.ok_or_else(|| corrupt(path, "strings", "key", format!("no string {key}")))?;
            match self.of {
                Of::Titles => builder.title_row(&text),
                Of::Members => builder.member_row(&text),
            }
        };
        self.rows.insert(key, row);
        Ok(row)
    }
}

fn rating_value(
    path: &Path,
    table: &'static str,
    thumbs: Option<&str>,
    stars: Option<f64>,
) -> Result<RatingValue, StoreError> {
    match (thumbs, stars) {
        (Some("up"), _) => Ok(RatingValue::Thumbs(Thumbs::Up)),
        (Some("down"), _) => Ok(RatingValue::Thumbs(Thumbs::Down)),
        (None, Some(stars)) => Ok(RatingValue::Stars(stars as f32)),
        (other, _) => Err(corrupt(
            path,
            table,
            "thumbs",
            format!("not a rating: {other:?}"),
        )),
    }
}

pub(super) fn viewing_facts(
    connection: &Connection,
    path: &Path,
    filter: &FactsFilter,
) -> Result<ViewingFacts, StoreError> {
    // Reads through a memory map: one show's rows are scattered over the file, and mapped
    // pages are read without copying each 16 KiB page into the page cache (measured about
    // half the time of one dashboard at 10M events). Only reads use the map.
    connection
        .pragma_update(None, "mmap_size", super::READ_MMAP_SIZE_BYTES)
        .at(path)?;
    // One read transaction: every table is read from the same snapshot, and the thousands
    // of point lookups of one show do not each take and release the database's read lock.
    let snapshot = connection.unchecked_transaction().at(path)?;
    let facts = read_facts(&snapshot, path, filter)?;
    snapshot.commit().at(path)?;
    Ok(facts)
}

/// Whether `[from_ms, to_ms)` spans at least half of the time between the first and the
/// last view's start (two index probes): then reading the whole table in order costs less
/// than a lookup per view found through the index.
fn covers_most_views(
    connection: &Connection,
    path: &Path,
    from_ms: i64,
    to_ms: i64,
) -> Result<bool, StoreError> {
    let (first, last): (Option<i64>, Option<i64>) = connection
        .query_row(
            "SELECT min(started_at), max(started_at) FROM views",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .at(path)?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(false);
    };
    let span = (last - first).max(1);
    let covered = to_ms
        .min(last + 1)
        .saturating_sub(from_ms.max(first))
        .max(0);
    Ok(covered.saturating_mul(2) >= span)
}

fn read_facts(
    connection: &Connection,
    path: &Path,
    filter: &FactsFilter,
) -> Result<ViewingFacts, StoreError> {
    let from_ms = filter.from.millis();
    let to_ms = filter.to.millis();
    let mut builder = FactsBuilder::new(from_ms, to_ms);
    builder.set_country_filter(filter.country.clone());

    // The catalog: every title, or one show and its parts.
    let show_titles: Option<Vec<String>> = match &filter.title_id {
        None => {
            let mut statement = connection
                .prepare(&format!("SELECT {TITLE_COLUMNS} FROM titles"))
                .at(path)?;
            let mut rows = statement.query([]).at(path)?;
            while let Some(row) = rows.next().at(path)? {
                add_title_row(path, &mut builder, row)?;
            }
            None
        }
        Some(id) => {
            let show: Option<String> = connection
                .query_row(
                    "SELECT coalesce(series_id, id) FROM titles WHERE id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .optional()
                .at(path)?;
            let show = show.unwrap_or_else(|| id.clone());
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT {TITLE_COLUMNS} FROM titles WHERE id = ?1 \
                     UNION ALL SELECT {TITLE_COLUMNS} FROM titles WHERE series_id = ?1"
                ))
                .at(path)?;
            let mut rows = statement.query([&show]).at(path)?;
            let mut ids = Vec::new();
            while let Some(row) = rows.next().at(path)? {
                ids.push(add_title_row(path, &mut builder, row)?);
            }
            if ids.is_empty() {
                ids.push(show);
            }
            Some(ids)
        }
    };

    // Members: all of them for the whole catalog; for one show, those seen below.
    if show_titles.is_none() {
        let mut statement = connection
            .prepare("SELECT id, signup_at, plan, country FROM members")
            .at(path)?;
        let mut rows = statement.query([]).at(path)?;
        while let Some(row) = rows.next().at(path)? {
            let id = required(path, row, 0, "members", "id")?;
            let signup: Option<i64> = row.get(1).at(path)?;
            let plan = text(path, row, 2, "members", "plan")?;
            let country = text(path, row, 3, "members", "country")?;
            builder.add_member(id, signup, plan, country);
        }
    }

    // Views.
    let view_columns =
        "title_id, member_id, country, device, started_at, last_at, watched_s, max_position_s";
    let country = filter.country.as_deref();
    // `ids`: the JSON list of view ids to read, or every view in the range.
    let mut read_views = |sql: &str, ids: Option<&str>| -> Result<(), StoreError> {
        let mut statement = connection.prepare_cached(sql).at(path)?;
        let mut rows = match ids {
            Some(ids) => statement
                .query(rusqlite::params![ids, from_ms, to_ms, country])
                .at(path)?,
            None => statement
                .query(rusqlite::params![from_ms, to_ms, country])
                .at(path)?,
        };
        while let Some(row) = rows.next().at(path)? {
            builder.add_view(ViewRow {
                title_id: required(path, row, 0, "views", "title_id")?,
                member_id: required(path, row, 1, "views", "member_id")?,
                country: text(path, row, 2, "views", "country")?,
                device: text(path, row, 3, "views", "device")?,
                start_ms: row.get(4).at(path)?,
                last_ms: row.get(5).at(path)?,
                watched_s: row.get(6).at(path)?,
                max_position_s: row.get(7).at(path)?,
            });
        }
        Ok(())
    };
    // Views come in id order whichever way they are found: figures summed in the same order
    // are the same to the last bit, so a show's dashboard cut from the whole range equals the
    // one read for the show alone. A range holding most views is read by scanning the table;
    // otherwise the wanted ids come from an index alone (it holds the rowid), sorted, and the
    // rows are read in that order, each page of the table visited once instead of one
    // descent from the root per view in the index's order.
    let by_id_list = format!(
        "SELECT {view_columns} \
         FROM json_each(?1) AS wanted CROSS JOIN views ON views.id = wanted.value \
         WHERE started_at >= ?2 AND started_at < ?3 \
         AND (?4 IS NULL OR country = ?4) AND non_human = 0"
    );
    let mut view_ids: Vec<i64> = Vec::new();
    match &show_titles {
        None if covers_most_views(connection, path, from_ms, to_ms)? => read_views(
            &format!(
                "SELECT {view_columns} FROM views NOT INDEXED \
                 WHERE started_at >= ?1 AND started_at < ?2 \
                 AND (?3 IS NULL OR country = ?3) AND non_human = 0 ORDER BY id"
            ),
            None,
        )?,
        None => {
            let mut statement = connection
                .prepare_cached(
                    "SELECT id FROM views INDEXED BY views_by_start \
                     WHERE started_at >= ?1 AND started_at < ?2",
                )
                .at(path)?;
            let mut rows = statement.query([from_ms, to_ms]).at(path)?;
            while let Some(row) = rows.next().at(path)? {
                view_ids.push(row.get(0).at(path)?);
            }
        }
        Some(ids) => {
            // The show's view ids (the index holds the day, the title and the rowid).
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT id FROM views INDEXED BY views_by_day_title \
                     WHERE started_at / 86400000 IN ({}) AND title_id = ?1",
                    range_days(from_ms, to_ms)
                ))
                .at(path)?;
            for id in ids {
                let mut rows = statement.query([id]).at(path)?;
                while let Some(row) = rows.next().at(path)? {
                    view_ids.push(row.get(0).at(path)?);
                }
            }
        }
    }
    if !view_ids.is_empty() {
        view_ids.sort_unstable();
        let list = serde_json::to_string(&view_ids)
            .map_err(|error| corrupt(path, "views", "id", error.to_string()))?;
        read_views(&by_id_list, Some(&list))?;
    }
    let one_show = show_titles.is_some();
    let mut title_keys = KeyRows::new(connection, path, one_show, Of::Titles)?;
    let mut member_keys = KeyRows::new(connection, path, one_show, Of::Members)?;
    if one_show {
        // The show's viewers: their membership, and their string keys so that their
        // ratings and impressions are theirs (other members who only rated or saw the show
        // stay anonymous, `#key`: they count, unnamed). Two statements over the list of
        // viewers, each walking its index in key order.
        let mut viewers: Vec<&str> = builder.member_ids().iter().map(String::as_str).collect();
        viewers.sort_unstable();
        let viewers = serde_json::to_string(&viewers)
            .map_err(|error| corrupt(path, "views", "member_id", error.to_string()))?;
        let mut statement = connection
            .prepare_cached(
                "SELECT members.id, signup_at, plan, country \
                 FROM json_each(?1) AS wanted CROSS JOIN members ON members.id = wanted.value",
            )
            .at(path)?;
        let mut rows = statement.query([&viewers]).at(path)?;
        while let Some(row) = rows.next().at(path)? {
            let id = required(path, row, 0, "members", "id")?;
            let signup: Option<i64> = row.get(1).at(path)?;
            let plan = text(path, row, 2, "members", "plan")?;
            let country = text(path, row, 3, "members", "country")?;
            builder.add_member(id, signup, plan, country);
        }
        let mut statement = connection
            .prepare_cached(
                "SELECT strings.key, strings.text \
                 FROM json_each(?1) AS wanted CROSS JOIN strings ON strings.text = wanted.value",
            )
            .at(path)?;
        let mut rows = statement.query([&viewers]).at(path)?;
        while let Some(row) = rows.next().at(path)? {
            let key: i64 = row.get(0).at(path)?;
            let text = required(path, row, 1, "strings", "text")?;
            if let Some(member) = builder.find_member(text) {
                member_keys.insert(key, member);
            }
        }
    } else {
        // Every text's row, read once, instead of one lookup per distinct key.
        let mut statement = connection
            .prepare("SELECT key, text FROM strings")
            .at(path)?;
        let mut rows = statement.query([]).at(path)?;
        while let Some(row) = rows.next().at(path)? {
            let key: i64 = row.get(0).at(path)?;
            let text = required(path, row, 1, "strings", "text")?;
            if let Some(member) = builder.find_member(text) {
                member_keys.insert(key, member);
            }
            if let Some(title) = builder.find_title(text) {
                title_keys.insert(key, title);
            }
        }
    }

    // Ratings and impressions: the time range by primary key (see `read::events`).
    let from_key = first_key_at(filter.from);
    let to_key =
        first_key_at(Timestamp::from_seconds(filter.to.seconds() + 1)).saturating_add(PROBE_LIMIT);
    let home_country: Option<u16> = filter.country.as_deref().map(|c| builder.country(c));
    let title_key_filter: Option<Vec<i64>> = match &show_titles {
        None => None,
        Some(ids) => {
            let mut keys = Vec::new();
            let mut statement = connection
                .prepare_cached("SELECT key FROM strings WHERE text = ?1")
                .at(path)?;
            for id in ids {
                if let Some(key) = statement
                    .query_row([id], |row| row.get::<_, i64>(0))
                    .optional()
                    .at(path)?
                {
                    keys.push(key);
                    title_keys.insert(key, builder.title_row(id));
                }
            }
            Some(keys)
        }
    };
    for table in ["ratings", "impressions"] {
        let columns = if table == "ratings" {
            "title_key, member_key, ts, thumbs, stars"
        } else {
            "title_key, member_key, ts, NULL, NULL"
        };
        let range = "key >= ?1 AND key < ?2 AND ts >= ?3 AND ts < ?4";
        let mut scan = |sql: &str, title_key: Option<i64>| -> Result<(), StoreError> {
            let mut statement = connection.prepare_cached(sql).at(path)?;
            let mut rows = match title_key {
                Some(key) => statement
                    .query(rusqlite::params![key, from_ms, to_ms])
                    .at(path)?,
                None => statement
                    .query(rusqlite::params![from_key, to_key, from_ms, to_ms])
                    .at(path)?,
            };
            while let Some(row) = rows.next().at(path)? {
                let title_key: i64 = row.get(0).at(path)?;
                let member_key: i64 = row.get(1).at(path)?;
                let ts: i64 = row.get(2).at(path)?;
                let title = title_keys.row(path, title_key, &mut builder)?;
                let member = member_keys.row(path, member_key, &mut builder)?;
                if let Some(country) = home_country
                    && builder.member_country(member) != country
                {
                    continue;
                }
                if table == "ratings" {
                    let thumbs = text(path, row, 3, "ratings", "thumbs")?;
                    let stars: Option<f64> = row.get(4).at(path)?;
                    let value = rating_value(path, "ratings", thumbs, stars)?;
                    builder.push_rating(title, member, ts, value);
                } else {
                    builder.push_impression(title, member, ts);
                }
            }
            Ok(())
        };
        match &title_key_filter {
            None => scan(
                &format!("SELECT {columns} FROM {table} WHERE {range}"),
                None,
            )?,
            Some(keys) => {
                let sql = if table == "ratings" {
                    format!(
                        "SELECT {columns} FROM ratings INDEXED BY ratings_by_title \
                         WHERE title_key = ?1 AND ts >= ?2 AND ts < ?3"
                    )
                } else {
                    format!(
                        "SELECT {columns} FROM impressions INDEXED BY impressions_by_day_title \
                         WHERE ts / 86400000 IN ({}) AND title_key = ?1 AND ts >= ?2 AND ts < ?3",
                        range_days(from_ms, to_ms)
                    )
                };
                for key in keys {
                    scan(&sql, Some(*key))?;
                }
            }
        }
    }
    Ok(builder.finish())
}
