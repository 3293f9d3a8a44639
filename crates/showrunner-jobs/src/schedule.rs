//! Cron schedules (five fields: minute, hour, day of month, month, day of week; or six with
//! seconds first), evaluated in UTC by the `croner` crate.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use showrunner_model::Timestamp;

/// A parsed cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: croner::Cron,
}

impl Schedule {
    /// Parses a cron expression; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let cron = croner::Cron::from_str(text.trim())
            .map_err(|e| format!("{text:?} is not a cron schedule: {e}"))?;
        Ok(Schedule {
            text: text.trim().to_owned(),
            cron,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `after` the schedule fires (UTC), if any.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let at: DateTime<Utc> = DateTime::from_timestamp_millis(after.millis())?;
        let next = self.cron.find_next_occurrence(&at, false).ok()?;
        Some(Timestamp::from_millis(next.timestamp_millis()))
    }
}
