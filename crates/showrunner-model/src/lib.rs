//! Domain types of showrunner: the catalog, members and their profiles, the platform's
//! events, the problems found while validating them, and the batches the importer hands to
//! the store.
//!
//! This crate does no IO and depends on no web or database crate: every other crate can use
//! it without pulling in the world. Wire parsing that must be fast lives in
//! `showrunner-ingest`; the serde derives here define the documented JSON shape.

pub mod batch;
pub mod catalog;
pub mod event;
pub mod facts;
pub mod member;
pub mod problem;
pub mod time;

pub use batch::{Batch, BatchOutcome, Quarantined, Record};
pub use catalog::{Availability, MaturityLevel, Title, TitleKind};
pub use event::{
    Event, EventBody, EventKind, Impression, Login, LoginOutcome, Play, PlayAction, Qoe, Rating,
    RatingValue, Search,
};
pub use facts::{FactsBuilder, ViewRow, ViewingFacts};
pub use member::{Member, Personal, Profile};
pub use problem::{Problem, ProblemKind};
pub use time::Timestamp;
