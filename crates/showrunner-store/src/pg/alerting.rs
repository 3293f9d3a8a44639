//! [`AlertStore`] for PostgreSQL (tables of `migrations/pg/0005_monitor.sql`): the alert
//! engine's state as one row of `monitor_meta`, history, silences and notifications as rows.

use std::collections::BTreeMap;

use super::{AtDb, PgStore};
use crate::StoreError;
use crate::alerting::{
    AlertHistoryEntry, AlertHistoryRecord, AlertStore, NotificationEntry, NotificationRecord,
    SilenceRecord,
};

const ALERT_STATE: &str = "alert_state";

fn limit_value(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn corrupt(
    location: &std::path::Path,
    table: &'static str,
    column: &'static str,
    detail: String,
) -> StoreError {
    StoreError::Corrupt {
        path: location.to_owned(),
        table,
        column,
        detail,
    }
}

impl AlertStore for PgStore {
    fn save_alert_state(&mut self, state: &str, now_ms: i64) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "INSERT INTO monitor_meta (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                     updated_at = excluded.updated_at",
                &[&ALERT_STATE, &state, &now_ms],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn alert_state(&self) -> Result<Option<String>, StoreError> {
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                "SELECT value FROM monitor_meta WHERE name = $1",
                &[&ALERT_STATE],
            )
            .at(location)?;
        row.map(|row| row.try_get(0).at(location)).transpose()
    }

    /// One statement for the whole slice, binding each column as an array.
    fn append_alert_history(&mut self, entries: &[AlertHistoryEntry]) -> Result<(), StoreError> {
        self.ensure_writable()?;
        if entries.is_empty() {
            return Ok(());
        }
        let at: Vec<i64> = entries.iter().map(|e| e.at_ms).collect();
        let fingerprints: Vec<&str> = entries.iter().map(|e| e.fingerprint.as_str()).collect();
        let rules: Vec<&str> = entries.iter().map(|e| e.rule.as_str()).collect();
        let states: Vec<&str> = entries.iter().map(|e| e.state.as_str()).collect();
        let alerts: Vec<String> = entries.iter().map(|e| e.alert.to_string()).collect();
        // `WITH ORDINALITY` keeps the ids in the slice's order.
        self.connection()?
            .execute(
                "INSERT INTO monitor_alert_history (at, fingerprint, rule, state, alert) \
                 SELECT at, fingerprint, rule, state, alert \
                 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                     WITH ORDINALITY AS u(at, fingerprint, rule, state, alert, n) \
                 ORDER BY n",
                &[&at, &fingerprints, &rules, &states, &alerts],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn alert_history(&self, limit: u64) -> Result<Vec<AlertHistoryRecord>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT id, at, fingerprint, rule, state, alert FROM monitor_alert_history \
                 ORDER BY id DESC LIMIT $1",
                &[&limit_value(limit)],
            )
            .at(location)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let text: String = row.try_get(5).at(location)?;
            let alert = serde_json::from_str(&text)
                .map_err(|e| corrupt(location, "monitor_alert_history", "alert", e.to_string()))?;
            out.push(AlertHistoryRecord {
                id: row.try_get(0).at(location)?,
                entry: AlertHistoryEntry {
                    at_ms: row.try_get(1).at(location)?,
                    fingerprint: row.try_get(2).at(location)?,
                    rule: row.try_get(3).at(location)?,
                    state: row.try_get(4).at(location)?,
                    alert,
                },
            });
        }
        Ok(out)
    }

    fn put_silence(&mut self, silence: &SilenceRecord) -> Result<(), StoreError> {
        self.ensure_writable()?;
        let matchers = serde_json::to_string(&silence.matchers).unwrap_or_else(|_| "{}".into());
        self.connection()?
            .execute(
                "INSERT INTO monitor_silences \
                 (id, matchers, starts_at, ends_at, created_by, comment, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET matchers = excluded.matchers, \
                     starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
                     created_by = excluded.created_by, comment = excluded.comment, \
                     created_at = excluded.created_at",
                &[
                    &silence.id,
                    &matchers,
                    &silence.starts_at_ms,
                    &silence.ends_at_ms,
                    &silence.created_by,
                    &silence.comment,
                    &silence.created_at_ms,
                ],
            )
            .at(&self.location)?;
        Ok(())
    }

    fn expire_silence(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.ensure_writable()?;
        let changed = self
            .connection()?
            .execute(
                "UPDATE monitor_silences SET ends_at = $2 WHERE id = $1 AND ends_at > $2",
                &[&id, &now_ms],
            )
            .at(&self.location)?;
        Ok(changed > 0)
    }

    fn silences(&self) -> Result<Vec<SilenceRecord>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at \
                 FROM monitor_silences ORDER BY created_at DESC, id COLLATE \"C\"",
                &[],
            )
            .at(location)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let text: String = row.try_get(1).at(location)?;
            let matchers: BTreeMap<String, String> = serde_json::from_str(&text)
                .map_err(|e| corrupt(location, "monitor_silences", "matchers", e.to_string()))?;
            out.push(SilenceRecord {
                id: row.try_get(0).at(location)?,
                matchers,
                starts_at_ms: row.try_get(2).at(location)?,
                ends_at_ms: row.try_get(3).at(location)?,
                created_by: row.try_get(4).at(location)?,
                comment: row.try_get(5).at(location)?,
                created_at_ms: row.try_get(6).at(location)?,
            });
        }
        Ok(out)
    }

    fn record_notification(&mut self, entry: &NotificationEntry) -> Result<i64, StoreError> {
        self.ensure_writable()?;
        let row = self
            .connection()?
            .query_one(
                "INSERT INTO monitor_notifications \
                 (at, receiver, kind, group_key, status, attempts, http_status, error, payload) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    &entry.at_ms,
                    &entry.receiver,
                    &entry.kind,
                    &entry.group_key,
                    &entry.status,
                    &i64::from(entry.attempts),
                    &entry.http_status.map(i64::from),
                    &entry.error,
                    &entry.payload,
                ],
            )
            .at(&self.location)?;
        row.try_get(0).at(&self.location)
    }

    fn notifications(&self, limit: u64) -> Result<Vec<NotificationRecord>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT id, at, receiver, kind, group_key, status, attempts, http_status, \
                     error, payload \
                 FROM monitor_notifications ORDER BY id DESC LIMIT $1",
                &[&limit_value(limit)],
            )
            .at(location)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let attempts: i64 = row.try_get(6).at(location)?;
            let http_status: Option<i64> = row.try_get(7).at(location)?;
            out.push(NotificationRecord {
                id: row.try_get(0).at(location)?,
                entry: NotificationEntry {
                    at_ms: row.try_get(1).at(location)?,
                    receiver: row.try_get(2).at(location)?,
                    kind: row.try_get(3).at(location)?,
                    group_key: row.try_get(4).at(location)?,
                    status: row.try_get(5).at(location)?,
                    attempts: u32::try_from(attempts).map_err(|_| {
                        corrupt(
                            location,
                            "monitor_notifications",
                            "attempts",
                            format!("{attempts} is not a number of attempts"),
                        )
                    })?,
                    http_status: http_status
                        .map(|status| {
                            u16::try_from(status).map_err(|_| {
                                corrupt(
                                    location,
                                    "monitor_notifications",
                                    "http_status",
                                    format!("{status} is not an HTTP status"),
                                )
                            })
                        })
                        .transpose()?,
                    error: row.try_get(8).at(location)?,
                    payload: row.try_get(9).at(location)?,
                },
            });
        }
        Ok(out)
    }
}
