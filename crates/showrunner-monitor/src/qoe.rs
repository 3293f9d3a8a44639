//! Playback-quality series from `qoe` events: per time bucket (a minute by default), for the
//! whole platform and per dimension value (CDN, ISP, ASN, country, device, player, title),
//! with the industry's definitions:
//!
//! - playback failure % — sessions that ended with a fatal player error;
//! - exits before video start % — sessions the viewer left before the first frame without
//!   an error;
//! - video startup time p50 and p95 — over sessions whose video started;
//! - rebuffer % — rebuffering time over watch time;
//! - rebuffers per minute of watch time;
//! - average bitrate — weighted by watch time;
//! - stream starts per second — sessions whose video started (the platform's pulse).

use std::collections::BTreeMap;

use showrunner_model::Qoe;

/// A dimension a playback metric can be broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Cdn,
    Isp,
    Asn,
    Country,
    Device,
    Player,
    Title,
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Dimension::Cdn,
        Dimension::Isp,
        Dimension::Asn,
        Dimension::Country,
        Dimension::Device,
        Dimension::Player,
        Dimension::Title,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Cdn => "cdn",
            Dimension::Isp => "isp",
            Dimension::Asn => "asn",
            Dimension::Country => "country",
            Dimension::Device => "device",
            Dimension::Player => "player",
            Dimension::Title => "title",
        }
    }

    /// This session's value of the dimension, when it has one.
    pub fn value(self, qoe: &Qoe) -> Option<String> {
        match self {
            Dimension::Cdn => Some(qoe.cdn.clone()),
            Dimension::Isp => qoe.isp.clone(),
            Dimension::Asn => qoe.asn.map(|asn| asn.to_string()),
            Dimension::Country => Some(qoe.country.clone()),
            Dimension::Device => Some(qoe.device.clone()),
            Dimension::Player => Some(qoe.player.clone()),
            Dimension::Title => qoe.title_id.clone(),
        }
    }
}

/// Whether a session failed: a fatal player error.
pub fn is_playback_failure(qoe: &Qoe) -> bool {
    qoe.error_code.is_some()
}

/// Whether the viewer left before the first frame without an error.
pub fn is_exit_before_start(qoe: &Qoe) -> bool {
    qoe.exit_before_start && qoe.error_code.is_none()
}

/// What one bucket of sessions adds up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QoeBucket {
    pub sessions: u64,
    pub failures: u64,
    pub exits_before_start: u64,
    pub starts: u64,
    pub startup_ms: Vec<u32>,
    pub watch_s: u64,
    pub rebuffer_ms: u64,
    pub rebuffer_count: u64,
    /// Sum of bitrate × watch seconds, for the watch-weighted average.
    pub bitrate_watch: f64,
}

impl QoeBucket {
    pub fn add(&mut self, qoe: &Qoe) {
        self.sessions += 1;
        self.failures += u64::from(is_playback_failure(qoe));
        self.exits_before_start += u64::from(is_exit_before_start(qoe));
        if let Some(startup_ms) = qoe.startup_ms
            && !qoe.exit_before_start
        {
            self.starts += 1;
            self.startup_ms.push(startup_ms);
        }
        self.watch_s += u64::from(qoe.watch_s);
        self.rebuffer_ms += qoe.rebuffer_ms;
        self.rebuffer_count += u64::from(qoe.rebuffer_count);
        self.bitrate_watch += f64::from(qoe.avg_bitrate_kbps) * f64::from(qoe.watch_s);
    }

    /// The metrics of this bucket, `bucket_seconds` long.
    pub fn metrics(&self, bucket_seconds: i64) -> QoeMetrics {
        let percent = |count: u64| {
            if self.sessions == 0 {
                0.0
            } else {
                100.0 * count as f64 / self.sessions as f64
            }
        };
        let mut startups = self.startup_ms.clone();
        startups.sort_unstable();
        let quantile = |q: f64| -> Option<f64> {
            let last = startups.len().checked_sub(1)?;
            Some(f64::from(startups[(q * last as f64).round() as usize]))
        };
        let watch_ms = self.watch_s as f64 * 1000.0;
        let watch_minutes = self.watch_s as f64 / 60.0;
        QoeMetrics {
            sessions: self.sessions,
            playback_failure_pct: percent(self.failures),
            exit_before_start_pct: percent(self.exits_before_start),
            startup_p50_ms: quantile(0.5),
            startup_p95_ms: quantile(0.95),
            rebuffer_pct: if watch_ms > 0.0 {
                100.0 * self.rebuffer_ms as f64 / watch_ms
            } else {
                0.0
            },
            rebuffers_per_minute: if watch_minutes > 0.0 {
                self.rebuffer_count as f64 / watch_minutes
            } else {
                0.0
            },
            avg_bitrate_kbps: if self.watch_s > 0 {
                self.bitrate_watch / self.watch_s as f64
            } else {
                0.0
            },
            stream_starts_per_second: self.starts as f64 / bucket_seconds.max(1) as f64,
        }
    }
}

/// One bucket's playback metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct QoeMetrics {
    pub sessions: u64,
    pub playback_failure_pct: f64,
    pub exit_before_start_pct: f64,
    pub startup_p50_ms: Option<f64>,
    pub startup_p95_ms: Option<f64>,
    pub rebuffer_pct: f64,
    pub rebuffers_per_minute: f64,
    pub avg_bitrate_kbps: f64,
    pub stream_starts_per_second: f64,
}

/// Which series: the whole platform (`None`) or one dimension value.
pub type SeriesKey = Option<(Dimension, String)>;

/// Playback series for the platform and every dimension value, in fixed time buckets.
#[derive(Debug, Clone)]
pub struct QoeSeries {
    bucket_seconds: i64,
    buckets: BTreeMap<SeriesKey, BTreeMap<i64, QoeBucket>>,
}

impl QoeSeries {
    /// Series in buckets of `bucket_seconds` (60 for per-minute).
    pub fn new(bucket_seconds: i64) -> Self {
        QoeSeries {
            bucket_seconds: bucket_seconds.max(1),
            buckets: BTreeMap::new(),
        }
    }

    /// Adds one session summary reported at `timestamp_ms` (Unix milliseconds).
    pub fn add(&mut self, timestamp_ms: i64, qoe: &Qoe) {
        let bucket = timestamp_ms
            .div_euclid(1000)
            .div_euclid(self.bucket_seconds)
            * self.bucket_seconds;
        self.buckets
            .entry(None)
            .or_default()
            .entry(bucket)
            .or_default()
            .add(qoe);
        for dimension in Dimension::ALL {
            if let Some(value) = dimension.value(qoe) {
                self.buckets
                    .entry(Some((dimension, value)))
                    .or_default()
                    .entry(bucket)
                    .or_default()
                    .add(qoe);
            }
        }
    }

    /// Every series key seen.
    pub fn keys(&self) -> impl Iterator<Item = &SeriesKey> {
        self.buckets.keys()
    }

    /// One series as (bucket start in seconds, metrics), every bucket from the first to the
    /// last session of the whole platform, empty buckets included (zero sessions).
    pub fn series(&self, key: &SeriesKey) -> Vec<(i64, QoeMetrics)> {
        let Some(platform) = self.buckets.get(&None) else {
            return Vec::new();
        };
        let (Some(&first), Some(&last)) = (platform.keys().next(), platform.keys().next_back())
        else {
            return Vec::new();
        };
        let empty = QoeBucket::default();
        let buckets = self.buckets.get(key);
        (0..=(last - first) / self.bucket_seconds)
            .map(|step| {
                let start = first + step * self.bucket_seconds;
                let bucket = buckets
                    .and_then(|buckets| buckets.get(&start))
                    .unwrap_or(&empty);
                (start, bucket.metrics(self.bucket_seconds))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn session(cdn: &str, country: &str, startup_ms: Option<u32>) -> Qoe {
        Qoe {
            session_id: "s".into(),
            member_id: None,
            title_id: Some("t1".into()),
            startup_ms,
            exit_before_start: startup_ms.is_none(),
            rebuffer_count: 0,
            rebuffer_ms: 0,
            watch_s: if startup_ms.is_some() { 600 } else { 0 },
            avg_bitrate_kbps: 3000,
            bitrate_switches: 0,
            error_code: None,
            cdn: cdn.into(),
            isp: None,
            asn: None,
            country: country.into(),
            device: "tv".into(),
            player: "tv/1.0".into(),
        }
    }

    #[test]
    fn metrics_follow_the_industry_definitions() {
        let mut bucket = QoeBucket::default();
        // Four sessions: two started (1000 ms and 3000 ms), one failed with an error, one
        // left before the first frame without an error.
        let mut started = session("a", "US", Some(1000));
        started.rebuffer_ms = 6_000;
        started.rebuffer_count = 2;
        bucket.add(&started);
        let mut second = session("a", "US", Some(3000));
        second.avg_bitrate_kbps = 5000;
        bucket.add(&second);
        let mut failed = session("a", "US", None);
        failed.error_code = Some("CDN_TIMEOUT".into());
        bucket.add(&failed);
        bucket.add(&session("a", "US", None));
        let metrics = bucket.metrics(60);
        assert_eq!(metrics.sessions, 4);
        assert_eq!(metrics.playback_failure_pct, 25.0);
        assert_eq!(metrics.exit_before_start_pct, 25.0);
        assert_eq!(metrics.startup_p50_ms, Some(3000.0));
        assert_eq!(metrics.startup_p95_ms, Some(3000.0));
        // 6 s of rebuffering over 1200 s watched; 2 rebuffers over 20 minutes.
        assert!((metrics.rebuffer_pct - 0.5).abs() < 1e-12);
        assert!((metrics.rebuffers_per_minute - 0.1).abs() < 1e-12);
        assert_eq!(metrics.avg_bitrate_kbps, 4000.0);
        assert!((metrics.stream_starts_per_second - 2.0 / 60.0).abs() < 1e-12);
    }

    #[test]
    fn series_per_dimension_value_with_empty_buckets() {
        let mut series = QoeSeries::new(60);
        series.add(0, &session("a", "US", Some(1000)));
        series.add(59_999, &session("b", "US", Some(1000)));
        series.add(180_000, &session("a", "BR", Some(1000)));
        let platform = series.series(&None);
        let sessions: Vec<u64> = platform.iter().map(|(_, m)| m.sessions).collect();
        assert_eq!(sessions, vec![2, 0, 0, 1]);
        let cdn_a = series.series(&Some((Dimension::Cdn, "a".into())));
        let sessions: Vec<u64> = cdn_a.iter().map(|(_, m)| m.sessions).collect();
        assert_eq!(sessions, vec![1, 0, 0, 1]);
        assert!(
            series
                .keys()
                .any(|key| *key == Some((Dimension::Country, "BR".into())))
        );
    }
}
