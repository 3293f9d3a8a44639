//! Evaluation on a holdout and `--algo auto`: a hyper-parameter search that holds out the
//! latest 20% of each user's training history (users with 5 or more interactions), trains
//! every candidate on the rest, keeps the best by NDCG@10, and retrains it on everything.
//!
//! Parameters that only change how a query is scored (the recency half-life of item-based
//! models) are searched without retraining.

use rayon::prelude::*;

use crate::data::{Holdout, Interactions};
use crate::error::RecommendError;
use crate::metrics::{Metrics, evaluate};
use crate::model::{Scorer, Spec, train_scorer};
use crate::models::ease::EaseParams;
use crate::models::ials::{IalsParams, Solver};
use crate::models::knn::{KnnParams, Weighting};
use crate::models::pop::PopParams;
use crate::models::{Query, Recency, TrainContext};
use crate::topn::top_n;

/// The cut-offs every evaluation reports.
pub const CUTOFFS: [usize; 3] = [5, 10, 20];

/// Scores every held-out user's top-K (over the whole catalog, never their training
/// items) and computes the metrics.
pub fn evaluate_scorer(scorer: &Scorer, holdout: &Holdout, k: usize) -> Metrics {
    let train = &holdout.train;
    let users = train.user_index();
    let items = train.item_index();
    let n_items = train.n_items();
    let (lists, held): (Vec<Vec<u32>>, Vec<Vec<u32>>) = holdout
        .test
        .par_iter()
        .map_init(
            || vec![0f32; n_items],
            |scores, (user, held)| {
                let held: Vec<u32> = held
                    .iter()
                    .filter_map(|i| items.get(i.as_str()).copied())
                    .collect();
                let Some(&u) = users.get(user.as_str()) else {
                    return (Vec::new(), held);
                };
                let row = train.row(u as usize);
                scorer.score_into(
                    &Query {
                        user: Some(u as usize),
                        history: row,
                    },
                    scores,
                );
                // Training items never count: top_n skips non-finite scores.
                for &i in row.items {
                    scores[i as usize] = f32::NEG_INFINITY;
                }
                let top = top_n(scores, k, |_| false);
                (top.into_iter().map(|(i, _)| i).collect(), held)
            },
        )
        .unzip();
    evaluate(
        &lists,
        &held,
        &train.item_counts(),
        train.n_users(),
        &CUTOFFS,
    )
}

fn score_candidate(
    spec: Spec,
    scorers: Vec<Scorer>,
    folds: &[&Holdout],
) -> (Trial, f64, Vec<Scorer>) {
    let metrics: Vec<Metrics> = scorers
        .iter()
        .zip(folds)
        .map(|(scorer, fold)| evaluate_scorer(scorer, fold, 20))
        .collect();
    let mean = metrics.iter().map(|m| m.get("ndcg@10")).sum::<f64>() / metrics.len() as f64;
    let first = metrics.into_iter().next().unwrap_or_default();
    (
        Trial {
            spec,
            metrics: first,
        },
        mean,
        scorers,
    )
}

/// One candidate's outcome.
#[derive(Debug, Clone)]
pub struct Trial {
    pub spec: Spec,
    pub metrics: Metrics,
}

/// The default search space of `--algo auto` (or of one algorithm).
pub fn default_grid(algo: &str, threads: usize) -> Vec<Spec> {
    let mut grid = Vec::new();
    if algo == "auto" || algo == "pop" {
        grid.push(Spec::Pop(PopParams::default()));
    }
    if algo == "auto" || algo == "itemknn" {
        for k in [50, 100, 200, 400] {
            grid.push(Spec::ItemKnn(KnnParams {
                k,
                weighting: Weighting::Cosine,
                recency: Recency::None,
            }));
        }
        for k in [100, 400] {
            grid.push(Spec::ItemKnn(KnnParams {
                k,
                weighting: Weighting::Bm25 { k1: 1.2, b: 0.75 },
                recency: Recency::None,
            }));
        }
    }
    if algo == "auto" || algo == "ease" {
        for lambda in [50.0, 100.0, 200.0, 400.0, 800.0] {
            grid.push(Spec::Ease(EaseParams {
                lambda,
                recency: Recency::None,
            }));
        }
    }
    if algo == "auto" || algo == "ials" {
        for factors in [64, 128] {
            for regularization in [1.0, 10.0, 50.0] {
                for alpha in [0.0, 1.0, 5.0, 20.0] {
                    grid.push(Spec::Ials(IalsParams {
                        factors,
                        iterations: 15,
                        regularization,
                        alpha,
                        solver: Solver::Cg,
                        cg_steps: 3,
                        threads,
                        seed: 42,
                        recency: Recency::None,
                    }));
                }
            }
        }
    }
    grid
}

/// Query-time variants of a trained scorer (same training, different recency weighting).
fn variants(spec: &Spec, scorer: &Scorer) -> Vec<(Spec, Scorer)> {
    let mut out = vec![(spec.clone(), scorer.clone())];
    let recencies = [
        Recency::Share { half_life: 0.1 },
        Recency::Share { half_life: 0.25 },
        Recency::Share { half_life: 0.5 },
        Recency::Positions { half_life: 20.0 },
    ];
    for recency in recencies {
        match (spec, scorer) {
            (Spec::Ease(p), Scorer::Ease(m)) => {
                let mut p = p.clone();
                p.recency = recency;
                let mut m = m.clone();
                m.params = p.clone();
                out.push((Spec::Ease(p), Scorer::Ease(m)));
            }
            (Spec::ItemKnn(p), Scorer::ItemKnn(m)) => {
                let mut p = p.clone();
                p.recency = recency;
                let mut m = m.clone();
                m.params = p.clone();
                out.push((Spec::ItemKnn(p), Scorer::ItemKnn(m)));
            }
            _ => break,
        }
    }
    out
}

/// Searches `grid` on validation holdouts of `data` and returns every trial, best first.
///
/// Two temporal folds: the latest 20% of each user's history (the validation the issue of
/// `--algo auto` names) and, before it, the latest 20% of what remains. A candidate's score
/// is its NDCG@10 averaged over both, which halves the variance of the choice on small
/// data (a few hundred users) without ever looking at the test period. The metrics kept
/// are the first fold's. After the single models, blends of the best two algorithms are
/// tried.
pub fn search(
    data: &Interactions,
    grid: &[Spec],
    ctx: TrainContext<'_>,
) -> Result<Vec<Trial>, RecommendError> {
    let holdout = data.temporal_holdout(0.2, 5);
    let earlier = holdout.train.temporal_holdout(0.2, 5);
    let folds: Vec<&Holdout> = if earlier.test.is_empty() {
        vec![&holdout]
    } else {
        vec![&holdout, &earlier]
    };
    if holdout.test.is_empty() {
        return Err(RecommendError::NotTrainable {
            algo: "auto".into(),
            problem: "no user has 5 or more interactions, so there is nothing to validate on; \
                      choose an algorithm with --algo"
                .into(),
        });
    }
    // Per candidate: its spec, its first-fold metrics, its mean NDCG@10 over the folds,
    // and its scorer on each fold (kept for the blends).
    let mut trials: Vec<(Trial, f64, Vec<Scorer>)> = Vec::new();
    let total = grid.len() as u64;
    let quiet = TrainContext {
        progress: None,
        ..ctx
    };
    for (n, spec) in grid.iter().enumerate() {
        ctx.check()?;
        ctx.report("search", n as u64, total);
        let mut per_fold: Vec<Vec<(Spec, Scorer)>> = Vec::new();
        for fold in &folds {
            match train_scorer(spec, &fold.train, quiet) {
                Ok(scorer) => per_fold.push(variants(spec, &scorer)),
                Err(RecommendError::Interrupted) => return Err(RecommendError::Interrupted),
                // A candidate that cannot train on this data (EASE on a huge catalog, say)
                // drops out of the search.
                Err(_) => break,
            }
        }
        if per_fold.len() != folds.len() {
            continue;
        }
        for v in 0..per_fold[0].len() {
            let scorers: Vec<Scorer> = per_fold.iter().map(|f| f[v].1.clone()).collect();
            trials.push(score_candidate(per_fold[0][v].0.clone(), scorers, &folds));
        }
    }
    ctx.report("search", total, total);
    // Blends of the best model of each of the two best algorithms.
    let mut best_per_algo: Vec<&(Trial, f64, Vec<Scorer>)> = Vec::new();
    for trial in &trials {
        match best_per_algo
            .iter_mut()
            .find(|b| b.0.spec.algo() == trial.0.spec.algo())
        {
            Some(b) if b.1 >= trial.1 => {}
            Some(b) => *b = trial,
            None => best_per_algo.push(trial),
        }
    }
    best_per_algo.retain(|b| b.0.spec.algo() != "pop");
    best_per_algo.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut blends = Vec::new();
    if best_per_algo.len() >= 2 {
        let (first, second) = (best_per_algo[0], best_per_algo[1]);
        for w in [0.2f32, 0.35, 0.5] {
            let spec = Spec::Blend {
                parts: vec![(first.0.spec.clone(), 1.0 - w), (second.0.spec.clone(), w)],
            };
            let scorers = first
                .2
                .iter()
                .zip(&second.2)
                .map(|(a, b)| Scorer::Blend(vec![(a.clone(), 1.0 - w), (b.clone(), w)]))
                .collect();
            blends.push(score_candidate(spec, scorers, &folds));
        }
    }
    trials.extend(blends);
    trials.sort_by(|a, b| b.1.total_cmp(&a.1));
    let trials: Vec<Trial> = trials
        .into_iter()
        .map(|(mut t, mean, _)| {
            t.metrics.values.insert("ndcg@10_folds_mean".into(), mean);
            t
        })
        .collect();
    if trials.is_empty() {
        return Err(RecommendError::NotTrainable {
            algo: "auto".into(),
            problem: "no candidate could be trained on this data".into(),
        });
    }
    Ok(trials)
}
