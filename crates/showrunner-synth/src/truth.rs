//! The ground truth of a run, written to `truth.json`: every injected anomaly and attack
//! with exact ids and times, the titles released during the window, and the configuration.
//! It holds no per-event data, so it stays small whatever the run's size.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use showrunner_model::Timestamp;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// `showrunner-synth <version>`.
    pub generator: String,
    pub config: TruthConfig,
    pub counts: TruthCounts,
    pub cdn_incident: CdnIncident,
    pub credential_stuffing: CredentialStuffing,
    /// Absent in truth files written before the spraying was planted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_spraying: Option<PasswordSpraying>,
    pub brute_force: BruteForce,
    /// The planted pairs (a single object in truth files written before there were several;
    /// read as a list of one).
    #[serde(deserialize_with = "one_or_many")]
    pub impossible_travel: Vec<ImpossibleTravel>,
    pub shared_accounts: Vec<SharedAccount>,
    /// Absent when the run is too small to hold two days of round-the-clock viewing.
    pub non_human_viewer: Option<NonHumanViewer>,
    pub releases: Vec<Release>,
    /// The genre members watch far more than the catalog supplies.
    pub overwatched_genre: OverwatchedGenre,
}

/// A genre adult members pick as a favourite `favourite_boost` times more often than its
/// share of the catalog would make them: its hours viewed per available title stand out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverwatchedGenre {
    pub genre: String,
    pub favourite_boost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthConfig {
    pub seed: u64,
    pub events_target: u64,
    pub members: u32,
    pub titles: u32,
    pub days: u32,
    pub start: Timestamp,
    pub end: Timestamp,
    pub heartbeat_s: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthCounts {
    pub titles: u64,
    pub episodes: u64,
    pub members: u64,
    pub profiles: u64,
    pub events: u64,
    pub events_by_kind: BTreeMap<String, u64>,
}

/// One CDN degraded in one country: startup several times slower, rebuffering and failed
/// starts far more frequent, for sessions started in `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdnIncident {
    pub cdn: String,
    pub country: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub startup_multiplier: f64,
    pub failure_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountRef {
    pub account: String,
    pub member_id: String,
}

/// Many accounts tried from hundreds of hosting IPs in a short window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialStuffing {
    pub start: Timestamp,
    pub end: Timestamp,
    pub attempts: u64,
    pub attacker_ip_count: u64,
    pub attacker_ips: Vec<String>,
    pub attacker_asns: Vec<u32>,
    /// Distinct account identifiers tried (existing or not).
    pub targeted_accounts: u64,
    /// Of those, how many belong to real members.
    pub existing_accounts_targeted: u64,
    pub successful_accounts: Vec<AccountRef>,
}

/// Low-and-slow password spraying through residential proxies: a few common passwords tried
/// on many real accounts over hours, every attempt from another home IP (any country, any
/// ISP), all from one script's user agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordSpraying {
    pub start: Timestamp,
    pub end: Timestamp,
    pub attempts: u64,
    pub user_agent: String,
    pub ips: Vec<String>,
    pub targeted_accounts: u64,
    pub successful_accounts: Vec<AccountRef>,
}

/// One IP hammering one real account with wrong passwords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BruteForce {
    pub account: String,
    pub member_id: String,
    pub ip: String,
    pub asn: u32,
    pub start: Timestamp,
    pub end: Timestamp,
    pub attempts: u64,
    /// Whether the run ended with a successful sign-in (the last attempt).
    pub succeeded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginPlace {
    pub ts: Timestamp,
    pub ip: String,
    pub city: String,
    pub country: String,
    pub latitude: f64,
    pub longitude: f64,
    pub asn: u32,
}

/// Two successful sign-ins of one account, from two continents, less than an hour apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpossibleTravel {
    pub account: String,
    pub member_id: String,
    /// The account's planted sign-in at home, more than a day before `first` (so the
    /// account is past a one-day learning period). Absent in older truth files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_at: Option<Timestamp>,
    pub first: LoginPlace,
    pub second: LoginPlace,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdPlace {
    pub city: String,
    pub country: String,
    pub ip: String,
    pub latitude: f64,
    pub longitude: f64,
}

/// An account used regularly from several distant households (the first is the home).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedAccount {
    pub account: String,
    pub member_id: String,
    pub households: Vec<HouseholdPlace>,
}

/// One member's device playing around the clock in `[start, end)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NonHumanViewer {
    pub member_id: String,
    pub profile_id: String,
    pub device: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub title_id: String,
    pub name: String,
    pub released_at: Timestamp,
}

fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        Many(Vec<T>),
        One(T),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::Many(items) => items,
        OneOrMany::One(item) => vec![item],
    })
}
