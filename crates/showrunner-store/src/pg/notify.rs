//! What replicas sharing a database tell each other: changes to the models served
//! (`migrations/pg/0014_model_notify.sql`: a connection of its own that `LISTEN`s on
//! `showrunner_models`, which triggers notify on every commit that changes the registry, the
//! live or shadowed model, or an experiment) and which replicas are alive
//! (`migrations/pg/0015_replicas.sql`).

use std::path::PathBuf;
use std::time::Duration;

use postgres::NoTls;
use postgres::fallible_iterator::FallibleIterator;

use super::{AtDb, PgStore};
use crate::StoreError;

/// The channel the migration's triggers notify.
const CHANNEL: &str = "showrunner_models";

/// A listener for changes to the models any process serves: see [`ModelWatch::wait`].
pub struct ModelWatch {
    client: postgres::Client,
    location: PathBuf,
}

impl std::fmt::Debug for ModelWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelWatch")
            .field("location", &self.location)
            .finish()
    }
}

impl ModelWatch {
    /// Waits up to `timeout` for a change committed since the last wait (or since the
    /// watch was opened); returns whether there was one. Changes that came in the meantime
    /// are all taken at once. A lost connection is an error: open a new watch and reload
    /// (changes made while it was down were not seen).
    pub fn wait(&mut self, timeout: Duration) -> Result<bool, StoreError> {
        let mut notifications = self.client.notifications();
        let mut changed = false;
        // Whatever has arrived already, then a wait for the first one if none had.
        while let Some(notification) = notifications.iter().next().at(&self.location)? {
            changed |= notification.channel() == CHANNEL;
        }
        if changed {
            return Ok(true);
        }
        let mut waiting = notifications.timeout_iter(timeout);
        while let Some(notification) = waiting.next().at(&self.location)? {
            if notification.channel() == CHANNEL {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl PgStore {
    /// Opens a connection of its own listening for changes to the models served.
    pub fn watch_models(&self) -> Result<ModelWatch, StoreError> {
        let location = self.location().to_owned();
        let mut client = self.config.connect(NoTls).at(&location)?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .at(&location)?;
        Ok(ModelWatch { client, location })
    }

    /// See [`crate::Backend::replica_heartbeat`].
    pub fn replica_heartbeat(
        &mut self,
        id: &str,
        now_ms: i64,
        live_ms: i64,
    ) -> Result<u32, StoreError> {
        self.ensure_writable()?;
        let location = self.location().to_owned();
        let mut client = self.connection()?;
        let mut tx = client.transaction().at(&location)?;
        tx.execute(
            "INSERT INTO serve_replicas (id, seen_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at",
            &[&id, &now_ms],
        )
        .at(&location)?;
        tx.execute(
            "DELETE FROM serve_replicas WHERE seen_at < $1",
            &[&(now_ms - live_ms)],
        )
        .at(&location)?;
        let live: i64 = tx
            .query_one("SELECT count(*) FROM serve_replicas", &[])
            .at(&location)?
            .get(0);
        tx.commit().at(&location)?;
        Ok(u32::try_from(live.max(1)).unwrap_or(u32::MAX))
    }

    /// See [`crate::Backend::replica_gone`].
    pub fn replica_gone(&mut self, id: &str) -> Result<(), StoreError> {
        self.ensure_writable()?;
        let location = self.location().to_owned();
        self.connection()?
            .execute("DELETE FROM serve_replicas WHERE id = $1", &[&id])
            .at(&location)?;
        Ok(())
    }
}
