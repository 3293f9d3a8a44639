//! Planning an import: check every input up front (so a typo in the fifth path fails before
//! the first four are half imported), detect formats, and order catalog and member files
//! before event files so events can be checked against them.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::IngestError;
use crate::format::{Format, detect_format, first_record_is_catalog};

/// One input, checked and with its format decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub format: Format,
    /// The size on disk (compressed, if it is), for progress.
    pub size_bytes: u64,
}

fn check_readable(path: &Path) -> Result<u64, IngestError> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(IngestError::Missing {
                path: path.to_owned(),
            });
        }
        Err(source) => {
            return Err(IngestError::Unreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    if metadata.is_dir() {
        return Err(IngestError::IsDirectory {
            path: path.to_owned(),
        });
    }
    if !metadata.is_file() {
        return Err(IngestError::NotARegularFile {
            path: path.to_owned(),
        });
    }
    // Opening proves readability (permissions) now rather than mid-import.
    File::open(path).map_err(|source| IngestError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    Ok(metadata.len())
}

/// Checks every path (exists, is a regular file, is readable), detects formats (or applies
/// `format` to all), and orders catalog and member files before event files, keeping the
/// given order otherwise.
pub fn plan_inputs(
    paths: &[PathBuf],
    format: Option<Format>,
) -> Result<Vec<InputFile>, IngestError> {
    let mut planned = Vec::with_capacity(paths.len());
    for path in paths {
        let size_bytes = check_readable(path)?;
        let format = match format {
            Some(format) => format,
            None => detect_format(path)?,
        };
        let catalog_first = format.is_catalog()
            || (matches!(format, Format::Jsonl | Format::Csv)
                && first_record_is_catalog(path, format));
        planned.push((
            !catalog_first,
            InputFile {
                path: path.clone(),
                format,
                size_bytes,
            },
        ));
    }
    // A stable sort on "is an event file" keeps the user's order within each group.
    planned.sort_by_key(|(events_file, _)| *events_file);
    Ok(planned.into_iter().map(|(_, input)| input).collect())
}
