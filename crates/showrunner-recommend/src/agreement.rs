//! How far two rankings of the same request agree: what a shadowed model would have shown
//! against what was served.
//!
//! For the served list A (its N titles, in order) and the other model's list B cut to N:
//! - overlap@N = |A ∩ B| / N;
//! - top-1 agreement: both lists start with the same title;
//! - rank agreement: rank-biased overlap (Webber, Moffat and Zobel 2010) to depth N with
//!   persistence p = [`RBO_PERSISTENCE`], normalised by its maximum over depth N:
//!   `(1 - p) / (1 - p^N) · Σ_{d=1..N} p^(d-1) · |A[..d] ∩ B[..d]| / d`. Two identical lists
//!   score 1, disjoint lists 0, and an agreement near the top weighs more than one further
//!   down (with p = 0.9 the first 10 ranks carry about two thirds of the weight).
//!
//! Titles within a list are distinct (rankings never repeat a title).

use std::collections::HashSet;

/// The persistence of the rank-biased overlap.
pub const RBO_PERSISTENCE: f64 = 0.9;

/// The agreement of one pair of lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// N: the served list's length.
    pub depth: usize,
    pub overlap: f64,
    pub top1: bool,
    pub rank: f64,
}

/// Compares `other` with the `served` list; `None` when nothing was served (no N).
pub fn agreement<S: AsRef<str>>(served: &[S], other: &[S]) -> Option<Agreement> {
    let depth = served.len();
    if depth == 0 {
        return None;
    }
    let other = &other[..other.len().min(depth)];
    let mut seen_served: HashSet<&str> = HashSet::with_capacity(depth);
    let mut seen_other: HashSet<&str> = HashSet::with_capacity(depth);
    let mut common = 0usize;
    let mut weighted = 0.0f64;
    let mut weight = 1.0f64;
    for (d, a) in served.iter().enumerate() {
        let a = a.as_ref();
        if seen_other.contains(a) {
            common += 1;
        }
        seen_served.insert(a);
        if let Some(b) = other.get(d).map(AsRef::as_ref) {
            if seen_served.contains(b) {
                common += 1;
            }
            seen_other.insert(b);
        }
        weighted += weight * common as f64 / (d + 1) as f64;
        weight *= RBO_PERSISTENCE;
    }
    // `weight` is now p^N.
    let rank = weighted * (1.0 - RBO_PERSISTENCE) / (1.0 - weight);
    Some(Agreement {
        depth,
        overlap: common as f64 / depth as f64,
        top1: other.first().map(AsRef::as_ref) == Some(served[0].as_ref()),
        rank,
    })
}

/// Running totals of many comparisons.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgreementTotals {
    pub compared: u64,
    pub overlap_sum: f64,
    pub top1_agreed: u64,
    pub rank_sum: f64,
}

impl AgreementTotals {
    pub fn add(&mut self, agreement: &Agreement) {
        self.compared += 1;
        self.overlap_sum += agreement.overlap;
        self.top1_agreed += u64::from(agreement.top1);
        self.rank_sum += agreement.rank;
    }

    fn mean(&self, sum: f64) -> Option<f64> {
        (self.compared > 0).then(|| sum / self.compared as f64)
    }

    /// Mean overlap@N over the comparisons (`None` before the first).
    pub fn mean_overlap(&self) -> Option<f64> {
        self.mean(self.overlap_sum)
    }

    /// Share of comparisons whose first titles agree.
    pub fn top1_rate(&self) -> Option<f64> {
        self.mean(self.top1_agreed as f64)
    }

    /// Mean rank agreement (normalised rank-biased overlap).
    pub fn mean_rank(&self) -> Option<f64> {
        self.mean(self.rank_sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(served: &[&str], other: &[&str], expect: Option<(f64, bool, f64)>) {
        let got = agreement(served, other).map(|a| (a.overlap, a.top1, a.rank));
        match (got, expect) {
            (Some((o, t, r)), Some((eo, et, er))) => {
                assert!((o - eo).abs() < 1e-12, "overlap {o} != {eo}");
                assert_eq!(t, et, "top-1");
                assert!((r - er).abs() < 1e-12, "rank {r} != {er}");
            }
            (got, expect) => assert_eq!(got.is_some(), expect.is_some(), "{got:?}"),
        }
    }

    #[test]
    fn identical_lists_agree_fully_and_disjoint_ones_not_at_all() {
        check(&["a", "b", "c"], &["a", "b", "c"], Some((1.0, true, 1.0)));
        check(&["a", "b", "c"], &["x", "y", "z"], Some((0.0, false, 0.0)));
        check(&[], &["a"], None);
    }

    #[test]
    fn a_swap_keeps_the_overlap_but_lowers_the_rank_agreement() {
        // Depth 2, p = 0.9: d=1 shares nothing, d=2 shares both.
        // (1 - 0.9) / (1 - 0.81) * (0 + 0.9 * 2/2) = 0.1 / 0.19 * 0.9.
        check(&["a", "b"], &["b", "a"], Some((1.0, false, 0.09 / 0.19)));
    }

    #[test]
    fn the_other_list_is_cut_to_the_served_length_and_may_be_shorter() {
        // Only "a" of the first three counts; the rest of the longer list is ignored.
        // d=1: 1/1, d=2: 1/2, d=3: 1/3.
        let rank = (1.0 + 0.9 / 2.0 + 0.81 / 3.0) * 0.1 / (1.0 - 0.729);
        check(
            &["a", "b", "c"],
            &["a", "x", "y", "b", "c"],
            Some((1.0 / 3.0, true, rank)),
        );
        check(&["a", "b", "c"], &["a"], Some((1.0 / 3.0, true, rank)));
    }

    #[test]
    fn totals_average_the_comparisons() {
        let mut totals = AgreementTotals::default();
        assert_eq!(totals.mean_overlap(), None);
        for (served, other) in [(["a", "b"], ["a", "b"]), (["a", "b"], ["b", "x"])] {
            totals.add(&agreement(&served, &other).unwrap());
        }
        assert_eq!(totals.compared, 2);
        assert_eq!(totals.mean_overlap(), Some(0.75));
        assert_eq!(totals.top1_rate(), Some(0.5));
        // Second pair: d=1 nothing, d=2 one ("b") of 2: 0.1/0.19 * 0.9 * 0.5.
        let second = 0.1 / 0.19 * 0.45;
        assert!((totals.mean_rank().unwrap() - (1.0 + second) / 2.0).abs() < 1e-12);
    }
}
