//! Members (households that pay), their profiles with latent tastes, their homes (city, ISP,
//! a stable IP address) and devices, and the state their viewing carries from one day to
//! the next (what is half watched, what was seen recently, when they last signed in).

use showrunner_model::time::DAY_MS;
use showrunner_model::{MaturityLevel, Member, Personal, Profile, Timestamp};

use crate::catalog::{Catalog, FACTORS, Factors, GENRES, KIDS_GENRES, normalize};
use crate::geo::{
    COUNTRIES, DEVICE_TABLET, DEVICE_TV, DEVICE_WEIGHTS, FIXED_ISP_WEIGHTS, Networks,
    country_weights,
};
use crate::names;
use crate::random::{
    Stream, SynthRng, chance, index, int_between, lognormal, normal, pick_weighted, rng_for,
    uniform, uniform_between,
};

/// A place an account is used from: a home with one IP address on one ISP.
#[derive(Debug, Clone)]
pub struct Household {
    pub country: usize,
    pub city: usize,
    pub latitude: f64,
    pub longitude: f64,
    /// Index into `Networks::isps[country]`.
    pub isp: usize,
    pub ip: String,
    pub devices: Vec<u8>,
}

impl Household {
    pub fn new(rng: &mut SynthRng, networks: &Networks, country: usize, city: usize) -> Household {
        let place = &COUNTRIES[country].cities[city];
        let isp = pick_weighted(rng, &FIXED_ISP_WEIGHTS);
        let first_octet = networks.isps[country][isp].first_octet;
        let ip = format!(
            "{first_octet}.{}.{}.{}",
            int_between(rng, 0, 255),
            int_between(rng, 0, 255),
            int_between(rng, 1, 254)
        );
        let mut devices: Vec<u8> = Vec::new();
        for _ in 0..int_between(rng, 1, 4) {
            let device = pick_weighted(rng, &DEVICE_WEIGHTS) as u8;
            if !devices.contains(&device) {
                devices.push(device);
            }
        }
        Household {
            country,
            city,
            latitude: place.latitude + uniform_between(rng, -0.04, 0.04),
            longitude: place.longitude + uniform_between(rng, -0.04, 0.04),
            isp,
            ip,
            devices,
        }
    }

    pub fn city_name(&self) -> &'static str {
        COUNTRIES[self.country].cities[self.city].name
    }
}

/// Something a profile started and may come back to: a movie or series episode, with the
/// position to resume from (0 for "next episode").
#[derive(Debug, Clone, Copy)]
pub struct InProgress {
    pub title: u32,
    pub episode: u16,
    pub position_s: u32,
}

pub const RECENT_CAPACITY: usize = 24;
pub const IN_PROGRESS_CAPACITY: usize = 5;

#[derive(Debug, Clone)]
pub struct ProfileState {
    pub id: String,
    pub name: String,
    pub kids: bool,
    pub taste: Factors,
    pub favourite_genres: Vec<u8>,
    pub favourite_weights: Vec<f64>,
    /// How much this profile watches relative to the others of the account.
    pub usage: f64,
    pub device: u8,
    pub in_progress: Vec<InProgress>,
    /// Titles finished recently (a ring), which the profile rarely watches again.
    pub recent: Vec<u32>,
    pub recent_next: usize,
    /// The profile is watching something until then; a new sitting starts after it.
    pub busy_until: i64,
}

impl ProfileState {
    pub fn remember_finished(&mut self, title: u32) {
        if self.recent.len() < RECENT_CAPACITY {
            self.recent.push(title);
        } else {
            self.recent[self.recent_next] = title;
        }
        self.recent_next = (self.recent_next + 1) % RECENT_CAPACITY;
    }

    pub fn last_finished(&self) -> Option<u32> {
        if self.recent.is_empty() {
            None
        } else {
            let last = (self.recent_next + RECENT_CAPACITY - 1) % RECENT_CAPACITY;
            self.recent
                .get(last)
                .copied()
                .or_else(|| self.recent.last().copied())
        }
    }

    pub fn set_in_progress(&mut self, entry: InProgress) {
        self.in_progress
            .retain(|existing| existing.title != entry.title);
        if self.in_progress.len() >= IN_PROGRESS_CAPACITY {
            self.in_progress.remove(0);
        }
        self.in_progress.push(entry);
    }

    pub fn clear_in_progress(&mut self, title: u32) {
        self.in_progress.retain(|existing| existing.title != title);
    }
}

/// What the generator does with a member beyond ordinary viewing.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    Normal,
    /// Used regularly from two or three distant households.
    Shared,
    /// One device plays around the clock in `[start, end)`.
    NonHuman {
        start: i64,
        end: i64,
        device: u8,
    },
}

#[derive(Debug, Clone)]
pub struct MemberState {
    pub index: u32,
    pub id: String,
    pub email: String,
    pub name: String,
    pub country: usize,
    pub signup_at: i64,
    pub plan: &'static str,
    /// The home first; shared accounts have more.
    pub households: Vec<Household>,
    pub profiles: Vec<ProfileState>,
    /// Relative viewing intensity (mean about 1).
    pub activity: f64,
    pub next_login_at: i64,
    /// Which household the last sign-in came from: moving to another one needs a new one.
    pub last_login_household: usize,
    pub role: Role,
}

const PLANS: [&str; 4] = ["basic", "standard", "premium", "ads"];
const PLAN_WEIGHTS: [f64; 4] = [0.2, 0.35, 0.25, 0.2];

impl MemberState {
    pub fn generate(
        seed: u64,
        member_index: u32,
        start: i64,
        catalog: &Catalog,
        networks: &Networks,
    ) -> MemberState {
        let mut rng = rng_for(seed, Stream::Members, u64::from(member_index), 0);
        let country = pick_weighted(&mut rng, &country_weights());
        let city_weights: Vec<f64> = (0..COUNTRIES[country].cities.len())
            .map(|c| 1.0 / (c as f64 + 1.0))
            .collect();
        let city = pick_weighted(&mut rng, &city_weights);
        let home = Household::new(&mut rng, networks, country, city);
        let first = names::FIRST_NAMES[index(&mut rng, names::FIRST_NAMES.len())];
        let last = names::LAST_NAMES[index(&mut rng, names::LAST_NAMES.len())];
        let id = format!("m{}", member_index + 1);
        let email = format!(
            "{}.{}@example.com",
            names::ascii_fold(first),
            member_index + 1
        );
        let signup_at =
            start - DAY_MS - (uniform(&mut rng).powf(1.5) * 3.0 * 365.0 * DAY_MS as f64) as i64;
        let profile_count = 1 + pick_weighted(&mut rng, &[0.3, 0.25, 0.2, 0.15, 0.1]);
        let has_kids = profile_count >= 2 && chance(&mut rng, 0.35);
        let mut profiles = Vec::with_capacity(profile_count);
        for profile_index in 0..profile_count {
            let kids = has_kids && profile_index == profile_count - 1;
            let name = if kids {
                "Kids".to_string()
            } else if profile_index == 0 {
                first.to_string()
            } else {
                names::FIRST_NAMES[index(&mut rng, names::FIRST_NAMES.len())].to_string()
            };
            profiles.push(new_profile(
                &mut rng,
                catalog,
                &home,
                format!("{id}-p{}", profile_index + 1),
                name,
                kids,
                profile_index,
            ));
        }
        let activity = if chance(&mut rng, 0.08) {
            0.08
        } else {
            lognormal(&mut rng, 0.85, 0.6)
        };
        MemberState {
            index: member_index,
            email,
            name: format!("{first} {last}"),
            country,
            signup_at,
            plan: PLANS[pick_weighted(&mut rng, &PLAN_WEIGHTS)],
            households: vec![home],
            profiles,
            activity,
            next_login_at: start + (uniform(&mut rng) * 3.0 * DAY_MS as f64) as i64,
            last_login_household: 0,
            role: Role::Normal,
            id,
        }
    }

    pub fn to_record(&self) -> Member {
        Member {
            id: self.id.clone(),
            email: Some(Personal::new(self.email.clone())),
            name: Some(Personal::new(self.name.clone())),
            country: Some(COUNTRIES[self.country].code.to_string()),
            signup_at: Some(Timestamp::from_millis(self.signup_at)),
            plan: Some(self.plan.to_string()),
            profiles: self
                .profiles
                .iter()
                .map(|profile| Profile {
                    id: profile.id.clone(),
                    name: Some(Personal::new(profile.name.clone())),
                    maturity: if profile.kids {
                        MaturityLevel::Kids
                    } else {
                        MaturityLevel::Adults
                    },
                })
                .collect(),
        }
    }
}

fn new_profile(
    rng: &mut SynthRng,
    catalog: &Catalog,
    home: &Household,
    id: String,
    name: String,
    kids: bool,
    profile_index: usize,
) -> ProfileState {
    let favourite_count = if kids {
        2
    } else {
        1 + pick_weighted(rng, &[0.3, 0.45, 0.25])
    };
    let mut favourite_genres: Vec<u8> = Vec::new();
    let mut favourite_weights = Vec::new();
    for _ in 0..favourite_count * 3 {
        if favourite_genres.len() >= favourite_count {
            break;
        }
        let genre = if kids {
            KIDS_GENRES[index(rng, KIDS_GENRES.len())]
        } else {
            pick_weighted(rng, &catalog.favourite_share)
        };
        // Adults rarely pick children's genres as favourites.
        if favourite_genres.contains(&(genre as u8)) || (!kids && matches!(genre, 11 | 12)) {
            continue;
        }
        favourite_genres.push(genre as u8);
        favourite_weights.push(-(uniform(rng).max(1e-9)).ln() + 0.2);
    }
    if favourite_genres.is_empty() {
        favourite_genres.push(if kids { 11 } else { 0 });
        favourite_weights.push(1.0);
    }
    let mut taste = [0.0f32; FACTORS];
    let weight_sum: f64 = favourite_weights.iter().sum();
    for (genre, weight) in favourite_genres.iter().zip(&favourite_weights) {
        for (value, component) in taste
            .iter_mut()
            .zip(&catalog.genre_factors[usize::from(*genre)])
        {
            *value += (*weight / weight_sum) as f32 * component;
        }
    }
    for value in &mut taste {
        *value += 0.3 * normal(rng) as f32;
    }
    normalize(&mut taste);
    debug_assert!(
        favourite_genres
            .iter()
            .all(|genre| usize::from(*genre) < GENRES.len())
    );
    let device = if kids {
        *home
            .devices
            .iter()
            .find(|device| **device == DEVICE_TABLET || **device == DEVICE_TV)
            .unwrap_or(&home.devices[0])
    } else {
        home.devices[index(rng, home.devices.len())]
    };
    ProfileState {
        id,
        name,
        kids,
        taste,
        favourite_genres,
        favourite_weights,
        usage: if profile_index == 0 {
            1.0
        } else if kids {
            0.5
        } else {
            uniform_between(rng, 0.3, 1.0)
        },
        device,
        in_progress: Vec::new(),
        recent: Vec::with_capacity(RECENT_CAPACITY),
        recent_next: 0,
        busy_until: i64::MIN,
    }
}
