//! [`ExperimentStore`] for PostgreSQL (see `migrations/pg/0009_experiments.sql`).

use postgres::IsolationLevel;
use showrunner_model::Timestamp;

use super::{AtDb, PgStore};
use crate::StoreError;
use crate::experiment::{
    ArmFigures, ExperimentError, ExperimentRecord, ExperimentStatus, ExperimentStore,
    NewExperiment, arms_from_json, arms_to_json, figures_in_arm_order, status_from_text,
};

const COLUMNS: &str = "id, name, arms, salt, status, created_at, stopped_at, created_by";

fn record(location: &std::path::Path, row: &postgres::Row) -> Result<ExperimentRecord, StoreError> {
    let arms: String = row.try_get(2).at(location)?;
    let status: String = row.try_get(4).at(location)?;
    Ok(ExperimentRecord {
        id: row.try_get(0).at(location)?,
        name: row.try_get(1).at(location)?,
        arms: arms_from_json(location, &arms)?,
        salt: row.try_get(3).at(location)?,
        status: status_from_text(location, &status)?,
        created_at: Timestamp::from_millis(row.try_get(5).at(location)?),
        stopped_at: row
            .try_get::<_, Option<i64>>(6)
            .at(location)?
            .map(Timestamp::from_millis),
        created_by: row.try_get(7).at(location)?,
    })
}

impl PgStore {
    fn experiments_where(
        &self,
        condition: &str,
        parameters: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<ExperimentRecord>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                &format!("SELECT {COLUMNS} FROM experiments WHERE {condition} ORDER BY id DESC"),
                parameters,
            )
            .at(location)?;
        rows.iter().map(|row| record(location, row)).collect()
    }
}

impl ExperimentStore for PgStore {
    fn create_experiment(&mut self, experiment: &NewExperiment) -> Result<i64, ExperimentError> {
        self.ensure_writable()?;
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()
            .at(location)?;
        // Serialises creators: the check below and the insert happen under the lock.
        transaction
            .execute("LOCK TABLE experiments IN EXCLUSIVE MODE", &[])
            .at(location)?;
        let running = transaction
            .query_opt(
                "SELECT id FROM experiments WHERE status = 'running' ORDER BY id LIMIT 1",
                &[],
            )
            .at(location)?;
        if let Some(row) = running {
            return Err(ExperimentError::AlreadyRunning {
                running: row.try_get(0).at(location)?,
            });
        }
        let row = transaction
            .query_one(
                "INSERT INTO experiments (name, arms, salt, status, created_at, created_by) \
                 VALUES ($1, $2, $3, 'running', $4, $5) RETURNING id",
                &[
                    &experiment.name,
                    &arms_to_json(&experiment.arms),
                    &experiment.salt,
                    &experiment.created_at.millis(),
                    &experiment.created_by,
                ],
            )
            .at(location)?;
        let id: i64 = row.try_get(0).at(location)?;
        transaction.commit().at(location)?;
        Ok(id)
    }

    fn experiments(&self) -> Result<Vec<ExperimentRecord>, StoreError> {
        self.experiments_where("true", &[])
    }

    fn experiment(&self, id: i64) -> Result<Option<ExperimentRecord>, StoreError> {
        Ok(self
            .experiments_where("id = $1", &[&id])?
            .into_iter()
            .next())
    }

    fn running_experiment(&self) -> Result<Option<ExperimentRecord>, StoreError> {
        Ok(self
            .experiments_where("status = 'running'", &[])?
            .into_iter()
            .last())
    }

    fn stop_experiment(&mut self, id: i64, at: Timestamp) -> Result<(), ExperimentError> {
        self.ensure_writable()?;
        let location = &self.location;
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        let status = transaction
            .query_opt(
                "SELECT status FROM experiments WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .at(location)?;
        let status: String = match status {
            None => return Err(ExperimentError::NoSuchExperiment { id }),
            Some(row) => row.try_get(0).at(location)?,
        };
        if status != ExperimentStatus::Running.as_str() {
            return Err(ExperimentError::AlreadyStopped { id });
        }
        transaction
            .execute(
                "UPDATE experiments SET status = $1, stopped_at = $2 WHERE id = $3",
                &[&ExperimentStatus::Stopped.as_str(), &at.millis(), &id],
            )
            .at(location)?;
        transaction.commit().at(location)?;
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
        let members: Vec<&str> = assignments.iter().map(|(m, _)| m.as_str()).collect();
        let arms: Vec<&str> = assignments.iter().map(|(_, a)| a.as_str()).collect();
        let added = self
            .connection()?
            .execute(
                "INSERT INTO experiment_assignments (experiment_id, member_id, arm, assigned_at) \
                 SELECT $1, m, a, $4 FROM unnest($2::text[], $3::text[]) AS u(m, a) \
                 ON CONFLICT DO NOTHING",
                &[&experiment_id, &members, &arms, &at.millis()],
            )
            .at(&self.location)?;
        Ok(added)
    }

    fn assignment(
        &self,
        experiment_id: i64,
        member_id: &str,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        let location = &self.location;
        let row = self
            .connection()?
            .query_opt(
                "SELECT arm, assigned_at FROM experiment_assignments \
                 WHERE experiment_id = $1 AND member_id = $2",
                &[&experiment_id, &member_id],
            )
            .at(location)?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some((
                row.try_get(0).at(location)?,
                Timestamp::from_millis(row.try_get(1).at(location)?),
            ))),
        }
    }

    fn experiment_figures(&self, id: i64) -> Result<Option<Vec<ArmFigures>>, StoreError> {
        let Some(experiment) = self.experiment(id)? else {
            return Ok(None);
        };
        let until = experiment.stopped_at.map_or(i64::MAX, Timestamp::millis);
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "WITH a AS ( \
                     SELECT member_id, arm, assigned_at FROM experiment_assignments \
                     WHERE experiment_id = $1), \
                 imp AS ( \
                     SELECT a.member_id, a.arm, count(i.id) AS impressions, \
                         count(i.id) FILTER (WHERE EXISTS (SELECT 1 FROM plays p \
                             WHERE p.request_id = i.request_id \
                               AND p.member_id = i.member_id \
                               AND p.title_id = i.title_id)) AS taken \
                     FROM a LEFT JOIN impressions i ON i.member_id = a.member_id \
                         AND i.ts >= a.assigned_at AND i.ts < $2 \
                     GROUP BY a.member_id, a.arm), \
                 hrs AS ( \
                     SELECT a.member_id, \
                         (coalesce(sum(v.watched_s), 0) / 3600.0)::float8 AS h \
                     FROM a LEFT JOIN views v ON v.member_id = a.member_id \
                         AND v.started_at >= a.assigned_at AND v.started_at < $2 \
                         AND NOT v.non_human \
                     GROUP BY a.member_id) \
                 SELECT imp.arm, count(*), count(*) FILTER (WHERE imp.impressions > 0), \
                     count(*) FILTER (WHERE imp.taken > 0), \
                     sum(imp.impressions)::bigint, sum(imp.taken)::bigint, \
                     sum(hrs.h), sum(hrs.h * hrs.h) \
                 FROM imp JOIN hrs ON hrs.member_id = imp.member_id \
                 GROUP BY imp.arm",
                &[&id, &until],
            )
            .at(location)?;
        let mut figures = Vec::with_capacity(rows.len());
        for row in &rows {
            figures.push(ArmFigures {
                arm: row.try_get(0).at(location)?,
                members: row.try_get::<_, i64>(1).at(location)? as u64,
                members_with_impressions: row.try_get::<_, i64>(2).at(location)? as u64,
                members_taking: row.try_get::<_, i64>(3).at(location)? as u64,
                impressions: row.try_get::<_, i64>(4).at(location)? as u64,
                taken: row.try_get::<_, i64>(5).at(location)? as u64,
                hours_sum: row.try_get(6).at(location)?,
                hours_sum_squares: row.try_get(7).at(location)?,
            });
        }
        Ok(Some(figures_in_arm_order(&experiment.arms, figures)))
    }
}
