//! Readers, cleaning and the streaming import pipeline of showrunner.
//!
//! Files go in ([`plan_inputs`] checks them and detects their [`Format`]); clean records and
//! quarantined rows come out in [`showrunner_model::Batch`]es, handed to a sink (the store,
//! wired by the binary) by [`run_import`]. Every row goes through one [`Cleaner`], whose
//! line-level entry point [`Cleaner::clean_json`] will also serve HTTP and NATS ingest.
//!
//! Formats:
//! - **JSONL**: one object per line, the model's serde shape with a `type` (`play`,
//!   `rating`, `impression`, `login`, `qoe`, `search`, `title`, `member`), an optional `id`
//!   (else derived from the normalised content), `ts` as RFC 3339, any form
//!   `Timestamp::parse` reads, or an epoch number. Numbers may also be numeric strings.
//! - **CSV**: a header naming the same fields; empty cell = absent; `genres`, `cast`,
//!   `directors`, `countries` hold `|`-separated lists. Nested `availability` and
//!   `profiles` are JSONL-only.
//! - **MovieLens** `ratings.csv`, `movies.csv`, ML-100k `u.data`, `u.item`;
//!   **MovieTweetings** `ratings.dat` (0-10, mapped to stars = max(0.5, rating / 2)) and
//!   `movies.dat`. Rating files create bare members for unseen user ids.
//! - **Netflix-style catalog CSV** (`show_id,type,title,...`).
//!
//! All of them may be gzip or zstd compressed (detected by magic bytes).
//!
//! Invariants: this crate does no network IO and knows nothing of HTTP or the store; it
//! never drops a row silently (every row is a record or a quarantined row, and
//! [`ImportSummary::rows_balance`] checks the books).

mod clean;
mod country;
mod error;
mod format;
mod index;
mod lines;
mod parallel;
mod pipeline;
mod plan;
mod readers;
mod wire;

pub use clean::{
    Cleaner, CleaningRules, CleaningWarnings, KnownEntities, KnownTitle, MAX_DESCRIPTION_BYTES,
    MAX_ID_BYTES, MAX_LINE_BYTES, MAX_LONG_TEXT_BYTES, MAX_NAME_BYTES, MAX_SHORT_TEXT_BYTES,
    POSITION_ALLOWANCE_S, Prepared, WATCHED_ALLOWANCE_S, WATCHED_RUNTIME_FACTOR, prepare_json,
};
pub use country::normalize_country;
pub use error::{IngestError, SinkError};
pub use format::Format;
pub use pipeline::{FileSummary, ImportOptions, ImportSummary, NoProgress, Progress, run_import};
pub use plan::{InputFile, plan_inputs};
