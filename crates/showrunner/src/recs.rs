//! `showrunner train`, `recommend` and `evaluate`: the recommendation engine on the command
//! line, in the shape the common yardstick (`../shared/bench/recs`) drives.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use showrunner_recommend::data::Holdout;
use showrunner_recommend::models::Recency;
use showrunner_recommend::models::ease::EaseParams;
use showrunner_recommend::models::ials::{IalsParams, Solver};
use showrunner_recommend::models::knn::{KnnParams, Weighting};
use showrunner_recommend::models::pop::PopParams;
use showrunner_recommend::signals::Signals;
use showrunner_recommend::tune::{default_grid, evaluate_scorer, search};
use showrunner_recommend::{
    Filter, Interactions, Model, RecommendError, Spec, TrainContext, read_interactions_csv,
    train_scorer,
};

use crate::exit::Outcome;
use crate::progress::cancel_flag;

const MANIFEST: &str = "model.json";
const BLOB: &str = "model.bin";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Algo {
    /// Search every algorithm's grid on a validation holdout, keep the best by NDCG@10.
    Auto,
    Pop,
    Itemknn,
    Ials,
    Ease,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KnnWeighting {
    Cosine,
    Bm25,
    Tfidf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SolverArg {
    Cg,
    Cholesky,
}

/// Hyper-parameters that can be fixed on the command line (each applies to its algorithm).
#[derive(Debug, clap::Args)]
pub struct HyperArgs {
    /// iALS: latent factors.
    #[arg(long)]
    factors: Option<usize>,
    /// iALS: ALS sweeps.
    #[arg(long)]
    iterations: Option<usize>,
    /// iALS: L2 regularisation λ.
    #[arg(long)]
    regularization: Option<f32>,
    /// iALS: confidence slope α in c = 1 + α·weight.
    #[arg(long)]
    alpha: Option<f32>,
    /// iALS: cg (a few conjugate-gradient steps) or cholesky (exact).
    #[arg(long, value_enum)]
    solver: Option<SolverArg>,
    /// iALS: conjugate-gradient steps per solve.
    #[arg(long)]
    cg_steps: Option<usize>,
    /// EASE: L2 regularisation λ.
    #[arg(long)]
    lambda: Option<f64>,
    /// Item-kNN: neighbours kept per item.
    #[arg(long)]
    neighbours: Option<usize>,
    /// Item-kNN: similarity weighting.
    #[arg(long, value_enum)]
    weighting: Option<KnnWeighting>,
    /// EASE and item-kNN: weight a user's history by recency, halving every N items back.
    #[arg(long, conflicts_with = "recency_share")]
    recency_half_life: Option<f32>,
    /// EASE and item-kNN: weight a user's history by recency, halving every SHARE of the
    /// user's history length back (e.g. 0.25).
    #[arg(long)]
    recency_share: Option<f32>,
    /// Popularity: halve an interaction's weight every N days (trending).
    #[arg(long)]
    half_life_days: Option<f64>,
    /// Random seed (iALS initialisation).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Training threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

impl HyperArgs {
    fn recency(&self) -> Recency {
        match (self.recency_half_life, self.recency_share) {
            (Some(half_life), _) => Recency::Positions { half_life },
            (None, Some(half_life)) => Recency::Share { half_life },
            (None, None) => Recency::None,
        }
    }

    fn any_fixed(&self) -> bool {
        self.factors.is_some()
            || self.iterations.is_some()
            || self.regularization.is_some()
            || self.alpha.is_some()
            || self.solver.is_some()
            || self.cg_steps.is_some()
            || self.lambda.is_some()
            || self.neighbours.is_some()
            || self.weighting.is_some()
            || self.recency_half_life.is_some()
            || self.recency_share.is_some()
            || self.half_life_days.is_some()
    }

    fn spec(&self, algo: Algo) -> Spec {
        match algo {
            Algo::Auto | Algo::Ials => {
                let d = IalsParams::default();
                Spec::Ials(IalsParams {
                    factors: self.factors.unwrap_or(d.factors),
                    iterations: self.iterations.unwrap_or(d.iterations),
                    regularization: self.regularization.unwrap_or(d.regularization),
                    alpha: self.alpha.unwrap_or(d.alpha),
                    solver: match self.solver {
                        Some(SolverArg::Cholesky) => Solver::Cholesky,
                        _ => Solver::Cg,
                    },
                    cg_steps: self.cg_steps.unwrap_or(d.cg_steps),
                    threads: self.threads,
                    seed: self.seed,
                    recency: self.recency(),
                })
            }
            Algo::Ease => Spec::Ease(EaseParams {
                lambda: self.lambda.unwrap_or(EaseParams::default().lambda),
                recency: self.recency(),
            }),
            Algo::Itemknn => Spec::ItemKnn(KnnParams {
                k: self.neighbours.unwrap_or(KnnParams::default().k),
                weighting: match self.weighting {
                    Some(KnnWeighting::Bm25) => Weighting::Bm25 { k1: 1.2, b: 0.75 },
                    Some(KnnWeighting::Tfidf) => Weighting::Tfidf,
                    _ => Weighting::Cosine,
                },
                recency: self.recency(),
            }),
            Algo::Pop => Spec::Pop(PopParams {
                half_life_days: self.half_life_days,
            }),
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["interactions", "db"])))]
pub struct TrainArgs {
    /// Training interactions: CSV with a header naming user, item, timestamp and optionally
    /// weight (the yardstick's split format).
    #[arg(long)]
    interactions: Option<PathBuf>,
    /// Train from a showrunner database instead: views, ratings and impressions mapped to
    /// confidences as docs/recommendations.md describes (thumbs down is never recommended
    /// back).
    #[arg(long)]
    db: Option<PathBuf>,
    /// With --db: halve an event's confidence every N days of age.
    #[arg(long, requires = "db")]
    decay_days: Option<f64>,
    /// With --db: also publish the model into the database, as its newest version;
    /// `showrunner serve` swaps it in within a few seconds.
    #[arg(long, requires = "db")]
    publish: bool,
    /// The model directory to write (created; an existing model there is replaced).
    #[arg(long)]
    out: PathBuf,
    /// The algorithm. `auto` searches every algorithm on a validation holdout (the latest
    /// 20% of each user's history); a named algorithm trains with its defaults and any
    /// hyper-parameters given below, or searches its own grid with --tune.
    #[arg(long, value_enum, default_value = "auto")]
    algo: Algo,
    /// With a named --algo: search that algorithm's grid on the validation holdout.
    #[arg(long)]
    tune: bool,
    #[command(flatten)]
    hyper: HyperArgs,
}

#[derive(Debug, clap::Args)]
pub struct RecommendArgs {
    /// A model directory written by `showrunner train`.
    #[arg(long)]
    model: PathBuf,
    /// Users to recommend for, one id a line (blank lines are skipped). Users the model does
    /// not know get the cold-start list (most popular titles).
    #[arg(long)]
    users: PathBuf,
    /// How many items per user.
    #[arg(long, default_value_t = 20)]
    k: usize,
    /// Output CSV: user,item,rank,score (ranks from 1). `-` for stdout.
    #[arg(long)]
    out: PathBuf,
    /// Print the load and scoring times as JSON on stderr (for `cargo xtask bench recs`).
    #[arg(long, hide = true)]
    timings: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Interactions to evaluate on. Without --test, the latest 20% of each user's history
    /// (users with 5+ interactions) is held out and the model trained on the rest.
    #[arg(long)]
    interactions: PathBuf,
    /// Held-out interactions (CSV like --interactions) to score a model trained on
    /// --interactions.
    #[arg(long)]
    test: Option<PathBuf>,
    /// A trained model to evaluate (trained on --interactions); otherwise one is trained
    /// with --algo and the hyper-parameters.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    algo: Algo,
    #[arg(long)]
    tune: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    hyper: HyperArgs,
}

fn read_csv(path: &Path) -> anyhow::Result<Interactions> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let builder = read_interactions_csv(BufReader::new(file), &path.display().to_string())?;
    Ok(builder.build())
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg} {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Trains per the arguments: a search (auto or --tune) or one fixed model.
fn fit(
    data: &Interactions,
    algo: Algo,
    tune: bool,
    hyper: &HyperArgs,
    source: &str,
    cancel: &AtomicBool,
) -> anyhow::Result<Model> {
    if algo == Algo::Auto && hyper.any_fixed() {
        bail!("hyper-parameters can only be fixed with a named --algo (not auto)");
    }
    let bar = spinner("training");
    let report = |stage: &str, done: u64, total: u64| {
        bar.set_message(stage.to_owned());
        bar.set_length(total);
        bar.set_position(done);
    };
    let ctx = TrainContext {
        cancel: Some(cancel),
        progress: Some(&report),
    };
    let started = Instant::now();
    let (spec, trials) = if algo == Algo::Auto || tune {
        let name = match algo {
            Algo::Auto => "auto",
            Algo::Pop => "pop",
            Algo::Itemknn => "itemknn",
            Algo::Ials => "ials",
            Algo::Ease => "ease",
        };
        let trials = search(data, &default_grid(name, hyper.threads), ctx)?;
        (trials[0].spec.clone(), Some(trials))
    } else {
        (hyper.spec(algo), None)
    };
    let scorer = train_scorer(&spec, data, ctx)?;
    bar.finish_and_clear();
    let mut model = Model::new(
        spec,
        scorer,
        data.clone(),
        source,
        jiff::Timestamp::now().to_string(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(trials) = trials {
        model.manifest.validation = Some(trials[0].metrics.clone());
        model.manifest.search = trials
            .iter()
            .map(|t| (t.spec.clone(), t.metrics.get("ndcg@10_folds_mean")))
            .collect();
    }
    Ok(model)
}

fn interrupted(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<RecommendError>(),
        Some(RecommendError::Interrupted)
    )
}

/// Training data from the store: views, ratings and impressions through the documented
/// mapping (`showrunner_jobs::training`, shared with the retrain job).
fn read_store(path: &Path, decay_days: Option<f64>) -> anyhow::Result<Signals> {
    let store = crate::import::open_existing_store(path)?;
    Ok(showrunner_jobs::training::signals_from_store(
        &*store, decay_days,
    )?)
}

pub fn train(args: TrainArgs) -> anyhow::Result<Outcome> {
    let (data, blocked, source) = match (&args.interactions, &args.db) {
        (Some(path), _) => (read_csv(path)?, Vec::new(), path.display().to_string()),
        (None, Some(db)) => {
            let s = read_store(db, args.decay_days)?;
            eprintln!(
                "from {}: {} views used ({} skipped: under a minute or non-human), {} thumbs-down pairs, {} impressions never played",
                db.display(),
                s.views_used,
                s.views_skipped,
                s.blocked.len(),
                s.unplayed_impressions
            );
            (s.interactions, s.blocked, db.display().to_string())
        }
        (None, None) => bail!("give --interactions FILE or --db PATH"),
    };
    let cancel = cancel_flag();
    let mut model = match fit(&data, args.algo, args.tune, &args.hyper, &source, &cancel) {
        Ok(m) => m,
        Err(e) if interrupted(&e) || cancel.load(Ordering::Relaxed) => {
            eprintln!("training interrupted; no model written");
            return Ok(Outcome::Interrupted);
        }
        Err(e) => return Err(e),
    };
    model.block(&blocked);
    save(&mut model, &args.out)?;
    if args.publish
        && let Some(db) = &args.db
    {
        use showrunner_store::ModelStatus;
        let (manifest, blob) = model.to_bytes()?;
        let metrics = serde_json::to_value(&model.manifest.validation)?;
        let registration = showrunner_jobs::training::registration(
            &model,
            "showrunner train",
            ModelStatus::Live,
            metrics,
            Some("published by showrunner train --publish".to_owned()),
        );
        let version =
            crate::import::open_store(db)?.register_model(&manifest, &blob, &registration)?;
        eprintln!(
            "published as model version {version} in {} (now live)",
            crate::import::shown(db)
        );
    }
    eprintln!(
        "trained {} ({}) on {} users x {} items, {} interactions in {:.2} s; wrote {}",
        model.manifest.spec.algo(),
        model.manifest.spec.describe(),
        data.n_users(),
        data.n_items(),
        data.nnz(),
        model.manifest.train_seconds,
        args.out.display()
    );
    if let Some(v) = &model.manifest.validation {
        eprintln!(
            "validation ndcg@10 = {:.4} (latest fold), {:.4} (mean of the folds)",
            v.get("ndcg@10"),
            v.get("ndcg@10_folds_mean")
        );
    }
    Ok(Outcome::Success)
}

/// Writes the model directory atomically enough: files are written under temporary names
/// and renamed, blob first, so a reader never sees a manifest without its blob.
pub fn save(model: &mut Model, dir: &Path) -> anyhow::Result<()> {
    let (manifest, blob) = model.to_bytes()?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in [(BLOB, blob.as_slice()), (MANIFEST, manifest.as_bytes())] {
        let tmp = dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, dir.join(name))
            .with_context(|| format!("writing {}", dir.join(name).display()))?;
    }
    Ok(())
}

pub fn load(dir: &Path) -> anyhow::Result<Model> {
    let manifest_path = dir.join(MANIFEST);
    let manifest = fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "reading {} (is {} a model directory written by `showrunner train`?)",
            manifest_path.display(),
            dir.display()
        )
    })?;
    let blob_path = dir.join(BLOB);
    let blob = fs::read(&blob_path).with_context(|| format!("reading {}", blob_path.display()))?;
    Model::from_bytes(&manifest, &blob).with_context(|| format!("loading model {}", dir.display()))
}

pub fn recommend(args: RecommendArgs) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let model = load(&args.model)?;
    let loaded = started.elapsed();
    let file =
        fs::File::open(&args.users).with_context(|| format!("opening {}", args.users.display()))?;
    let mut users = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{} line {}", args.users.display(), n + 1))?;
        let user = line.trim();
        if !user.is_empty() {
            users.push(user.to_owned());
        }
    }
    let unknown = users.iter().filter(|u| model.user(u).is_none()).count();
    let first = users
        .first()
        .map(|u| model.recommend(u, args.k, &Filter::default()));
    let to_first_answer = started.elapsed();
    let scoring = Instant::now();
    let lists: Vec<Vec<(u32, f32)>> = users
        .par_iter()
        .map(|u| model.recommend(u, args.k, &Filter::default()).0)
        .collect();
    let scored = scoring.elapsed();
    drop(first);
    let mut out: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(BufWriter::new(
            fs::File::create(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?,
        ))
    };
    writeln!(out, "user,item,rank,score")?;
    for (user, list) in users.iter().zip(&lists) {
        for (rank, (item, score)) in list.iter().enumerate() {
            writeln!(
                out,
                "{user},{},{},{score}",
                model.data.item_ids[*item as usize],
                rank + 1
            )?;
        }
    }
    out.flush()?;
    if args.timings {
        eprintln!(
            "{}",
            serde_json::json!({
                "load_s": loaded.as_secs_f64(),
                "first_answer_s": to_first_answer.as_secs_f64(),
                "recommend_all_s": scored.as_secs_f64(),
                "users": users.len(),
            })
        );
    }
    if unknown > 0 {
        eprintln!(
            "{unknown} of {} users are not in the model; they got the most popular titles",
            users.len()
        );
    }
    Ok(Outcome::Success)
}

pub fn evaluate(args: EvaluateArgs) -> anyhow::Result<Outcome> {
    let data = read_csv(&args.interactions)?;
    let cancel = cancel_flag();
    let holdout = match &args.test {
        Some(test) => {
            let test_data = read_csv(test)?;
            let test = (0..test_data.n_users())
                .map(|u| {
                    let items = test_data
                        .row(u)
                        .items
                        .iter()
                        .map(|&i| test_data.item_ids[i as usize].clone())
                        .collect();
                    (test_data.user_ids[u].clone(), items)
                })
                .collect();
            Holdout { train: data, test }
        }
        None => data.temporal_holdout(0.2, 5),
    };
    let source = args.interactions.display().to_string();
    let model = match &args.model {
        Some(dir) => load(dir)?,
        None => match fit(
            &holdout.train,
            args.algo,
            args.tune,
            &args.hyper,
            &source,
            &cancel,
        ) {
            Ok(m) => m,
            Err(e) if interrupted(&e) => return Ok(Outcome::Interrupted),
            Err(e) => return Err(e),
        },
    };
    if args.model.is_some() && model.data.nnz() != holdout.train.nnz() {
        bail!(
            "the model was trained on {} interactions but {} has {}; evaluate a model on the data it was trained on",
            model.data.nnz(),
            args.interactions.display(),
            holdout.train.nnz()
        );
    }
    let metrics = evaluate_scorer(&model.scorer, &holdout, 20);
    if args.json {
        let report = serde_json::json!({
            "model": model.manifest.spec,
            "users": metrics.users,
            "metrics": metrics.values,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "model: {} ({})",
            model.manifest.spec.algo(),
            model.manifest.spec.describe()
        );
        println!("users evaluated: {}", metrics.users);
        println!("{:<14} {:>8} {:>8} {:>8}", "metric", "@5", "@10", "@20");
        for name in ["recall", "ndcg", "map", "coverage", "novelty", "arp"] {
            println!(
                "{:<14} {:>8.4} {:>8.4} {:>8.4}",
                name,
                metrics.get(&format!("{name}@5")),
                metrics.get(&format!("{name}@10")),
                metrics.get(&format!("{name}@20"))
            );
        }
        println!("{:<14} {:>8.4}", "arp held out", metrics.get("arp_heldout"));
    }
    Ok(Outcome::Success)
}

/// The demo's recommendation step: trains on the demo database, checks the model against
/// popularity on a temporal holdout, saves and publishes it, and shows the Top Picks of the
/// member whose viewing is most concentrated in one genre (they should get that genre).
/// Returns the report and that member's id.
pub fn demo_section(db: &Path, model_dir: &Path) -> anyhow::Result<(String, Option<String>)> {
    use std::collections::HashMap;
    use std::fmt::Write as _;

    let signals = read_store(db, None)?;
    let data = signals.interactions;
    let mut out = String::new();
    let ctx = TrainContext::default();
    // The quick part of auto's grid (popularity, item-kNN, EASE with its recency variants),
    // so the demo stays a demo; `showrunner train --algo auto` searches iALS too.
    let mut grid = default_grid("pop", 0);
    grid.extend(default_grid("itemknn", 0));
    grid.extend(default_grid("ease", 0));
    let trials = search(&data, &grid, ctx)?;
    let spec = trials[0].spec.clone();
    let model_ndcg = trials[0].metrics.get("ndcg@10");
    let pop_ndcg = trials
        .iter()
        .find(|t| t.spec.algo() == "pop")
        .map_or(0.0, |t| t.metrics.get("ndcg@10"));
    let started = Instant::now();
    let scorer = train_scorer(&spec, &data, ctx)?;
    let mut model = Model::new(
        spec.clone(),
        scorer,
        data,
        &db.display().to_string(),
        jiff::Timestamp::now().to_string(),
        started.elapsed().as_secs_f64(),
    );
    model.block(&signals.blocked);
    save(&mut model, model_dir)?;
    {
        use showrunner_store::ModelStatus;
        let (manifest, blob) = model.to_bytes()?;
        let registration = showrunner_jobs::training::registration(
            &model,
            "showrunner demo",
            ModelStatus::Live,
            serde_json::to_value(&trials[0].metrics)?,
            Some("chosen by the demo's search".to_owned()),
        );
        crate::import::open_store(db)?.register_model(&manifest, &blob, &registration)?;
    }
    writeln!(
        out,
        "  the search chose {} ({}) of {} candidates, on {} members x {} titles ({} interactions from {} views, {} thumbs-down pairs blocked); saved to {}",
        spec.algo(),
        spec.describe(),
        trials.len(),
        model.data.n_users(),
        model.data.n_items(),
        model.data.nnz(),
        signals.views_used,
        signals.blocked.len(),
        model_dir.display()
    )?;
    writeln!(
        out,
        "  validation (latest 20% of each member's titles): NDCG@10 {model_ndcg:.3}, popularity {pop_ndcg:.3}"
    )?;

    // The member whose history is most concentrated in one genre.
    let store = crate::import::open_existing_store(db)?;
    let mut genres: HashMap<u32, Vec<String>> = HashMap::new();
    for (i, id) in model.data.item_ids.iter().enumerate() {
        if let Some(title) = store.title(id)? {
            genres.insert(i as u32, title.genres.clone());
        }
    }
    let first_genre = |i: u32| genres.get(&i).and_then(|g| g.first()).cloned();
    let mut best: Option<(f64, usize, String)> = None;
    for u in 0..model.data.n_users() {
        let row = model.data.row(u);
        if row.len() < 8 {
            continue;
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for &i in row.items {
            if let Some(g) = first_genre(i) {
                *counts.entry(g).or_default() += 1;
            }
        }
        if let Some((g, c)) = counts.into_iter().max_by_key(|(g, c)| (*c, g.clone())) {
            let share = c as f64 / row.len() as f64;
            if best.as_ref().is_none_or(|b| share > b.0) {
                best = Some((share, u, g));
            }
        }
    }
    let mut shown = None;
    if let Some((share, u, genre)) = best {
        let member = model.data.user_ids[u].clone();
        shown = Some(member.clone());
        let (top, _) = model.recommend(&member, 5, &Filter::default());
        writeln!(
            out,
            "  {member} watches mostly {genre} ({:.0}% of {} titles); their Top Picks:",
            share * 100.0,
            model.data.row(u).len()
        )?;
        for (rank, (i, _)) in top.iter().enumerate() {
            let id = &model.data.item_ids[*i as usize];
            let name = store.title(id)?.map(|t| t.name).unwrap_or_default();
            let g = genres.get(i).map(|g| g.join(", ")).unwrap_or_default();
            writeln!(out, "    {}. {name} ({id}; {g})", rank + 1)?;
        }
    }
    writeln!(
        out,
        "  try: showrunner recommend --model {} --users <file of member ids> --out recs.csv",
        model_dir.display()
    )?;
    Ok((out, shown))
}
