//! What the importer hands the store: a batch of clean records and quarantined rows, written
//! in one transaction, and what the store reports back.

use serde::{Deserialize, Serialize};

use crate::catalog::Title;
use crate::event::Event;
use crate::member::Member;
use crate::problem::Problem;

/// One clean input record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Title(Title),
    Member(Member),
    Event(Event),
}

/// A rejected input row, kept with where it came from and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The input's name as the user gave it (a file path, later an HTTP request id).
    pub source: String,
    /// 1-based line (or CSV record) number in the source.
    pub line: u64,
    /// The raw row, lossily decoded as UTF-8 and cut to [`Quarantined::MAX_RAW_BYTES`].
    pub raw: String,
    pub problem: Problem,
}

impl Quarantined {
    /// Rows longer than this are kept cut, with a marker, so one absurd line cannot fill the
    /// database.
    pub const MAX_RAW_BYTES: usize = 16 * 1024;

    pub fn new(source: &str, line: u64, raw: &[u8], problem: Problem) -> Self {
        let cut = &raw[..raw.len().min(Self::MAX_RAW_BYTES)];
        let mut raw_text = String::from_utf8_lossy(cut).into_owned();
        if raw.len() > Self::MAX_RAW_BYTES {
            raw_text.push_str("…[cut]");
        }
        Quarantined {
            source: source.to_owned(),
            line,
            raw: raw_text,
            problem,
        }
    }
}

/// Records and rejects to write together. Titles and members are upserted (the newest
/// description wins); events are appended unless already stored.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub titles: Vec<Title>,
    pub members: Vec<Member>,
    pub events: Vec<Event>,
    pub quarantined: Vec<Quarantined>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.titles.len() + self.members.len() + self.events.len() + self.quarantined.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, record: Record) {
        match record {
            Record::Title(title) => self.titles.push(title),
            Record::Member(member) => self.members.push(member),
            Record::Event(event) => self.events.push(event),
        }
    }
}

/// What the store did with a batch. Everything counted here is durable when it is returned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Titles and members written (new or changed).
    pub titles_upserted: u64,
    pub members_upserted: u64,
    /// Events new to the store.
    pub events_accepted: u64,
    /// Events the store already had (same id), merged into the stored copy.
    pub events_duplicate: u64,
    /// Quarantined rows new to the store (a row quarantined again on re-import is not
    /// counted twice).
    pub quarantined_new: u64,
}

impl BatchOutcome {
    pub fn add(&mut self, other: &BatchOutcome) {
        self.titles_upserted += other.titles_upserted;
        self.members_upserted += other.members_upserted;
        self.events_accepted += other.events_accepted;
        self.events_duplicate += other.events_duplicate;
        self.quarantined_new += other.quarantined_new;
    }
}
