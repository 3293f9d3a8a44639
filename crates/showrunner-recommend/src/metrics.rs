//! Offline evaluation metrics over full-catalog rankings (never sampled negatives).
//!
//! Definitions (binary relevance; every user with held-out items counts, a user with no
//! list scores 0), matching the common yardstick's `score.py` where both define a metric:
//! - recall@K = hits in the top K / min(K, |held out|);
//! - NDCG@K = DCG of the top K / ideal DCG of min(K, |held out|) hits, gains 1/log2(rank+1);
//! - MAP@K = mean over users of (sum of precision@r at each hit rank r ≤ K) / min(K, |held out|);
//! - coverage@K = distinct items in anyone's top K / items with a training interaction;
//! - novelty@K = mean self-information −log2(p_i) of recommended items, p_i = the share of
//!   training users who interacted with item i (higher is more novel);
//! - popularity bias (ARP@K) = mean training popularity (share of users) of recommended
//!   items, beside the same for the held-out items, so the gap shows the bias.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// The metrics for one cut-off and the population they average over.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub users: usize,
    /// Keyed `recall@10`, `ndcg@10`, `map@10`, `coverage@10`, `novelty@10`, `arp@10`, ... and
    /// `arp_heldout` (popularity of what users really chose next).
    pub values: BTreeMap<String, f64>,
}

impl Metrics {
    pub fn get(&self, name: &str) -> f64 {
        self.values.get(name).copied().unwrap_or(0.0)
    }
}

/// Scores ranked lists. `lists[u]` is user u's ranking (best first, may be shorter than
/// K); `held_out[u]` the items they interacted with next; `popularity[i]` the number of
/// training users of item i; `train_users` the number of training users.
pub fn evaluate(
    lists: &[Vec<u32>],
    held_out: &[Vec<u32>],
    popularity: &[u32],
    train_users: usize,
    cutoffs: &[usize],
) -> Metrics {
    let users = held_out.len();
    let mut values = BTreeMap::new();
    let items_with_data = popularity.iter().filter(|&&c| c > 0).count().max(1);
    let share = |i: u32| popularity[i as usize] as f64 / train_users.max(1) as f64;
    for &k in cutoffs {
        let (mut recall, mut ndcg, mut map, mut novelty, mut arp) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut recommended = 0usize;
        let mut covered: HashSet<u32> = HashSet::new();
        for (list, held) in lists.iter().zip(held_out) {
            if held.is_empty() {
                continue;
            }
            let held: HashSet<u32> = held.iter().copied().collect();
            let top = &list[..list.len().min(k)];
            let n = k.min(held.len()) as f64;
            let (mut hits, mut dcg, mut ap) = (0usize, 0.0, 0.0);
            for (rank, item) in top.iter().enumerate() {
                covered.insert(*item);
                let p = share(*item).max(1.0 / (train_users.max(1) as f64 + 1.0));
                novelty += -p.log2();
                arp += share(*item);
                recommended += 1;
                if held.contains(item) {
                    hits += 1;
                    dcg += 1.0 / (rank as f64 + 2.0).log2();
                    ap += hits as f64 / (rank as f64 + 1.0);
                }
            }
            let idcg: f64 = (0..n as usize).map(|r| 1.0 / (r as f64 + 2.0).log2()).sum();
            recall += hits as f64 / n;
            ndcg += dcg / idcg;
            map += ap / n;
        }
        let per_user = |x: f64| if users == 0 { 0.0 } else { x / users as f64 };
        let per_rec = |x: f64| {
            if recommended == 0 {
                0.0
            } else {
                x / recommended as f64
            }
        };
        let covered = covered
            .iter()
            .filter(|&&i| popularity[i as usize] > 0)
            .count();
        values.insert(format!("recall@{k}"), per_user(recall));
        values.insert(format!("ndcg@{k}"), per_user(ndcg));
        values.insert(format!("map@{k}"), per_user(map));
        values.insert(
            format!("coverage@{k}"),
            covered as f64 / items_with_data as f64,
        );
        values.insert(format!("novelty@{k}"), per_rec(novelty));
        values.insert(format!("arp@{k}"), per_rec(arp));
    }
    let (mut arp_held, mut n_held) = (0.0, 0usize);
    for held in held_out {
        for &i in held {
            arp_held += share(i);
            n_held += 1;
        }
    }
    values.insert(
        "arp_heldout".into(),
        if n_held == 0 {
            0.0
        } else {
            arp_held / n_held as f64
        },
    );
    Metrics { users, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn hand_computed_case() {
        // User 0: held out {1, 5}; list [1, 2, 5]: hits at ranks 1 and 3.
        // User 1: held out {3}; list [4]: no hit.
        let lists = vec![vec![1, 2, 5], vec![4]];
        let held = vec![vec![1, 5], vec![3]];
        let popularity = vec![0, 4, 2, 1, 1, 2];
        let m = evaluate(&lists, &held, &popularity, 4, &[2, 10]);
        assert_eq!(m.users, 2);
        // @10: user 0 recall 2/2, user 1 0.
        close(m.get("recall@10"), 0.5);
        let idcg = 1.0 + 1.0 / 3f64.log2();
        close(m.get("ndcg@10"), (1.0 + 0.5) / idcg / 2.0);
        // AP: (1/1 + 2/3) / 2
        close(m.get("map@10"), (1.0 + 2.0 / 3.0) / 2.0 / 2.0);
        // @2: user 0 top [1, 2]: one hit of min(2, 2).
        close(m.get("recall@2"), 0.25);
        // Items with data: 1..=5 (5 items); top-10 lists cover 1, 2, 5, 4.
        close(m.get("coverage@10"), 4.0 / 5.0);
        // Popularity shares: 1 → 4/4, 2 → 2/4, 5 → 2/4, 4 → 1/4.
        close(m.get("arp@10"), (1.0 + 0.5 + 0.5 + 0.25) / 4.0);
        close(
            m.get("novelty@10"),
            (0.0 + 1.0 + 1.0 + 2.0) / 4.0, // −log2 of 1, 1/2, 1/2, 1/4
        );
        close(m.get("arp_heldout"), (1.0 + 0.5 + 0.25) / 3.0);
    }
}
