//! The PostgreSQL backend: the same [`Store`] and [`ServerStore`] behaviour as
//! [`SqliteStore`](crate::SqliteStore), on a shared server that many processes can write.
//!
//! Opening connects once (so a wrong URL, password or database fails at once, with the
//! server's words), applies pending migrations under an advisory lock (several processes
//! may open the same database at the same time), then keeps a small pool of connections
//! (r2d2) for the reads and writes. Every PostgreSQL detail (the dialect of
//! `migrations/pg/`, `unnest` bulk inserts, `ON CONFLICT`, `synchronous_commit`) stays in
//! this file and its submodules.
//!
//! Durability: a batch is one transaction committed with `synchronous_commit = on` (the
//! server's default), so `write_batch` returns after the server has flushed its WAL.

mod access;
mod alerting;
mod audit;
mod catalog;
mod copy;
mod experiment;
mod facts;
mod finding;
mod jobs;
mod notify;
pub use notify::ModelWatch;
mod read;
mod registry;
mod retention;
mod series;
mod server;
mod vault;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;
use showrunner_model::{Batch, BatchOutcome, Event, Member, ProblemKind, Title};

use crate::vault::{Keyring, Vault, open_logins, open_member, open_quarantine_row};
use crate::{
    DerivedSummary, EventFilter, FactsFilter, ImportLog, ImportRecord, KnownTitle,
    QuarantineFilter, QuarantineRow, SCHEMA_VERSION, Store, StoreCounts, StoreError, View,
    ViewFilter,
};

/// One schema migration in PostgreSQL's dialect; versions and names match the SQLite ones.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration in order, the same versions as SQLite's `MIGRATIONS`. Append only.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("migrations/pg/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "analytics_indexes",
        sql: include_str!("migrations/pg/0002_analytics_indexes.sql"),
    },
    Migration {
        version: 3,
        name: "server",
        sql: include_str!("migrations/pg/0003_server.sql"),
    },
    Migration {
        version: 4,
        name: "access",
        sql: include_str!("migrations/pg/0004_access.sql"),
    },
    Migration {
        version: 5,
        name: "monitor",
        sql: include_str!("migrations/pg/0005_monitor.sql"),
    },
    Migration {
        version: 6,
        name: "automation",
        sql: include_str!("migrations/pg/0006_automation.sql"),
    },
    Migration {
        version: 7,
        name: "catalog",
        sql: include_str!("migrations/pg/0007_catalog.sql"),
    },
    Migration {
        version: 8,
        name: "vault",
        sql: include_str!("migrations/pg/0008_vault.sql"),
    },
    Migration {
        version: 9,
        name: "experiments",
        sql: include_str!("migrations/pg/0009_experiments.sql"),
    },
    Migration {
        version: 10,
        name: "findings",
        sql: include_str!("migrations/pg/0010_findings.sql"),
    },
    Migration {
        version: 11,
        name: "registry_everywhere",
        sql: include_str!("migrations/pg/0011_registry_everywhere.sql"),
    },
    Migration {
        version: 12,
        name: "shadow",
        sql: include_str!("migrations/pg/0012_shadow.sql"),
    },
    Migration {
        version: 13,
        name: "sealed_everywhere",
        sql: include_str!("migrations/pg/0013_sealed_everywhere.sql"),
    },
    Migration {
        version: 14,
        name: "model_notify",
        sql: include_str!("migrations/pg/0014_model_notify.sql"),
    },
    Migration {
        version: 15,
        name: "replicas",
        sql: include_str!("migrations/pg/0015_replicas.sql"),
    },
    Migration {
        version: 16,
        name: "bytewise_text",
        sql: include_str!("migrations/pg/0016_bytewise_text.sql"),
    },
    Migration {
        version: 17,
        name: "data_keys_by_age",
        sql: include_str!("migrations/pg/0017_data_keys_by_age.sql"),
    },
    Migration {
        version: 18,
        name: "data_keys_append",
        sql: include_str!("migrations/pg/0018_data_keys_append.sql"),
    },
];

// Both dialects must reach the same schema version.
const _: () = assert!(MIGRATIONS[MIGRATIONS.len() - 1].version == SCHEMA_VERSION);

/// The migration after which personal data is sealed on PostgreSQL: applying it also seals
/// the values written in the clear before (`vault::seal_plain_rows`).
const SEALED_EVERYWHERE: i64 = 13;

/// The advisory lock held while migrating (any constant both sides agree on: "showrunner").
const MIGRATION_LOCK: i64 = 0x73686f7772756e6e;

/// Connections kept by default: one writer and a few readers.
const DEFAULT_POOL_SIZE: u32 = 4;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;
pub(crate) type Connection = r2d2::PooledConnection<PostgresConnectionManager<NoTls>>;

/// The PostgreSQL store: a pool of connections to one database. `Send` and cheap to use
/// from one thread; open another `PgStore` (or clone none: pools are per store) for other
/// threads.
pub struct PgStore {
    /// Always `Some` but in `drop`, which may hand it to another thread.
    pool: Option<Pool>,
    /// How the pool connects, for the connections of their own that held jobs keep.
    config: postgres::Config,
    /// The URL without its password, for messages.
    location: PathBuf,
    read_only: bool,
    /// Seals and opens personal data (see `crate::vault`).
    vault: Arc<Vault>,
}

/// Runs `work` where the synchronous PostgreSQL client may block: on this thread, unless
/// this thread belongs to a tokio runtime (the client runs its own runtime, which cannot be
/// started inside another), then on a scoped thread of its own. Opening and closing a store
/// go through here, so that `serve` may open and drop stores from async code; queries
/// themselves must run off the runtime's threads (`spawn_blocking`), as any blocking call.
pub(crate) fn off_async<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the pool's connections blocks on the client's runtime: from an async
        // thread, let a thread of its own do it.
        if let Some(pool) = self.pool.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("showrunner-pg-close".into())
                .spawn(move || drop(pool));
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("location", &self.location)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// Maps driver results to [`StoreError::Postgres`] naming the database.
pub(crate) trait AtDb<T> {
    fn at(self, location: &Path) -> Result<T, StoreError>;
}

impl<T> AtDb<T> for Result<T, postgres::Error> {
    fn at(self, location: &Path) -> Result<T, StoreError> {
        self.map_err(|error| pg_error(location, error))
    }
}

pub(crate) fn pg_error(location: &Path, error: postgres::Error) -> StoreError {
    let detail = match error.as_db_error() {
        Some(db) => {
            let mut detail = format!("{} ({})", db.message(), db.code().code());
            if let Some(more) = db.detail() {
                detail.push_str(": ");
                detail.push_str(more);
            }
            detail
        }
        None => error.to_string(),
    };
    StoreError::Postgres {
        path: location.to_owned(),
        detail,
        source: Some(Box::new(error)),
    }
}

/// Whether `location` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(location: &str) -> bool {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The URL with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &url[scheme_end + 3 + at..]
        ),
        _ => url.to_owned(),
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// applies pending migrations and keeps a pool of connections. Fails at once when the
    /// URL is malformed, the server cannot be reached or refuses, or the database comes
    /// from a newer showrunner.
    ///
    /// Personal data is sealed under the master key configured in the environment (see
    /// [`Keyring::from_environment`]), as on SQLite.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with_keyring(url, Keyring::from_environment()?)
    }

    /// [`PgStore::open`] with the given master keys.
    pub fn open_with_keyring(url: &str, keyring: Keyring) -> Result<Self, StoreError> {
        Self::open_with(url, DEFAULT_POOL_SIZE, false, keyring)
    }

    /// Connects for reading only: the database must exist with the current schema, and
    /// every transaction is read-only (writes fail with [`StoreError::ReadOnly`] before
    /// reaching the server).
    pub fn open_read_only(url: &str) -> Result<Self, StoreError> {
        Self::open_read_only_with_keyring(url, Keyring::from_environment()?)
    }

    /// [`PgStore::open_read_only`] with the given master keys.
    pub fn open_read_only_with_keyring(url: &str, keyring: Keyring) -> Result<Self, StoreError> {
        Self::open_with(url, DEFAULT_POOL_SIZE, true, keyring)
    }

    /// [`PgStore::open`] with a chosen number of pooled connections (at least 1).
    pub fn open_with_pool_size(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Self::open_with(url, pool_size, false, Keyring::from_environment()?)
    }

    fn open_with(
        url: &str,
        pool_size: u32,
        read_only: bool,
        keyring: Keyring,
    ) -> Result<Self, StoreError> {
        off_async(|| Self::connect(url, pool_size, read_only, keyring))
    }

    fn connect(
        url: &str,
        pool_size: u32,
        read_only: bool,
        keyring: Keyring,
    ) -> Result<Self, StoreError> {
        let location = PathBuf::from(redact_url(url));
        if !is_postgres_url(url) {
            return Err(StoreError::BadLocation {
                location: redact_url(url),
                detail: "a PostgreSQL URL starts with postgres:// or postgresql://".into(),
            });
        }
        let mut config: postgres::Config =
            url.parse()
                .map_err(|error: postgres::Error| StoreError::BadLocation {
                    location: redact_url(url),
                    detail: format!("not a valid PostgreSQL URL: {error}"),
                })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("showrunner");
        }
        if read_only {
            config.options("-c default_transaction_read_only=on");
        }
        // One connection first: its error says exactly what is wrong (the pool's would say
        // "timed out"), and it runs the migrations.
        let mut client = config
            .connect(NoTls)
            .map_err(|error| pg_error(&location, error))?;
        let vault = Arc::new(Vault::new(keyring));
        if read_only {
            check_version(&mut client, &location)?;
        } else {
            migrate(&mut client, &location, &vault)?;
        }
        // Fails, naming the key wanted, when the data keys are wrapped under a master key
        // this process does not have.
        vault.check_master_ids(&vault::master_ids(&mut client, &location)?)?;
        drop(client);
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build_unchecked(manager);
        Ok(PgStore {
            pool: Some(pool),
            config,
            location,
            read_only,
            vault,
        })
    }

    /// The id of the master key new data keys are wrapped under.
    pub fn master_key_id(&self) -> String {
        self.vault.master_id_hex()
    }

    /// A member read through `client`, its personal fields opened.
    fn read_member(
        &self,
        client: &mut impl postgres::GenericClient,
        id: &str,
    ) -> Result<Option<Member>, StoreError> {
        let Some(member) = read::member(client, &self.location, id)? else {
            return Ok(None);
        };
        let mut keys = vault::Keys::new(client, &self.location);
        open_member(&self.vault, &mut keys, member).map(Some)
    }

    /// The database URL without its password.
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let mut client = self.connection()?;
        schema_version(&mut client, &self.location)
    }

    pub(crate) fn connection(&self) -> Result<Connection, StoreError> {
        let pool = self.pool.as_ref().expect("the pool is only taken in drop");
        pool.get().map_err(|error| StoreError::Postgres {
            path: self.location.clone(),
            detail: format!("no connection from the pool: {error}"),
            source: Some(Box::new(error)),
        })
    }

    fn ensure_writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.location.clone(),
            });
        }
        Ok(())
    }
}

fn schema_version(client: &mut postgres::Client, location: &Path) -> Result<i64, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .at(location)?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let version: i64 = client
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
            &[],
        )
        .at(location)?
        .get(0);
    Ok(version)
}

fn check_version(client: &mut postgres::Client, location: &Path) -> Result<(), StoreError> {
    let found = schema_version(client, location)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: location.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        return Err(StoreError::NeedsMigration {
            path: location.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Applies the pending migrations in one transaction (PostgreSQL's DDL is transactional),
/// under an advisory lock so that concurrent opens migrate once.
fn migrate(
    client: &mut postgres::Client,
    location: &Path,
    vault: &Vault,
) -> Result<(), StoreError> {
    let mut transaction = client.transaction().at(location)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .at(location)?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (\
                 version bigint PRIMARY KEY, \
                 name text NOT NULL, \
                 applied_at bigint NOT NULL)",
        )
        .at(location)?;
    let found: i64 = transaction
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
            &[],
        )
        .at(location)?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: location.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        transaction.batch_execute(migration.sql).at(location)?;
        if migration.version == SEALED_EVERYWHERE {
            vault::seal_plain_rows(&mut transaction, location, vault)?;
        }
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&migration.version, &migration.name, &write::now_millis()],
            )
            .at(location)?;
        tracing::info!(
            database = %location.display(),
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
    transaction.commit().at(location)?;
    Ok(())
}

impl Store for PgStore {
    fn known_titles(&self) -> Result<Vec<KnownTitle>, StoreError> {
        read::known_titles(&mut *self.connection()?, &self.location)
    }

    fn known_members(&self) -> Result<Vec<String>, StoreError> {
        read::known_members(&mut *self.connection()?, &self.location)
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        self.ensure_writable()?;
        write::write_batch(&mut *self.connection()?, &self.location, &self.vault, batch)
    }

    fn refresh_derived(&mut self) -> Result<DerivedSummary, StoreError> {
        self.ensure_writable()?;
        write::refresh_derived(&mut *self.connection()?, &self.location)
    }

    fn record_import(&mut self, record: &ImportLog) -> Result<(), StoreError> {
        self.ensure_writable()?;
        write::record_import(&mut *self.connection()?, &self.location, record)
    }

    fn imports(&self) -> Result<Vec<ImportRecord>, StoreError> {
        read::imports(&mut *self.connection()?, &self.location)
    }

    fn quarantine(&self, filter: &QuarantineFilter) -> Result<Vec<QuarantineRow>, StoreError> {
        let mut client = self.connection()?;
        let rows = read::quarantine(&mut client, &self.location, filter)?;
        let mut keys = vault::Keys::new(&mut *client, &self.location);
        rows.into_iter()
            .map(|row| open_quarantine_row(&self.vault, &mut keys, row))
            .collect()
    }

    fn quarantine_counts(&self) -> Result<Vec<(ProblemKind, u64)>, StoreError> {
        read::quarantine_counts(&mut *self.connection()?, &self.location)
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        read::counts(&mut *self.connection()?, &self.location)
    }

    fn views(&self, filter: &ViewFilter) -> Result<Vec<View>, StoreError> {
        read::views(&mut *self.connection()?, &self.location, filter)
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut client = self.connection()?;
        let mut events = read::events(&mut client, &self.location, filter)?;
        open_logins(
            &self.vault,
            &mut vault::Keys::new(&mut *client, &self.location),
            &mut events,
        )?;
        Ok(events)
    }

    fn title(&self, id: &str) -> Result<Option<Title>, StoreError> {
        read::title(&mut *self.connection()?, &self.location, id)
    }

    fn member(&self, id: &str) -> Result<Option<Member>, StoreError> {
        self.read_member(&mut *self.connection()?, id)
    }

    fn member_without_personal_data(&self, id: &str) -> Result<Option<Member>, StoreError> {
        Ok(read::member(&mut *self.connection()?, &self.location, id)?
            .map(crate::without_personal_data))
    }

    fn viewing_facts(
        &self,
        filter: &FactsFilter,
    ) -> Result<showrunner_model::ViewingFacts, StoreError> {
        facts::viewing_facts(&mut *self.connection()?, &self.location, filter)
    }

    /// Not offered: a PostgreSQL database is backed up with the server's own tools.
    fn backup_to(&self, _dest: &Path) -> Result<(), StoreError> {
        Err(StoreError::Unsupported {
            path: self.location.clone(),
            operation: "backup",
            backend: "PostgreSQL",
            hint: "use pg_dump (or the server's continuous archiving) instead",
        })
    }
}
