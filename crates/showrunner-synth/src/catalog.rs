//! The synthetic catalog: movies and series (with seasons and episodes), genres, latent
//! factor vectors, a Zipf popularity, maturity ratings, people, production countries,
//! per-country availability windows, and a few titles released during the window.
//!
//! Tastes live in a small latent space: every genre has a random unit vector, a title's
//! vector is its genres' vectors plus noise, a profile's vector leans towards its favourite
//! genres. The affinity of a profile for a title is the dot product of the two.

use showrunner_model::time::{DAY_MS, HOUR_MS};
use showrunner_model::{Availability, MaturityLevel, Timestamp, Title, TitleKind};

use crate::geo::COUNTRIES;
use crate::names;
use crate::random::{
    AliasTable, Stream, SynthRng, chance, index, int_between, normal, pick_weighted, rng_for,
    uniform, uniform_between,
};

/// Dimensions of the latent taste space.
pub const FACTORS: usize = 12;
pub type Factors = [f32; FACTORS];

pub const GENRES: [&str; 20] = [
    "Drama",
    "Comedy",
    "Action",
    "Thriller",
    "Crime",
    "Romance",
    "Documentary",
    "Horror",
    "Science Fiction",
    "Fantasy",
    "Animation",
    "Kids",
    "Family",
    "Reality",
    "Anime",
    "Mystery",
    "Adventure",
    "Music",
    "Sports",
    "Stand-Up Comedy",
];

/// How often each genre is a title's main genre.
const GENRE_WEIGHTS: [f64; 20] = [
    14.0, 12.0, 9.0, 7.0, 7.0, 6.0, 6.0, 5.0, 5.0, 4.0, 4.0, 5.0, 3.0, 3.0, 3.0, 3.0, 4.0, 2.0,
    2.0, 2.0,
];

/// The genre adult members pick as a favourite far more often than the catalog supplies it
/// (`truth.json` names it): the planted gap between demand and supply that content analytics
/// must find. Anime: a genre with few titles, so the gap is large per title.
pub const OVERWATCHED_GENRE: usize = 14;

/// How much more often adults pick [`OVERWATCHED_GENRE`] as a favourite than its share of
/// the catalog's popularity would make them.
pub const OVERWATCHED_FAVOURITE_BOOST: f64 = 8.0;

/// Genres whose titles are made for children; a kids profile's favourites come from here.
pub const KIDS_GENRES: [usize; 4] = [10, 11, 12, 16];

/// Animation is mostly, but not only, for children.
fn is_kids_title(rng: &mut SynthRng, main_genre: usize) -> bool {
    matches!(main_genre, 11 | 12) || (main_genre == 10 && chance(rng, 0.7))
}

#[derive(Debug, Clone)]
pub struct Episode {
    pub id: String,
    pub season: u32,
    pub number: u32,
    pub duration_s: u32,
    pub name: String,
}

/// A movie or a series, with everything the generator needs to simulate viewing.
#[derive(Debug, Clone)]
pub struct CatalogTitle {
    pub id: String,
    pub name: String,
    pub is_series: bool,
    /// Main genre first.
    pub genres: Vec<u8>,
    pub factors: Factors,
    pub popularity: f64,
    pub maturity_rating: &'static str,
    pub kids_ok: bool,
    /// Runtime of a movie in seconds (0 for series).
    pub duration_s: u32,
    pub seasons: u32,
    pub episodes: Vec<Episode>,
    pub release_year: i32,
    pub added_at: i64,
    /// Bit `i` set: not available in `COUNTRIES[i]`.
    pub excluded_countries: u32,
    /// Leaves the service in the countries of the mask at the given time.
    pub leaving: Option<(u32, i64)>,
    pub released_in_window: bool,
    pub production_countries: Vec<&'static str>,
    pub cast: Vec<String>,
    pub directors: Vec<String>,
    pub description: String,
}

impl CatalogTitle {
    pub fn is_available(&self, country: usize, ts: i64) -> bool {
        let bit = 1u32 << country;
        if ts < self.added_at || self.excluded_countries & bit != 0 {
            return false;
        }
        match self.leaving {
            Some((mask, until)) => mask & bit == 0 || ts < until,
            None => true,
        }
    }

    /// The id and runtime of what is played: the movie itself, or one episode.
    pub fn playable(&self, episode: usize) -> (&str, u32) {
        if self.is_series {
            let episode = &self.episodes[episode.min(self.episodes.len() - 1)];
            (&episode.id, episode.duration_s)
        } else {
            (&self.id, self.duration_s)
        }
    }

    fn availability(&self) -> Vec<Availability> {
        if self.excluded_countries == 0 && self.leaving.is_none() && !self.released_in_window {
            return Vec::new();
        }
        COUNTRIES
            .iter()
            .enumerate()
            .filter(|(country, _)| self.excluded_countries & (1 << country) == 0)
            .map(|(country, info)| Availability {
                country: info.code.to_string(),
                from: Timestamp::from_millis(self.added_at),
                until: self
                    .leaving
                    .filter(|(mask, _)| mask & (1 << country) != 0)
                    .map(|(_, until)| Timestamp::from_millis(until)),
            })
            .collect()
    }

    fn base_title(&self, id: &str, kind: TitleKind, name: String) -> Title {
        let mut title = Title::new(id, kind, name);
        title.genres = self
            .genres
            .iter()
            .map(|g| GENRES[usize::from(*g)].to_string())
            .collect();
        title.release_year = Some(self.release_year);
        title.maturity_rating = Some(self.maturity_rating.to_string());
        title.countries = self
            .production_countries
            .iter()
            .map(|c| c.to_string())
            .collect();
        title.availability = self.availability();
        title.added_at = Some(Timestamp::from_millis(self.added_at));
        title
    }

    /// The catalog records: the title, then (for a series) each season followed by its
    /// episodes, so a reader always meets a series before its parts.
    pub fn to_records(&self) -> Vec<Title> {
        let kind = if self.is_series {
            TitleKind::Series
        } else {
            TitleKind::Movie
        };
        let mut top = self.base_title(&self.id, kind, self.name.clone());
        top.cast = self.cast.clone();
        top.directors = self.directors.clone();
        top.description = Some(self.description.clone());
        if !self.is_series {
            top.duration_s = Some(self.duration_s);
            return vec![top];
        }
        let mut records = vec![top];
        for season in 1..=self.seasons {
            let season_id = format!("{}-s{season}", self.id);
            let mut season_title = self.base_title(
                &season_id,
                TitleKind::Season,
                format!("{}: Season {season}", self.name),
            );
            season_title.series_id = Some(self.id.clone());
            season_title.season_number = Some(season);
            records.push(season_title);
            for episode in self
                .episodes
                .iter()
                .filter(|episode| episode.season == season)
            {
                let mut episode_title =
                    self.base_title(&episode.id, TitleKind::Episode, episode.name.clone());
                episode_title.series_id = Some(self.id.clone());
                episode_title.season_number = Some(season);
                episode_title.episode_number = Some(episode.number);
                episode_title.duration_s = Some(episode.duration_s);
                records.push(episode_title);
            }
        }
        records
    }
}

/// Titles containing one genre, for popularity-weighted draws.
#[derive(Debug, Clone)]
pub struct GenreTable {
    pub titles: Vec<u32>,
    alias: AliasTable,
}

impl GenreTable {
    fn new(titles: Vec<u32>, catalog_titles: &[CatalogTitle]) -> Option<GenreTable> {
        if titles.is_empty() {
            return None;
        }
        let weights: Vec<f64> = titles
            .iter()
            .map(|t| catalog_titles[*t as usize].popularity)
            .collect();
        Some(GenreTable {
            alias: AliasTable::new(&weights),
            titles,
        })
    }

    pub fn sample(&self, rng: &mut SynthRng) -> u32 {
        self.titles[self.alias.sample(rng)]
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub titles: Vec<CatalogTitle>,
    pub genre_tables: Vec<Option<GenreTable>>,
    pub kids_genre_tables: Vec<Option<GenreTable>>,
    /// Share of viewing each genre gets across the platform (popularity-weighted).
    pub genre_share: Vec<f64>,
    pub kids_genre_share: Vec<f64>,
    /// Weights of the genres adult profiles pick as favourites: `genre_share` with
    /// [`OVERWATCHED_GENRE`] boosted.
    pub favourite_share: Vec<f64>,
    pub genre_factors: Vec<Factors>,
    /// All titles by popularity, for "trending".
    pub global: GenreTable,
    /// Titles released during the window.
    pub releases: Vec<u32>,
    /// Titles by `added_at`, newest first, for the "new releases" row.
    pub newest_first: Vec<u32>,
    pub episode_count: u64,
}

pub fn dot(a: &Factors, b: &Factors) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn normalize(vector: &mut Factors) {
    let norm = dot(vector, vector).sqrt().max(1e-6);
    for value in vector.iter_mut() {
        *value /= norm;
    }
}

pub fn random_unit(rng: &mut SynthRng) -> Factors {
    let mut vector = [0.0f32; FACTORS];
    for value in &mut vector {
        *value = normal(rng) as f32;
    }
    normalize(&mut vector);
    vector
}

const YEAR_MS: i64 = 365 * DAY_MS;

impl Catalog {
    pub fn build(seed: u64, title_count: u32, start: i64, days: u32) -> Catalog {
        let mut rng = rng_for(seed, Stream::Catalog, 0, 0);
        let genre_factors: Vec<Factors> =
            (0..GENRES.len()).map(|_| random_unit(&mut rng)).collect();
        let count = title_count.max(1) as usize;
        let (start_year, _, _) = Timestamp::from_millis(start).civil_date();
        let start_year = start_year as i32;

        // Popularity: a Zipf law over a random order of the titles.
        let mut order: Vec<usize> = (0..count).collect();
        for position in (1..count).rev() {
            order.swap(position, index(&mut rng, position + 1));
        }
        let mut rank_of = vec![0usize; count];
        for (rank, title) in order.iter().enumerate() {
            rank_of[*title] = rank;
        }

        // A few people appear in many titles, as in real casts.
        let people: Vec<String> = (0..(count / 2).clamp(40, 4000))
            .map(|_| names::person_name(&mut rng))
            .collect();
        let people_weights: Vec<f64> = (0..people.len())
            .map(|rank| 1.0 / (rank as f64 + 3.0))
            .collect();
        let people_table = AliasTable::new(&people_weights);

        let release_count = if days >= 1 {
            (count / 200).clamp(1, 20)
        } else {
            0
        };
        let mut releases = Vec::new();
        let mut titles = Vec::with_capacity(count);
        for (title_index, rank) in rank_of.iter().copied().enumerate() {
            // The second title is always a series, so even a tiny catalog has one.
            let is_series = count >= 2 && (title_index == 1 || chance(&mut rng, 0.38));
            let main_genre = pick_weighted(&mut rng, &GENRE_WEIGHTS);
            let kids_title = is_kids_title(&mut rng, main_genre);
            let mut genres = vec![main_genre as u8];
            let extra = pick_weighted(&mut rng, &[0.35, 0.45, 0.2]);
            for _ in 0..extra {
                let genre = if kids_title {
                    [10usize, 11, 12, 16, 1, 9][index(&mut rng, 6)]
                } else {
                    pick_weighted(&mut rng, &GENRE_WEIGHTS)
                };
                if !genres.contains(&(genre as u8)) && (kids_title || !matches!(genre, 11 | 12)) {
                    genres.push(genre as u8);
                }
            }
            let mut factors = [0.0f32; FACTORS];
            for (position, genre) in genres.iter().enumerate() {
                let strength = if position == 0 { 1.0 } else { 0.5 };
                for (value, component) in
                    factors.iter_mut().zip(&genre_factors[usize::from(*genre)])
                {
                    *value += strength * component;
                }
            }
            for value in &mut factors {
                *value += 0.45 * normal(&mut rng) as f32;
            }
            normalize(&mut factors);

            let maturity_rating = match (kids_title, is_series) {
                (true, true) => ["TV-Y", "TV-Y7", "TV-G"][index(&mut rng, 3)],
                (true, false) => ["G", "PG"][index(&mut rng, 2)],
                (false, true) => ["TV-PG", "TV-14", "TV-MA", "TV-MA"][index(&mut rng, 4)],
                (false, false) => ["PG", "PG-13", "PG-13", "R", "R", "NC-17"]
                    [pick_weighted(&mut rng, &[2.0, 2.0, 2.0, 2.0, 2.0, 0.2])],
            };
            let kids_ok = MaturityLevel::of_rating(maturity_rating) <= MaturityLevel::OlderKids;

            let production_country = COUNTRIES[pick_weighted(
                &mut rng,
                &[
                    40.0, 10.0, 4.0, 5.0, 8.0, 5.0, 3.0, 3.0, 6.0, 6.0, 4.0, 3.0, 2.0, 1.0, 1.0,
                    1.0, 1.0,
                ],
            )]
            .code;
            let mut production_countries = vec![production_country];
            if chance(&mut rng, 0.2) {
                let other = COUNTRIES[index(&mut rng, COUNTRIES.len())].code;
                if other != production_country {
                    production_countries.push(other);
                }
            }
            let name = names::title_name(&mut rng, production_country);
            let age_years = (-(uniform(&mut rng).max(1e-9)).ln() * 6.0) as i32;
            let release_year = (start_year - age_years).max(1950);
            let earliest = Timestamp::from_civil(i64::from(release_year), 1, 1, 0, 0, 0, 0)
                .map_or(start - 3 * YEAR_MS, |ts| ts.millis())
                .max(start - 3 * YEAR_MS);
            let latest = start - DAY_MS;
            let added_at = if earliest >= latest {
                latest
            } else {
                earliest + (uniform(&mut rng) * (latest - earliest) as f64) as i64
            };
            // Round to the hour, as catalog feeds do.
            let added_at = added_at - added_at.rem_euclid(HOUR_MS);

            let mut duration_s = 0;
            let mut seasons = 0;
            let mut episodes = Vec::new();
            let id = format!("t{}", title_index + 1);
            if is_series {
                seasons = 1;
                while seasons < 6 && chance(&mut rng, 0.42) {
                    seasons += 1;
                }
                let base_minutes = if kids_title || main_genre == 1 || main_genre == 19 {
                    uniform_between(&mut rng, 20.0, 30.0)
                } else {
                    uniform_between(&mut rng, 25.0, 60.0)
                };
                for season in 1..=seasons {
                    let episodes_in_season = int_between(&mut rng, 6, 12) as u32;
                    for number in 1..=episodes_in_season {
                        let minutes =
                            (base_minutes * uniform_between(&mut rng, 0.9, 1.1)).clamp(20.0, 60.0);
                        episodes.push(Episode {
                            id: format!("{id}-s{season}e{number}"),
                            season,
                            number,
                            duration_s: (minutes * 60.0) as u32,
                            name: format!(
                                "{name} S{season}E{number}: {}",
                                names::title_name(&mut rng, "US").trim_start_matches("The ")
                            ),
                        });
                    }
                }
            } else {
                duration_s = int_between(&mut rng, 80 * 60, 150 * 60) as u32;
            }
            let cast_size = int_between(&mut rng, 3, 6) as usize;
            let mut cast: Vec<String> = Vec::with_capacity(cast_size);
            while cast.len() < cast_size && cast.len() < people.len() {
                let person = &people[people_table.sample(&mut rng)];
                if !cast.contains(person) {
                    cast.push(person.clone());
                }
            }
            let directors = vec![people[index(&mut rng, people.len())].clone()];
            let excluded_countries = if chance(&mut rng, 0.22) {
                let mut mask = 0u32;
                for _ in 0..int_between(&mut rng, 1, 5) {
                    mask |= 1 << index(&mut rng, COUNTRIES.len());
                }
                mask
            } else {
                0
            };
            titles.push(CatalogTitle {
                description: names::description(&mut rng, GENRES[main_genre]),
                id,
                name,
                is_series,
                genres,
                factors,
                popularity: 1.0 / (rank as f64 + 5.0).powf(0.95),
                maturity_rating,
                kids_ok,
                duration_s,
                seasons,
                episodes,
                release_year,
                added_at,
                excluded_countries,
                leaving: None,
                released_in_window: false,
                production_countries,
                cast,
                directors,
            });
        }

        // Titles released during the window: hyped, so they spike on release day.
        let mut candidates: Vec<usize> = (0..count).collect();
        for _ in 0..release_count.min(count) {
            let title_index = candidates.swap_remove(index(&mut rng, candidates.len()));
            let title = &mut titles[title_index];
            let release_day = if days >= 3 {
                int_between(&mut rng, 1, u64::from(days) - 2) as i64
            } else {
                0
            };
            title.added_at = start + release_day * DAY_MS + 7 * HOUR_MS;
            title.release_year = start_year;
            title.released_in_window = true;
            title.excluded_countries = 0;
            title.popularity = title.popularity.max(1.0 / 12.0);
            releases.push(title_index as u32);
        }
        // A few titles leave mid-window, everywhere or in some countries.
        let leaving_count = (count / 70).max(1).min(candidates.len());
        for _ in 0..leaving_count {
            let title_index = candidates.swap_remove(index(&mut rng, candidates.len()));
            let mask = if chance(&mut rng, 0.5) {
                (1u32 << COUNTRIES.len()) - 1
            } else {
                1 << index(&mut rng, 3) | 1 << index(&mut rng, COUNTRIES.len())
            };
            let until = start
                + (uniform_between(&mut rng, 0.3, 0.9) * f64::from(days.max(1)) * DAY_MS as f64)
                    as i64;
            titles[title_index].leaving = Some((mask, until - until.rem_euclid(DAY_MS)));
        }
        releases.sort_unstable_by_key(|t| titles[*t as usize].added_at);

        let mut genre_tables = Vec::with_capacity(GENRES.len());
        let mut kids_genre_tables = Vec::with_capacity(GENRES.len());
        let mut genre_share = vec![0.0; GENRES.len()];
        let mut kids_genre_share = vec![0.0; GENRES.len()];
        for genre in 0..GENRES.len() {
            let with_genre: Vec<u32> = (0..count as u32)
                .filter(|t| titles[*t as usize].genres.contains(&(genre as u8)))
                .collect();
            let kids: Vec<u32> = with_genre
                .iter()
                .copied()
                .filter(|t| titles[*t as usize].kids_ok)
                .collect();
            genre_share[genre] = with_genre
                .iter()
                .map(|t| titles[*t as usize].popularity)
                .sum();
            kids_genre_share[genre] = kids.iter().map(|t| titles[*t as usize].popularity).sum();
            genre_tables.push(GenreTable::new(with_genre, &titles));
            kids_genre_tables.push(GenreTable::new(kids, &titles));
        }
        let mut favourite_share = genre_share.clone();
        favourite_share[OVERWATCHED_GENRE] *= OVERWATCHED_FAVOURITE_BOOST;
        let global = GenreTable::new((0..count as u32).collect(), &titles)
            .unwrap_or_else(|| unreachable!("the catalog has at least one title"));
        let mut newest_first: Vec<u32> = (0..count as u32).collect();
        newest_first.sort_by_key(|t| std::cmp::Reverse((titles[*t as usize].added_at, *t)));
        newest_first.truncate(200);
        let episode_count = titles.iter().map(|t| t.episodes.len() as u64).sum();
        Catalog {
            titles,
            genre_tables,
            kids_genre_tables,
            genre_share,
            kids_genre_share,
            favourite_share,
            genre_factors,
            global,
            releases,
            newest_first,
            episode_count,
        }
    }
}
