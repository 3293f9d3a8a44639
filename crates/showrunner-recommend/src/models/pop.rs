//! Popularity: how many users interacted with each item, optionally with each interaction
//! decayed by its age relative to the data's latest time (`0.5^(age / half_life)`), which
//! turns "most popular" into "trending".

use serde::{Deserialize, Serialize};

use crate::data::Interactions;
use crate::error::RecommendError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PopParams {
    /// Half-life of an interaction's weight in days; none counts every interaction fully.
    pub half_life_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    pub scores: Vec<f32>,
}

pub fn train(data: &Interactions, params: &PopParams) -> Result<Popularity, RecommendError> {
    if let Some(h) = params.half_life_days {
        super::check_positive("half_life_days", h)?;
    }
    if data.nnz() == 0 {
        return Err(RecommendError::NotTrainable {
            algo: "pop".into(),
            problem: "the training data has no interactions".into(),
        });
    }
    let now = data.last_time();
    let mut scores = vec![0f32; data.n_items()];
    for u in 0..data.n_users() {
        let row = data.row(u);
        for (&i, &t) in row.items.iter().zip(row.times) {
            scores[i as usize] += match params.half_life_days {
                Some(h) => 0.5f64.powf((now - t) as f64 / 86_400.0 / h) as f32,
                None => 1.0,
            };
        }
    }
    Ok(Popularity { scores })
}

impl Popularity {
    pub fn score_into(&self, out: &mut [f32]) {
        out.copy_from_slice(&self.scores);
    }
}
