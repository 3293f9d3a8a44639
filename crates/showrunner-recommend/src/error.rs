//! The recommend crate's errors: each names the input and the problem.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RecommendError {
    /// A row of an input could not be used.
    #[error("{input} line {line}: {problem}")]
    BadInput {
        input: String,
        line: usize,
        problem: String,
    },
    /// The training data cannot make a model (empty, a single user, ...).
    #[error("cannot train {algo}: {problem}")]
    NotTrainable { algo: String, problem: String },
    /// A model's files are damaged, truncated, or from another version.
    #[error("model {what}: {problem}")]
    BadModel { what: String, problem: String },
    /// A parameter is out of its range.
    #[error("parameter {name}: {problem}")]
    BadParameter { name: String, problem: String },
    /// The job was stopped (Ctrl-C) before it finished.
    #[error("interrupted")]
    Interrupted,
}
