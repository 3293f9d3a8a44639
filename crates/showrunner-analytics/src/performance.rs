//! Title and series performance (docs/analytics.md, "Title performance"): starts, unique
//! viewers, hours, completion, share watched, the retention curve, binge rate, re-watches,
//! ratings and take rate; and breakdowns of any set of views by country, device, plan and
//! signup cohort.

use serde::Serialize;
use showrunner_model::TitleKind;
use showrunner_model::facts::{NO_CODE, UNKNOWN_TIME};

use crate::prepare::{Prepared, SITTING_GAP_MS, median, ratio, sort_keys};

/// Points of the retention curve: 0%, 5%, ..., 100% of the runtime.
pub const RETENTION_POINTS: usize = 21;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionPoint {
    /// Position as a share of the runtime.
    pub position: f64,
    /// Share of views that reached it.
    pub viewers: f64,
}

/// The segment of the retention curve that loses the most viewers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionDrop {
    pub from_position: f64,
    pub to_position: f64,
    /// Share of all views lost in the segment.
    pub lost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TitlePerformance {
    pub title_id: String,
    pub name: String,
    pub kind: &'static str,
    pub starts: u64,
    pub unique_viewers: u64,
    pub hours: f64,
    pub completion_rate: Option<f64>,
    pub median_share_watched: Option<f64>,
    pub retention: Vec<RetentionPoint>,
    pub steepest_drop: Option<RetentionDrop>,
    /// Series only: sittings, and episodes watched per sitting.
    pub sittings: u64,
    pub episodes_per_sitting: Option<f64>,
    pub rewatches: u64,
    pub rewatch_share: Option<f64>,
    pub ratings: u64,
    pub mean_stars: Option<f64>,
    pub thumbs_up: u64,
    pub thumbs_down: u64,
    pub impressions: u64,
    pub impressed_members: u64,
    /// Impressed members who watched the title in the range, over impressed members.
    pub take_rate: Option<f64>,
}

/// Per-show accumulators of one pass over the views.
#[derive(Default, Clone)]
struct Tally {
    starts: u64,
    viewers: u64,
    hours: f64,
    timed: u64,
    complete: u64,
    sittings: u64,
    sitting_views: u64,
    rewatches: u64,
    ratings: u64,
    stars_sum: f64,
    stars_count: u64,
    thumbs_up: u64,
    thumbs_down: u64,
    impressions: u64,
    impressed: u64,
    taken: u64,
}

/// Performance of every show with at least one view, impression or rating, in title order.
/// `only` restricts the work to the listed show rows.
pub fn title_performances(prepared: &Prepared<'_>, only: Option<&[u32]>) -> Vec<TitlePerformance> {
    let facts = prepared.facts;
    let titles = &facts.titles;
    let views = &facts.views;
    let count = titles.len();
    let wanted: Vec<bool> = match only {
        Some(shows) => {
            let mut wanted = vec![false; count];
            for show in shows {
                if let Some(slot) = wanted.get_mut(*show as usize) {
                    *slot = true;
                }
            }
            wanted
        }
        None => vec![true; count],
    };
    let mut tallies = vec![Tally::default(); count];
    let mut shares: Vec<Vec<f32>> = vec![Vec::new(); count];

    // One pass in member-then-time order: viewers, sittings, re-watches. Sittings and
    // re-watches look only at the member's earlier views of the same show or title, so
    // one show's slice of the facts gives the same figures as the whole catalog.
    let mut last_member = vec![u32::MAX; count];
    let mut completed_titles: Vec<u32> = Vec::new();
    let mut last_end_of_show: Vec<(u32, i64)> = Vec::new();
    let mut previous_member = u32::MAX;
    for &view in &prepared.by_member {
        let view = view as usize;
        let show = prepared.show[view] as usize;
        let member = views.member[view];
        if member != previous_member {
            completed_titles.clear();
            last_end_of_show.clear();
            previous_member = member;
        }
        let title = views.title[view];
        let new_sitting = match last_end_of_show
            .iter_mut()
            .find(|(s, _)| *s as usize == show)
        {
            Some(entry) => {
                let gap = views.start_ms[view] - entry.1;
                entry.1 = views.last_ms[view];
                gap > SITTING_GAP_MS
            }
            None => {
                last_end_of_show.push((show as u32, views.last_ms[view]));
                true
            }
        };
        let is_rewatch = completed_titles.contains(&title);
        if prepared.complete[view] && !is_rewatch {
            completed_titles.push(title);
        }
        if !wanted[show] {
            continue;
        }
        let tally = &mut tallies[show];
        tally.starts += 1;
        tally.hours += prepared.hours(view);
        if last_member[show] != member {
            last_member[show] = member;
            tally.viewers += 1;
        }
        let share = prepared.share[view];
        if !share.is_nan() {
            tally.timed += 1;
            if prepared.complete[view] {
                tally.complete += 1;
            }
            shares[show].push(share);
        }
        if titles.kind[show] == TitleKind::Series {
            tally.sitting_views += 1;
            if new_sitting {
                tally.sittings += 1;
            }
        }
        if is_rewatch {
            tally.rewatches += 1;
        }
    }

    let ratings = &facts.ratings;
    for rating in 0..ratings.title.len() {
        let show = prepared.show_of_title[ratings.title[rating] as usize] as usize;
        if !wanted[show] {
            continue;
        }
        let tally = &mut tallies[show];
        tally.ratings += 1;
        match ratings.thumbs[rating] {
            1 => tally.thumbs_up += 1,
            -1 => tally.thumbs_down += 1,
            _ => {
                tally.stars_sum += f64::from(ratings.stars[rating]);
                tally.stars_count += 1;
            }
        }
    }

    // Take rate: distinct (show, member) pairs impressed, and those among them who watched.
    let impressions = &facts.impressions;
    let key = |show: u32, member: u32| (u64::from(show) << 32) | u64::from(member);
    let mut impressed: Vec<u64> = (0..impressions.title.len())
        .filter_map(|i| {
            let show = prepared.show_of_title[impressions.title[i] as usize];
            wanted[show as usize].then(|| key(show, impressions.member[i]))
        })
        .collect();
    for i in 0..impressions.title.len() {
        let show = prepared.show_of_title[impressions.title[i] as usize] as usize;
        if wanted[show] {
            tallies[show].impressions += 1;
        }
    }
    sort_keys(&mut impressed);
    impressed.dedup();
    let mut watched: Vec<u64> = (0..views.len())
        .filter(|view| wanted[prepared.show[*view] as usize])
        .map(|view| key(prepared.show[view], views.member[view]))
        .collect();
    sort_keys(&mut watched);
    watched.dedup();
    let mut cursor = 0;
    for pair in &impressed {
        let show = (pair >> 32) as usize;
        tallies[show].impressed += 1;
        while cursor < watched.len() && watched[cursor] < *pair {
            cursor += 1;
        }
        if cursor < watched.len() && watched[cursor] == *pair {
            tallies[show].taken += 1;
        }
    }

    tallies
        .into_iter()
        .zip(shares)
        .enumerate()
        .filter(|(show, (tally, _))| {
            wanted[*show] && (tally.starts > 0 || tally.impressions > 0 || tally.ratings > 0)
        })
        .map(|(show, (tally, shares))| finish(prepared, show, tally, shares))
        .collect()
}

fn finish(
    prepared: &Prepared<'_>,
    show: usize,
    tally: Tally,
    shares: Vec<f32>,
) -> TitlePerformance {
    let titles = &prepared.facts.titles;
    let mut sorted: Vec<f64> = shares.iter().map(|s| f64::from(*s)).collect();
    let median_share_watched = median(&mut sorted);
    let timed = sorted.len();
    let retention: Vec<RetentionPoint> = if timed == 0 {
        Vec::new()
    } else {
        (0..RETENTION_POINTS)
            .map(|point| {
                let position = point as f64 / (RETENTION_POINTS - 1) as f64;
                // `sorted` is ascending: the first index at or past the position.
                let below = sorted.partition_point(|share| *share < position - 1e-9);
                RetentionPoint {
                    position,
                    viewers: (timed - below) as f64 / timed as f64,
                }
            })
            .collect()
    };
    let steepest_drop = retention
        .windows(2)
        .map(|pair| RetentionDrop {
            from_position: pair[0].position,
            to_position: pair[1].position,
            lost: pair[0].viewers - pair[1].viewers,
        })
        .filter(|drop| drop.lost > 0.0)
        .max_by(|a, b| a.lost.total_cmp(&b.lost));
    let is_series = titles.kind[show] == TitleKind::Series;
    TitlePerformance {
        title_id: titles.id[show].clone(),
        name: titles.name[show].clone(),
        kind: titles.kind[show].as_str(),
        starts: tally.starts,
        unique_viewers: tally.viewers,
        hours: tally.hours,
        completion_rate: ratio(tally.complete as f64, tally.timed as f64),
        median_share_watched,
        retention,
        steepest_drop,
        sittings: tally.sittings,
        episodes_per_sitting: if is_series {
            ratio(tally.sitting_views as f64, tally.sittings as f64)
        } else {
            None
        },
        rewatches: tally.rewatches,
        rewatch_share: ratio(tally.rewatches as f64, tally.starts as f64),
        ratings: tally.ratings,
        mean_stars: ratio(tally.stars_sum, tally.stars_count as f64),
        thumbs_up: tally.thumbs_up,
        thumbs_down: tally.thumbs_down,
        impressions: tally.impressions,
        impressed_members: tally.impressed,
        take_rate: ratio(tally.taken as f64, tally.impressed as f64),
    }
}

/// One value of a breakdown dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakdownRow {
    pub key: String,
    pub starts: u64,
    pub unique_viewers: u64,
    pub hours: f64,
    pub completion_rate: Option<f64>,
}

/// A set of views broken down by the view's country and device and the member's plan and
/// signup year.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Breakdowns {
    pub by_country: Vec<BreakdownRow>,
    pub by_device: Vec<BreakdownRow>,
    pub by_plan: Vec<BreakdownRow>,
    pub by_signup_year: Vec<BreakdownRow>,
}

/// Breaks down the views `keep` accepts. Rows are sorted by hours, largest first.
pub fn breakdowns(prepared: &Prepared<'_>, keep: &dyn Fn(usize) -> bool) -> Breakdowns {
    use std::collections::HashMap;
    let facts = prepared.facts;
    let views = &facts.views;
    let members = &facts.members;
    const UNKNOWN: u32 = u32::MAX;
    let code = |code: u16| {
        if code == NO_CODE {
            UNKNOWN
        } else {
            u32::from(code)
        }
    };
    let signup_year = |view: usize| -> u32 {
        let signup = members.signup_ms[views.member[view] as usize];
        if signup == UNKNOWN_TIME {
            UNKNOWN
        } else {
            let (year, _, _) = showrunner_model::Timestamp::from_millis(signup).civil_date();
            u32::try_from(year).unwrap_or(UNKNOWN)
        }
    };
    let dimensions: [&dyn Fn(usize) -> u32; 4] = [
        &|view| code(views.country[view]),
        &|view| code(views.device[view]),
        &|view| code(members.plan[views.member[view] as usize]),
        &signup_year,
    ];
    let names: [&dyn Fn(u32) -> String; 4] = [
        &|key| {
            facts
                .countries
                .get(key as usize)
                .cloned()
                .unwrap_or_else(|| "unknown".into())
        },
        &|key| {
            facts
                .devices
                .get(key as usize)
                .cloned()
                .unwrap_or_else(|| "unknown".into())
        },
        &|key| {
            facts
                .plans
                .get(key as usize)
                .cloned()
                .unwrap_or_else(|| "unknown".into())
        },
        &|key| {
            if key == UNKNOWN {
                "unknown".into()
            } else {
                key.to_string()
            }
        },
    ];
    let mut tables: Vec<Vec<BreakdownRow>> = Vec::with_capacity(4);
    for (dimension, name) in dimensions.iter().zip(names) {
        // key -> (starts, hours, timed, complete, last member, viewers)
        let mut rows: HashMap<u32, (u64, f64, u64, u64, u32, u64)> = HashMap::new();
        for &view in &prepared.by_member {
            let view = view as usize;
            if !keep(view) {
                continue;
            }
            let entry = rows
                .entry(dimension(view))
                .or_insert((0, 0.0, 0, 0, u32::MAX, 0));
            entry.0 += 1;
            entry.1 += prepared.hours(view);
            if !prepared.share[view].is_nan() {
                entry.2 += 1;
                entry.3 += u64::from(prepared.complete[view]);
            }
            if entry.4 != views.member[view] {
                entry.4 = views.member[view];
                entry.5 += 1;
            }
        }
        let mut table: Vec<BreakdownRow> = rows
            .into_iter()
            .map(
                |(key, (starts, hours, timed, complete, _, viewers))| BreakdownRow {
                    key: name(key),
                    starts,
                    unique_viewers: viewers,
                    hours,
                    completion_rate: ratio(complete as f64, timed as f64),
                },
            )
            .collect();
        table.sort_by(|a, b| b.hours.total_cmp(&a.hours).then(a.key.cmp(&b.key)));
        tables.push(table);
    }
    let mut tables = tables.into_iter();
    Breakdowns {
        by_country: tables.next().unwrap_or_default(),
        by_device: tables.next().unwrap_or_default(),
        by_plan: tables.next().unwrap_or_default(),
        by_signup_year: tables.next().unwrap_or_default(),
    }
}
