//! A trained model with everything needed to serve it: the algorithm's state, the training
//! histories (to score item-based models, fold in, and never recommend back what a user
//! already has), the id maps, popularity for cold start, and a self-describing manifest.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::data::{Interactions, Row};
use crate::error::RecommendError;
use crate::format::{BlobIndex, BlobReader, BlobWriter};
use crate::metrics::Metrics;
use crate::models::blend::standardise;
use crate::models::ease::{Ease, EaseParams};
use crate::models::ials::{Ials, IalsParams};
use crate::models::knn::{ItemKnn, KnnParams};
use crate::models::pop::{PopParams, Popularity};
use crate::models::{Query, TrainContext};
use crate::topn::top_n;

/// Bumped whenever the saved form changes; a model of another format is refused.
pub const FORMAT_VERSION: u32 = 2;

/// An algorithm and its hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algo", rename_all = "lowercase")]
pub enum Spec {
    Pop(PopParams),
    ItemKnn(KnnParams),
    Ials(IalsParams),
    Ease(EaseParams),
    /// Weighted sum of per-user standardised scores.
    Blend {
        parts: Vec<(Spec, f32)>,
    },
}

impl Spec {
    pub fn algo(&self) -> &'static str {
        match self {
            Spec::Pop(_) => "pop",
            Spec::ItemKnn(_) => "itemknn",
            Spec::Ials(_) => "ials",
            Spec::Ease(_) => "ease",
            Spec::Blend { .. } => "blend",
        }
    }

    /// The parameters as compact text, for tables and logs.
    pub fn describe(&self) -> String {
        match self {
            Spec::Blend { parts } => parts
                .iter()
                .map(|(s, w)| format!("{w}×[{}]", s.describe()))
                .collect::<Vec<_>>()
                .join(" + "),
            other => {
                let v = serde_json::to_value(other).unwrap_or_default();
                let mut text = String::new();
                if let Some(map) = v.as_object() {
                    for (k, v) in map {
                        if !text.is_empty() {
                            text.push(' ');
                        }
                        text.push_str(&format!("{k}={v}"));
                    }
                }
                text.replace('"', "")
            }
        }
    }
}

/// A trained algorithm's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Scorer {
    Pop(Popularity),
    ItemKnn(ItemKnn),
    Ials(Ials),
    Ease(Ease),
    Blend(Vec<(Scorer, f32)>),
}

pub fn train_scorer(
    spec: &Spec,
    data: &Interactions,
    ctx: TrainContext<'_>,
) -> Result<Scorer, RecommendError> {
    Ok(match spec {
        Spec::Pop(p) => Scorer::Pop(crate::models::pop::train(data, p)?),
        Spec::ItemKnn(p) => Scorer::ItemKnn(crate::models::knn::train(data, p, ctx)?),
        Spec::Ials(p) => Scorer::Ials(crate::models::ials::train(data, p, ctx)?),
        Spec::Ease(p) => Scorer::Ease(crate::models::ease::train(data, p, ctx)?),
        Spec::Blend { parts } => {
            if parts.is_empty() {
                return Err(RecommendError::BadParameter {
                    name: "blend".into(),
                    problem: "a blend needs at least one part".into(),
                });
            }
            let mut out = Vec::new();
            for (s, w) in parts {
                out.push((train_scorer(s, data, ctx)?, *w));
            }
            Scorer::Blend(out)
        }
    })
}

impl Scorer {
    /// Writes a score for every item into `out` (length = the number of items).
    pub fn score_into(&self, query: &Query<'_>, out: &mut [f32]) {
        match self {
            Scorer::Pop(m) => m.score_into(out),
            Scorer::ItemKnn(m) => m.score_into(query, out),
            Scorer::Ials(m) => m.score_into(query, out),
            Scorer::Ease(m) => m.score_into(query, out),
            Scorer::Blend(parts) => {
                out.fill(0.0);
                let mut part = vec![0f32; out.len()];
                for (scorer, w) in parts {
                    scorer.score_into(query, &mut part);
                    standardise(&mut part);
                    crate::linalg::axpy(*w, &part, out);
                }
            }
        }
    }

    fn save(&self, prefix: &str, blob: &mut BlobWriter) {
        match self {
            Scorer::Pop(m) => blob.f32s(&format!("{prefix}pop.scores"), &m.scores),
            Scorer::ItemKnn(m) => {
                blob.u32s(&format!("{prefix}knn.ptr"), &m.ptr);
                blob.u32s(&format!("{prefix}knn.neighbours"), &m.neighbours);
                blob.f32s(&format!("{prefix}knn.similarity"), &m.similarity);
            }
            Scorer::Ials(m) => {
                blob.f32s(&format!("{prefix}ials.user_factors"), &m.user_factors);
                blob.f32s(&format!("{prefix}ials.item_factors"), &m.item_factors);
            }
            Scorer::Ease(m) => blob.f32s(&format!("{prefix}ease.b"), &m.b),
            Scorer::Blend(parts) => {
                for (k, (s, _)) in parts.iter().enumerate() {
                    s.save(&format!("{prefix}{k}."), blob);
                }
            }
        }
    }

    fn load(
        spec: &Spec,
        prefix: &str,
        blob: &BlobReader<'_>,
        n_users: usize,
        n_items: usize,
    ) -> Result<Scorer, RecommendError> {
        let shape = |name: &str, got: usize, want: usize| {
            if got == want {
                Ok(())
            } else {
                Err(RecommendError::BadModel {
                    what: "data".into(),
                    problem: format!("array {name} has {got} values, expected {want}"),
                })
            }
        };
        Ok(match spec {
            Spec::Pop(_) => {
                let scores = blob.f32s(&format!("{prefix}pop.scores"))?;
                shape("pop.scores", scores.len(), n_items)?;
                Scorer::Pop(Popularity { scores })
            }
            Spec::ItemKnn(p) => {
                let ptr = blob.u32s(&format!("{prefix}knn.ptr"))?;
                let neighbours = blob.u32s(&format!("{prefix}knn.neighbours"))?;
                let similarity = blob.f32s(&format!("{prefix}knn.similarity"))?;
                shape("knn.ptr", ptr.len(), n_items + 1)?;
                shape("knn.similarity", similarity.len(), neighbours.len())?;
                let consistent = ptr.windows(2).all(|w| w[0] <= w[1])
                    && ptr.last().copied() == Some(neighbours.len() as u32)
                    && neighbours.iter().all(|&j| (j as usize) < n_items);
                if !consistent {
                    return Err(RecommendError::BadModel {
                        what: "data".into(),
                        problem: "item-kNN neighbour lists are inconsistent".into(),
                    });
                }
                Scorer::ItemKnn(ItemKnn {
                    params: p.clone(),
                    ptr,
                    neighbours,
                    similarity,
                })
            }
            Spec::Ials(p) => {
                let user_factors = blob.f32s(&format!("{prefix}ials.user_factors"))?;
                let item_factors = blob.f32s(&format!("{prefix}ials.item_factors"))?;
                shape("ials.user_factors", user_factors.len(), n_users * p.factors)?;
                shape("ials.item_factors", item_factors.len(), n_items * p.factors)?;
                let yty = crate::linalg::gram(&item_factors, n_items, p.factors, p.regularization);
                Scorer::Ials(Ials {
                    params: p.clone(),
                    user_factors,
                    item_factors,
                    yty,
                })
            }
            Spec::Ease(p) => {
                let b = blob.f32s(&format!("{prefix}ease.b"))?;
                shape("ease.b", b.len(), n_items * n_items)?;
                Scorer::Ease(Ease {
                    params: p.clone(),
                    n: n_items,
                    b,
                })
            }
            Spec::Blend { parts } => {
                let mut out = Vec::new();
                for (k, (s, w)) in parts.iter().enumerate() {
                    out.push((
                        Scorer::load(s, &format!("{prefix}{k}."), blob, n_users, n_items)?,
                        *w,
                    ));
                }
                Scorer::Blend(out)
            }
        })
    }
}

/// What the model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSnapshot {
    /// Where the data came from (a file name, a database).
    pub source: String,
    pub users: usize,
    pub items: usize,
    pub interactions: usize,
    /// Earliest and latest interaction time (seconds since the epoch).
    pub first_time: i64,
    pub last_time: i64,
}

/// The self-describing half of a saved model (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    /// A content hash of the model: equal versions are equal models.
    pub version: String,
    pub spec: Spec,
    pub trained_at: String,
    pub train_seconds: f64,
    pub data: DataSnapshot,
    /// Validation metrics when the model was chosen on a validation split.
    pub validation: Option<Metrics>,
    /// Every candidate tried by `--algo auto`, with its validation NDCG@10.
    #[serde(default)]
    pub search: Vec<(Spec, f64)>,
    pub blob: BlobIndex,
}

/// A model ready to serve.
#[derive(Debug, Clone)]
pub struct Model {
    pub manifest: Manifest,
    pub scorer: Scorer,
    /// The training data (histories used to score and to filter).
    pub data: Interactions,
    /// Interactions per item in training (cold-start fallback and metrics).
    pub popularity: Vec<f32>,
    /// Per user, items never to recommend (thumbs down), sorted.
    blocked: HashMap<u32, Vec<u32>>,
    user_index: HashMap<String, u32>,
    item_index: HashMap<String, u32>,
}

/// Options for one top-N request.
#[derive(Clone, Default)]
pub struct Filter<'a> {
    /// Items never to return (by index), beside the user's own history.
    pub exclude: Option<&'a (dyn Fn(u32) -> bool + Sync)>,
    /// Also return items the user already has in training (off by default).
    pub include_history: bool,
}

impl std::fmt::Debug for Filter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("exclude", &self.exclude.is_some())
            .field("include_history", &self.include_history)
            .finish()
    }
}

impl Model {
    pub fn new(
        spec: Spec,
        scorer: Scorer,
        data: Interactions,
        source: &str,
        trained_at: String,
        train_seconds: f64,
    ) -> Model {
        let popularity = data.item_counts().iter().map(|&c| c as f32).collect();
        let manifest = Manifest {
            format: "showrunner-model".into(),
            format_version: FORMAT_VERSION,
            version: String::new(),
            spec,
            trained_at,
            train_seconds,
            data: DataSnapshot {
                source: source.into(),
                users: data.n_users(),
                items: data.n_items(),
                interactions: data.nnz(),
                first_time: data.first_time(),
                last_time: data.last_time(),
            },
            validation: None,
            search: Vec::new(),
            blob: BlobIndex {
                arrays: Vec::new(),
                blob_bytes: 0,
                blob_xxh3: String::new(),
            },
        };
        let user_index = index(&data.user_ids);
        let item_index = index(&data.item_ids);
        Model {
            manifest,
            scorer,
            data,
            popularity,
            blocked: HashMap::new(),
            user_index,
            item_index,
        }
    }

    /// Marks (user, item) pairs never to recommend (thumbs down). Pairs naming a user or
    /// item the model does not know are skipped; their count is returned.
    pub fn block(&mut self, pairs: &[(String, String)]) -> usize {
        let mut unknown = 0;
        for (user, item) in pairs {
            match (self.user(user), self.item(item)) {
                (Some(u), Some(i)) => self.blocked.entry(u as u32).or_default().push(i as u32),
                _ => unknown += 1,
            }
        }
        for list in self.blocked.values_mut() {
            list.sort_unstable();
            list.dedup();
        }
        unknown
    }

    /// The items a user must never be recommended.
    pub fn blocked_for(&self, user: usize) -> &[u32] {
        self.blocked.get(&(user as u32)).map_or(&[], Vec::as_slice)
    }

    pub fn user(&self, id: &str) -> Option<usize> {
        self.user_index.get(id).map(|&u| u as usize)
    }

    pub fn item(&self, id: &str) -> Option<usize> {
        self.item_index.get(id).map(|&i| i as usize)
    }

    pub fn n_items(&self) -> usize {
        self.data.n_items()
    }

    /// Scores every item for a known user.
    pub fn score_user(&self, user: usize, out: &mut [f32]) {
        let query = Query {
            user: Some(user),
            history: self.data.row(user),
        };
        self.scorer.score_into(&query, out);
    }

    /// What a member the model does not know gets: a popularity model's own (possibly
    /// time-decayed) scores, otherwise the training popularity.
    pub fn cold_start_scores(&self) -> &[f32] {
        match &self.scorer {
            Scorer::Pop(p) => &p.scores,
            _ => &self.popularity,
        }
    }

    /// Scores every item for a history the model has not seen (a new member): item-based
    /// models use it directly, iALS folds it in. An empty history gets popularity.
    pub fn score_history(&self, history: Row<'_>, out: &mut [f32]) {
        if history.is_empty() {
            out.copy_from_slice(self.cold_start_scores());
            return;
        }
        let query = Query {
            user: None,
            history,
        };
        self.scorer.score_into(&query, out);
    }

    /// The top `k` items for a user id, never an item in their training history (unless
    /// asked). An unknown user gets the cold-start list (most popular), marked by `false`.
    pub fn recommend(&self, user: &str, k: usize, filter: &Filter<'_>) -> (Vec<(u32, f32)>, bool) {
        let mut scores = vec![0f32; self.n_items()];
        match self.user(user) {
            Some(u) => {
                if self.data.row(u).is_empty() {
                    // Known (say, from a thumbs down) but with nothing to go on.
                    scores.copy_from_slice(self.cold_start_scores());
                } else {
                    self.score_user(u, &mut scores);
                }
                for &i in self.blocked_for(u) {
                    scores[i as usize] = f32::NEG_INFINITY;
                }
                (self.top(&scores, k, self.data.row(u).items, filter), true)
            }
            None => {
                scores.copy_from_slice(self.cold_start_scores());
                (self.top(&scores, k, &[], filter), false)
            }
        }
    }

    /// Top `k` of `scores`, skipping `history` (sorted or not) and the filter's exclusions.
    pub fn top(
        &self,
        scores: &[f32],
        k: usize,
        history: &[u32],
        filter: &Filter<'_>,
    ) -> Vec<(u32, f32)> {
        let mut seen = vec![
            false;
            if filter.include_history {
                0
            } else {
                scores.len()
            }
        ];
        if !filter.include_history {
            for &i in history {
                if let Some(s) = seen.get_mut(i as usize) {
                    *s = true;
                }
            }
        }
        top_n(scores, k, |i| {
            seen.get(i as usize).copied().unwrap_or(false) || filter.exclude.is_some_and(|f| f(i))
        })
    }

    /// Saves to bytes: the manifest (JSON) and the blob.
    pub fn to_bytes(&mut self) -> Result<(String, Vec<u8>), RecommendError> {
        let mut blob = BlobWriter::default();
        blob.strings("users", &self.data.user_ids);
        blob.strings("items", &self.data.item_ids);
        let (ptr, items, times, weights) = self.data.rows_parts();
        let ptr: Vec<u64> = ptr.iter().map(|&p| p as u64).collect();
        blob.u64s("rows.ptr", &ptr);
        blob.u32s("rows.items", items);
        blob.i64s("rows.times", times);
        blob.f32s("rows.weights", weights);
        let mut blocked_users = Vec::new();
        let mut blocked_items = Vec::new();
        let mut keys: Vec<&u32> = self.blocked.keys().collect();
        keys.sort();
        for u in keys {
            for &i in &self.blocked[u] {
                blocked_users.push(*u);
                blocked_items.push(i);
            }
        }
        blob.u32s("blocked.users", &blocked_users);
        blob.u32s("blocked.items", &blocked_items);
        self.scorer.save("model.", &mut blob);
        let (index, bytes) = blob.finish();
        self.manifest.version = index.blob_xxh3.clone();
        self.manifest.blob = index;
        let json =
            serde_json::to_string_pretty(&self.manifest).map_err(|e| RecommendError::BadModel {
                what: "manifest".into(),
                problem: e.to_string(),
            })?;
        Ok((json, bytes))
    }

    /// Loads from the manifest text and the blob, checking format, version, length and
    /// checksum before using anything.
    pub fn from_bytes(manifest: &str, blob: &[u8]) -> Result<Model, RecommendError> {
        let value: serde_json::Value =
            serde_json::from_str(manifest).map_err(|e| RecommendError::BadModel {
                what: "manifest".into(),
                problem: format!("is not valid JSON: {e}"),
            })?;
        if value.get("format").and_then(|f| f.as_str()) != Some("showrunner-model") {
            return Err(RecommendError::BadModel {
                what: "manifest".into(),
                problem: "is not a showrunner model manifest".into(),
            });
        }
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(FORMAT_VERSION as u64) {
            return Err(RecommendError::BadModel {
                what: "manifest".into(),
                problem: format!(
                    "has format version {}, this showrunner reads version {FORMAT_VERSION}; retrain the model",
                    version.map_or("(none)".to_string(), |v| v.to_string())
                ),
            });
        }
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| RecommendError::BadModel {
                what: "manifest".into(),
                problem: e.to_string(),
            })?;
        let reader = BlobReader::new(&manifest.blob, blob)?;
        let users = reader.strings("users")?;
        let items = reader.strings("items")?;
        let ptr: Vec<usize> = reader
            .u64s("rows.ptr")?
            .into_iter()
            .map(|p| p as usize)
            .collect();
        let data = Interactions::from_rows(
            users,
            items,
            ptr,
            reader.u32s("rows.items")?,
            reader.i64s("rows.times")?,
            reader.f32s("rows.weights")?,
        )
        .map_err(|problem| RecommendError::BadModel {
            what: "data".into(),
            problem,
        })?;
        let scorer = Scorer::load(
            &manifest.spec,
            "model.",
            &reader,
            data.n_users(),
            data.n_items(),
        )?;
        let popularity = data.item_counts().iter().map(|&c| c as f32).collect();
        let blocked_users = reader.u32s("blocked.users")?;
        let blocked_items = reader.u32s("blocked.items")?;
        if blocked_users.len() != blocked_items.len()
            || blocked_users.iter().any(|&u| u as usize >= data.n_users())
            || blocked_items.iter().any(|&i| i as usize >= data.n_items())
        {
            return Err(RecommendError::BadModel {
                what: "data".into(),
                problem: "the blocked pairs name users or items beyond the model".into(),
            });
        }
        let mut blocked: HashMap<u32, Vec<u32>> = HashMap::new();
        for (u, i) in blocked_users.into_iter().zip(blocked_items) {
            blocked.entry(u).or_default().push(i);
        }
        let user_index = index(&data.user_ids);
        let item_index = index(&data.item_ids);
        Ok(Model {
            manifest,
            scorer,
            data,
            popularity,
            blocked,
            user_index,
            item_index,
        })
    }
}

fn index(ids: &[String]) -> HashMap<String, u32> {
    ids.iter()
        .enumerate()
        .map(|(k, id)| (id.clone(), k as u32))
        .collect()
}
