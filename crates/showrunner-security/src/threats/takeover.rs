//! Account takeover signals on a successful sign-in:
//! - **after a failure burst on the account**: several failures on it shortly before;
//! - **from an attacking source**: the IP or user agent it came from is failing across many
//!   accounts (credential stuffing that found a working password). A source can be seen to
//!   attack only after its first attempts, so successes from it within its window are
//!   reported when it crosses the threshold (a delayed, not a look-ahead, finding);
//! - **new device and new country**: an account past its learning period signs in from a
//!   device type and a country it has never signed in from.
//!
//! One finding per account per cool-down, naming every signal that fired.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use showrunner_model::time::{DAY_MS, HOUR_MS};
use showrunner_model::{EventBody, Login, LoginOutcome, Timestamp};

use super::{Detector, is_failure, minutes};
use crate::{Finding, FindingKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TakeoverConfig {
    /// Failures on the account within this many minutes before a success...
    pub burst_window_minutes: i64,
    /// ...at least this many, make the success suspect.
    pub burst_failures: usize,
    /// A source (IP or user agent) with this many distinct failing accounts within
    /// `source_window_minutes`, and at least `source_failure_ratio` of its attempts failed,
    /// is attacking: its successes are suspect.
    pub source_min_accounts: usize,
    pub source_window_minutes: i64,
    pub source_failure_ratio: f64,
    /// New device plus new country counts only for accounts seen this long ago...
    pub learning_hours: i64,
    /// ...with at least this many successful sign-ins.
    pub learning_successes: u32,
    /// At most one finding per account within this many hours.
    pub cooldown_hours: i64,
}

impl Default for TakeoverConfig {
    fn default() -> Self {
        TakeoverConfig {
            burst_window_minutes: 30,
            burst_failures: 5,
            source_min_accounts: 5,
            source_window_minutes: 30,
            source_failure_ratio: 0.6,
            learning_hours: 72,
            learning_successes: 2,
            cooldown_hours: 24,
        }
    }
}

const MAX_KNOWN: usize = 16;
const MAX_PENDING_SUCCESSES: usize = 256;

#[derive(Default)]
struct Profile {
    first_seen: i64,
    successes: u32,
    devices: Vec<String>,
    countries: Vec<String>,
    failures: VecDeque<i64>,
    reported_at: Option<i64>,
}

#[derive(Default)]
struct SourceState {
    window: VecDeque<(i64, String, bool)>,
    failed_accounts: HashMap<String, u32>,
    failures: usize,
    successes: VecDeque<(i64, Login)>,
}

impl SourceState {
    fn expire(&mut self, now: i64, window_ms: i64) {
        while self
            .window
            .front()
            .is_some_and(|(ts, _, _)| *ts <= now - window_ms)
        {
            if let Some((_, account, failed)) = self.window.pop_front()
                && failed
            {
                self.failures -= 1;
                if let Some(count) = self.failed_accounts.get_mut(&account) {
                    *count -= 1;
                    if *count == 0 {
                        self.failed_accounts.remove(&account);
                    }
                }
            }
        }
        while self
            .successes
            .front()
            .is_some_and(|(ts, _)| *ts <= now - window_ms)
        {
            self.successes.pop_front();
        }
    }

    fn attacking(&self, config: &TakeoverConfig) -> bool {
        !self.window.is_empty()
            && self.failed_accounts.len() >= config.source_min_accounts
            && self.failures as f64 / self.window.len() as f64 >= config.source_failure_ratio
    }
}

pub struct TakeoverDetector {
    config: TakeoverConfig,
    profiles: HashMap<String, Profile>,
    sources: HashMap<String, SourceState>,
    next_sweep: i64,
    next_profile_sweep: i64,
}

impl TakeoverDetector {
    pub fn new(config: TakeoverConfig) -> TakeoverDetector {
        TakeoverDetector {
            config,
            profiles: HashMap::new(),
            sources: HashMap::new(),
            next_sweep: i64::MIN,
            next_profile_sweep: i64::MIN,
        }
    }

    fn sweep(&mut self, now: i64) {
        let window_ms = minutes(self.config.source_window_minutes);
        self.sources.retain(|_, state| {
            state.expire(now, window_ms);
            !state.window.is_empty()
        });
        // Profiles are many (one per account that ever signed in): age them hourly.
        if now < self.next_profile_sweep {
            return;
        }
        self.next_profile_sweep = now + HOUR_MS;
        let burst_ms = minutes(self.config.burst_window_minutes);
        for profile in self.profiles.values_mut() {
            while profile
                .failures
                .front()
                .is_some_and(|ts| *ts <= now - burst_ms)
            {
                profile.failures.pop_front();
            }
        }
        // Accounts known only by failures (mostly made-up identifiers) are dropped once
        // their failures age out.
        self.profiles
            .retain(|_, profile| profile.successes > 0 || !profile.failures.is_empty());
    }

    fn report(&mut self, ts: i64, login: &Login, why: String, out: &mut Vec<Finding>) {
        let cooldown = self.config.cooldown_hours * HOUR_MS;
        let profile = self.profiles.entry(login.account.clone()).or_default();
        if profile
            .reported_at
            .is_some_and(|reported| ts - reported < cooldown)
        {
            return;
        }
        profile.reported_at = Some(ts);
        out.push(Finding {
            kind: FindingKind::AccountTakeover,
            start: Timestamp::from_millis(ts),
            end: Timestamp::from_millis(ts),
            source: String::new(),
            accounts: vec![login.account.clone()],
            account_count: 1,
            ips: vec![login.ip.clone()],
            asns: login.asn.into_iter().collect(),
            countries: login.country.iter().cloned().collect(),
            events: 1,
            reason: why,
        });
    }
}

/// The sources a success is judged by: its IP and its user agent. Not its ASN: a home ISP's
/// network is shared by many members, and a spraying campaign through residential proxies
/// can make a quiet ISP's night look mostly failed, which would throw suspicion on every
/// member signing in through it.
fn source_keys(login: &Login) -> Vec<String> {
    let mut keys = vec![format!("ip {}", login.ip)];
    if let Some(agent) = &login.user_agent {
        keys.push(format!("user_agent {agent}"));
    }
    keys
}

impl Detector for TakeoverDetector {
    fn name(&self) -> &'static str {
        "account_takeover"
    }

    fn observe(&mut self, ts: i64, event: &EventBody, out: &mut Vec<Finding>) {
        let EventBody::Login(login) = event else {
            return;
        };
        if ts >= self.next_sweep {
            self.sweep(ts);
            self.next_sweep = ts + minutes(1);
        }
        let config = self.config.clone();
        let window_ms = minutes(config.source_window_minutes);
        let failed = is_failure(login.outcome);
        let mut reasons: Vec<String> = Vec::new();
        let mut delayed: Vec<(i64, Login, String)> = Vec::new();

        // The sources: update, and see whether this attempt makes one an attacker.
        for key in source_keys(login) {
            let state = self.sources.entry(key.clone()).or_default();
            state.expire(ts, window_ms);
            let was_attacking = state.attacking(&config);
            state.window.push_back((ts, login.account.clone(), failed));
            if failed {
                state.failures += 1;
                *state
                    .failed_accounts
                    .entry(login.account.clone())
                    .or_insert(0) += 1;
            }
            let attacking = state.attacking(&config);
            let why = || {
                format!(
                    "signed in from {key}, where {} distinct accounts failed within {} min",
                    state.failed_accounts.len(),
                    config.source_window_minutes
                )
            };
            if attacking && !was_attacking {
                for (at, earlier) in &state.successes {
                    delayed.push((*at, earlier.clone(), why()));
                }
                state.successes.clear();
            }
            if login.outcome == LoginOutcome::Success {
                if attacking {
                    reasons.push(why());
                } else if state.successes.len() < MAX_PENDING_SUCCESSES {
                    state.successes.push_back((ts, login.clone()));
                }
            }
        }
        for (at, earlier, why) in delayed {
            self.report(at, &earlier, why, out);
        }

        let profile = self.profiles.entry(login.account.clone()).or_default();
        if failed {
            if profile.successes == 0 && profile.failures.is_empty() {
                profile.first_seen = ts;
            }
            profile.failures.push_back(ts);
            let burst_ms = minutes(config.burst_window_minutes);
            while profile
                .failures
                .front()
                .is_some_and(|at| *at <= ts - burst_ms)
            {
                profile.failures.pop_front();
            }
            return;
        }
        if login.outcome != LoginOutcome::Success {
            return;
        }
        if profile.failures.len() >= config.burst_failures {
            reasons.push(format!(
                "succeeded after {} failures within {} min",
                profile.failures.len(),
                config.burst_window_minutes
            ));
        }
        if profile.successes == 0 {
            profile.first_seen = ts;
        }
        let learned = ts - profile.first_seen >= config.learning_hours * HOUR_MS
            && profile.successes >= config.learning_successes;
        let new_device = login
            .device
            .as_ref()
            .is_some_and(|device| !profile.devices.contains(device));
        let new_country = login
            .country
            .as_ref()
            .is_some_and(|country| !profile.countries.contains(country));
        if learned && new_device && new_country {
            reasons.push(format!(
                "new device {} and new country {} for an account known for {} days",
                login.device.as_deref().unwrap_or("?"),
                login.country.as_deref().unwrap_or("?"),
                (ts - profile.first_seen) / DAY_MS
            ));
        }
        profile.successes = profile.successes.saturating_add(1);
        profile.failures.clear();
        if let Some(device) = &login.device
            && new_device
            && profile.devices.len() < MAX_KNOWN
        {
            profile.devices.push(device.clone());
        }
        if let Some(country) = &login.country
            && new_country
            && profile.countries.len() < MAX_KNOWN
        {
            profile.countries.push(country.clone());
        }
        if !reasons.is_empty() {
            self.report(ts, login, reasons.join("; "), out);
        }
    }

    fn finish(&mut self, _out: &mut Vec<Finding>) {}
}
