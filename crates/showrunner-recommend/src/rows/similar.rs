//! Item-to-item similarity read from a trained model, for "Because You Watched" and "More
//! Like This": EASE's weight row, item-kNN's neighbour list, the cosine of iALS item
//! factors, and for a blend the weighted sum of its parts' standardised rows. Popularity has
//! no notion of similarity and contributes nothing.

use crate::model::Scorer;
use crate::models::blend::standardise;

/// How similar every model item is to `item` (a dense vector over the model's items, higher
/// is more similar; `item` itself scores `-inf`). `None` when the model holds no item-item
/// signal for it (a popularity model, or an index out of range).
pub fn item_similarities(scorer: &Scorer, item: usize, n_items: usize) -> Option<Vec<f32>> {
    if item >= n_items {
        return None;
    }
    let mut out = match scorer {
        Scorer::Pop(_) => return None,
        Scorer::Ease(ease) => {
            if item >= ease.n {
                return None;
            }
            // Row `item` of B: how much having watched `item` adds to each other title.
            let mut row = vec![0f32; n_items];
            let from = &ease.b[item * ease.n..(item + 1) * ease.n];
            for (slot, &b) in row.iter_mut().zip(from) {
                *slot = b;
            }
            row
        }
        Scorer::ItemKnn(knn) => {
            let mut row = vec![0f32; n_items];
            for (j, s) in knn.similar(item, usize::MAX) {
                if let Some(slot) = row.get_mut(j as usize) {
                    *slot = s;
                }
            }
            row
        }
        Scorer::Ials(ials) => {
            let f = ials.factors();
            if f == 0 || item >= ials.n_items() {
                return None;
            }
            let factors = &ials.item_factors;
            let norm = |k: usize| {
                factors[k * f..(k + 1) * f]
                    .iter()
                    .map(|x| x * x)
                    .sum::<f32>()
                    .sqrt()
            };
            let query = &factors[item * f..(item + 1) * f];
            let query_norm = norm(item);
            let mut row = vec![0f32; n_items];
            for (j, slot) in row.iter_mut().enumerate().take(ials.n_items()) {
                let other = &factors[j * f..(j + 1) * f];
                let dot: f32 = query.iter().zip(other).map(|(a, b)| a * b).sum();
                let d = query_norm * norm(j);
                *slot = if d > 0.0 { dot / d } else { 0.0 };
            }
            row
        }
        Scorer::Blend(parts) => {
            let mut sum = vec![0f32; n_items];
            let mut any = false;
            for (part, weight) in parts {
                if let Some(mut row) = item_similarities(part, item, n_items) {
                    row[item] = 0.0;
                    standardise(&mut row);
                    for (s, r) in sum.iter_mut().zip(&row) {
                        *s += weight * r;
                    }
                    any = true;
                }
            }
            if !any {
                return None;
            }
            sum
        }
    };
    out[item] = f32::NEG_INFINITY;
    Some(out)
}
