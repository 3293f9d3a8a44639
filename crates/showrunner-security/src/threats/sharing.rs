//! Account sharing, from two independent signals:
//! - **households** (logins): a household is a home network (the /24 of the sign-in's IP)
//!   with successful sign-ins on at least `min_household_days` distinct days, so a trip or a
//!   single intruder's sign-in is not one. More households than `max_households` is a
//!   finding, keyed by the login account;
//! - **concurrent streams from distant places** (plays): two play sessions of one member
//!   active at the same time from different countries, on at least `min_overlap_days`
//!   distinct days. Keyed by the member id.
//!
//! Events carry no plan, so the allowance is one setting for every account.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use showrunner_model::time::DAY_MS;
use showrunner_model::{EventBody, LoginOutcome, PlayAction, Timestamp};

use super::{Detector, minutes, subnet_of};
use crate::{Finding, FindingKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharingConfig {
    /// Households a plan allows.
    pub max_households: usize,
    /// Distinct days with a successful sign-in that make a network a household.
    pub min_household_days: usize,
    /// A play session with no report for this long is over.
    pub session_idle_minutes: i64,
    /// Distinct days with concurrent streams from different countries that make a finding.
    pub min_overlap_days: usize,
}

impl Default for SharingConfig {
    fn default() -> Self {
        SharingConfig {
            max_households: 1,
            min_household_days: 2,
            session_idle_minutes: 15,
            min_overlap_days: 2,
        }
    }
}

const MAX_PLACES: usize = 16;
const MAX_SESSIONS: usize = 16;

struct Network {
    subnet: String,
    ip: String,
    asn: Option<u32>,
    country: Option<String>,
    days: Vec<i64>,
    first: i64,
    last: i64,
}

#[derive(Default)]
struct Account {
    networks: Vec<Network>,
    reported: bool,
}

struct Session {
    id: String,
    country: String,
    last: i64,
}

#[derive(Default)]
struct Member {
    sessions: Vec<Session>,
    overlap_days: Vec<i64>,
    countries: Vec<String>,
    first: i64,
    last: i64,
    reported: bool,
}

pub struct SharingDetector {
    config: SharingConfig,
    accounts: HashMap<String, Account>,
    members: HashMap<String, Member>,
}

impl SharingDetector {
    pub fn new(config: SharingConfig) -> SharingDetector {
        SharingDetector {
            config,
            accounts: HashMap::new(),
            members: HashMap::new(),
        }
    }

    fn login(&mut self, ts: i64, login: &showrunner_model::Login, out: &mut Vec<Finding>) {
        if login.outcome != LoginOutcome::Success {
            return;
        }
        let Some(subnet) = subnet_of(&login.ip) else {
            return;
        };
        let day = ts.div_euclid(DAY_MS);
        let config = &self.config;
        let account = self.accounts.entry(login.account.clone()).or_default();
        if account.reported {
            return;
        }
        let found = account.networks.iter().position(|n| n.subnet == subnet);
        match found {
            Some(position) => {
                let network = &mut account.networks[position];
                network.last = ts;
                if !network.days.contains(&day) && network.days.len() < config.min_household_days {
                    network.days.push(day);
                }
            }
            None if account.networks.len() < MAX_PLACES => account.networks.push(Network {
                subnet,
                ip: login.ip.clone(),
                asn: login.asn,
                country: login.country.clone(),
                days: vec![day],
                first: ts,
                last: ts,
            }),
            None => {}
        }
        let households: Vec<&Network> = account
            .networks
            .iter()
            .filter(|n| n.days.len() >= config.min_household_days)
            .collect();
        if households.len() > config.max_households {
            let mut countries: Vec<String> = households
                .iter()
                .filter_map(|n| n.country.clone())
                .collect();
            countries.sort();
            countries.dedup();
            let mut asns: Vec<u32> = households.iter().filter_map(|n| n.asn).collect();
            asns.sort_unstable();
            asns.dedup();
            out.push(Finding {
                kind: FindingKind::AccountSharing,
                start: Timestamp::from_millis(
                    households.iter().map(|n| n.first).min().unwrap_or(ts),
                ),
                end: Timestamp::from_millis(ts),
                source: String::new(),
                accounts: vec![login.account.clone()],
                account_count: 1,
                ips: households.iter().map(|n| n.ip.clone()).collect(),
                asns,
                countries,
                events: households.len() as u64,
                reason: format!(
                    "{} home networks each used on {}+ days (allowed: {})",
                    households.len(),
                    config.min_household_days,
                    config.max_households
                ),
            });
            account.reported = true;
            account.networks = Vec::new();
        }
    }

    fn play(&mut self, ts: i64, play: &showrunner_model::Play, out: &mut Vec<Finding>) {
        let Some(country) = &play.country else {
            return;
        };
        let config = &self.config;
        let idle = minutes(config.session_idle_minutes);
        let member = self
            .members
            .entry(play.member_id.clone())
            .or_insert_with(|| Member {
                first: ts,
                ..Member::default()
            });
        if member.reported {
            return;
        }
        member.sessions.retain(|s| ts - s.last <= idle);
        let position = member.sessions.iter().position(|s| s.id == play.session_id);
        if play.action == PlayAction::Stop {
            if let Some(position) = position {
                member.sessions.swap_remove(position);
            }
        } else {
            match position {
                Some(position) => member.sessions[position].last = ts,
                None if member.sessions.len() < MAX_SESSIONS => member.sessions.push(Session {
                    id: play.session_id.clone(),
                    country: country.clone(),
                    last: ts,
                }),
                None => {}
            }
        }
        let elsewhere: Vec<&Session> = member
            .sessions
            .iter()
            .filter(|s| s.country != *country && s.id != play.session_id)
            .collect();
        if elsewhere.is_empty() {
            return;
        }
        let day = ts.div_euclid(DAY_MS);
        for place in elsewhere
            .iter()
            .map(|s| &s.country)
            .chain(std::iter::once(country))
        {
            if !member.countries.contains(place) && member.countries.len() < MAX_PLACES {
                member.countries.push(place.clone());
            }
        }
        if member.overlap_days.is_empty() {
            member.first = ts;
        }
        if !member.overlap_days.contains(&day) {
            member.overlap_days.push(day);
        }
        member.last = ts;
        if member.overlap_days.len() >= config.min_overlap_days {
            let mut countries = member.countries.clone();
            countries.sort();
            out.push(Finding {
                kind: FindingKind::AccountSharing,
                start: Timestamp::from_millis(member.first),
                end: Timestamp::from_millis(ts),
                source: String::new(),
                accounts: vec![play.member_id.clone()],
                account_count: 1,
                ips: Vec::new(),
                asns: Vec::new(),
                countries,
                events: member.overlap_days.len() as u64,
                reason: format!(
                    "streams from different countries at the same time on {} days",
                    member.overlap_days.len()
                ),
            });
            member.reported = true;
            member.sessions = Vec::new();
        }
    }
}

impl Detector for SharingDetector {
    fn name(&self) -> &'static str {
        "account_sharing"
    }

    fn observe(&mut self, ts: i64, event: &EventBody, out: &mut Vec<Finding>) {
        match event {
            EventBody::Login(login) => self.login(ts, login, out),
            EventBody::Play(play) => self.play(ts, play, out),
            _ => {}
        }
    }

    fn finish(&mut self, _out: &mut Vec<Finding>) {}
}
