//! Listening for changes to the models served (`migrations/pg/0014_model_notify.sql`): a
//! connection of its own that `LISTEN`s on `showrunner_models`, which triggers notify on
//! every commit that changes the registry, the live or shadowed model, or an experiment.

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
}
