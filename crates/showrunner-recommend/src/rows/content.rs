//! The content model for titles nobody has watched yet: TF-IDF over metadata tokens
//! (`genre:drama`, `cast:…`, `director:…`, `decade:1990`), cosine similarity between
//! titles and between a member's watched titles and a candidate.
//!
//! Each title is a bag of tokens weighted by inverse document frequency over the catalog's
//! recommendable titles, `ln((1 + N) / (1 + df)) + 1`. Each field's part of the vector
//! (genres, directors, cast, decade) is scaled to the field's weight (genres count most,
//! then directors, then decade and cast), so a long cast list of rare names cannot outweigh
//! the genres; then the vector is L2-normalised, so the dot product of two titles is their
//! cosine. A member's taste is the sum of their
//! watched titles' vectors (each weighted by how much of it they watched), normalised.

use std::collections::HashMap;

/// Field weights: genres say most about taste, a shared director more than a shared actor.
const GENRE_WEIGHT: f32 = 1.0;
const DIRECTOR_WEIGHT: f32 = 0.5;
const CAST_WEIGHT: f32 = 0.25;
const DECADE_WEIGHT: f32 = 0.3;

/// Sparse unit vectors, one per catalog entry (empty for entries without metadata).
#[derive(Debug, Clone, Default)]
pub struct ContentModel {
    vectors: Vec<Vec<(u32, f32)>>,
    n_tokens: usize,
}

/// The tokens of one title and their field weights.
pub fn tokens(
    genres: &[String],
    directors: &[String],
    cast: &[String],
    release_year: Option<i32>,
) -> Vec<(String, f32)> {
    let norm = |s: &str| s.trim().to_lowercase();
    let mut out = Vec::new();
    out.extend(
        genres
            .iter()
            .map(|g| (format!("genre:{}", norm(g)), GENRE_WEIGHT)),
    );
    out.extend(
        directors
            .iter()
            .map(|d| (format!("director:{}", norm(d)), DIRECTOR_WEIGHT)),
    );
    out.extend(
        cast.iter()
            .map(|c| (format!("cast:{}", norm(c)), CAST_WEIGHT)),
    );
    if let Some(year) = release_year {
        out.push((
            format!("decade:{}", year.div_euclid(10) * 10),
            DECADE_WEIGHT,
        ));
    }
    out
}

impl ContentModel {
    /// Builds the model over `docs` (one token list per catalog entry); only entries with
    /// `counts[k]` true enter the document frequencies (the recommendable titles), but every
    /// entry gets a vector.
    pub fn new(docs: &[Vec<(String, f32)>], counts: &[bool]) -> ContentModel {
        let mut vocabulary: HashMap<&str, u32> = HashMap::new();
        let mut ids: Vec<Vec<(u32, f32)>> = Vec::with_capacity(docs.len());
        for doc in docs {
            let mut row: Vec<(u32, f32)> = Vec::with_capacity(doc.len());
            for (token, weight) in doc {
                let next = vocabulary.len() as u32;
                let id = *vocabulary.entry(token.as_str()).or_insert(next);
                match row.iter_mut().find(|(t, _)| *t == id) {
                    Some(slot) => slot.1 = slot.1.max(*weight),
                    None => row.push((id, *weight)),
                }
            }
            row.sort_by_key(|&(t, _)| t);
            ids.push(row);
        }
        let n_tokens = vocabulary.len();
        let mut df = vec![0u32; n_tokens];
        let mut n_docs = 0u32;
        for (row, &counted) in ids.iter().zip(counts) {
            if counted {
                n_docs += 1;
                for &(t, _) in row {
                    df[t as usize] += 1;
                }
            }
        }
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n_docs as f32) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        // Each token's field (the text before ':'), so a field's part can be scaled as one.
        let mut field_of = vec![0u8; n_tokens];
        for (token, &id) in &vocabulary {
            field_of[id as usize] = match token.split(':').next() {
                Some("genre") => 0,
                Some("director") => 1,
                Some("cast") => 2,
                _ => 3,
            };
        }
        let vectors = ids
            .into_iter()
            .map(|mut row| {
                // Field weight (the largest given for the field's tokens) and the norm of the
                // field's idf-weighted part.
                let mut field_weight = [0f32; 4];
                let mut field_norm = [0f32; 4];
                for (t, w) in row.iter_mut() {
                    let f = field_of[*t as usize] as usize;
                    field_weight[f] = field_weight[f].max(*w);
                    *w = idf[*t as usize];
                    field_norm[f] += *w * *w;
                }
                for (t, w) in row.iter_mut() {
                    let f = field_of[*t as usize] as usize;
                    *w *= field_weight[f] / field_norm[f].sqrt().max(f32::MIN_POSITIVE);
                }
                normalise(&mut row);
                row
            })
            .collect();
        ContentModel { vectors, n_tokens }
    }

    /// The cosine between two catalog entries.
    pub fn similarity(&self, a: usize, b: usize) -> f32 {
        match (self.vectors.get(a), self.vectors.get(b)) {
            (Some(x), Some(y)) => sparse_dot(x, y),
            _ => 0.0,
        }
    }

    /// A member's taste: the weighted sum of the given entries' vectors, as a dense unit
    /// vector over the vocabulary (all zeros for an empty history).
    pub fn profile(&self, entries: &[(usize, f32)]) -> Vec<f32> {
        let mut dense = vec![0f32; self.n_tokens];
        for &(k, weight) in entries {
            if let Some(row) = self.vectors.get(k) {
                for &(t, w) in row {
                    dense[t as usize] += weight * w;
                }
            }
        }
        let norm = dense.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            dense.iter_mut().for_each(|x| *x /= norm);
        }
        dense
    }

    /// The cosine between a profile (from [`ContentModel::profile`]) and an entry.
    pub fn score(&self, profile: &[f32], k: usize) -> f32 {
        self.vectors.get(k).map_or(0.0, |row| {
            row.iter()
                .map(|&(t, w)| profile.get(t as usize).copied().unwrap_or(0.0) * w)
                .sum()
        })
    }
}

fn normalise(row: &mut [(u32, f32)]) {
    let norm = row.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        row.iter_mut().for_each(|(_, w)| *w /= norm);
    }
}

/// Dot product of two sparse vectors sorted by token.
fn sparse_dot(x: &[(u32, f32)], y: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0f32);
    while i < x.len() && j < y.len() {
        match x[i].0.cmp(&y[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += x[i].1 * y[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(genres: &[&str], year: i32) -> Vec<(String, f32)> {
        let genres: Vec<String> = genres.iter().map(|g| g.to_string()).collect();
        tokens(&genres, &[], &[], Some(year))
    }

    #[test]
    fn shared_genres_are_more_similar_than_none() {
        let docs = vec![
            doc(&["Drama", "Romance"], 1994),
            doc(&["drama"], 1998),
            doc(&["Horror"], 2020),
        ];
        let model = ContentModel::new(&docs, &[true, true, true]);
        assert!((model.similarity(0, 0) - 1.0).abs() < 1e-5);
        assert!(model.similarity(0, 1) > model.similarity(0, 2));
        assert_eq!(model.similarity(1, 2), 0.0);
        let taste = model.profile(&[(1, 1.0)]);
        assert!(model.score(&taste, 0) > model.score(&taste, 2));
    }
}
