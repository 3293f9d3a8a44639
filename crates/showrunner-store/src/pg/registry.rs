//! [`RegistryStore`] for PostgreSQL: the registry columns of `models` and the `model_live`
//! history (`migrations/pg/0006_automation.sql`), and the shadowed model's row
//! `model_shadow` (`migrations/pg/0012_shadow.sql`). Every registry write takes the `models`
//! table in a self-conflicting mode first, so publishers, promotions and rollbacks on
//! several processes take turns and each sees the live model the one before left.

use showrunner_model::Timestamp;

use super::{AtDb, PgStore, write};
use crate::StoreError;
use crate::registry::{
    LiveChange, ModelRecord, ModelRegistration, ModelStatus, RegistryError, RegistryStore,
    ShadowSetting, rollback_target,
};

const RECORD_COLUMNS: &str = "version, published_at, algorithm, parameters, data_from, data_to, \
     metrics, published_by, status, reason";

/// Serialises the registry's writers (and conflicts with nothing the readers take).
const LOCK_MODELS: &str = "LOCK TABLE models IN SHARE ROW EXCLUSIVE MODE";

const SHADOW_COLUMNS: &str = "version, started_at, started_by";

fn shadow_setting(
    location: &std::path::Path,
    row: &postgres::Row,
) -> Result<ShadowSetting, StoreError> {
    Ok(ShadowSetting {
        version: row.try_get(0).at(location)?,
        started_at: Timestamp::from_millis(row.try_get(1).at(location)?),
        started_by: row.try_get(2).at(location)?,
    })
}

fn json_column(
    location: &std::path::Path,
    column: &'static str,
    text: &str,
) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        path: location.to_owned(),
        table: "models",
        column,
        detail: e.to_string(),
    })
}

fn record(location: &std::path::Path, row: &postgres::Row) -> Result<ModelRecord, StoreError> {
    let parameters: String = row.try_get(3).at(location)?;
    let metrics: String = row.try_get(6).at(location)?;
    let status: String = row.try_get(8).at(location)?;
    Ok(ModelRecord {
        version: row.try_get(0).at(location)?,
        published_at: Timestamp::from_millis(row.try_get(1).at(location)?),
        algorithm: row.try_get(2).at(location)?,
        parameters: json_column(location, "parameters", &parameters)?,
        data_from: row
            .try_get::<_, Option<i64>>(4)
            .at(location)?
            .map(Timestamp::from_millis),
        data_to: row
            .try_get::<_, Option<i64>>(5)
            .at(location)?
            .map(Timestamp::from_millis),
        metrics: json_column(location, "metrics", &metrics)?,
        published_by: row.try_get(7).at(location)?,
        status: status.parse().map_err(|detail| StoreError::Corrupt {
            path: location.to_owned(),
            table: "models",
            column: "status",
            detail,
        })?,
        reason: row.try_get(9).at(location)?,
    })
}

fn live_in(
    client: &mut impl postgres::GenericClient,
    location: &std::path::Path,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_opt(
            "SELECT version FROM model_live ORDER BY id DESC LIMIT 1",
            &[],
        )
        .at(location)?;
    row.map(|row| row.try_get(0).at(location)).transpose()
}

/// Makes `version` live inside `transaction`: the previous live model retires, the change
/// is appended to the history.
fn make_live(
    transaction: &mut postgres::Transaction<'_>,
    location: &std::path::Path,
    version: i64,
    actor: &str,
    reason: &str,
    at: i64,
) -> Result<LiveChange, StoreError> {
    let previous = live_in(transaction, location)?;
    transaction
        .execute(
            "UPDATE models SET status = 'retired' WHERE status = 'live' AND version <> $1",
            &[&version],
        )
        .at(location)?;
    transaction
        .execute(
            "UPDATE models SET status = 'live' WHERE version = $1",
            &[&version],
        )
        .at(location)?;
    transaction
        .execute(
            "INSERT INTO model_live (version, at, actor, reason) VALUES ($1, $2, $3, $4)",
            &[&version, &at, &actor, &reason],
        )
        .at(location)?;
    Ok(LiveChange {
        version,
        previous,
        at: Timestamp::from_millis(at),
        actor: actor.to_owned(),
        reason: reason.to_owned(),
    })
}

impl PgStore {
    fn change_live(
        &mut self,
        version: i64,
        actor: &str,
        reason: &str,
        check: impl FnOnce(Option<i64>) -> Result<(), RegistryError>,
    ) -> Result<LiveChange, RegistryError> {
        self.ensure_writable()?;
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        transaction.batch_execute(LOCK_MODELS).at(location)?;
        let exists = transaction
            .query_opt("SELECT 1 FROM models WHERE version = $1", &[&version])
            .at(location)?
            .is_some();
        if !exists {
            return Err(RegistryError::NoSuchModel { version });
        }
        let current = live_in(&mut transaction, location)?;
        if current == Some(version) {
            return Err(RegistryError::AlreadyLive { version });
        }
        check(current)?;
        let change = make_live(
            &mut transaction,
            location,
            version,
            actor,
            reason,
            write::now_millis(),
        )?;
        transaction.commit().at(location)?;
        Ok(change)
    }
}

impl RegistryStore for PgStore {
    fn register_model(
        &mut self,
        manifest: &str,
        blob: &[u8],
        registration: &ModelRegistration,
    ) -> Result<i64, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let now = write::now_millis();
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        // Two publishers at once take turns, so each gets its own next version.
        transaction.batch_execute(LOCK_MODELS).at(location)?;
        let version: i64 = transaction
            .query_one(
                "SELECT coalesce(max(version), 0)::bigint + 1 FROM models",
                &[],
            )
            .at(location)?
            .try_get(0)
            .at(location)?;
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &version,
                    &manifest,
                    &blob,
                    &now,
                    &registration.algorithm,
                    &registration.parameters.to_string(),
                    &registration.data_from.map(|t| t.millis()),
                    &registration.data_to.map(|t| t.millis()),
                    &registration.metrics.to_string(),
                    &registration.published_by,
                    &status.as_str(),
                    &registration.reason,
                ],
            )
            .at(location)?;
        if registration.status == ModelStatus::Live {
            let reason = registration
                .reason
                .clone()
                .unwrap_or_else(|| "published".to_owned());
            make_live(
                &mut transaction,
                location,
                version,
                &registration.published_by,
                &reason,
                now,
            )?;
        }
        transaction.commit().at(location)?;
        Ok(version)
    }

    fn model_records(&self) -> Result<Vec<ModelRecord>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                &format!("SELECT {RECORD_COLUMNS} FROM models ORDER BY version DESC"),
                &[],
            )
            .at(location)?;
        rows.iter().map(|row| record(location, row)).collect()
    }

    fn model_record(&self, version: i64) -> Result<Option<ModelRecord>, StoreError> {
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                &format!("SELECT {RECORD_COLUMNS} FROM models WHERE version = $1"),
                &[&version],
            )
            .at(location)?;
        row.map(|row| record(location, &row)).transpose()
    }

    fn live_version(&self) -> Result<Option<i64>, StoreError> {
        live_in(&mut *self.connection()?, &self.location)
    }

    fn live_history(&self) -> Result<Vec<LiveChange>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT version, at, actor, reason FROM model_live ORDER BY id",
                &[],
            )
            .at(location)?;
        let mut history: Vec<LiveChange> = Vec::with_capacity(rows.len());
        for row in &rows {
            let previous = history.last().map(|c| c.version);
            history.push(LiveChange {
                version: row.try_get(0).at(location)?,
                previous,
                at: Timestamp::from_millis(row.try_get(1).at(location)?),
                actor: row.try_get(2).at(location)?,
                reason: row.try_get(3).at(location)?,
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
        self.change_live(version, actor, reason, |_| Ok(()))
    }

    fn rollback(&mut self, to: Option<i64>, actor: &str) -> Result<LiveChange, RegistryError> {
        let history = self.live_history()?;
        let (current, target) = rollback_target(&history, to, |version| {
            Ok(self.model_record(version)?.is_some())
        })?;
        let reason = format!("rollback from version {current}");
        self.change_live(target, actor, &reason, |live| {
            // Someone else changed the live model since the history was read.
            if live != Some(current) {
                return Err(RegistryError::LiveChanged { live });
            }
            Ok(())
        })
    }

    fn shadow(&self) -> Result<Option<ShadowSetting>, StoreError> {
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                &format!("SELECT {SHADOW_COLUMNS} FROM model_shadow WHERE id = 1"),
                &[],
            )
            .at(location)?;
        row.map(|row| shadow_setting(location, &row)).transpose()
    }

    fn start_shadow(
        &mut self,
        version: i64,
        actor: &str,
        at: Timestamp,
    ) -> Result<ShadowSetting, RegistryError> {
        self.ensure_writable()?;
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        // The live model cannot change under the check (promotions take this lock too).
        transaction.batch_execute(LOCK_MODELS).at(location)?;
        let exists = transaction
            .query_opt("SELECT 1 FROM models WHERE version = $1", &[&version])
            .at(location)?
            .is_some();
        if !exists {
            return Err(RegistryError::NoSuchModel { version });
        }
        if live_in(&mut transaction, location)? == Some(version) {
            return Err(RegistryError::ShadowIsLive { version });
        }
        transaction
            .execute(
                "INSERT INTO model_shadow (id, version, started_at, started_by) \
                 VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET \
                 version = excluded.version, started_at = excluded.started_at, \
                 started_by = excluded.started_by",
                &[&version, &at.millis(), &actor],
            )
            .at(location)?;
        transaction.commit().at(location)?;
        Ok(ShadowSetting {
            version,
            started_at: at,
            started_by: actor.to_owned(),
        })
    }

    fn stop_shadow(&mut self) -> Result<Option<ShadowSetting>, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                &format!("DELETE FROM model_shadow RETURNING {SHADOW_COLUMNS}"),
                &[],
            )
            .at(location)?;
        row.map(|row| shadow_setting(location, &row)).transpose()
    }
}
