//! A/B tests of models: an experiment splits members between two or more arms, each serving
//! one model version, by a keyed hash of the member id (the assignment itself is computed
//! by the server; the store keeps the experiment, its salt, and the arm each member was
//! first served from). The per-arm figures come from the events the arms' responses led
//! to: impressions, the plays that cite them, and viewing time.
//!
//! Definitions the figures keep (both backends):
//! - a member's impressions count for their arm when made at or after their assignment and,
//!   once the experiment stopped, before it stopped;
//! - an impression is *taken* when a play of the same member and title cites its
//!   `request_id` (as [`crate::CatalogStore::take_rate`] counts);
//! - viewing hours are the `watched_s` of the member's views (non-human viewing left out)
//!   started at or after assignment (and before the stop), in hours.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;

use crate::{Store, StoreError};

/// One arm: a name (unique in its experiment), the model version it serves, its weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentArm {
    pub name: String,
    pub model_version: i64,
    /// Relative share of traffic, > 0.
    pub weight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Running,
    Stopped,
}

impl ExperimentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentStatus::Running => "running",
            ExperimentStatus::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ExperimentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExperimentStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "running" => Ok(ExperimentStatus::Running),
            "stopped" => Ok(ExperimentStatus::Stopped),
            other => Err(format!(
                "unknown experiment status {other:?} (expected running or stopped)"
            )),
        }
    }
}

/// What creating an experiment records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewExperiment {
    pub name: String,
    pub arms: Vec<ExperimentArm>,
    /// The secret keying the assignment hash (hex text).
    pub salt: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// A stored experiment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    pub id: i64,
    pub name: String,
    pub arms: Vec<ExperimentArm>,
    #[serde(skip_serializing)]
    pub salt: String,
    pub status: ExperimentStatus,
    pub created_at: Timestamp,
    pub stopped_at: Option<Timestamp>,
    pub created_by: String,
}

/// One arm's raw figures (see the module's definitions); the statistics are computed from
/// them by the caller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmFigures {
    pub arm: String,
    /// Members assigned to the arm.
    pub members: u64,
    /// Assigned members with at least one counted impression.
    pub members_with_impressions: u64,
    /// Assigned members with at least one taken impression.
    pub members_taking: u64,
    pub impressions: u64,
    /// Impressions taken.
    pub taken: u64,
    /// Sum over assigned members of their viewing hours (members who watched nothing
    /// count as 0).
    pub hours_sum: f64,
    /// Sum over assigned members of the square of their viewing hours (for the variance).
    pub hours_sum_squares: f64,
}

/// What [`ExperimentStore::create_experiment`] refuses, or a store failure.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("experiment {running} is running; stop it first (only one experiment runs at a time)")]
    AlreadyRunning { running: i64 },
    #[error("there is no experiment {id}")]
    NoSuchExperiment { id: i64 },
    #[error("experiment {id} is already stopped")]
    AlreadyStopped { id: i64 },
}

/// Experiments and assignments. Backends hide their SQL as for [`Store`].
pub trait ExperimentStore: Store {
    /// Records a running experiment and returns its id. Refused while another one runs
    /// (the check and the insert are one transaction).
    fn create_experiment(&mut self, experiment: &NewExperiment) -> Result<i64, ExperimentError>;

    /// Every experiment, newest first.
    fn experiments(&self) -> Result<Vec<ExperimentRecord>, StoreError>;

    fn experiment(&self, id: i64) -> Result<Option<ExperimentRecord>, StoreError>;

    /// The running experiment, if any.
    fn running_experiment(&self) -> Result<Option<ExperimentRecord>, StoreError>;

    /// Stops a running experiment at `at`; its figures stop counting events from then on.
    fn stop_experiment(&mut self, id: i64, at: Timestamp) -> Result<(), ExperimentError>;

    /// Records the arm of each `(member, arm)` unless the member already has one in this
    /// experiment (their first assignment stays). Returns how many were new.
    fn record_assignments(
        &mut self,
        experiment_id: i64,
        assignments: &[(String, String)],
        at: Timestamp,
    ) -> Result<u64, StoreError>;

    /// The arm a member was recorded in, with when.
    fn assignment(
        &self,
        experiment_id: i64,
        member_id: &str,
    ) -> Result<Option<(String, Timestamp)>, StoreError>;

    /// Per-arm figures, one entry per arm in the experiment's order (arms nobody was
    /// assigned to have zeros). `None` when there is no such experiment.
    fn experiment_figures(&self, id: i64) -> Result<Option<Vec<ArmFigures>>, StoreError>;
}

/// Arms as stored (JSON) and back.
pub(crate) fn arms_to_json(arms: &[ExperimentArm]) -> String {
    serde_json::to_string(arms).expect("arms serialise")
}

pub(crate) fn arms_from_json(
    location: &std::path::Path,
    text: &str,
) -> Result<Vec<ExperimentArm>, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        path: location.to_path_buf(),
        table: "experiments",
        column: "arms",
        detail: error.to_string(),
    })
}

pub(crate) fn status_from_text(
    location: &std::path::Path,
    text: &str,
) -> Result<ExperimentStatus, StoreError> {
    text.parse().map_err(|detail| StoreError::Corrupt {
        path: location.to_path_buf(),
        table: "experiments",
        column: "status",
        detail,
    })
}

/// Orders raw per-arm rows as the experiment's arms, zeros for arms without rows.
pub(crate) fn figures_in_arm_order(
    arms: &[ExperimentArm],
    mut rows: Vec<ArmFigures>,
) -> Vec<ArmFigures> {
    arms.iter()
        .map(|arm| {
            rows.iter()
                .position(|row| row.arm == arm.name)
                .map(|at| rows.swap_remove(at))
                .unwrap_or_else(|| ArmFigures {
                    arm: arm.name.clone(),
                    ..ArmFigures::default()
                })
        })
        .collect()
}
