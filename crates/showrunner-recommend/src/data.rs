//! Interaction data: who interacted with what, when, and how strongly.
//!
//! [`InteractionsBuilder`] collects `(user, item, time, weight)` rows from any source (the
//! yardstick's CSV, the store's views and ratings) and [`Interactions`] is the frozen,
//! indexed form every model trains on: users and items numbered densely in order of first
//! appearance, one row per user with its items sorted by time, and the transposed (item to
//! users) index. Weights are confidences (how sure we are the member liked the title); a
//! repeated `(user, item)` keeps the largest weight and the latest time, so re-importing or
//! re-watching does not inflate a confidence.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::OnceLock;

use crate::error::RecommendError;

/// One user-item interaction as a source gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    pub user: String,
    pub item: String,
    /// Seconds since the Unix epoch (any monotone clock works; only order and differences
    /// are used).
    pub timestamp: i64,
    /// Confidence that the user likes the item; 1 for a plain positive.
    pub weight: f32,
}

/// Collects interactions and freezes them into an [`Interactions`] matrix.
#[derive(Debug, Default)]
pub struct InteractionsBuilder {
    users: HashMap<String, u32>,
    user_ids: Vec<String>,
    items: HashMap<String, u32>,
    item_ids: Vec<String>,
    /// (user, item) -> index into `entries`
    seen: HashMap<(u32, u32), usize>,
    entries: Vec<(u32, u32, i64, f32)>,
}

impl InteractionsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an item that may have no interaction (a catalog title): it becomes a
    /// candidate for recommendation and gets an index.
    pub fn add_item(&mut self, item: &str) -> u32 {
        intern(&mut self.items, &mut self.item_ids, item)
    }

    /// Registers a user who may have no interaction (a member whose only signals were
    /// negative): the model then knows them, so their blocked titles stay blocked.
    pub fn add_user(&mut self, user: &str) -> u32 {
        intern(&mut self.users, &mut self.user_ids, user)
    }

    /// Adds one interaction. Non-finite or negative weights are refused; the caller names
    /// the input in its error.
    pub fn add(
        &mut self,
        user: &str,
        item: &str,
        timestamp: i64,
        weight: f32,
    ) -> Result<(), &'static str> {
        if !weight.is_finite() {
            return Err("weight is not a finite number");
        }
        if weight < 0.0 {
            return Err("weight is negative");
        }
        let u = intern(&mut self.users, &mut self.user_ids, user);
        let i = intern(&mut self.items, &mut self.item_ids, item);
        match self.seen.get(&(u, i)) {
            Some(&at) => {
                let entry = &mut self.entries[at];
                entry.2 = entry.2.max(timestamp);
                entry.3 = entry.3.max(weight);
            }
            None => {
                self.seen.insert((u, i), self.entries.len());
                self.entries.push((u, i, timestamp, weight));
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Freezes the collected rows. Zero-weight rows are kept out of the matrix (they carry
    /// no preference) but their user and item keep their indices.
    pub fn build(self) -> Interactions {
        let n_users = self.user_ids.len();
        let mut entries = self.entries;
        entries.retain(|e| e.3 > 0.0);
        // Per user, by time; ties by item id text, the order the yardstick's split uses.
        let item_ids = &self.item_ids;
        entries.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then(a.2.cmp(&b.2))
                .then_with(|| item_ids[a.1 as usize].cmp(&item_ids[b.1 as usize]))
        });
        let mut user_ptr = vec![0usize; n_users + 1];
        for e in &entries {
            user_ptr[e.0 as usize + 1] += 1;
        }
        for u in 0..n_users {
            user_ptr[u + 1] += user_ptr[u];
        }
        let user_items: Vec<u32> = entries.iter().map(|e| e.1).collect();
        let times: Vec<i64> = entries.iter().map(|e| e.2).collect();
        let weights: Vec<f32> = entries.iter().map(|e| e.3).collect();
        Interactions::from_csr(
            self.user_ids,
            self.item_ids,
            user_ptr,
            user_items,
            times,
            weights,
        )
    }
}

fn intern(map: &mut HashMap<String, u32>, ids: &mut Vec<String>, key: &str) -> u32 {
    if let Some(&k) = map.get(key) {
        return k;
    }
    let k = ids.len() as u32;
    ids.push(key.to_owned());
    map.insert(key.to_owned(), k);
    k
}

/// A frozen user-item matrix in compressed rows (by user, time-ordered) and compressed
/// columns (by item).
#[derive(Debug, Clone)]
pub struct Interactions {
    pub user_ids: Vec<String>,
    pub item_ids: Vec<String>,
    user_ptr: Vec<usize>,
    user_items: Vec<u32>,
    times: Vec<i64>,
    weights: Vec<f32>,
    /// The item-to-users index, built on first use: training needs it, serving a loaded
    /// model does not (building it for 10M interactions would cost tens of milliseconds of
    /// the model's load time).
    columns: OnceLock<Columns>,
}

#[derive(Debug, Clone)]
struct Columns {
    item_ptr: Vec<usize>,
    item_users: Vec<u32>,
    item_weights: Vec<f32>,
}

/// One user's history: items in time order with their times and weights.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub items: &'a [u32],
    pub times: &'a [i64],
    pub weights: &'a [f32],
}

impl Row<'_> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Interactions {
    /// Adds the transposed (item to users) index to checked compressed rows.
    fn from_csr(
        user_ids: Vec<String>,
        item_ids: Vec<String>,
        user_ptr: Vec<usize>,
        user_items: Vec<u32>,
        times: Vec<i64>,
        weights: Vec<f32>,
    ) -> Interactions {
        Interactions {
            user_ids,
            item_ids,
            user_ptr,
            user_items,
            times,
            weights,
            columns: OnceLock::new(),
        }
    }

    fn columns(&self) -> &Columns {
        self.columns.get_or_init(|| {
            let (n_users, n_items) = (self.user_ids.len(), self.item_ids.len());
            let mut item_ptr = vec![0usize; n_items + 1];
            for &i in &self.user_items {
                item_ptr[i as usize + 1] += 1;
            }
            for i in 0..n_items {
                item_ptr[i + 1] += item_ptr[i];
            }
            let mut fill = item_ptr.clone();
            let mut item_users = vec![0u32; self.user_items.len()];
            let mut item_weights = vec![0f32; self.user_items.len()];
            for u in 0..n_users {
                for k in self.user_ptr[u]..self.user_ptr[u + 1] {
                    let i = self.user_items[k] as usize;
                    item_users[fill[i]] = u as u32;
                    item_weights[fill[i]] = self.weights[k];
                    fill[i] += 1;
                }
            }
            Columns {
                item_ptr,
                item_users,
                item_weights,
            }
        })
    }

    /// Rebuilds a matrix from its compressed rows (as saved with a model). Checks that the
    /// parts agree; the message names the first problem.
    pub fn from_rows(
        user_ids: Vec<String>,
        item_ids: Vec<String>,
        user_ptr: Vec<usize>,
        user_items: Vec<u32>,
        times: Vec<i64>,
        weights: Vec<f32>,
    ) -> Result<Interactions, String> {
        if user_ptr.len() != user_ids.len() + 1 {
            return Err("row pointers do not match the number of users".into());
        }
        if user_ptr.first() != Some(&0)
            || user_ptr.windows(2).any(|w| w[0] > w[1])
            || user_ptr.last() != Some(&user_items.len())
        {
            return Err("row pointers are not increasing from 0 to the number of entries".into());
        }
        if times.len() != user_items.len() || weights.len() != user_items.len() {
            return Err("times or weights do not match the number of entries".into());
        }
        if user_items.iter().any(|&i| i as usize >= item_ids.len()) {
            return Err("an entry names an item beyond the item list".into());
        }
        if index_of(&user_ids).len() != user_ids.len()
            || index_of(&item_ids).len() != item_ids.len()
        {
            return Err("user or item ids are not unique".into());
        }
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err("a weight is not a finite non-negative number".into());
        }
        Ok(Interactions::from_csr(
            user_ids, item_ids, user_ptr, user_items, times, weights,
        ))
    }

    /// The compressed rows, for saving: row pointers, items, times, weights.
    pub fn rows_parts(&self) -> (&[usize], &[u32], &[i64], &[f32]) {
        (&self.user_ptr, &self.user_items, &self.times, &self.weights)
    }

    pub fn n_users(&self) -> usize {
        self.user_ids.len()
    }

    pub fn n_items(&self) -> usize {
        self.item_ids.len()
    }

    /// Stored (non-zero) interactions.
    pub fn nnz(&self) -> usize {
        self.user_items.len()
    }

    pub fn row(&self, user: usize) -> Row<'_> {
        let range = self.user_ptr[user]..self.user_ptr[user + 1];
        Row {
            items: &self.user_items[range.clone()],
            times: &self.times[range.clone()],
            weights: &self.weights[range],
        }
    }

    /// The users of one item and their weights.
    pub fn column(&self, item: usize) -> (&[u32], &[f32]) {
        let c = self.columns();
        let range = c.item_ptr[item]..c.item_ptr[item + 1];
        (&c.item_users[range.clone()], &c.item_weights[range])
    }

    /// How many users interacted with each item.
    pub fn item_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_items()];
        for &i in &self.user_items {
            counts[i as usize] += 1;
        }
        counts
    }

    /// The latest interaction time in the data (0 when empty).
    pub fn last_time(&self) -> i64 {
        self.times.iter().copied().max().unwrap_or(0)
    }

    pub fn first_time(&self) -> i64 {
        self.times.iter().copied().min().unwrap_or(0)
    }

    pub fn user_index(&self) -> HashMap<&str, u32> {
        index_of(&self.user_ids)
    }

    pub fn item_index(&self) -> HashMap<&str, u32> {
        index_of(&self.item_ids)
    }

    /// Splits every user with at least `min_events` interactions into the earlier
    /// `1 - fraction` (train) and the latest `fraction` (at least one; test), by time;
    /// users with fewer stay wholly in train. Test items absent from the train part are
    /// dropped, as no collaborative model can know them. This is the yardstick's
    /// temporal per-user holdout, used for validation by `--algo auto` and by `evaluate`.
    pub fn temporal_holdout(&self, fraction: f64, min_events: usize) -> Holdout {
        let mut train = InteractionsBuilder::new();
        // Same item numbering in both halves, so test rows can be scored against train.
        for item in &self.item_ids {
            train.add_item(item);
        }
        let mut test_rows: Vec<(String, Vec<String>)> = Vec::new();
        for u in 0..self.n_users() {
            let row = self.row(u);
            let n = row.len();
            let k = if n >= min_events {
                ((fraction * n as f64).ceil() as usize).max(1)
            } else {
                0
            };
            let user = &self.user_ids[u];
            for j in 0..n - k {
                // Weights were checked when first added.
                let _ = train.add(
                    user,
                    &self.item_ids[row.items[j] as usize],
                    row.times[j],
                    row.weights[j],
                );
            }
            if k > 0 {
                let held = row.items[n - k..]
                    .iter()
                    .map(|&i| self.item_ids[i as usize].clone())
                    .collect();
                test_rows.push((user.clone(), held));
            }
        }
        let train = train.build();
        let counts = train.item_counts();
        let index = train.item_index();
        let test = test_rows
            .into_iter()
            .filter_map(|(user, items)| {
                let items: Vec<String> = items
                    .into_iter()
                    .filter(|i| {
                        index
                            .get(i.as_str())
                            .is_some_and(|&k| counts[k as usize] > 0)
                    })
                    .collect();
                (!items.is_empty()).then_some((user, items))
            })
            .collect();
        Holdout { train, test }
    }
}

fn index_of(ids: &[String]) -> HashMap<&str, u32> {
    ids.iter()
        .enumerate()
        .map(|(k, id)| (id.as_str(), k as u32))
        .collect()
}

/// A train part and, per user, the held-out items.
#[derive(Debug, Clone)]
pub struct Holdout {
    pub train: Interactions,
    pub test: Vec<(String, Vec<String>)>,
}

/// Reads the yardstick's CSV: a header naming `user`, `item`, `timestamp` and optionally
/// `weight` (any order, other columns ignored), then one interaction a line. Blank lines
/// are skipped. Errors name the line and the problem.
pub fn read_interactions_csv(
    input: impl BufRead,
    source: &str,
) -> Result<InteractionsBuilder, RecommendError> {
    let bad = |line: usize, problem: String| RecommendError::BadInput {
        input: source.to_owned(),
        line,
        problem,
    };
    let mut lines = input.lines();
    let header = match lines.next() {
        Some(line) => line.map_err(|e| bad(1, e.to_string()))?,
        None => return Err(bad(1, "the file is empty (expected a header line)".into())),
    };
    let names: Vec<&str> = header.trim().split(',').map(str::trim).collect();
    let find = |name: &str| names.iter().position(|n| n.eq_ignore_ascii_case(name));
    let (Some(cu), Some(ci)) = (find("user"), find("item")) else {
        return Err(bad(
            1,
            format!("the header must name the columns user and item (found: {header})"),
        ));
    };
    let ct = find("timestamp");
    let cw = find("weight");
    let mut builder = InteractionsBuilder::new();
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let line = line.map_err(|e| bad(line_no, e.to_string()))?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let get = |c: usize, name: &str| {
            fields
                .get(c)
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad(line_no, format!("the {name} field is missing")))
        };
        let user = get(cu, "user")?;
        let item = get(ci, "item")?;
        let timestamp = match ct {
            Some(c) => {
                let text = get(c, "timestamp")?;
                text.parse::<i64>()
                    .or_else(|_| text.parse::<f64>().map(|f| f as i64))
                    .map_err(|_| bad(line_no, format!("timestamp {text:?} is not a number")))?
            }
            None => line_no as i64,
        };
        let weight = match cw {
            Some(c) => {
                let text = get(c, "weight")?;
                text.parse::<f32>()
                    .map_err(|_| bad(line_no, format!("weight {text:?} is not a number")))?
            }
            None => 1.0,
        };
        builder
            .add(user, item, timestamp, weight)
            .map_err(|problem| bad(line_no, format!("{problem} ({weight})")))?;
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Interactions, RecommendError> {
        read_interactions_csv(text.as_bytes(), "t.csv").map(InteractionsBuilder::build)
    }

    #[test]
    fn rows_are_time_ordered_and_columns_transpose_them() {
        let x = parse("user,item,timestamp\nu1,b,20\nu1,a,10\nu2,b,5\n\n").unwrap();
        assert_eq!(x.n_users(), 2);
        assert_eq!(x.n_items(), 2);
        let row = x.row(0);
        let names: Vec<&str> = row
            .items
            .iter()
            .map(|&i| x.item_ids[i as usize].as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(row.times, [10, 20]);
        let b = x.item_index()["b"] as usize;
        assert_eq!(x.column(b).0, [0, 1]);
    }

    #[test]
    fn duplicates_keep_the_largest_weight_and_latest_time() {
        let x = parse("user,item,timestamp,weight\nu,a,1,2\nu,a,9,0.5\n").unwrap();
        assert_eq!(x.nnz(), 1);
        assert_eq!(x.row(0).weights, [2.0]);
        assert_eq!(x.row(0).times, [9]);
    }

    #[test]
    fn bad_rows_name_the_line_and_problem() {
        let err = parse("user,item,timestamp,weight\nu,a,1,1\nu,b,2,NaN\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv line 3: weight is not a finite number (NaN)"
        );
        let err = parse("user,item,timestamp\nu,a,yesterday\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = parse("").unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = parse("who,what\n").unwrap_err();
        assert!(err.to_string().contains("user and item"), "{err}");
        let err = parse("user,item,timestamp,weight\nu,a,1,-1\n").unwrap_err();
        assert!(err.to_string().contains("negative"), "{err}");
    }

    #[test]
    fn temporal_holdout_keeps_the_latest_fifth() {
        let mut text = String::from("user,item,timestamp\n");
        for t in 0..10 {
            text.push_str(&format!("u,i{t},{t}\n"));
        }
        // A second user so every held-out item is known in train.
        for t in 0..10 {
            text.push_str(&format!("v,i{t},{t}\n"));
        }
        text.push_str("w,i1,1\nw,i2,2\nz,i8,1\nz,i9,2\n");
        let x = parse(&text).unwrap();
        let h = x.temporal_holdout(0.2, 5);
        let u = &h.test.iter().find(|(u, _)| u == "u").unwrap().1;
        assert_eq!(u, &["i8", "i9"]);
        assert!(
            !h.test.iter().any(|(u, _)| u == "w"),
            "short users stay in train"
        );
        assert_eq!(h.train.nnz(), 8 + 8 + 2 + 2);
    }
}
