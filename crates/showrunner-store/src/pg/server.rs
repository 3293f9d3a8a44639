//! [`ServerStore`] for PostgreSQL: API keys, published models and the service's reads (see
//! `migrations/pg/0003_server.sql`).

use postgres::IsolationLevel;
use showrunner_model::{Batch, BatchOutcome, Timestamp, Title};

use super::read::{TITLE_COLUMNS, title_from_row};
use super::{AtDb, PgStore, write};
use crate::StoreError;
use crate::server::{
    ApiKeyRecord, DailyViews, PublishedModel, PublishedModelInfo, SegmentViews, ServerStore,
};

const DAY_MS: i64 = 86_400_000;

impl ServerStore for PgStore {
    /// Every batch in one transaction (one `COPY` per event table, one commit and one
    /// flush of the WAL for all), each with its own outcome.
    fn write_batches(&mut self, batches: &[Batch]) -> Result<Vec<BatchOutcome>, StoreError> {
        self.ensure_writable()?;
        write::write_batches(
            &mut *self.connection()?,
            &self.location,
            &self.vault,
            batches,
        )
    }

    fn create_api_key(&mut self, key_hash: &[u8; 32], scope: &str) -> Result<i64, StoreError> {
        self.ensure_writable()?;
        let row = self
            .connection()?
            .query_one(
                "INSERT INTO api_keys (key_hash, scope, created_at) VALUES ($1, $2, $3) \
                 RETURNING id",
                &[&key_hash.as_slice(), &scope, &write::now_millis()],
            )
            .at(&self.location)?;
        Ok(row.get(0))
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT id, key_hash, scope, created_at, revoked_at FROM api_keys ORDER BY id",
                &[],
            )
            .at(location)?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let hash: &[u8] = row.try_get(1).at(location)?;
            let key_hash: [u8; 32] = hash.try_into().map_err(|_| StoreError::Corrupt {
                path: location.clone(),
                table: "api_keys",
                column: "key_hash",
                detail: format!("{} bytes, expected 32", hash.len()),
            })?;
            keys.push(ApiKeyRecord {
                id: row.try_get(0).at(location)?,
                key_hash,
                scope: row.try_get(2).at(location)?,
                created_at: Timestamp::from_millis(row.try_get(3).at(location)?),
                revoked: row.try_get::<_, Option<i64>>(4).at(location)?.is_some(),
            });
        }
        Ok(keys)
    }

    fn publish_model(&mut self, manifest: &str, blob: &[u8]) -> Result<i64, StoreError> {
        use crate::registry::{ModelRegistration, ModelStatus, RegistryStore};
        // Publishing makes the model live at once, as before the registry existed; callers
        // that know what the model is use `RegistryStore::register_model`.
        self.register_model(
            manifest,
            blob,
            &ModelRegistration {
                algorithm: String::new(),
                parameters: serde_json::json!({}),
                data_from: None,
                data_to: None,
                metrics: serde_json::json!({}),
                published_by: "publish".to_owned(),
                status: ModelStatus::Live,
                reason: None,
            },
        )
    }

    /// The live model (the last change of `model_live`), not simply the newest version.
    fn latest_model(&self) -> Result<Option<PublishedModelInfo>, StoreError> {
        let row = self
            .connection()?
            .query_opt(
                "SELECT m.version, m.published_at FROM models m \
                 WHERE m.version = (SELECT version FROM model_live ORDER BY id DESC LIMIT 1)",
                &[],
            )
            .at(&self.location)?;
        Ok(row.map(|row| PublishedModelInfo {
            version: row.get(0),
            published_at: Timestamp::from_millis(row.get(1)),
        }))
    }

    fn published_model(&self, version: i64) -> Result<Option<PublishedModel>, StoreError> {
        let row = self
            .connection()?
            .query_opt(
                "SELECT version, published_at, manifest, blob FROM models WHERE version = $1",
                &[&version],
            )
            .at(&self.location)?;
        Ok(row.map(|row| PublishedModel {
            info: PublishedModelInfo {
                version: row.get(0),
                published_at: Timestamp::from_millis(row.get(1)),
            },
            manifest: row.get(2),
            blob: row.get(3),
        }))
    }

    fn titles(&self) -> Result<Vec<Title>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                &format!("SELECT {TITLE_COLUMNS} FROM titles ORDER BY id"),
                &[],
            )
            .at(location)?;
        rows.iter()
            .map(|row| title_from_row(location, row))
            .collect()
    }

    fn thumbs_down(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT DISTINCT title_id FROM ratings \
                 WHERE member_id = $1 AND thumbs = 'down' ORDER BY title_id",
                &[&member_id],
            )
            .at(location)?;
        rows.iter().map(|row| row.try_get(0).at(location)).collect()
    }

    fn daily_views_since(&self, since: Timestamp) -> Result<Vec<DailyViews>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT title_id, coalesce(country, ''), (started_at / $2) * $2 AS day, \
                     count(*) \
                 FROM views WHERE started_at >= $1 AND NOT non_human \
                 GROUP BY title_id, coalesce(country, ''), day",
                &[&since.millis(), &DAY_MS],
            )
            .at(location)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            found.push(DailyViews {
                title_id: row.try_get(0).at(location)?,
                country: row.try_get(1).at(location)?,
                day: Timestamp::from_millis(row.try_get(2).at(location)?),
                views: row.try_get::<_, i64>(3).at(location)? as u64,
            });
        }
        Ok(found)
    }

    fn segment_views(&self) -> Result<Vec<SegmentViews>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT coalesce(m.country, ''), coalesce(m.plan, ''), v.title_id, count(*) \
                 FROM views v JOIN members m ON m.id = v.member_id \
                 WHERE NOT v.non_human \
                 GROUP BY coalesce(m.country, ''), coalesce(m.plan, ''), v.title_id",
                &[],
            )
            .at(location)?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            found.push(SegmentViews {
                country: row.try_get(0).at(location)?,
                plan: row.try_get(1).at(location)?,
                title_id: row.try_get(2).at(location)?,
                views: row.try_get::<_, i64>(3).at(location)? as u64,
            });
        }
        Ok(found)
    }

    fn latest_view_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let latest: Option<i64> = self
            .connection()?
            .query_one("SELECT max(started_at) FROM views", &[])
            .at(&self.location)?
            .get(0);
        Ok(latest.map(Timestamp::from_millis))
    }
}

/// A read-only repeatable-read transaction, for reads that must see one snapshot.
pub(super) fn snapshot<'c>(
    client: &'c mut postgres::Client,
    location: &std::path::Path,
) -> Result<postgres::Transaction<'c>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .at(location)
}
