//! Stored metric series: raw samples (a series is a metric name plus its labels), their
//! downsampled rollups, the retention and downsampling pass, and queries by name and label
//! matchers over a time range with a step.
//!
//! A separate trait from [`Store`] so that monitoring can grow without touching the
//! importer's contract; every backend implements both.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// The text key of a series, `name{a="x",b="y"}` with labels sorted by name (the same as
/// the Prometheus exposition and alert rules write it); just `name` without labels.
pub fn series_key(name: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// One sample of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSample {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Milliseconds since the Unix epoch.
    pub ts_ms: i64,
    pub value: f64,
}

impl SeriesSample {
    pub fn key(&self) -> String {
        series_key(&self.name, &self.labels)
    }
}

/// How a label is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchOp {
    /// `label="value"`: the label has exactly this value (`""`: the label is absent).
    Equal,
    /// `label!="value"`.
    NotEqual,
}

/// One label condition of a selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelMatcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
}

/// Which series: an optional metric name and label matchers, written like PromQL's
/// selectors: `name`, `name{a="x",b!="y"}` or `{a="x"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesSelector {
    pub name: Option<String>,
    pub matchers: Vec<LabelMatcher>,
}

/// A selector that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("series selector {selector:?}: {problem}")]
pub struct SelectorError {
    pub selector: String,
    pub problem: String,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl SeriesSelector {
    pub fn parse(text: &str) -> Result<SeriesSelector, SelectorError> {
        let bad = |problem: &str| SelectorError {
            selector: text.to_owned(),
            problem: problem.to_owned(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("empty; give a metric name and/or {label=\"value\"}"));
        }
        let (name, rest) = match trimmed.find('{') {
            Some(open) => (trimmed[..open].trim(), Some(&trimmed[open + 1..])),
            None => (trimmed, None),
        };
        let name = if name.is_empty() {
            None
        } else if valid_name(name) {
            Some(name.to_owned())
        } else {
            return Err(bad(&format!("{name:?} is not a metric name")));
        };
        let mut matchers = Vec::new();
        if let Some(rest) = rest {
            let body = rest
                .trim_end()
                .strip_suffix('}')
                .ok_or_else(|| bad("the label list is not closed with '}'"))?;
            let mut s = body.trim();
            while !s.is_empty() {
                let op_at = s
                    .find(['=', '!'])
                    .ok_or_else(|| bad("a matcher needs label=\"value\" or label!=\"value\""))?;
                let label = s[..op_at].trim();
                if !valid_name(label) {
                    return Err(bad(&format!("{label:?} is not a label name")));
                }
                let (op, after) = if let Some(after) = s[op_at..].strip_prefix("!=") {
                    (MatchOp::NotEqual, after)
                } else if let Some(after) = s[op_at..].strip_prefix('=') {
                    (MatchOp::Equal, after)
                } else {
                    return Err(bad(&format!("label {label}: expected = or !=")));
                };
                let after = after.trim_start();
                let quoted = after
                    .strip_prefix('"')
                    .ok_or_else(|| bad(&format!("label {label}: the value must be quoted")))?;
                let mut value = String::new();
                let mut end = None;
                let mut chars = quoted.char_indices();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, other)) => value.push(other),
                            None => break,
                        },
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        other => value.push(other),
                    }
                }
                let end = end.ok_or_else(|| bad(&format!("label {label}: unclosed quote")))?;
                matchers.push(LabelMatcher {
                    label: label.to_owned(),
                    op,
                    value,
                });
                s = quoted[end + 1..].trim_start();
                if let Some(next) = s.strip_prefix(',') {
                    s = next.trim_start();
                } else if !s.is_empty() {
                    return Err(bad(&format!("after label {label}: expected ',' or '}}'")));
                }
            }
        }
        if name.is_none() && matchers.is_empty() {
            return Err(bad("selects every series; give a metric name or a matcher"));
        }
        Ok(SeriesSelector { name, matchers })
    }

    /// Whether a series of this name and these labels is selected.
    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        if self.name.as_deref().is_some_and(|n| n != name) {
            return false;
        }
        self.matchers.iter().all(|m| {
            let value = labels.get(&m.label).map_or("", String::as_str);
            match m.op {
                MatchOp::Equal => value == m.value,
                MatchOp::NotEqual => value != m.value,
            }
        })
    }
}

/// A query: the selected series' points in `[from_ms, to_ms)`, averaged into buckets of
/// `step_ms` (aligned to `from_ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesQuery {
    pub selector: SeriesSelector,
    pub from_ms: i64,
    pub to_ms: i64,
    pub step_ms: i64,
    /// At most this many series are returned (the first by key).
    pub max_series: usize,
}

/// One bucket of a queried series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Start of the bucket, milliseconds since the epoch.
    pub ts_ms: i64,
    /// Mean of the samples in the bucket (raw samples, or rollups weighted by their counts).
    pub value: f64,
    pub min: f64,
    pub max: f64,
    /// Raw samples the bucket stands for.
    pub count: u64,
}

/// One series of a query's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesData {
    pub key: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub points: Vec<SeriesPoint>,
}

/// How long raw samples and rollups are kept and how wide a rollup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    pub raw_retention_ms: i64,
    pub rollup_width_ms: i64,
    pub rollup_retention_ms: i64,
    /// Samples may arrive this late into a bucket already rolled up and still be counted
    /// (buckets this far back are rolled up again on every pass).
    pub late_ms: i64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        const HOUR: i64 = 3_600_000;
        RetentionPolicy {
            raw_retention_ms: 7 * 24 * HOUR,
            rollup_width_ms: HOUR,
            rollup_retention_ms: 400 * 24 * HOUR,
            late_ms: HOUR,
        }
    }
}

/// What one retention and downsampling pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionSummary {
    /// Rollup buckets written (new or recomputed).
    pub rollups_written: u64,
    pub raw_deleted: u64,
    pub rollups_deleted: u64,
    /// Series left with no sample and no rollup, removed.
    pub series_deleted: u64,
}

/// A stored series without its points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub key: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Metric series in the store. Backends hide their SQL as for [`Store`].
pub trait SeriesStore: Store {
    /// Stores samples in one transaction (a sample at a time a series already has replaces
    /// it); returns how many were written. Non-finite values are refused with the series
    /// named.
    fn write_samples(&mut self, samples: &[SeriesSample]) -> Result<u64, StoreError>;

    /// Series whose name and labels the selector matches, by key.
    fn series(&self, selector: &SeriesSelector) -> Result<Vec<SeriesInfo>, StoreError>;

    /// The selected series' points in the range: raw samples where they are still kept,
    /// rollups before that.
    fn query_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesData>, StoreError>;

    /// The retention and downsampling pass at time `now_ms`: rolls complete buckets of raw
    /// samples up into rollups, deletes raw samples past their retention (only once rolled
    /// up), rollups past theirs, and series left empty. Safe to run at any interval.
    fn compact_series(
        &mut self,
        policy: &RetentionPolicy,
        now_ms: i64,
    ) -> Result<CompactionSummary, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_match() {
        let s = SeriesSelector::parse(r#"qoe_failure_pct{cdn="b", country!="US"}"#).unwrap();
        assert_eq!(s.name.as_deref(), Some("qoe_failure_pct"));
        assert_eq!(s.matchers.len(), 2);
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(s.matches(
            "qoe_failure_pct",
            &labels(&[("cdn", "b"), ("country", "BR")])
        ));
        assert!(!s.matches(
            "qoe_failure_pct",
            &labels(&[("cdn", "b"), ("country", "US")])
        ));
        assert!(!s.matches("other", &labels(&[("cdn", "b")])));
        let only_labels = SeriesSelector::parse(r#"{job="api"}"#).unwrap();
        assert!(only_labels.matches("anything", &labels(&[("job", "api")])));
        for bad in ["", "{}", "9x", r#"x{a="1""#, r#"x{a=1}"#, r#"x{a~"1"}"#] {
            let err = SeriesSelector::parse(bad).unwrap_err();
            assert_eq!(err.selector, bad, "{err}");
        }
    }

    #[test]
    fn keys_sort_labels() {
        let labels = BTreeMap::from([
            ("z".to_string(), "1".to_string()),
            ("a".to_string(), "x\"y".to_string()),
        ]);
        assert_eq!(series_key("m", &labels), r#"m{a="x\"y",z="1"}"#);
        assert_eq!(series_key("m", &BTreeMap::new()), "m");
    }
}

/// Sums of one query bucket (both backends downsample with it).
#[derive(Clone, Copy)]
pub(crate) struct Acc {
    pub(crate) count: u64,
    pub(crate) sum: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Acc {
    pub(crate) const EMPTY: Acc = Acc {
        count: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    pub(crate) fn add(&mut self, count: u64, sum: f64, min: f64, max: f64) {
        self.count += count;
        self.sum += sum;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }
}
