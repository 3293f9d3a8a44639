//! What managing the catalog and members needs from a store beyond the importer's
//! [`Store`]: deleting a title (refused while anything refers to it), erasing a member
//! (the right to erasure: every row that names them, in one transaction), and the take rate
//! of recommendation rows (impressions against the plays that cite them).
//!
//! Creating and updating titles and members needs nothing new: a [`showrunner_model::Batch`]
//! holding them upserts them ([`Store::write_batch`]).

use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;

use crate::{Store, StoreError};

/// What [`CatalogStore::delete_title`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TitleDeletion {
    /// The title is gone.
    Deleted,
    /// No such title.
    NotFound,
    /// Refused: the title is still referred to. Nothing was changed.
    InUse {
        /// Seasons and episodes whose `series_id` is this title.
        parts: u64,
        /// The tables holding events or views of the title (`plays`, `views`, ...).
        referenced_by: Vec<String>,
    },
}

/// What erasing a member removed: rows per table. Every count is durable when returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// The member's own row (0 when only events named them).
    pub members: u64,
    pub plays: u64,
    pub views: u64,
    pub ratings: u64,
    pub impressions: u64,
    pub searches: u64,
    pub qoe: u64,
    /// Sign-ins whose account is the member's id or email.
    pub logins: u64,
    /// Quarantined rows whose raw text holds the member's id or email as a whole word.
    pub quarantined: u64,
    /// The member's assignments to A/B tests' arms.
    pub experiment_assignments: u64,
    /// Dictionary entries (the member's id, profile ids containing it) overwritten with a
    /// tombstone.
    pub identifiers: u64,
    /// Data keys destroyed (the member's, and their email's as a sign-in account), so that
    /// anything sealed under them anywhere can no longer be read.
    pub data_keys: u64,
}

impl Erasure {
    pub fn total(&self) -> u64 {
        self.members
            + self.plays
            + self.views
            + self.ratings
            + self.impressions
            + self.searches
            + self.qoe
            + self.logins
            + self.quarantined
            + self.identifiers
            + self.data_keys
    }
}

/// Which impressions the take rate counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeRateFilter {
    /// Impressions made in `[from, to)`; the plays citing them may come at any time.
    pub from: Timestamp,
    pub to: Timestamp,
    /// One row: its key exactly (`because_you_watched:t42`), or a family of keys by the part
    /// before `:` (`because_you_watched`).
    pub row: Option<String>,
}

/// One row's impressions and the plays they led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowTakeRate {
    /// The row's key as the impressions named it.
    pub row: String,
    pub impressions: u64,
    /// Impressions taken: at least one play of the same member and title cites the
    /// impression's `request_id`.
    pub plays: u64,
}

/// Catalog and member management. Backends hide their SQL as for [`Store`].
pub trait CatalogStore: Store {
    /// Deletes a title with nothing referring to it (no parts, events or views).
    fn delete_title(&mut self, id: &str) -> Result<TitleDeletion, StoreError>;

    /// Erases a member, in one transaction made durable before returning: their row, every
    /// event naming them (plays, ratings, impressions, searches, QoE reports), their views,
    /// sign-ins with their id or email as the account, quarantined rows mentioning their id
    /// or email, and the dictionary entries of their id and of their profile ids that contain
    /// it. Freed space is overwritten and the write-ahead log truncated, so the file keeps
    /// no copy. `None` when nothing names the member.
    fn erase_member(&mut self, id: &str) -> Result<Option<Erasure>, StoreError>;

    /// Impressions and taken impressions per row, by row key.
    fn take_rate(&self, filter: &TakeRateFilter) -> Result<Vec<RowTakeRate>, StoreError>;
}

/// Whether `word` occurs in `text` as a whole word: not inside a longer run of letters,
/// digits and underscores. Matching is deliberately loose beyond that (`m1` matches in
/// `m1-p1`): a quarantined row is a diagnostic, so erring towards erasure is the safe side.
pub(crate) fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let first_is_word = word.chars().next().is_some_and(is_word);
    let last_is_word = word.chars().next_back().is_some_and(is_word);
    let mut start = 0;
    while let Some(found) = text[start..].find(word) {
        let at = start + found;
        let end = at + word.len();
        let before_ok =
            !first_is_word || text[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after_ok = !last_is_word || text[end..].chars().next().is_none_or(|c| !is_word(c));
        if before_ok && after_ok {
            return true;
        }
        start = at + word.chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::contains_word;

    #[test]
    fn words_are_matched_whole() {
        assert!(contains_word(r#"{"member_id":"m1"}"#, "m1"));
        assert!(contains_word("m1,t2,5", "m1"));
        assert!(contains_word("m1-p1", "m1"));
        assert!(!contains_word(r#"{"member_id":"m10"}"#, "m1"));
        assert!(!contains_word("xm1", "m1"));
        assert!(contains_word("xm1 then m1", "m1"));
        assert!(contains_word("a.b@example.com;", "a.b@example.com"));
        assert!(!contains_word("anything", ""));
    }
}
