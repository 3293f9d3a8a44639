//! The retention job: raw events older than `raw_events_days` are rolled up per day, kind
//! and title and purged; quarantined rows older than `quarantine_days` are purged (see
//! `showrunner_store::RetentionStore` for what is kept).

use showrunner_model::Timestamp;

use crate::config::RetentionConfig;
use crate::error::JobError;
use crate::scheduler::{Job, RunContext};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
pub struct RetentionJob {
    config: RetentionConfig,
}

impl RetentionJob {
    pub fn new(config: RetentionConfig) -> RetentionJob {
        RetentionJob { config }
    }
}

impl Job for RetentionJob {
    fn name(&self) -> &'static str {
        "retention"
    }

    fn run(&self, context: &mut RunContext<'_>) -> Result<serde_json::Value, JobError> {
        let mut store = showrunner_store::open_path(context.db)?;
        let now = context.now.millis();
        let events_before =
            Timestamp::from_millis(now - i64::from(self.config.raw_events_days) * DAY_MS);
        let quarantine_before =
            Timestamp::from_millis(now - i64::from(self.config.quarantine_days) * DAY_MS);
        let summary = store.roll_up_and_purge(events_before)?;
        let purged_total: u64 = summary.purged.iter().map(|(_, n)| n).sum();
        context.log(format!(
            "rolled up and purged {purged_total} events before {} ({} rollup rows)",
            events_before.to_rfc3339(),
            summary.rollup_rows
        ));
        let quarantine_purged = store.purge_quarantine(quarantine_before)?;
        context.log(format!(
            "purged {quarantine_purged} quarantined rows first seen before {}",
            quarantine_before.to_rfc3339()
        ));
        let purged: serde_json::Map<String, serde_json::Value> = summary
            .purged
            .iter()
            .map(|(kind, n)| (kind.as_str().to_owned(), serde_json::json!(n)))
            .collect();
        Ok(serde_json::json!({
            "events_before": events_before,
            "purged": purged,
            "rollup_rows": summary.rollup_rows,
            "quarantine_before": quarantine_before,
            "quarantine_purged": quarantine_purged,
        }))
    }
}
