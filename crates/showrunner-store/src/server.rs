//! What the HTTP service needs from a store beyond the importer's [`Store`]: API keys (kept
//! as hashes), published models (versioned artifacts every server replica polls for), the
//! whole catalog, and the per-member and recent-viewing reads the home page is built from.
//!
//! A separate trait so that the importer's contract stays small; every backend implements
//! both.

use serde::{Deserialize, Serialize};
use showrunner_model::{Batch, BatchOutcome, Timestamp, Title};

use crate::{Store, StoreError};

/// What is left to do before a group written by [`ServerStore::write_batches_then_sync`]
/// is durable. Waiting on a later group's `Durability` from the same store also makes every
/// earlier group durable (one fsync covers them all), so a caller with several pending may
/// wait on the last one only.
#[derive(Debug)]
#[must_use = "a group is not durable until its Durability is waited on"]
pub struct Durability {
    /// The file to fsync (SQLite's WAL); `None` when the commit was durable already.
    file: Option<std::path::PathBuf>,
}

impl Durability {
    /// Nothing left to do.
    pub fn done() -> Self {
        Durability { file: None }
    }

    /// Durable once `file` is synced to the disk.
    pub(crate) fn sync_file(file: std::path::PathBuf) -> Self {
        Durability { file: Some(file) }
    }

    /// Blocks until the group (and every group committed before it) is durable.
    pub fn wait(self) -> Result<(), StoreError> {
        let Some(file) = self.file else {
            return Ok(());
        };
        let io = |source| StoreError::Io {
            path: file.clone(),
            source,
        };
        // fsync on a descriptor of our own: it writes back every dirty page of the file,
        // whichever descriptor wrote it. Opened for writing, as some systems require.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .map_err(io)?
            .sync_data()
            .map_err(io)
    }
}

/// A stored API key: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub key_hash: [u8; 32],
    /// `ingest`, `read` or `admin` (the server interprets it).
    pub scope: String,
    pub created_at: Timestamp,
    pub revoked: bool,
}

/// A published model's identity, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedModelInfo {
    /// Increases with every publish; the live one is served.
    pub version: i64,
    pub published_at: Timestamp,
}

/// A published model: the manifest text and the blob as `Model::to_bytes` wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedModel {
    pub info: PublishedModelInfo,
    pub manifest: String,
    pub blob: Vec<u8>,
}

/// Views of one title in one country on one UTC day (Trending Now's input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyViews {
    pub title_id: String,
    /// Empty when the views carried no country.
    pub country: String,
    /// Midnight UTC of the day.
    pub day: Timestamp,
    pub views: u64,
}

/// How many views a title has among members of one country and plan (cold start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentViews {
    pub country: String,
    pub plan: String,
    pub title_id: String,
    pub views: u64,
}

/// The service's reads and writes. Backends hide their SQL as for [`Store`].
pub trait ServerStore: Store {
    /// Writes several batches, each with its own outcome (as if written one after the
    /// other), and returns once all of them are durable. Cheaper than one `write_batch`
    /// each: the batches share one transaction and one fsync (group commit; on PostgreSQL
    /// also one `COPY` per table), so a page several of them touch is written once. On an
    /// error none is reported and none is stored (a retry is exactly-once, like any batch).
    fn write_batches(&mut self, batches: &[Batch]) -> Result<Vec<BatchOutcome>, StoreError>;

    /// [`ServerStore::write_batches`], but returns once the group is committed, before it
    /// is durable: the caller must [`Durability::wait`] before it tells anyone the batches
    /// are stored, and may meanwhile write the next group (the writer's CPU then overlaps
    /// the previous group's fsync). Readers of the store may see the group before it is
    /// durable. Backends whose commit is durable in itself return [`Durability::done`].
    fn write_batches_then_sync(
        &mut self,
        batches: &[Batch],
    ) -> Result<(Vec<BatchOutcome>, Durability), StoreError> {
        Ok((self.write_batches(batches)?, Durability::done()))
    }

    /// Stores a new key's hash with its scope; returns the key's id.
    fn create_api_key(&mut self, key_hash: &[u8; 32], scope: &str) -> Result<i64, StoreError>;

    /// Every key, revoked ones included, oldest first.
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Stores a model as the newest version, makes it the live model (see
    /// [`crate::RegistryStore`]) and returns that version. Durable on return.
    fn publish_model(&mut self, manifest: &str, blob: &[u8]) -> Result<i64, StoreError>;

    /// The live model's version (the one to serve), without reading its bytes (cheap to
    /// poll). Not necessarily the newest: see [`crate::RegistryStore`].
    fn latest_model(&self) -> Result<Option<PublishedModelInfo>, StoreError>;

    /// One published model with its bytes.
    fn published_model(&self, version: i64) -> Result<Option<PublishedModel>, StoreError>;

    /// The whole catalog, ordered by id.
    fn titles(&self) -> Result<Vec<Title>, StoreError>;

    /// The titles one member thumbed down (any profile), each once.
    fn thumbs_down(&self, member_id: &str) -> Result<Vec<String>, StoreError>;

    /// Human views started at or after `since`, counted per title, country and UTC day.
    fn daily_views_since(&self, since: Timestamp) -> Result<Vec<DailyViews>, StoreError>;

    /// Human views per member country, plan and title (members without a country or plan
    /// are counted under an empty one).
    fn segment_views(&self) -> Result<Vec<SegmentViews>, StoreError>;

    /// The start of the newest view, if any (the "now" of the data).
    fn latest_view_at(&self) -> Result<Option<Timestamp>, StoreError>;
}
