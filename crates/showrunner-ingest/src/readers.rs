//! The readers, one per format. Each turns its input into rows and hands every row's
//! outcome (a clean record or a problem) to the [`RowCollector`]; all validation goes
//! through the one [`crate::Cleaner`]. Rating datasets and catalogs are mapped onto the
//! same wire record the JSON reader fills, so they share its type checks and messages.

use std::borrow::Cow;
use std::io::BufRead;

use csv::{ByteRecord, ReaderBuilder};
use showrunner_model::{Problem, ProblemKind, Quarantined, Record, TitleKind};

use crate::format::Format;
use crate::lines::{Line, LineReader};
use crate::pipeline::{RowCollector, Stop};
use crate::wire::{Scalar, WireRecord};

pub(crate) fn read_rows(
    format: Format,
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    match format {
        Format::Jsonl => read_jsonl(reader, rows),
        Format::Csv => read_generic_csv(reader, rows),
        Format::MovielensRatings => read_movielens_ratings(reader, rows),
        Format::MovielensMovies => read_movielens_movies(reader, rows),
        Format::Ml100kData => read_delimited_ratings(reader, rows, "\t", 1.0),
        Format::MovietweetingsRatings => read_delimited_ratings(reader, rows, "::", 0.5),
        Format::Ml100kItem => read_ml100k_items(reader, rows),
        Format::MovietweetingsMovies => read_movietweetings_movies(reader, rows),
        Format::NetflixCatalog => read_netflix_catalog(reader, rows),
    }
}

fn text(value: &str) -> Option<Scalar<'_>> {
    Some(Scalar::Text(Cow::Borrowed(value)))
}

fn line_too_long(length: u64, limit: usize) -> Problem {
    Problem::new(
        ProblemKind::LineTooLong,
        format!("{length} bytes, at most {limit} allowed"),
    )
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Reads lines and calls `each` on every non-blank, not-too-long one. Blank lines are not
/// rows (a trailing newline, spacing between blocks) and are not counted.
fn for_each_line(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
    mut each: impl FnMut(&mut RowCollector<'_>, u64, &[u8]) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let limit = rows.cleaner.rules().max_line_bytes;
    let mut lines = LineReader::new(reader, limit);
    loop {
        let line_number = lines.line_number + 1;
        let line = match lines.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(()),
            Err(error) => return Err(rows.read_error(line_number, error)),
        };
        match line {
            Line::Complete(bytes) => {
                // A UTF-8 byte-order mark (spreadsheet and Windows exports) is not data.
                let bytes = if line_number == 1 {
                    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
                } else {
                    bytes
                };
                if !is_blank(bytes) {
                    each(rows, line_number, bytes)?;
                }
            }
            Line::TooLong { prefix, length } => {
                rows.row(line_number, prefix, Err(line_too_long(length, limit)))?;
            }
        }
    }
}

fn read_jsonl(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    for_each_line(reader, rows, |rows, line_number, bytes| {
        let outcome = rows.cleaner.clean_json(bytes);
        rows.row(line_number, bytes, outcome)
    })
}

/// Lines of a text format as UTF-8, or the `invalid_utf8` problem.
fn utf8_line(bytes: &[u8]) -> Result<&str, Problem> {
    std::str::from_utf8(bytes).map_err(|error| {
        Problem::new(
            ProblemKind::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", error.valid_up_to()),
        )
    })
}

/// `u.data` (tab-separated) and MovieTweetings `ratings.dat` (`::`-separated):
/// `user item rating timestamp`. `star_scale` maps the file's scale onto stars:
/// MovieTweetings rates 0-10, so stars = max(0.5, rating / 2) (a 0 or 1 becomes half a star,
/// the lowest the model allows); MovieLens is already in stars.
fn read_delimited_ratings(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
    separator: &str,
    star_scale: f64,
) -> Result<(), Stop> {
    for_each_line(reader, rows, |rows, line_number, bytes| {
        let outcome = utf8_line(bytes).and_then(|line| {
            let fields: Vec<&str> = line.trim().split(separator).map(str::trim).collect();
            if fields.len() != 4 {
                return Err(Problem::new(
                    ProblemKind::Malformed,
                    format!(
                        "expected 4 fields separated by {separator:?}, found {}",
                        fields.len()
                    ),
                ));
            }
            rows.ensure_member(fields[0]);
            rating_record(rows, fields[0], fields[1], fields[2], fields[3], star_scale)
        });
        rows.row(line_number, bytes, outcome)
    })
}

fn rating_record(
    rows: &mut RowCollector<'_>,
    user: &str,
    item: &str,
    rating: &str,
    timestamp: &str,
    star_scale: f64,
) -> Result<Record, Problem> {
    let stars = if star_scale == 1.0 {
        text(rating)
    } else {
        match rating.trim().parse::<f64>() {
            Ok(value) if value.is_finite() && value >= 0.0 => {
                Some(Scalar::Float((value * star_scale).max(0.5)))
            }
            // Negative or garbage: let the usual checks name it.
            _ => text(rating),
        }
    };
    let mut wire = WireRecord {
        record_type: text("rating"),
        member_id: text(user),
        title_id: text(item),
        stars,
        ts: text(timestamp),
        ..WireRecord::default()
    };
    rows.cleaner.clean_wire(&mut wire)
}

/// Reads CSV records with the csv crate, giving each record's 1-based line, its raw bytes
/// (re-encoded, for the quarantine) and its fields. Records over the line limit are
/// quarantined without further parsing.
fn for_each_csv_record(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
    delimiter: u8,
    mut each: impl FnMut(&mut RowCollector<'_>, u64, &[u8], &ByteRecord, &[String]) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let limit = rows.cleaner.rules().max_line_bytes;
    let mut csv_reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(reader);
    let mut record = ByteRecord::new();
    let mut header: Option<Vec<String>> = None;
    let mut raw = Vec::new();
    loop {
        let last_line = record.position().map_or(0, |position| position.line());
        match csv_reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(error) => {
                let line = error
                    .position()
                    .map_or(last_line + 1, |position| position.line());
                let io_error = match error.into_kind() {
                    csv::ErrorKind::Io(io_error) => io_error,
                    other => std::io::Error::other(format!("{other:?}")),
                };
                return Err(rows.read_error(line, io_error));
            }
        }
        let line = record.position().map_or(0, |position| position.line());
        let Some(columns) = &header else {
            let names = record
                .iter()
                .enumerate()
                .map(|(index, name)| {
                    let name = String::from_utf8_lossy(name);

                    if index == 0 {
                        name.trim_start_matches('\u{feff}').trim().to_owned()
                    } else {
                        name.trim().to_owned()
                    }
                })
                .collect();
            header = Some(names);
            continue;
        };
        if record.iter().all(is_blank) {
            continue;
        }
        raw.clear();
        encode_csv(&record, delimiter, &mut raw);
        if record.as_slice().len() > limit {
            let length = record.as_slice().len() as u64;
            rows.row(line, &raw, Err(line_too_long(length, limit)))?;
            continue;
        }
        each(rows, line, &raw, &record, columns)?;
    }
}

/// Writes a record back as CSV (quoting only where needed): the quarantine keeps the row as
/// it was, give or take quoting style.
fn encode_csv(record: &ByteRecord, delimiter: u8, out: &mut Vec<u8>) {
    for (index, field) in record.iter().enumerate() {
        if index > 0 {
            out.push(delimiter);
        }
        let needs_quotes = field
            .iter()
            .any(|byte| *byte == delimiter || *byte == b'"' || *byte == b'\n' || *byte == b'\r');
        if needs_quotes {
            out.push(b'"');
            for byte in field {
                if *byte == b'"' {
                    out.push(b'"');
                }
                out.push(*byte);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field);
        }
        if out.len() > Quarantined::MAX_RAW_BYTES {
            return;
        }
    }
}

/// All fields as UTF-8, or the problem naming the first bad column.
fn utf8_fields<'r>(record: &'r ByteRecord, columns: &[String]) -> Result<Vec<&'r str>, Problem> {
    record
        .iter()
        .enumerate()
        .map(|(index, field)| {
            std::str::from_utf8(field).map_err(|error| {
                let name = columns.get(index).map_or("?", String::as_str);
                Problem::on_field(
                    ProblemKind::InvalidUtf8,
                    name,
                    format!("invalid UTF-8 at byte {}", error.valid_up_to()),
                )
            })
        })
        .collect()
}

/// Fields whose CSV cells hold `|`-separated lists.
const LIST_FIELDS: [&str; 4] = ["genres", "cast", "directors", "countries"];

/// Generic header-mapped CSV: each record becomes the JSON object the JSONL reader would
/// see (empty cells absent, list cells split on `|`, everything else a string that the
/// cleaner reads as a number where a number is due), then goes through `clean_json`.
fn read_generic_csv(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    let mut json = Vec::with_capacity(512);
    for_each_csv_record(reader, rows, b',', |rows, line, raw, record, columns| {
        let outcome = utf8_fields(record, columns).and_then(|fields| {
            json.clear();
            csv_row_to_json(columns, &fields, &mut json);
            rows.cleaner.clean_json(&json)
        });
        rows.row(line, raw, outcome)
    })
}

fn csv_row_to_json(columns: &[String], fields: &[&str], json: &mut Vec<u8>) {
    json.push(b'{');
    let mut first = true;
    for (name, value) in columns.iter().zip(fields) {
        let value = value.trim();
        if value.is_empty() || name.is_empty() {
            continue;
        }
        if !first {
            json.push(b',');
        }
        first = false;
        write_json_string(json, name);
        json.push(b':');
        if LIST_FIELDS.contains(&name.as_str()) {
            json.push(b'[');
            for (index, entry) in value.split('|').enumerate() {
                if index > 0 {
                    json.push(b',');
                }
                write_json_string(json, entry.trim());
            }
            json.push(b']');
        } else {
            write_json_string(json, value);
        }
    }
    json.push(b'}');
}

fn write_json_string(out: &mut Vec<u8>, value: &str) {
    // Serialising a &str cannot fail when writing into a Vec.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn column(columns: &[String], wanted: &str, fallback: usize) -> usize {
    columns
        .iter()
        .position(|name| name.eq_ignore_ascii_case(wanted))
        .unwrap_or(fallback)
}

/// MovieLens `ratings.csv`: `userId,movieId,rating,timestamp` (stars, epoch seconds).
fn read_movielens_ratings(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    let mut positions: Option<[usize; 4]> = None;
    for_each_csv_record(reader, rows, b',', |rows, line, raw, record, columns| {
        let [user, movie, rating, timestamp] = *positions.get_or_insert_with(|| {
            [
                column(columns, "userId", 0),
                column(columns, "movieId", 1),
                column(columns, "rating", 2),
                column(columns, "timestamp", 3),
            ]
        });
        let outcome = utf8_fields(record, columns).and_then(|fields| {
            let get = |index: usize| fields.get(index).copied().unwrap_or("");
            rows.ensure_member(get(user));
            rating_record(
                rows,
                get(user),
                get(movie),
                get(rating),
                get(timestamp),
                1.0,
            )
        });
        rows.row(line, raw, outcome)
    })
}

/// Splits "Toy Story (1995)" into the name and the year; a title without a trailing
/// year in parentheses is kept whole. Ranges ("(2006–2007)") give their first year.
fn split_title_year(title: &str) -> (&str, Option<String>) {
    let trimmed = title.trim();
    if let Some(without_close) = trimmed.strip_suffix(')')
        && let Some(open) = without_close.rfind('(')
    {
        let inner = &without_close[open + 1..];
        let year: String = inner.chars().take(4).collect();
        if year.len() == 4 && year.chars().all(|character| character.is_ascii_digit()) {
            let name = trimmed[..open].trim();
            if !name.is_empty() {
                return (name, Some(year));
            }
        }
    }
    (trimmed, None)
}

fn movie_wire<'a>(
    id: &'a str,
    name: &'a str,
    year: Option<String>,
    genres: Vec<Scalar<'a>>,
) -> WireRecord<'a> {
    WireRecord {
        record_type: text("title"),
        id: text(id),
        kind: text("movie"),
        name: text(name),
        release_year: year.map(|year| Scalar::Text(Cow::Owned(year))),
        genres: Some(Scalar::List(genres)),
        ..WireRecord::default()
    }
}

fn split_genres(genres: &str) -> Vec<Scalar<'_>> {
    genres
        .split('|')
        .map(str::trim)
        .filter(|genre| !genre.is_empty() && *genre != "(no genres listed)")
        .map(|genre| Scalar::Text(Cow::Borrowed(genre)))
        .collect()
}

/// MovieLens `movies.csv`: `movieId,title,genres`.
fn read_movielens_movies(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    for_each_csv_record(reader, rows, b',', |rows, line, raw, record, columns| {
        let (id_column, title_column, genres_column) = (
            column(columns, "movieId", 0),
            column(columns, "title", 1),
            column(columns, "genres", 2),
        );
        let outcome = utf8_fields(record, columns).and_then(|fields| {
            let get = |index: usize| fields.get(index).copied().unwrap_or("");
            let (name, year) = split_title_year(get(title_column));
            let mut wire = movie_wire(get(id_column), name, year, split_genres(get(genres_column)));
            rows.cleaner.clean_wire(&mut wire)
        });
        rows.row(line, raw, outcome)
    })
}

/// MovieTweetings `movies.dat`: `movie_id::Title (Year)::Genre|Genre`.
fn read_movietweetings_movies(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    for_each_line(reader, rows, |rows, line_number, bytes| {
        let outcome = utf8_line(bytes).and_then(|line| {
            let mut parts = line.splitn(3, "::");
            let id = parts.next().unwrap_or("").trim();
            let Some(title) = parts.next() else {
                return Err(Problem::new(
                    ProblemKind::Malformed,
                    "expected movie_id::Title (Year)::Genres",
                ));
            };
            let genres = parts.next().unwrap_or("");
            let (name, year) = split_title_year(title);
            rows.cleaner
                .clean_wire(&mut movie_wire(id, name, year, split_genres(genres)))
        });
        rows.row(line_number, bytes, outcome)
    })
}

/// The 19 genre flag columns of ML-100k `u.item`, in file order.
const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// ML-100k `u.item`: `id|title|release date|video release date|IMDb URL|19 flags`, in
/// ISO-8859-1 (each byte is the code point of the same value). The year comes from the
/// title, else from the release date (`01-Jan-1995`). The `unknown` flag gives no genre.
fn read_ml100k_items(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    for_each_line(reader, rows, |rows, line_number, bytes| {
        let line: String = bytes.iter().map(|byte| char::from(*byte)).collect();
        let fields: Vec<&str> = line.split('|').collect();
        let outcome = if fields.len() < 5 {
            Err(Problem::new(
                ProblemKind::Malformed,
                format!("expected 24 '|'-separated fields, found {}", fields.len()),
            ))
        } else {
            let (name, title_year) = split_title_year(fields[1]);
            let date_year = fields[2]
                .trim()
                .rsplit('-')
                .next()
                .filter(|year| year.len() == 4 && year.chars().all(|c| c.is_ascii_digit()))
                .map(str::to_owned);
            let genres = fields
                .iter()
                .skip(5)
                .zip(ML100K_GENRES)
                .filter(|(flag, genre)| flag.trim() == "1" && *genre != "unknown")
                .map(|(_, genre)| Scalar::Text(Cow::Borrowed(genre)))
                .collect();
            let mut wire = movie_wire(fields[0], name, title_year.or(date_year), genres);
            rows.cleaner.clean_wire(&mut wire)
        };
        rows.row(line_number, bytes, outcome)
    })
}

/// The comma-separated list cells of the catalog export.
fn comma_list(cell: &str) -> Option<Scalar<'_>> {
    Some(Scalar::List(
        cell.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| Scalar::Text(Cow::Borrowed(entry)))
            .collect(),
    ))
}

/// "90 min" -> 5400 seconds; seasons ("2 Seasons") are not a runtime.
fn runtime_seconds(cell: &str) -> Option<u64> {
    let minutes = cell.trim().strip_suffix("min")?.trim();
    minutes.parse::<u64>().ok().map(|minutes| minutes * 60)
}

/// The Netflix-style catalog CSV. `Movie` rows become movies with their runtime, `TV Show`
/// rows series. A few rows of the public export carry the duration in the rating column
/// ("74 min") with an empty duration: the value is moved back and counted as a repair.
fn read_netflix_catalog(
    reader: Box<dyn BufRead + Send + '_>,
    rows: &mut RowCollector<'_>,
) -> Result<(), Stop> {
    for_each_csv_record(reader, rows, b',', |rows, line, raw, record, columns| {
        let outcome = utf8_fields(record, columns).and_then(|fields| {
            let get = |name: &str, fallback: usize| {
                fields
                    .get(column(columns, name, fallback))
                    .copied()
                    .unwrap_or("")
                    .trim()
            };
            let mut rating = get("rating", 8);
            let mut duration = get("duration", 9);
            if duration.is_empty() && runtime_seconds(rating).is_some() {
                duration = rating;
                rating = "";
                rows.cleaner.note_catalog_repair();
            }
            let kind = get("type", 1);
            let duration_s = if has_runtime(kind) {
                runtime_seconds(duration).map(Scalar::Unsigned)
            } else {
                None
            };
            let mut wire = WireRecord {
                record_type: text("title"),
                id: text(get("show_id", 0)),
                kind: text(kind),
                name: text(get("title", 2)),
                directors: comma_list(get("director", 3)),
                cast: comma_list(get("cast", 4)),
                countries: comma_list(get("country", 5)),
                added_at: text(get("date_added", 6)),
                release_year: text(get("release_year", 7)),
                maturity_rating: text(rating),
                duration_s,
                genres: comma_list(get("listed_in", 10)),
                description: text(get("description", 11)),
                ..WireRecord::default()
            };
            rows.cleaner.clean_wire(&mut wire)
        });
        rows.row(line, raw, outcome)
    })
}

/// Movies and episodes have a runtime; a series' "duration" counts seasons.
fn has_runtime(kind: &str) -> bool {
    TitleKind::parse(kind).is_some_and(TitleKind::is_playable)
}
