//! [`RetentionStore`] for SQLite: rolls events up into `daily_rollups` and deletes them, in
//! one transaction (migration `0006_automation.sql`).

use rusqlite::{TransactionBehavior, params};
use showrunner_model::{EventKind, Timestamp};

use super::write::{PROBE_LIMIT, table_of};
use super::{AtPath, SqliteStore};
use crate::StoreError;
use crate::key::first_key_at;
use crate::retention::{DailyRollup, PURGED_KINDS, RetentionStore, RetentionSummary};

const DAY_MS: i64 = 86_400_000;

/// The title and member columns of a kind's rollup: a join that yields `title` (the title's
/// id, empty when none) and the expression counted as distinct members.
fn rollup_parts(kind: EventKind) -> (&'static str, &'static str) {
    match kind {
        EventKind::Play | EventKind::Impression | EventKind::Rating => {
            ("LEFT JOIN strings t ON t.key = e.title_key", "e.member_key")
        }
        EventKind::Qoe => ("LEFT JOIN strings t ON t.key = e.title_key", "e.member_key"),
        EventKind::Search => (
            "LEFT JOIN strings t ON t.key = e.clicked_title_key",
            "e.member_key",
        ),
        EventKind::Login => ("LEFT JOIN strings t ON 0", "e.account"),
    }
}

impl RetentionStore for SqliteStore {
    fn roll_up_and_purge(&mut self, before: Timestamp) -> Result<RetentionSummary, StoreError> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let before_ms = before.millis().div_euclid(DAY_MS) * DAY_MS;
        // Keys below this bound hold every event before the cut (a probed key lies at most
        // PROBE_LIMIT past its second); the `ts` condition is the exact one.
        let key_bound = first_key_at(Timestamp::from_millis(before_ms)).saturating_add(PROBE_LIMIT);
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&path)?;
        let mut summary = RetentionSummary::default();
        for kind in PURGED_KINDS {
            let table = table_of(kind);
            let (join, member) = rollup_parts(kind);
            let rolled = transaction
                .execute(
                    &format!(
                        "INSERT INTO daily_rollups (day, kind, title_id, events, members) \
                         SELECT (e.ts / {DAY_MS}) * {DAY_MS}, ?3, coalesce(t.text, ''), \
                                count(*), count(DISTINCT {member}) \
                         FROM {table} e {join} \
                         WHERE e.key < ?1 AND e.ts < ?2 \
                         GROUP BY 1, 3 \
                         ON CONFLICT (day, kind, title_id) DO UPDATE SET \
                             events = events + excluded.events, \
                             members = members + excluded.members"
                    ),
                    params![key_bound, before_ms, kind.as_str()],
                )
                .at(&path)?;
            let purged = transaction
                .execute(
                    &format!("DELETE FROM {table} WHERE key < ?1 AND ts < ?2"),
                    params![key_bound, before_ms],
                )
                .at(&path)?;
            summary.rollup_rows += rolled as u64;
            if purged > 0 {
                summary.purged.push((kind, purged as u64));
            }
        }
        transaction.commit().at(&path)?;
        Ok(summary)
    }

    fn purge_quarantine(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        self.ensure_writable()?;
        let purged = self
            .connection
            .execute(
                "DELETE FROM quarantine WHERE first_seen < ?1",
                [before.millis()],
            )
            .at(&self.path)?;
        Ok(purged as u64)
    }

    fn daily_rollups(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DailyRollup>, StoreError> {
        let path = &self.path;
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT day, kind, title_id, events, members FROM daily_rollups \
                 WHERE day >= ?1 AND day < ?2 ORDER BY day, kind, title_id",
            )
            .at(path)?;
        let rows = statement
            .query_map(params![from.millis(), to.millis()], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .at(path)?;
        let mut rollups = Vec::new();
        for row in rows {
            let (day, kind, title_id, events, members) = row.at(path)?;
            let kind = EventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                path: path.clone(),
                table: "daily_rollups",
                column: "kind",
                detail: format!("unknown event kind {kind:?}"),
            })?;
            rollups.push(DailyRollup {
                day: Timestamp::from_millis(day),
                kind,
                title_id,
                events: events as u64,
                members: members as u64,
            });
        }
        Ok(rollups)
    }
}
