//! Security analytics on the platform's own events: streaming threat detectors over `login`
//! and `play` events (credential stuffing and password spraying, brute force, account
//! takeover signals, impossible travel, account sharing), each producing [`Finding`]s with
//! their evidence.
//!
//! Pure computation: the caller reads events (a file, the store) and hands them over in time
//! order; [`Scanner`] feeds every detector and collects what they find. Every detector keeps
//! bounded state per key (an account, an IP, a network, a member), dropping what falls out
//! of its time windows, and its thresholds are fixed settings in [`SecurityConfig`]
//! (documented in `docs/security.md`); nothing is learned from labels.

pub mod eval;
pub mod threats;

use serde::{Deserialize, Serialize};
use showrunner_model::{Event, EventBody, Timestamp};

pub use threats::{
    Detector, SecurityConfig, brute_force::BruteForceConfig, sharing::SharingConfig,
    stuffing::StuffingConfig, takeover::TakeoverConfig, travel::TravelConfig,
};

/// What kind of threat a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// One source (IP, /24 subnet, ASN or user agent) failing across many accounts.
    CredentialStuffing,
    /// Many failed sign-ins on one account.
    BruteForce,
    /// A sign-in that looks like someone else got in.
    AccountTakeover,
    /// Consecutive sign-ins too far apart for the time between them.
    ImpossibleTravel,
    /// One account used from more households, or streaming from more places, than a plan
    /// allows.
    AccountSharing,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        FindingKind::CredentialStuffing,
        FindingKind::BruteForce,
        FindingKind::AccountTakeover,
        FindingKind::ImpossibleTravel,
        FindingKind::AccountSharing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::CredentialStuffing => "credential_stuffing",
            FindingKind::BruteForce => "brute_force",
            FindingKind::AccountTakeover => "account_takeover",
            FindingKind::ImpossibleTravel => "impossible_travel",
            FindingKind::AccountSharing => "account_sharing",
        }
    }
}

/// One detected threat with its evidence: who, from where, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The first and last event the finding rests on.
    pub start: Timestamp,
    pub end: Timestamp,
    /// The source the finding is about, when it is one (`ip 185.107.3.4`, `asn 209101`,
    /// `subnet 185.107.3.0/24`, `user_agent curl/8.5.0`); empty for per-account findings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Accounts involved: login identifiers, or member ids for findings from plays. Capped at
    /// [`SecurityConfig::max_evidence`]; `account_count` holds the true number.
    pub accounts: Vec<String>,
    pub account_count: u64,
    /// IP addresses involved (capped like `accounts`).
    pub ips: Vec<String>,
    pub asns: Vec<u32>,
    /// Countries involved, when the events carry them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// Events the finding rests on (sign-in attempts, overlaps, ...).
    pub events: u64,
    /// Why, in one sentence with the figures that crossed the thresholds.
    pub reason: String,
}

impl Finding {
    /// What the finding is about, as one key: for a network finding the source without
    /// its level (`185.107.3.4`, `185.107.3.0/24`), an ASN as `AS209101` and a user agent
    /// as `user_agent curl/8.5.0` (so it never reads as an account); otherwise the account
    /// (a login identifier, or a member id for findings from plays).
    pub fn subject(&self) -> String {
        if self.source.is_empty() {
            return self.accounts.first().cloned().unwrap_or_default();
        }
        match self.source.split_once(' ') {
            Some(("ip" | "subnet", rest)) => rest.to_owned(),
            Some(("asn", asn)) => format!("AS{asn}"),
            _ => self.source.clone(),
        }
    }

    /// The detector that reports this kind (its module in `threats/`).
    pub fn detector(&self) -> &'static str {
        match self.kind {
            FindingKind::CredentialStuffing => "stuffing",
            FindingKind::BruteForce => "brute_force",
            FindingKind::AccountTakeover => "takeover",
            FindingKind::ImpossibleTravel => "travel",
            FindingKind::AccountSharing => "sharing",
        }
    }
}

/// Feeds events in time order to every detector and collects their findings.
pub struct Scanner {
    detectors: Vec<Box<dyn Detector>>,
    findings: Vec<Finding>,
    last_ts: i64,
    seen: u64,
    out_of_order: u64,
}

impl Scanner {
    /// Every detector, with the given settings.
    pub fn new(config: &SecurityConfig) -> Scanner {
        Scanner::with_detectors(threats::all(config))
    }

    pub fn with_detectors(detectors: Vec<Box<dyn Detector>>) -> Scanner {
        Scanner {
            detectors,
            findings: Vec::new(),
            last_ts: i64::MIN,
            seen: 0,
            out_of_order: 0,
        }
    }

    /// Feeds one event. Only `login` and `play` events are looked at. An event older than
    /// the latest one seen is processed at the latest time seen (detectors never go back in
    /// time) and counted in [`Scanner::out_of_order`].
    pub fn observe(&mut self, event: &Event) {
        if !matches!(event.body, EventBody::Login(_) | EventBody::Play(_)) {
            return;
        }
        self.seen += 1;
        let mut ts = event.ts.millis();
        if ts < self.last_ts {
            self.out_of_order += 1;
            ts = self.last_ts;
        }
        self.last_ts = ts;
        for detector in &mut self.detectors {
            detector.observe(ts, &event.body, &mut self.findings);
        }
    }

    /// Login and play events fed so far.
    pub fn events_seen(&self) -> u64 {
        self.seen
    }

    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Closes what is still open and returns every finding, ordered by start time and kind.
    pub fn finish(mut self) -> Vec<Finding> {
        for detector in &mut self.detectors {
            detector.finish(&mut self.findings);
        }
        let mut findings = self.findings;
        findings.sort_by(|a, b| {
            (a.start, a.kind, &a.source, &a.accounts).cmp(&(
                b.start,
                b.kind,
                &b.source,
                &b.accounts,
            ))
        });
        findings
    }
}

/// Runs every detector over events already in time order.
pub fn scan<'a>(
    config: &SecurityConfig,
    events: impl IntoIterator<Item = &'a Event>,
) -> Vec<Finding> {
    let mut scanner = Scanner::new(config);
    for event in events {
        scanner.observe(event);
    }
    scanner.finish()
}
