//! [`ServerStore`] for SQLite: API keys, published models and the service's reads (see
//! migration `0003_server.sql` for the tables and indexes).

use rusqlite::{OptionalExtension, params};
use showrunner_model::{Batch, BatchOutcome, Timestamp, Title};

use super::{AtPath, SqliteStore, read, write};
use crate::StoreError;
use crate::server::{
    ApiKeyRecord, DailyViews, Durability, PublishedModel, PublishedModelInfo, SegmentViews,
    ServerStore,
};

const DAY_MS: i64 = 86_400_000;

impl SqliteStore {
    /// One transaction for `batches` on this connection (see `write::write_group`).
    fn write_group(&mut self, batches: &[Batch]) -> Result<Vec<BatchOutcome>, StoreError> {
        write::write_group(
            &mut self.connection,
            &mut self.write_cache,
            &self.vault,
            &self.path,
            batches,
        )
    }
}

impl ServerStore for SqliteStore {
    fn write_batches(&mut self, batches: &[Batch]) -> Result<Vec<BatchOutcome>, StoreError> {
        self.ensure_writable()?;
        self.start_checkpointer();
        // One transaction for the group: with synchronous=FULL its commit fsyncs the WAL,
        // so every batch is durable when this returns.
        let outcomes = self.write_group(batches);
        self.after_commit();
        outcomes
    }

    /// The group is committed with `synchronous = NORMAL` (SQLite writes the WAL frames but
    /// does not fsync them) and the returned [`Durability`] fsyncs the WAL: once that
    /// returns, the group's frames, commit frame included, are on the disk, which is what
    /// FULL's fsync at commit would have done. A crash before it loses only groups nobody
    /// was told about; the WAL's checksums make recovery stop at the last whole commit.
    fn write_batches_then_sync(
        &mut self,
        batches: &[Batch],
    ) -> Result<(Vec<BatchOutcome>, Durability), StoreError> {
        if self.path == std::path::Path::new(":memory:") {
            return Ok((self.write_batches(batches)?, Durability::done()));
        }
        self.ensure_writable()?;
        self.start_checkpointer();
        self.connection
            .pragma_update(None, "synchronous", "NORMAL")
            .at(&self.path)?;
        let outcomes = self.write_group(batches);
        // Every other write on this connection (catalog changes, erasures) stays durable
        // at commit.
        let restored = self
            .connection
            .pragma_update(None, "synchronous", "FULL")
            .at(&self.path);
        self.after_commit();
        let outcomes = outcomes?;
        restored?;
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Ok((outcomes, Durability::sync_file(wal.into())))
    }

    fn create_api_key(&mut self, key_hash: &[u8; 32], scope: &str) -> Result<i64, StoreError> {
        self.ensure_writable()?;
        self.connection
            .execute(
                "INSERT INTO api_keys (key_hash, scope, created_at) VALUES (?1, ?2, ?3)",
                params![key_hash.as_slice(), scope, write::now_millis()],
            )
            .at(&self.path)?;
        Ok(self.connection.last_insert_rowid())
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, key_hash, scope, created_at, revoked_at FROM api_keys ORDER BY id",
            )
            .at(path)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, Option<i64>>(4)?,
                ))
            })
            .at(path)?;
        let mut keys = Vec::new();
        for row in rows {
            let (id, hash, scope, created_at, revoked_at) = row.at(path)?;
            let key_hash: [u8; 32] =
                hash.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt {
                        path: path.clone(),
                        table: "api_keys",
                        column: "key_hash",
                        detail: format!("{} bytes, expected 32", hash.len()),
                    })?;
            keys.push(ApiKeyRecord {
                id,
                key_hash,
                scope,
                created_at: Timestamp::from_millis(created_at),
                revoked: revoked_at.is_some(),
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

    fn latest_model(&self) -> Result<Option<PublishedModelInfo>, StoreError> {
        self.connection
            .query_row(
                "SELECT m.version, m.published_at FROM models m \
                 WHERE m.version = (SELECT version FROM model_live ORDER BY id DESC LIMIT 1)",
                [],
                |row| {
                    Ok(PublishedModelInfo {
                        version: row.get(0)?,
                        published_at: Timestamp::from_millis(row.get(1)?),
                    })
                },
            )
            .optional()
            .at(&self.path)
    }

    fn published_model(&self, version: i64) -> Result<Option<PublishedModel>, StoreError> {
        self.connection
            .query_row(
                "SELECT version, published_at, manifest, blob FROM models WHERE version = ?1",
                [version],
                |row| {
                    Ok(PublishedModel {
                        info: PublishedModelInfo {
                            version: row.get(0)?,
                            published_at: Timestamp::from_millis(row.get(1)?),
                        },
                        manifest: row.get(2)?,
                        blob: row.get(3)?,
                    })
                },
            )
            .optional()
            .at(&self.path)
    }

    fn titles(&self) -> Result<Vec<Title>, StoreError> {
        let path = &self.path;
        let ids: Vec<String> = {
            let mut statement = self
                .connection
                .prepare_cached("SELECT id FROM titles ORDER BY id")
                .at(path)?;
            let rows = statement.query_map([], |row| row.get(0)).at(path)?;
            rows.collect::<Result<_, _>>().at(path)?
        };
        let mut titles = Vec::with_capacity(ids.len());
        for id in ids {
            // A title deleted between the two reads is simply left out.
            if let Some(title) = read::title(&self.connection, path, &id)? {
                titles.push(title);
            }
        }
        Ok(titles)
    }

    fn thumbs_down(&self, member_id: &str) -> Result<Vec<String>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT DISTINCT t.text FROM ratings r \
                 JOIN strings m ON m.key = r.member_key \
                 JOIN strings t ON t.key = r.title_key \
                 WHERE m.text = ?1 AND r.thumbs = 'down' ORDER BY t.text",
            )
            .at(path)?;
        let rows = statement
            .query_map([member_id], |row| row.get(0))
            .at(path)?;
        rows.collect::<Result<_, _>>().at(path)
    }

    fn daily_views_since(&self, since: Timestamp) -> Result<Vec<DailyViews>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT title_id, coalesce(country, ''), (started_at / ?2) * ?2 AS day, count(*) \
                 FROM views WHERE started_at >= ?1 AND non_human = 0 \
                 GROUP BY title_id, coalesce(country, ''), day",
            )
            .at(path)?;
        let rows = statement
            .query_map(params![since.millis(), DAY_MS], |row| {
                Ok(DailyViews {
                    title_id: row.get(0)?,
                    country: row.get(1)?,
                    day: Timestamp::from_millis(row.get(2)?),
                    views: row.get::<_, i64>(3)? as u64,
                })
            })
            .at(path)?;
        rows.collect::<Result<_, _>>().at(path)
    }

    fn segment_views(&self) -> Result<Vec<SegmentViews>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT coalesce(m.country, ''), coalesce(m.plan, ''), v.title_id, count(*) \
                 FROM views v JOIN members m ON m.id = v.member_id \
                 WHERE v.non_human = 0 \
                 GROUP BY coalesce(m.country, ''), coalesce(m.plan, ''), v.title_id",
            )
            .at(path)?;
        let rows = statement
            .query_map([], |row| {
                Ok(SegmentViews {
                    country: row.get(0)?,
                    plan: row.get(1)?,
                    title_id: row.get(2)?,
                    views: row.get::<_, i64>(3)? as u64,
                })
            })
            .at(path)?;
        rows.collect::<Result<_, _>>().at(path)
    }

    fn latest_view_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let latest: Option<i64> = self
            .connection
            .query_row("SELECT max(started_at) FROM views", [], |row| row.get(0))
            .at(&self.path)?;
        Ok(latest.map(Timestamp::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use showrunner_model::event::{Rating, RatingValue, Thumbs};
    use showrunner_model::{Event, EventBody};

    use super::*;
    use crate::Store;

    fn ratings(count: i64) -> Batch {
        Batch {
            events: (0..count)
                .map(|n| {
                    Event::with_derived_id(
                        Timestamp::from_millis(1_790_812_800_000 + n * 1000),
                        EventBody::Rating(Rating {
                            member_id: format!("m{n}"),
                            profile_id: None,
                            title_id: "t1".into(),
                            value: RatingValue::Thumbs(Thumbs::Up),
                        }),
                    )
                })
                .collect(),
            ..Batch::default()
        }
    }

    /// On a file store the group is committed without an fsync of its own, the
    /// `Durability` syncs the WAL, and the connection goes back to syncing every other
    /// commit (`synchronous = FULL`, 2).
    #[test]
    fn a_group_synced_later_is_kept_and_other_commits_stay_synchronous() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut store = SqliteStore::open(&path).expect("store");
        let (outcomes, durability) = store
            .write_batches_then_sync(&[ratings(3), ratings(5)])
            .expect("written");
        assert_eq!(outcomes[0].events_accepted, 3);
        assert_eq!(
            (outcomes[1].events_accepted, outcomes[1].events_duplicate),
            (2, 3)
        );
        let synchronous: i64 = store
            .connection
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .expect("pragma");
        assert_eq!(synchronous, 2);
        durability.wait().expect("WAL synced");
        drop(store);
        let store = SqliteStore::open(&path).expect("reopened");
        assert_eq!(store.counts().expect("counts").events_total(), 5);
    }

    #[test]
    fn waiting_on_a_store_whose_log_is_gone_fails_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let mut store = SqliteStore::open(&path).expect("store");
        let (_, durability) = store
            .write_batches_then_sync(&[ratings(1)])
            .expect("written");
        drop(store);
        // The last connection's close folded the WAL back and deleted it.
        let error = durability.wait().expect_err("no WAL to sync");
        assert!(error.to_string().contains("db.sqlite-wal"), "{error}");
    }
}
