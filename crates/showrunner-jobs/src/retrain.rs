//! The retrain job: trains a candidate on the store's data, puts it and the live model's
//! configuration through the quality [`gate`](crate::gate) on a recent holdout, and either
//! publishes it as the live model (trained again on all the data) or records it as
//! rejected with the reason. Servers swap a published model in on their next poll.

use std::time::Instant;

use showrunner_recommend::tune::{default_grid, search};
use showrunner_recommend::{Manifest, Model, Spec, TrainContext, train_scorer};
use showrunner_store::ModelStatus;

use crate::config::RetrainConfig;
use crate::error::JobError;
use crate::gate;
use crate::scheduler::{Job, RunContext};
use crate::training::{registration, signals_from_store};

/// Who the registry says published the job's models.
pub const PUBLISHED_BY: &str = "job retrain";

#[derive(Debug, Clone)]
pub struct RetrainJob {
    config: RetrainConfig,
    /// Trains exactly this instead of `config.algo` (tests use it for a deliberately bad
    /// model).
    candidate: Option<Spec>,
}

impl RetrainJob {
    pub fn new(config: RetrainConfig) -> RetrainJob {
        RetrainJob {
            config,
            candidate: None,
        }
    }

    /// The job with a fixed candidate specification.
    pub fn with_candidate(config: RetrainConfig, spec: Spec) -> RetrainJob {
        RetrainJob {
            config,
            candidate: Some(spec),
        }
    }
}

fn default_spec(algo: &str) -> Spec {
    use showrunner_recommend::models::ease::EaseParams;
    use showrunner_recommend::models::ials::IalsParams;
    use showrunner_recommend::models::knn::KnnParams;
    use showrunner_recommend::models::pop::PopParams;
    match algo {
        "ials" => Spec::Ials(IalsParams::default()),
        "itemknn" => Spec::ItemKnn(KnnParams::default()),
        "pop" => Spec::Pop(PopParams::default()),
        _ => Spec::Ease(EaseParams::default()),
    }
}

impl Job for RetrainJob {
    fn name(&self) -> &'static str {
        "retrain"
    }

    fn run(&self, context: &mut RunContext<'_>) -> Result<serde_json::Value, JobError> {
        let config = &self.config;
        let (signals, live) = {
            let store = showrunner_store::open_path_read_only(context.db)?;
            let signals = signals_from_store(&*store, config.decay_days)?;
            let live = match store.latest_model()? {
                Some(info) => store.published_model(info.version)?,
                None => None,
            };
            (signals, live)
        };
        let data = &signals.interactions;
        context.log(format!(
            "read {} interactions of {} members on {} titles ({} views)",
            data.nnz(),
            data.n_users(),
            data.n_items(),
            signals.views_used
        ));
        if data.nnz() == 0 {
            return Err(JobError::Failed(
                "the store has no views, ratings or impressions to train on".into(),
            ));
        }
        let holdout = data.temporal_holdout(config.holdout_fraction, config.min_events);
        if holdout.test.is_empty() {
            return Err(JobError::Failed(format!(
                "no member has {} or more interactions, so there is no holdout to gate on",
                config.min_events
            )));
        }
        let live_spec = match &live {
            Some(published) => {
                let manifest: Manifest =
                    serde_json::from_str(&published.manifest).map_err(|e| {
                        JobError::Failed(format!(
                            "the live model (version {}) has a manifest this showrunner cannot \
                         read: {e}",
                            published.info.version
                        ))
                    })?;
                Some((published.info.version, manifest.spec))
            }
            None => None,
        };
        let ctx = TrainContext::default();
        let spec = match (&self.candidate, config.algo.as_str()) {
            (Some(spec), _) => spec.clone(),
            (None, "auto") => {
                context.log("searching every algorithm's grid on a validation split");
                let trials = search(&holdout.train, &default_grid("auto", 0), ctx)?;
                trials
                    .first()
                    .map(|t| t.spec.clone())
                    .ok_or_else(|| JobError::Failed("the search tried nothing".into()))?
            }
            (None, "live") => live_spec
                .as_ref()
                .map_or_else(|| default_spec("ease"), |(_, spec)| spec.clone()),
            (None, algo) => default_spec(algo),
        };
        context.log(format!("candidate: {} ({})", spec.algo(), spec.describe()));
        let started = Instant::now();
        let candidate_scorer = train_scorer(&spec, &holdout.train, ctx)?;
        let candidate_metrics = gate::measure(&candidate_scorer, &holdout);
        let live_metrics = match &live_spec {
            Some((version, live_spec)) => {
                context.log(format!(
                    "live: version {version}, {} ({})",
                    live_spec.algo(),
                    live_spec.describe()
                ));
                let scorer = train_scorer(live_spec, &holdout.train, ctx)?;
                Some(gate::measure(&scorer, &holdout))
            }
            None => None,
        };
        let verdict = gate::decide(&candidate_metrics, live_metrics.as_ref(), config.margin);
        context.log(format!(
            "gate on {} members: {}",
            verdict.users, verdict.reason
        ));
        let metrics = serde_json::json!({
            "gate": verdict,
            "candidate": candidate_metrics.values,
            "live": live_metrics.as_ref().map(|m| &m.values),
            "live_version": live_spec.as_ref().map(|(v, _)| *v),
        });
        let source = context.db.display().to_string();
        let trained_at = context.now.to_rfc3339();
        let (mut model, status) = if verdict.accepted {
            // Published models learn from everything, the held-out part included.
            let scorer = train_scorer(&spec, data, ctx)?;
            let model = Model::new(
                spec.clone(),
                scorer,
                data.clone(),
                &source,
                trained_at,
                started.elapsed().as_secs_f64(),
            );
            (model, ModelStatus::Live)
        } else {
            // Kept as evaluated, so an operator who promotes it anyway gets what was judged.
            let model = Model::new(
                spec.clone(),
                candidate_scorer,
                holdout.train.clone(),
                &source,
                trained_at,
                started.elapsed().as_secs_f64(),
            );
            (model, ModelStatus::Rejected)
        };
        model.block(&signals.blocked);
        let (manifest, blob) = model.to_bytes()?;
        let record = registration(
            &model,
            PUBLISHED_BY,
            status,
            metrics,
            Some(verdict.reason.clone()),
        );
        let version =
            showrunner_store::open_path(context.db)?.register_model(&manifest, &blob, &record)?;
        context.log(format!("registered as version {version}, {status}"));
        Ok(serde_json::json!({
            "version": version,
            "status": status,
            "accepted": verdict.accepted,
            "candidate_ndcg@10": verdict.candidate,
            "live_ndcg@10": verdict.live,
            "live_version": live_spec.as_ref().map(|(v, _)| *v),
            "margin": verdict.margin,
            "users_evaluated": verdict.users,
            "interactions": data.nnz(),
            "seconds": started.elapsed().as_secs_f64(),
        }))
    }
}
