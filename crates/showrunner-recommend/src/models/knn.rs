//! Item-kNN: each item keeps its K most similar items; a user's score for an item is the
//! sum of its similarities to the items in the user's (optionally recency-weighted) history.
//!
//! Weightings of the user-item matrix `X` before item-item similarity (items are vectors
//! over users):
//! - `cosine`: `sim(i, j) = x_i · x_j / (‖x_i‖ ‖x_j‖)`;
//! - `bm25` (as in Okapi BM25 with items as documents and users as terms):
//!   `a(u, i) = w (k1 + 1) / (k1 ((1 − b) + b n_i / mean n) + w) · idf(u)`,
//!   `idf(u) = ln(N_items) − ln(1 + n_u)`, `sim = a_i · a_j` (unnormalised);
//! - `tfidf`: `a(u, i) = w · idf(u)`, then cosine over the weighted vectors.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Query, Recency, TrainContext, history_weights};
use crate::data::Interactions;
use crate::error::RecommendError;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Weighting {
    Cosine,
    Bm25 { k1: f32, b: f32 },
    Tfidf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnnParams {
    /// Neighbours kept per item.
    pub k: usize,
    pub weighting: Weighting,
    /// Weight history items by recency.
    #[serde(default, skip_serializing_if = "Recency::is_none")]
    pub recency: Recency,
}

impl Default for KnnParams {
    fn default() -> Self {
        KnnParams {
            k: 200,
            weighting: Weighting::Cosine,
            recency: Recency::None,
        }
    }
}

/// Neighbour lists in compressed rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemKnn {
    pub params: KnnParams,
    pub ptr: Vec<u32>,
    pub neighbours: Vec<u32>,
    pub similarity: Vec<f32>,
}

pub fn train(
    data: &Interactions,
    params: &KnnParams,
    ctx: TrainContext<'_>,
) -> Result<ItemKnn, RecommendError> {
    super::check_trainable("itemknn", data)?;
    if params.k == 0 {
        return Err(RecommendError::BadParameter {
            name: "k".into(),
            problem: "must be at least 1".into(),
        });
    }
    ctx.check()?;
    let n_items = data.n_items() as f32;
    let counts = data.item_counts();
    let mean_count = data.nnz() as f32 / data.n_items() as f32;
    let user_len: Vec<f32> = (0..data.n_users())
        .map(|u| data.row(u).len() as f32)
        .collect();
    let idf = |u: usize| (n_items.ln() - (1.0 + user_len[u]).ln()).max(0.0);
    let value = |u: usize, i: usize, w: f32| -> f32 {
        match params.weighting {
            Weighting::Cosine => w,
            Weighting::Tfidf => w * idf(u),
            Weighting::Bm25 { k1, b } => {
                let norm = (1.0 - b) + b * counts[i] as f32 / mean_count;
                w * (k1 + 1.0) / (k1 * norm + w) * idf(u)
            }
        }
    };
    let normalise = !matches!(params.weighting, Weighting::Bm25 { .. });
    let norms: Vec<f32> = (0..data.n_items())
        .into_par_iter()
        .map(|i| {
            let (users, weights) = data.column(i);
            users
                .iter()
                .zip(weights)
                .map(|(&u, &w)| value(u as usize, i, w).powi(2))
                .sum::<f32>()
                .sqrt()
        })
        .collect();
    let k = params.k;
    let rows = super::cooccurrence_rows(data, value, |i, acc, touched| {
        let mut scored: Vec<(u32, f32)> = touched
            .iter()
            .filter(|&&j| j as usize != i)
            .map(|&j| {
                let s = acc[j as usize];
                let s = if normalise {
                    let d = norms[i] * norms[j as usize];
                    if d > 0.0 { s / d } else { 0.0 }
                } else {
                    s
                };
                (j, s)
            })
            .filter(|&(_, s)| s > 0.0)
            .collect();
        if scored.len() > k {
            scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            scored.truncate(k);
        }
        scored.sort_by_key(|a| a.0);
        scored
    });
    ctx.check()?;
    let mut ptr = Vec::with_capacity(rows.len() + 1);
    ptr.push(0u32);
    let mut neighbours = Vec::new();
    let mut similarity = Vec::new();
    for row in rows {
        for (j, s) in row {
            neighbours.push(j);
            similarity.push(s);
        }
        ptr.push(neighbours.len() as u32);
    }
    Ok(ItemKnn {
        params: params.clone(),
        ptr,
        neighbours,
        similarity,
    })
}

impl ItemKnn {
    pub fn score_into(&self, query: &Query<'_>, out: &mut [f32]) {
        out.fill(0.0);
        let weights = history_weights(&query.history, self.params.recency);
        for (&i, &w) in query.history.items.iter().zip(&weights) {
            let Some(range) = self.range(i as usize) else {
                continue;
            };
            for (&j, &s) in self.neighbours[range.clone()]
                .iter()
                .zip(&self.similarity[range])
            {
                out[j as usize] += w * s;
            }
        }
    }

    fn range(&self, item: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.ptr.get(item)? as usize;
        let end = *self.ptr.get(item + 1)? as usize;
        Some(start..end)
    }

    /// The items most similar to `item`, best first.
    pub fn similar(&self, item: usize, n: usize) -> Vec<(u32, f32)> {
        let Some(range) = self.range(item) else {
            return Vec::new();
        };
        let mut dense: Vec<(u32, f32)> = self.neighbours[range.clone()]
            .iter()
            .copied()
            .zip(self.similarity[range].iter().copied())
            .collect();
        dense.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        dense.truncate(n);
        dense
    }
}
