//! Demand and supply (docs/analytics.md, "Demand and supply"): hours viewed per genre
//! against the catalog's titles and hours there, the same per genre x country, maturity and
//! release decade, the Effective Catalog Size, and the ranked gaps.
//!
//! A show with several genres credits each an equal share of its hours, its title count and
//! its runtime, so every total adds up to the catalog's.

use std::collections::BTreeMap;

use serde::Serialize;
use showrunner_model::MaturityLevel;
use showrunner_model::facts::{NO_CODE, UNKNOWN_TIME};

use crate::prepare::{Prepared, ratio};

/// Genres (and cells) with fewer available titles than this are not ranked as gaps: one
/// title's popularity would decide them.
pub const MIN_TITLES_FOR_GAP: f64 = 3.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenreDemand {
    pub genre: String,
    pub hours: f64,
    pub hours_share: f64,
    /// Shows available in the range (fractional for multi-genre shows).
    pub titles: f64,
    pub titles_share: f64,
    /// Runtime of those shows, in hours.
    pub catalog_hours: f64,
    pub catalog_hours_share: f64,
    pub hours_per_title: Option<f64>,
    /// `hours_share / titles_share`: 1 means viewing matches supply.
    pub demand_index: Option<f64>,
    pub unique_viewers: u64,
    pub completion_rate: Option<f64>,
    /// The shows carrying most of the genre's hours, most first (at most three).
    pub top_titles: Vec<String>,
}

/// One genre within one value of another dimension (a country, maturity band, decade).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenreCell {
    pub genre: String,
    pub key: String,
    pub hours: f64,
    pub titles: f64,
    /// The genre's share of the hours in `key` over its share of the titles in `key`.
    pub demand_index: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub rank: usize,
    pub genre: String,
    pub demand_index: f64,
    pub hours_per_title: f64,
    /// The catalog's hours per available title, for comparison.
    pub catalog_hours_per_title: f64,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct DemandSupply {
    pub genres: Vec<GenreDemand>,
    pub by_country: Vec<GenreCell>,
    pub by_maturity: Vec<GenreCell>,
    pub by_decade: Vec<GenreCell>,
    /// `2 * sum(i * p_i) - 1` over shows ranked by hours (p_i: share of hours): how many
    /// titles really carry the viewing.
    pub effective_catalog_size: f64,
    pub titles_watched: u64,
    pub titles_available: u64,
    /// Fewest shows that carry half and four fifths of the hours.
    pub titles_for_half_of_hours: u64,
    pub titles_for_80pct_of_hours: u64,
    pub gaps: Vec<Gap>,
}

/// The Effective Catalog Size of a list of hours per title (any order).
pub fn effective_catalog_size(hours: &[f64]) -> f64 {
    let total: f64 = hours.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut sorted: Vec<f64> = hours.iter().copied().filter(|h| *h > 0.0).collect();
    sorted.sort_by(|a, b| b.total_cmp(a));
    2.0 * sorted
        .iter()
        .enumerate()
        .map(|(rank, h)| (rank as f64 + 1.0) * h / total)
        .sum::<f64>()
        - 1.0
}

/// Whether a show may be shown in the range (in `country`, if given).
fn available(prepared: &Prepared<'_>, show: usize, country: Option<u16>) -> bool {
    let facts = prepared.facts;
    let titles = &facts.titles;
    if titles.missing[show] {
        return false;
    }
    let windows = titles.availability_of(show);
    if windows.is_empty() {
        let added = titles.added_ms[show];
        return added == UNKNOWN_TIME || added < facts.to_ms;
    }
    windows.iter().any(|window| {
        country.is_none_or(|country| window.country == country)
            && window.from_ms < facts.to_ms
            && window.until_ms > facts.from_ms
    })
}

fn decade(year: i32) -> String {
    if year == 0 {
        "unknown".into()
    } else {
        format!("{}s", year.div_euclid(10) * 10)
    }
}

pub fn demand_supply(prepared: &Prepared<'_>, gap_limit: usize) -> DemandSupply {
    let facts = prepared.facts;
    let titles = &facts.titles;
    let views = &facts.views;
    let genre_count = facts.genres.len();
    let country_filter: Option<u16> = facts.country_filter.as_deref().and_then(|code| {
        facts
            .countries
            .iter()
            .position(|c| c == code)
            .map(|i| i as u16)
    });
    let shows: Vec<usize> = (0..titles.len()).filter(|t| prepared.is_show(*t)).collect();
    let is_available: Vec<bool> = {
        let mut flags = vec![false; titles.len()];
        for show in &shows {
            flags[*show] = available(prepared, *show, country_filter);
        }
        flags
    };

    // Per show: hours, starts with a runtime, completions.
    let mut show_hours = vec![0.0f64; titles.len()];
    let mut show_timed = vec![0u64; titles.len()];
    let mut show_complete = vec![0u64; titles.len()];
    for view in 0..views.len() {
        let show = prepared.show[view] as usize;
        show_hours[show] += prepared.hours(view);
        if !prepared.share[view].is_nan() {
            show_timed[show] += 1;
            show_complete[show] += u64::from(prepared.complete[view]);
        }
    }
    // Distinct viewers per genre: a member counts once per genre.
    let mut genre_viewers = vec![0u64; genre_count];
    let mut last_member = vec![u32::MAX; genre_count];
    for &view in &prepared.by_member {
        let view = view as usize;
        let member = views.member[view];
        for genre in titles.genres_of(prepared.show[view] as usize) {
            let genre = usize::from(*genre);
            if last_member[genre] != member {
                last_member[genre] = member;
                genre_viewers[genre] += 1;
            }
        }
    }

    let mut hours = vec![0.0; genre_count];
    let mut supply = vec![0.0; genre_count];
    let mut runtime = vec![0.0; genre_count];
    let mut timed = vec![0.0; genre_count];
    let mut complete = vec![0.0; genre_count];
    let mut carriers: Vec<Vec<(f64, usize)>> = vec![Vec::new(); genre_count];
    for &show in &shows {
        let genres = titles.genres_of(show);
        if genres.is_empty() {
            continue;
        }
        let weight = 1.0 / genres.len() as f64;
        for genre in genres {
            let genre = usize::from(*genre);
            hours[genre] += weight * show_hours[show];
            timed[genre] += weight * show_timed[show] as f64;
            complete[genre] += weight * show_complete[show] as f64;
            if is_available[show] {
                supply[genre] += weight;
                runtime[genre] += weight * prepared.show_runtime_s[show] / 3600.0;
            }
            if show_hours[show] > 0.0 {
                carriers[genre].push((show_hours[show], show));
            }
        }
    }
    let total_hours: f64 = hours.iter().sum();
    let total_supply: f64 = supply.iter().sum();
    let total_runtime: f64 = runtime.iter().sum();
    let mut genres: Vec<GenreDemand> = (0..genre_count)
        .map(|genre| {
            let hours_share = ratio(hours[genre], total_hours).unwrap_or(0.0);
            let titles_share = ratio(supply[genre], total_supply).unwrap_or(0.0);
            let mut top = std::mem::take(&mut carriers[genre]);
            top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            GenreDemand {
                genre: facts.genres[genre].clone(),
                hours: hours[genre],
                hours_share,
                titles: supply[genre],
                titles_share,
                catalog_hours: runtime[genre],
                catalog_hours_share: ratio(runtime[genre], total_runtime).unwrap_or(0.0),
                hours_per_title: ratio(hours[genre], supply[genre]),
                demand_index: ratio(hours_share, titles_share),
                unique_viewers: genre_viewers[genre],
                completion_rate: ratio(complete[genre], timed[genre]),
                top_titles: top
                    .iter()
                    .take(3)
                    .map(|(_, show)| titles.name[*show].clone())
                    .collect(),
            }
        })
        .collect();
    genres.sort_by(|a, b| b.hours.total_cmp(&a.hours).then(a.genre.cmp(&b.genre)));

    let catalog_hours_per_title = ratio(total_hours, total_supply).unwrap_or(0.0);
    let mut ranked: Vec<&GenreDemand> = genres
        .iter()
        .filter(|genre| genre.titles >= MIN_TITLES_FOR_GAP && genre.demand_index.is_some())
        .collect();
    ranked.sort_by(|a, b| {
        b.demand_index
            .unwrap_or(0.0)
            .total_cmp(&a.demand_index.unwrap_or(0.0))
            .then(a.genre.cmp(&b.genre))
    });
    let gaps: Vec<Gap> = ranked
        .iter()
        .filter(|genre| genre.demand_index.unwrap_or(0.0) > 1.0)
        .take(gap_limit)
        .enumerate()
        .map(|(rank, genre)| {
            let index = genre.demand_index.unwrap_or(0.0);
            Gap {
                rank: rank + 1,
                genre: genre.genre.clone(),
                demand_index: index,
                hours_per_title: genre.hours_per_title.unwrap_or(0.0),
                catalog_hours_per_title,
                evidence: format!(
                    "{:.1}% of hours viewed but {:.1}% of available titles ({:.1} of {:.0}) and \
                     {:.1}% of catalog hours; {:.1} h per title against {:.1} h across the \
                     catalog; {} viewers; carried by {}",
                    100.0 * genre.hours_share,
                    100.0 * genre.titles_share,
                    genre.titles,
                    total_supply,
                    100.0 * genre.catalog_hours_share,
                    genre.hours_per_title.unwrap_or(0.0),
                    catalog_hours_per_title,
                    genre.unique_viewers,
                    genre.top_titles.join(", ")
                ),
            }
        })
        .collect();

    // Cells: genre x country (supply from availability there), maturity, decade.
    let mut by_country = Vec::new();
    let view_countries: Vec<u16> = {
        let mut seen = vec![false; facts.countries.len()];
        for code in &views.country {
            if *code != NO_CODE {
                seen[usize::from(*code)] = true;
            }
        }
        (0..facts.countries.len() as u16)
            .filter(|c| seen[usize::from(*c)])
            .collect()
    };
    let mut country_hours = vec![0.0f64; titles.len() * view_countries.len().max(1)];
    let column: Vec<usize> = {
        let mut column = vec![usize::MAX; facts.countries.len()];
        for (i, code) in view_countries.iter().enumerate() {
            column[usize::from(*code)] = i;
        }
        column
    };
    for view in 0..views.len() {
        let code = views.country[view];
        if code == NO_CODE {
            continue;
        }
        let c = column[usize::from(code)];
        country_hours[prepared.show[view] as usize * view_countries.len() + c] +=
            prepared.hours(view);
    }
    for (c, code) in view_countries.iter().enumerate() {
        let cells = cells_for(
            prepared,
            &shows,
            &|show| country_hours[show * view_countries.len() + c],
            &|show| available(prepared, show, Some(*code)),
        );
        for (genre, cell_hours, cell_titles, index) in cells {
            by_country.push(GenreCell {
                genre,
                key: facts.countries[usize::from(*code)].clone(),
                hours: cell_hours,
                titles: cell_titles,
                demand_index: index,
            });
        }
    }
    let by_attribute = |key_of: &dyn Fn(usize) -> String| -> Vec<GenreCell> {
        let mut keys: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &show in &shows {
            keys.entry(key_of(show)).or_default().push(show);
        }
        let mut out = Vec::new();
        for (key, members) in keys {
            let cells = cells_for(prepared, &members, &|show| show_hours[show], &|show| {
                is_available[show]
            });
            for (genre, cell_hours, cell_titles, index) in cells {
                out.push(GenreCell {
                    genre,
                    key: key.clone(),
                    hours: cell_hours,
                    titles: cell_titles,
                    demand_index: index,
                });
            }
        }
        out
    };
    let by_maturity = by_attribute(&|show| {
        match titles.maturity[show] {
            MaturityLevel::Kids => "kids",
            MaturityLevel::OlderKids => "older_kids",
            MaturityLevel::Teens => "teens",
            MaturityLevel::Adults => "adults",
        }
        .to_owned()
    });
    let by_decade = by_attribute(&|show| decade(titles.release_year[show]));

    let watched: Vec<f64> = shows.iter().map(|show| show_hours[*show]).collect();
    let mut sorted = watched.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let carrying = |share: f64| -> u64 {
        let mut running = 0.0;
        for (count, hours) in sorted.iter().enumerate() {
            running += hours;
            if running >= share * total_hours {
                return count as u64 + 1;
            }
        }
        sorted.iter().filter(|h| **h > 0.0).count() as u64
    };
    DemandSupply {
        genres,
        by_country,
        by_maturity,
        by_decade,
        effective_catalog_size: effective_catalog_size(&watched),
        titles_watched: watched.iter().filter(|h| **h > 0.0).count() as u64,
        titles_available: shows.iter().filter(|show| is_available[**show]).count() as u64,
        titles_for_half_of_hours: if total_hours > 0.0 { carrying(0.5) } else { 0 },
        titles_for_80pct_of_hours: if total_hours > 0.0 { carrying(0.8) } else { 0 },
        gaps,
    }
}

/// Genre cells over a set of shows: (genre, hours, available titles, demand index), for
/// genres with any hours or titles.
fn cells_for(
    prepared: &Prepared<'_>,
    shows: &[usize],
    hours_of: &dyn Fn(usize) -> f64,
    available_of: &dyn Fn(usize) -> bool,
) -> Vec<(String, f64, f64, Option<f64>)> {
    let facts = prepared.facts;
    let genre_count = facts.genres.len();
    let mut hours = vec![0.0; genre_count];
    let mut supply = vec![0.0; genre_count];
    for &show in shows {
        let genres = facts.titles.genres_of(show);
        if genres.is_empty() {
            continue;
        }
        let weight = 1.0 / genres.len() as f64;
        let show_hours = hours_of(show);
        let is_available = available_of(show);
        for genre in genres {
            hours[usize::from(*genre)] += weight * show_hours;
            if is_available {
                supply[usize::from(*genre)] += weight;
            }
        }
    }
    let total_hours: f64 = hours.iter().sum();
    let total_supply: f64 = supply.iter().sum();
    (0..genre_count)
        .filter(|genre| hours[*genre] > 0.0 || supply[*genre] > 0.0)
        .map(|genre| {
            let index = if supply[genre] >= MIN_TITLES_FOR_GAP {
                ratio(
                    ratio(hours[genre], total_hours).unwrap_or(0.0),
                    ratio(supply[genre], total_supply).unwrap_or(0.0),
                )
            } else {
                None
            };
            (
                facts.genres[genre].clone(),
                hours[genre],
                supply[genre],
                index,
            )
        })
        .collect()
}
