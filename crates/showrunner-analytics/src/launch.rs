//! Launch curves (docs/analytics.md, "Launch curves"): for every show added to the service
//! inside the range, distinct viewers on each day since release, the early reads at day 1, 7
//! and 28, and the same curve of similar launches (the median of the other launches of the
//! same kind) to compare against.

use serde::Serialize;
use showrunner_model::Timestamp;
use showrunner_model::facts::UNKNOWN_TIME;
use showrunner_model::time::DAY_MS;

use crate::prepare::{Prepared, median, ratio};

/// Days of a launch curve.
pub const LAUNCH_DAYS: usize = 28;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaunchCurve {
    pub title_id: String,
    pub name: String,
    pub kind: &'static str,
    pub released_at: String,
    /// Distinct viewers on day 0, 1, ... after release (day 0 is the first 24 hours), for
    /// the days the range covers, at most 28.
    pub viewers_by_day: Vec<u64>,
    /// The median of the other launches of the same kind on the same days (of all other
    /// launches when there is no other of the same kind); empty without peers.
    pub peers_by_day: Vec<f64>,
    /// Distinct viewers within the first 1, 7 and 28 days; absent when the range does not
    /// cover that many days after release.
    pub day1_viewers: Option<u64>,
    pub day7_viewers: Option<u64>,
    pub day28_viewers: Option<u64>,
    /// The day since release with the most viewers.
    pub peak_day: usize,
    /// How front-loaded the launch is: mean viewers per day on days 0-2 over the mean on
    /// the later observed days (with 2 or 3 days observed: the days before the last over
    /// the last); absent with one day observed or no later viewers.
    pub front_load: Option<f64>,
    /// Day-7 viewers over the peers' median day-7 viewers.
    pub day7_vs_peers: Option<f64>,
}

pub fn launch_curves(prepared: &Prepared<'_>) -> Vec<LaunchCurve> {
    let facts = prepared.facts;
    let titles = &facts.titles;
    let views = &facts.views;
    let mut launch_of = vec![u32::MAX; titles.len()];
    let mut launches: Vec<usize> = Vec::new();
    for (title, launch) in launch_of.iter_mut().enumerate() {
        let added = titles.added_ms[title];
        if prepared.is_show(title)
            && added != UNKNOWN_TIME
            && added >= facts.from_ms
            && added < facts.to_ms
        {
            *launch = launches.len() as u32;
            launches.push(title);
        }
    }
    if launches.is_empty() {
        return Vec::new();
    }
    // Days each launch can be observed for.
    let observed: Vec<usize> = launches
        .iter()
        .map(|title| {
            let span = facts.to_ms - titles.added_ms[*title];
            usize::try_from((span + DAY_MS - 1) / DAY_MS)
                .unwrap_or(0)
                .min(LAUNCH_DAYS)
        })
        .collect();
    // (launch, day, member) of every view of a launch, deduplicated.
    let mut seen: Vec<(u32, u32, u32)> = Vec::new();
    for view in 0..views.len() {
        let launch = launch_of[prepared.show[view] as usize];
        if launch == u32::MAX {
            continue;
        }
        let age = views.start_ms[view] - titles.added_ms[launches[launch as usize]];
        if age < 0 {
            continue;
        }
        let day = age / DAY_MS;
        if day >= LAUNCH_DAYS as i64 {
            continue;
        }
        seen.push((launch, day as u32, views.member[view]));
    }
    seen.sort_unstable();
    seen.dedup();
    let mut by_day = vec![vec![0u64; LAUNCH_DAYS]; launches.len()];
    for (launch, day, _) in &seen {
        by_day[*launch as usize][*day as usize] += 1;
    }
    // First day each member watched each launch, for the cumulative reads.
    let mut first: Vec<(u32, u32, u32)> = seen
        .iter()
        .map(|(launch, day, member)| (*launch, *member, *day))
        .collect();
    first.sort_unstable();
    first.dedup_by_key(|(launch, member, _)| (*launch, *member));
    let mut cumulative = vec![[0u64; 3]; launches.len()];
    for (launch, _, day) in &first {
        for (slot, limit) in [1u32, 7, 28].iter().enumerate() {
            if day < limit {
                cumulative[*launch as usize][slot] += 1;
            }
        }
    }

    let mut curves: Vec<LaunchCurve> = Vec::with_capacity(launches.len());
    for (launch, title) in launches.iter().enumerate() {
        let days = observed[launch];
        let kind = titles.kind[*title];
        let same_kind: Vec<usize> = (0..launches.len())
            .filter(|other| *other != launch && titles.kind[launches[*other]] == kind)
            .collect();
        let peers: Vec<usize> = if same_kind.is_empty() {
            (0..launches.len())
                .filter(|other| *other != launch)
                .collect()
        } else {
            same_kind
        };
        let peers_by_day: Vec<f64> = if peers.is_empty() {
            Vec::new()
        } else {
            (0..days)
                .map(|day| {
                    let mut values: Vec<f64> = peers
                        .iter()
                        .filter(|peer| observed[**peer] > day)
                        .map(|peer| by_day[*peer][day] as f64)
                        .collect();
                    median(&mut values).unwrap_or(f64::NAN)
                })
                .collect()
        };
        let read = |slot: usize, limit: usize| (days >= limit).then_some(cumulative[launch][slot]);
        let mut peer_day7: Vec<f64> = peers
            .iter()
            .filter(|peer| observed[**peer] >= 7)
            .map(|peer| cumulative[*peer][1] as f64)
            .collect();
        let day7_viewers = read(1, 7);
        let viewers_by_day = by_day[launch][..days].to_vec();
        let peak_day = viewers_by_day
            .iter()
            .enumerate()
            .max_by_key(|(day, viewers)| (**viewers, std::cmp::Reverse(*day)))
            .map_or(0, |(day, _)| day);
        // Days 0-2 against the rest; a launch seen for 2 or 3 days compares the days
        // before its last with the last.
        let early_days = if days >= 4 { 3 } else { days.saturating_sub(1) };
        let front_load = if early_days == 0 {
            None
        } else {
            let early = viewers_by_day[..early_days].iter().sum::<u64>() as f64 / early_days as f64;
            let later = viewers_by_day[early_days..].iter().sum::<u64>() as f64
                / (days - early_days) as f64;
            ratio(early, later)
        };
        curves.push(LaunchCurve {
            title_id: titles.id[*title].clone(),
            name: titles.name[*title].clone(),
            kind: kind.as_str(),
            released_at: Timestamp::from_millis(titles.added_ms[*title]).to_rfc3339(),
            viewers_by_day,
            peers_by_day,
            day1_viewers: read(0, 1),
            day7_viewers,
            day28_viewers: read(2, 28),
            peak_day,
            front_load,
            day7_vs_peers: day7_viewers
                .and_then(|own| ratio(own as f64, median(&mut peer_day7).unwrap_or(0.0))),
        });
    }
    curves.sort_by(|a, b| {
        a.released_at
            .cmp(&b.released_at)
            .then(a.title_id.cmp(&b.title_id))
    });
    curves
}
