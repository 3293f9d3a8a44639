//! The model in service. [`ModelSlot`] holds the current [`Serving`] behind an `ArcSwap`:
//! a request takes a snapshot (an `Arc`) and keeps it to the end, so swapping in a newer
//! model never disturbs a request in flight, and the old model is freed when the last
//! request using it finishes.
//!
//! The home-page rows (`showrunner_recommend::rows::Rows`) borrow the model, so each
//! [`Serving`] owns a small pool of threads: one builds the `Rows` over the model and the
//! catalog on its own stack, and scoped workers answer jobs against it until the `Serving`
//! is dropped (its job sender closes). The swap happens only once the rows are built.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;
use showrunner_model::{MaturityLevel, Timestamp, Title, TitleKind as ModelKind};
use showrunner_recommend::Model;
use showrunner_recommend::rows::{
    CatalogItem, HomeInputs, Maturity, RowConfig, Rows, SegmentCount, TitleKind, ViewCount,
};
use showrunner_store::{DailyViews, PublishedModel, SegmentViews};

/// A job for the rows workers.
pub type RowsJob = Box<dyn FnOnce(&Rows<'_>) + Send>;

/// The catalog and recent viewing the rows are built from, read from the store when the
/// model is loaded.
#[derive(Debug, Default)]
pub struct ServingInputs {
    pub titles: Vec<Title>,
    pub daily_views: Vec<DailyViews>,
    pub segments: Vec<SegmentViews>,
    /// The newest view's start, in seconds (the data's "now"); the wall clock when absent.
    pub now: i64,
}

/// A loaded model, ready to answer.
pub struct Serving {
    pub version: i64,
    pub published_at: Timestamp,
    pub loaded_at: Instant,
    pub model: Arc<Model>,
    pub now: i64,
    pub recent_views: Arc<Vec<ViewCount>>,
    pub segment_counts: Arc<Vec<SegmentCount>>,
    /// Duration of each catalog title, for Continue Watching.
    pub durations: Arc<HashMap<String, u32>>,
    /// Per model item: a season or episode (the top-N endpoint recommends movies and
    /// series only, like the rows).
    pub not_recommendable: Vec<bool>,
    jobs: crossbeam_channel::Sender<RowsJob>,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving")
            .field("version", &self.version)
            .finish()
    }
}

/// The rows' maturity band of a published rating (unrated counts as adult-only).
pub fn maturity_of(rating: Option<&str>) -> Maturity {
    match rating.map_or(MaturityLevel::Adults, MaturityLevel::of_rating) {
        MaturityLevel::Kids => Maturity::Kids,
        MaturityLevel::OlderKids => Maturity::OlderKids,
        MaturityLevel::Teens => Maturity::Teens,
        MaturityLevel::Adults => Maturity::Adults,
    }
}

pub fn maturity_band(level: MaturityLevel) -> Maturity {
    match level {
        MaturityLevel::Kids => Maturity::Kids,
        MaturityLevel::OlderKids => Maturity::OlderKids,
        MaturityLevel::Teens => Maturity::Teens,
        MaturityLevel::Adults => Maturity::Adults,
    }
}

/// A stored title as the rows see it at time `now` (seconds): availability windows open
/// at `now` give the countries.
pub fn catalog_item(title: &Title, now: i64) -> CatalogItem {
    let kind = match title.kind {
        ModelKind::Movie => TitleKind::Movie,
        ModelKind::Series => TitleKind::Series,
        ModelKind::Season => TitleKind::Season,
        ModelKind::Episode => TitleKind::Episode,
    };
    let mut countries: Vec<String> = title
        .availability
        .iter()
        .filter(|a| a.from.seconds() <= now && a.until.is_none_or(|u| u.seconds() > now))
        .map(|a| a.country.clone())
        .collect();
    countries.sort();
    countries.dedup();
    // Windows exist but none is open now: shown nowhere. An empty list would mean
    // everywhere, so name a country no member has.
    if countries.is_empty() && !title.availability.is_empty() {
        countries.push("--".into());
    }
    CatalogItem {
        id: title.id.clone(),
        name: title.name.clone(),
        kind,
        series_id: title.series_id.clone(),
        season: title.season_number,
        episode: title.episode_number,
        genres: title.genres.clone(),
        cast: title.cast.clone(),
        directors: title.directors.clone(),
        release_year: title.release_year,
        added_at: title.added_at.map(|t| t.seconds()),
        maturity: maturity_of(title.maturity_rating.as_deref()),
        countries,
        duration_s: title.duration_s,
    }
}

/// The daily view counts as Trending Now's input, folded once per model load into one
/// entry per title and country dated `now`: each day's count already weighted by
/// `0.5^(age / half_life)` and days outside the window left out. Trending Now then gives
/// the same ranking as over the daily counts, while each home page reads one entry per
/// title and country instead of one per day.
fn trending_inputs(daily: &[DailyViews], now: i64, config: &RowConfig) -> Vec<ViewCount> {
    let half_life = config.trending_half_life_s.max(1) as f64;
    let mut folded: HashMap<(&str, &str), f64> = HashMap::new();
    for day in daily {
        let age = now - day.day.seconds();
        if !(0..=config.trending_window_s).contains(&age) {
            continue;
        }
        *folded
            .entry((day.title_id.as_str(), day.country.as_str()))
            .or_default() += day.views as f64 * 0.5f64.powf(age as f64 / half_life);
    }
    let mut views: Vec<ViewCount> = folded
        .into_iter()
        .map(|((title_id, country), count)| ViewCount {
            title_id: title_id.to_owned(),
            country: country.to_owned(),
            at: now,
            count: count as f32,
        })
        .collect();
    // A stable order, so ties rank the same on every load.
    views.sort_by(|a, b| (&a.title_id, &a.country).cmp(&(&b.title_id, &b.country)));
    views
}

/// Loading a published model failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("model version {version}: {source}")]
    Model {
        version: i64,
        source: showrunner_recommend::RecommendError,
    },
    #[error("model version {version}: the rows threads stopped while building")]
    Rows { version: i64 },
}

impl Serving {
    /// Loads a published model and builds its rows workers; returns once they are ready.
    /// Blocking (run it off the async runtime).
    pub fn load(
        published: &PublishedModel,
        inputs: ServingInputs,
        threads: usize,
    ) -> Result<Serving, LoadError> {
        let version = published.info.version;
        let model = Model::from_bytes(&published.manifest, &published.blob)
            .map_err(|source| LoadError::Model { version, source })?;
        let kinds: HashMap<&str, ModelKind> = inputs
            .titles
            .iter()
            .map(|t| (t.id.as_str(), t.kind))
            .collect();
        let not_recommendable = model
            .data
            .item_ids
            .iter()
            .map(|id| {
                matches!(
                    kinds.get(id.as_str()),
                    Some(ModelKind::Season | ModelKind::Episode)
                )
            })
            .collect();
        let model = Arc::new(model);
        let now = inputs.now;
        let items: Vec<CatalogItem> = inputs.titles.iter().map(|t| catalog_item(t, now)).collect();
        let durations: HashMap<String, u32> = inputs
            .titles
            .iter()
            .filter_map(|t| t.duration_s.map(|d| (t.id.clone(), d)))
            .collect();
        let recent_views = trending_inputs(&inputs.daily_views, now, &RowConfig::default());
        let segment_counts: Vec<SegmentCount> = inputs
            .segments
            .iter()
            .map(|s| SegmentCount {
                country: s.country.clone(),
                plan: s.plan.clone(),
                title_id: s.title_id.clone(),
                count: s.views as f32,
            })
            .collect();
        let recent_views = Arc::new(recent_views);
        let segment_counts = Arc::new(segment_counts);
        let (jobs, receiver) = crossbeam_channel::unbounded::<RowsJob>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let thread_model = Arc::clone(&model);
        let thread_views = Arc::clone(&recent_views);
        let thread_segments = Arc::clone(&segment_counts);
        let threads = threads.max(1);
        std::thread::Builder::new()
            .name(format!("showrunner-rows-v{version}"))
            .spawn(move || {
                // The requests pass these same slices and `now`, so Trending Now and
                // Popular are ranked once here rather than per request.
                let rows = Rows::new(&thread_model, items, RowConfig::default()).with_home_inputs(
                    HomeInputs {
                        recent_views: &thread_views,
                        segment_counts: &thread_segments,
                        now,
                    },
                );
                let _ = ready_tx.send(());
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        let receiver = receiver.clone();
                        let rows = &rows;
                        scope.spawn(move || {
                            while let Ok(job) = receiver.recv() {
                                job(rows);
                            }
                        });
                    }
                });
            })
            .map_err(|_| LoadError::Rows { version })?;
        ready_rx.recv().map_err(|_| LoadError::Rows { version })?;
        Ok(Serving {
            version,
            published_at: published.info.published_at,
            loaded_at: Instant::now(),
            model,
            now,
            recent_views,
            segment_counts,
            durations: Arc::new(durations),
            not_recommendable,
            jobs,
        })
    }

    /// Runs `work` against the rows on a rows worker and returns its result.
    pub async fn with_rows<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Rows<'_>) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: RowsJob = Box::new(move |rows| {
            let _ = reply.send(work(rows));
        });
        self.jobs.send(job).ok()?;
        answer.await.ok()
    }

    /// [`Serving::with_rows`] for a thread off the async runtime (the shadow worker): waits
    /// for the result by blocking.
    pub fn with_rows_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Rows<'_>) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job: RowsJob = Box::new(move |rows| {
            let _ = reply.send(work(rows));
        });
        self.jobs.send(job).ok()?;
        answer.recv().ok()
    }
}

/// The current model, swapped atomically.
#[derive(Debug, Default)]
pub struct ModelSlot {
    current: ArcSwapOption<Serving>,
}

impl ModelSlot {
    pub fn get(&self) -> Option<Arc<Serving>> {
        self.current.load_full()
    }

    pub fn version(&self) -> Option<i64> {
        self.current.load().as_ref().map(|s| s.version)
    }

    pub fn set(&self, serving: Serving) {
        self.current.store(Some(Arc::new(serving)));
    }
}
