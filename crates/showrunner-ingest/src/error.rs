//! The importer's errors. Bad rows are never errors (they are quarantined); these are the
//! failures that stop an import: an input that cannot be opened or read, an undetectable
//! format, or a sink (the store) that refuses a batch. Each names the input it is about.

use std::io;
use std::path::PathBuf;

use crate::format::Format;

/// Anything the sink may fail with; the store's own error is boxed into it.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: no such file", path.display())]
    Missing { path: PathBuf },

    #[error("{}: is a directory, not a file", path.display())]
    IsDirectory { path: PathBuf },

    #[error("{}: not a regular file", path.display())]
    NotARegularFile { path: PathBuf },

    #[error("{}: cannot open: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },

    #[error(
        "{}: cannot tell the format ({why}); name it with --format, one of: {}",
        path.display(),
        Format::names_for_message()
    )]
    UndetectedFormat { path: PathBuf, why: String },

    #[error(
        "unknown format {name:?}; expected one of: {}",
        Format::names_for_message()
    )]
    UnknownFormatName { name: String },

    /// The input failed part-way (an IO error, a corrupt gzip or zstd stream). Everything
    /// before `line` was already handed to the sink and is kept.
    #[error(
        "{}: read failed near line {line} (byte {byte_offset} of the file): {source}",
        path.display()
    )]
    Read {
        path: PathBuf,
        line: u64,
        byte_offset: u64,
        source: io::Error,
    },

    #[error("the store refused a batch: {source}")]
    Sink { source: SinkError },

    #[error("the import worker thread panicked")]
    WorkerPanicked,
}
