//! [`RegistryStore`] for SQLite: the registry columns of `models` and the `model_live`
//! history (migration `0006_automation.sql`), and the shadowed model's row `model_shadow`
//! (migration `0012_shadow.sql`).

use rusqlite::{OptionalExtension, Transaction, params};
use showrunner_model::Timestamp;

use super::{AtPath, SqliteStore, write};
use crate::StoreError;
use crate::registry::{
    LiveChange, ModelRecord, ModelRegistration, ModelStatus, RegistryError, RegistryStore,
    ShadowSetting, rollback_target,
};

const RECORD_COLUMNS: &str = "version, published_at, algorithm, parameters, data_from, data_to, \
     metrics, published_by, status, reason";

fn json_column(
    path: &std::path::Path,
    column: &'static str,
    text: &str,
) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        table: "models",
        column,
        detail: e.to_string(),
    })
}

type RawRecord = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Option<i64>,
    String,
    String,
    String,
    Option<String>,
);

fn raw_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

fn record(path: &std::path::Path, raw: RawRecord) -> Result<ModelRecord, StoreError> {
    let (version, published_at, algorithm, parameters, from, to, metrics, by, status, reason) = raw;
    Ok(ModelRecord {
        version,
        published_at: Timestamp::from_millis(published_at),
        algorithm,
        parameters: json_column(path, "parameters", &parameters)?,
        data_from: from.map(Timestamp::from_millis),
        data_to: to.map(Timestamp::from_millis),
        metrics: json_column(path, "metrics", &metrics)?,
        published_by: by,
        status: status.parse().map_err(|detail| StoreError::Corrupt {
            path: path.to_owned(),
            table: "models",
            column: "status",
            detail,
        })?,
        reason,
    })
}

fn live_in(transaction: &Transaction<'_>) -> rusqlite::Result<Option<i64>> {
    transaction
        .query_row(
            "SELECT version FROM model_live ORDER BY id DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()
}

/// Makes `version` live inside `transaction`: the previous live model retires, the change
/// is appended to the history.
fn make_live(
    transaction: &Transaction<'_>,
    version: i64,
    actor: &str,
    reason: &str,
    at: i64,
) -> rusqlite::Result<LiveChange> {
    let previous = live_in(transaction)?;
    transaction.execute(
        "UPDATE models SET status = 'retired' WHERE status = 'live' AND version <> ?1",
        [version],
    )?;
    transaction.execute(
        "UPDATE models SET status = 'live' WHERE version = ?1",
        [version],
    )?;
    transaction.execute(
        "INSERT INTO model_live (version, at, actor, reason) VALUES (?1, ?2, ?3, ?4)",
        params![version, at, actor, reason],
    )?;
    Ok(LiveChange {
        version,
        previous,
        at: Timestamp::from_millis(at),
        actor: actor.to_owned(),
        reason: reason.to_owned(),
    })
}

impl SqliteStore {
    fn change_live(
        &mut self,
        version: i64,
        actor: &str,
        reason: &str,
        check: impl FnOnce(&Transaction<'_>, Option<i64>) -> Result<(), RegistryError>,
    ) -> Result<LiveChange, RegistryError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .at(&path)?;
        let exists: bool = transaction
            .query_row(
                "SELECT count(*) FROM models WHERE version = ?1",
                [version],
                |row| row.get(0),
            )
            .at(&path)?;
        if !exists {
            return Err(RegistryError::NoSuchModel { version });
        }
        let current = live_in(&transaction).at(&path)?;
        if current == Some(version) {
            return Err(RegistryError::AlreadyLive { version });
        }
        check(&transaction, current)?;
        let change =
            make_live(&transaction, version, actor, reason, write::now_millis()).at(&path)?;
        transaction.commit().at(&path)?;
        Ok(change)
    }
}

impl RegistryStore for SqliteStore {
    fn register_model(
        &mut self,
        manifest: &str,
        blob: &[u8],
        registration: &ModelRegistration,
    ) -> Result<i64, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let now = write::now_millis();
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .at(&path)?;
        let version: i64 = transaction
            .query_row(
                "SELECT coalesce(max(version), 0) + 1 FROM models",
                [],
                |row| row.get(0),
            )
            .at(&path)?;
        // A live registration is inserted as a candidate and then made live, so the
        // retiring and the history are the same code as a promotion's.
        let status = match registration.status {
            ModelStatus::Live => ModelStatus::Candidate,
            other => other,
        };
        transaction
            .execute(
                "INSERT INTO models (version, manifest, blob, published_at, algorithm, \
                 parameters, data_from, data_to, metrics, published_by, status, reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    version,
                    manifest,
                    blob,
                    now,
                    registration.algorithm,
                    registration.parameters.to_string(),
                    registration.data_from.map(|t| t.millis()),
                    registration.data_to.map(|t| t.millis()),
                    registration.metrics.to_string(),
                    registration.published_by,
                    status.as_str(),
                    registration.reason,
                ],
            )
            .at(&path)?;
        if registration.status == ModelStatus::Live {
            let reason = registration
                .reason
                .clone()
                .unwrap_or_else(|| "published".to_owned());
            make_live(
                &transaction,
                version,
                &registration.published_by,
                &reason,
                now,
            )
            .at(&path)?;
        }
        transaction.commit().at(&path)?;
        Ok(version)
    }

    fn model_records(&self) -> Result<Vec<ModelRecord>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM models ORDER BY version DESC"
            ))
            .at(path)?;
        let rows = statement.query_map([], raw_record).at(path)?;
        let mut records = Vec::new();
        for row in rows {
            records.push(record(path, row.at(path)?)?);
        }
        Ok(records)
    }

    fn model_record(&self, version: i64) -> Result<Option<ModelRecord>, StoreError> {
        let path = &self.path;
        let raw = self
            .connection
            .query_row(
                &format!("SELECT {RECORD_COLUMNS} FROM models WHERE version = ?1"),
                [version],
                raw_record,
            )
            .optional()
            .at(path)?;
        raw.map(|raw| record(path, raw)).transpose()
    }

    fn live_version(&self) -> Result<Option<i64>, StoreError> {
        self.connection
            .query_row(
                "SELECT version FROM model_live ORDER BY id DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .at(&self.path)
    }

    fn live_history(&self) -> Result<Vec<LiveChange>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached("SELECT version, at, actor, reason FROM model_live ORDER BY id")
            .at(path)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .at(path)?;
        let mut history: Vec<LiveChange> = Vec::new();
        for row in rows {
            let (version, at, actor, reason) = row.at(path)?;
            let previous = history.last().map(|c| c.version);
            history.push(LiveChange {
                version,
                previous,
                at: Timestamp::from_millis(at),
                actor,
                reason,
            });
        }
        Ok(history)
    }

    fn promote(
        &mut self,
        version: i64,
        actor: &str,
        reason: &str,
    ) -> Result<LiveChange, RegistryError> {
        self.change_live(version, actor, reason, |_, _| Ok(()))
    }

    fn rollback(&mut self, to: Option<i64>, actor: &str) -> Result<LiveChange, RegistryError> {
        let history = self.live_history()?;
        let (current, target) = rollback_target(&history, to, |version| {
            Ok(self.model_record(version)?.is_some())
        })?;
        let reason = format!("rollback from version {current}");
        self.change_live(target, actor, &reason, |_, live| {
            // Someone else changed the live model since the history was read.
            if live != Some(current) {
                return Err(RegistryError::LiveChanged { live });
            }
            Ok(())
        })
    }

    fn shadow(&self) -> Result<Option<ShadowSetting>, StoreError> {
        self.connection
            .query_row(
                "SELECT version, started_at, started_by FROM model_shadow WHERE id = 1",
                [],
                |row| {
                    Ok(ShadowSetting {
                        version: row.get(0)?,
                        started_at: Timestamp::from_millis(row.get(1)?),
                        started_by: row.get(2)?,
                    })
                },
            )
            .optional()
            .at(&self.path)
    }

    fn start_shadow(
        &mut self,
        version: i64,
        actor: &str,
        at: Timestamp,
    ) -> Result<ShadowSetting, RegistryError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .at(&path)?;
        let exists: bool = transaction
            .query_row(
                "SELECT count(*) FROM models WHERE version = ?1",
                [version],
                |row| row.get(0),
            )
            .at(&path)?;
        if !exists {
            return Err(RegistryError::NoSuchModel { version });
        }
        if live_in(&transaction).at(&path)? == Some(version) {
            return Err(RegistryError::ShadowIsLive { version });
        }
        transaction
            .execute(
                "INSERT INTO model_shadow (id, version, started_at, started_by) \
                 VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET \
                 version = excluded.version, started_at = excluded.started_at, \
                 started_by = excluded.started_by",
                params![version, at.millis(), actor],
            )
            .at(&path)?;
        transaction.commit().at(&path)?;
        Ok(ShadowSetting {
            version,
            started_at: at,
            started_by: actor.to_owned(),
        })
    }

    fn stop_shadow(&mut self) -> Result<Option<ShadowSetting>, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .at(&path)?;
        let current = transaction
            .query_row(
                "SELECT version, started_at, started_by FROM model_shadow WHERE id = 1",
                [],
                |row| {
                    Ok(ShadowSetting {
                        version: row.get(0)?,
                        started_at: Timestamp::from_millis(row.get(1)?),
                        started_by: row.get(2)?,
                    })
                },
            )
            .optional()
            .at(&path)?;
        transaction
            .execute("DELETE FROM model_shadow", [])
            .at(&path)?;
        transaction.commit().at(&path)?;
        Ok(current)
    }
}
