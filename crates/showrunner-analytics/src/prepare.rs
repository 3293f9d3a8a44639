//! What every section needs, derived once from the facts: each title's show (the series of
//! an episode, or the title itself), each view's day in the range, share watched and
//! completion, and the views in member-then-time order.

use rayon::prelude::*;
use showrunner_model::ViewingFacts;
use showrunner_model::facts::NO_INDEX;
use showrunner_model::time::DAY_MS;

/// Below this many items a sort runs on the calling thread: waking the pool costs more than
/// it saves on one show's slice (tens of thousands of views), and a server answering many
/// dashboards at once keeps its other cores for the other requests.
pub(crate) const PARALLEL_SORT_MIN: usize = 1 << 17;

/// Sorts `items`, in parallel when there are many.
pub(crate) fn sort_keys(items: &mut [u64]) {
    if items.len() < PARALLEL_SORT_MIN {
        items.sort_unstable();
    } else {
        items.par_sort_unstable();
    }
}

/// A view is complete at this share of its title's runtime.
pub const COMPLETE_SHARE: f32 = 0.9;
/// A member's views of one series at most this far apart (end of one to start of the next)
/// are one sitting.
pub const SITTING_GAP_MS: i64 = 30 * 60 * 1000;

pub struct Prepared<'a> {
    pub facts: &'a ViewingFacts,
    /// Days in the range (the last may be partial).
    pub days: usize,
    /// Per title: the show it belongs to (a series for its seasons and episodes).
    pub show_of_title: Vec<u32>,
    /// Per show row: runtime of the whole show (a movie's runtime, or the sum of its
    /// episodes'), in seconds.
    pub show_runtime_s: Vec<f64>,
    /// Per view.
    pub show: Vec<u32>,
    pub day: Vec<u32>,
    /// `max_position / runtime`, at most 1; NaN when the runtime is unknown or zero.
    pub share: Vec<f32>,
    pub complete: Vec<bool>,
    /// View indices ordered by member, then start time.
    pub by_member: Vec<u32>,
}

/// The show of a title: its series when it has one, else itself.
fn show_of(facts: &ViewingFacts, title: usize) -> u32 {
    let series = facts.titles.series[title];
    if series == NO_INDEX {
        title as u32
    } else {
        series
    }
}

impl<'a> Prepared<'a> {
    pub fn new(facts: &'a ViewingFacts) -> Self {
        let titles = &facts.titles;
        let span = (facts.to_ms - facts.from_ms).max(0);
        let days = (span + DAY_MS - 1) / DAY_MS;
        let days = usize::try_from(days).unwrap_or(0).max(1);
        let show_of_title: Vec<u32> = (0..titles.len()).map(|t| show_of(facts, t)).collect();
        let mut show_runtime_s = vec![0.0; titles.len()];
        for (title, show) in show_of_title.iter().enumerate() {
            if titles.kind[title].is_playable() {
                show_runtime_s[*show as usize] += f64::from(titles.duration_s[title]);
            }
        }
        let views = &facts.views;
        let count = views.len();
        let show: Vec<u32> = views
            .title
            .iter()
            .map(|title| show_of_title[*title as usize])
            .collect();
        let day: Vec<u32> = views
            .start_ms
            .iter()
            .map(|start| {
                let day = (start - facts.from_ms)
                    .div_euclid(DAY_MS)
                    .clamp(0, days as i64 - 1);
                day as u32
            })
            .collect();
        let share: Vec<f32> = (0..count)
            .map(|view| {
                let duration = titles.duration_s[views.title[view] as usize];
                if duration == 0 {
                    f32::NAN
                } else {
                    (views.max_position_s[view] as f32 / duration as f32).min(1.0)
                }
            })
            .collect();
        let mut by_member: Vec<u32> = (0..count as u32).collect();
        let member_order = |view: &u32| {
            let view = *view as usize;
            (views.member[view], views.start_ms[view], view)
        };
        if by_member.len() < PARALLEL_SORT_MIN {
            by_member.sort_unstable_by_key(member_order);
        } else {
            by_member.par_sort_unstable_by_key(member_order);
        }
        let mut complete: Vec<bool> = share.iter().map(|s| *s >= COMPLETE_SHARE).collect();
        // An episode is also complete when the member's next view of the same series is a
        // later episode: they moved on (skipped the credits) rather than abandoned it. Views
        // of other shows in between do not matter, so one show's slice of the facts gives
        // the same answer as the whole catalog.
        let mut last_of_show: Vec<(u32, usize)> = Vec::new();
        for (position, &view) in by_member.iter().enumerate() {
            let view = view as usize;
            if position > 0 && views.member[by_member[position - 1] as usize] != views.member[view]
            {
                last_of_show.clear();
            }
            let this_show = show[view];
            let title = views.title[view] as usize;
            match last_of_show.iter_mut().find(|(s, _)| *s == this_show) {
                Some(entry) => {
                    let previous = entry.1;
                    let previous_title = views.title[previous] as usize;
                    let order = |t: usize| (titles.season_number[t], titles.episode_number[t]);
                    if titles.kind[previous_title] == showrunner_model::TitleKind::Episode
                        && order(title) > order(previous_title)
                    {
                        complete[previous] = true;
                    }
                    entry.1 = view;
                }
                None => last_of_show.push((this_show, view)),
            }
        }
        Prepared {
            facts,
            days,
            show_of_title,
            show_runtime_s,
            show,
            day,
            share,
            complete,
            by_member,
        }
    }

    pub fn view_count(&self) -> usize {
        self.show.len()
    }

    /// Hours watched in a view.
    pub fn hours(&self, view: usize) -> f64 {
        f64::from(self.facts.views.watched_s[view]) / 3600.0
    }

    /// Show rows (titles that are not parts of a series).
    pub fn is_show(&self, title: usize) -> bool {
        self.show_of_title[title] as usize == title
            && !matches!(
                self.facts.titles.kind[title],
                showrunner_model::TitleKind::Season | showrunner_model::TitleKind::Episode
            )
    }
}

/// The median of a list (mean of the middle two for an even count); `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

/// `numerator / denominator`, or `None` when the denominator is zero.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    if denominator > 0.0 {
        Some(numerator / denominator)
    } else {
        None
    }
}
