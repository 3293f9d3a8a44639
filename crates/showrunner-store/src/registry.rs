//! The model registry: every published model with what it is (algorithm, parameters, the
//! data window it was trained on, its validation metrics), who or what published it, and
//! its status. The *live* model is the one the service serves; it is not simply the newest
//! version: a candidate can be rejected by the quality gate, and an operator can promote
//! any model or roll back to the one live before.
//!
//! One version may also be *shadowed* ([`ShadowSetting`]): servers score live requests with
//! it as well, without serving it, and report its agreement with the served model.
//!
//! A separate trait from [`ServerStore`] so the service's contract stays small;
//! [`ServerStore::latest_model`] answers the live model's version, so every server replica
//! follows promotions and rollbacks by polling.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;

use crate::{ServerStore, StoreError};

/// Where a model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Registered, never served.
    Candidate,
    /// The one model served now.
    Live,
    /// Refused by the quality gate (the reason says why); an operator may still promote it.
    Rejected,
    /// Was live, replaced since.
    Retired,
}

impl ModelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Candidate => "candidate",
            ModelStatus::Live => "live",
            ModelStatus::Rejected => "rejected",
            ModelStatus::Retired => "retired",
        }
    }
}

impl fmt::Display for ModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "candidate" => Ok(ModelStatus::Candidate),
            "live" => Ok(ModelStatus::Live),
            "rejected" => Ok(ModelStatus::Rejected),
            "retired" => Ok(ModelStatus::Retired),
            other => Err(format!(
                "unknown model status {other:?} (expected candidate, live, rejected or retired)"
            )),
        }
    }
}

/// What the registry records of a model when it is registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRegistration {
    /// `ease`, `ials`, `itemknn`, `pop`, `blend`.
    pub algorithm: String,
    /// The hyper-parameters, as JSON.
    pub parameters: serde_json::Value,
    /// The earliest and latest interaction trained on.
    pub data_from: Option<Timestamp>,
    pub data_to: Option<Timestamp>,
    /// Validation metrics, as JSON (the quality gate's figures, `--algo auto`'s validation).
    pub metrics: serde_json::Value,
    /// Who or what published it: `showrunner train`, `job retrain`, an operator's name.
    pub published_by: String,
    /// `Live` makes it the live model at once; `Candidate` and `Rejected` only record it.
    pub status: ModelStatus,
    pub reason: Option<String>,
}

/// A registered model, without its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub version: i64,
    pub published_at: Timestamp,
    pub algorithm: String,
    pub parameters: serde_json::Value,
    pub data_from: Option<Timestamp>,
    pub data_to: Option<Timestamp>,
    pub metrics: serde_json::Value,
    pub published_by: String,
    pub status: ModelStatus,
    pub reason: Option<String>,
}

/// One change of the live model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveChange {
    pub version: i64,
    /// The version live before, if any.
    pub previous: Option<i64>,
    pub at: Timestamp,
    pub actor: String,
    pub reason: String,
}

/// The shadowed model: which version and who started shadowing it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowSetting {
    pub version: i64,
    pub started_at: Timestamp,
    pub started_by: String,
}

/// A registry operation that cannot be done, or a store failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no model version {version}")]
    NoSuchModel { version: i64 },
    #[error("model version {version} is already live")]
    AlreadyLive { version: i64 },
    #[error(
        "nothing to roll back to: no model was live before version {current} \
         (`showrunner models list` shows the versions; promote one instead)"
    )]
    NothingToRollBackTo { current: i64 },
    #[error("no model is live, so there is nothing to roll back")]
    NoLiveModel,
    #[error("the live model changed while this ran (it is now {live:?}); try again")]
    LiveChanged { live: Option<i64> },
    #[error(
        "model version {version} is the live model; shadow a version that is not live \
         (`showrunner models list` shows them)"
    )]
    ShadowIsLive { version: i64 },
    #[error(
        "model version {version} was never live, so it is not a rollback target; \
         promote it instead"
    )]
    NeverLive { version: i64 },
}

/// The registry's reads and writes. Backends hide their SQL as for [`crate::Store`].
pub trait RegistryStore: ServerStore {
    /// Stores a model as a new version with its registry fields and returns the version.
    /// With [`ModelStatus::Live`] it becomes the live model in the same transaction (the
    /// previous live one retires). Durable on return.
    fn register_model(
        &mut self,
        manifest: &str,
        blob: &[u8],
        registration: &ModelRegistration,
    ) -> Result<i64, StoreError>;

    /// Every registered model, newest version first.
    fn model_records(&self) -> Result<Vec<ModelRecord>, StoreError>;

    fn model_record(&self, version: i64) -> Result<Option<ModelRecord>, StoreError>;

    /// The live model's version, if any model is live.
    fn live_version(&self) -> Result<Option<i64>, StoreError>;

    /// Every change of the live model, oldest first.
    fn live_history(&self) -> Result<Vec<LiveChange>, StoreError>;

    /// Makes `version` the live model (the previous one retires). Servers swap it in on
    /// their next poll.
    fn promote(
        &mut self,
        version: i64,
        actor: &str,
        reason: &str,
    ) -> Result<LiveChange, RegistryError>;

    /// Makes live again the model live before the current one (or `to`, which must have
    /// been live before). The current live model retires.
    fn rollback(&mut self, to: Option<i64>, actor: &str) -> Result<LiveChange, RegistryError>;

    /// The shadowed model, if one is set.
    fn shadow(&self) -> Result<Option<ShadowSetting>, StoreError>;

    /// Shadows `version` from `at` on, replacing any shadowed model (a new start, even of
    /// the same version). Refuses an unknown version and the live one. Servers pick it up on
    /// their next poll.
    fn start_shadow(
        &mut self,
        version: i64,
        actor: &str,
        at: Timestamp,
    ) -> Result<ShadowSetting, RegistryError>;

    /// Stops shadowing; returns what was shadowed (`None` when nothing was).
    fn stop_shadow(&mut self) -> Result<Option<ShadowSetting>, StoreError>;
}

/// The live version now and the version a rollback goes to: `to` when given (it must have
/// been live once; `exists` tells an unknown version from one never live), else the version
/// live just before the current one went live. Shared by both backends.
pub(crate) fn rollback_target(
    history: &[LiveChange],
    to: Option<i64>,
    exists: impl FnOnce(i64) -> Result<bool, StoreError>,
) -> Result<(i64, i64), RegistryError> {
    let Some(current) = history.last() else {
        return Err(RegistryError::NoLiveModel);
    };
    let current = current.version;
    let target = match to {
        Some(version) => {
            if !history.iter().any(|c| c.version == version) {
                if !exists(version)? {
                    return Err(RegistryError::NoSuchModel { version });
                }
                return Err(RegistryError::NeverLive { version });
            }
            version
        }
        None => history
            .iter()
            .rev()
            .skip_while(|c| c.version == current)
            .map(|c| c.version)
            .next()
            .ok_or(RegistryError::NothingToRollBackTo { current })?,
    };
    Ok((current, target))
}
