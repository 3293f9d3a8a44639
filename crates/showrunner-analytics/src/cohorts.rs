//! Member cohorts (docs/analytics.md, "Cohorts"): the weekly activity of members grouped by
//! signup month, and the 7-to-14-day return rate of members grouped by the first show they
//! watched in the range.

use serde::Serialize;
use showrunner_model::Timestamp;
use showrunner_model::facts::UNKNOWN_TIME;
use showrunner_model::time::DAY_MS;

use crate::prepare::{Prepared, ratio};

/// Members whose first show is one with fewer members than this are not ranked.
pub const MIN_FIRST_TITLE_MEMBERS: u64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignupCohort {
    /// `YYYY-MM`, or `unknown` for members without a signup date (deleted or never imported).
    pub month: String,
    /// Members of the cohort who had signed up before the range ended.
    pub members: u64,
    /// Of those, members with a view in the range.
    pub active: u64,
    /// Per week of the range (week 0 = its first 7 days): share of the cohort's members with
    /// a view that week.
    pub weekly_active: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstTitleCohort {
    pub title_id: String,
    pub name: String,
    /// Members whose first view in the range was of this show, at least 14 days before the
    /// range ended.
    pub members: u64,
    /// Of those, members who watched anything again 7 to 13 days after that first day.
    pub retained: u64,
    pub retention: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Cohorts {
    pub weeks: usize,
    pub by_signup_month: Vec<SignupCohort>,
    /// Shows with at least [`MIN_FIRST_TITLE_MEMBERS`] members, best retention first.
    pub by_first_title: Vec<FirstTitleCohort>,
}

fn month_of(ms: i64) -> String {
    let (year, month, _) = Timestamp::from_millis(ms).civil_date();
    format!("{year:04}-{month:02}")
}

pub fn cohorts(prepared: &Prepared<'_>) -> Cohorts {
    let facts = prepared.facts;
    let members = &facts.members;
    let views = &facts.views;
    let weeks = prepared.days.div_ceil(7);

    // Signup months, and for each member the weeks with a view.
    let mut months: Vec<String> = Vec::new();
    let mut month_index = std::collections::HashMap::new();
    let cohort_of: Vec<usize> = (0..members.len())
        .map(|member| {
            let signup = members.signup_ms[member];
            let month = if signup == UNKNOWN_TIME {
                "unknown".to_owned()
            } else {
                month_of(signup)
            };
            *month_index.entry(month.clone()).or_insert_with(|| {
                months.push(month);
                months.len() - 1
            })
        })
        .collect();
    let mut size = vec![0u64; months.len()];
    for member in 0..members.len() {
        let signup = members.signup_ms[member];
        if signup == UNKNOWN_TIME || signup < facts.to_ms {
            // Members without a signup date count only if seen (they exist only through
            // their views); those are added below.
            if signup != UNKNOWN_TIME {
                size[cohort_of[member]] += 1;
            }
        }
    }
    let mut active = vec![0u64; months.len()];
    let mut weekly = vec![vec![0u64; weeks]; months.len()];
    let mut first_show: Vec<(u32, u32)> = Vec::new(); // (show, member) of eligible members
    let mut retained_members: Vec<bool> = Vec::new();
    let mut start = 0;
    let order = &prepared.by_member;
    while start < order.len() {
        let member = views.member[order[start] as usize];
        let mut end = start;
        while end < order.len() && views.member[order[end] as usize] == member {
            end += 1;
        }
        let cohort = cohort_of[member as usize];
        if members.signup_ms[member as usize] == UNKNOWN_TIME {
            size[cohort] += 1;
        }
        active[cohort] += 1;
        let mut seen_weeks = vec![false; weeks];
        for &view in &order[start..end] {
            seen_weeks[prepared.day[view as usize] as usize / 7] = true;
        }
        for (week, seen) in seen_weeks.iter().enumerate() {
            if *seen {
                weekly[cohort][week] += 1;
            }
        }
        // The first view is at `start` (member-then-time order).
        let first = order[start] as usize;
        let first_day = i64::from(prepared.day[first]);
        let first_start = views.start_ms[first];
        if first_start + 14 * DAY_MS <= facts.to_ms {
            let returned = order[start..end].iter().any(|view| {
                let gap = i64::from(prepared.day[*view as usize]) - first_day;
                (7..14).contains(&gap)
            });
            first_show.push((prepared.show[first], member));
            retained_members.push(returned);
        }
        start = end;
    }
    let mut by_signup_month: Vec<SignupCohort> = (0..months.len())
        .filter(|cohort| size[*cohort] > 0)
        .map(|cohort| SignupCohort {
            month: months[cohort].clone(),
            members: size[cohort],
            active: active[cohort],
            weekly_active: weekly[cohort]
                .iter()
                .map(|count| ratio(*count as f64, size[cohort] as f64).unwrap_or(0.0))
                .collect(),
        })
        .collect();
    by_signup_month.sort_by(|a, b| a.month.cmp(&b.month));

    let mut per_show: std::collections::HashMap<u32, (u64, u64)> = std::collections::HashMap::new();
    for ((show, _), returned) in first_show.iter().zip(&retained_members) {
        let entry = per_show.entry(*show).or_default();
        entry.0 += 1;
        entry.1 += u64::from(*returned);
    }
    let mut by_first_title: Vec<FirstTitleCohort> = per_show
        .into_iter()
        .filter(|(_, (count, _))| *count >= MIN_FIRST_TITLE_MEMBERS)
        .map(|(show, (count, retained))| FirstTitleCohort {
            title_id: facts.titles.id[show as usize].clone(),
            name: facts.titles.name[show as usize].clone(),
            members: count,
            retained,
            retention: retained as f64 / count as f64,
        })
        .collect();
    by_first_title.sort_by(|a, b| {
        b.retention
            .total_cmp(&a.retention)
            .then(b.members.cmp(&a.members))
            .then(a.title_id.cmp(&b.title_id))
    });
    Cohorts {
        weeks,
        by_signup_month,
        by_first_title,
    }
}
