//! The store's error type. Every variant names the database it is about, so a message read
//! on its own (in a log, in the CLI's output) says which file is wrong and how.

use std::path::PathBuf;

/// What went wrong while opening, reading or writing a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but SQLite does not recognise it (a text file, a truncated copy).
    #[error("{} is not a showrunner database (not an SQLite file)", path.display())]
    NotADatabase { path: PathBuf },

    /// The database file or its directory cannot be written, so nothing can be stored.
    #[error(
        "{} is read-only: showrunner needs write access to the database file and to its \
         directory (for the -wal and -shm files)",
        path.display()
    )]
    ReadOnly { path: PathBuf },

    /// A newer showrunner created or upgraded this database; this one must not touch it.
    #[error(
        "{} has schema version {found}, newer than the {supported} this showrunner knows: \
         upgrade showrunner to use it",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// A database from an older showrunner opened read-only: it must be upgraded first.
    #[error(
        "{} has schema version {found}, older than the {supported} this showrunner reads: \
         open it once for writing (e.g. run an import) to upgrade it",
        path.display()
    )]
    NeedsMigration {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The path names a directory where a database file was expected.
    #[error("{} is a directory, not a database file", path.display())]
    IsDirectory { path: PathBuf },

    /// The database would be created in a directory that does not exist.
    #[error("cannot create {}: its directory does not exist", path.display())]
    MissingDirectory { path: PathBuf },

    /// A read-only open of a database that does not exist.
    #[error("{} does not exist", path.display())]
    NotFound { path: PathBuf },

    /// `backup_to` refuses to overwrite anything.
    #[error("backup destination {} already exists; refusing to overwrite it", path.display())]
    DestinationExists { path: PathBuf },

    /// An event whose time cannot be keyed (before 1970 or after 2106). The importer rejects
    /// such timestamps long before they reach the store, so this is a caller's bug.
    #[error(
        "{}: event {event_id:?} has timestamp {ts_millis} ms, outside the storable range \
         1970..2106",
        path.display()
    )]
    TimestampOutOfRange {
        path: PathBuf,
        event_id: String,
        ts_millis: i64,
    },

    /// A stored value that this code cannot read back (an unknown enum code, bad JSON).
    #[error("{}: table {table}, column {column}: {detail}", path.display())]
    Corrupt {
        path: PathBuf,
        table: &'static str,
        column: &'static str,
        detail: String,
    },

    /// A file-system error outside SQLite (checking permissions, creating the backup file).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A PostgreSQL failure: connecting, a statement, the pool. `path` is the database URL
    /// without its password; `detail` is the server's message.
    #[error("{}: {detail}", path.display())]
    Postgres {
        path: PathBuf,
        detail: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// An operation the backend does not offer, with what to do instead.
    #[error("{}: {operation} is not supported on {backend}: {hint}", path.display())]
    Unsupported {
        path: PathBuf,
        operation: &'static str,
        backend: &'static str,
        hint: &'static str,
    },

    /// A database location that names no backend this showrunner knows.
    #[error("{location:?} is not a database location: {detail}")]
    BadLocation { location: String, detail: String },

    /// Any other SQLite failure.
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// Personal data could not be sealed or opened: no usable master key, a wrong one, or
    /// a tampered ciphertext (the message says which).
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}
