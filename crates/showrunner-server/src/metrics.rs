//! Prometheus metrics: requests and latency per route, ingest rows by outcome, the served
//! model's version and age, the threat detection pass (new findings by kind, pass
//! duration, events scanned), and a shadowed model's comparisons, drops, agreement and
//! scoring time (labelled with its version). Served at `GET /metrics` in Prometheus' text format.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms to about 3 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    ingest_rows: Family<OutcomeLabels, Counter>,
    model_version: Gauge,
    replicas: Gauge,
    model_published: Gauge<f64, AtomicU64>,
    model_age: Gauge<f64, AtomicU64>,
    security_findings: Family<KindLabels, Counter>,
    security_pass_duration: Histogram,
    security_pass_events: Counter,
    shadow_compared: Family<VersionLabels, Counter>,
    shadow_dropped: Family<VersionLabels, Counter>,
    shadow_overlap: Family<VersionLabels, Gauge<f64, AtomicU64>>,
    shadow_top1: Family<VersionLabels, Gauge<f64, AtomicU64>>,
    shadow_rank: Family<VersionLabels, Gauge<f64, AtomicU64>>,
    shadow_scoring: Family<VersionLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("showrunner");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route and method",
            latency.clone(),
        );
        let ingest_rows = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ingest_rows",
            "Rows posted to /v1/events by outcome (accepted, duplicate, rejected)",
            ingest_rows.clone(),
        );
        let model_version = Gauge::default();
        registry.register(
            "model_version",
            "Version of the model being served (0: none)",
            model_version.clone(),
        );
        let replicas = Gauge::default();
        registry.register(
            "replicas",
            "Serve replicas alive on this store (their heartbeats); rate limits are divided by it",
            replicas.clone(),
        );
        let model_published = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "model_published_timestamp_seconds",
            "When the served model was published (Unix time)",
            model_published.clone(),
        );
        let model_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "model_age_seconds",
            "Seconds since the served model was published",
            model_age.clone(),
        );
        let security_findings = Family::<KindLabels, Counter>::default();
        registry.register(
            "security_findings",
            "New security findings recorded by the threat detection pass, by kind",
            security_findings.clone(),
        );
        // 10 ms to about 10 minutes.
        let security_pass_duration = Histogram::new(exponential_buckets(0.01, 2.0, 17));
        registry.register(
            "security_pass_duration_seconds",
            "Time one threat detection pass took (read, scan, record)",
            security_pass_duration.clone(),
        );
        let security_pass_events = Counter::default();
        registry.register(
            "security_pass_events",
            "Login and play events replayed by threat detection passes",
            security_pass_events.clone(),
        );
        let shadow_compared = Family::<VersionLabels, Counter>::default();
        registry.register(
            "shadow_requests_compared",
            "Requests the shadowed model also scored and compared with what was served",
            shadow_compared.clone(),
        );
        let shadow_dropped = Family::<VersionLabels, Counter>::default();
        registry.register(
            "shadow_requests_dropped",
            "Requests not shadowed because the shadow queue was full",
            shadow_dropped.clone(),
        );
        let shadow_overlap = Family::<VersionLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "shadow_overlap",
            "Mean overlap@N of the shadowed model's lists with the served ones",
            shadow_overlap.clone(),
        );
        let shadow_top1 = Family::<VersionLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "shadow_top1_agreement",
            "Share of compared requests whose first title the shadowed model agrees on",
            shadow_top1.clone(),
        );
        let shadow_rank = Family::<VersionLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "shadow_rank_agreement",
            "Mean rank-biased overlap (p = 0.9, normalised) of the shadowed model's lists",
            shadow_rank.clone(),
        );
        let shadow_scoring: Family<VersionLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "shadow_scoring_duration_seconds",
            "Time the shadowed model took to score one request (off the request path)",
            shadow_scoring.clone(),
        );
        Metrics {
            registry,
            shadow_compared,
            shadow_dropped,
            shadow_overlap,
            shadow_top1,
            shadow_rank,
            shadow_scoring,
            requests,
            latency,
            ingest_rows,
            model_version,
            replicas,
            model_published,
            model_age,
            security_findings,
            security_pass_duration,
            security_pass_events,
        }
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn count_ingest(&self, accepted: u64, duplicate: u64, rejected: u64) {
        for (outcome, n) in [
            ("accepted", accepted),
            ("duplicate", duplicate),
            ("rejected", rejected),
        ] {
            self.ingest_rows
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(n);
        }
    }

    /// `count` new findings of `kind` recorded by a threat detection pass.
    pub fn count_security_findings(&self, kind: &str, count: u64) {
        self.security_findings
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc_by(count);
    }

    /// One threat detection pass: how long it took and how many events it replayed.
    pub fn observe_security_pass(&self, elapsed: Duration, events: u64) {
        self.security_pass_duration.observe(elapsed.as_secs_f64());
        self.security_pass_events.inc_by(events);
    }

    pub fn set_replicas(&self, replicas: u32) {
        self.replicas.set(i64::from(replicas));
    }

    pub fn set_model(&self, version: i64, published_at_ms: i64) {
        self.model_version.set(version);
        self.model_published.set(published_at_ms as f64 / 1000.0);
    }

    /// One comparison by the shadowed model `version`, with the running totals after it.
    pub fn observe_shadow(
        &self,
        version: i64,
        totals: &showrunner_recommend::agreement::AgreementTotals,
        scoring: Duration,
    ) {
        let labels = VersionLabels {
            version: version.to_string(),
        };
        self.shadow_compared.get_or_create(&labels).inc();
        self.shadow_scoring
            .get_or_create(&labels)
            .observe(scoring.as_secs_f64());
        let gauges = [
            (&self.shadow_overlap, totals.mean_overlap()),
            (&self.shadow_top1, totals.top1_rate()),
            (&self.shadow_rank, totals.mean_rank()),
        ];
        for (family, value) in gauges {
            if let Some(value) = value {
                family.get_or_create(&labels).set(value);
            }
        }
    }

    /// A request the shadowed model `version` did not score (its queue was full).
    pub fn count_shadow_dropped(&self, version: i64) {
        self.shadow_dropped
            .get_or_create(&VersionLabels {
                version: version.to_string(),
            })
            .inc();
    }

    /// Shadowing `version` stopped (or restarted): its agreement gauges go until it has
    /// compared again; the counters stay.
    pub fn clear_shadow(&self, version: i64) {
        let labels = VersionLabels {
            version: version.to_string(),
        };
        for family in [&self.shadow_overlap, &self.shadow_top1, &self.shadow_rank] {
            family.remove(&labels);
        }
    }

    /// The metrics in Prometheus' text format (0.0.4), which `promtool check metrics`
    /// reads: the OpenMetrics encoding with counters' HELP and TYPE named like their
    /// `_total` samples, and without the `# EOF` and `# UNIT` lines.
    pub fn encode(&self) -> String {
        let open_metrics = self.encode_open_metrics();
        let counters: std::collections::HashSet<&str> = open_metrics
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.strip_suffix(" counter"))
            .collect();
        let mut out = String::with_capacity(open_metrics.len());
        for line in open_metrics.lines() {
            if line == "# EOF" || line.starts_with("# UNIT ") {
                continue;
            }
            let described = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
                let rest = line.strip_prefix(prefix)?;
                let (name, tail) = rest.split_once(' ')?;
                counters
                    .contains(name)
                    .then(|| format!("{prefix}{name}_total {tail}"))
            });
            out.push_str(described.as_deref().unwrap_or(line));
            out.push('\n');
        }
        out
    }

    /// The metrics as OpenMetrics text.
    pub fn encode_open_metrics(&self) -> String {
        let published = self.model_published.get();
        if published > 0.0 {
            self.model_age.set((unix_now() - published).max(0.0));
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
