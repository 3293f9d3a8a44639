//! Implicit ALS (Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback
//! Datasets", ICDM 2008).
//!
//! Every (user, item) pair has a preference `p = 1` if the user interacted with the item and
//! 0 otherwise, and a confidence `c = 1 + α·w` for interactions (`w` is the interaction's
//! weight) and 1 otherwise. ALS alternates between solving every user's factors with the
//! item factors fixed and the reverse, each a ridge regression
//! `(YᵀY + λI + Σ_i (c_i − 1) y_i y_iᵀ) x = Σ_i c_i y_i` over the user's items only, using
//! the precomputed `YᵀY` (the trick that makes the all-pairs loss cheap).
//!
//! Solvers: `cg` runs a few conjugate-gradient steps warm-started from the previous factors
//! (Takács, Pilászy & Tikk 2011), cheap per step (`f² + 4·n_u·f`); `cholesky` solves exactly
//! (`n_u·f² + f³/3`). Users and items are solved in parallel on a rayon pool of `threads`.
//!
//! Note on `alpha` against the `implicit` library: implicit multiplies the input by alpha and
//! uses the product as the confidence itself (`c = α·w`), where the paper's `c = 1 + α·w`
//! is used here. With binary input, implicit's α corresponds to our `α − 1`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Query, Recency, TrainContext, history_weights};
use crate::data::Interactions;
use crate::error::RecommendError;
use pulp::{Simd, WithSimd};

use crate::linalg::{axpy_s, cholesky_solve, dot_s, gram, symv_s};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    Cg,
    Cholesky,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IalsParams {
    pub factors: usize,
    pub iterations: usize,
    /// λ, added to the diagonal of every normal equation.
    pub regularization: f32,
    /// α in `c = 1 + α·w`.
    pub alpha: f32,
    pub solver: Solver,
    /// Conjugate-gradient steps per solve (with `solver = cg`).
    pub cg_steps: usize,
    /// Threads for training (0 = rayon's default).
    pub threads: usize,
    pub seed: u64,
    /// When set, a known user is scored by folding in their history with recency-weighted
    /// confidences instead of their trained factors (a query-time variant).
    #[serde(default, skip_serializing_if = "Recency::is_none")]
    pub recency: Recency,
}

impl Default for IalsParams {
    fn default() -> Self {
        IalsParams {
            factors: 64,
            iterations: 15,
            regularization: 1.0,
            alpha: 1.0,
            solver: Solver::Cg,
            cg_steps: 3,
            threads: 0,
            seed: 42,
            recency: Recency::None,
        }
    }
}

/// Trained factors, row-major (`n_users x factors` and `n_items x factors`), and `YᵀY + λI`
/// for folding in new users.
#[derive(Debug, Clone, PartialEq)]
pub struct Ials {
    pub params: IalsParams,
    pub user_factors: Vec<f32>,
    pub item_factors: Vec<f32>,
    pub yty: Vec<f32>,
}

pub fn train(
    data: &Interactions,
    params: &IalsParams,
    ctx: TrainContext<'_>,
) -> Result<Ials, RecommendError> {
    super::check_trainable("ials", data)?;
    let f = params.factors;
    if f == 0 || f > 1024 {
        return Err(RecommendError::BadParameter {
            name: "factors".into(),
            problem: format!("must be between 1 and 1024 (got {f})"),
        });
    }
    super::check_positive("regularization", params.regularization as f64)?;
    if !(params.alpha.is_finite() && params.alpha >= 0.0) {
        return Err(RecommendError::BadParameter {
            name: "alpha".into(),
            problem: format!("must be a non-negative number (got {})", params.alpha),
        });
    }
    if params.solver == Solver::Cg && params.cg_steps == 0 {
        return Err(RecommendError::BadParameter {
            name: "cg_steps".into(),
            problem: "must be at least 1".into(),
        });
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.threads)
        .build()
        .map_err(|e| RecommendError::NotTrainable {
            algo: "ials".into(),
            problem: format!("cannot start {} threads: {e}", params.threads),
        })?;
    pool.install(|| train_in_pool(data, params, ctx))
}

fn train_in_pool(
    data: &Interactions,
    params: &IalsParams,
    ctx: TrainContext<'_>,
) -> Result<Ials, RecommendError> {
    let f = params.factors;
    let (n_users, n_items) = (data.n_users(), data.n_items());
    // Small random start, as is usual: uniform in [0, 0.01) (scaled by 1/sqrt(f) so the
    // initial dot products are of the same size whatever the number of factors).
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let scale = 0.1 / (f as f32).sqrt();
    let mut user_factors: Vec<f32> = (0..n_users * f)
        .map(|_| rng.random::<f32>() * scale)
        .collect();
    let mut item_factors: Vec<f32> = (0..n_items * f)
        .map(|_| rng.random::<f32>() * scale)
        .collect();
    let user_rows = |u: usize| {
        let r = data.row(u);
        (r.items, r.weights)
    };
    let item_rows = |i: usize| data.column(i);
    for it in 0..params.iterations {
        ctx.check()?;
        ctx.report("iterations", it as u64, params.iterations as u64);
        let yty = gram(&item_factors, n_items, f, params.regularization);
        solve_side(
            &mut user_factors,
            &item_factors,
            &yty,
            f,
            params,
            &user_rows,
        );
        let xtx = gram(&user_factors, n_users, f, params.regularization);
        solve_side(
            &mut item_factors,
            &user_factors,
            &xtx,
            f,
            params,
            &item_rows,
        );
    }
    ctx.report(
        "iterations",
        params.iterations as u64,
        params.iterations as u64,
    );
    let yty = gram(&item_factors, n_items, f, params.regularization);
    Ok(Ials {
        params: params.clone(),
        user_factors,
        item_factors,
        yty,
    })
}

/// Solves every row of `targets` against the fixed `other` factors.
fn solve_side<'a>(
    targets: &mut [f32],
    other: &[f32],
    gram_reg: &[f32],
    f: usize,
    params: &IalsParams,
    rows: &(impl Fn(usize) -> (&'a [u32], &'a [f32]) + Sync),
) {
    let alpha = params.alpha;
    let arch = pulp::Arch::new();
    match params.solver {
        Solver::Cg => targets.par_chunks_mut(f).enumerate().for_each_init(
            || vec![0f32; 3 * f],
            |scratch, (t, x)| {
                let (idx, w) = rows(t);
                arch.dispatch(CgSolve {
                    x,
                    other,
                    g: gram_reg,
                    idx,
                    weights: w,
                    alpha,
                    steps: params.cg_steps,
                    scratch,
                });
            },
        ),
        Solver::Cholesky => targets.par_chunks_mut(f).enumerate().for_each_init(
            || vec![0f32; f * f],
            |a, (t, x)| {
                let (idx, w) = rows(t);
                arch.dispatch(ExactSolve {
                    x,
                    other,
                    g: gram_reg,
                    idx,
                    weights: w,
                    alpha,
                    a,
                });
            },
        ),
    }
}

/// A few conjugate-gradient steps on `A x = b`, warm-started from `x`, where
/// `A = G + Σ (c_i − 1) y_i y_iᵀ` and `b = Σ c_i y_i`, without forming `A`.
struct CgSolve<'a> {
    x: &'a mut [f32],
    other: &'a [f32],
    g: &'a [f32],
    idx: &'a [u32],
    weights: &'a [f32],
    alpha: f32,
    steps: usize,
    /// `3 f` floats.
    scratch: &'a mut [f32],
}

impl WithSimd for CgSolve<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let CgSolve {
            x,
            other,
            g,
            idx,
            weights,
            alpha,
            steps,
            scratch,
        } = self;
        let f = x.len();
        let (r, rest) = scratch.split_at_mut(f);
        let (p, ap) = rest.split_at_mut(f);
        if idx.is_empty() {
            // No interactions: the solution of G x = 0 is 0.
            x.fill(0.0);
            return;
        }
        // r = b − A x = Σ (c_i − (c_i − 1) y_i·x) y_i − G x
        symv_s(simd, g, x, r);
        for v in r.iter_mut() {
            *v = -*v;
        }
        for (&i, &w) in idx.iter().zip(weights) {
            let y = &other[i as usize * f..(i as usize + 1) * f];
            let c = 1.0 + alpha * w;
            axpy_s(simd, c - (c - 1.0) * dot_s(simd, y, x), y, r);
        }
        p.copy_from_slice(r);
        let mut rs_old = dot_s(simd, r, r);
        if rs_old < 1e-20 {
            return;
        }
        for _ in 0..steps {
            // ap = A p
            symv_s(simd, g, p, ap);
            for (&i, &w) in idx.iter().zip(weights) {
                let y = &other[i as usize * f..(i as usize + 1) * f];
                let c = 1.0 + alpha * w;
                axpy_s(simd, (c - 1.0) * dot_s(simd, y, p), y, ap);
            }
            let denom = dot_s(simd, p, ap);
            if denom <= 0.0 || !denom.is_finite() {
                break;
            }
            let step = rs_old / denom;
            axpy_s(simd, step, p, x);
            axpy_s(simd, -step, ap, r);
            let rs_new = dot_s(simd, r, r);
            if rs_new < 1e-20 {
                break;
            }
            let beta = rs_new / rs_old;
            for (pi, ri) in p.iter_mut().zip(r.iter()) {
                *pi = ri + beta * *pi;
            }
            rs_old = rs_new;
        }
    }
}

/// The exact solution by Cholesky: forms `A` and `b` and solves. `a` is `f x f` scratch.
struct ExactSolve<'a> {
    x: &'a mut [f32],
    other: &'a [f32],
    g: &'a [f32],
    idx: &'a [u32],
    weights: &'a [f32],
    alpha: f32,
    a: &'a mut [f32],
}

impl WithSimd for ExactSolve<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let ExactSolve {
            x,
            other,
            g,
            idx,
            weights,
            alpha,
            a,
        } = self;
        let f = x.len();
        a.copy_from_slice(g);
        x.fill(0.0);
        for (&i, &w) in idx.iter().zip(weights) {
            let y = &other[i as usize * f..(i as usize + 1) * f];
            let c = 1.0 + alpha * w;
            for r in 0..f {
                axpy_s(simd, (c - 1.0) * y[r], y, &mut a[r * f..(r + 1) * f]);
            }
            axpy_s(simd, c, y, x);
        }
        if !cholesky_solve(a, x) {
            x.fill(0.0);
        }
    }
}

/// `out[i] = x · y_i` for every item.
struct ScoreAll<'a> {
    x: &'a [f32],
    items: &'a [f32],
    out: &'a mut [f32],
}

impl WithSimd for ScoreAll<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let f = self.x.len();
        for (slot, y) in self.out.iter_mut().zip(self.items.chunks_exact(f)) {
            *slot = dot_s(simd, self.x, y);
        }
    }
}

impl Ials {
    pub fn factors(&self) -> usize {
        self.params.factors
    }

    pub fn n_items(&self) -> usize {
        self.item_factors.len() / self.params.factors.max(1)
    }

    pub fn n_users(&self) -> usize {
        self.user_factors.len() / self.params.factors.max(1)
    }

    /// The factors of a user not seen at training time, from their history: the exact
    /// least-squares solution with the item factors fixed (one ALS half-step).
    pub fn fold_in(&self, items: &[u32], weights: &[f32]) -> Vec<f32> {
        let f = self.params.factors;
        let mut x = vec![0f32; f];
        let mut a = vec![0f32; f * f];
        let (idx, w): (Vec<u32>, Vec<f32>) = items
            .iter()
            .zip(weights)
            .filter(|&(&i, _)| (i as usize) < self.n_items())
            .map(|(&i, &w)| (i, w))
            .unzip();
        pulp::Arch::new().dispatch(ExactSolve {
            x: &mut x,
            other: &self.item_factors,
            g: &self.yty,
            idx: &idx,
            weights: &w,
            alpha: self.params.alpha,
            a: &mut a,
        });
        x
    }

    pub fn score_into(&self, query: &Query<'_>, out: &mut [f32]) {
        let f = self.params.factors;
        let folded;
        let x = match query.user {
            Some(u) if u < self.n_users() && self.params.recency.is_none() => {
                &self.user_factors[u * f..(u + 1) * f]
            }
            _ => {
                let weights = history_weights(&query.history, self.params.recency);
                folded = self.fold_in(query.history.items, &weights);
                &folded
            }
        };
        pulp::Arch::new().dispatch(ScoreAll {
            x,
            items: &self.item_factors,
            out,
        });
    }
}
