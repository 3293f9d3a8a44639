//! One show's slice of a snapshot: its catalog rows, its views, ratings and impressions and
//! the members they name, re-indexed, so a dashboard over facts already in memory costs in
//! proportion to the show, not to the catalog.

use std::borrow::Cow;
use std::collections::HashMap;

use showrunner_model::ViewingFacts;
use showrunner_model::facts::{
    CatalogColumns, ImpressionColumns, MemberColumns, NO_INDEX, RatingColumns, ViewColumns,
};

/// The show row of `title` (its series, or itself).
fn show_of(facts: &ViewingFacts, title: usize) -> usize {
    match facts.titles.series[title] {
        NO_INDEX => title,
        series => series as usize,
    }
}

/// The facts of the show `title_id` belongs to; `None` when the title is unknown. Facts that
/// already hold that show alone, in slice order (as the store reads one show), are borrowed
/// as they are.
pub fn show_facts<'f>(facts: &'f ViewingFacts, title_id: &str) -> Option<Cow<'f, ViewingFacts>> {
    let title = facts.title_index(title_id)?;
    let show = show_of(facts, title);
    let titles = &facts.titles;
    // New title rows: the show first, then its parts in catalog order.
    let mut title_map = vec![NO_INDEX; titles.len()];
    let mut kept: Vec<usize> = vec![show];
    title_map[show] = 0;
    for (row, series) in titles.series.iter().enumerate() {
        if *series as usize == show && row != show {
            title_map[row] = kept.len() as u32;
            kept.push(row);
        }
    }
    if kept.len() == titles.len() && kept.iter().enumerate().all(|(new, old)| new == *old) {
        return Some(Cow::Borrowed(facts));
    }
    let mut catalog = CatalogColumns {
        genre_start: vec![0],
        availability_start: vec![0],
        ..CatalogColumns::default()
    };
    for &row in &kept {
        catalog.id.push(titles.id[row].clone());
        catalog.name.push(titles.name[row].clone());
        catalog.kind.push(titles.kind[row]);
        catalog.series.push(match titles.series[row] {
            NO_INDEX => NO_INDEX,
            series => title_map[series as usize],
        });
        catalog.season_number.push(titles.season_number[row]);
        catalog.episode_number.push(titles.episode_number[row]);
        catalog.genre.extend_from_slice(titles.genres_of(row));
        catalog.genre_start.push(catalog.genre.len() as u32);
        catalog.release_year.push(titles.release_year[row]);
        catalog.duration_s.push(titles.duration_s[row]);
        catalog.maturity.push(titles.maturity[row]);
        catalog.added_ms.push(titles.added_ms[row]);
        catalog
            .availability
            .extend_from_slice(titles.availability_of(row));
        catalog
            .availability_start
            .push(catalog.availability.len() as u32);
        catalog.missing.push(titles.missing[row]);
    }

    let mut member_map: HashMap<u32, u32> = HashMap::new();
    let mut members = MemberColumns::default();
    let mut member_row = |member: u32| -> u32 {
        *member_map.entry(member).or_insert_with(|| {
            let old = member as usize;
            let source = &facts.members;
            members.id.push(source.id[old].clone());
            members.signup_ms.push(source.signup_ms[old]);
            members.plan.push(source.plan[old]);
            members.country.push(source.country[old]);
            members.known.push(source.known[old]);
            members.id.len() as u32 - 1
        })
    };

    let source = &facts.views;
    let mut views = ViewColumns::default();
    for view in 0..source.len() {
        let new_title = title_map[source.title[view] as usize];
        if new_title == NO_INDEX {
            continue;
        }
        views.title.push(new_title);
        views.member.push(member_row(source.member[view]));
        views.country.push(source.country[view]);
        views.device.push(source.device[view]);
        views.start_ms.push(source.start_ms[view]);
        views.last_ms.push(source.last_ms[view]);
        views.watched_s.push(source.watched_s[view]);
        views.max_position_s.push(source.max_position_s[view]);
    }
    let source = &facts.ratings;
    let mut ratings = RatingColumns::default();
    for rating in 0..source.title.len() {
        let new_title = title_map[source.title[rating] as usize];
        if new_title == NO_INDEX {
            continue;
        }
        ratings.title.push(new_title);
        ratings.member.push(member_row(source.member[rating]));
        ratings.ts_ms.push(source.ts_ms[rating]);
        ratings.stars.push(source.stars[rating]);
        ratings.thumbs.push(source.thumbs[rating]);
    }
    let source = &facts.impressions;
    let mut impressions = ImpressionColumns::default();
    for impression in 0..source.title.len() {
        let new_title = title_map[source.title[impression] as usize];
        if new_title == NO_INDEX {
            continue;
        }
        impressions.title.push(new_title);
        impressions
            .member
            .push(member_row(source.member[impression]));
        impressions.ts_ms.push(source.ts_ms[impression]);
    }
    Some(Cow::Owned(ViewingFacts {
        from_ms: facts.from_ms,
        to_ms: facts.to_ms,
        country_filter: facts.country_filter.clone(),
        countries: facts.countries.clone(),
        devices: facts.devices.clone(),
        plans: facts.plans.clone(),
        genres: facts.genres.clone(),
        titles: catalog,
        members,
        views,
        ratings,
        impressions,
    }))
}
