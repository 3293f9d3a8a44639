//! Viewing facts: the compact, columnar snapshot of the store that content analytics reads.
//!
//! The store fills a [`FactsBuilder`] with one scan per table (catalog, members, views,
//! ratings, impressions); analytics computes every figure from the finished
//! [`ViewingFacts`] without further IO. Texts that repeat (title, member, country, device,
//! plan and genre names) are interned once and rows hold integer codes into them, so a
//! million views take about 40 bytes each.

use std::collections::HashMap;

/// The builder's dictionaries: keyed by ids read from the store, hashed with a fast seeded
/// hash (hashing ids was a tenth of reading one show's dashboard with SipHash).
type Dictionary<V> = HashMap<String, V, foldhash::fast::RandomState>;

use crate::catalog::{MaturityLevel, Title, TitleKind};
use crate::event::{RatingValue, Thumbs};

/// An absent index into titles or members (e.g. an episode whose series is unknown).
pub const NO_INDEX: u32 = u32::MAX;
/// An absent code into a dictionary (country, device, plan).
pub const NO_CODE: u16 = u16::MAX;
/// An unknown time (signup, date added).
pub const UNKNOWN_TIME: i64 = i64::MIN;

/// A window in which a title may be shown in one country, as millisecond times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvailabilityWindow {
    pub country: u16,
    pub from_ms: i64,
    /// `i64::MAX` when open-ended.
    pub until_ms: i64,
}

/// The catalog, one row per title (movies, series, seasons, episodes).
#[derive(Debug, Clone, Default)]
pub struct CatalogColumns {
    pub id: Vec<String>,
    pub name: Vec<String>,
    pub kind: Vec<TitleKind>,
    /// For seasons and episodes: the row of their series ([`NO_INDEX`] when unknown).
    pub series: Vec<u32>,
    /// 0 when unknown.
    pub season_number: Vec<u32>,
    /// 0 when unknown.
    pub episode_number: Vec<u32>,
    /// The genres of row `i` are `genre[genre_start[i]..genre_start[i + 1]]` (codes into
    /// [`ViewingFacts::genres`]); `genre_start` has one more entry than there are rows.
    pub genre_start: Vec<u32>,
    pub genre: Vec<u16>,
    /// 0 when unknown.
    pub release_year: Vec<i32>,
    /// Runtime; 0 when unknown or zero.
    pub duration_s: Vec<u32>,
    pub maturity: Vec<MaturityLevel>,
    /// When the title was added to the service ([`UNKNOWN_TIME`] when unknown).
    pub added_ms: Vec<i64>,
    /// The availability windows of row `i` are
    /// `availability[availability_start[i]..availability_start[i + 1]]`; none means
    /// everywhere, from `added_ms` on.
    pub availability_start: Vec<u32>,
    pub availability: Vec<AvailabilityWindow>,
    /// The title was referenced by an event but is not in the catalog.
    pub missing: Vec<bool>,
}

impl CatalogColumns {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }

    pub fn genres_of(&self, title: usize) -> &[u16] {
        &self.genre[self.genre_start[title] as usize..self.genre_start[title + 1] as usize]
    }

    pub fn availability_of(&self, title: usize) -> &[AvailabilityWindow] {
        &self.availability
            [self.availability_start[title] as usize..self.availability_start[title + 1] as usize]
    }
}

/// Members, one row per member id that the catalog of members or any fact names. Members
/// named only by events (deleted, or never imported) have `known == false` and no signup,
/// plan or country.
#[derive(Debug, Clone, Default)]
pub struct MemberColumns {
    pub id: Vec<String>,
    pub signup_ms: Vec<i64>,
    /// Code into [`ViewingFacts::plans`], or [`NO_CODE`].
    pub plan: Vec<u16>,
    /// Code into [`ViewingFacts::countries`], or [`NO_CODE`].
    pub country: Vec<u16>,
    pub known: Vec<bool>,
}

impl MemberColumns {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
}

/// Playback sessions (views), one row each.
#[derive(Debug, Clone, Default)]
pub struct ViewColumns {
    pub title: Vec<u32>,
    pub member: Vec<u32>,
    pub country: Vec<u16>,
    pub device: Vec<u16>,
    pub start_ms: Vec<i64>,
    pub last_ms: Vec<i64>,
    pub watched_s: Vec<u32>,
    pub max_position_s: Vec<u32>,
}

impl ViewColumns {
    pub fn len(&self) -> usize {
        self.title.len()
    }

    pub fn is_empty(&self) -> bool {
        self.title.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct RatingColumns {
    pub title: Vec<u32>,
    pub member: Vec<u32>,
    pub ts_ms: Vec<i64>,
    /// Stars (0.5 to 5), or NaN for a thumbs rating.
    pub stars: Vec<f32>,
    /// 1 up, -1 down, 0 for a star rating.
    pub thumbs: Vec<i8>,
}

#[derive(Debug, Clone, Default)]
pub struct ImpressionColumns {
    pub title: Vec<u32>,
    pub member: Vec<u32>,
    pub ts_ms: Vec<i64>,
}

/// What content analytics reads: views starting in `[from_ms, to_ms)`, the ratings and
/// impressions of that range, the whole catalog and the members they name.
#[derive(Debug, Clone, Default)]
pub struct ViewingFacts {
    pub from_ms: i64,
    pub to_ms: i64,
    /// Views were kept only when played in this country (ISO code), if set.
    pub country_filter: Option<String>,
    pub countries: Vec<String>,
    pub devices: Vec<String>,
    pub plans: Vec<String>,
    pub genres: Vec<String>,
    pub titles: CatalogColumns,
    pub members: MemberColumns,
    pub views: ViewColumns,
    pub ratings: RatingColumns,
    pub impressions: ImpressionColumns,
}

impl ViewingFacts {
    pub fn title_index(&self, id: &str) -> Option<usize> {
        self.titles.id.iter().position(|candidate| candidate == id)
    }
}

/// A view as a backend reads it, with its texts borrowed from the row.
#[derive(Debug, Clone, Copy)]
pub struct ViewRow<'a> {
    pub title_id: &'a str,
    pub member_id: &'a str,
    pub country: Option<&'a str>,
    pub device: Option<&'a str>,
    pub start_ms: i64,
    pub last_ms: i64,
    pub watched_s: u32,
    pub max_position_s: u32,
}

/// Fills [`ViewingFacts`] row by row, interning every text once. Titles and members may
/// come in any order and may be referenced before they are added.
#[derive(Debug, Default)]
pub struct FactsBuilder {
    facts: ViewingFacts,
    title_rows: Dictionary<u32>,
    member_rows: Dictionary<u32>,
    countries: Dictionary<u16>,
    devices: Dictionary<u16>,
    plans: Dictionary<u16>,
    genres: Dictionary<u16>,
    /// Per title row: its genres and availability until `finish` flattens them, and the
    /// series id to resolve.
    title_genres: Vec<Vec<u16>>,
    title_availability: Vec<Vec<AvailabilityWindow>>,
    title_series: Vec<Option<String>>,
}

fn intern(map: &mut Dictionary<u16>, names: &mut Vec<String>, text: &str) -> u16 {
    if let Some(code) = map.get(text) {
        return *code;
    }
    // Past 65,534 distinct values the rest share the last code: no real dictionary of
    // countries, devices, plans or genres comes near that.
    let code = u16::try_from(names.len())
        .unwrap_or(NO_CODE - 1)
        .min(NO_CODE - 1);
    if usize::from(code) == names.len() {
        names.push(text.to_owned());
    }
    map.insert(text.to_owned(), code);
    code
}

impl FactsBuilder {
    pub fn new(from_ms: i64, to_ms: i64) -> Self {
        FactsBuilder {
            facts: ViewingFacts {
                from_ms,
                to_ms,
                ..ViewingFacts::default()
            },
            ..FactsBuilder::default()
        }
    }

    pub fn set_country_filter(&mut self, country: Option<String>) {
        self.facts.country_filter = country;
    }

    pub fn country(&mut self, code: &str) -> u16 {
        intern(&mut self.countries, &mut self.facts.countries, code)
    }

    pub fn device(&mut self, device: &str) -> u16 {
        intern(&mut self.devices, &mut self.facts.devices, device)
    }

    fn optional_country(&mut self, code: Option<&str>) -> u16 {
        code.map_or(NO_CODE, |code| self.country(code))
    }

    /// The row of a title, adding a placeholder (marked missing) when it is not known yet.
    pub fn title_row(&mut self, id: &str) -> u32 {
        if let Some(row) = self.title_rows.get(id) {
            return *row;
        }
        let row = self.facts.titles.id.len() as u32;
        let titles = &mut self.facts.titles;
        titles.id.push(id.to_owned());
        titles.name.push(id.to_owned());
        titles.kind.push(TitleKind::Movie);
        titles.series.push(NO_INDEX);
        titles.season_number.push(0);
        titles.episode_number.push(0);
        titles.release_year.push(0);
        titles.duration_s.push(0);
        titles.maturity.push(MaturityLevel::Adults);
        titles.added_ms.push(UNKNOWN_TIME);
        titles.missing.push(true);
        self.title_genres.push(Vec::new());
        self.title_availability.push(Vec::new());
        self.title_series.push(None);
        self.title_rows.insert(id.to_owned(), row);
        row
    }

    /// Adds (or completes) a catalog title.
    pub fn add_title(&mut self, title: &Title) -> u32 {
        let row = self.title_row(&title.id);
        let index = row as usize;
        let genres: Vec<u16> = title
            .genres
            .iter()
            .map(|genre| intern(&mut self.genres, &mut self.facts.genres, genre))
            .collect();
        let availability: Vec<AvailabilityWindow> = title
            .availability
            .iter()
            .map(|window| AvailabilityWindow {
                country: intern(
                    &mut self.countries,
                    &mut self.facts.countries,
                    &window.country,
                ),
                from_ms: window.from.millis(),
                until_ms: window.until.map_or(i64::MAX, |until| until.millis()),
            })
            .collect();
        let titles = &mut self.facts.titles;
        titles.name[index] = title.name.clone();
        titles.kind[index] = title.kind;
        titles.season_number[index] = title.season_number.unwrap_or(0);
        titles.episode_number[index] = title.episode_number.unwrap_or(0);
        titles.release_year[index] = title.release_year.unwrap_or(0);
        titles.duration_s[index] = title.duration_s.unwrap_or(0);
        titles.maturity[index] = title.maturity_level();
        titles.added_ms[index] = title.added_at.map_or(UNKNOWN_TIME, |at| at.millis());
        titles.missing[index] = false;
        self.title_genres[index] = genres;
        self.title_availability[index] = availability;
        self.title_series[index] = title.series_id.clone();
        row
    }

    /// The row of a member, adding an unknown one (no signup, plan or country) if needed.
    pub fn member_row(&mut self, id: &str) -> u32 {
        if let Some(row) = self.member_rows.get(id) {
            return *row;
        }
        let row = self.anonymous_member(id.to_owned());
        self.member_rows.insert(id.to_owned(), row);
        row
    }

    /// A new row for a member known only by a label (e.g. a storage key), not entered in the
    /// dictionary: the caller keeps its own map to the row. Counts as a distinct, unknown
    /// member wherever members are counted.
    pub fn anonymous_member(&mut self, label: String) -> u32 {
        let row = self.facts.members.id.len() as u32;
        let members = &mut self.facts.members;
        members.id.push(label);
        members.signup_ms.push(UNKNOWN_TIME);
        members.plan.push(NO_CODE);
        members.country.push(NO_CODE);
        members.known.push(false);
        row
    }

    /// The row of a title already added or referenced, without adding one.
    pub fn find_title(&self, id: &str) -> Option<u32> {
        self.title_rows.get(id).copied()
    }

    /// The row of a member already added or referenced, without adding one.
    pub fn find_member(&self, id: &str) -> Option<u32> {
        self.member_rows.get(id).copied()
    }

    /// The ids of the members added or referenced so far, in row order.
    pub fn member_ids(&self) -> &[String] {
        &self.facts.members.id
    }

    /// A member's home country code ([`NO_CODE`] when unknown).
    pub fn member_country(&self, member: u32) -> u16 {
        self.facts
            .members
            .country
            .get(member as usize)
            .copied()
            .unwrap_or(NO_CODE)
    }

    /// Adds (or completes) a member of the members table.
    pub fn add_member(
        &mut self,
        id: &str,
        signup_ms: Option<i64>,
        plan: Option<&str>,
        country: Option<&str>,
    ) -> u32 {
        let row = self.member_row(id);
        let plan = plan.map_or(NO_CODE, |plan| {
            intern(&mut self.plans, &mut self.facts.plans, plan)
        });
        let country = self.optional_country(country);
        let index = row as usize;
        let members = &mut self.facts.members;
        members.signup_ms[index] = signup_ms.unwrap_or(UNKNOWN_TIME);
        members.plan[index] = plan;
        members.country[index] = country;
        members.known[index] = true;
        row
    }

    pub fn add_view(&mut self, view: ViewRow<'_>) {
        let title = self.title_row(view.title_id);
        let member = self.member_row(view.member_id);
        let country = self.optional_country(view.country);
        let device = view.device.map_or(NO_CODE, |device| self.device(device));
        self.push_view(
            title,
            member,
            country,
            device,
            [view.start_ms, view.last_ms],
            view.watched_s,
            view.max_position_s,
        );
    }

    /// Adds a view whose title, member, country and device are already rows and codes.
    #[allow(clippy::too_many_arguments)]
    pub fn push_view(
        &mut self,
        title: u32,
        member: u32,
        country: u16,
        device: u16,
        [start_ms, last_ms]: [i64; 2],
        watched_s: u32,
        max_position_s: u32,
    ) {
        let views = &mut self.facts.views;
        views.title.push(title);
        views.member.push(member);
        views.country.push(country);
        views.device.push(device);
        views.start_ms.push(start_ms);
        views.last_ms.push(last_ms);
        views.watched_s.push(watched_s);
        views.max_position_s.push(max_position_s);
    }

    pub fn add_rating(&mut self, title_id: &str, member_id: &str, ts_ms: i64, value: RatingValue) {
        let title = self.title_row(title_id);
        let member = self.member_row(member_id);
        self.push_rating(title, member, ts_ms, value);
    }

    pub fn push_rating(&mut self, title: u32, member: u32, ts_ms: i64, value: RatingValue) {
        let ratings = &mut self.facts.ratings;
        ratings.title.push(title);
        ratings.member.push(member);
        ratings.ts_ms.push(ts_ms);
        match value {
            RatingValue::Stars(stars) => {
                ratings.stars.push(stars);
                ratings.thumbs.push(0);
            }
            RatingValue::Thumbs(thumbs) => {
                ratings.stars.push(f32::NAN);
                ratings
                    .thumbs
                    .push(if thumbs == Thumbs::Up { 1 } else { -1 });
            }
        }
    }

    pub fn add_impression(&mut self, title_id: &str, member_id: &str, ts_ms: i64) {
        let title = self.title_row(title_id);
        let member = self.member_row(member_id);
        self.push_impression(title, member, ts_ms);
    }

    pub fn push_impression(&mut self, title: u32, member: u32, ts_ms: i64) {
        let impressions = &mut self.facts.impressions;
        impressions.title.push(title);
        impressions.member.push(member);
        impressions.ts_ms.push(ts_ms);
    }

    /// Resolves series links and flattens the per-title lists.
    pub fn finish(mut self) -> ViewingFacts {
        let count = self.facts.titles.id.len();
        let mut series = vec![NO_INDEX; count];
        for (row, series_id) in self.title_series.iter().enumerate() {
            if let Some(series_id) = series_id
                && let Some(series_row) = self.title_rows.get(series_id)
            {
                series[row] = *series_row;
            }
        }
        let titles = &mut self.facts.titles;
        titles.series = series;
        titles.genre_start = Vec::with_capacity(count + 1);
        titles.availability_start = Vec::with_capacity(count + 1);
        titles.genre_start.push(0);
        titles.availability_start.push(0);
        for (genres, availability) in self.title_genres.iter().zip(&self.title_availability) {
            titles.genre.extend_from_slice(genres);
            titles.genre_start.push(titles.genre.len() as u32);
            titles.availability.extend_from_slice(availability);
            titles
                .availability_start
                .push(titles.availability.len() as u32);
        }
        self.facts
    }
}
