//! The crate's error type: what failed and with which input.

/// Errors from parsing NAB's files or matching labels to data.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A CSV or JSON input could not be parsed.
    #[error("{input}, line {line}: {message}")]
    Parse {
        input: String,
        line: usize,
        message: String,
    },
    /// A label window names a timestamp that is not a row of its data file (NAB requires
    /// exact matches).
    #[error("{file}: window {start}..{end} does not match timestamps of the data file")]
    WindowNotInData {
        file: String,
        start: String,
        end: String,
    },
    /// Anomaly scores and data rows disagree in number.
    #[error("{file}: {scores} anomaly scores for {rows} data rows")]
    LengthMismatch {
        file: String,
        scores: usize,
        rows: usize,
    },
    /// A file the caller was asked to read could not be read.
    #[error("reading {input}: {message}")]
    Read { input: String, message: String },
    /// A name (detector, profile) that is not known.
    #[error("unknown {what} {name:?}; known: {known}")]
    Unknown {
        what: &'static str,
        name: String,
        known: String,
    },
    /// An alerting rule or silence that cannot work as written.
    #[error("alert rule {rule}: {problem}")]
    BadRule { rule: String, problem: String },
}
