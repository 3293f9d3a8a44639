//! Monitoring for showrunner: online anomaly detectors with per-series state, and the
//! Numenta Anomaly Benchmark's published scoring to measure them.
//!
//! - [`detector`]: the [`detector::Detector`] trait, one file per detector, and the registry
//!   that builds them by name. Every detector learns as points arrive (no look-ahead) and
//!   gives every point a score in `[0, 1]`.
//! - [`nab`]: NAB's scoring (anomaly windows, probationary period, scaled sigmoid, the three
//!   application profiles, the corpus-wide threshold sweep, normalisation against the null
//!   and perfect detectors) and the parsers for NAB's files. Pure computation over text and
//!   numbers the caller has read.
//! - [`qoe`]: playback-quality series (failures, exits before start, startup time,
//!   rebuffering, bitrate, stream starts) per time bucket for the platform and per dimension
//!   value, from `qoe` events.
//! - [`drilldown`]: which dimension values (single or pairs) explain an anomalous playback
//!   metric.
//!
//! - [`incident`]: the strongest playback anomaly of a span of QoE sessions, explained, and
//!   the alert it raises.
//! - [`exposition`]: the Prometheus text format read into samples (a scrape of any target,
//!   or a push), bad lines reported with their numbers.
//! - [`alerts`]: alert rules (thresholds and anomaly scores with a `for` duration, severity,
//!   labels, annotations), the pending → firing → resolved lifecycle with a caller-given
//!   clock, grouping, de-duplication by fingerprint, silences, and a snapshot for restarts.
//! - [`notify`]: each receiver's payload (Alertmanager webhook v4 and API v2, Slack,
//!   PagerDuty Events v2) and the retry back-off; the server sends them.
//!
//! The crate does no IO of its own.

pub mod alerts;
pub mod detector;
pub mod drilldown;
mod error;
pub mod exposition;
pub mod incident;
pub mod nab;
pub mod notify;
pub mod qoe;

pub use error::MonitorError;
