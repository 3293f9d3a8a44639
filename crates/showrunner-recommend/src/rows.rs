//! The rows of a streaming home page, built from a trained [`Model`], a view of the catalog
//! and one member's viewing state that the caller passes in. Pure: no IO, no clock (the
//! caller passes `now`, in seconds since the epoch like every time in this crate).
//!
//! [`Rows::new`] indexes the catalog ([`CatalogItem`]s: movies, series, seasons, episodes)
//! against the model and builds the content model for titles nobody has watched yet. For a
//! member ([`MemberContext`]) it then builds:
//!
//! - **Continue Watching** ([`Rows::continue_watching`]): titles in progress, most recent
//!   first; for a series whose latest activity is a finished episode, the next episode by
//!   season and episode number;
//! - **Top Picks** ([`Rows::top_picks`]): the model's top-N; a member the model does not
//!   know and who has no history gets **Popular in your country** instead
//!   ([`Rows::popular`], from the caller's per-country and per-plan counts);
//! - **Because You Watched X** ([`Rows::because_you_watched`]): X is the member's most
//!   recent well-finished title, the row its nearest neighbours by the model's item-item
//!   similarity (EASE's `B` row, item-kNN's neighbours, the cosine of iALS item factors);
//! - **More Like This** ([`Rows::more_like_this`]): the same for a title the caller names;
//! - **Trending Now** ([`Rows::trending_now`]): time-decayed views over a window, in the
//!   member's country, from the caller's recent view counts;
//! - **New Releases** ([`Rows::new_releases`]): titles added in a recent window, ranked by
//!   the member's score;
//! - the whole page ([`Rows::home`]): those rows in that order, a title appearing only in
//!   the first row that offers it, empty rows left out.
//!
//! Every row item carries a [`Reason`] (an enum and its text). Every row applies the same
//! filters ([`Rows::top_n`] exposes them): only movies and series are recommended (episodes
//! appear only in Continue Watching), never a title the member thumbed down (a thumbs-down
//! on an episode counts for its series), never a title the member has fully watched or has
//! in the model's training history, nothing above the profile's maturity limit, nothing
//! unavailable in the member's country, nothing the caller excludes.
//!
//! Scores: a title with interactions in the training data gets the model's score. A title
//! without any (new to the service) gets a content score, the cosine between its
//! metadata's TF-IDF vector and the member's watched titles' (see [`content`]), put on the
//! model's scale as the model score at that quantile of the member's candidates: a perfect
//! content match ranks with the model's best, an unrelated title with its worst.

pub mod content;
pub mod similar;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use crate::data::Row as HistoryRow;
use crate::model::Model;
use crate::topn::top_n;
use content::ContentModel;
pub use similar::item_similarities;

/// What kind of catalog entry a title is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TitleKind {
    Movie,
    Series,
    Season,
    Episode,
}

impl TitleKind {
    /// Movies and series are what rows recommend; seasons and episodes belong to a series.
    pub fn is_recommendable(self) -> bool {
        matches!(self, TitleKind::Movie | TitleKind::Series)
    }
}

/// Audience bands in increasing order (the caller maps published ratings onto them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Maturity {
    Kids,
    OlderKids,
    Teens,
    Adults,
}

/// One catalog entry as the rows need it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogItem {
    pub id: String,
    pub name: String,
    pub kind: TitleKind,
    /// For seasons and episodes: their series.
    pub series_id: Option<String>,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub genres: Vec<String>,
    pub cast: Vec<String>,
    pub directors: Vec<String>,
    pub release_year: Option<i32>,
    /// When the title was added to the service (seconds since the epoch).
    pub added_at: Option<i64>,
    pub maturity: Maturity,
    /// Countries (ISO 3166-1 alpha-2) where the title may be shown now; empty means
    /// everywhere. The caller resolves availability windows against its clock.
    pub countries: Vec<String>,
    pub duration_s: Option<u32>,
}

/// A title the member started and has not finished, as the player last reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct InProgress {
    pub title_id: String,
    pub position_s: u32,
    pub duration_s: u32,
    /// The last time the member played it.
    pub last_at: i64,
}

/// A title the member watched, with when and how much of it (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Watched {
    pub title_id: String,
    pub at: i64,
    pub completion: f32,
}

/// One member (or profile) and their viewing state.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberContext {
    /// The id the model knows the member by (unknown ids get the cold-start rows).
    pub member_id: String,
    /// ISO 3166-1 alpha-2. Unknown: only titles available everywhere are shown.
    pub country: Option<String>,
    pub plan: Option<String>,
    /// The most mature band the profile may be shown.
    pub maturity_limit: Maturity,
    pub in_progress: Vec<InProgress>,
    pub watched: Vec<Watched>,
    pub thumbs_down: Vec<String>,
}

/// Views of a title in a country at a time (a bucket of the caller's recent-view counts).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewCount {
    pub title_id: String,
    pub country: String,
    pub at: i64,
    pub count: f32,
}

/// How popular a title is with members of one country and plan (cold start).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentCount {
    pub country: String,
    pub plan: String,
    pub title_id: String,
    pub count: f32,
}

/// Tunables of the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RowConfig {
    /// Titles per row.
    pub row_size: usize,
    /// The share of a title's runtime after which it counts as finished.
    pub finished_share: f32,
    /// Trending Now counts views this recent (seconds)...
    pub trending_window_s: i64,
    /// ...each weighted `0.5^(age / half_life)`.
    pub trending_half_life_s: i64,
    /// New Releases are titles added this recently (seconds).
    pub new_release_window_s: i64,
}

impl Default for RowConfig {
    fn default() -> Self {
        RowConfig {
            row_size: 20,
            finished_share: 0.9,
            trending_window_s: 7 * 86_400,
            trending_half_life_s: 2 * 86_400,
            new_release_window_s: 30 * 86_400,
        }
    }
}

/// Which builder made a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowKind {
    ContinueWatching,
    TopPicks,
    PopularInCountry,
    BecauseYouWatched,
    MoreLikeThis,
    TrendingNow,
    NewReleases,
}

/// Why a title is in a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// The model ranks it high for the member.
    TopPick,
    /// New to the service, and its genres, people and decade match what the member watches.
    NewForYou,
    /// Popular with members in the country (and on the plan, when known).
    Popular {
        country: Option<String>,
        plan: Option<String>,
    },
    /// Similar to a title the member finished.
    BecauseYouWatched { title_id: String, name: String },
    /// Similar to the title the member is looking at.
    MoreLikeThis { title_id: String, name: String },
    /// Many recent views in the country (everywhere when `None`).
    Trending { country: Option<String> },
    /// Started and not finished.
    Resume { position_s: u32, duration_s: u32 },
    /// The episode after the one the member finished.
    NextEpisode {
        series_id: String,
        season: u32,
        episode: u32,
    },
    /// Added recently, and the member may like it.
    NewRelease { added_at: i64 },
}

impl Reason {
    /// The reason as a sentence for the page.
    pub fn text(&self) -> String {
        match self {
            Reason::TopPick => "Picked for you".into(),
            Reason::NewForYou => "New, and like what you watch".into(),
            Reason::Popular { country, plan } => match (country, plan) {
                (Some(c), Some(p)) => format!("Popular in {c} on the {p} plan"),
                (Some(c), None) => format!("Popular in {c}"),
                _ => "Popular on the service".into(),
            },
            Reason::BecauseYouWatched { name, .. } => format!("Because you watched {name}"),
            Reason::MoreLikeThis { name, .. } => format!("More like {name}"),
            Reason::Trending { country } => match country {
                Some(c) => format!("Trending now in {c}"),
                None => "Trending now".into(),
            },
            Reason::Resume {
                position_s,
                duration_s,
            } => {
                let left = duration_s.saturating_sub(*position_s).div_ceil(60);
                format!("Continue watching: {left} min left")
            }
            Reason::NextEpisode {
                season, episode, ..
            } => format!("Next episode: S{season} E{episode}"),
            Reason::NewRelease { .. } => "New on the service".into(),
        }
    }
}

/// One title in a row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowItem {
    pub title_id: String,
    /// What the row is ranked by: the model's score, the trend weight, the count, or the
    /// time of last activity (Continue Watching).
    pub score: f32,
    pub reason: Reason,
}

/// One row of the home page.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: RowKind,
    /// A stable key, as impressions name rows (`continue_watching`, `top_picks`, `popular`,
    /// `because_you_watched:t42`, `more_like_this:t42`, `trending_now`, `new_releases`); the
    /// country a row was built for is in its items' reasons.
    pub key: String,
    /// The heading shown above the row.
    pub heading: String,
    pub items: Vec<RowItem>,
}

/// What the home page needs beside the member.
#[derive(Debug, Clone, Copy)]
pub struct HomeInputs<'a> {
    /// Recent views per title, country and time bucket (Trending Now).
    pub recent_views: &'a [ViewCount],
    /// Popularity per country and plan (the cold-start row).
    pub segment_counts: &'a [SegmentCount],
    pub now: i64,
}

/// The catalog indexed against a model, ready to build rows for any member.
#[derive(Debug)]
pub struct Rows<'m> {
    model: &'m Model,
    config: RowConfig,
    items: Vec<CatalogItem>,
    by_id: HashMap<String, usize>,
    /// Catalog index -> the recommendable title it stands for (an episode's series).
    display: Vec<usize>,
    /// Catalog index -> model item index.
    model_item: Vec<Option<u32>>,
    /// Model item -> catalog index.
    catalog_of: Vec<Option<usize>>,
    /// Per recommendable title: whether it has interactions in the training data.
    known: Vec<bool>,
    /// The recommendable titles without (the content model scores them), ascending.
    new_titles: Vec<usize>,
    /// Series catalog index -> its episodes, by season then episode number.
    episodes: HashMap<usize, Vec<usize>>,
    content: ContentModel,
    /// Recommendable titles with an addition time, by that time (New Releases).
    by_added: Vec<(i64, usize)>,
    /// The training data's popularity as ranked candidates (the cold-start fallback).
    popular_all: Vec<(usize, f32)>,
    /// The inputs the caller fixed with [`Rows::with_home_inputs`] and their index.
    fixed: Option<(HomeInputs<'m>, TrendingIndex, PopularIndex)>,
    /// Per (upper-cased country, maturity limit): the entries nobody with that country and
    /// limit may be shown (not recommendable, above the limit, unavailable there). Filled
    /// on first use, at most [`BASE_BLOCKED_CACHE`] entries.
    base_blocked: RwLock<HashMap<AudienceKey, Arc<Vec<bool>>>>,
}

/// An upper-cased country (none when unknown) and a maturity limit.
type AudienceKey = (Option<String>, Maturity);

/// How many (country, maturity) filters [`Rows`] keeps; past that they are computed per
/// request (a catalog lists a few hundred countries at most, times four bands).
const BASE_BLOCKED_CACHE: usize = 4_096;

/// Ranked candidates, best first: (catalog index, score) sorted by score descending, then
/// index ascending, the order [`top_n`] ranks by.
type Candidates = Vec<(usize, f32)>;

/// Trending Now precomputed from one set of recent views and `now`: per country (upper-cased)
/// and over all countries, the titles' decayed view sums ranked once, so a request only
/// walks a list past the titles it may not show. The sums are made in the views' order, as
/// a per-request pass would.
#[derive(Debug, Default, Clone)]
struct TrendingIndex {
    by_country: HashMap<String, Candidates>,
    all: Candidates,
}

/// Popular precomputed from one set of segment counts: per (country, plan) and per
/// country, upper-cased.
#[derive(Debug, Default, Clone)]
struct PopularIndex {
    by_segment: HashMap<(String, String), Candidates>,
    by_country: HashMap<String, Candidates>,
}

fn ranked(scores: HashMap<usize, f32>) -> Candidates {
    let mut out: Candidates = scores.into_iter().filter(|(_, s)| s.is_finite()).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

fn add_score(scores: &mut HashMap<usize, f32>, d: usize, w: f32) {
    let slot = scores.entry(d).or_insert(f32::NEG_INFINITY);
    *slot = slot.max(0.0) + w;
}

/// What one member's request computes once and every row reuses.
struct Prepared {
    /// Per catalog index: never show it to this member.
    blocked: Vec<bool>,
    /// The member's score per catalog index (recommendable titles; `-inf` elsewhere);
    /// `None` for a cold-start member.
    scores: Option<Vec<f32>>,
}

impl<'m> Rows<'m> {
    pub fn new(model: &'m Model, items: Vec<CatalogItem>, config: RowConfig) -> Rows<'m> {
        let mut by_id = HashMap::with_capacity(items.len());
        for (k, item) in items.iter().enumerate() {
            by_id.entry(item.id.clone()).or_insert(k);
        }
        let display: Vec<usize> = items
            .iter()
            .enumerate()
            .map(|(k, item)| match item.kind {
                TitleKind::Season | TitleKind::Episode => item
                    .series_id
                    .as_ref()
                    .and_then(|s| by_id.get(s).copied())
                    .unwrap_or(k),
                _ => k,
            })
            .collect();
        let model_item: Vec<Option<u32>> = items
            .iter()
            .map(|item| model.item(&item.id).map(|m| m as u32))
            .collect();
        let mut catalog_of = vec![None; model.n_items()];
        for (k, m) in model_item.iter().enumerate() {
            if let Some(m) = m {
                catalog_of[*m as usize] = Some(k);
            }
        }
        let mut known = vec![false; items.len()];
        for (m, &k) in catalog_of.iter().enumerate() {
            if let Some(k) = k
                && model.popularity.get(m).is_some_and(|&p| p > 0.0)
            {
                known[display[k]] = true;
            }
        }
        let new_titles: Vec<usize> = (0..items.len())
            .filter(|&k| items[k].kind.is_recommendable() && !known[k] && display[k] == k)
            .collect();
        let mut episodes: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, item) in items.iter().enumerate() {
            if item.kind == TitleKind::Episode && display[k] != k {
                episodes.entry(display[k]).or_default().push(k);
            }
        }
        for list in episodes.values_mut() {
            list.sort_by_key(|&k| {
                (
                    items[k].season.unwrap_or(0),
                    items[k].episode.unwrap_or(0),
                    k,
                )
            });
        }
        let docs: Vec<Vec<(String, f32)>> = items
            .iter()
            .map(|item| {
                content::tokens(&item.genres, &item.directors, &item.cast, item.release_year)
            })
            .collect();
        let counted: Vec<bool> = items.iter().map(|i| i.kind.is_recommendable()).collect();
        let content = ContentModel::new(&docs, &counted);
        let mut by_added: Vec<(i64, usize)> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.kind.is_recommendable())
            .filter_map(|(k, item)| item.added_at.map(|at| (at, k)))
            .collect();
        by_added.sort_unstable();
        let mut rows = Rows {
            model,
            config,
            items,
            by_id,
            display,
            model_item,
            catalog_of,
            known,
            new_titles,
            episodes,
            content,
            by_added,
            popular_all: Vec::new(),
            fixed: None,
            base_blocked: RwLock::new(HashMap::new()),
        };
        let popular = rows.popularity_scores();
        rows.popular_all = ranked(
            popular
                .into_iter()
                .enumerate()
                .filter(|(_, s)| s.is_finite())
                .collect(),
        );
        rows
    }

    /// Fixes the home page's inputs for every later [`Rows::home`] given the same slices and
    /// `now` (a server's are fixed per model load): Trending Now and Popular are then
    /// precomputed once instead of on every request. Other inputs still work, computed per
    /// call.
    pub fn with_home_inputs(mut self, inputs: HomeInputs<'m>) -> Rows<'m> {
        let trending = self.build_trending(inputs.recent_views, inputs.now);
        let popular = self.build_popular(inputs.segment_counts);
        self.fixed = Some((inputs, trending, popular));
        self
    }

    fn trending_for(&self, views: &[ViewCount], now: i64) -> Cow<'_, TrendingIndex> {
        match &self.fixed {
            Some((fixed, trending, _))
                if std::ptr::eq(fixed.recent_views, views) && fixed.now == now =>
            {
                Cow::Borrowed(trending)
            }
            _ => Cow::Owned(self.build_trending(views, now)),
        }
    }

    fn popular_for(&self, segments: &[SegmentCount]) -> Cow<'_, PopularIndex> {
        match &self.fixed {
            Some((fixed, _, popular)) if std::ptr::eq(fixed.segment_counts, segments) => {
                Cow::Borrowed(popular)
            }
            _ => Cow::Owned(self.build_popular(segments)),
        }
    }

    /// Each recent view counts `0.5^(age / half_life)` within the window.
    fn build_trending(&self, views: &[ViewCount], now: i64) -> TrendingIndex {
        let window = self.config.trending_window_s;
        let half_life = self.config.trending_half_life_s.max(1) as f64;
        let mut by_country: HashMap<String, HashMap<usize, f32>> = HashMap::new();
        let mut all: HashMap<usize, f32> = HashMap::new();
        for v in views {
            let age = now - v.at;
            if !(0..=window).contains(&age) || !v.count.is_finite() || v.count <= 0.0 {
                continue;
            }
            if let Some(k) = self.index(&v.title_id) {
                let d = self.display[k];
                let w = v.count * 0.5f64.powf(age as f64 / half_life) as f32;
                let country = by_country.entry(v.country.to_ascii_uppercase());
                add_score(country.or_default(), d, w);
                add_score(&mut all, d, w);
            }
        }
        TrendingIndex {
            by_country: by_country
                .into_iter()
                .map(|(c, scores)| (c, ranked(scores)))
                .collect(),
            all: ranked(all),
        }
    }

    fn build_popular(&self, segments: &[SegmentCount]) -> PopularIndex {
        let mut by_segment: HashMap<(String, String), HashMap<usize, f32>> = HashMap::new();
        let mut by_country: HashMap<String, HashMap<usize, f32>> = HashMap::new();
        for s in segments {
            if let Some(k) = self.index(&s.title_id)
                && s.count.is_finite()
                && s.count > 0.0
            {
                let d = self.display[k];
                let country = s.country.to_ascii_uppercase();
                let segment = (country.clone(), s.plan.to_ascii_uppercase());
                add_score(by_segment.entry(segment).or_default(), d, s.count);
                add_score(by_country.entry(country).or_default(), d, s.count);
            }
        }
        PopularIndex {
            by_segment: by_segment
                .into_iter()
                .map(|(key, scores)| (key, ranked(scores)))
                .collect(),
            by_country: by_country
                .into_iter()
                .map(|(c, scores)| (c, ranked(scores)))
                .collect(),
        }
    }

    pub fn config(&self) -> &RowConfig {
        &self.config
    }

    /// The catalog entry of an id.
    pub fn item(&self, id: &str) -> Option<&CatalogItem> {
        self.by_id.get(id).map(|&k| &self.items[k])
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Whether the member may be shown catalog entry `k` at all (maturity, country).
    fn allowed(&self, member: &MemberContext, k: usize) -> bool {
        let item = &self.items[k];
        if item.maturity > member.maturity_limit {
            return false;
        }
        item.countries.is_empty()
            || member
                .country
                .as_ref()
                .is_some_and(|c| item.countries.iter().any(|x| x.eq_ignore_ascii_case(c)))
    }

    /// The entries a member's country and maturity limit rule out, cached per pair.
    fn base_blocked(&self, member: &MemberContext) -> Arc<Vec<bool>> {
        let key = (
            member.country.as_ref().map(|c| c.to_ascii_uppercase()),
            member.maturity_limit,
        );
        if let Some(found) = self
            .base_blocked
            .read()
            .ok()
            .and_then(|cache| cache.get(&key).cloned())
        {
            return found;
        }
        let blocked: Arc<Vec<bool>> = Arc::new(
            self.items
                .iter()
                .enumerate()
                .map(|(k, item)| !item.kind.is_recommendable() || !self.allowed(member, k))
                .collect(),
        );
        if let Ok(mut cache) = self.base_blocked.write()
            && cache.len() < BASE_BLOCKED_CACHE
        {
            cache.insert(key, Arc::clone(&blocked));
        }
        blocked
    }

    fn prepare(&self, member: &MemberContext, exclude: &[String]) -> Prepared {
        let mut blocked = Vec::clone(&self.base_blocked(member));
        let mut block_id = |id: &str, with_series: bool| {
            if let Some(k) = self.index(id) {
                blocked[k] = true;
                if with_series {
                    blocked[self.display[k]] = true;
                }
            }
        };
        for id in &member.thumbs_down {
            block_id(id, true);
        }
        for id in exclude {
            block_id(id, true);
        }
        // Fully watched movies (and series the caller lists as watched as a whole); an
        // episode finished does not finish its series.
        for w in &member.watched {
            if w.completion >= self.config.finished_share {
                block_id(&w.title_id, false);
            }
        }
        let user = self.model.user(&member.member_id);
        if let Some(u) = user {
            for &m in self.model.data.row(u).items {
                if let Some(Some(k)) = self.catalog_of.get(m as usize) {
                    blocked[self.display[*k]] = true;
                }
            }
        }
        let scores = self.member_scores(member, user);
        Prepared { blocked, scores }
    }

    /// The member's history as (catalog index of the recommendable title, time, weight).
    fn member_history(&self, member: &MemberContext) -> Vec<(usize, i64, f32)> {
        let mut out = Vec::new();
        for w in &member.watched {
            if let Some(k) = self.index(&w.title_id) {
                out.push((self.display[k], w.at, w.completion.clamp(0.05, 1.0)));
            }
        }
        for p in &member.in_progress {
            if let Some(k) = self.index(&p.title_id) {
                let share = p.position_s as f32 / p.duration_s.max(1) as f32;
                out.push((self.display[k], p.last_at, share.clamp(0.05, 1.0)));
            }
        }
        out
    }

    /// Scores over the catalog: the model for titles with interactions, the content model
    /// (mapped onto the model's scale) for the others. `None` when there is nothing to go
    /// on (cold start).
    fn member_scores(&self, member: &MemberContext, user: Option<usize>) -> Option<Vec<f32>> {
        let history = self.member_history(member);
        let mut model_scores = vec![0f32; self.model.n_items()];
        let mut taste: Vec<(usize, f32)> = history.iter().map(|&(k, _, w)| (k, w)).collect();
        match user {
            Some(u) => {
                self.model.score_user(u, &mut model_scores);
                let row = self.model.data.row(u);
                for (&m, &w) in row.items.iter().zip(row.weights) {
                    if let Some(Some(k)) = self.catalog_of.get(m as usize) {
                        taste.push((self.display[*k], w.min(1.0)));
                    }
                }
            }
            None => {
                // A member the model has not seen: score their history as it stands (fold
                // in for iALS), if any of it is in the model.
                let mut entries: Vec<(u32, i64, f32)> = Vec::new();
                for &(k, at, w) in &history {
                    if let Some(m) = self.model_item[k] {
                        match entries.iter_mut().find(|e| e.0 == m) {
                            Some(e) => {
                                e.1 = e.1.max(at);
                                e.2 = e.2.max(w);
                            }
                            None => entries.push((m, at, w)),
                        }
                    }
                }
                if entries.is_empty() && history.is_empty() {
                    return None;
                }
                entries.sort_by_key(|e| (e.1, e.0));
                let items: Vec<u32> = entries.iter().map(|e| e.0).collect();
                let times: Vec<i64> = entries.iter().map(|e| e.1).collect();
                let weights: Vec<f32> = entries.iter().map(|e| e.2).collect();
                let row = HistoryRow {
                    items: &items,
                    times: &times,
                    weights: &weights,
                };
                self.model.score_history(row, &mut model_scores);
            }
        }
        let mut scores = vec![f32::NEG_INFINITY; self.items.len()];
        for (m, &s) in model_scores.iter().enumerate() {
            if let Some(k) = self.catalog_of[m] {
                let d = self.display[k];
                if self.known[d]
                    && s.is_finite()
                    && (scores[d] == f32::NEG_INFINITY || s > scores[d])
                {
                    scores[d] = s;
                }
            }
        }
        // New titles: the content cosine as a quantile of the known titles' scores.
        let mut sorted: Vec<f32> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let profile = self.content.profile(&taste);
        for &k in &self.new_titles {
            let cosine = self.content.score(&profile, k).clamp(0.0, 1.0);
            scores[k] = match sorted.len() {
                0 => cosine,
                len => sorted[((len - 1) as f32 * cosine).round() as usize],
            };
        }
        Some(scores)
    }

    /// Top `k` catalog indices by `scores` among those neither blocked nor taken.
    fn rank(
        &self,
        scores: &[f32],
        k: usize,
        prepared: &Prepared,
        taken: &HashSet<usize>,
    ) -> Vec<(usize, f32)> {
        top_n(scores, k, |i| {
            let i = i as usize;
            prepared.blocked[i] || taken.contains(&self.display[i])
        })
        .into_iter()
        .map(|(i, s)| (i as usize, s))
        .collect()
    }

    /// The first `k` of ranked candidates neither blocked nor taken: the same titles, in
    /// the same order, as [`Rows::rank`] over a score vector holding only the candidates.
    fn rank_candidates(
        &self,
        candidates: &[(usize, f32)],
        k: usize,
        prepared: &Prepared,
        taken: &HashSet<usize>,
    ) -> Vec<(usize, f32)> {
        candidates
            .iter()
            .filter(|(i, s)| {
                s.is_finite() && !prepared.blocked[*i] && !taken.contains(&self.display[*i])
            })
            .take(k)
            .copied()
            .collect()
    }

    fn row(&self, kind: RowKind, key: String, heading: String, items: Vec<RowItem>) -> Row {
        Row {
            kind,
            key,
            heading,
            items,
        }
    }

    fn items_of(
        &self,
        ranked: Vec<(usize, f32)>,
        reason: impl Fn(usize) -> Reason,
    ) -> Vec<RowItem> {
        ranked
            .into_iter()
            .map(|(k, score)| RowItem {
                title_id: self.items[k].id.clone(),
                score,
                reason: reason(k),
            })
            .collect()
    }

    /// Interactions per title in the training data, over the catalog (an episode's count
    /// goes to its series).
    fn popularity_scores(&self) -> Vec<f32> {
        let mut scores = vec![f32::NEG_INFINITY; self.items.len()];
        for (m, &p) in self.model.popularity.iter().enumerate() {
            if let Some(k) = self.catalog_of[m]
                && p > 0.0
            {
                let d = self.display[k];
                scores[d] = scores[d].max(0.0) + p;
            }
        }
        scores
    }

    /// The member's top `k` titles over the whole catalog with every filter applied
    /// (thumbs-down, fully watched, training history, maturity, country, `exclude`). A
    /// cold-start member gets the most popular titles of the training data.
    pub fn top_n(
        &self,
        member: &MemberContext,
        k: usize,
        exclude: &[String],
    ) -> Vec<(String, f32)> {
        let prepared = self.prepare(member, exclude);
        let popular;
        let scores = match &prepared.scores {
            Some(scores) => scores,
            None => {
                popular = self.popularity_scores();
                &popular
            }
        };
        self.rank(scores, k, &prepared, &HashSet::new())
            .into_iter()
            .map(|(i, s)| (self.items[i].id.clone(), s))
            .collect()
    }

    /// Top Picks; for a cold-start member, Popular in their country and plan.
    pub fn top_picks(&self, member: &MemberContext, segments: &[SegmentCount]) -> Row {
        let prepared = self.prepare(member, &[]);
        self.top_picks_with(member, segments, &prepared, &HashSet::new())
    }

    fn top_picks_with(
        &self,
        member: &MemberContext,
        segments: &[SegmentCount],
        prepared: &Prepared,
        taken: &HashSet<usize>,
    ) -> Row {
        let Some(scores) = &prepared.scores else {
            return self.popular_with(member, segments, prepared, taken);
        };
        let ranked = self.rank(scores, self.config.row_size, prepared, taken);
        let items = self.items_of(ranked, |k| {
            if self.known[k] {
                Reason::TopPick
            } else {
                Reason::NewForYou
            }
        });
        self.row(
            RowKind::TopPicks,
            "top_picks".into(),
            "Top Picks for You".into(),
            items,
        )
    }

    /// Popular with members of the member's country and plan (the cold-start row); falls
    /// back to the country across plans, then to the training data's popularity.
    pub fn popular(&self, member: &MemberContext, segments: &[SegmentCount]) -> Row {
        let prepared = self.prepare(member, &[]);
        self.popular_with(member, segments, &prepared, &HashSet::new())
    }

    fn popular_with(
        &self,
        member: &MemberContext,
        segments: &[SegmentCount],
        prepared: &Prepared,
        taken: &HashSet<usize>,
    ) -> Row {
        let index = self.popular_for(segments);
        let country = member.country.as_ref().map(|c| c.to_ascii_uppercase());
        let plan = member.plan.as_ref().map(|p| p.to_ascii_uppercase());
        let in_segment = country.clone().zip(plan).and_then(|key| {
            index.by_segment.get(&key).map(|list| {
                let reason = Reason::Popular {
                    country: member.country.clone(),
                    plan: member.plan.clone(),
                };
                (list, reason)
            })
        });
        let in_country = || {
            country.as_ref().and_then(|c| {
                index.by_country.get(c).map(|list| {
                    let reason = Reason::Popular {
                        country: member.country.clone(),
                        plan: None,
                    };
                    (list, reason)
                })
            })
        };
        let (candidates, reason) = in_segment.or_else(in_country).unwrap_or_else(|| {
            let reason = Reason::Popular {
                country: None,
                plan: None,
            };
            (&self.popular_all, reason)
        });
        let ranked = self.rank_candidates(candidates, self.config.row_size, prepared, taken);
        let heading = reason.text();
        let items = self.items_of(ranked, |_| reason.clone());
        self.row(RowKind::PopularInCountry, "popular".into(), heading, items)
    }

    /// The similarity of every catalog title to catalog entry `seed`: the model's item-item
    /// similarity when it has one for the seed, else the content model's.
    fn similar_scores(&self, seed: usize) -> Vec<f32> {
        let mut scores = vec![f32::NEG_INFINITY; self.items.len()];
        let from_model = self.model_item[seed]
            .filter(|_| self.known[self.display[seed]])
            .and_then(|m| item_similarities(&self.model.scorer, m as usize, self.model.n_items()));
        match from_model {
            Some(similar) => {
                for (m, &s) in similar.iter().enumerate() {
                    if let Some(k) = self.catalog_of[m] {
                        let d = self.display[k];
                        if s.is_finite() && s > scores[d] {
                            scores[d] = s;
                        }
                    }
                }
            }
            None => {
                for (k, slot) in scores.iter_mut().enumerate() {
                    if self.items[k].kind.is_recommendable() {
                        *slot = self.content.similarity(seed, k);
                    }
                }
            }
        }
        scores[self.display[seed]] = f32::NEG_INFINITY;
        scores[seed] = f32::NEG_INFINITY;
        scores
    }

    /// The member's most recent well-finished title (a finished episode stands for its
    /// series), as a catalog index.
    fn last_finished(&self, member: &MemberContext) -> Option<usize> {
        let finished = self.config.finished_share;
        let watched = member
            .watched
            .iter()
            .filter(|w| w.completion >= finished)
            .map(|w| (w.at, &w.title_id));
        let in_progress = member
            .in_progress
            .iter()
            .filter(|p| p.position_s as f32 >= finished * p.duration_s as f32)
            .map(|p| (p.last_at, &p.title_id));
        let mut all: Vec<(i64, &String)> = watched.chain(in_progress).collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        all.into_iter()
            .find_map(|(_, id)| self.index(id).map(|k| self.display[k]))
    }

    /// Because You Watched X, X being the member's most recent well-finished title. `None`
    /// when the member has finished nothing the catalog knows.
    pub fn because_you_watched(&self, member: &MemberContext) -> Option<Row> {
        let prepared = self.prepare(member, &[]);
        self.because_you_watched_with(member, &prepared, &HashSet::new())
    }

    fn because_you_watched_with(
        &self,
        member: &MemberContext,
        prepared: &Prepared,
        taken: &HashSet<usize>,
    ) -> Option<Row> {
        let seed = self.last_finished(member)?;
        Some(self.similar_row(seed, prepared, taken, RowKind::BecauseYouWatched))
    }

    fn similar_row(
        &self,
        seed: usize,
        prepared: &Prepared,
        taken: &HashSet<usize>,
        kind: RowKind,
    ) -> Row {
        let scores = self.similar_scores(seed);
        let ranked = self.rank(&scores, self.config.row_size, prepared, taken);
        let item = &self.items[seed];
        let (title_id, name) = (item.id.clone(), item.name.clone());
        let (reason, key) = match kind {
            RowKind::MoreLikeThis => (
                Reason::MoreLikeThis { title_id, name },
                format!("more_like_this:{}", item.id),
            ),
            _ => (
                Reason::BecauseYouWatched { title_id, name },
                format!("because_you_watched:{}", item.id),
            ),
        };
        let heading = reason.text();
        let items = self.items_of(ranked, |_| reason.clone());
        self.row(kind, key, heading, items)
    }

    /// More Like This for a title (an episode or season stands for its series), with the
    /// member's filters. `None` for an id the catalog does not know.
    pub fn more_like_this(&self, member: &MemberContext, title_id: &str) -> Option<Row> {
        let seed = self.display[self.index(title_id)?];
        let prepared = self.prepare(member, &[]);
        Some(self.similar_row(seed, &prepared, &HashSet::new(), RowKind::MoreLikeThis))
    }

    /// Trending Now in the member's country: each recent view counts `0.5^(age /
    /// half_life)` within the window; everywhere when the country has no recent views.
    pub fn trending_now(&self, member: &MemberContext, views: &[ViewCount], now: i64) -> Row {
        let prepared = self.prepare(member, &[]);
        self.trending_with(member, views, now, &prepared, &HashSet::new())
    }

    fn trending_with(
        &self,
        member: &MemberContext,
        views: &[ViewCount],
        now: i64,
        prepared: &Prepared,
        taken: &HashSet<usize>,
    ) -> Row {
        let index = self.trending_for(views, now);
        let in_country = member
            .country
            .as_ref()
            .and_then(|c| index.by_country.get(&c.to_ascii_uppercase()));
        let (candidates, country) = match in_country {
            Some(list) => (list, member.country.clone()),
            None => (&index.all, None),
        };
        let ranked = self.rank_candidates(candidates, self.config.row_size, prepared, taken);
        let reason = Reason::Trending {
            country: country.clone(),
        };
        let heading = reason.text();
        let items = self.items_of(ranked, |_| reason.clone());
        self.row(RowKind::TrendingNow, "trending_now".into(), heading, items)
    }

    /// Continue Watching: titles in progress, most recently played first; for a series
    /// whose latest activity is a finished episode, the next episode.
    pub fn continue_watching(&self, member: &MemberContext) -> Row {
        self.continue_watching_with(member)
    }

    fn continue_watching_with(&self, member: &MemberContext) -> Row {
        let finished_share = self.config.finished_share;
        // Per recommendable title: its latest activity (time, playable entry, finished,
        // position, duration).
        let mut latest: HashMap<usize, (i64, usize, bool, u32, u32)> = HashMap::new();
        let mut note = |at: i64, k: usize, finished: bool, position: u32, duration: u32| {
            let d = self.display[k];
            let newer = latest.get(&d).is_none_or(|e| {
                at > e.0 || (at == e.0 && self.episode_order(k) > self.episode_order(e.1))
            });
            if newer {
                latest.insert(d, (at, k, finished, position, duration));
            }
        };
        let mut done: HashSet<usize> = HashSet::new();
        for w in &member.watched {
            if let Some(k) = self.index(&w.title_id) {
                let finished = w.completion >= finished_share;
                if finished {
                    done.insert(k);
                }
                let duration = self.items[k].duration_s.unwrap_or(0);
                let position = (w.completion.clamp(0.0, 1.0) * duration as f32) as u32;
                note(w.at, k, finished, position, duration);
            }
        }
        for p in &member.in_progress {
            if let Some(k) = self.index(&p.title_id) {
                let finished = p.position_s as f32 >= finished_share * p.duration_s as f32;
                if finished {
                    done.insert(k);
                }
                note(p.last_at, k, finished, p.position_s, p.duration_s);
            }
        }
        let thumbs_down: HashSet<usize> = member
            .thumbs_down
            .iter()
            .filter_map(|id| self.index(id))
            .flat_map(|k| [k, self.display[k]])
            .collect();
        let mut entries: Vec<(i64, usize, Reason)> = Vec::new();
        for (&d, &(at, k, finished, position, duration)) in &latest {
            if thumbs_down.contains(&d) || thumbs_down.contains(&k) {
                continue;
            }
            let offer = if !finished {
                Some((
                    k,
                    Reason::Resume {
                        position_s: position,
                        duration_s: duration,
                    },
                ))
            } else if self.items[k].kind == TitleKind::Episode {
                self.next_episode(d, k, &done).map(|next| {
                    let item = &self.items[next];
                    (
                        next,
                        Reason::NextEpisode {
                            series_id: self.items[d].id.clone(),
                            season: item.season.unwrap_or(0),
                            episode: item.episode.unwrap_or(0),
                        },
                    )
                })
            } else {
                None
            };
            if let Some((k, reason)) = offer
                && self.allowed(member, k)
                && self.allowed(member, d)
            {
                entries.push((at, k, reason));
            }
        }
        entries.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        entries.truncate(self.config.row_size);
        let items = entries
            .into_iter()
            .map(|(at, k, reason)| RowItem {
                title_id: self.items[k].id.clone(),
                score: at as f32,
                reason,
            })
            .collect();
        self.row(
            RowKind::ContinueWatching,
            "continue_watching".into(),
            "Continue Watching".into(),
            items,
        )
    }

    fn episode_order(&self, k: usize) -> (u32, u32) {
        let item = &self.items[k];
        (item.season.unwrap_or(0), item.episode.unwrap_or(0))
    }

    /// The first episode of `series` after episode `k` that the member has not finished.
    fn next_episode(&self, series: usize, k: usize, done: &HashSet<usize>) -> Option<usize> {
        let list = self.episodes.get(&series)?;
        let at = list.iter().position(|&e| e == k)?;
        list[at + 1..].iter().copied().find(|e| !done.contains(e))
    }

    /// New Releases: titles added within the window before `now`, ranked by the member's
    /// score (by recency for a cold-start member).
    pub fn new_releases(&self, member: &MemberContext, now: i64) -> Row {
        let prepared = self.prepare(member, &[]);
        self.new_releases_with(now, &prepared, &HashSet::new())
    }

    fn new_releases_with(&self, now: i64, prepared: &Prepared, taken: &HashSet<usize>) -> Row {
        let window = self.config.new_release_window_s;
        // Added within [now - window, now]: a range of the titles sorted by addition.
        let from = self
            .by_added
            .partition_point(|&(at, _)| at < now.saturating_sub(window));
        let to = self.by_added.partition_point(|&(at, _)| at <= now);
        let mut candidates: Candidates = self.by_added[from..to.max(from)]
            .iter()
            .map(|&(at, k)| {
                let score = match &prepared.scores {
                    Some(s) => s[k],
                    // Newest first: the later the addition, the higher.
                    None => -((now - at) as f32),
                };
                (k, score)
            })
            .collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let ranked = self.rank_candidates(&candidates, self.config.row_size, prepared, taken);
        let items = self.items_of(ranked, |k| Reason::NewRelease {
            added_at: self.items[k].added_at.unwrap_or(now),
        });
        self.row(
            RowKind::NewReleases,
            "new_releases".into(),
            "New Releases".into(),
            items,
        )
    }

    /// The whole home page: Continue Watching, Top Picks (or Popular in your country),
    /// Because You Watched X, Trending Now, New Releases. A title appears once, in the first
    /// row that offers it (an episode in Continue Watching stands for its series); rows
    /// without titles are left out.
    pub fn home(&self, member: &MemberContext, inputs: &HomeInputs<'_>) -> Vec<Row> {
        let prepared = self.prepare(member, &[]);
        let mut taken: HashSet<usize> = HashSet::new();
        let mut rows = Vec::new();
        let mut push = |row: Row, taken: &mut HashSet<usize>| {
            for item in &row.items {
                if let Some(k) = self.index(&item.title_id) {
                    taken.insert(self.display[k]);
                }
            }
            if !row.items.is_empty() {
                rows.push(row);
            }
        };
        push(self.continue_watching_with(member), &mut taken);
        push(
            self.top_picks_with(member, inputs.segment_counts, &prepared, &taken),
            &mut taken,
        );
        if let Some(row) = self.because_you_watched_with(member, &prepared, &taken) {
            push(row, &mut taken);
        }
        push(
            self.trending_with(member, inputs.recent_views, inputs.now, &prepared, &taken),
            &mut taken,
        );
        push(
            self.new_releases_with(inputs.now, &prepared, &taken),
            &mut taken,
        );
        rows
    }
}
