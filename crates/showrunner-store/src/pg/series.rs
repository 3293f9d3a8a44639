//! [`SeriesStore`] for PostgreSQL (tables of `migrations/pg/0005_monitor.sql`): series ids
//! by key, raw samples keyed by (series, time), rollups keyed by (series, bucket start), and
//! the downsampling watermark in `monitor_meta`. Writes bind whole columns as arrays.

use std::collections::{BTreeMap, HashMap};

use super::{AtDb, PgStore};
use crate::StoreError;
use crate::series::{
    Acc, CompactionSummary, RetentionPolicy, SeriesData, SeriesInfo, SeriesPoint, SeriesQuery,
    SeriesSample, SeriesSelector, SeriesStore,
};

const WATERMARK: &str = "series_rolled_up_to";

fn floor_to(ts: i64, width: i64) -> i64 {
    ts.div_euclid(width.max(1)) * width.max(1)
}

impl PgStore {
    /// The series the selector matches, by key in byte order (as SQLite sorts them).
    fn selected_series(
        &self,
        client: &mut postgres::Client,
        selector: &SeriesSelector,
    ) -> Result<Vec<(i64, SeriesInfo)>, StoreError> {
        let location = &self.location;
        let rows = client
            .query(
                "SELECT id, key, name, labels FROM monitor_series \
                 WHERE $1::text IS NULL OR name = $1 ORDER BY key COLLATE \"C\"",
                &[&selector.name],
            )
            .at(location)?;
        let mut out = Vec::new();
        for row in &rows {
            let labels_text: String = row.try_get(3).at(location)?;
            let labels: BTreeMap<String, String> =
                serde_json::from_str(&labels_text).map_err(|e| StoreError::Corrupt {
                    path: location.clone(),
                    table: "monitor_series",
                    column: "labels",
                    detail: e.to_string(),
                })?;
            let name: String = row.try_get(2).at(location)?;
            if selector.matches(&name, &labels) {
                out.push((
                    row.try_get(0).at(location)?,
                    SeriesInfo {
                        key: row.try_get(1).at(location)?,
                        name,
                        labels,
                    },
                ));
            }
        }
        Ok(out)
    }
}

impl SeriesStore for PgStore {
    /// Three statements whatever the number of samples: the new series, their ids, and the
    /// samples (the last of several at one time of one series wins, as with SQLite's
    /// replacing inserts).
    fn write_samples(&mut self, samples: &[SeriesSample]) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        if let Some(bad) = samples.iter().find(|s| !s.value.is_finite()) {
            return Err(StoreError::Corrupt {
                path: location.clone(),
                table: "monitor_samples",
                column: "value",
                detail: format!(
                    "series {} at {}: {} is not finite",
                    bad.key(),
                    bad.ts_ms,
                    bad.value
                ),
            });
        }
        if samples.is_empty() {
            return Ok(0);
        }
        // Each series once, with the name and labels of its first sample.
        let sample_keys: Vec<String> = samples.iter().map(SeriesSample::key).collect();
        let mut keys: Vec<&str> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut labels: Vec<String> = Vec::new();
        let mut seen: HashMap<&str, ()> = HashMap::new();
        for (key, sample) in sample_keys.iter().zip(samples) {
            if seen.insert(key.as_str(), ()).is_none() {
                keys.push(key);
                names.push(&sample.name);
                labels.push(serde_json::to_string(&sample.labels).unwrap_or_else(|_| "{}".into()));
            }
        }
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        transaction
            .execute(
                "INSERT INTO monitor_series (key, name, labels) \
                 SELECT k, n, l FROM unnest($1::text[], $2::text[], $3::text[]) \
                     WITH ORDINALITY AS u(k, n, l, o) \
                 ORDER BY o \
                 ON CONFLICT (key) DO NOTHING",
                &[&keys, &names, &labels],
            )
            .at(location)?;
        let mut ids: HashMap<String, i64> = HashMap::with_capacity(keys.len());
        for row in transaction
            .query(
                "SELECT key, id FROM monitor_series WHERE key = ANY($1)",
                &[&keys],
            )
            .at(location)?
        {
            ids.insert(row.try_get(0).at(location)?, row.try_get(1).at(location)?);
        }
        // One row per (series, time), the last sample's value.
        let mut latest: HashMap<(i64, i64), f64> = HashMap::with_capacity(samples.len());
        for (key, sample) in sample_keys.iter().zip(samples) {
            let id = *ids.get(key).ok_or_else(|| StoreError::Corrupt {
                path: location.clone(),
                table: "monitor_series",
                column: "key",
                detail: format!("series {key} was not found after it was written"),
            })?;
            latest.insert((id, sample.ts_ms), sample.value);
        }
        let mut series_ids = Vec::with_capacity(latest.len());
        let mut times = Vec::with_capacity(latest.len());
        let mut values = Vec::with_capacity(latest.len());
        for ((id, ts), value) in latest {
            series_ids.push(id);
            times.push(ts);
            values.push(value);
        }
        transaction
            .execute(
                "INSERT INTO monitor_samples (series_id, ts, value) \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[]) \
                 ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value",
                &[&series_ids, &times, &values],
            )
            .at(location)?;
        transaction.commit().at(location)?;
        Ok(samples.len() as u64)
    }

    fn series(&self, selector: &SeriesSelector) -> Result<Vec<SeriesInfo>, StoreError> {
        Ok(self
            .selected_series(&mut *self.connection()?, selector)?
            .into_iter()
            .map(|(_, info)| info)
            .collect())
    }

    fn query_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesData>, StoreError> {
        let location = &self.location;
        let step = query.step_ms.max(1);
        let bucket_of = |ts: i64| query.from_ms + (ts - query.from_ms).div_euclid(step) * step;
        let mut client = self.connection()?;
        let mut out = Vec::new();
        for (id, info) in self
            .selected_series(&mut client, &query.selector)?
            .into_iter()
            .take(query.max_series)
        {
            let mut buckets: BTreeMap<i64, Acc> = BTreeMap::new();
            let earliest_raw: Option<i64> = client
                .query_one(
                    "SELECT min(ts) FROM monitor_samples WHERE series_id = $1",
                    &[&id],
                )
                .at(location)?
                .try_get(0)
                .at(location)?;
            for row in client
                .query(
                    "SELECT ts, value FROM monitor_samples \
                     WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
                    &[&id, &query.from_ms, &query.to_ms],
                )
                .at(location)?
            {
                let ts: i64 = row.try_get(0).at(location)?;
                let value: f64 = row.try_get(1).at(location)?;
                buckets
                    .entry(bucket_of(ts))
                    .or_insert(Acc::EMPTY)
                    .add(1, value, value, value);
            }
            // Rollups stand in for raw samples only where none are kept any more: the
            // buckets that end before the series' earliest raw sample.
            for row in client
                .query(
                    "SELECT bucket, count, sum, min, max FROM monitor_rollups \
                     WHERE series_id = $1 AND bucket >= $2 AND bucket < $3 \
                       AND bucket + width_ms <= $4 ORDER BY bucket",
                    &[
                        &id,
                        &query.from_ms,
                        &query.to_ms,
                        &earliest_raw.unwrap_or(i64::MAX),
                    ],
                )
                .at(location)?
            {
                let bucket: i64 = row.try_get(0).at(location)?;
                let count: i64 = row.try_get(1).at(location)?;
                buckets.entry(bucket_of(bucket)).or_insert(Acc::EMPTY).add(
                    count.max(0) as u64,
                    row.try_get(2).at(location)?,
                    row.try_get(3).at(location)?,
                    row.try_get(4).at(location)?,
                );
            }
            let points = buckets
                .into_iter()
                .filter(|(_, acc)| acc.count > 0)
                .map(|(ts_ms, acc)| SeriesPoint {
                    ts_ms,
                    value: acc.sum / acc.count as f64,
                    min: acc.min,
                    max: acc.max,
                    count: acc.count,
                })
                .collect();
            out.push(SeriesData {
                key: info.key,
                name: info.name,
                labels: info.labels,
                points,
            });
        }
        Ok(out)
    }

    fn compact_series(
        &mut self,
        policy: &RetentionPolicy,
        now_ms: i64,
    ) -> Result<CompactionSummary, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let width = policy.rollup_width_ms.max(1);
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        // Passes on several processes take turns, each starting from the watermark the one
        // before left.
        transaction
            .batch_execute("LOCK TABLE monitor_rollups IN SHARE ROW EXCLUSIVE MODE")
            .at(location)?;
        let watermark: Option<i64> = transaction
            .query_opt(
                "SELECT value::bigint FROM monitor_meta WHERE name = $1",
                &[&WATERMARK],
            )
            .at(location)?
            .map(|row| row.try_get(0))
            .transpose()
            .at(location)?;
        let earliest: Option<i64> = transaction
            .query_one("SELECT min(ts) FROM monitor_samples", &[])
            .at(location)?
            .try_get(0)
            .at(location)?;
        let end = floor_to(now_ms, width);
        let mut summary = CompactionSummary::default();
        if let Some(earliest) = earliest {
            let start = match watermark {
                Some(mark) => floor_to(mark - policy.late_ms.max(0), width),
                None => floor_to(earliest, width),
            }
            .max(floor_to(earliest, width));
            if end > start {
                summary.rollups_written = transaction
                    .execute(
                        "INSERT INTO monitor_rollups \
                             (series_id, bucket, width_ms, count, sum, min, max) \
                         SELECT series_id, (ts / $3) * $3, $3, count(*), sum(value), \
                             min(value), max(value) \
                         FROM monitor_samples WHERE ts >= $1 AND ts < $2 \
                         GROUP BY series_id, 2 \
                         ON CONFLICT (series_id, bucket) DO UPDATE SET \
                             width_ms = excluded.width_ms, count = excluded.count, \
                             sum = excluded.sum, min = excluded.min, max = excluded.max",
                        &[&start, &end, &width],
                    )
                    .at(location)?;
            }
        }
        // Raw samples go once rolled up (before `end`) and past their retention, at a bucket
        // boundary so that a bucket is either all raw or all rollup.
        let raw_cutoff = floor_to(now_ms - policy.raw_retention_ms.max(0), width).min(end);
        summary.raw_deleted = transaction
            .execute("DELETE FROM monitor_samples WHERE ts < $1", &[&raw_cutoff])
            .at(location)?;
        summary.rollups_deleted = transaction
            .execute(
                "DELETE FROM monitor_rollups WHERE bucket < $1",
                &[&(now_ms - policy.rollup_retention_ms.max(0))],
            )
            .at(location)?;
        summary.series_deleted = transaction
            .execute(
                "DELETE FROM monitor_series WHERE \
                 NOT EXISTS (SELECT 1 FROM monitor_samples s WHERE s.series_id = monitor_series.id) \
                 AND NOT EXISTS (SELECT 1 FROM monitor_rollups r WHERE r.series_id = monitor_series.id)",
                &[],
            )
            .at(location)?;
        let mark = watermark.map_or(end, |m| m.max(end));
        transaction
            .execute(
                "INSERT INTO monitor_meta (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, \
                     updated_at = excluded.updated_at",
                &[&WATERMARK, &mark.to_string(), &now_ms],
            )
            .at(location)?;
        transaction.commit().at(location)?;
        Ok(summary)
    }
}
