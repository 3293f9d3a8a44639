//! The models. Each is trained from an [`Interactions`](crate::data::Interactions) matrix by a `train` function taking
//! its parameter struct, and scores every item for a [`Query`] (a user's history, and the
//! user's training index when the model knows them).
//!
//! - [`pop`]: popularity, overall or time-decayed ("trending").
//! - [`knn`]: item-kNN with cosine, BM25 or TF-IDF weighting and K neighbours.
//! - [`ials`]: implicit ALS (Hu, Koren & Volinsky 2008), conjugate-gradient or Cholesky
//!   solves, with closed-form fold-in of users not seen at training time.
//! - [`ease`]: EASE (Steck 2019), the closed-form item-item model.
//! - [`blend`]: a weighted sum of per-user standardised scores of other models.

pub mod blend;
pub mod ease;
pub mod ials;
pub mod knn;
pub mod pop;

use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::data::Row;
use crate::error::RecommendError;

/// What a model scores for: a user's history (time-ordered, as in [`Row`]) and, when the
/// user was in the training data, their index there.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub user: Option<usize>,
    pub history: Row<'a>,
}

/// A progress callback: stage name, steps done, steps in all.
pub type ProgressFn<'a> = dyn Fn(&str, u64, u64) + Sync + 'a;

/// Progress reports and cancellation for long training jobs.
#[derive(Default, Clone, Copy)]
pub struct TrainContext<'a> {
    pub cancel: Option<&'a AtomicBool>,
    /// Called with a stage name, the steps done and the steps in all.
    pub progress: Option<&'a ProgressFn<'a>>,
}

impl std::fmt::Debug for TrainContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainContext").finish_non_exhaustive()
    }
}

impl TrainContext<'_> {
    pub fn check(&self) -> Result<(), RecommendError> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(RecommendError::Interrupted),
            _ => Ok(()),
        }
    }

    pub fn report(&self, stage: &str, done: u64, total: u64) {
        if let Some(progress) = self.progress {
            progress(stage, done, total);
        }
    }
}

/// How an item-based model weights a user's history by recency: an item `r` positions back
/// from the latest gets `0.5^(r / h)`, where the half-life `h` is a number of positions, or
/// a share of the user's history length (so long and short histories decay alike).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Recency {
    #[default]
    None,
    Positions {
        half_life: f32,
    },
    Share {
        half_life: f32,
    },
}

impl Recency {
    pub fn is_none(&self) -> bool {
        matches!(self, Recency::None)
    }
}

/// The weight each history item gets in an item-based model's query: its confidence times
/// its recency factor.
pub fn history_weights(history: &Row<'_>, recency: Recency) -> Vec<f32> {
    let n = history.len();
    let half_life = match recency {
        Recency::None => None,
        Recency::Positions { half_life } => Some(half_life),
        Recency::Share { half_life } => Some((half_life * n as f32).max(1.0)),
    };
    history
        .weights
        .iter()
        .enumerate()
        .map(|(k, &w)| match half_life {
            Some(h) if h > 0.0 => w * 0.5f32.powf((n - 1 - k) as f32 / h),
            _ => w,
        })
        .collect()
}

pub(crate) fn check_positive(name: &str, value: f64) -> Result<(), RecommendError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(RecommendError::BadParameter {
            name: name.into(),
            problem: format!("must be a positive number (got {value})"),
        })
    }
}

pub(crate) fn check_trainable(
    algo: &str,
    data: &crate::data::Interactions,
) -> Result<(), RecommendError> {
    let problem = if data.nnz() == 0 {
        "the training data has no interactions"
    } else if data.n_users() < 2 {
        "the training data has a single user; a collaborative model needs at least two"
    } else if data.n_items() < 2 {
        "the training data has a single item"
    } else {
        return Ok(());
    };
    Err(RecommendError::NotTrainable {
        algo: algo.into(),
        problem: problem.into(),
    })
}

/// For every item `i`, calls `row(i, acc, touched)` with `acc[j] = Σ_u a(u,i) a(u,j)` over
/// the users of `i` (`a` = `value(u, i, w)`), `touched` listing the `j` with a non-zero sum.
/// Runs in parallel over items; `row` must reset nothing (the caller's buffers are cleared
/// after each call). Cost: Σ over users of their history length squared.
pub(crate) fn cooccurrence_rows<T: Send>(
    data: &crate::data::Interactions,
    value: impl Fn(usize, usize, f32) -> f32 + Sync,
    row: impl Fn(usize, &[f32], &[u32]) -> T + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let n = data.n_items();
    (0..n)
        .into_par_iter()
        .map_init(
            || (vec![0f32; n], Vec::<u32>::new()),
            |(acc, touched), i| {
                let (users, weights) = data.column(i);
                for (&u, &w) in users.iter().zip(weights) {
                    let a_ui = value(u as usize, i, w);
                    let r = data.row(u as usize);
                    for (&j, &wj) in r.items.iter().zip(r.weights) {
                        let slot = &mut acc[j as usize];
                        if *slot == 0.0 {
                            touched.push(j);
                        }
                        *slot += a_ui * value(u as usize, j as usize, wj);
                    }
                }
                let out = row(i, acc, touched);
                for &j in touched.iter() {
                    acc[j as usize] = 0.0;
                }
                touched.clear();
                out
            },
        )
        .collect()
}
