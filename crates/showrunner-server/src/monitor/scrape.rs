//! Samples from outside: a scrape of a Prometheus target's text exposition (with `job` and
//! `instance` labels and an `up` sample, as Prometheus records them), and the bodies of
//! `POST /v1/monitor/push` (the text exposition, or JSON samples).

use std::collections::BTreeMap;

use serde::Deserialize;
use showrunner_monitor::exposition;
use showrunner_store::SeriesSample;

use super::MonitorHandle;
use super::config::ScrapeTarget;

/// A line (or JSON element) that could not be used, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SampleProblem {
    /// 1-based line of a text body, or 0-based index of a JSON array element.
    pub line: usize,
    pub problem: String,
}

/// Samples read from a text exposition: each sample's own timestamp, else `now_ms`;
/// `extra` labels added (they win over the exposition's). Non-finite values are reported,
/// not stored.
pub fn from_exposition(
    text: &str,
    extra: &BTreeMap<String, String>,
    now_ms: i64,
) -> (Vec<SeriesSample>, Vec<SampleProblem>) {
    let parsed = exposition::parse(text);
    let mut problems: Vec<SampleProblem> = parsed
        .problems
        .into_iter()
        .map(|(line, problem)| SampleProblem { line, problem })
        .collect();
    let mut samples = Vec::with_capacity(parsed.samples.len());
    for sample in parsed.samples {
        if !sample.value.is_finite() {
            problems.push(SampleProblem {
                line: 0,
                problem: format!(
                    "{}: value {} is not finite",
                    sample.series_key(),
                    sample.value
                ),
            });
            continue;
        }
        let mut labels = sample.labels;
        labels.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        samples.push(SeriesSample {
            name: sample.name,
            labels,
            ts_ms: sample.timestamp_ms.unwrap_or(now_ms),
            value: sample.value,
        });
    }
    (samples, problems)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonSample {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    value: f64,
    /// Milliseconds since the epoch; the time of the push when absent.
    #[serde(default)]
    ts_ms: Option<i64>,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Samples from a JSON array of `{name, labels, value, ts_ms}` (or `{"samples": [...]}`).
pub fn from_json(
    body: &[u8],
    now_ms: i64,
) -> Result<(Vec<SeriesSample>, Vec<SampleProblem>), String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut object) => match object.remove("samples") {
            Some(serde_json::Value::Array(items)) => items,
            _ => return Err("expected an array of samples or {\"samples\": [...]}".into()),
        },
        _ => return Err("expected an array of samples or {\"samples\": [...]}".into()),
    };
    let mut samples = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<JsonSample>(item) {
            Ok(s) if !valid_name(&s.name) => problems.push(SampleProblem {
                line: index,
                problem: format!("{:?} is not a metric name", s.name),
            }),
            Ok(s) if !s.value.is_finite() => problems.push(SampleProblem {
                line: index,
                problem: format!("{}: the value is not finite", s.name),
            }),
            Ok(s) => samples.push(SeriesSample {
                name: s.name,
                labels: s.labels,
                ts_ms: s.ts_ms.unwrap_or(now_ms),
                value: s.value,
            }),
            Err(e) => problems.push(SampleProblem {
                line: index,
                problem: e.to_string(),
            }),
        }
    }
    Ok((samples, problems))
}

/// Scrapes one target once: its samples labelled with `job`, `instance` and the target's
/// labels, plus `up` (1 when the scrape worked, 0 when not). Returns the samples and the
/// scrape's error, if any.
pub async fn scrape(
    client: &reqwest::Client,
    target: &ScrapeTarget,
    now_ms: i64,
) -> (Vec<SeriesSample>, Option<String>) {
    let instance = target
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(&target.url)
        .to_owned();
    let mut labels = target.labels.clone();
    labels.insert("job".into(), target.job.clone());
    labels.insert("instance".into(), instance);
    let mut request = client.get(&target.url).header(
        reqwest::header::ACCEPT,
        "text/plain;version=0.0.4;q=1,*/*;q=0.1",
    );
    if let Some(token) = &target.bearer_token {
        request = request.bearer_auth(token);
    }
    let result = match request.send().await {
        Ok(response) if response.status().is_success() => response
            .text()
            .await
            .map_err(|e| format!("reading {}: {e}", target.url)),
        Ok(response) => Err(format!(
            "{} answered HTTP {}",
            target.url,
            response.status().as_u16()
        )),
        Err(e) => Err(format!("scraping {}: {e}", target.url)),
    };
    let (mut samples, error) = match result {
        Ok(text) => {
            let (samples, problems) = from_exposition(&text, &labels, now_ms);
            if let Some(first) = problems.first() {
                tracing::warn!(job = %target.job, line = first.line, problem = %first.problem,
                    count = problems.len(), "scrape had lines that could not be read");
            }
            (samples, None)
        }
        Err(error) => (Vec::new(), Some(error)),
    };
    samples.push(SeriesSample {
        name: "up".into(),
        labels,
        ts_ms: now_ms,
        value: if error.is_none() { 1.0 } else { 0.0 },
    });
    (samples, error)
}

/// Scrapes a target and hands its samples to the monitor; returns how many were stored.
pub async fn scrape_into(handle: &MonitorHandle, target: &ScrapeTarget) -> Result<u64, String> {
    let now = handle.now_ms();
    let (samples, error) = scrape(handle.client(), target, now).await;
    let stored = handle
        .with(move |m| m.push(samples))
        .await
        .map_err(|e| e.to_string())?;
    match error {
        Some(error) => Err(error),
        None => Ok(stored),
    }
}
