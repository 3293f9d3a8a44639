//! [`ExperimentStore`] for SQLite: the `experiments` and `experiment_assignments` tables
//! (migration `0009_experiments.sql`).

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use showrunner_model::Timestamp;

use super::{AtPath, SqliteStore};
use crate::StoreError;
use crate::experiment::{
    ArmFigures, ExperimentError, ExperimentRecord, ExperimentStatus, ExperimentStore,
    NewExperiment, arms_from_json, arms_to_json, figures_in_arm_order, status_from_text,
};

const COLUMNS: &str = "id, name, arms, salt, status, created_at, stopped_at, created_by";

type RawExperiment = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    String,
);

fn raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawExperiment> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

fn record(path: &std::path::Path, raw: RawExperiment) -> Result<ExperimentRecord, StoreError> {
    let (id, name, arms, salt, status, created_at, stopped_at, created_by) = raw;
    Ok(ExperimentRecord {
        id,
        name,
        arms: arms_from_json(path, &arms)?,
        salt,
        status: status_from_text(path, &status)?,
        created_at: Timestamp::from_millis(created_at),
        stopped_at: stopped_at.map(Timestamp::from_millis),
        created_by,
    })
}

impl SqliteStore {
    fn experiments_where(
        &self,
        condition: &str,
        parameters: impl rusqlite::Params,
    ) -> Result<Vec<ExperimentRecord>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM experiments WHERE {condition} ORDER BY id DESC"
            ))
            .at(path)?;
        let rows = statement.query_map(parameters, raw).at(path)?;
        let mut records = Vec::new();
        for row in rows {
            records.push(record(path, row.at(path)?)?);
        }
        Ok(records)
    }
}

impl ExperimentStore for SqliteStore {
    fn create_experiment(&mut self, experiment: &NewExperiment) -> Result<i64, ExperimentError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let running: Option<i64> = transaction
            .query_row(
                "SELECT id FROM experiments WHERE status = 'running' ORDER BY id LIMIT 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .at(&path)?;
        if let Some(running) = running {
            return Err(ExperimentError::AlreadyRunning { running });
        }
        transaction
            .execute(
                "INSERT INTO experiments (name, arms, salt, status, created_at, created_by) \
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
                params![
                    experiment.name,
                    arms_to_json(&experiment.arms),
                    experiment.salt,
                    experiment.created_at.millis(),
                    experiment.created_by
                ],
            )
            .at(&path)?;
        let id = transaction.last_insert_rowid();
        transaction.commit().at(&path)?;
        Ok(id)
    }

    fn experiments(&self) -> Result<Vec<ExperimentRecord>, StoreError> {
        self.experiments_where("1 = 1", [])
    }

    fn experiment(&self, id: i64) -> Result<Option<ExperimentRecord>, StoreError> {
        Ok(self.experiments_where("id = ?1", [id])?.into_iter().next())
    }

    fn running_experiment(&self) -> Result<Option<ExperimentRecord>, StoreError> {
        Ok(self
            .experiments_where("status = 'running'", [])?
            .into_iter()
            .last())
    }

    fn stop_experiment(&mut self, id: i64, at: Timestamp) -> Result<(), ExperimentError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let status: Option<String> = transaction
            .query_row(
                "SELECT status FROM experiments WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()
            .at(&path)?;
        match status.as_deref() {
            None => return Err(ExperimentError::NoSuchExperiment { id }),
            Some("running") => {}
            Some(_) => return Err(ExperimentError::AlreadyStopped { id }),
        }
        transaction
            .execute(
                "UPDATE experiments SET status = ?1, stopped_at = ?2 WHERE id = ?3",
                params![ExperimentStatus::Stopped.as_str(), at.millis(), id],
            )
            .at(&path)?;
        transaction.commit().at(&path)?;
        Ok(())
    }

    fn record_assignments(
        &mut self,
        experiment_id: i64,
        assignments: &[(String, String)],
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        if assignments.is_empty() {
            return Ok(0);
        }
        let path = self.path.clone();
        let transaction = self.connection.transaction().at(&path)?;
        let mut added = 0;
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT OR IGNORE INTO experiment_assignments \
                     (experiment_id, member_id, arm, assigned_at) VALUES (?1, ?2, ?3, ?4)",
                )
                .at(&path)?;
            for (member, arm) in assignments {
                added += statement
                    .execute(params![experiment_id, member, arm, at.millis()])
                    .at(&path)? as u64;
            }
        }
        transaction.commit().at(&path)?;
        Ok(added)
    }

    fn assignment(
        &self,
        experiment_id: i64,
        member_id: &str,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        let path = &self.path;
        self.connection
            .query_row(
                "SELECT arm, assigned_at FROM experiment_assignments \
                 WHERE experiment_id = ?1 AND member_id = ?2",
                params![experiment_id, member_id],
                |row| Ok((row.get(0)?, Timestamp::from_millis(row.get(1)?))),
            )
            .optional()
            .at(path)
    }

    fn experiment_figures(&self, id: i64) -> Result<Option<Vec<ArmFigures>>, StoreError> {
        let Some(experiment) = self.experiment(id)? else {
            return Ok(None);
        };
        let until = experiment.stopped_at.map_or(i64::MAX, Timestamp::millis);
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "WITH a AS ( \
                     SELECT x.member_id, x.arm, x.assigned_at, s.key AS member_key \
                     FROM experiment_assignments x LEFT JOIN strings s ON s.text = x.member_id \
                     WHERE x.experiment_id = ?1), \
                 imp AS ( \
                     SELECT a.member_id, a.arm, count(i.key) AS impressions, \
                         coalesce(sum(EXISTS (SELECT 1 FROM plays p \
                                              WHERE p.request_id = i.request_id \
                                                AND p.member_key = i.member_key \
                                                AND p.title_key = i.title_key)), 0) AS taken \
                     FROM a LEFT JOIN impressions i ON i.member_key = a.member_key \
                         AND i.ts >= a.assigned_at AND i.ts < ?2 \
                     GROUP BY a.member_id, a.arm), \
                 hrs AS ( \
                     SELECT a.member_id, coalesce(sum(v.watched_s), 0) / 3600.0 AS h \
                     FROM a LEFT JOIN views v ON v.member_id = a.member_id \
                         AND v.started_at >= a.assigned_at AND v.started_at < ?2 \
                         AND v.non_human = 0 \
                     GROUP BY a.member_id) \
                 SELECT imp.arm, count(*), sum(imp.impressions > 0), sum(imp.taken > 0), \
                     sum(imp.impressions), sum(imp.taken), sum(hrs.h), sum(hrs.h * hrs.h) \
                 FROM imp JOIN hrs ON hrs.member_id = imp.member_id \
                 GROUP BY imp.arm",
            )
            .at(path)?;
        let rows = statement
            .query_map(params![id, until], |row| {
                Ok(ArmFigures {
                    arm: row.get(0)?,
                    members: row.get::<_, i64>(1)? as u64,
                    members_with_impressions: row.get::<_, i64>(2)? as u64,
                    members_taking: row.get::<_, i64>(3)? as u64,
                    impressions: row.get::<_, i64>(4)? as u64,
                    taken: row.get::<_, i64>(5)? as u64,
                    hours_sum: row.get(6)?,
                    hours_sum_squares: row.get(7)?,
                })
            })
            .at(path)?;
        let rows = rows
            .map(|row| row.at(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(figures_in_arm_order(&experiment.arms, rows)))
    }
}
