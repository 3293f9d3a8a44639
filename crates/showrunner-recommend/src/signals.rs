//! From a streaming platform's events to training data: the documented, configurable
//! mapping of views, ratings and impressions to interaction confidences.
//!
//! Per member and title, summed over the member's views and ratings:
//! - a view counts when a person watched at least `min_watched_s` (accidental starts and
//!   views flagged non-human are skipped); its confidence is
//!   `completion_gain · completion + time_gain · min(1, ln(1 + minutes) / ln(1 + 120))`,
//!   where completion is the share of the runtime reached (or, for a title of unknown
//!   runtime, `min(1, minutes / 60)`); so a finished film counts about 1, a 5-minute
//!   abandon about 0.1, and a re-watch adds another view's worth;
//! - a positive rating (thumbs up, stars above 3) adds `rating_gain · score`, with score on
//!   -1..1 (thumbs up = 1, 5 stars = 1, 4 stars = 0.5);
//! - a negative rating (thumbs down, 1.5 stars or fewer) is a **hard negative**: the pair is
//!   removed from the positives and the title is never recommended back to the member;
//! - every confidence is multiplied by `0.5^(age / decay_half_life_days)` when a decay
//!   half-life is set (age from the newest event in the data), and capped at `max_weight`;
//! - impressions that were never followed by a play of the same title are counted per
//!   member as weak negatives ([`Signals::unplayed_impressions`]); none of the current
//!   models takes negatives other than the hard ones, so they are reported, not used.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::data::{Interactions, InteractionsBuilder};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalMapping {
    pub min_watched_s: u32,
    pub completion_gain: f32,
    pub time_gain: f32,
    pub rating_gain: f32,
    pub decay_half_life_days: Option<f64>,
    pub max_weight: f32,
}

impl Default for SignalMapping {
    fn default() -> Self {
        SignalMapping {
            min_watched_s: 60,
            completion_gain: 0.7,
            time_gain: 0.3,
            rating_gain: 1.0,
            decay_half_life_days: None,
            max_weight: 5.0,
        }
    }
}

/// One view (a playback session) as the store derives it.
#[derive(Debug, Clone, Copy)]
pub struct ViewSignal<'a> {
    pub member: &'a str,
    pub title: &'a str,
    /// Seconds since the epoch.
    pub at: i64,
    pub watched_s: u32,
    pub completion: Option<f64>,
    pub non_human: bool,
}

/// One rating on the common -1..1 scale (thumbs down -1, up 1; stars mapped linearly).
#[derive(Debug, Clone, Copy)]
pub struct RatingSignal<'a> {
    pub member: &'a str,
    pub title: &'a str,
    pub at: i64,
    pub score: f32,
}

#[derive(Debug, Clone, Copy)]
pub struct ImpressionSignal<'a> {
    pub member: &'a str,
    pub title: &'a str,
    pub at: i64,
}

/// Training data made from events.
#[derive(Debug, Clone)]
pub struct Signals {
    pub interactions: Interactions,
    /// (member, title) pairs never to recommend (thumbs down).
    pub blocked: Vec<(String, String)>,
    pub unplayed_impressions: u64,
    pub views_used: u64,
    pub views_skipped: u64,
}

/// A rating's score at or below this is a hard negative.
const NEGATIVE: f32 = -0.4;

pub fn build(
    views: &[ViewSignal<'_>],
    ratings: &[RatingSignal<'_>],
    impressions: &[ImpressionSignal<'_>],
    mapping: &SignalMapping,
) -> Signals {
    let newest = views
        .iter()
        .map(|v| v.at)
        .chain(ratings.iter().map(|r| r.at))
        .max()
        .unwrap_or(0);
    let decay = |at: i64| match mapping.decay_half_life_days {
        Some(h) if h > 0.0 => 0.5f64.powf((newest - at) as f64 / 86_400.0 / h) as f32,
        _ => 1.0,
    };
    // (member, title) -> (confidence, latest time)
    let mut acc: HashMap<(&str, &str), (f32, i64)> = HashMap::new();
    let (mut used, mut skipped) = (0u64, 0u64);
    let ln120 = (1.0f32 + 120.0).ln();
    for v in views {
        if v.non_human || v.watched_s < mapping.min_watched_s {
            skipped += 1;
            continue;
        }
        used += 1;
        let minutes = v.watched_s as f32 / 60.0;
        let completion = v
            .completion
            .map_or((minutes / 60.0).min(1.0), |c| c.clamp(0.0, 1.0) as f32);
        let time = ((1.0 + minutes).ln() / ln120).min(1.0);
        let w = (mapping.completion_gain * completion + mapping.time_gain * time) * decay(v.at);
        let slot = acc.entry((v.member, v.title)).or_insert((0.0, v.at));
        slot.0 += w;
        slot.1 = slot.1.max(v.at);
    }
    let mut blocked: HashSet<(&str, &str)> = HashSet::new();
    for r in ratings {
        if r.score <= NEGATIVE {
            blocked.insert((r.member, r.title));
        } else if r.score > 0.0 {
            let slot = acc.entry((r.member, r.title)).or_insert((0.0, r.at));
            slot.0 += mapping.rating_gain * r.score * decay(r.at);
            slot.1 = slot.1.max(r.at);
        }
    }
    let played: HashSet<(&str, &str)> = views.iter().map(|v| (v.member, v.title)).collect();
    let unplayed = impressions
        .iter()
        .filter(|i| !played.contains(&(i.member, i.title)))
        .count() as u64;
    type Pair<'a> = (&'a str, &'a str);
    let mut entries: Vec<(Pair<'_>, f32, i64)> = acc
        .iter()
        .filter(|(key, _)| !blocked.contains(*key))
        .map(|(key, &(w, at))| (*key, w, at))
        .collect();
    // Deterministic numbering whatever the hash order.
    entries.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(&b.0)));
    let mut builder = InteractionsBuilder::new();
    for ((member, title), w, at) in entries {
        let w = w.min(mapping.max_weight);
        if w > 0.0 {
            // Finite and positive by construction.
            let _ = builder.add(member, title, at, w);
        }
    }
    for (member, _) in &blocked {
        builder.add_user(member);
    }
    let mut blocked: Vec<(String, String)> = blocked
        .into_iter()
        .map(|(m, t)| (m.to_owned(), t.to_owned()))
        .collect();
    blocked.sort();
    Signals {
        interactions: builder.build(),
        blocked,
        unplayed_impressions: unplayed,
        views_used: used,
        views_skipped: skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(
        member: &'static str,
        title: &'static str,
        at: i64,
        watched_s: u32,
        c: f64,
    ) -> ViewSignal<'static> {
        ViewSignal {
            member,
            title,
            at,
            watched_s,
            completion: Some(c),
            non_human: false,
        }
    }

    #[test]
    fn views_ratings_and_negatives_map_as_documented() {
        let views = [
            view("m", "film", 100, 7200, 1.0),
            view("m", "film", 200, 7200, 1.0), // a re-watch adds
            view("m", "abandoned", 50, 300, 0.05),
            view("m", "blip", 60, 10, 0.0), // under a minute: skipped
            view("m", "hated", 70, 600, 0.1),
            ViewSignal {
                non_human: true,
                ..view("m", "bot", 80, 80_000, 1.0)
            },
        ];
        let ratings = [
            RatingSignal {
                member: "m",
                title: "hated",
                at: 90,
                score: -1.0,
            },
            RatingSignal {
                member: "m",
                title: "rated-only",
                at: 95,
                score: 1.0,
            },
        ];
        let impressions = [
            ImpressionSignal {
                member: "m",
                title: "film",
                at: 1,
            },
            ImpressionSignal {
                member: "m",
                title: "ignored",
                at: 2,
            },
        ];
        let s = build(&views, &ratings, &impressions, &SignalMapping::default());
        assert_eq!(s.views_used, 4);
        assert_eq!(s.views_skipped, 2);
        assert_eq!(s.unplayed_impressions, 1);
        assert_eq!(s.blocked, vec![("m".to_string(), "hated".to_string())]);
        let x = &s.interactions;
        let weight = |title: &str| {
            let i = *x.item_index().get(title)?;
            let row = x.row(0);
            row.items
                .iter()
                .position(|&k| k == i)
                .map(|p| row.weights[p])
        };
        // A finished two-hour film: 0.7 + 0.3 per view, twice.
        assert!((weight("film").unwrap() - 2.0).abs() < 1e-5);
        let abandoned = weight("abandoned").unwrap();
        assert!(abandoned > 0.05 && abandoned < 0.2, "{abandoned}");
        assert_eq!(weight("rated-only"), Some(1.0));
        assert_eq!(weight("hated"), None);
        assert!(!x.item_index().contains_key("blip"));
        assert!(!x.item_index().contains_key("bot"));
    }

    #[test]
    fn decay_halves_old_signals() {
        let day = 86_400;
        let views = [
            view("m", "old", 0, 7200, 1.0),
            view("m", "new", 30 * day, 7200, 1.0),
        ];
        let mapping = SignalMapping {
            decay_half_life_days: Some(30.0),
            ..SignalMapping::default()
        };
        let s = build(&views, &[], &[], &mapping);
        let x = &s.interactions;
        let row = x.row(0);
        let w = |t: &str| {
            row.weights[row
                .items
                .iter()
                .position(|&k| k == x.item_index()[t])
                .unwrap()]
        };
        assert!((w("old") - 0.5).abs() < 1e-5 && (w("new") - 1.0).abs() < 1e-5);
    }
}
