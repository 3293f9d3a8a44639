//! The Prometheus text exposition format (version 0.0.4), read: what a scrape of any
//! Prometheus target returns, or what a client pushes, turned into samples the detectors
//! and alert rules can watch. `# HELP` and `# TYPE` lines give each family's type; histogram
//! and summary families come through as their `_bucket` / `_sum` / `_count` series. A line
//! that cannot be read is reported with its number and the rest are kept.

use std::collections::BTreeMap;

/// One sample: metric name, labels, value, and the optional timestamp in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl MetricSample {
    /// The series' identity as text, `name{a="x",b="y"}` with labels sorted, as alert rules
    /// name it.
    pub fn series_key(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// What a scrape held: the samples, each family's declared type, and the lines that could
/// not be read (line number, problem).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<MetricSample>,
    pub types: BTreeMap<String, String>,
    pub problems: Vec<(usize, String)>,
}

pub fn parse(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut words = rest.split_whitespace();
            if words.next() == Some("TYPE")
                && let (Some(name), Some(kind)) = (words.next(), words.next())
            {
                out.types.insert(name.to_string(), kind.to_string());
            }
            continue;
        }
        match parse_sample(line) {
            Ok(sample) => out.samples.push(sample),
            Err(problem) => out.problems.push((n + 1, problem)),
        }
    }
    out
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Result<MetricSample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or_else(|| "a sample needs a value after its name".to_string())?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("{name:?} is not a metric name"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remainder) = parse_labels(after)?;
        labels = parsed;
        rest = remainder;
    }
    let mut fields = rest.split_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("{name} has no value"))?;
    let value = match value_text {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse::<f64>()
            .map_err(|_| format!("{name}: value {v:?} is not a number"))?,
    };
    let timestamp_ms = match fields.next() {
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("{name}: timestamp {t:?} is not an integer"))?,
        ),
        None => None,
    };
    if fields.next().is_some() {
        return Err(format!("{name}: unexpected text after the timestamp"));
    }
    Ok(MetricSample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Reads `a="x",b="y"}` (after the opening brace); returns the labels and the text after
/// the closing brace.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s
            .find('=')
            .ok_or_else(|| "a label needs name=\"value\"".to_string())?;
        let key = s[..eq].trim();
        if !valid_name(key) || key.contains(':') {
            return Err(format!("{key:?} is not a label name"));
        }
        s = s[eq + 1..].trim_start();
        let Some(body) = s.strip_prefix('"') else {
            return Err(format!("label {key}: the value must be in double quotes"));
        };
        let mut value = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("label {key}: unfinished escape")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("label {key}: the value is not closed")),
            }
        };
        labels.insert(key.to_string(), value);
        s = body[end + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(format!("after label {key}: expected ',' or '}}'"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_looking_scrape() {
        let text = r#"
# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/v1/trending"} 1027 1764000000000
http_requests_total{method="POST",route="/v1/events"} 3
# TYPE request_seconds histogram
request_seconds_bucket{le="0.005"} 24054
request_seconds_bucket{le="+Inf"} 33444
request_seconds_sum 53423.5
request_seconds_count 33444
process_up 1
escaped{path="C:\\dir",msg="say \"hi\"\n"} NaN
"#;
        let e = parse(text);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!(e.samples.len(), 8);
        assert_eq!(e.types["http_requests_total"], "counter");
        assert_eq!(e.types["request_seconds"], "histogram");
        let first = &e.samples[0];
        assert_eq!(first.value, 1027.0);
        assert_eq!(first.timestamp_ms, Some(1_764_000_000_000));
        assert_eq!(
            first.series_key(),
            r#"http_requests_total{method="GET",route="/v1/trending"}"#
        );
        assert_eq!(e.samples[3].labels["le"], "+Inf");
        assert_eq!(e.samples[3].value, 33444.0);
        assert_eq!(e.samples[6].series_key(), "process_up");
        let escaped = &e.samples[7];
        assert_eq!(escaped.labels["path"], "C:\\dir");
        assert_eq!(escaped.labels["msg"], "say \"hi\"\n");
        assert!(escaped.value.is_nan());
    }

    #[test]
    fn bad_lines_are_reported_and_the_rest_kept() {
        let e = parse("ok 1\n9bad 1\nno_value\nx{a=\"1\" 2\ny{a=1} 2\nz 1 2 3\nw abc\nok2 2\n");
        assert_eq!(e.samples.len(), 2);
        let lines: Vec<usize> = e.problems.iter().map(|p| p.0).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7]);
        assert!(e.problems[5].1.contains("not a number"), "{:?}", e.problems);
    }
}
