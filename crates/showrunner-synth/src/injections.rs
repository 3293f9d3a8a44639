//! The planted anomalies and attacks: the CDN incident, shared accounts, the non-human
//! viewer (these three change how members' own events are generated), and the credential
//! stuffing wave, the brute-force run and the impossible-travel pairs (extra login events).
//! Everything is drawn from its own seeded stream and described exactly in the truth.

use std::collections::HashSet;

use showrunner_model::EventKind;
use showrunner_model::Timestamp;
use showrunner_model::time::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};

use crate::geo::{ATTACK_USER_AGENTS, CDNS, COUNTRIES, DEVICE_TV, DEVICES, HOSTING, Networks};
use crate::json::{field_coordinate, field_plain, field_text, field_u64};
use crate::members::{Household, MemberState, Role};
use crate::names;
use crate::random::{Stream, SynthRng, chance, index, int_between, rng_for, uniform_between};
use crate::truth::{
    AccountRef, BruteForce, CdnIncident, CredentialStuffing, HouseholdPlace, ImpossibleTravel,
    LoginPlace, NonHumanViewer, PasswordSpraying, SharedAccount,
};
use crate::viewing::EventSink;
use crate::world::{Incident, World};

/// Startup slows down by about this factor during the incident (median of a log-normal).
pub const INCIDENT_STARTUP_MULTIPLIER: f64 = 8.0;
pub const INCIDENT_FAILURE_RATE: f64 = 0.3;

/// Runs smaller than this have no non-human viewer: its two days of round-the-clock plays
/// would be a visible share of all events.
pub const NON_HUMAN_MIN_EVENTS: u64 = 40_000;

/// Places the CDN incident: in one of the three biggest countries, on that country's main
/// CDN, for one hour starting at 20h or 21h local time, on a day inside the window.
pub fn plan_incident(seed: u64, start: i64, days: u32, networks: &Networks) -> Incident {
    let mut rng = rng_for(seed, Stream::Injections, 1, 0);
    let mut by_weight: Vec<usize> = (0..COUNTRIES.len()).collect();
    by_weight.sort_by(|a, b| {
        COUNTRIES[*b]
            .weight
            .total_cmp(&COUNTRIES[*a].weight)
            .then(a.cmp(b))
    });
    // Of the three biggest countries, the one whose main CDN carries the most sessions, so
    // that the hour holds enough sessions to see the incident even in a small run.
    let main_cdn_sessions = |country: usize| {
        let weights = &networks.cdn_weights[country];
        COUNTRIES[country].weight * weights[networks.main_cdn(country)]
            / weights.iter().sum::<f64>()
    };
    let country = by_weight[..3]
        .iter()
        .copied()
        .max_by(|a, b| main_cdn_sessions(*a).total_cmp(&main_cdn_sessions(*b)))
        .unwrap_or(0);
    let cdn = networks.main_cdn(country);
    let day = if days >= 3 {
        int_between(&mut rng, 1, u64::from(days) - 2)
    } else {
        0
    } as i64;
    let local_hour = 20 + int_between(&mut rng, 0, 1) as i64;
    let day_start = start + day * DAY_MS;
    let offset_ms = COUNTRIES[country].utc_offset_minutes * MINUTE_MS;
    // The first instant of the day (UTC, rounded to the minute) whose local hour is the
    // chosen one.
    let local_start = (local_hour * HOUR_MS - offset_ms).rem_euclid(DAY_MS);
    let from_day_start = (local_start - day_start.rem_euclid(DAY_MS)).rem_euclid(DAY_MS);
    let mut incident_start = day_start + from_day_start;
    if incident_start + HOUR_MS > start + i64::from(days) * DAY_MS {
        incident_start = start + i64::from(days) * DAY_MS - HOUR_MS;
    }
    Incident {
        cdn,
        country,
        start: incident_start,
        end: incident_start + HOUR_MS,
    }
}

pub fn incident_truth(incident: &Incident) -> CdnIncident {
    CdnIncident {
        cdn: CDNS[incident.cdn].to_string(),
        country: COUNTRIES[incident.country].code.to_string(),
        start: Timestamp::from_millis(incident.start),
        end: Timestamp::from_millis(incident.end),
        startup_multiplier: INCIDENT_STARTUP_MULTIPLIER,
        failure_rate: INCIDENT_FAILURE_RATE,
    }
}

/// Everything planted besides the incident, with the extra login events by day.
#[derive(Debug)]
pub struct Injections {
    pub stuffing: CredentialStuffing,
    pub spraying: PasswordSpraying,
    pub brute_force: BruteForce,
    pub impossible_travel: Vec<ImpossibleTravel>,
    pub shared_accounts: Vec<SharedAccount>,
    pub non_human: Option<NonHumanViewer>,
    /// Rendered login events of the attacks, one sink per day.
    pub login_events_by_day: Vec<EventSink>,
    /// The spraying's login events, one sink per day. Drawn from its own stream and left
    /// out of the viewing calibration, so adding it changed no other event of a run.
    pub spraying_events_by_day: Vec<EventSink>,
}

impl Injections {
    pub fn login_event_count(&self) -> u64 {
        self.login_events_by_day.iter().map(EventSink::total).sum()
    }
}

fn distinct_member(rng: &mut SynthRng, member_count: usize, taken: &mut Vec<usize>) -> usize {
    loop {
        let candidate = index(rng, member_count);
        if !taken.contains(&candidate) || taken.len() >= member_count {
            taken.push(candidate);
            return candidate;
        }
    }
}

fn day_of(world: &World, ts: i64) -> usize {
    ((ts - world.start).div_euclid(DAY_MS)).clamp(0, i64::from(world.days) - 1) as usize
}

struct LoginLine<'a> {
    account: &'a str,
    outcome: &'a str,
    ip: &'a str,
    country: &'a str,
    city: &'a str,
    latitude: f64,
    longitude: f64,
    asn: u32,
    device: &'a str,
    user_agent: &'a str,
}

fn emit_login_line(sink: &mut EventSink, ts: i64, login: &LoginLine) {
    sink.emit(ts, EventKind::Login, |out| {
        field_text(out, "account", login.account);
        field_plain(out, "outcome", login.outcome);
        field_plain(out, "ip", login.ip);
        field_plain(out, "country", login.country);
        field_text(out, "city", login.city);
        field_coordinate(out, "latitude", login.latitude);
        field_coordinate(out, "longitude", login.longitude);
        field_u64(out, "asn", u64::from(login.asn));
        field_plain(out, "device", login.device);
        field_text(out, "user_agent", login.user_agent);
    });
}

fn household_place(household: &Household) -> HouseholdPlace {
    HouseholdPlace {
        city: household.city_name().to_string(),
        country: COUNTRIES[household.country].code.to_string(),
        ip: household.ip.clone(),
        latitude: household.latitude,
        longitude: household.longitude,
    }
}

/// Assigns roles to members (shared accounts, the non-human viewer) and renders the attack
/// logins.
pub fn plan(world: &World, members: &mut [MemberState], events_target: u64) -> Injections {
    let mut rng = rng_for(world.seed, Stream::Injections, 2, 0);
    let member_count = members.len();
    let mut taken: Vec<usize> = Vec::new();
    let mut sinks: Vec<EventSink> = (0..world.days).map(|_| EventSink::new(true)).collect();

    // Shared accounts: the home plus one or two distant households.
    let shared_count = (member_count / 1000).clamp(1, 12);
    let mut shared_accounts = Vec::with_capacity(shared_count);
    for _ in 0..shared_count {
        let chosen = distinct_member(&mut rng, member_count, &mut taken);
        let member = &mut members[chosen];
        member.role = Role::Shared;
        // Several households share it, so it is used a lot.
        member.activity = member.activity.max(2.0);
        let home_country = member.households[0].country;
        let home_city = member.households[0].city;
        for extra in 0..int_between(&mut rng, 1, 2) {
            let (country, city) = if extra == 0 {
                let cities = COUNTRIES[home_country].cities.len();
                (
                    home_country,
                    (home_city + 1 + index(&mut rng, cities - 1)) % cities,
                )
            } else {
                let continent = COUNTRIES[home_country].continent;
                let neighbours: Vec<usize> = (0..COUNTRIES.len())
                    .filter(|c| *c != home_country && COUNTRIES[*c].continent == continent)
                    .collect();
                let country = if neighbours.is_empty() {
                    home_country
                } else {
                    neighbours[index(&mut rng, neighbours.len())]
                };
                (country, index(&mut rng, COUNTRIES[country].cities.len()))
            };
            let household = Household::new(&mut rng, &world.networks, country, city);
            member.households.push(household);
        }
        shared_accounts.push(SharedAccount {
            account: member.email.clone(),
            member_id: member.id.clone(),
            households: member.households.iter().map(household_place).collect(),
        });
    }

    // The non-human viewer: two or three whole UTC days on one TV.
    let mut non_human = None;
    if events_target >= NON_HUMAN_MIN_EVENTS && world.days >= 2 {
        let chosen = distinct_member(&mut rng, member_count, &mut taken);
        let first_day = if world.days >= 5 {
            int_between(&mut rng, 1, u64::from(world.days) - 4) as u32
        } else {
            0
        };
        let length = (world.days - first_day).min(2 + int_between(&mut rng, 0, 1) as u32);
        let start = world.day_start(first_day);
        let end = world.day_start(first_day + length);
        let member = &mut members[chosen];
        member.role = Role::NonHuman {
            start,
            end,
            device: DEVICE_TV,
        };
        if !member.households[0].devices.contains(&DEVICE_TV) {
            member.households[0].devices.push(DEVICE_TV);
        }
        non_human = Some(NonHumanViewer {
            member_id: member.id.clone(),
            profile_id: member.profiles[0].id.clone(),
            device: DEVICES[usize::from(DEVICE_TV)].to_string(),
            start: Timestamp::from_millis(start),
            end: Timestamp::from_millis(end),
        });
    }

    let impossible_travel = plan_impossible_travel(
        world,
        members,
        &mut rng,
        &mut taken,
        &mut sinks,
        events_target,
    );
    let brute_force = plan_brute_force(
        world,
        members,
        &mut rng,
        &mut taken,
        &mut sinks,
        events_target,
    );
    let stuffing = plan_stuffing(world, members, &mut rng, &mut sinks, events_target);
    let mut spraying_sinks: Vec<EventSink> =
        (0..world.days).map(|_| EventSink::new(true)).collect();
    let spraying = plan_spraying(world, members, &mut spraying_sinks, events_target);
    Injections {
        stuffing,
        spraying,
        spraying_events_by_day: spraying_sinks,
        brute_force,
        impossible_travel,
        shared_accounts,
        non_human,
        login_events_by_day: sinks,
    }
}

fn random_window_start(world: &World, rng: &mut SynthRng, latest_in_day: i64) -> i64 {
    let day = if world.days >= 3 {
        int_between(rng, 1, u64::from(world.days) - 2)
    } else {
        0
    } as u32;
    let offset = int_between(rng, 0, (latest_in_day / MINUTE_MS) as u64) as i64 * MINUTE_MS;
    world.day_start(day) + offset
}

/// How many impossible-travel pairs a run of `events_target` events holds: enough to
/// measure recall on, one per 40,000 events, at least 5 and at most 50.
pub fn impossible_travel_count(events_target: u64) -> usize {
    (events_target / 40_000).clamp(5, 50) as usize
}

fn plan_impossible_travel(
    world: &World,
    members: &[MemberState],
    rng: &mut SynthRng,
    taken: &mut Vec<usize>,
    sinks: &mut [EventSink],
    events_target: u64,
) -> Vec<ImpossibleTravel> {
    let count = impossible_travel_count(events_target).min(members.len() / 4);
    (0..count)
        .map(|_| plan_travel_pair(world, members, rng, taken, sinks))
        .collect()
}

/// One pair: a sign-in at home, then 20–50 minutes later one from another continent. The
/// account is past any detector's learning period: it signed in at home (a planted
/// sign-in, `learned_at`) one to two days before the pair, so the pair is travel to judge,
/// not a new account's first steps.
fn plan_travel_pair(
    world: &World,
    members: &[MemberState],
    rng: &mut SynthRng,
    taken: &mut Vec<usize>,
    sinks: &mut [EventSink],
) -> ImpossibleTravel {
    let chosen = distinct_member(rng, members.len(), taken);
    let member = &members[chosen];
    let home = &members[chosen].households[0];
    let home_continent = COUNTRIES[home.country].continent;
    let abroad: Vec<usize> = (0..COUNTRIES.len())
        .filter(|c| COUNTRIES[*c].continent != home_continent)
        .collect();
    let foreign_country = abroad[index(rng, abroad.len())];
    let foreign = Household::new(rng, &world.networks, foreign_country, 0);
    // The pair falls on day 2 or later (when the window has room), so that the sign-in
    // that teaches the account its home fits in the window more than a day before it.
    let day = if world.days >= 4 {
        int_between(rng, 2, u64::from(world.days) - 2)
    } else {
        u64::from(world.days.saturating_sub(1))
    } as u32;
    let offset = int_between(rng, 0, (20 * HOUR_MS / MINUTE_MS) as u64) as i64 * MINUTE_MS;
    let first_ts = world.day_start(day) + offset + int_between(rng, 0, 59_999) as i64;
    let second_ts =
        first_ts + int_between(rng, 20, 50) as i64 * MINUTE_MS + int_between(rng, 0, 59_999) as i64;
    let learned_ts = (first_ts
        - int_between(rng, 25 * 60, 47 * 60) as i64 * MINUTE_MS
        - int_between(rng, 0, 59_999) as i64)
        .max(world.start);
    let home_device = home.devices[0];
    let mut place = |household: &Household, ts: i64, device: u8, sinks: &mut [EventSink]| {
        let isp = &world.networks.isps[household.country][household.isp];
        let user_agent = crate::geo::user_agent_for(rng, device);
        emit_login_line(
            &mut sinks[day_of(world, ts)],
            ts,
            &LoginLine {
                account: &member.email,
                outcome: "success",
                ip: &household.ip,
                country: COUNTRIES[household.country].code,
                city: household.city_name(),
                latitude: household.latitude,
                longitude: household.longitude,
                asn: isp.asn,
                device: DEVICES[usize::from(device)],
                user_agent,
            },
        );
        LoginPlace {
            ts: Timestamp::from_millis(ts),
            ip: household.ip.clone(),
            city: household.city_name().to_string(),
            country: COUNTRIES[household.country].code.to_string(),
            latitude: household.latitude,
            longitude: household.longitude,
            asn: isp.asn,
        }
    };
    let learned = place(home, learned_ts, home_device, sinks);
    let first = place(home, first_ts, home_device, sinks);
    let second = place(&foreign, second_ts, 2, sinks);
    ImpossibleTravel {
        account: member.email.clone(),
        member_id: member.id.clone(),
        learned_at: Some(learned.ts),
        first,
        second,
    }
}

fn plan_brute_force(
    world: &World,
    members: &[MemberState],
    rng: &mut SynthRng,
    taken: &mut Vec<usize>,
    sinks: &mut [EventSink],
    events_target: u64,
) -> BruteForce {
    let chosen = distinct_member(rng, members.len(), taken);
    let member = &members[chosen];
    let host = &HOSTING[index(rng, HOSTING.len())];
    let ip = format!(
        "{}.{}.{}.{}",
        host.prefix[0],
        host.prefix[1],
        int_between(rng, 0, 255),
        int_between(rng, 1, 254)
    );
    let attempts = (events_target / 4000).clamp(20, 400);
    let succeeded = chance(rng, 0.5);
    let user_agent = ATTACK_USER_AGENTS[index(rng, ATTACK_USER_AGENTS.len())];
    let start = random_window_start(world, rng, 22 * HOUR_MS);
    let mut ts = start;
    for attempt in 0..attempts {
        if attempt > 0 {
            ts += (uniform_between(rng, 0.8, 2.5) * SECOND_MS as f64) as i64;
        }
        let outcome = if succeeded && attempt + 1 == attempts {
            "success"
        } else {
            "bad_password"
        };
        emit_login_line(
            &mut sinks[day_of(world, ts)],
            ts,
            &LoginLine {
                account: &member.email,
                outcome,
                ip: &ip,
                country: host.country,
                city: host.city.name,
                latitude: host.city.latitude,
                longitude: host.city.longitude,
                asn: host.asn,
                device: "web",
                user_agent,
            },
        );
    }
    BruteForce {
        account: member.email.clone(),
        member_id: member.id.clone(),
        ip,
        asn: host.asn,
        start: Timestamp::from_millis(start),
        end: Timestamp::from_millis(ts),
        attempts,
        succeeded,
    }
}

fn plan_stuffing(
    world: &World,
    members: &[MemberState],
    rng: &mut SynthRng,
    sinks: &mut [EventSink],
    events_target: u64,
) -> CredentialStuffing {
    let attempts = (events_target / 250).max(30);
    let ip_count = (attempts / 12).clamp(5, 2000) as usize;
    let duration = int_between(rng, 60, 120) as i64 * MINUTE_MS;
    let start = random_window_start(world, rng, 21 * HOUR_MS);
    let end = start + duration;
    // Five hosting networks carry the wave.
    let mut networks: Vec<usize> = (0..HOSTING.len()).collect();
    while networks.len() > 5 {
        networks.swap_remove(index(rng, networks.len()));
    }
    networks.sort_unstable();
    let mut seen_ips = HashSet::new();
    let mut attackers: Vec<(String, usize)> = Vec::with_capacity(ip_count);
    while attackers.len() < ip_count {
        let host = networks[index(rng, networks.len())];
        let prefix = HOSTING[host].prefix;
        let ip = format!(
            "{}.{}.{}.{}",
            prefix[0],
            prefix[1],
            int_between(rng, 0, 255),
            int_between(rng, 1, 254)
        );
        if seen_ips.insert(ip.clone()) {
            attackers.push((ip, host));
        }
    }
    let mut targeted = HashSet::new();
    let mut existing = HashSet::new();
    let mut successful: Vec<AccountRef> = Vec::new();
    for _ in 0..attempts {
        let ts = start + int_between(rng, 0, duration as u64 - 1) as i64;
        let (ip, host) = &attackers[index(rng, attackers.len())];
        let host = &HOSTING[*host];
        let (account, outcome) = if chance(rng, 0.55) {
            let first = names::ascii_fold(names::FIRST_NAMES[index(rng, names::FIRST_NAMES.len())]);
            let last = names::ascii_fold(names::LAST_NAMES[index(rng, names::LAST_NAMES.len())]);
            let domain = ["example.net", "example.org", "mail.example"][index(rng, 3)];
            (
                format!("{first}.{last}{}@{domain}", int_between(rng, 1, 9999)),
                "unknown_account",
            )
        } else {
            let member = &members[index(rng, members.len())];
            existing.insert(member.email.clone());
            if chance(rng, 0.03) {
                if !successful.iter().any(|known| known.member_id == member.id) {
                    successful.push(AccountRef {
                        account: member.email.clone(),
                        member_id: member.id.clone(),
                    });
                }
                (member.email.clone(), "success")
            } else {
                (member.email.clone(), "bad_password")
            }
        };
        targeted.insert(account.clone());
        emit_login_line(
            &mut sinks[day_of(world, ts)],
            ts,
            &LoginLine {
                account: &account,
                outcome,
                ip,
                country: host.country,
                city: host.city.name,
                latitude: host.city.latitude,
                longitude: host.city.longitude,
                asn: host.asn,
                device: "web",
                user_agent: ATTACK_USER_AGENTS[index(rng, ATTACK_USER_AGENTS.len())],
            },
        );
    }
    successful.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    CredentialStuffing {
        start: Timestamp::from_millis(start),
        end: Timestamp::from_millis(end),
        attempts,
        attacker_ip_count: attackers.len() as u64,
        attacker_ips: attackers.into_iter().map(|(ip, _)| ip).collect(),
        attacker_asns: networks.iter().map(|host| HOSTING[*host].asn).collect(),
        targeted_accounts: targeted.len() as u64,
        existing_accounts_targeted: existing.len() as u64,
        successful_accounts: successful,
    }
}

/// The user agent of the spraying script: a desktop browser string no app of the platform
/// sends.
pub const SPRAYING_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36 Edg/118.0.2088.46";

fn plan_spraying(
    world: &World,
    members: &[MemberState],
    sinks: &mut [EventSink],
    events_target: u64,
) -> PasswordSpraying {
    let mut rng = rng_for(world.seed, Stream::Injections, 3, 0);
    let attempts = (events_target / 1000).clamp(4, 5000);
    let duration = int_between(&mut rng, 4 * 60, 8 * 60) as i64 * MINUTE_MS;
    let start = random_window_start(world, &mut rng, 15 * HOUR_MS);
    let end = start + duration;
    // Two common passwords per account: half as many accounts as attempts.
    let account_count = ((attempts / 2) as usize).clamp(1, members.len());
    let mut accounts: Vec<usize> = Vec::with_capacity(account_count);
    while accounts.len() < account_count {
        let candidate = index(&mut rng, members.len());
        if !accounts.contains(&candidate) {
            accounts.push(candidate);
        }
    }
    let mut times: Vec<i64> = (0..attempts)
        .map(|_| start + int_between(&mut rng, 0, duration as u64 - 1) as i64)
        .collect();
    times.sort_unstable();
    let mut ips = Vec::with_capacity(attempts as usize);
    let mut seen_ips = HashSet::new();
    let mut successful: Vec<AccountRef> = Vec::new();
    for (attempt, ts) in times.into_iter().enumerate() {
        let member = &members[accounts[attempt % account_count]];
        // A residential proxy: a home or mobile address of any ISP in any country.
        let country = index(&mut rng, COUNTRIES.len());
        let isp = index(&mut rng, world.networks.isps[country].len());
        let network = &world.networks.isps[country][isp];
        let ip = format!(
            "{}.{}.{}.{}",
            network.first_octet,
            int_between(&mut rng, 0, 255),
            int_between(&mut rng, 0, 255),
            int_between(&mut rng, 1, 254)
        );
        let city = &COUNTRIES[country].cities[index(&mut rng, COUNTRIES[country].cities.len())];
        let succeeded = chance(&mut rng, 0.01);
        if succeeded && !successful.iter().any(|known| known.member_id == member.id) {
            successful.push(AccountRef {
                account: member.email.clone(),
                member_id: member.id.clone(),
            });
        }
        emit_login_line(
            &mut sinks[day_of(world, ts)],
            ts,
            &LoginLine {
                account: &member.email,
                outcome: if succeeded { "success" } else { "bad_password" },
                ip: &ip,
                country: COUNTRIES[country].code,
                city: city.name,
                latitude: city.latitude,
                longitude: city.longitude,
                asn: network.asn,
                device: "web",
                user_agent: SPRAYING_USER_AGENT,
            },
        );
        if seen_ips.insert(ip.clone()) {
            ips.push(ip);
        }
    }
    successful.sort_by(|a, b| a.member_id.cmp(&b.member_id));
    PasswordSpraying {
        start: Timestamp::from_millis(start),
        end: Timestamp::from_millis(end),
        attempts,
        user_agent: SPRAYING_USER_AGENT.to_string(),
        ips,
        targeted_accounts: account_count as u64,
        successful_accounts: successful,
    }
}
