//! Retention: raw events older than a horizon are rolled up (per UTC day, kind and title:
//! events and distinct members) and purged; quarantined rows older than their own horizon
//! are purged. Views (the sessions derived from plays), ratings, the catalog and members
//! are kept: they are small and they are what models train on.

use serde::{Deserialize, Serialize};
use showrunner_model::{EventKind, Timestamp};

use crate::{Store, StoreError};

/// The event kinds retention rolls up and purges.
pub const PURGED_KINDS: [EventKind; 5] = [
    EventKind::Play,
    EventKind::Impression,
    EventKind::Qoe,
    EventKind::Search,
    EventKind::Login,
];

/// Events of one kind on one UTC day, for one title (empty for kinds without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyRollup {
    /// Midnight UTC of the day.
    pub day: Timestamp,
    pub kind: EventKind,
    pub title_id: String,
    pub events: u64,
    /// Distinct members (for searches, impressions, plays, QoE with a member; accounts for
    /// logins). Counted per retention pass: a day purged in two passes (events that
    /// arrived late) counts a member seen in both twice.
    pub members: u64,
}

/// What one retention pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionSummary {
    /// Events purged per kind (kinds with none left out).
    pub purged: Vec<(EventKind, u64)>,
    /// Rollup rows written or added to.
    pub rollup_rows: u64,
    pub quarantine_purged: u64,
}

/// Retention's reads and writes. Backends hide their SQL as for [`Store`].
pub trait RetentionStore: Store {
    /// Rolls up and deletes every event of [`PURGED_KINDS`] before `before` (rounded down
    /// to midnight UTC, so a day is always rolled up whole), in one transaction: a crash
    /// leaves either the events or their rollup, never both or neither.
    fn roll_up_and_purge(&mut self, before: Timestamp) -> Result<RetentionSummary, StoreError>;

    /// Deletes quarantined rows first seen before `before`; returns how many.
    fn purge_quarantine(&mut self, before: Timestamp) -> Result<u64, StoreError>;

    /// Rollup rows of days in `[from, to)`, by day, kind and title.
    fn daily_rollups(&self, from: Timestamp, to: Timestamp)
    -> Result<Vec<DailyRollup>, StoreError>;
}
