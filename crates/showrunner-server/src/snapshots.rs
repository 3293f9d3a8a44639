//! Whole-range viewing facts kept in memory for the analytics routes.
//!
//! An analyst explores one range at a time: the report, then one show's dashboard after
//! another. Reading a range's facts from the store is the expensive part (seconds at ten
//! million events); cutting one show out of facts already in memory takes milliseconds. So
//! each range (`from`, `to`, `country`) read whole is kept for `snapshot_seconds`, and the
//! routes answer from it while it is that fresh, with an `Age` header saying how old it is.
//!
//! Invariants:
//! - An answer is never computed from facts older than `snapshot_seconds`: an older snapshot
//!   is not used, and the request reads the store as it would without one (a new read of the
//!   whole range is started meanwhile).
//! - At most `snapshots` ranges are held; the least recently used goes first.
//! - At most one read per range is in flight for the cache ([`LoadTicket`]); a ticket dropped
//!   without a result (an error, a panic) frees the range for the next request.
//! - [`FactsSnapshots::clear`] (a member erased) drops every snapshot and discards the reads
//!   in flight, so no answer is computed from facts read before the erasure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use showrunner_model::ViewingFacts;

/// Which whole-range read a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeKey {
    pub from_ms: i64,
    pub to_ms: i64,
    pub country: Option<String>,
}

enum Slot {
    Loading,
    Ready {
        facts: Arc<ViewingFacts>,
        read_at: Instant,
        /// A newer read of the range is in flight.
        refreshing: bool,
    },
}

struct Entry {
    key: RangeKey,
    slot: Slot,
    used: Instant,
}

/// What [`FactsSnapshots::lookup`] found.
pub(crate) enum Lookup {
    /// Facts read `age` ago, younger than the configured freshness.
    Fresh {
        facts: Arc<ViewingFacts>,
        age: Duration,
    },
    /// No fresh snapshot. With a ticket, the caller reads the range whole and hands the
    /// facts to [`LoadTicket::fill`]; without, another read is in flight or caching is off.
    Miss(Option<LoadTicket>),
}

/// The cache of whole-range facts (see the module's documentation).
pub(crate) struct FactsSnapshots {
    fresh_for: Duration,
    capacity: usize,
    entries: Mutex<Vec<Entry>>,
    /// Bumped by `clear`: reads started before it are not kept.
    generation: AtomicU64,
}

impl FactsSnapshots {
    /// Snapshots used for `fresh_for`, at most `capacity` ranges; either zero turns caching
    /// off.
    pub fn new(fresh_for: Duration, capacity: usize) -> FactsSnapshots {
        FactsSnapshots {
            fresh_for,
            capacity,
            entries: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn enabled(&self) -> bool {
        !self.fresh_for.is_zero() && self.capacity > 0
    }

    fn entries(&self) -> MutexGuard<'_, Vec<Entry>> {
        // Every update leaves the list consistent, so a panic elsewhere cannot corrupt it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fresh snapshot of `key`, or a miss, with a ticket to read the range when no read
    /// of it is in flight.
    pub fn lookup(self: &Arc<Self>, key: &RangeKey) -> Lookup {
        if !self.enabled() {
            return Lookup::Miss(None);
        }
        let now = Instant::now();
        let mut entries = self.entries();
        let Some(entry) = entries.iter_mut().find(|entry| entry.key == *key) else {
            entries.push(Entry {
                key: key.clone(),
                slot: Slot::Loading,
                used: now,
            });
            return Lookup::Miss(Some(self.ticket(key)));
        };
        entry.used = now;
        match &mut entry.slot {
            Slot::Loading => Lookup::Miss(None),
            Slot::Ready {
                facts,
                read_at,
                refreshing,
            } => {
                let age = now.saturating_duration_since(*read_at);
                if age < self.fresh_for {
                    Lookup::Fresh {
                        facts: Arc::clone(facts),
                        age,
                    }
                } else if *refreshing {
                    Lookup::Miss(None)
                } else {
                    *refreshing = true;
                    Lookup::Miss(Some(self.ticket(key)))
                }
            }
        }
    }

    fn ticket(self: &Arc<Self>, key: &RangeKey) -> LoadTicket {
        LoadTicket {
            cache: Arc::clone(self),
            key: key.clone(),
            generation: self.generation.load(Ordering::SeqCst),
            started: Instant::now(),
            filled: false,
        }
    }

    /// Drops every snapshot and discards the reads in flight (a member was erased).
    pub fn clear(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    /// How many ranges are held or being read (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }

    fn settle(&self, ticket: &LoadTicket, facts: Option<Arc<ViewingFacts>>) {
        let mut entries = self.entries();
        if self.generation.load(Ordering::SeqCst) != ticket.generation {
            // Cleared since the read started: its facts may hold an erased member, and an
            // entry of this range now belongs to a newer ticket.
            return;
        }
        let Some(position) = entries.iter().position(|entry| entry.key == ticket.key) else {
            return;
        };
        match (facts, &mut entries[position].slot) {
            (Some(facts), slot) => {
                *slot = Slot::Ready {
                    facts,
                    // Freshness counts from when the read started: the facts are at least
                    // that old.
                    read_at: ticket.started,
                    refreshing: false,
                };
            }
            (None, Slot::Ready { refreshing, .. }) => *refreshing = false,
            (None, Slot::Loading) => {
                entries.remove(position);
            }
        }
        // Over capacity: drop the least recently used ranges that hold facts (a range being
        // read holds none yet).
        loop {
            let ready = entries
                .iter()
                .filter(|entry| matches!(entry.slot, Slot::Ready { .. }))
                .count();
            if ready <= self.capacity {
                break;
            }
            let Some(oldest) = entries
                .iter()
                .enumerate()
                .filter(|(_, entry)| matches!(entry.slot, Slot::Ready { .. }))
                .min_by_key(|(_, entry)| entry.used)
                .map(|(index, _)| index)
            else {
                break;
            };
            entries.remove(oldest);
        }
    }
}

/// The right to read one range whole for the cache. Dropped without [`LoadTicket::fill`],
/// the range is free to be read by the next request.
pub(crate) struct LoadTicket {
    cache: Arc<FactsSnapshots>,
    key: RangeKey,
    generation: u64,
    started: Instant,
    filled: bool,
}

impl LoadTicket {
    /// Keeps `facts`, read whole for the ticket's range since the ticket was issued.
    pub fn fill(mut self, facts: Arc<ViewingFacts>) {
        self.filled = true;
        self.cache.settle(&self, Some(facts));
    }
}

impl Drop for LoadTicket {
    fn drop(&mut self) {
        if !self.filled {
            self.cache.settle(self, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(from_ms: i64) -> RangeKey {
        RangeKey {
            from_ms,
            to_ms: from_ms + 1_000,
            country: None,
        }
    }

    fn facts(from_ms: i64) -> Arc<ViewingFacts> {
        Arc::new(ViewingFacts {
            from_ms,
            ..ViewingFacts::default()
        })
    }

    /// The ticket a miss of range `from` must hand out (panics when there is none).
    fn ticket(cache: &Arc<FactsSnapshots>, from: i64) -> LoadTicket {
        match cache.lookup(&key(from)) {
            Lookup::Miss(Some(ticket)) => ticket,
            Lookup::Miss(None) => panic!("range {from}: a miss without a ticket"),
            Lookup::Fresh { .. } => panic!("range {from}: fresh, not a miss"),
        }
    }

    /// Reads range `from` into the cache (it must be a miss with a ticket).
    fn hold(cache: &Arc<FactsSnapshots>, from: i64) {
        ticket(cache, from).fill(facts(from));
    }

    fn fresh_from(cache: &Arc<FactsSnapshots>, range: &RangeKey) -> Option<i64> {
        match cache.lookup(range) {
            Lookup::Fresh { facts, .. } => Some(facts.from_ms),
            Lookup::Miss(_) => None,
        }
    }

    #[test]
    fn one_read_per_range_then_answers_from_memory() {
        let cache = Arc::new(FactsSnapshots::new(Duration::from_secs(60), 2));
        let read = ticket(&cache, 0);
        // While it is read, others neither get a ticket nor an answer.
        assert!(matches!(cache.lookup(&key(0)), Lookup::Miss(None)));
        read.fill(facts(0));
        assert_eq!(fresh_from(&cache, &key(0)), Some(0));
        // Another range is a miss of its own.
        assert!(matches!(cache.lookup(&key(5)), Lookup::Miss(Some(_))));
    }

    #[test]
    fn a_failed_read_frees_the_range() {
        let cache = Arc::new(FactsSnapshots::new(Duration::from_secs(60), 2));
        drop(ticket(&cache, 0));
        assert_eq!(cache.len(), 0);
        assert!(matches!(cache.lookup(&key(0)), Lookup::Miss(Some(_))));
    }

    #[test]
    fn stale_snapshots_are_not_used_and_are_read_again_once() {
        let cache = Arc::new(FactsSnapshots::new(Duration::from_millis(30), 2));
        hold(&cache, 0);
        assert_eq!(fresh_from(&cache, &key(0)), Some(0));
        std::thread::sleep(Duration::from_millis(40));
        let refresh = ticket(&cache, 0);
        assert!(matches!(cache.lookup(&key(0)), Lookup::Miss(None)));
        refresh.fill(facts(7));
        assert_eq!(fresh_from(&cache, &key(0)), Some(7));
    }

    #[test]
    fn the_least_recently_used_range_goes_first() {
        let cache = Arc::new(FactsSnapshots::new(Duration::from_secs(60), 2));
        for from in [0, 10] {
            hold(&cache, from);
        }
        // Range 0 used after range 10: 10 is the one dropped for a third.
        assert!(fresh_from(&cache, &key(0)).is_some());
        hold(&cache, 20);
        assert!(fresh_from(&cache, &key(0)).is_some());
        assert!(fresh_from(&cache, &key(20)).is_some());
        assert!(matches!(cache.lookup(&key(10)), Lookup::Miss(Some(_))));
    }

    #[test]
    fn clearing_discards_snapshots_and_reads_in_flight() {
        let cache = Arc::new(FactsSnapshots::new(Duration::from_secs(60), 2));
        hold(&cache, 0);
        let in_flight = ticket(&cache, 10);
        cache.clear();
        in_flight.fill(facts(10));
        assert!(fresh_from(&cache, &key(10)).is_none());
        assert!(fresh_from(&cache, &key(0)).is_none());
    }

    #[test]
    fn zero_freshness_or_capacity_turns_caching_off() {
        for cache in [
            Arc::new(FactsSnapshots::new(Duration::ZERO, 2)),
            Arc::new(FactsSnapshots::new(Duration::from_secs(60), 0)),
        ] {
            assert!(matches!(cache.lookup(&key(0)), Lookup::Miss(None)));
        }
    }
}
