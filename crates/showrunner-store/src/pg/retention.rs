//! [`RetentionStore`] for PostgreSQL: rolls events up into `daily_rollups` and deletes them,
//! in one transaction (`migrations/pg/0006_automation.sql`).

use showrunner_model::{EventKind, Timestamp};

use super::write::table_of;
use super::{AtDb, PgStore};
use crate::StoreError;
use crate::key::first_key_at;
use crate::retention::{DailyRollup, PURGED_KINDS, RetentionStore, RetentionSummary};

const DAY_MS: i64 = 86_400_000;

/// The expressions of a kind's rollup: the title (empty when none) and what is counted as
/// distinct members.
fn rollup_parts(kind: EventKind) -> (&'static str, &'static str) {
    match kind {
        EventKind::Play | EventKind::Impression | EventKind::Rating | EventKind::Qoe => {
            ("coalesce(title_id, '')", "member_id")
        }
        EventKind::Search => ("coalesce(clicked_title_id, '')", "member_id"),
        EventKind::Login => ("''", "account"),
    }
}

impl RetentionStore for PgStore {
    fn roll_up_and_purge(&mut self, before: Timestamp) -> Result<RetentionSummary, StoreError> {
        self.ensure_writable()?;
        let location = &self.location;
        let before_ms = before.millis().div_euclid(DAY_MS) * DAY_MS;
        // Keys are the events' first keys here (no probing), so every event before the cut
        // has a key below this bound; the `ts` condition is the exact one.
        let key_bound = first_key_at(Timestamp::from_millis(before_ms));
        let mut client = self.connection()?;
        let mut transaction = client.transaction().at(location)?;
        let mut summary = RetentionSummary::default();
        for kind in PURGED_KINDS {
            let table = table_of(kind);
            let (title, member) = rollup_parts(kind);
            let rolled = transaction
                .execute(
                    &format!(
                        "INSERT INTO daily_rollups (day, kind, title_id, events, members) \
                         SELECT (ts / {DAY_MS}) * {DAY_MS}, $3::text, {title}, \
                                count(*), count(DISTINCT {member}) \
                         FROM {table} \
                         WHERE key < $1 AND ts < $2 \
                         GROUP BY 1, 3 \
                         ON CONFLICT (day, kind, title_id) DO UPDATE SET \
                             events = daily_rollups.events + excluded.events, \
                             members = daily_rollups.members + excluded.members"
                    ),
                    &[&key_bound, &before_ms, &kind.as_str()],
                )
                .at(location)?;
            let purged = transaction
                .execute(
                    &format!("DELETE FROM {table} WHERE key < $1 AND ts < $2"),
                    &[&key_bound, &before_ms],
                )
                .at(location)?;
            summary.rollup_rows += rolled;
            if purged > 0 {
                summary.purged.push((kind, purged));
            }
        }
        transaction.commit().at(location)?;
        Ok(summary)
    }

    fn purge_quarantine(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        self.connection()?
            .execute(
                "DELETE FROM quarantine WHERE first_seen < $1",
                &[&before.millis()],
            )
            .at(&self.location)
    }

    fn daily_rollups(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DailyRollup>, StoreError> {
        let location = &self.location;
        let rows = self
            .connection()?
            .query(
                "SELECT day, kind, title_id, events, members FROM daily_rollups \
                 WHERE day >= $1 AND day < $2 \
                 ORDER BY day, kind COLLATE \"C\", title_id COLLATE \"C\"",
                &[&from.millis(), &to.millis()],
            )
            .at(location)?;
        let mut rollups = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind: String = row.try_get(1).at(location)?;
            let kind = EventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                path: location.clone(),
                table: "daily_rollups",
                column: "kind",
                detail: format!("unknown event kind {kind:?}"),
            })?;
            rollups.push(DailyRollup {
                day: Timestamp::from_millis(row.try_get(0).at(location)?),
                kind,
                title_id: row.try_get(2).at(location)?,
                events: row.try_get::<_, i64>(3).at(location)? as u64,
                members: row.try_get::<_, i64>(4).at(location)? as u64,
            });
        }
        Ok(rollups)
    }
}
