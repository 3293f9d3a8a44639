//! The jobs' error type: what failed, naming the input (a path, a setting, a version).

use std::path::PathBuf;

use showrunner_recommend::RecommendError;
use showrunner_store::{RegistryError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("training: {0}")]
    Recommend(#[from] RecommendError),
    /// A setting that cannot be used.
    #[error("jobs.{setting}: {problem}")]
    Config { setting: String, problem: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no job named {name:?} is configured (configured: {configured})")]
    UnknownJob { name: String, configured: String },
    /// The job ran but could not do its work (too little data, a panic).
    #[error("{0}")]
    Failed(String),
}
