//! The quality gate: a candidate model is published only if its NDCG@10 on a recent
//! holdout is at least the live model's minus a margin.
//!
//! Both are measured on the same temporal per-user holdout (each member's latest interactions,
//! members with enough history, titles known to training: the rules of `showrunner
//! evaluate`), each trained on the same earlier part. The live model is represented by its
//! algorithm and parameters retrained on that part, because the live artifact has been
//! trained on the held-out interactions themselves and would score them unfairly.

use serde::Serialize;
use showrunner_recommend::data::Holdout;
use showrunner_recommend::tune::evaluate_scorer;
use showrunner_recommend::{Metrics, Scorer};

/// The metric the gate compares.
pub const GATE_METRIC: &str = "ndcg@10";

/// What the gate decided and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub accepted: bool,
    pub candidate: f64,
    /// The live model's figure; absent when no model is live (the candidate then passes).
    pub live: Option<f64>,
    pub margin: f64,
    /// Members evaluated.
    pub users: usize,
    /// One sentence with the figures.
    pub reason: String,
}

/// The metrics of `scorer` (trained on `holdout.train`) on the held-out interactions.
pub fn measure(scorer: &Scorer, holdout: &Holdout) -> Metrics {
    evaluate_scorer(scorer, holdout, 20)
}

/// Accepts the candidate if its NDCG@10 is at least `live − margin`.
pub fn decide(candidate: &Metrics, live: Option<&Metrics>, margin: f64) -> Verdict {
    let candidate_value = candidate.get(GATE_METRIC);
    let live_value = live.map(|m| m.get(GATE_METRIC));
    let (accepted, reason) = match live_value {
        None => (
            true,
            format!("no model is live; candidate {GATE_METRIC} {candidate_value:.4}"),
        ),
        Some(live_value) => {
            let floor = live_value - margin;
            if candidate_value >= floor {
                (
                    true,
                    format!(
                        "candidate {GATE_METRIC} {candidate_value:.4} >= live {live_value:.4} \
                         - margin {margin} = {floor:.4}"
                    ),
                )
            } else {
                (
                    false,
                    format!(
                        "candidate {GATE_METRIC} {candidate_value:.4} < live {live_value:.4} \
                         - margin {margin} = {floor:.4}"
                    ),
                )
            }
        }
    };
    Verdict {
        accepted,
        candidate: candidate_value,
        live: live_value,
        margin,
        users: candidate.users,
        reason,
    }
}
