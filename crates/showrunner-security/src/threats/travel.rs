//! Impossible travel: two consecutive successful sign-ins of one account whose places are
//! more than `min_distance_km` apart at a speed above `max_speed_kmh`. Only after the
//! account's learning period (seen for `learning_hours` with `learning_successes`
//! sign-ins), only when the new place is one the account has never signed in from (a jump
//! between places it uses, such as two homes, is sharing, not travel), and never when
//! either sign-in came through a known VPN or relay network (`exempt_asns`).
//!
//! Play events carry no coordinates, so only logins are used here; plays from distant places
//! at once are the sharing detector's concern.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use showrunner_model::time::{HOUR_MS, SECOND_MS};
use showrunner_model::{EventBody, LoginOutcome, Timestamp};

use super::{Detector, distance_km};
use crate::{Finding, FindingKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TravelConfig {
    pub max_speed_kmh: f64,
    pub min_distance_km: f64,
    pub learning_hours: i64,
    pub learning_successes: u32,
    /// Networks of VPNs and relays (iCloud Private Relay, commercial VPNs): sign-ins through
    /// them say nothing about where the member is.
    pub exempt_asns: Vec<u32>,
}

impl Default for TravelConfig {
    fn default() -> Self {
        TravelConfig {
            max_speed_kmh: 900.0,
            min_distance_km: 50.0,
            learning_hours: 24,
            learning_successes: 1,
            exempt_asns: Vec::new(),
        }
    }
}

const MAX_PLACES: usize = 16;

#[derive(Clone)]
struct Place {
    ts: i64,
    latitude: f64,
    longitude: f64,
    ip: String,
    asn: Option<u32>,
    country: Option<String>,
}

#[derive(Default)]
struct AccountState {
    first_seen: i64,
    successes: u32,
    places: Vec<(f64, f64)>,
    last: Option<Place>,
}

pub struct TravelDetector {
    config: TravelConfig,
    accounts: HashMap<String, AccountState>,
}

impl TravelDetector {
    pub fn new(config: TravelConfig) -> TravelDetector {
        TravelDetector {
            config,
            accounts: HashMap::new(),
        }
    }
}

impl Detector for TravelDetector {
    fn name(&self) -> &'static str {
        "impossible_travel"
    }

    fn observe(&mut self, ts: i64, event: &EventBody, out: &mut Vec<Finding>) {
        let EventBody::Login(login) = event else {
            return;
        };
        if login.outcome != LoginOutcome::Success {
            return;
        }
        let (Some(latitude), Some(longitude)) = (login.latitude, login.longitude) else {
            return;
        };
        if !latitude.is_finite() || !longitude.is_finite() {
            return;
        }
        let config = &self.config;
        let here = Place {
            ts,
            latitude,
            longitude,
            ip: login.ip.clone(),
            asn: login.asn,
            country: login.country.clone(),
        };
        let state = self
            .accounts
            .entry(login.account.clone())
            .or_insert_with(|| AccountState {
                first_seen: ts,
                ..AccountState::default()
            });
        let exempt = |asn: Option<u32>| asn.is_some_and(|asn| config.exempt_asns.contains(&asn));
        let known = state.places.iter().any(|(lat, lon)| {
            distance_km(*lat, *lon, latitude, longitude) <= config.min_distance_km
        });
        let learned = ts - state.first_seen >= config.learning_hours * HOUR_MS
            && state.successes >= config.learning_successes;
        if let Some(last) = &state.last
            && learned
            && !known
            && !exempt(last.asn)
            && !exempt(here.asn)
        {
            let km = distance_km(last.latitude, last.longitude, latitude, longitude);
            let hours = (ts - last.ts).max(SECOND_MS) as f64 / HOUR_MS as f64;
            let speed = km / hours;
            if km > config.min_distance_km && speed > config.max_speed_kmh {
                let mut countries: Vec<String> = last
                    .country
                    .iter()
                    .chain(here.country.iter())
                    .cloned()
                    .collect();
                countries.dedup();
                out.push(Finding {
                    kind: FindingKind::ImpossibleTravel,
                    start: Timestamp::from_millis(last.ts),
                    end: Timestamp::from_millis(ts),
                    source: String::new(),
                    accounts: vec![login.account.clone()],
                    account_count: 1,
                    ips: vec![last.ip.clone(), here.ip.clone()],
                    asns: last.asn.into_iter().chain(here.asn).collect(),
                    countries,
                    events: 2,
                    reason: format!(
                        "{km:.0} km in {:.0} min ({speed:.0} km/h) to a place the account never signed in from",
                        hours * 60.0
                    ),
                });
            }
        }
        if !known && state.places.len() < MAX_PLACES {
            state.places.push((latitude, longitude));
        }
        state.successes = state.successes.saturating_add(1);
        state.last = Some(here);
    }

    fn finish(&mut self, _out: &mut Vec<Finding>) {}
}
