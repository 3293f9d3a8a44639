//! The embedded backend: one SQLite file in WAL mode. Opening checks that the file can be
//! used (is a database, is writable, is not from a newer showrunner), sets the pragmas and
//! applies pending migrations; the submodules hold the write path and the queries.
//!
//! Every SQLite-specific detail (pragmas, `WITHOUT ROWID`, the two-argument `min`/`max`,
//! the backup API) stays in this file, its submodules and its migrations.

mod access;
mod alerting;
mod audit;
mod catalog;
mod checkpoint;
mod experiment;
mod facts;
mod finding;
mod jobs;
mod read;
mod registry;
mod retention;
mod series;
mod server;
mod vault;
mod write;

pub(crate) use write::{kind_index, thumbs_code};

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags, TransactionBehavior};
use showrunner_model::{Batch, BatchOutcome, Event, Member, ProblemKind, Title};

use crate::vault::{Keyring, Vault};
use crate::{
    DerivedSummary, EventFilter, FactsFilter, ImportLog, ImportRecord, KnownTitle,
    QuarantineFilter, QuarantineRow, Store, StoreCounts, StoreError, View, ViewFilter,
};

/// One schema migration: a SQL script applied in its own transaction.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration in order. Append only: a released migration is never edited.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "analytics_indexes",
        sql: include_str!("migrations/0002_analytics_indexes.sql"),
    },
    Migration {
        version: 3,
        name: "server",
        sql: include_str!("migrations/0003_server.sql"),
    },
    Migration {
        version: 4,
        name: "access",
        sql: include_str!("migrations/0004_access.sql"),
    },
    Migration {
        version: 5,
        name: "monitor",
        sql: include_str!("migrations/0005_monitor.sql"),
    },
    Migration {
        version: 6,
        name: "automation",
        sql: include_str!("migrations/0006_automation.sql"),
    },
    Migration {
        version: 7,
        name: "catalog",
        sql: include_str!("migrations/0007_catalog.sql"),
    },
    Migration {
        version: 8,
        name: "vault",
        sql: include_str!("migrations/0008_vault.sql"),
    },
    Migration {
        version: 9,
        name: "experiments",
        sql: include_str!("migrations/0009_experiments.sql"),
    },
    Migration {
        version: 10,
        name: "findings",
        sql: include_str!("migrations/0010_findings.sql"),
    },
    Migration {
        version: 11,
        name: "registry_everywhere",
        sql: include_str!("migrations/0011_registry_everywhere.sql"),
    },
    Migration {
        version: 12,
        name: "shadow",
        sql: include_str!("migrations/0012_shadow.sql"),
    },
    Migration {
        version: 13,
        name: "sealed_everywhere",
        sql: include_str!("migrations/0013_sealed_everywhere.sql"),
    },
    Migration {
        version: 14,
        name: "model_notify",
        sql: include_str!("migrations/0014_model_notify.sql"),
    },
    Migration {
        version: 15,
        name: "replicas",
        sql: include_str!("migrations/0015_replicas.sql"),
    },
    Migration {
        version: 16,
        name: "bytewise_text",
        sql: include_str!("migrations/0016_bytewise_text.sql"),
    },
    Migration {
        version: 17,
        name: "data_keys_by_age",
        sql: include_str!("migrations/0017_data_keys_by_age.sql"),
    },
    Migration {
        version: 18,
        name: "data_keys_append",
        sql: include_str!("migrations/0018_data_keys_append.sql"),
    },
];

/// The schema version this code reads and writes: the last migration's (versions may skip
/// a number while branches that add migrations are merged).
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Page size for new databases. 16 KiB pages hold more rows per page than the 4 KiB default,
/// so a bulk append touches fewer pages and the b-trees are shallower (measured in
/// `examples/store_speed.rs`). It only takes effect when the file is created.
const PAGE_SIZE: i64 = 16_384;

/// Page cache per connection, in KiB (negative means KiB to SQLite): 64 MiB keeps the right
/// edge of every event table and the views in memory during an import while the whole
/// process stays far below its 500 MB budget.
const CACHE_SIZE_KIB: i64 = 65_536;

/// Pages of WAL after which a commit checkpoints it into the database. Larger than the
/// default 1000 so that big batches are not checkpointed piecemeal; see `store_speed`.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4_096;

/// After a checkpoint the WAL file is truncated to this size, so a big import does not
/// leave a WAL as large as its largest batch on disk forever.
const JOURNAL_SIZE_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// Address space a connection may map for reading (SQLite maps at most the file's size):
/// read-only connections always, and the viewing-facts read on any connection.
pub(crate) const READ_MMAP_SIZE_BYTES: i64 = 1 << 40;

const BUSY_TIMEOUT: Duration = Duration::from_millis(5_000);

/// The SQLite store. Holds one connection; `Send` but not shared between threads (open
/// another store on the same file for concurrent readers: WAL lets them read while this one
/// writes).
pub struct SqliteStore {
    /// Folds the WAL back on a thread of its own once this connection writes events
    /// (see `checkpoint`); `None` before the first batch and on in-memory stores. First,
    /// so that it is dropped (its thread joined) before the connection closes.
    checkpointer: Option<checkpoint::Checkpointer>,
    connection: Connection,
    path: PathBuf,
    read_only: bool,
    /// What the write path remembers between batches (see `write::WriteCache`).
    write_cache: write::WriteCache,
    /// Seals and opens personal data (see `crate::vault`).
    vault: Arc<Vault>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// Maps rusqlite results to [`StoreError`]s that name the database and, for the failures a
/// user can fix, say what is wrong in words.
pub(crate) trait AtPath<T> {
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> AtPath<T> for Result<T, rusqlite::Error> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|source| classify(path, source))
    }
}

fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
        _ => StoreError::Sqlite { path, source },
    }
}

/// Like [`classify`], but for the first statements after opening for writing, where "cannot
/// open" means the file or its directory cannot be written.
fn classify_on_open(path: &Path, source: rusqlite::Error) -> StoreError {
    if source.sqlite_error_code() == Some(ErrorCode::CannotOpen) {
        return StoreError::ReadOnly {
            path: path.to_owned(),
        };
    }
    classify(path, source)
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

impl SqliteStore {
    /// Opens the database at `path` for reading and writing, creating it when missing, and
    /// applies pending migrations. Fails before anything is read when the file is not a
    /// database, cannot be written, or comes from a newer showrunner.
    ///
    /// Personal data is sealed under the master key configured in the environment (see
    /// [`Keyring::from_environment`]).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::open_with_keyring(path, Keyring::from_environment()?)
    }

    /// [`SqliteStore::open`] with the given master keys.
    pub fn open_with_keyring(path: &Path, keyring: Keyring) -> Result<Self, StoreError> {
        check_writable_location(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(path, flags).map_err(|e| classify_on_open(path, e))?;
        let mut store = SqliteStore {
            connection,
            path: path.to_owned(),
            read_only: false,
            write_cache: write::WriteCache::default(),
            vault: Arc::new(Vault::new(keyring)),
            checkpointer: None,
        };
        store.configure().map_err(|e| classify_on_open(path, e))?;
        // SQLite silently falls back to read-only when the OS refuses write access.
        if store.connection.is_readonly(MAIN_DB).at(path)? {
            return Err(StoreError::ReadOnly {
                path: path.to_owned(),
            });
        }
        store.migrate()?;
        store.check_master_key()?;
        Ok(store)
    }

    /// Opens an existing database for reading only (for commands that only report). Write
    /// methods fail with [`StoreError::ReadOnly`].
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        SqliteStore::open_read_only_with_keyring(path, Keyring::from_environment()?)
    }

    /// [`SqliteStore::open_read_only`] with the given master keys.
    pub fn open_read_only_with_keyring(path: &Path, keyring: Keyring) -> Result<Self, StoreError> {
        match fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                return Err(StoreError::IsDirectory {
                    path: path.to_owned(),
                });
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound {
                    path: path.to_owned(),
                });
            }
            Err(error) => return Err(io_error(path, error)),
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).at(path)?;
        let store = SqliteStore {
            connection,
            path: path.to_owned(),
            read_only: true,
            write_cache: write::WriteCache::default(),
            vault: Arc::new(Vault::new(keyring)),
            checkpointer: None,
        };
        store.connection.busy_timeout(BUSY_TIMEOUT).at(path)?;
        store
            .connection
            .pragma_update(None, "cache_size", -CACHE_SIZE_KIB)
            .at(path)?;
        // A reader's point lookups (a member, their views) land on pages all over a file
        // larger than its cache: mapped, a page is read where it lies instead of being
        // copied into this connection's cache first (the service's readers spent a fifth of
        // a home page's time copying). Writes never go through the map.
        store
            .connection
            .pragma_update(None, "mmap_size", READ_MMAP_SIZE_BYTES)
            .at(path)?;
        let found = store.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::NeedsMigration {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        store.check_master_key()?;
        Ok(store)
    }

    /// A fresh database in memory, with the full schema, for tests of other crates.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let path = Path::new(":memory:");
        let connection = Connection::open_in_memory().at(path)?;
        let mut store = SqliteStore {
            connection,
            path: path.to_owned(),
            read_only: false,
            write_cache: write::WriteCache::default(),
            // The configured key, so that a backup of it opens like any store's; a key of
            // its own when none is configured (nothing else outlives the connection).
            vault: Arc::new(Vault::new(
                Keyring::from_environment()
                    .unwrap_or_else(|_| Keyring::single(crate::MasterKey::generate())),
            )),
            checkpointer: None,
        };
        store.configure().at(path)?;
        store.migrate()?;
        Ok(store)
    }

    /// Fails, naming the key wanted, when the store holds data keys wrapped under a master
    /// key this process does not have.
    fn check_master_key(&self) -> Result<(), StoreError> {
        let ids = vault::master_ids(&self.connection, &self.path)?;
        self.vault.check_master_ids(&ids)?;
        Ok(())
    }

    /// The id of the master key new data keys are wrapped under.
    pub fn master_key_id(&self) -> String {
        self.vault.master_id_hex()
    }

    /// The database file this store was opened on (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let user_version: i64 = self
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .at(&self.path)?;
        let has_migrations_table: bool = self
            .connection
            .query_row(
                "SELECT count(*) FROM sqlite_master \
                 WHERE type = 'table' AND name = 'schema_migrations'",
                [],
                |row| row.get(0),
            )
            .at(&self.path)?;
        let recorded: i64 = if has_migrations_table {
            self.connection
                .query_row(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations",
                    [],
                    |row| row.get(0),
                )
                .at(&self.path)?
        } else {
            0
        };
        Ok(user_version.max(recorded))
    }

    /// Starts the background checkpointer before this connection's first group of batches
    /// from the service (a file store only; `:memory:` has no WAL).
    fn start_checkpointer(&mut self) {
        if self.checkpointer.is_none() && !self.read_only && self.path != Path::new(":memory:") {
            self.checkpointer = checkpoint::Checkpointer::start(
                &self.connection,
                &self.path,
                checkpoint::Thresholds::DEFAULT,
            );
        }
    }

    /// After a batch's commit (or rollback): lets the checkpointer know the WAL's size.
    fn after_commit(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.after_commit(&self.connection);
        }
    }

    /// Folds the write-ahead log back into the database file and truncates it, e.g. at the
    /// end of a bulk import. Safe at any time; readers are not disturbed.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .at(&self.path)
    }

    fn configure(&mut self) -> Result<(), rusqlite::Error> {
        let connection = &self.connection;
        // Reading the schema first makes a non-database file fail here, with NOTADB.
        connection.query_row("PRAGMA schema_version", [], |_| Ok(()))?;
        // Only takes effect on a database with no tables yet, i.e. before migration 1.
        connection.pragma_update(None, "page_size", PAGE_SIZE)?;
        connection.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        // FULL: in WAL mode, every commit fsyncs the WAL, so a batch reported written
        // survives power loss. A batch is tens of thousands of rows, so the cost is small.
        connection.pragma_update(None, "synchronous", "FULL")?;
        // The importer checks references; declared foreign keys would only slow bulk writes.
        connection.pragma_update(None, "foreign_keys", false)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "cache_size", -CACHE_SIZE_KIB)?;
        connection.pragma_update(None, "temp_store", "MEMORY")?;
        // Deleted rows (an erasure's data keys) are overwritten, not left in free pages.
        connection.pragma_update(None, "secure_delete", true)?;
        connection.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        connection.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES)?;
        // Every table's insert, lookup and upsert statements stay prepared.
        connection.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    /// Applies the migrations newer than the database's version, each in one transaction,
    /// and otherwise proves that the database can be written (`BEGIN IMMEDIATE` takes the
    /// write lock), so an import fails before reading any input.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            let probe = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| classify_on_open(&path, e))?;
            probe.rollback().at(&path)?;
            return Ok(());
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
            let transaction = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| classify_on_open(&path, e))?;
            transaction
                .execute_batch(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (\
                         version INTEGER PRIMARY KEY, \
                         name TEXT NOT NULL, \
                         applied_at INTEGER NOT NULL)",
                )
                .map_err(|e| classify_on_open(&path, e))?;
            transaction.execute_batch(migration.sql).at(&path)?;
            transaction
                .execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    rusqlite::params![migration.version, migration.name, write::now_millis()],
                )
                .at(&path)?;
            transaction
                .pragma_update(None, "user_version", migration.version)
                .at(&path)?;
            transaction.commit().at(&path)?;
            tracing::info!(
                database = %path.display(),
                version = migration.version,
                name = migration.name,
                "applied migration"
            );
        }
        Ok(())
    }

    fn ensure_writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        Ok(())
    }
}

/// Refuses, before SQLite is involved, the cases where a write open would fail late or
/// confusingly: a directory, a missing parent directory, a file or directory without write
/// permission. The permission check reads the mode bits rather than trying a write, so it
/// also holds for root, whom the kernel lets write anyway; a database marked read-only is
/// treated as one on purpose.
fn check_writable_location(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(StoreError::IsDirectory {
                path: path.to_owned(),
            });
        }
        Ok(metadata) if metadata.permissions().readonly() => {
            return Err(StoreError::ReadOnly {
                path: path.to_owned(),
            });
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if !parent.is_dir() {
                return Err(StoreError::MissingDirectory {
                    path: path.to_owned(),
                });
            }
        }
        Err(error) => return Err(io_error(path, error)),
    }
    // WAL mode creates `-wal` and `-shm` files beside the database.
    let parent_metadata = fs::metadata(parent).map_err(|e| io_error(parent, e))?;
    if parent_metadata.permissions().readonly() {
        return Err(StoreError::ReadOnly {
            path: path.to_owned(),
        });
    }
    Ok(())
}

impl SqliteStore {
    fn keys(&self) -> vault::Keys<'_> {
        vault::Keys {
            connection: &self.connection,
            path: &self.path,
        }
    }
}

impl Store for SqliteStore {
    fn known_titles(&self) -> Result<Vec<KnownTitle>, StoreError> {
        read::known_titles(&self.connection, &self.path)
    }

    fn known_members(&self) -> Result<Vec<String>, StoreError> {
        read::known_members(&self.connection, &self.path)
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        self.ensure_writable()?;
        // Imports keep SQLite's own checkpoint: with the checkpoint thread they were no
        // faster (1M events: 2.32-2.46 s either way, both cores busy parsing), so they keep
        // the behaviour their crash tests were written against. The service's group writes
        // (`ServerStore::write_batches`) start the thread.
        write::write_batch(
            &mut self.connection,
            &mut self.write_cache,
            &self.vault,
            &self.path,
            batch,
        )
    }

    fn refresh_derived(&mut self) -> Result<DerivedSummary, StoreError> {
        self.ensure_writable()?;
        write::refresh_derived(&mut self.connection, &self.path)
    }

    fn record_import(&mut self, record: &ImportLog) -> Result<(), StoreError> {
        self.ensure_writable()?;
        write::record_import(&self.connection, &self.path, record)
    }

    fn imports(&self) -> Result<Vec<ImportRecord>, StoreError> {
        read::imports(&self.connection, &self.path)
    }

    fn quarantine(&self, filter: &QuarantineFilter) -> Result<Vec<QuarantineRow>, StoreError> {
        let rows = read::quarantine(&self.connection, &self.path, filter)?;
        let mut keys = self.keys();
        rows.into_iter()
            .map(|row| crate::vault::open_quarantine_row(&self.vault, &mut keys, row))
            .collect()
    }

    fn quarantine_counts(&self) -> Result<Vec<(ProblemKind, u64)>, StoreError> {
        read::quarantine_counts(&self.connection, &self.path)
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        read::counts(&self.connection, &self.path)
    }

    fn views(&self, filter: &ViewFilter) -> Result<Vec<View>, StoreError> {
        read::views(&self.connection, &self.path, filter)
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut events = read::events(&self.connection, &self.path, filter)?;
        crate::vault::open_logins(&self.vault, &mut self.keys(), &mut events)?;
        Ok(events)
    }

    fn title(&self, id: &str) -> Result<Option<Title>, StoreError> {
        read::title(&self.connection, &self.path, id)
    }

    fn member(&self, id: &str) -> Result<Option<Member>, StoreError> {
        read::member(&self.connection, &self.path, id)?
            .map(|member| crate::vault::open_member(&self.vault, &mut self.keys(), member))
            .transpose()
    }

    fn member_without_personal_data(&self, id: &str) -> Result<Option<Member>, StoreError> {
        Ok(read::member(&self.connection, &self.path, id)?.map(crate::without_personal_data))
    }

    fn viewing_facts(
        &self,
        filter: &FactsFilter,
    ) -> Result<showrunner_model::ViewingFacts, StoreError> {
        facts::viewing_facts(&self.connection, &self.path, filter)
    }

    fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        backup_to(&self.connection, &self.path, dest)
    }
}

/// Copies the database with SQLite's online backup API in a single step, which reads one
/// consistent snapshot (in WAL mode, writers elsewhere carry on meanwhile). The destination
/// is created with `create_new`, so an existing file is never overwritten, even by a race.
/// SQLite's commit on the destination is fsync'd, and the file is synced again after the
/// connection closes; a failed backup removes its partial file.
fn backup_to(source: &Connection, source_path: &Path, dest: &Path) -> Result<(), StoreError> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
    {
        Ok(file) => drop(file),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::DestinationExists {
                path: dest.to_owned(),
            });
        }
        Err(error) => return Err(io_error(dest, error)),
    }
    let copy = || -> Result<(), StoreError> {
        let mut destination = Connection::open(dest).at(dest)?;
        destination
            .pragma_update(None, "synchronous", "FULL")
            .at(dest)?;
        {
            let backup = rusqlite::backup::Backup::new(source, &mut destination).at(source_path)?;
            // -1: all pages in one step, i.e. under one read snapshot of the source.
            match backup.step(-1).at(source_path)? {
                rusqlite::backup::StepResult::Done => {}
                other => {
                    let code = match other {
                        rusqlite::backup::StepResult::Locked => rusqlite::ffi::SQLITE_LOCKED,
                        _ => rusqlite::ffi::SQLITE_BUSY,
                    };
                    return Err(StoreError::Sqlite {
                        path: source_path.to_owned(),
                        source: rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(code),
                            Some(format!("backup did not complete ({other:?})")),
                        ),
                    });
                }
            }
        }
        destination.close().map_err(|(_, e)| classify(dest, e))?;
        let file = fs::File::open(dest).map_err(|e| io_error(dest, e))?;
        file.sync_all().map_err(|e| io_error(dest, e))?;
        Ok(())
    };
    let result = copy();
    if result.is_err() {
        // Best effort: a partial copy must not look like a backup.
        let _ = fs::remove_file(dest);
    }
    result
}
