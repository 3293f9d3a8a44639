//! Test support shared by the crates' tests (not part of the API): a throwaway PostgreSQL
//! database per test, created on the server named by `SHOWRUNNER_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped when the guard goes out of
//! scope, also when the test panics.
//!
//! When the server cannot be reached, [`TestDatabase::create`] prints a note and returns
//! `None` so that PostgreSQL cases are skipped; with `CI=true` it panics instead, so CI never
//! passes without running them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::NoTls;

pub const PG_URL_ENV: &str = "SHOWRUNNER_TEST_PG_URL";
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server's URL for tests.
pub fn admin_url() -> String {
    std::env::var(PG_URL_ENV).unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// `url` naming database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    let mut result = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

/// A database that exists for as long as this guard.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a new, empty, uniquely named database. `None` when PostgreSQL is not
    /// reachable and `CI` is not `true` (a note says so on stderr).
    ///
    /// May be called from async tests (the work runs off the runtime's thread).
    pub fn create() -> Option<TestDatabase> {
        crate::pg::off_async(TestDatabase::create_blocking)
    }

    fn create_blocking() -> Option<TestDatabase> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let admin_url = admin_url();
        let mut client = match connect(&admin_url) {
            Ok(client) => client,
            Err(error) => {
                let message = format!(
                    "PostgreSQL at {} is not reachable ({error}); set {PG_URL_ENV} to run the \
                     PostgreSQL cases",
                    crate::redact_url(&admin_url)
                );
                if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                    panic!("{message} (CI=true: PostgreSQL is required)");
                }
                eprintln!("note: skipping a PostgreSQL case: {message}");
                return None;
            }
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let name = format!(
            "showrunner_test_{}_{}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("creating test database {name}: {error}"));
        let url = with_database(&admin_url, &name);
        Some(TestDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

fn connect(url: &str) -> Result<postgres::Client, postgres::Error> {
    let mut config: postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    config.connect(NoTls)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        crate::pg::off_async(|| self.drop_database());
    }
}

impl TestDatabase {
    fn drop_database(&self) {
        match connect(&self.admin_url) {
            Ok(mut client) => {
                // FORCE: a pool still holding connections (a test that panicked) does not
                // keep the database alive.
                if let Err(error) = client.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )) {
                    eprintln!("note: could not drop test database {}: {error}", self.name);
                }
            }
            Err(error) => eprintln!("note: could not drop test database {}: {error}", self.name),
        }
    }
}
