//! The viewing facts content analytics reads, on PostgreSQL: one query per table (catalog,
//! members, views, ratings, impressions) in one read-only snapshot, texts borrowed from the
//! rows into a [`FactsBuilder`].
//!
//! With a title filter only that show's rows are read, through the indexes of migration 2.
//! Unlike SQLite (whose event rows hold dictionary keys), the event rows hold member ids, so
//! members who rated or saw the show without viewing it are named rather than `#key`
//! placeholders; they are counted the same way (unknown members, no plan or country).

use std::path::Path;

use postgres::Row;
use postgres::types::ToSql;
use showrunner_model::event::Thumbs;
use showrunner_model::{
    Availability, FactsBuilder, RatingValue, Timestamp, Title, TitleKind, ViewRow, ViewingFacts,
};

use super::AtDb;
use super::read::{corrupt, from_json};
use super::server::snapshot;
use crate::key::first_key_at;
use crate::{FactsFilter, StoreError};

const TITLE_COLUMNS: &str = "id, kind, name, series_id, season_number, episode_number, genres, \
     release_year, duration_s, maturity_rating, availability, added_at";

fn small(
    location: &Path,
    row: &Row,
    index: usize,
    column: &'static str,
) -> Result<Option<u32>, StoreError> {
    let value: Option<i64> = row.try_get(index).at(location)?;
    value
        .map(|value| {
            u32::try_from(value)
                .map_err(|_| corrupt(location, "titles", column, format!("{value} out of range")))
        })
        .transpose()
}

fn add_title_row(
    location: &Path,
    builder: &mut FactsBuilder,
    row: &Row,
) -> Result<String, StoreError> {
    let kind_text: &str = row.try_get(1).at(location)?;
    let kind = TitleKind::parse(kind_text).ok_or_else(|| {
        corrupt(
            location,
            "titles",
            "kind",
            format!("unknown kind {kind_text:?}"),
        )
    })?;
    let id: &str = row.try_get(0).at(location)?;
    let name: &str = row.try_get(2).at(location)?;
    let mut title = Title::new(id, kind, name);
    title.series_id = row.try_get(3).at(location)?;
    title.season_number = small(location, row, 4, "season_number")?;
    title.episode_number = small(location, row, 5, "episode_number")?;
    title.genres = from_json(location, "titles", "genres", row.try_get(6).at(location)?)?;
    title.release_year = row
        .try_get::<_, Option<i64>>(7)
        .at(location)?
        .and_then(|year| i32::try_from(year).ok());
    title.duration_s = small(location, row, 8, "duration_s")?;
    title.maturity_rating = row.try_get(9).at(location)?;
    let availability: &str = row.try_get(10).at(location)?;
    if availability != "[]" {
        title.availability =
            from_json::<Vec<Availability>>(location, "titles", "availability", availability)?;
    }
    title.added_at = row
        .try_get::<_, Option<i64>>(11)
        .at(location)?
        .map(Timestamp::from_millis);
    builder.add_title(&title);
    Ok(title.id)
}

fn rating_value(
    location: &Path,
    thumbs: Option<&str>,
    stars: Option<f64>,
) -> Result<RatingValue, StoreError> {
    match (thumbs, stars) {
        (Some("up"), _) => Ok(RatingValue::Thumbs(Thumbs::Up)),
        (Some("down"), _) => Ok(RatingValue::Thumbs(Thumbs::Down)),
        (None, Some(stars)) => Ok(RatingValue::Stars(stars as f32)),
        (other, _) => Err(corrupt(
            location,
            "ratings",
            "thumbs",
            format!("not a rating: {other:?}"),
        )),
    }
}

fn u32_of(location: &Path, value: i64, column: &'static str) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| corrupt(location, "views", column, format!("{value} out of range")))
}

pub(super) fn viewing_facts(
    client: &mut postgres::Client,
    location: &Path,
    filter: &FactsFilter,
) -> Result<ViewingFacts, StoreError> {
    let mut transaction = snapshot(client, location)?;
    let facts = read_facts(&mut transaction, location, filter)?;
    transaction.commit().at(location)?;
    Ok(facts)
}

fn read_facts(
    transaction: &mut postgres::Transaction<'_>,
    location: &Path,
    filter: &FactsFilter,
) -> Result<ViewingFacts, StoreError> {
    let from_ms = filter.from.millis();
    let to_ms = filter.to.millis();
    let mut builder = FactsBuilder::new(from_ms, to_ms);
    builder.set_country_filter(filter.country.clone());

    // The catalog: every title, or one show and its parts.
    let show_titles: Option<Vec<String>> = match &filter.title_id {
        None => {
            let rows = transaction
                .query(&format!("SELECT {TITLE_COLUMNS} FROM titles"), &[])
                .at(location)?;
            for row in &rows {
                add_title_row(location, &mut builder, row)?;
            }
            None
        }
        Some(id) => {
            let show: Option<String> = transaction
                .query_opt(
                    "SELECT coalesce(series_id, id) FROM titles WHERE id = $1",
                    &[id],
                )
                .at(location)?
                .map(|row| row.get(0));
            let show = show.unwrap_or_else(|| id.clone());
            let rows = transaction
                .query(
                    &format!(
                        "SELECT {TITLE_COLUMNS} FROM titles WHERE id = $1 \
                         UNION ALL SELECT {TITLE_COLUMNS} FROM titles WHERE series_id = $1"
                    ),
                    &[&show],
                )
                .at(location)?;
            let mut ids = Vec::new();
            for row in &rows {
                ids.push(add_title_row(location, &mut builder, row)?);
            }
            if ids.is_empty() {
                ids.push(show);
            }
            Some(ids)
        }
    };

    // Members: all of them for the whole catalog; for one show, its viewers (below).
    if show_titles.is_none() {
        let rows = transaction
            .query("SELECT id, signup_at, plan, country FROM members", &[])
            .at(location)?;
        for row in &rows {
            builder.add_member(
                row.try_get(0).at(location)?,
                row.try_get(1).at(location)?,
                row.try_get(2).at(location)?,
                row.try_get(3).at(location)?,
            );
        }
    }

    // Views, ratings and impressions: of the show's titles, or all in the range. Views come
    // in id order either way (as on SQLite), so figures summed over them are the same to the
    // last bit whether a show's dashboard is cut from the whole range or read alone.
    let country = filter.country.as_deref();
    let title_filter = show_titles.as_deref();
    let title_clause = |column: &str, index: usize| match title_filter {
        Some(_) => format!(" AND {column} = ANY(${index})"),
        None => String::new(),
    };
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from_ms, &to_ms, &country];
    if let Some(ids) = &title_filter {
        params.push(ids);
    }
    let rows = transaction
        .query(
            &format!(
                "SELECT title_id, member_id, country, device, started_at, last_at, watched_s, \
                     max_position_s FROM views \
                 WHERE started_at >= $1 AND started_at < $2 \
                 AND ($3::text IS NULL OR country = $3) AND NOT non_human{} ORDER BY id",
                title_clause("title_id", 4)
            ),
            &params,
        )
        .at(location)?;
    for row in &rows {
        builder.add_view(ViewRow {
            title_id: row.try_get(0).at(location)?,
            member_id: row.try_get(1).at(location)?,
            country: row.try_get(2).at(location)?,
            device: row.try_get(3).at(location)?,
            start_ms: row.try_get(4).at(location)?,
            last_ms: row.try_get(5).at(location)?,
            watched_s: u32_of(location, row.try_get(6).at(location)?, "watched_s")?,
            max_position_s: u32_of(location, row.try_get(7).at(location)?, "max_position_s")?,
        });
    }
    drop(rows);

    if show_titles.is_some() {
        // The show's viewers: their membership, one query for all.
        let ids: Vec<String> = builder.member_ids().to_vec();
        let rows = transaction
            .query(
                "SELECT id, signup_at, plan, country FROM members WHERE id = ANY($1)",
                &[&ids],
            )
            .at(location)?;
        for row in &rows {
            builder.add_member(
                row.try_get(0).at(location)?,
                row.try_get(1).at(location)?,
                row.try_get(2).at(location)?,
                row.try_get(3).at(location)?,
            );
        }
    }

    let from_key = first_key_at(filter.from);
    let to_key = first_key_at(Timestamp::from_seconds(filter.to.seconds() + 1));
    let home_country: Option<u16> = filter.country.as_deref().map(|c| builder.country(c));
    for table in ["ratings", "impressions"] {
        let columns = if table == "ratings" {
            "title_id, member_id, ts, thumbs, stars"
        } else {
            "title_id, member_id, ts, NULL::text, NULL::float8"
        };
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from_key, &to_key, &from_ms, &to_ms];
        if let Some(ids) = &title_filter {
            params.push(ids);
        }
        let rows = transaction
            .query(
                &format!(
                    "SELECT {columns} FROM {table} \
                     WHERE key >= $1 AND key < $2 AND ts >= $3 AND ts < $4{}",
                    title_clause("title_id", 5)
                ),
                &params,
            )
            .at(location)?;
        for row in &rows {
            let title = builder.title_row(row.try_get(0).at(location)?);
            let member = builder.member_row(row.try_get(1).at(location)?);
            let ts: i64 = row.try_get(2).at(location)?;
            if let Some(country) = home_country
                && builder.member_country(member) != country
            {
                continue;
            }
            if table == "ratings" {
                let value = rating_value(
                    location,
                    row.try_get(3).at(location)?,
                    row.try_get(4).at(location)?,
                )?;
                builder.push_rating(title, member, ts, value);
            } else {
                builder.push_impression(title, member, ts);
            }
        }
    }
    Ok(builder.finish())
}
