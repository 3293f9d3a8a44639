//! Problems found in input: why a row was quarantined. Each kind has a stable snake_case
//! code used in the quarantine table, the import summary and (later) the HTTP API.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The bytes are not valid UTF-8.
    InvalidUtf8,
    /// The line ends in the middle of a record (a cut-off JSON object, an unclosed quote).
    Truncated,
    /// The row is not valid JSON / CSV at all.
    Malformed,
    /// A line longer than the reader accepts.
    LineTooLong,
    /// The record's `type` is not one showrunner knows.
    UnknownType,
    MissingField,
    /// A field has the wrong JSON type or cannot be read as its type.
    WrongType,
    /// A string field longer than its bound.
    FieldTooLong,
    BadTimestamp,
    /// A timestamp further in the future than clock skew explains.
    FutureTimestamp,
    UnknownTitle,
    UnknownMember,
    /// A negative duration, position or count.
    NegativeValue,
    /// A duration or count no real session can have (a 30-hour heartbeat, a 10-hour startup).
    ImpossibleValue,
    /// More seconds watched than the title runs (allowing for re-watching within a session).
    WatchedBeyondLength,
    InvalidCountry,
    InvalidIp,
    /// A value outside its allowed set or range (a 7-star rating, an unknown login outcome).
    InvalidValue,
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 18] = [
        ProblemKind::InvalidUtf8,
        ProblemKind::Truncated,
        ProblemKind::Malformed,
        ProblemKind::LineTooLong,
        ProblemKind::UnknownType,
        ProblemKind::MissingField,
        ProblemKind::WrongType,
        ProblemKind::FieldTooLong,
        ProblemKind::BadTimestamp,
        ProblemKind::FutureTimestamp,
        ProblemKind::UnknownTitle,
        ProblemKind::UnknownMember,
        ProblemKind::NegativeValue,
        ProblemKind::ImpossibleValue,
        ProblemKind::WatchedBeyondLength,
        ProblemKind::InvalidCountry,
        ProblemKind::InvalidIp,
        ProblemKind::InvalidValue,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ProblemKind::InvalidUtf8 => "invalid_utf8",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Malformed => "malformed",
            ProblemKind::LineTooLong => "line_too_long",
            ProblemKind::UnknownType => "unknown_type",
            ProblemKind::MissingField => "missing_field",
            ProblemKind::WrongType => "wrong_type",
            ProblemKind::FieldTooLong => "field_too_long",
            ProblemKind::BadTimestamp => "bad_timestamp",
            ProblemKind::FutureTimestamp => "future_timestamp",
            ProblemKind::UnknownTitle => "unknown_title",
            ProblemKind::UnknownMember => "unknown_member",
            ProblemKind::NegativeValue => "negative_value",
            ProblemKind::ImpossibleValue => "impossible_value",
            ProblemKind::WatchedBeyondLength => "watched_beyond_length",
            ProblemKind::InvalidCountry => "invalid_country",
            ProblemKind::InvalidIp => "invalid_ip",
            ProblemKind::InvalidValue => "invalid_value",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        ProblemKind::ALL
            .into_iter()
            .find(|kind| kind.code() == code)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What is wrong with one input row: the kind, the field when one is to blame, and a
/// human-readable detail naming the offending value (truncated; never a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub detail: String,
}

impl Problem {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            field: None,
            detail: detail.into(),
        }
    }

    pub fn on_field(kind: ProblemKind, field: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            field: Some(field.to_owned()),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({field}): {}", self.kind, self.detail),
            None => write!(f, "{}: {}", self.kind, self.detail),
        }
    }
}
