//! The fixed parts of a run that every day's generation reads: the catalog, the networks,
//! the CDN incident, and per-day tables of when each country watches.

use showrunner_model::time::{DAY_MS, HOUR_MS, MINUTE_MS};

use crate::catalog::Catalog;
use crate::geo::{COUNTRIES, Networks, local_hour_of, local_hour_weight, weekday_of};

/// When members of one country start sittings during one UTC day: a cumulative weight per
/// hour of the day, so a start hour is one binary search away.
#[derive(Debug, Clone)]
pub struct HourTable {
    pub cumulative: [f64; 24],
    pub total: f64,
}

impl HourTable {
    fn new(day_start: i64, utc_offset_minutes: i64) -> HourTable {
        let mut cumulative = [0.0; 24];
        let mut total = 0.0;
        for (hour, slot) in cumulative.iter_mut().enumerate() {
            let local_mid_hour =
                day_start + hour as i64 * HOUR_MS + 30 * MINUTE_MS + utc_offset_minutes * MINUTE_MS;
            total += local_hour_weight(local_hour_of(local_mid_hour), weekday_of(local_mid_hour));
            *slot = total;
        }
        HourTable { cumulative, total }
    }

    /// The hour (0..24 from the day's start) in which a sitting starts, given a uniform draw.
    pub fn hour_for(&self, draw: f64) -> usize {
        let target = draw * self.total;
        self.cumulative
            .iter()
            .position(|cumulative| target < *cumulative)
            .unwrap_or(23)
    }
}

/// The injected playback incident: one CDN degrades in one country for one hour.
#[derive(Debug, Clone)]
pub struct Incident {
    pub cdn: usize,
    pub country: usize,
    pub start: i64,
    pub end: i64,
}

impl Incident {
    pub fn applies(&self, cdn: usize, country: usize, ts: i64) -> bool {
        cdn == self.cdn && country == self.country && ts >= self.start && ts < self.end
    }

    /// Milliseconds of `[from, to)` that fall inside the incident, for this CDN and country.
    pub fn overlap_ms(&self, cdn: usize, country: usize, from: i64, to: i64) -> i64 {
        if cdn != self.cdn || country != self.country {
            return 0;
        }
        (to.min(self.end) - from.max(self.start)).max(0)
    }
}

#[derive(Debug)]
pub struct World {
    pub seed: u64,
    pub start: i64,
    pub days: u32,
    pub heartbeat_s: u32,
    pub catalog: Catalog,
    pub networks: Networks,
    pub incident: Incident,
    /// `[day][country]`.
    pub hour_tables: Vec<Vec<HourTable>>,
}

impl World {
    pub fn day_start(&self, day: u32) -> i64 {
        self.start + i64::from(day) * DAY_MS
    }

    pub fn end(&self) -> i64 {
        self.day_start(self.days)
    }

    pub fn build_hour_tables(start: i64, days: u32) -> Vec<Vec<HourTable>> {
        (0..days)
            .map(|day| {
                let day_start = start + i64::from(day) * DAY_MS;
                COUNTRIES
                    .iter()
                    .map(|country| HourTable::new(day_start, country.utc_offset_minutes))
                    .collect()
            })
            .collect()
    }
}
