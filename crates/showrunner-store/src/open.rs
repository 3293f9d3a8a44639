//! Choosing a backend by the database's location: `postgres://…` or `postgresql://…` is a
//! PostgreSQL database ([`PgStore`]); `sqlite://PATH` or a plain path is an SQLite file
//! ([`SqliteStore`], the default).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::pg::{is_postgres_url, redact_url};
use crate::{
    AccountStore, AlertStore, AuditStore, CatalogStore, ExperimentStore, FindingStore, JobStore,
    ModelWatch, PgStore, RegistryStore, RetentionStore, SeriesStore, ServerStore, SqliteStore,
    StoreError, VaultStore, vault::Keyring,
};

/// Every store trait at once: what `serve`, its background jobs and the CLI's commands need
/// from a database without knowing which backend holds it. Both backends implement it (a
/// blanket impl over the traits), and [`StoreLocation::open`] returns one.
pub trait Backend:
    fmt::Debug
    + ServerStore
    + RegistryStore
    + AccountStore
    + AuditStore
    + AlertStore
    + SeriesStore
    + JobStore
    + RetentionStore
    + CatalogStore
    + ExperimentStore
    + FindingStore
    + VaultStore
{
    /// Whether this is a PostgreSQL database (shared by replicas) rather than an embedded
    /// file.
    fn is_shared(&self) -> bool;

    /// A listener told of every change to the models served (publication, promotion,
    /// rollback, shadowing, experiments) by any process, so that replicas reload at once;
    /// `None` where the backend has no such channel (SQLite: servers poll the file).
    fn watch_models(&self) -> Result<Option<ModelWatch>, StoreError>;

    /// Records that the serve replica `id` is alive at `now_ms`, forgets replicas not seen
    /// within `live_ms`, and returns how many are alive (this one included). Always 1 on an
    /// embedded store, which one process serves.
    fn replica_heartbeat(&mut self, id: &str, now_ms: i64, live_ms: i64)
    -> Result<u32, StoreError>;

    /// Forgets the replica `id` (it is stopping).
    fn replica_gone(&mut self, id: &str) -> Result<(), StoreError>;
}

impl Backend for SqliteStore {
    fn is_shared(&self) -> bool {
        false
    }

    fn watch_models(&self) -> Result<Option<ModelWatch>, StoreError> {
        Ok(None)
    }

    fn replica_heartbeat(&mut self, _: &str, _: i64, _: i64) -> Result<u32, StoreError> {
        Ok(1)
    }

    fn replica_gone(&mut self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Backend for PgStore {
    fn is_shared(&self) -> bool {
        true
    }

    fn watch_models(&self) -> Result<Option<ModelWatch>, StoreError> {
        PgStore::watch_models(self).map(Some)
    }

    fn replica_heartbeat(
        &mut self,
        id: &str,
        now_ms: i64,
        live_ms: i64,
    ) -> Result<u32, StoreError> {
        PgStore::replica_heartbeat(self, id, now_ms, live_ms)
    }

    fn replica_gone(&mut self, id: &str) -> Result<(), StoreError> {
        PgStore::replica_gone(self, id)
    }
}

/// Where a store lives, parsed from what the user wrote (`--db`, a config file).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    /// The full URL, password included (see [`fmt::Display`] for the redacted form).
    Postgres(String),
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreLocation::Postgres(url) => {
                f.debug_tuple("Postgres").field(&redact_url(url)).finish()
            }
        }
    }
}

/// The path, or the URL without its password.
impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl StoreLocation {
    /// Reads a location: a PostgreSQL URL, `sqlite://PATH`, or a path. Any other
    /// `scheme://` is refused, so a typo (`postgress://`) does not become a file name.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        if is_postgres_url(text) {
            return Ok(StoreLocation::Postgres(text.to_owned()));
        }
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StoreError::BadLocation {
                    location: text.to_owned(),
                    detail: "sqlite:// must be followed by a file path".into(),
                });
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(StoreError::BadLocation {
                location: redact_url(text),
                detail: format!(
                    "unknown scheme {scheme:?}: use postgres://…, sqlite://PATH or a file path"
                ),
            });
        }
        if text.is_empty() {
            return Err(StoreError::BadLocation {
                location: String::new(),
                detail: "empty: give a file path or a postgres:// URL".into(),
            });
        }
        Ok(StoreLocation::Sqlite(PathBuf::from(text)))
    }

    /// A location from a path given on the command line (a path that is not UTF-8 can only
    /// be a file).
    pub fn from_path(path: &Path) -> Result<Self, StoreError> {
        match path.to_str() {
            Some(text) => StoreLocation::parse(text),
            None => Ok(StoreLocation::Sqlite(path.to_owned())),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, StoreLocation::Postgres(_))
    }

    /// Opens for reading and writing (creating an SQLite file when missing) and migrates.
    pub fn open(&self) -> Result<Box<dyn Backend>, StoreError> {
        Ok(match self {
            StoreLocation::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            StoreLocation::Postgres(url) => Box::new(PgStore::open(url)?),
        })
    }

    /// [`StoreLocation::open`] with the master keys given rather than read from the
    /// environment (`showrunner keys rotate`).
    pub fn open_with_keyring(&self, keyring: Keyring) -> Result<Box<dyn Backend>, StoreError> {
        Ok(match self {
            StoreLocation::Sqlite(path) => Box::new(SqliteStore::open_with_keyring(path, keyring)?),
            StoreLocation::Postgres(url) => Box::new(PgStore::open_with_keyring(url, keyring)?),
        })
    }

    /// Opens an existing store with the current schema for reading only.
    pub fn open_read_only(&self) -> Result<Box<dyn Backend>, StoreError> {
        Ok(match self {
            StoreLocation::Sqlite(path) => Box::new(SqliteStore::open_read_only(path)?),
            StoreLocation::Postgres(url) => Box::new(PgStore::open_read_only(url)?),
        })
    }
}

/// Opens the store at `location` (a path, `sqlite://PATH` or `postgres://…`) for reading and
/// writing, applying pending migrations.
pub fn open(location: &str) -> Result<Box<dyn Backend>, StoreError> {
    StoreLocation::parse(location)?.open()
}

/// Opens the existing store at `location` for reading only.
pub fn open_read_only(location: &str) -> Result<Box<dyn Backend>, StoreError> {
    StoreLocation::parse(location)?.open_read_only()
}

/// Opens the store a command-line or configuration path names (a file path, or a
/// `postgres://` URL held in a path) for reading and writing, applying pending migrations.
pub fn open_path(path: &Path) -> Result<Box<dyn Backend>, StoreError> {
    StoreLocation::from_path(path)?.open()
}

/// Opens the existing store a path names for reading only (see [`open_path`]).
pub fn open_path_read_only(path: &Path) -> Result<Box<dyn Backend>, StoreError> {
    StoreLocation::from_path(path)?.open_read_only()
}
