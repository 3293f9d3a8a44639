//! Security findings kept by the store: what the threat detectors found (credential
//! stuffing, brute force, takeover, impossible travel, sharing), each with the evidence
//! that names accounts, IPs, ASNs and times.
//!
//! A finding is identified by its kind, its subject `key` (the account, IP or ASN it is
//! about) and the instant it opened: recording the same (kind, key, opened_at) again, as a
//! detection pass over an overlapping window does, updates that finding (later `last_seen`,
//! newer evidence) instead of adding a second one.
//!
//! The key and the evidence are personal data. SQLite seals both under a store-wide findings
//! key and finds a key through a keyed index (see `crate::vault`); PostgreSQL stores them as
//! given, like the rest of its personal data for now (docs/privacy.md, Limits).

use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;

use crate::{Store, StoreError};

/// The most findings one page returns.
pub const MAX_FINDINGS_PAGE: usize = 1000;

/// A finding as a detection pass reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFinding {
    /// `credential_stuffing`, `brute_force`, `account_takeover`, `impossible_travel`,
    /// `account_sharing`.
    pub kind: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The subject: the account, IP or ASN the finding is about.
    pub key: String,
    pub opened_at: Timestamp,
    pub last_seen: Timestamp,
    /// The detector and the version of its settings that produced the finding.
    pub detector: String,
    /// The evidence (accounts, IPs, ASNs, countries, times, why), as JSON text.
    pub evidence: String,
}

/// A stored finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub id: i64,
    #[serde(flatten)]
    pub finding: NewFinding,
    /// When the store first recorded it.
    pub recorded_at: Timestamp,
}

/// Which findings to list: newest id first, at most `limit`, ids below `before_id` (the
/// cursor: the last id of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub kind: Option<String>,
    /// Only findings whose subject is this key (an account, IP or ASN).
    pub key: Option<String>,
    /// `opened_at >= from`.
    pub from: Option<Timestamp>,
    /// `opened_at < until`.
    pub until: Option<Timestamp>,
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// What recording a finding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A finding not seen before, with its new id.
    New(i64),
    /// The same (kind, key, opened_at) was already stored: updated in place.
    Updated(i64),
}

impl Recorded {
    pub fn id(self) -> i64 {
        match self {
            Recorded::New(id) | Recorded::Updated(id) => id,
        }
    }

    pub fn is_new(self) -> bool {
        matches!(self, Recorded::New(_))
    }
}

/// Stored findings. Implemented by both backends.
pub trait FindingStore: Store {
    /// Inserts the finding, or updates the one with the same (kind, key, opened_at): its
    /// `last_seen` becomes the later of the two, and severity, detector and evidence those
    /// of the report seen last (an older report changes nothing).
    fn record_finding(&mut self, finding: &NewFinding) -> Result<Recorded, StoreError>;

    /// Findings matching `filter`, newest id first (`limit` is capped at
    /// [`MAX_FINDINGS_PAGE`]; 0 means that cap).
    fn findings(&self, filter: &FindingFilter) -> Result<Vec<FindingRecord>, StoreError>;
}

/// The page size a filter asks for, within bounds.
pub(crate) fn page_limit(filter: &FindingFilter) -> i64 {
    if filter.limit == 0 {
        MAX_FINDINGS_PAGE as i64
    } else {
        filter.limit.min(MAX_FINDINGS_PAGE) as i64
    }
}
