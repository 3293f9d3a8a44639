//! [`SeriesStore`] for SQLite (tables of migration `0005_monitor.sql`): series ids by key,
//! raw samples keyed by (series, time), rollups keyed by (series, bucket start), and the
//! downsampling watermark in `monitor_meta`.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{OptionalExtension, params};

use super::{AtPath, SqliteStore};
use crate::StoreError;
use crate::series::{
    Acc, CompactionSummary, RetentionPolicy, SeriesData, SeriesInfo, SeriesPoint, SeriesQuery,
    SeriesSample, SeriesSelector, SeriesStore,
};

const WATERMARK: &str = "series_rolled_up_to";

fn floor_to(ts: i64, width: i64) -> i64 {
    ts.div_euclid(width.max(1)) * width.max(1)
}

impl SqliteStore {
    fn selected_series(
        &self,
        selector: &SeriesSelector,
    ) -> Result<Vec<(i64, SeriesInfo)>, StoreError> {
        let path = &self.path;
        let (sql, name) = match &selector.name {
            Some(name) => (
                "SELECT id, key, name, labels FROM monitor_series WHERE name = ?1 ORDER BY key",
                name.as_str(),
            ),
            None => (
                "SELECT id, key, name, labels FROM monitor_series WHERE ?1 = ?1 ORDER BY key",
                "",
            ),
        };
        let mut statement = self.connection.prepare_cached(sql).at(path)?;
        let mut rows = statement.query([name]).at(path)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().at(path)? {
            let labels_text: String = row.get(3).at(path)?;
            let labels: BTreeMap<String, String> =
                serde_json::from_str(&labels_text).map_err(|e| StoreError::Corrupt {
                    path: path.clone(),
                    table: "monitor_series",
                    column: "labels",
                    detail: e.to_string(),
                })?;
            let name: String = row.get(2).at(path)?;
            if selector.matches(&name, &labels) {
                out.push((
                    row.get(0).at(path)?,
                    SeriesInfo {
                        key: row.get(1).at(path)?,
                        name,
                        labels,
                    },
                ));
            }
        }
        Ok(out)
    }
}

impl SeriesStore for SqliteStore {
    fn write_samples(&mut self, samples: &[SeriesSample]) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        if let Some(bad) = samples.iter().find(|s| !s.value.is_finite()) {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
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
        let path = self.path.clone();
        let transaction = self.connection.transaction().at(&path)?;
        let mut ids: HashMap<String, i64> = HashMap::new();
        {
            let mut find = transaction
                .prepare_cached("SELECT id FROM monitor_series WHERE key = ?1")
                .at(&path)?;
            let mut create = transaction
                .prepare_cached(
                    "INSERT INTO monitor_series (key, name, labels) VALUES (?1, ?2, ?3)",
                )
                .at(&path)?;
            let mut insert = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO monitor_samples (series_id, ts, value) VALUES (?1, ?2, ?3)",
                )
                .at(&path)?;
            for sample in samples {
                let key = sample.key();
                let id = match ids.get(&key) {
                    Some(id) => *id,
                    None => {
                        let found: Option<i64> = find
                            .query_row([&key], |row| row.get(0))
                            .optional()
                            .at(&path)?;
                        let id = match found {
                            Some(id) => id,
                            None => {
                                let labels = serde_json::to_string(&sample.labels)
                                    .unwrap_or_else(|_| "{}".into());
                                create
                                    .execute(params![key, sample.name, labels])
                                    .at(&path)?;
                                transaction.last_insert_rowid()
                            }
                        };
                        ids.insert(key, id);
                        id
                    }
                };
                insert
                    .execute(params![id, sample.ts_ms, sample.value])
                    .at(&path)?;
            }
        }
        transaction.commit().at(&path)?;
        Ok(samples.len() as u64)
    }

    fn series(&self, selector: &SeriesSelector) -> Result<Vec<SeriesInfo>, StoreError> {
        Ok(self
            .selected_series(selector)?
            .into_iter()
            .map(|(_, info)| info)
            .collect())
    }

    fn query_series(&self, query: &SeriesQuery) -> Result<Vec<SeriesData>, StoreError> {
        let path = &self.path;
        let step = query.step_ms.max(1);
        let bucket_of = |ts: i64| query.from_ms + (ts - query.from_ms).div_euclid(step) * step;
        let mut out = Vec::new();
        for (id, info) in self
            .selected_series(&query.selector)?
            .into_iter()
            .take(query.max_series)
        {
            let mut buckets: BTreeMap<i64, Acc> = BTreeMap::new();
            let empty = Acc::EMPTY;
            let earliest_raw: Option<i64> = self
                .connection
                .prepare_cached("SELECT min(ts) FROM monitor_samples WHERE series_id = ?1")
                .at(path)?
                .query_row([id], |row| row.get(0))
                .at(path)?;
            {
                let mut statement = self
                    .connection
                    .prepare_cached(
                        "SELECT ts, value FROM monitor_samples \
                         WHERE series_id = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
                    )
                    .at(path)?;
                let mut rows = statement
                    .query(params![id, query.from_ms, query.to_ms])
                    .at(path)?;
                while let Some(row) = rows.next().at(path)? {
                    let ts: i64 = row.get(0).at(path)?;
                    let value: f64 = row.get(1).at(path)?;
                    buckets
                        .entry(bucket_of(ts))
                        .or_insert(empty)
                        .add(1, value, value, value);
                }
            }
            {
                // Rollups stand in for raw samples only where none are kept any more: the
                // buckets that end before the series' earliest raw sample.
                let mut statement = self
                    .connection
                    .prepare_cached(
                        "SELECT bucket, count, sum, min, max FROM monitor_rollups \
                         WHERE series_id = ?1 AND bucket >= ?2 AND bucket < ?3 \
                           AND bucket + width_ms <= ?4 ORDER BY bucket",
                    )
                    .at(path)?;
                let mut rows = statement
                    .query(params![
                        id,
                        query.from_ms,
                        query.to_ms,
                        earliest_raw.unwrap_or(i64::MAX)
                    ])
                    .at(path)?;
                while let Some(row) = rows.next().at(path)? {
                    let bucket: i64 = row.get(0).at(path)?;
                    let count: i64 = row.get(1).at(path)?;
                    buckets.entry(bucket_of(bucket)).or_insert(empty).add(
                        count.max(0) as u64,
                        row.get(2).at(path)?,
                        row.get(3).at(path)?,
                        row.get(4).at(path)?,
                    );
                }
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
        let width = policy.rollup_width_ms.max(1);
        let path = self.path.clone();
        let transaction = self.connection.transaction().at(&path)?;
        let watermark: Option<i64> = transaction
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM monitor_meta WHERE name = ?1",
                [WATERMARK],
                |row| row.get(0),
            )
            .optional()
            .at(&path)?;
        let earliest: Option<i64> = transaction
            .query_row("SELECT min(ts) FROM monitor_samples", [], |row| row.get(0))
            .at(&path)?;
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
                        "INSERT OR REPLACE INTO monitor_rollups \
                             (series_id, bucket, width_ms, count, sum, min, max) \
                         SELECT series_id, (ts / ?3) * ?3, ?3, count(*), sum(value), min(value), max(value) \
                         FROM monitor_samples WHERE ts >= ?1 AND ts < ?2 \
                         GROUP BY series_id, ts / ?3",
                        params![start, end, width],
                    )
                    .at(&path)? as u64;
            }
        }
        // Raw samples go once rolled up (before `end`) and past their retention, at a bucket
        // boundary so that a bucket is either all raw or all rollup.
        let raw_cutoff = floor_to(now_ms - policy.raw_retention_ms.max(0), width).min(end);
        summary.raw_deleted = transaction
            .execute("DELETE FROM monitor_samples WHERE ts < ?1", [raw_cutoff])
            .at(&path)? as u64;
        summary.rollups_deleted = transaction
            .execute(
                "DELETE FROM monitor_rollups WHERE bucket < ?1",
                [now_ms - policy.rollup_retention_ms.max(0)],
            )
            .at(&path)? as u64;
        summary.series_deleted = transaction
            .execute(
                "DELETE FROM monitor_series WHERE \
                 NOT EXISTS (SELECT 1 FROM monitor_samples s WHERE s.series_id = monitor_series.id) \
                 AND NOT EXISTS (SELECT 1 FROM monitor_rollups r WHERE r.series_id = monitor_series.id)",
                [],
            )
            .at(&path)? as u64;
        let mark = watermark.map_or(end, |m| m.max(end));
        transaction
            .execute(
                "INSERT OR REPLACE INTO monitor_meta (name, value, updated_at) VALUES (?1, ?2, ?3)",
                params![WATERMARK, mark.to_string(), now_ms],
            )
            .at(&path)?;
        transaction.commit().at(&path)?;
        Ok(summary)
    }
}
