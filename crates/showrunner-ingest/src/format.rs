//! Input formats, and telling which one a file holds: by its name first, then by its header
//! or first bytes. Compression (gzip, zstd) is detected by magic bytes and is transparent.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::error::IngestError;

/// The formats the importer reads. See the crate documentation for each one's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// One JSON object per line, the model's serde shape with a `type`.
    Jsonl,
    /// A header row naming the same fields as JSONL; `|` separates list entries.
    Csv,
    /// MovieLens `ratings.csv`: `userId,movieId,rating,timestamp`.
    MovielensRatings,
    /// MovieLens `movies.csv`: `movieId,title,genres`.
    MovielensMovies,
    /// MovieLens 100k `u.data`: tab-separated `user item rating timestamp`.
    Ml100kData,
    /// MovieLens 100k `u.item`: pipe-separated, ISO-8859-1, 19 genre flags.
    Ml100kItem,
    /// MovieTweetings `ratings.dat`: `user_id::movie_id::rating::timestamp`, ratings 0-10.
    MovietweetingsRatings,
    /// MovieTweetings `movies.dat`: `movie_id::Title (Year)::Genre|Genre`.
    MovietweetingsMovies,
    /// The Netflix-style catalog export (`show_id,type,title,director,cast,...`).
    NetflixCatalog,
}

const NETFLIX_HEADER: &str = "show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description";

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Jsonl,
        Format::Csv,
        Format::MovielensRatings,
        Format::MovielensMovies,
        Format::Ml100kData,
        Format::Ml100kItem,
        Format::MovietweetingsRatings,
        Format::MovietweetingsMovies,
        Format::NetflixCatalog,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::MovielensRatings => "movielens-ratings",
            Format::MovielensMovies => "movielens-movies",
            Format::Ml100kData => "ml100k-data",
            Format::Ml100kItem => "ml100k-item",
            Format::MovietweetingsRatings => "movietweetings-ratings",
            Format::MovietweetingsMovies => "movietweetings-movies",
            Format::NetflixCatalog => "netflix-catalog",
        }
    }

    pub(crate) fn names_for_message() -> String {
        Format::ALL.map(Format::as_str).join(", ")
    }

    /// Public rating datasets carry no member table, so their users are created as bare
    /// members on first sight instead of being quarantined as unknown.
    pub fn creates_unknown_members(self) -> bool {
        matches!(
            self,
            Format::MovielensRatings | Format::Ml100kData | Format::MovietweetingsRatings
        )
    }

    /// Whether the format holds only catalog entries (imported before events, so events can
    /// be checked against them).
    pub fn is_catalog(self) -> bool {
        matches!(
            self,
            Format::MovielensMovies
                | Format::Ml100kItem
                | Format::MovietweetingsMovies
                | Format::NetflixCatalog
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = IngestError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let wanted = name.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == wanted)
            .ok_or_else(|| IngestError::UnknownFormatName {
                name: name.to_owned(),
            })
    }
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Wraps `reader` in a gzip or zstd decoder when its first bytes say so.
pub(crate) fn decompress<'a, R: BufRead + Send + 'a>(
    mut reader: R,
) -> io::Result<Box<dyn BufRead + Send + 'a>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        // MultiGzDecoder: concatenated gzip members (as `cat a.gz b.gz` or pigz make) are one
        // stream; the single-member decoder would silently stop after the first.
        let decoder = flate2::bufread::MultiGzDecoder::new(reader);
        Ok(Box::new(BufReader::with_capacity(256 * 1024, decoder)))
    } else if head.starts_with(&ZSTD_MAGIC) {
        let decoder = zstd::stream::read::Decoder::with_buffer(reader)?;
        Ok(Box::new(BufReader::with_capacity(256 * 1024, decoder)))
    } else {
        Ok(Box::new(reader))
    }
}

/// The file name with compression suffixes removed, lower-cased: `Ratings.CSV.gz` ->
/// `ratings.csv`.
fn base_name(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    for suffix in [".gz", ".gzip", ".zst", ".zstd"] {
        if let Some(stripped) = name.strip_suffix(suffix) {
            name = stripped.to_owned();
            break;
        }
    }
    name
}

/// Reads the start of the (decompressed) file: at most 64 KiB, enough for a header and a
/// first record.
fn read_head(path: &Path) -> Result<Vec<u8>, IngestError> {
    let unreadable = |source| IngestError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(unreadable)?;
    let reader = decompress(BufReader::new(file)).map_err(unreadable)?;
    let mut head = Vec::with_capacity(64 * 1024);
    reader
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    Ok(head)
}

fn first_line(head: &[u8]) -> &[u8] {
    let line = match memchr::memchr(b'\n', head) {
        Some(end) => &head[..end],
        None => head,
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // A UTF-8 byte-order mark is common in spreadsheet exports.
    line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line)
}

fn format_of_csv_header(header: &[u8]) -> Format {
    let header = String::from_utf8_lossy(header).replace([' ', '"'], "");
    let lower = header.to_ascii_lowercase();
    if lower == NETFLIX_HEADER {
        Format::NetflixCatalog
    } else if lower == "userid,movieid,rating,timestamp" {
        Format::MovielensRatings
    } else if lower == "movieid,title,genres" {
        Format::MovielensMovies
    } else {
        Format::Csv
    }
}

/// What a file holds, from its name, header and first bytes.
pub(crate) fn detect_format(path: &Path) -> Result<Format, IngestError> {
    let name = base_name(path);
    match name.as_str() {
        "u.data" => return Ok(Format::Ml100kData),
        "u.item" => return Ok(Format::Ml100kItem),
        "ratings.dat" => return Ok(Format::MovietweetingsRatings),
        "movies.dat" => return Ok(Format::MovietweetingsMovies),
        _ => {}
    }
    if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        return Ok(Format::Jsonl);
    }
    let head = read_head(path)?;
    if head.is_empty() {
        // An empty file is not an error whatever its name: it imports as zero rows.
        return Ok(Format::Jsonl);
    }
    if name.ends_with(".csv") || name.ends_with(".tsv") {
        return Ok(format_of_csv_header(first_line(&head)));
    }
    sniff(&head).ok_or_else(|| IngestError::UndetectedFormat {
        path: path.to_owned(),
        why: "neither its name nor its first line is recognised".to_owned(),
    })
}

/// Guesses from the first line alone, for files with uninformative names.
fn sniff(head: &[u8]) -> Option<Format> {
    let line = first_line(head);
    let text = std::str::from_utf8(line).ok().unwrap_or("");
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return Some(Format::Jsonl);
    }
    if text.contains("::") {
        let parts: Vec<&str> = text.split("::").collect();
        let all_numeric = parts.iter().all(|part| part.parse::<f64>().is_ok());
        return match parts.len() {
            4 if all_numeric => Some(Format::MovietweetingsRatings),
            2 | 3 => Some(Format::MovietweetingsMovies),
            _ => None,
        };
    }
    let tab_parts: Vec<&str> = text.split('\t').collect();
    if tab_parts.len() == 4 && tab_parts.iter().all(|part| part.parse::<u64>().is_ok()) {
        return Some(Format::Ml100kData);
    }
    // u.item is Latin-1, so do not insist on UTF-8 here.
    if line.iter().filter(|byte| **byte == b'|').count() == 23 {
        return Some(Format::Ml100kItem);
    }
    if text.contains(',') && text.chars().all(|character| !character.is_control()) {
        return Some(format_of_csv_header(line));
    }
    None
}

/// For generic JSONL and CSV files: does the first record describe catalog or members (so
/// the file is imported before event files)? Cheap: looks at the first record only.
pub(crate) fn first_record_is_catalog(path: &Path, format: Format) -> bool {
    let Ok(head) = read_head(path) else {
        return false;
    };
    let record_type = match format {
        Format::Jsonl => {
            #[derive(serde::Deserialize)]
            struct TypeOnly {
                #[serde(rename = "type")]
                record_type: Option<String>,
            }
            serde_json::from_slice::<TypeOnly>(first_line(&head))
                .ok()
                .and_then(|only| only.record_type)
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(head.as_slice());
            let type_column = reader
                .headers()
                .ok()
                .and_then(|headers| headers.iter().position(|name| name.trim() == "type"));
            let first = reader.records().next().and_then(Result::ok);
            type_column
                .zip(first)
                .and_then(|(column, record)| record.get(column).map(str::to_owned))
        }
        _ => None,
    };
    matches!(
        record_type.as_deref().map(str::trim),
        Some("title" | "member")
    )
}
