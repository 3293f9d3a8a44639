//! What alerting keeps in the store so that it survives restarts: the alert engine's saved
//! state (an opaque JSON document the monitor writes), the history of alert state changes,
//! silences (which `showrunner alerts silence` and the API add while a server runs), and the
//! log of every notification sent or given up on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// One change of an alert's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertHistoryEntry {
    pub at_ms: i64,
    pub fingerprint: String,
    pub rule: String,
    /// `firing` or `resolved`.
    pub state: String,
    /// The whole alert as JSON (labels, annotations, value, score, times).
    pub alert: serde_json::Value,
}

/// A stored history entry with its id (increasing with time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertHistoryRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AlertHistoryEntry,
}

/// A silence: alerts whose labels have every matcher's value are not notified between
/// `starts_at_ms` and `ends_at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilenceRecord {
    pub id: String,
    pub matchers: BTreeMap<String, String>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub created_by: String,
    pub comment: String,
    pub created_at_ms: i64,
}

/// One notification to one receiver: delivered (`sent`) or given up on (`failed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationEntry {
    pub at_ms: i64,
    /// The receiver's name in the configuration.
    pub receiver: String,
    /// `webhook`, `slack`, `pagerduty` or `alertmanager`.
    pub kind: String,
    pub group_key: String,
    /// `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    /// The last HTTP status received, if any.
    pub http_status: Option<u16>,
    /// The last attempt's error, if it failed.
    pub error: Option<String>,
    /// The JSON body sent.
    pub payload: String,
}

/// A stored notification with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: NotificationEntry,
}

/// Alert state, history, silences and the notification log. Backends hide their SQL as for
/// [`Store`].
pub trait AlertStore: Store {
    /// Replaces the saved alert-engine state. Durable on return.
    fn save_alert_state(&mut self, state: &str, now_ms: i64) -> Result<(), StoreError>;

    /// The saved alert-engine state, if any was saved.
    fn alert_state(&self) -> Result<Option<String>, StoreError>;

    fn append_alert_history(&mut self, entries: &[AlertHistoryEntry]) -> Result<(), StoreError>;

    /// The newest `limit` history entries, newest first.
    fn alert_history(&self, limit: u64) -> Result<Vec<AlertHistoryRecord>, StoreError>;

    /// Adds a silence, or replaces the one with its id.
    fn put_silence(&mut self, silence: &SilenceRecord) -> Result<(), StoreError>;

    /// Ends a silence now (it stays listed, with `ends_at_ms = now_ms`); false when there is
    /// no active silence with this id.
    fn expire_silence(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError>;

    /// Every silence, active or not, newest first.
    fn silences(&self) -> Result<Vec<SilenceRecord>, StoreError>;

    fn record_notification(&mut self, entry: &NotificationEntry) -> Result<i64, StoreError>;

    /// The newest `limit` notifications, newest first.
    fn notifications(&self, limit: u64) -> Result<Vec<NotificationRecord>, StoreError>;
}
