//! Builders shared by the store's tests: events of every kind, titles, members and
//! quarantined rows, with ids derived from content as the importer derives them.

#![allow(dead_code)] // each test file uses its own subset

use showrunner_model::event::Thumbs;
use showrunner_model::{
    Batch, Event, EventBody, Impression, Login, LoginOutcome, MaturityLevel, Member, Personal,
    Play, PlayAction, Problem, ProblemKind, Profile, Qoe, Quarantined, Rating, RatingValue, Search,
    Timestamp, Title, TitleKind,
};

/// 2026-10-01T00:00:00Z plus `seconds`.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_millis(1_790_812_800_000 + seconds * 1000)
}

pub struct PlaySpec<'a> {
    pub session: &'a str,
    pub member: &'a str,
    pub title: &'a str,
    pub device: &'a str,
}

impl PlaySpec<'_> {
    pub fn event(
        &self,
        seconds: i64,
        action: PlayAction,
        position_s: u32,
        watched_s: u32,
    ) -> Event {
        Event::with_derived_id(
            at(seconds),
            EventBody::Play(Play {
                member_id: self.member.to_owned(),
                profile_id: Some(format!("{}-p1", self.member)),
                title_id: self.title.to_owned(),
                session_id: self.session.to_owned(),
                action,
                position_s,
                watched_s,
                device: Some(self.device.to_owned()),
                country: Some("US".to_owned()),
                request_id: None,
            }),
        )
    }

    /// A whole session: a start at `start`, heartbeats every minute, a stop; the playhead
    /// starts at `first_position` and moves with the watching.
    pub fn session(&self, start: i64, minutes: u32, first_position: u32) -> Vec<Event> {
        let mut events = vec![self.event(start, PlayAction::Start, first_position, 0)];
        for minute in 1..minutes {
            events.push(self.event(
                start + i64::from(minute) * 60,
                PlayAction::Heartbeat,
                first_position + minute * 60,
                minute * 60,
            ));
        }
        events.push(self.event(
            start + i64::from(minutes) * 60,
            PlayAction::Stop,
            first_position + minutes * 60,
            minutes * 60,
        ));
        events
    }
}

pub fn movie(id: &str, duration_s: Option<u32>) -> Title {
    Title {
        duration_s,
        ..Title::new(id, TitleKind::Movie, format!("Movie {id}"))
    }
}

pub fn full_title() -> Title {
    Title {
        id: "t-full".into(),
        kind: TitleKind::Episode,
        name: "The Pilot".into(),
        series_id: Some("s-series".into()),
        season_number: Some(1),
        episode_number: Some(3),
        genres: vec!["drama".into(), "crime".into()],
        release_year: Some(2019),
        duration_s: Some(3_120),
        maturity_rating: Some("TV-MA".into()),
        cast: vec!["Ana Ruiz".into(), "Bo Chen".into()],
        directors: vec!["Cy Dunn".into()],
        countries: vec!["US".into(), "MX".into()],
        availability: vec![showrunner_model::Availability {
            country: "US".into(),
            from: at(-86_400),
            until: Some(at(86_400 * 30)),
        }],
        added_at: Some(at(-3_600)),
        description: Some("A detective \"returns\" — with unicode ✓.".into()),
    }
}

pub fn full_member(id: &str) -> Member {
    Member {
        id: id.into(),
        email: Some(Personal::new(format!("{id}@example.com"))),
        name: Some(Personal::new("Dana Example".into())),
        country: Some("GB".into()),
        signup_at: Some(at(-86_400 * 400)),
        plan: Some("premium".into()),
        profiles: vec![
            Profile {
                id: format!("{id}-p1"),
                name: Some(Personal::new("Dana".into())),
                maturity: MaturityLevel::Adults,
            },
            Profile {
                id: format!("{id}-p2"),
                name: None,
                maturity: MaturityLevel::Kids,
            },
        ],
    }
}

/// Two events of every kind: one with every optional field set, one with none.
pub fn events_of_every_kind() -> Vec<Event> {
    let bodies = vec![
        EventBody::Play(Play {
            member_id: "m1".into(),
            profile_id: Some("m1-p1".into()),
            title_id: "t1".into(),
            session_id: "s1".into(),
            action: PlayAction::Heartbeat,
            position_s: 125,
            watched_s: 120,
            device: Some("tv".into()),
            country: Some("US".into()),
            request_id: Some("req-9".into()),
        }),
        EventBody::Play(Play {
            member_id: "m1".into(),
            profile_id: None,
            title_id: "t1".into(),
            session_id: "s2".into(),
            action: PlayAction::Start,
            position_s: 0,
            watched_s: 0,
            device: None,
            country: None,
            request_id: None,
        }),
        EventBody::Rating(Rating {
            member_id: "m1".into(),
            profile_id: Some("m1-p1".into()),
            title_id: "t1".into(),
            value: RatingValue::Stars(4.5),
        }),
        EventBody::Rating(Rating {
            member_id: "m2".into(),
            profile_id: None,
            title_id: "t1".into(),
            value: RatingValue::Thumbs(Thumbs::Down),
        }),
        EventBody::Impression(Impression {
            member_id: "m1".into(),
            profile_id: Some("m1-p1".into()),
            title_id: "t1".into(),
            row: "because_you_watched:t9".into(),
            rank: 3,
            request_id: "req-9".into(),
            device: Some("web".into()),
        }),
        EventBody::Impression(Impression {
            member_id: "m1".into(),
            profile_id: None,
            title_id: "t2".into(),
            row: "top_picks".into(),
            rank: 1,
            request_id: "req-9".into(),
            device: None,
        }),
        EventBody::Login(Login {
            account: "someone@example.com".into(),
            outcome: LoginOutcome::MfaFailed,
            ip: "203.0.113.7".into(),
            country: Some("FR".into()),
            city: Some("Lyon".into()),
            latitude: Some(45.764_043),
            longitude: Some(4.835_659),
            asn: Some(3215),
            device: Some("ios".into()),
            user_agent: Some("Player/1.0 (iPhone)".into()),
        }),
        EventBody::Login(Login {
            account: "x".into(),
            outcome: LoginOutcome::Success,
            ip: "2001:db8::1".into(),
            country: None,
            city: None,
            latitude: None,
            longitude: None,
            asn: None,
            device: None,
            user_agent: None,
        }),
        EventBody::Qoe(Qoe {
            session_id: "s1".into(),
            member_id: Some("m1".into()),
            title_id: Some("t1".into()),
            startup_ms: Some(850),
            exit_before_start: false,
            rebuffer_count: 2,
            rebuffer_ms: 4_000_000_000,
            watch_s: 1_800,
            avg_bitrate_kbps: 5_800,
            bitrate_switches: 4,
            error_code: Some("E42".into()),
            cdn: "cdn-a".into(),
            isp: Some("ISP One".into()),
            asn: Some(64_500),
            country: "US".into(),
            device: "tv".into(),
            player: "tv/3.1.0".into(),
        }),
        EventBody::Qoe(Qoe {
            session_id: "s3".into(),
            member_id: None,
            title_id: None,
            startup_ms: None,
            exit_before_start: true,
            rebuffer_count: 0,
            rebuffer_ms: 0,
            watch_s: 0,
            avg_bitrate_kbps: 0,
            bitrate_switches: 0,
            error_code: None,
            cdn: "cdn-b".into(),
            isp: None,
            asn: None,
            country: "DE".into(),
            device: "web".into(),
            player: "web/5.12.0".into(),
        }),
        EventBody::Search(Search {
            member_id: "m1".into(),
            profile_id: Some("m1-p1".into()),
            query: "space opera".into(),
            clicked_title_id: Some("t2".into()),
            request_id: Some("req-10".into()),
        }),
        EventBody::Search(Search {
            member_id: "m2".into(),
            profile_id: None,
            query: "ß ünïcødé".into(),
            clicked_title_id: None,
            request_id: None,
        }),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| Event::with_derived_id(at(index as i64 * 7), body))
        .collect()
}

pub fn quarantined(source: &str, line: u64, raw: &str, kind: ProblemKind) -> Quarantined {
    Quarantined::new(
        source,
        line,
        raw.as_bytes(),
        Problem::on_field(kind, "ts", format!("bad value on line {line}")),
    )
}

pub fn events_batch(events: Vec<Event>) -> Batch {
    Batch {
        events,
        ..Batch::default()
    }
}

/// The backends every store test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store of one backend, with the PostgreSQL database it owns (dropped after the store).
pub struct TestStore {
    store: Box<dyn showrunner_store::ServerStore>,
    _database: Option<showrunner_store::testing::TestDatabase>,
}

impl std::ops::Deref for TestStore {
    type Target = dyn showrunner_store::ServerStore;
    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

impl std::ops::DerefMut for TestStore {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.store.as_mut()
    }
}

impl Backend {
    /// A new, empty store: SQLite in memory, or a new PostgreSQL database.
    pub fn store(self) -> TestStore {
        match self {
            Backend::Sqlite => TestStore {
                store: Box::new(
                    showrunner_store::SqliteStore::open_in_memory().expect("in-memory store"),
                ),
                _database: None,
            },
            Backend::Postgres => {
                let database = showrunner_store::testing::TestDatabase::create()
                    .expect("PostgreSQL was reachable when the test started");
                let store = showrunner_store::PgStore::open(database.url())
                    .unwrap_or_else(|error| panic!("opening {}: {error}", database.name()));
                TestStore {
                    store: Box::new(store),
                    _database: Some(database),
                }
            }
        }
    }

    /// Whether this backend's cases can run here (PostgreSQL may be absent outside CI).
    pub fn available(self) -> bool {
        match self {
            Backend::Sqlite => true,
            Backend::Postgres => {
                static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
                *AVAILABLE
                    .get_or_init(|| showrunner_store::testing::TestDatabase::create().is_some())
            }
        }
    }
}

/// Runs each named `fn(Backend)` as a test on SQLite and as one on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::common::Backend::Sqlite)
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if $crate::common::Backend::Postgres.available() {
                        super::$name($crate::common::Backend::Postgres)
                    }
                }
            )*
        }
    };
}

/// A store of one backend seen as an [`showrunner_store::ExperimentStore`], with the
/// PostgreSQL database it owns (dropped after the store).
pub struct ExperimentTestStore {
    pub store: Box<dyn showrunner_store::ExperimentStore>,
    _database: Option<showrunner_store::testing::TestDatabase>,
}

impl Backend {
    pub fn experiment_store(self) -> ExperimentTestStore {
        match self {
            Backend::Sqlite => ExperimentTestStore {
                store: Box::new(
                    showrunner_store::SqliteStore::open_in_memory().expect("in-memory store"),
                ),
                _database: None,
            },
            Backend::Postgres => {
                let database = showrunner_store::testing::TestDatabase::create()
                    .expect("PostgreSQL was reachable when the test started");
                let store = showrunner_store::PgStore::open(database.url())
                    .unwrap_or_else(|error| panic!("opening {}: {error}", database.name()));
                ExperimentTestStore {
                    store: Box::new(store),
                    _database: Some(database),
                }
            }
        }
    }
}

/// Where a test's stores live: a file in a temporary directory for SQLite, a new database
/// for PostgreSQL. Any number of stores can be opened on it (two processes sharing a
/// database, or a reopen); the directory or database goes when this does.
pub struct TestLocation {
    backend: Backend,
    location: String,
    _directory: Option<tempfile::TempDir>,
    _database: Option<showrunner_store::testing::TestDatabase>,
}

impl Backend {
    pub fn location(self) -> TestLocation {
        match self {
            Backend::Sqlite => {
                let directory = tempfile::tempdir().expect("a temporary directory");
                let location = directory
                    .path()
                    .join("store.db")
                    .to_str()
                    .expect("a UTF-8 temporary path")
                    .to_owned();
                TestLocation {
                    backend: self,
                    location,
                    _directory: Some(directory),
                    _database: None,
                }
            }
            Backend::Postgres => {
                let database = showrunner_store::testing::TestDatabase::create()
                    .expect("PostgreSQL was reachable when the test started");
                TestLocation {
                    backend: self,
                    location: database.url().to_owned(),
                    _directory: None,
                    _database: Some(database),
                }
            }
        }
    }
}

impl TestLocation {
    /// Opens a store here, seen through `T` (each closure boxes its backend's store as `T`).
    pub fn open_as<T: ?Sized>(
        &self,
        sqlite: impl FnOnce(showrunner_store::SqliteStore) -> Box<T>,
        postgres: impl FnOnce(showrunner_store::PgStore) -> Box<T>,
    ) -> Box<T> {
        match self.backend {
            Backend::Sqlite => sqlite(
                showrunner_store::SqliteStore::open(std::path::Path::new(&self.location))
                    .unwrap_or_else(|error| panic!("opening {}: {error}", self.location)),
            ),
            Backend::Postgres => postgres(
                showrunner_store::PgStore::open(&self.location)
                    .unwrap_or_else(|error| panic!("opening {}: {error}", self.location)),
            ),
        }
    }

    /// Opens a store here for reading only, seen through `T`.
    pub fn open_read_only_as<T: ?Sized>(
        &self,
        sqlite: impl FnOnce(showrunner_store::SqliteStore) -> Box<T>,
        postgres: impl FnOnce(showrunner_store::PgStore) -> Box<T>,
    ) -> Box<T> {
        match self.backend {
            Backend::Sqlite => sqlite(
                showrunner_store::SqliteStore::open_read_only(std::path::Path::new(&self.location))
                    .unwrap_or_else(|error| panic!("opening {}: {error}", self.location)),
            ),
            Backend::Postgres => postgres(
                showrunner_store::PgStore::open_read_only(&self.location)
                    .unwrap_or_else(|error| panic!("opening {}: {error}", self.location)),
            ),
        }
    }
}

impl TestLocation {
    pub fn registry(&self) -> Box<dyn showrunner_store::RegistryStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn showrunner_store::RegistryStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::RegistryStore>,
        )
    }

    pub fn jobs(&self) -> Box<dyn showrunner_store::JobStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn showrunner_store::JobStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::JobStore>,
        )
    }

    pub fn retention(&self) -> Box<dyn showrunner_store::RetentionStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn showrunner_store::RetentionStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::RetentionStore>,
        )
    }

    pub fn series(&self) -> Box<dyn showrunner_store::SeriesStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn showrunner_store::SeriesStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::SeriesStore>,
        )
    }

    pub fn alerts(&self) -> Box<dyn showrunner_store::AlertStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn showrunner_store::AlertStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::AlertStore>,
        )
    }

    pub fn alerts_read_only(&self) -> Box<dyn showrunner_store::AlertStore> {
        self.open_read_only_as(
            |s| Box::new(s) as Box<dyn showrunner_store::AlertStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::AlertStore>,
        )
    }

    pub fn accounts(&self) -> Box<dyn showrunner_store::AccountStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn showrunner_store::AccountStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::AccountStore>,
        )
    }

    pub fn audit(&self) -> Box<dyn showrunner_store::AuditStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn showrunner_store::AuditStore>,
            |s| Box::new(s) as Box<dyn showrunner_store::AuditStore>,
        )
    }

    /// Runs SQL straight on the database, behind the store's back (as someone tampering
    /// with it would): `sqlite` on a SQLite file, `postgres` on a PostgreSQL database.
    pub fn raw_sql(&self, sqlite: &str, postgres: &str) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => rusqlite::Connection::open(&self.location)
                .and_then(|connection| connection.execute_batch(sqlite))
                .map_err(|error| error.to_string()),
            Backend::Postgres => postgres::Client::connect(&self.location, postgres::NoTls)
                .and_then(|mut client| client.batch_execute(postgres))
                .map_err(|error| error.to_string()),
        }
    }

    pub fn catalog(&self) -> Box<dyn CatalogTestStore> {
        self.open_as(
            |s| Box::new(s) as Box<dyn CatalogTestStore>,
            |s| Box::new(s) as Box<dyn CatalogTestStore>,
        )
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file's path or the PostgreSQL database's URL.
    pub fn location(&self) -> &str {
        &self.location
    }
}

/// The catalog tests' view of a store: catalog management and the experiments that
/// erasure also clears.
pub trait CatalogTestStore:
    showrunner_store::CatalogStore + showrunner_store::ExperimentStore
{
}

impl<S> CatalogTestStore for S where
    S: showrunner_store::CatalogStore + showrunner_store::ExperimentStore
{
}

/// Every row of every table (index content is the same data) with a text or blob value
/// containing `needle` (in any case): `(table, column)` pairs.
pub fn mentions(location: &TestLocation, needle: &str) -> Vec<(String, String)> {
    match location.backend() {
        Backend::Sqlite => sqlite_mentions(std::path::Path::new(location.location()), needle),
        Backend::Postgres => postgres_mentions(location.location(), needle),
    }
}

fn postgres_mentions(url: &str, needle: &str) -> Vec<(String, String)> {
    let mut client = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connects");
    let columns: Vec<(String, String, String)> = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type IN ('text', 'bytea') \
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let tables: std::collections::BTreeSet<&str> =
        columns.iter().map(|(table, _, _)| table.as_str()).collect();
    assert!(tables.len() >= 12, "found only {tables:?}");
    let mut found = Vec::new();
    for (table, column, data_type) in &columns {
        let text = if data_type == "bytea" {
            // Printable ASCII as it is, other bytes (NULs among them) as escapes.
            format!("encode({column}, 'escape')")
        } else {
            column.clone()
        };
        let hits: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM \"{table}\" WHERE strpos(lower({text}), lower($1)) > 0"
                ),
                &[&needle],
            )
            .unwrap()
            .get(0);
        for _ in 0..hits {
            found.push((table.clone(), column.clone()));
        }
    }
    found
}

fn sqlite_mentions(path: &std::path::Path, needle: &str) -> Vec<(String, String)> {
    let connection = rusqlite::Connection::open(path).expect("opens");
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.len() >= 12, "found only {tables:?}");
    let needle_lower = needle.to_lowercase();
    let mut found = Vec::new();
    for table in tables {
        let mut statement = connection
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .unwrap();
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut rows = statement.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (index, column) in columns.iter().enumerate() {
                let hit = match row.get_ref(index).unwrap() {
                    rusqlite::types::ValueRef::Text(bytes)
                    | rusqlite::types::ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes)
                        .to_lowercase()
                        .contains(&needle_lower),
                    _ => false,
                };
                if hit {
                    found.push((table.clone(), column.clone()));
                }
            }
        }
    }
    found
}
