//! [`AlertStore`] for SQLite (tables of migration `0005_monitor.sql`): the alert engine's
//! state as one row of `monitor_meta`, history, silences and notifications as rows.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use super::{AtPath, SqliteStore};
use crate::StoreError;
use crate::alerting::{
    AlertHistoryEntry, AlertHistoryRecord, AlertStore, NotificationEntry, NotificationRecord,
    SilenceRecord,
};

const ALERT_STATE: &str = "alert_state";

fn limit_value(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl AlertStore for SqliteStore {
    fn save_alert_state(&mut self, state: &str, now_ms: i64) -> Result<(), StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "INSERT OR REPLACE INTO monitor_meta (name, value, updated_at) VALUES (?1, ?2, ?3)",
                params![ALERT_STATE, state, now_ms],
            )
            .at(&self.path)?;
        Ok(())
    }

    fn alert_state(&self) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row(
                "SELECT value FROM monitor_meta WHERE name = ?1",
                [ALERT_STATE],
                |row| row.get(0),
            )
            .optional()
            .at(&self.path)
    }

    fn append_alert_history(&mut self, entries: &[AlertHistoryEntry]) -> Result<(), StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self.connection.transaction().at(&path)?;
        {
            let mut insert = transaction
                .prepare_cached(
                    "INSERT INTO monitor_alert_history (at, fingerprint, rule, state, alert) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .at(&path)?;
            for entry in entries {
                insert
                    .execute(params![
                        entry.at_ms,
                        entry.fingerprint,
                        entry.rule,
                        entry.state,
                        entry.alert.to_string()
                    ])
                    .at(&path)?;
            }
        }
        transaction.commit().at(&path)
    }

    fn alert_history(&self, limit: u64) -> Result<Vec<AlertHistoryRecord>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, at, fingerprint, rule, state, alert FROM monitor_alert_history \
                 ORDER BY id DESC LIMIT ?1",
            )
            .at(path)?;
        let mut rows = statement.query([limit_value(limit)]).at(path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(path)? {
            let text: String = row.get(5).at(path)?;
            let alert = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                table: "monitor_alert_history",
                column: "alert",
                detail: e.to_string(),
            })?;
            out.push(AlertHistoryRecord {
                id: row.get(0).at(path)?,
                entry: AlertHistoryEntry {
                    at_ms: row.get(1).at(path)?,
                    fingerprint: row.get(2).at(path)?,
                    rule: row.get(3).at(path)?,
                    state: row.get(4).at(path)?,
                    alert,
                },
            });
        }
        Ok(out)
    }

    fn put_silence(&mut self, silence: &SilenceRecord) -> Result<(), StoreError> {
        self.ensure_writable()?;
        let matchers = serde_json::to_string(&silence.matchers).unwrap_or_else(|_| "{}".into());
        self.connection
            .execute(
                "INSERT OR REPLACE INTO monitor_silences \
                 (id, matchers, starts_at, ends_at, created_by, comment, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    silence.id,
                    matchers,
                    silence.starts_at_ms,
                    silence.ends_at_ms,
                    silence.created_by,
                    silence.comment,
                    silence.created_at_ms
                ],
            )
            .at(&self.path)?;
        Ok(())
    }

    fn expire_silence(&mut self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.ensure_writable()?;
        let changed = self
            .connection
            .execute(
                "UPDATE monitor_silences SET ends_at = ?2 WHERE id = ?1 AND ends_at > ?2",
                params![id, now_ms],
            )
            .at(&self.path)?;
        Ok(changed > 0)
    }

    fn silences(&self) -> Result<Vec<SilenceRecord>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, matchers, starts_at, ends_at, created_by, comment, created_at \
                 FROM monitor_silences ORDER BY created_at DESC, id",
            )
            .at(path)?;
        let mut rows = statement.query([]).at(path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(path)? {
            let text: String = row.get(1).at(path)?;
            let matchers: BTreeMap<String, String> =
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    path: path.clone(),
                    table: "monitor_silences",
                    column: "matchers",
                    detail: e.to_string(),
                })?;
            out.push(SilenceRecord {
                id: row.get(0).at(path)?,
                matchers,
                starts_at_ms: row.get(2).at(path)?,
                ends_at_ms: row.get(3).at(path)?,
                created_by: row.get(4).at(path)?,
                comment: row.get(5).at(path)?,
                created_at_ms: row.get(6).at(path)?,
            });
        }
        Ok(out)
    }

    fn record_notification(&mut self, entry: &NotificationEntry) -> Result<i64, StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "INSERT INTO monitor_notifications \
                 (at, receiver, kind, group_key, status, attempts, http_status, error, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    entry.at_ms,
                    entry.receiver,
                    entry.kind,
                    entry.group_key,
                    entry.status,
                    entry.attempts,
                    entry.http_status,
                    entry.error,
                    entry.payload
                ],
            )
            .at(&self.path)?;
        Ok(self.connection.last_insert_rowid())
    }

    fn notifications(&self, limit: u64) -> Result<Vec<NotificationRecord>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, at, receiver, kind, group_key, status, attempts, http_status, error, payload \
                 FROM monitor_notifications ORDER BY id DESC LIMIT ?1",
            )
            .at(path)?;
        let mut rows = statement.query([limit_value(limit)]).at(path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(path)? {
            out.push(NotificationRecord {
                id: row.get(0).at(path)?,
                entry: NotificationEntry {
                    at_ms: row.get(1).at(path)?,
                    receiver: row.get(2).at(path)?,
                    kind: row.get(3).at(path)?,
                    group_key: row.get(4).at(path)?,
                    status: row.get(5).at(path)?,
                    attempts: row.get(6).at(path)?,
                    http_status: row.get(7).at(path)?,
                    error: row.get(8).at(path)?,
                    payload: row.get(9).at(path)?,
                },
            });
        }
        Ok(out)
    }
}
