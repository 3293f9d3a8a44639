//! The detectors, one file each, behind the [`Detector`] trait, their settings
//! ([`SecurityConfig`]) and the small helpers they share: evidence sets, sliding windows,
//! IP subnets and great-circle distances.

pub mod brute_force;
pub mod sharing;
pub mod stuffing;
pub mod takeover;
pub mod travel;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use showrunner_model::time::MINUTE_MS;
use showrunner_model::{EventBody, LoginOutcome, Timestamp};

use crate::{Finding, FindingKind};

/// A streaming detector: sees events in time order (`ts` never decreases) and pushes a
/// finding when it has one. State is bounded per key and dropped when it falls out of the
/// detector's windows.
pub trait Detector: Send {
    fn name(&self) -> &'static str;
    fn observe(&mut self, ts: i64, event: &EventBody, out: &mut Vec<Finding>);
    /// The end of the stream: push what is still open.
    fn finish(&mut self, out: &mut Vec<Finding>);
}

/// Every detector's settings. The defaults are documented in `docs/security.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    pub stuffing: stuffing::StuffingConfig,
    pub brute_force: brute_force::BruteForceConfig,
    pub takeover: takeover::TakeoverConfig,
    pub travel: travel::TravelConfig,
    pub sharing: sharing::SharingConfig,
    /// At most this many accounts and IPs are listed in one finding (counts stay exact).
    pub max_evidence: usize,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            stuffing: Default::default(),
            brute_force: Default::default(),
            takeover: Default::default(),
            travel: Default::default(),
            sharing: Default::default(),
            max_evidence: 10_000,
        }
    }
}

/// Every detector with the given settings.
pub fn all(config: &SecurityConfig) -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(stuffing::StuffingDetector::new(
            config.stuffing.clone(),
            config.max_evidence,
        )),
        Box::new(brute_force::BruteForceDetector::new(
            config.brute_force.clone(),
            config.max_evidence,
        )),
        Box::new(takeover::TakeoverDetector::new(config.takeover.clone())),
        Box::new(travel::TravelDetector::new(config.travel.clone())),
        Box::new(sharing::SharingDetector::new(config.sharing.clone())),
    ]
}

pub(crate) fn minutes(count: i64) -> i64 {
    count * MINUTE_MS
}

pub(crate) fn is_failure(outcome: LoginOutcome) -> bool {
    !matches!(outcome, LoginOutcome::Success)
}

/// The /24 (IPv4) or /48 (IPv6) network of an address, as text; `None` when it does not
/// parse.
pub(crate) fn subnet_of(ip: &str) -> Option<String> {
    match ip.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}.0/24"))
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().min(1.0).asin()
}

/// The accounts, IPs, ASNs and countries a finding lists: sorted, each capped, with the
/// true number of accounts kept.
#[derive(Debug, Default, Clone)]
pub(crate) struct Evidence {
    pub accounts: BTreeSet<String>,
    pub account_overflow: u64,
    pub ips: BTreeSet<String>,
    pub asns: BTreeSet<u32>,
    pub countries: BTreeSet<String>,
    pub events: u64,
    pub start: i64,
    pub end: i64,
}

impl Evidence {
    pub fn new(ts: i64) -> Evidence {
        Evidence {
            start: ts,
            end: ts,
            ..Evidence::default()
        }
    }

    pub fn add(&mut self, ts: i64, login: &showrunner_model::Login, cap: usize) {
        self.start = self.start.min(ts);
        self.end = self.end.max(ts);
        self.events += 1;
        if !self.accounts.contains(&login.account) {
            if self.accounts.len() < cap {
                self.accounts.insert(login.account.clone());
            } else {
                self.account_overflow += 1;
            }
        }
        if self.ips.len() < cap {
            self.ips.insert(login.ip.clone());
        }
        if let Some(asn) = login.asn {
            self.asns.insert(asn);
        }
        if let Some(country) = &login.country {
            self.countries.insert(country.clone());
        }
    }

    pub fn into_finding(self, kind: FindingKind, source: String, reason: String) -> Finding {
        Finding {
            kind,
            start: Timestamp::from_millis(self.start),
            end: Timestamp::from_millis(self.end),
            source,
            account_count: self.accounts.len() as u64 + self.account_overflow,
            accounts: self.accounts.into_iter().collect(),
            ips: self.ips.into_iter().collect(),
            asns: self.asns.into_iter().collect(),
            countries: self.countries.into_iter().collect(),
            events: self.events,
            reason,
        }
    }
}
