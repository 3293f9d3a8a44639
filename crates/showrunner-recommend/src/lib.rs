//! showrunner's recommendation engine: from interactions to ranked titles.
//!
//! - [`signals`]: views, ratings and impressions to confidences (the documented mapping);
//! - [`data`]: the interaction matrix ([`Interactions`]), the yardstick's CSV reader, the
//!   temporal per-user holdout;
//! - [`models`]: popularity, item-kNN, iALS, EASE and blends, each trained by a function of
//!   its parameter struct;
//! - [`model`]: a trained, self-describing [`Model`] that serves top-N with filters, and its
//!   saved form (manifest + blob, see [`format`](mod@format));
//! - [`tune`]: `--algo auto`, a hyper-parameter search on a validation holdout;
//! - [`rows`]: the home-page row builders (filters, reasons, de-duplication, cold start, a
//!   TF-IDF content model for titles without views) over a [`Model`] and a catalog view;
//! - [`experiment`]: A/B tests of models: the keyed, weighted assignment of members to arms
//!   and the confidence intervals of the per-arm figures;
//! - [`agreement`]: how far two rankings of one request agree (overlap@N, top-1,
//!   rank-biased overlap), for shadowing a candidate model;
//! - [`metrics`]: recall, NDCG, MAP, coverage, novelty and popularity bias over the full
//!   catalog.
//!
//! The crate does no IO: callers hand it readers and bytes and write what it returns.

pub mod agreement;
pub mod data;
mod error;
pub mod experiment;
pub mod format;
mod linalg;
pub mod metrics;
pub mod model;
pub mod models;
pub mod rows;
pub mod signals;
pub mod topn;
pub mod tune;

pub use data::{Interaction, Interactions, InteractionsBuilder, read_interactions_csv};
pub use error::RecommendError;
pub use metrics::{Metrics, evaluate};
pub use model::{Filter, Manifest, Model, Scorer, Spec, train_scorer};
pub use models::{Query, TrainContext};
