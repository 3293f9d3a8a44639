//! EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019): the
//! item-item weight matrix `B` minimising `‖X − XB‖² + λ‖B‖²` subject to `diag(B) = 0`,
//! in closed form: `P = (XᵀX + λI)⁻¹`, `B_ij = −P_ij / P_jj` (i ≠ j), `B_jj = 0`.
//! A user's scores are `x_u B`, where `x_u` is the user's (optionally recency-weighted)
//! history, so users unseen at training time are scored the same way.
//!
//! Memory and time are dense in the number of items (`n²` weights, `n³` to invert), which
//! suits catalogs up to tens of thousands of titles.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Query, Recency, TrainContext, history_weights};
use crate::data::Interactions;
use crate::error::RecommendError;
use crate::linalg::spd_inverse;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EaseParams {
    /// The L2 regularisation λ added to the Gram matrix's diagonal.
    pub lambda: f64,
    #[serde(default, skip_serializing_if = "Recency::is_none")]
    pub recency: Recency,
}

impl Default for EaseParams {
    fn default() -> Self {
        EaseParams {
            lambda: 100.0,
            recency: Recency::None,
        }
    }
}

/// Row-major `n x n` weights: `b[i * n + j]` is how much history item `i` adds to item `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ease {
    pub params: EaseParams,
    pub n: usize,
    pub b: Vec<f32>,
}

/// The largest catalog EASE accepts (a dense 40k x 40k matrix is 6.4 GB in f32 and 12.8 GB
/// in f64 while training).
pub const MAX_ITEMS: usize = 40_000;

pub fn train(
    data: &Interactions,
    params: &EaseParams,
    ctx: TrainContext<'_>,
) -> Result<Ease, RecommendError> {
    super::check_trainable("ease", data)?;
    super::check_positive("lambda", params.lambda)?;
    let n = data.n_items();
    if n > MAX_ITEMS {
        return Err(RecommendError::NotTrainable {
            algo: "ease".into(),
            problem: format!(
                "{n} items is more than EASE's dense model allows ({MAX_ITEMS}); use ials or itemknn"
            ),
        });
    }
    ctx.report("gram matrix", 0, 3);
    // G = XᵀX + λI, one row per item, built in parallel from the co-occurrences.
    let mut g = vec![0f64; n * n];
    g.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        let (users, weights) = data.column(i);
        for (&u, &w_ui) in users.iter().zip(weights) {
            let r = data.row(u as usize);
            for (&j, &w_uj) in r.items.iter().zip(r.weights) {
                row[j as usize] += (w_ui * w_uj) as f64;
            }
        }
        row[i] += params.lambda;
    });
    ctx.check()?;
    ctx.report("inverse", 1, 3);
    let p = spd_inverse(&g, n).ok_or_else(|| RecommendError::NotTrainable {
        algo: "ease".into(),
        problem: "the regularised Gram matrix is not positive definite".into(),
    })?;
    drop(g);
    ctx.check()?;
    ctx.report("weights", 2, 3);
    // P is symmetric, so row i of B reads column i of P (contiguous in faer's layout).
    let diag: Vec<f64> = (0..n).map(|j| p[(j, j)]).collect();
    let mut b = vec![0f32; n * n];
    b.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        let column = p.col(i);
        for (j, slot) in row.iter_mut().enumerate() {
            *slot = if i == j {
                0.0
            } else {
                (-column[j] / diag[j]) as f32
            };
        }
    });
    ctx.report("weights", 3, 3);
    Ok(Ease {
        params: params.clone(),
        n,
        b,
    })
}

impl Ease {
    pub fn score_into(&self, query: &Query<'_>, out: &mut [f32]) {
        out.fill(0.0);
        let weights = history_weights(&query.history, self.params.recency);
        for (&i, &w) in query.history.items.iter().zip(&weights) {
            let i = i as usize;
            if i < self.n {
                crate::linalg::axpy(w, &self.b[i * self.n..(i + 1) * self.n], out);
            }
        }
    }
}
