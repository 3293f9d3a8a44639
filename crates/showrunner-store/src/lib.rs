//! The store: where showrunner keeps the catalog, members, every accepted event, the
//! sessionised views derived from plays, the quarantine of rejected rows and the import log.
//!
//! Callers talk to the [`Store`] trait and never see SQL. [`SqliteStore`] is the embedded
//! backend (one file, WAL mode, every committed batch fsync'd); [`PgStore`] is PostgreSQL
//! (a shared server, a pool of connections, bulk writes as arrays). [`open`] picks one by
//! the location's form (`postgres://…` or a path). Every SQL dialect detail stays inside
//! `sqlite.rs`, `pg.rs` and their submodules and migrations.
//!
//! Invariants the backends keep:
//! - a batch is written in one transaction and is durable when [`Store::write_batch`]
//!   returns: a crash leaves all of it or none of it;
//! - every event is stored exactly once, however often it is imported (see [`event_key`]);
//! - views are maxima and minima over a session's plays, so they do not depend on the order
//!   in which heartbeats arrive or on duplicates;
//! - re-quarantining the same row of the same source adds nothing.

mod access;
pub mod alerting;
mod audit;
mod catalog;
mod error;
mod experiment;
mod finding;
mod jobs;
mod key;
mod open;
mod pg;
mod registry;
mod retention;
pub mod series;
mod server;
mod sqlite;
#[doc(hidden)]
pub mod testing;
pub mod vault;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use showrunner_model::{
    Batch, BatchOutcome, Event, EventKind, Member, Problem, ProblemKind, Quarantined, Timestamp,
    Title, TitleKind,
};

pub use access::{AccountChange, AccountRecord, AccountStore, SessionRecord};
pub use alerting::{
    AlertHistoryEntry, AlertHistoryRecord, AlertStore, NotificationEntry, NotificationRecord,
    SilenceRecord,
};
pub use audit::{AuditEntry, AuditRecord, AuditStore, AuditVerification, audit_hash};
pub use catalog::{CatalogStore, Erasure, RowTakeRate, TakeRateFilter, TitleDeletion};
pub use error::StoreError;
pub use experiment::{
    ArmFigures, ExperimentArm, ExperimentError, ExperimentRecord, ExperimentStatus,
    ExperimentStore, NewExperiment,
};
pub use finding::{
    FindingFilter, FindingRecord, FindingStore, MAX_FINDINGS_PAGE, NewFinding, Recorded,
};
pub use jobs::{JobLock, JobOutcome, JobRun, JobStore};
#[doc(hidden)]
pub use key::event_key;
pub use open::{Backend, StoreLocation, open, open_path, open_path_read_only, open_read_only};
pub use pg::{ModelWatch, PgStore, redact_url};
pub use registry::{
    LiveChange, ModelRecord, ModelRegistration, ModelStatus, RegistryError, RegistryStore,
    ShadowSetting,
};
pub use retention::{DailyRollup, PURGED_KINDS, RetentionStore, RetentionSummary};
pub use series::{
    CompactionSummary, LabelMatcher, MatchOp, RetentionPolicy, SelectorError, SeriesData,
    SeriesInfo, SeriesPoint, SeriesQuery, SeriesSample, SeriesSelector, SeriesStore, series_key,
};
pub use server::{
    ApiKeyRecord, DailyViews, Durability, PublishedModel, PublishedModelInfo, SegmentViews,
    ServerStore,
};
pub use sqlite::{SCHEMA_VERSION, SqliteStore};
pub use vault::{Keyring, MasterKey, RewrapSummary, VaultError};

/// A title as the importer's validation needs it: does it exist, can it be played, how long
/// does it run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownTitle {
    pub id: String,
    pub kind: TitleKind,
    pub duration_s: Option<u32>,
}

/// What [`Store::refresh_derived`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedSummary {
    pub views: u64,
    /// Views flagged as non-human viewing (see [`Store::refresh_derived`] for the rule).
    pub non_human_views: u64,
}

/// One run of the importer, as recorded in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportLog {
    /// The inputs as the user named them.
    pub sources: Vec<String>,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Whatever the importer counted (lines read, accepted, duplicates, quarantined by reason),
    /// kept as JSON so the importer can add counts without a migration.
    pub counts: serde_json::Value,
    /// The import was stopped (Ctrl-C, a fatal error) before reading all its inputs.
    pub interrupted: bool,
}

/// A recorded import with its id (increasing with time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub id: i64,
    #[serde(flatten)]
    pub log: ImportLog,
}

/// Which quarantined rows to read, in the order they were first quarantined. The default
/// reads all of them; export everything by paging with `limit` and `offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineFilter {
    /// Rows whose source contains this text (matched literally).
    pub source_contains: Option<String>,
    pub reason: Option<ProblemKind>,
    pub limit: Option<u64>,
    pub offset: u64,
}

/// A quarantined row as stored: the [`Quarantined`] fields plus its id and when it was first
/// quarantined (re-importing the same row does not change it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRow {
    pub id: i64,
    pub source: String,
    pub line: u64,
    pub raw: String,
    pub problem: Problem,
    pub first_seen: Timestamp,
}

impl QuarantineRow {
    /// The problem as one line: `reason (field): detail`.
    pub fn reason_text(&self) -> String {
        self.problem.to_string()
    }

    pub fn into_quarantined(self) -> Quarantined {
        Quarantined {
            source: self.source,
            line: self.line,
            raw: self.raw,
            problem: self.problem,
        }
    }
}

/// How much the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    pub titles: u64,
    pub members: u64,
    /// Stored events of every kind (kinds with none are present with 0).
    pub events: BTreeMap<EventKind, u64>,
    pub views: u64,
    pub non_human_views: u64,
    pub quarantined: u64,
}

impl StoreCounts {
    pub fn events_total(&self) -> u64 {
        self.events.values().sum()
    }

    pub fn events_of(&self, kind: EventKind) -> u64 {
        self.events.get(&kind).copied().unwrap_or(0)
    }
}

/// One playback session, derived from its play events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub session_id: String,
    /// Member, profile, title, device and country as the session's earliest event gave them.
    pub member_id: String,
    pub profile_id: Option<String>,
    pub title_id: String,
    pub device: Option<String>,
    pub country: Option<String>,
    /// The earliest and latest event of the session.
    pub started_at: Timestamp,
    pub last_at: Timestamp,
    /// The largest cumulative `watched_s` reported in the session.
    pub watched_s: u32,
    pub max_position_s: u32,
    /// How many distinct play events the session has.
    pub events: u64,
    /// A `stop` event was seen.
    pub stopped: bool,
    /// `max_position_s / duration`, at most 1; absent when the title's runtime is unknown.
    pub completion: Option<f64>,
    /// Flagged by [`Store::refresh_derived`] as not watched by a person.
    pub non_human: bool,
}

/// Which views to read. The default reads all of them, in order of start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewFilter {
    pub member_id: Option<String>,
    pub session_id: Option<String>,
    pub title_id: Option<String>,
    pub non_human: Option<bool>,
    pub limit: Option<u64>,
}

/// Which events of one kind to read back, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    pub kind: EventKind,
    /// Events at or after this time.
    pub from: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
    pub limit: Option<u64>,
}

impl EventFilter {
    pub fn all(kind: EventKind) -> Self {
        EventFilter {
            kind,
            from: None,
            until: None,
            limit: None,
        }
    }
}

/// Which viewing facts to read for content analytics (see [`Store::viewing_facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsFilter {
    /// Views starting, and ratings and impressions made, in `[from, to)`.
    pub from: Timestamp,
    pub to: Timestamp,
    /// Views played in this country (ISO code); ratings and impressions of members whose
    /// home country it is.
    pub country: Option<String>,
    /// One show: this title's series (or the title itself) and all its parts; only the
    /// catalog rows, members, views, ratings and impressions of that show are read.
    pub title_id: Option<String>,
}

/// The store's operations. Backends hide their SQL; callers see only model types.
pub trait Store: Send {
    /// Titles already stored, for the importer's validation: id, kind, runtime.
    fn known_titles(&self) -> Result<Vec<KnownTitle>, StoreError>;

    /// Ids of the members already stored.
    fn known_members(&self) -> Result<Vec<String>, StoreError>;

    /// Writes one batch in one transaction and returns only once it is durable.
    ///
    /// Titles and members are upserted (the last written wins); events are appended unless
    /// already stored (counted in `events_duplicate`); new plays update their sessions'
    /// views; quarantined rows are added unless the same row of the same source is already
    /// there.
    fn write_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, StoreError>;

    /// Recomputes what is derived across batches, after an import:
    /// - every view's completion, from its title's current runtime;
    /// - non-human viewing: every view of a (member, device, UTC day of the view's start)
    ///   whose views add up to more than 20 hours watched is flagged, and only those. Nobody
    ///   watches 20 hours a day on one device; bots, stuck players and test rigs do.
    fn refresh_derived(&mut self) -> Result<DerivedSummary, StoreError>;

    /// Records that an import ran.
    fn record_import(&mut self, record: &ImportLog) -> Result<(), StoreError>;

    /// Recorded imports, oldest first.
    fn imports(&self) -> Result<Vec<ImportRecord>, StoreError>;

    /// Quarantined rows, in the order they were first quarantined.
    fn quarantine(&self, filter: &QuarantineFilter) -> Result<Vec<QuarantineRow>, StoreError>;

    /// Quarantined rows by reason (reasons with none are left out), in [`ProblemKind`] order.
    fn quarantine_counts(&self) -> Result<Vec<(ProblemKind, u64)>, StoreError>;

    fn counts(&self) -> Result<StoreCounts, StoreError>;

    fn views(&self, filter: &ViewFilter) -> Result<Vec<View>, StoreError>;

    /// Events of one kind read back as the model's events.
    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;

    fn title(&self, id: &str) -> Result<Option<Title>, StoreError>;

    fn member(&self, id: &str) -> Result<Option<Member>, StoreError>;

    /// A member without their personal fields (`email`, `name` and the profiles' names are
    /// `None`): what serving needs of a member (country, plan, profiles and their
    /// maturity), without unsealing anything.
    fn member_without_personal_data(&self, id: &str) -> Result<Option<Member>, StoreError> {
        Ok(self.member(id)?.map(without_personal_data))
    }

    /// The columnar snapshot content analytics reads: the catalog, the members, the views
    /// (non-human viewing left out), ratings and impressions selected by `filter`.
    fn viewing_facts(
        &self,
        filter: &FactsFilter,
    ) -> Result<showrunner_model::ViewingFacts, StoreError>;

    /// Writes a consistent copy of the live database to `dest` (a new file; an existing one
    /// is never overwritten). Other connections may keep writing meanwhile: the copy holds
    /// what was committed when the backup started.
    fn backup_to(&self, dest: &Path) -> Result<(), StoreError>;
}

/// Personal data at rest (see [`vault`]): every backend stores member emails and names,
/// profile names, login accounts and IP addresses, and quarantined raw rows only as
/// ciphertext under per-subject data keys wrapped by the master key.
pub trait VaultStore: Store {
    /// The member whose email is `email` (compared trimmed and case-insensitively), found
    /// through the keyed blind index.
    fn member_by_email(&self, email: &str) -> Result<Option<Member>, StoreError>;

    /// Destroys the data keys of a member (and of their email, the account their logins
    /// tried) and clears their personal fields: every ciphertext sealed under those keys in
    /// this store can no longer be read. (A backup holds its own copy of the key table, so
    /// backup retention bounds how long erased data survives there.) Returns how many keys
    /// were destroyed.
    fn erase_personal_data(&mut self, member_id: &str) -> Result<u64, StoreError>;

    /// Re-wraps every data key not under the current master key, in short transactions
    /// (other writers carry on between them), reporting `(done, total)` as it goes.
    fn rewrap_data_keys(
        &mut self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RewrapSummary, StoreError>;
}

/// `member` with every personal field (email, name, the profiles' names) left out.
pub(crate) fn without_personal_data(member: Member) -> Member {
    Member {
        email: None,
        name: None,
        profiles: member
            .profiles
            .into_iter()
            .map(|profile| showrunner_model::Profile {
                name: None,
                ..profile
            })
            .collect(),
        ..member
    }
}
