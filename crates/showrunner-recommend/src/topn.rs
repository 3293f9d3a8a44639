//! Top-N selection over a dense score vector, with exclusions.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An item and its score, ordered so that a max-heap pops the *worst* kept item first.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Kept {
    score: f32,
    item: u32,
}

impl Eq for Kept {}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reverse on score (smallest on top); ties: larger item index is "worse", so the
        // result is deterministic.
        other
            .score
            .total_cmp(&self.score)
            .then(self.item.cmp(&other.item))
    }
}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` best items by score, best first, skipping items for which `excluded` is true and
/// scores that are not finite. Ties go to the smaller item index.
pub fn top_n(scores: &[f32], k: usize, excluded: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(k + 1);
    for (item, &score) in scores.iter().enumerate() {
        if !score.is_finite() {
            continue;
        }
        if heap.len() == k {
            // Cheap reject before the exclusion check.
            let worst = heap.peek().map(|w| w.score).unwrap_or(f32::NEG_INFINITY);
            if score <= worst {
                continue;
            }
        }
        let item = item as u32;
        if excluded(item) {
            continue;
        }
        heap.push(Kept { score, item });
        if heap.len() > k {
            heap.pop();
        }
    }
    let mut out: Vec<(u32, f32)> = heap.into_iter().map(|k| (k.item, k.score)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_best_skipping_excluded_and_nan() {
        let scores = [0.1, 0.9, f32::NAN, 0.5, 0.9, 0.7];
        let top = top_n(&scores, 3, |i| i == 5);
        assert_eq!(top, vec![(1, 0.9), (4, 0.9), (3, 0.5)]);
        assert_eq!(top_n(&scores, 0, |_| false), vec![]);
        assert_eq!(top_n(&scores, 10, |_| false).len(), 5);
    }
}
