//! Geography and networks: the countries members live in (with a UTC offset for their
//! evening peak, cities with coordinates, ISPs with ASNs), the CDNs that serve them, the
//! hosting networks attackers rent, and the devices, players and user agents in use.
//!
//! UTC offsets are standard time (no daylight saving): a one-hour error in the evening peak
//! does not matter to any consumer of the data.

use crate::random::{Stream, SynthRng, index, pick_weighted, rng_for};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continent {
    NorthAmerica,
    SouthAmerica,
    Europe,
    Asia,
    Oceania,
}

#[derive(Debug)]
pub struct City {
    pub name: &'static str,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug)]
pub struct Country {
    pub code: &'static str,
    /// Share of members (relative).
    pub weight: f64,
    pub utc_offset_minutes: i64,
    pub continent: Continent,
    /// The first city is the largest and gets the most members.
    pub cities: &'static [City],
}

const fn city(name: &'static str, latitude: f64, longitude: f64) -> City {
    City {
        name,
        latitude,
        longitude,
    }
}

pub const COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        weight: 28.0,
        utc_offset_minutes: -300,
        continent: Continent::NorthAmerica,
        cities: &[
            city("New York", 40.7128, -74.006),
            city("Los Angeles", 34.0522, -118.2437),
            city("Chicago", 41.8781, -87.6298),
            city("Houston", 29.7604, -95.3698),
        ],
    },
    Country {
        code: "GB",
        weight: 7.0,
        utc_offset_minutes: 0,
        continent: Continent::Europe,
        cities: &[
            city("London", 51.5074, -0.1278),
            city("Manchester", 53.4808, -2.2426),
            city("Glasgow", 55.8642, -4.2518),
        ],
    },
    Country {
        code: "BR",
        weight: 9.0,
        utc_offset_minutes: -180,
        continent: Continent::SouthAmerica,
        cities: &[
            city("São Paulo", -23.5505, -46.6333),
            city("Rio de Janeiro", -22.9068, -43.1729),
            city("Belo Horizonte", -19.9167, -43.9345),
        ],
    },
    Country {
        code: "DE",
        weight: 6.0,
        utc_offset_minutes: 60,
        continent: Continent::Europe,
        cities: &[
            city("Berlin", 52.52, 13.405),
            city("München", 48.1351, 11.582),
            city("Hamburg", 53.5511, 9.9937),
        ],
    },
    Country {
        code: "IN",
        weight: 9.0,
        utc_offset_minutes: 330,
        continent: Continent::Asia,
        cities: &[
            city("Mumbai", 19.076, 72.8777),
            city("Delhi", 28.7041, 77.1025),
            city("Bengaluru", 12.9716, 77.5946),
        ],
    },
    Country {
        code: "FR",
        weight: 5.0,
        utc_offset_minutes: 60,
        continent: Continent::Europe,
        cities: &[
            city("Paris", 48.8566, 2.3522),
            city("Lyon", 45.764, 4.8357),
            city("Marseille", 43.2965, 5.3698),
        ],
    },
    Country {
        code: "MX",
        weight: 6.0,
        utc_offset_minutes: -360,
        continent: Continent::NorthAmerica,
        cities: &[
            city("Ciudad de México", 19.4326, -99.1332),
            city("Guadalajara", 20.6597, -103.3496),
            city("Monterrey", 25.6866, -100.3161),
        ],
    },
    Country {
        code: "CA",
        weight: 4.0,
        utc_offset_minutes: -300,
        continent: Continent::NorthAmerica,
        cities: &[
            city("Toronto", 43.6532, -79.3832),
            city("Montréal", 45.5017, -73.5673),
            city("Vancouver", 49.2827, -123.1207),
        ],
    },
    Country {
        code: "JP",
        weight: 4.0,
        utc_offset_minutes: 540,
        continent: Continent::Asia,
        cities: &[
            city("Tokyo", 35.6762, 139.6503),
            city("Osaka", 34.6937, 135.5023),
            city("Sapporo", 43.0618, 141.3545),
        ],
    },
    Country {
        code: "KR",
        weight: 3.0,
        utc_offset_minutes: 540,
        continent: Continent::Asia,
        cities: &[
            city("Seoul", 37.5665, 126.978),
            city("Busan", 35.1796, 129.0756),
            city("Incheon", 37.4563, 126.7052),
        ],
    },
    Country {
        code: "ES",
        weight: 4.0,
        utc_offset_minutes: 60,
        continent: Continent::Europe,
        cities: &[
            city("Madrid", 40.4168, -3.7038),
            city("Barcelona", 41.3851, 2.1734),
            city("Valencia", 39.4699, -0.3763),
        ],
    },
    Country {
        code: "IT",
        weight: 4.0,
        utc_offset_minutes: 60,
        continent: Continent::Europe,
        cities: &[
            city("Roma", 41.9028, 12.4964),
            city("Milano", 45.4642, 9.19),
            city("Napoli", 40.8518, 14.2681),
        ],
    },
    Country {
        code: "AU",
        weight: 3.0,
        utc_offset_minutes: 600,
        continent: Continent::Oceania,
        cities: &[
            city("Sydney", -33.8688, 151.2093),
            city("Melbourne", -37.8136, 144.9631),
            city("Brisbane", -27.4698, 153.0251),
        ],
    },
    Country {
        code: "NL",
        weight: 2.0,
        utc_offset_minutes: 60,
        continent: Continent::Europe,
        cities: &[
            city("Amsterdam", 52.3676, 4.9041),
            city("Rotterdam", 51.9244, 4.4777),
            city("Utrecht", 52.0907, 5.1214),
        ],
    },
    Country {
        code: "PL",
        weight: 2.0,
        utc_offset_minutes: 60,
        continent: Continent::Europe,
        cities: &[
            city("Warszawa", 52.2297, 21.0122),
            city("Kraków", 50.0647, 19.945),
            city("Gdańsk", 54.352, 18.6466),
        ],
    },
    Country {
        code: "AR",
        weight: 2.0,
        utc_offset_minutes: -180,
        continent: Continent::SouthAmerica,
        cities: &[
            city("Buenos Aires", -34.6037, -58.3816),
            city("Córdoba", -31.4201, -64.1888),
            city("Rosario", -32.9442, -60.6505),
        ],
    },
    Country {
        code: "SE",
        weight: 1.0,
        utc_offset_minutes: 60,
        continent: Continent::Europe,
        cities: &[
            city("Stockholm", 59.3293, 18.0686),
            city("Göteborg", 57.7089, 11.9746),
            city("Malmö", 55.605, 13.0038),
        ],
    },
];

pub fn country_weights() -> Vec<f64> {
    COUNTRIES.iter().map(|country| country.weight).collect()
}

/// How an access network behaves: fibre is fast and steady, mobile is slow and stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IspKind {
    Fiber,
    Cable,
    Dsl,
    Mobile,
}

impl IspKind {
    pub fn bitrate_factor(self) -> f64 {
        match self {
            IspKind::Fiber => 1.2,
            IspKind::Cable => 1.0,
            IspKind::Dsl => 0.75,
            IspKind::Mobile => 0.6,
        }
    }

    pub fn rebuffer_factor(self) -> f64 {
        match self {
            IspKind::Fiber => 0.5,
            IspKind::Cable => 1.0,
            IspKind::Dsl => 1.6,
            IspKind::Mobile => 2.5,
        }
    }

    pub fn startup_factor(self) -> f64 {
        match self {
            IspKind::Fiber => 0.85,
            IspKind::Cable => 1.0,
            IspKind::Dsl => 1.25,
            IspKind::Mobile => 1.4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Isp {
    pub name: String,
    pub asn: u32,
    pub kind: IspKind,
    /// First octet of this ISP's (made-up) IPv4 block.
    pub first_octet: u8,
}

const ISP_BRANDS: &[&str] = &[
    "Northwind",
    "Bluepeak",
    "Skyline",
    "Riverbend",
    "Ironbridge",
    "Brightwave",
    "Clearline",
    "Redwood",
    "Suncoast",
    "Highgate",
    "Lakeside",
    "Greenfield",
    "Stonegate",
];

const ISP_KINDS: [(IspKind, &str); 4] = [
    (IspKind::Fiber, "Fiber"),
    (IspKind::Cable, "Cable"),
    (IspKind::Dsl, "Telecom"),
    (IspKind::Mobile, "Mobile"),
];

/// Share of households on each kind of fixed line (mobile is used by phones away from Wi-Fi).
pub const FIXED_ISP_WEIGHTS: [f64; 3] = [0.35, 0.4, 0.25];

pub const CDNS: [&str; 4] = ["skyedge", "cirrusnet", "meridian", "open-edge"];

/// Per-country networks and CDN mix. The CDN mix is drawn from the seed, so which CDN is big
/// where (and so which one the incident hits) varies with the seed.
#[derive(Debug, Clone)]
pub struct Networks {
    /// Four ISPs per country, in the order of [`ISP_KINDS`]; the last one is mobile.
    pub isps: Vec<Vec<Isp>>,
    pub cdn_weights: Vec<[f64; 4]>,
}

impl Networks {
    pub fn build(seed: u64) -> Networks {
        let mut rng = rng_for(seed, Stream::Network, 0, 0);
        let mut isps = Vec::with_capacity(COUNTRIES.len());
        let mut cdn_weights = Vec::with_capacity(COUNTRIES.len());
        for (country_index, country) in COUNTRIES.iter().enumerate() {
            let brand_offset = index(&mut rng, ISP_BRANDS.len());
            let country_isps = ISP_KINDS
                .iter()
                .enumerate()
                .map(|(kind_index, (kind, kind_word))| Isp {
                    name: format!(
                        "{} {kind_word} {}",
                        ISP_BRANDS[(brand_offset + kind_index * 3) % ISP_BRANDS.len()],
                        country.code
                    ),
                    asn: 20_000 + country_index as u32 * 16 + kind_index as u32 * 3 + 7,
                    kind: *kind,
                    first_octet: (24 + country_index * 4 + kind_index) as u8,
                })
                .collect();
            isps.push(country_isps);
            let mut weights = [0.0; 4];
            for weight in &mut weights {
                *weight = (crate::random::normal(&mut rng) * 0.8).exp();
            }
            cdn_weights.push(weights);
        }
        Networks { isps, cdn_weights }
    }

    pub fn pick_cdn(&self, rng: &mut SynthRng, country: usize) -> usize {
        pick_weighted(rng, &self.cdn_weights[country])
    }

    /// The CDN with the largest share in a country.
    pub fn main_cdn(&self, country: usize) -> usize {
        let weights = &self.cdn_weights[country];
        (0..weights.len())
            .max_by(|a, b| weights[*a].total_cmp(&weights[*b]))
            .unwrap_or(0)
    }
}

/// A data centre network rented by attackers.
#[derive(Debug)]
pub struct HostingNetwork {
    pub asn: u32,
    pub country: &'static str,
    pub city: City,
    pub prefix: [u8; 2],
}

pub const HOSTING: &[HostingNetwork] = &[
    HostingNetwork {
        asn: 209_101,
        country: "NL",
        city: city("Amsterdam", 52.3702, 4.8952),
        prefix: [185, 107],
    },
    HostingNetwork {
        asn: 209_102,
        country: "DE",
        city: city("Frankfurt am Main", 50.1109, 8.6821),
        prefix: [195, 201],
    },
    HostingNetwork {
        asn: 209_103,
        country: "US",
        city: city("Ashburn", 39.0438, -77.4874),
        prefix: [45, 55],
    },
    HostingNetwork {
        asn: 209_104,
        country: "SG",
        city: city("Singapore", 1.3521, 103.8198),
        prefix: [103, 28],
    },
    HostingNetwork {
        asn: 209_105,
        country: "RU",
        city: city("Moscow", 55.7558, 37.6173),
        prefix: [91, 203],
    },
    HostingNetwork {
        asn: 209_106,
        country: "US",
        city: city("Dallas", 32.7767, -96.797),
        prefix: [104, 36],
    },
    HostingNetwork {
        asn: 209_107,
        country: "FR",
        city: city("Roubaix", 50.6942, 3.1746),
        prefix: [51, 38],
    },
    HostingNetwork {
        asn: 209_108,
        country: "VN",
        city: city("Hanoi", 21.0278, 105.8342),
        prefix: [14, 225],
    },
];

pub const DEVICES: [&str; 5] = ["tv", "mobile", "web", "tablet", "console"];
pub const DEVICE_WEIGHTS: [f64; 5] = [0.4, 0.25, 0.18, 0.1, 0.07];
pub const DEVICE_TV: u8 = 0;
pub const DEVICE_MOBILE: u8 = 1;
pub const DEVICE_TABLET: u8 = 3;

/// Median startup time in milliseconds on each device.
pub const DEVICE_STARTUP_MEDIAN_MS: [f64; 5] = [1800.0, 1100.0, 1300.0, 1200.0, 1500.0];
/// Typical bitrate in kbit/s on each device before the network's factor.
pub const DEVICE_BITRATE_KBPS: [f64; 5] = [6000.0, 1900.0, 3600.0, 3000.0, 5500.0];

const PLAYERS: [&[&str]; 5] = [
    &["tv/3.4.1", "tv/3.4.1", "tv/3.3.0"],
    &[
        "ios/8.2.0",
        "ios/8.1.4",
        "android/8.1.3",
        "android/8.1.3",
        "android/8.0.9",
    ],
    &["web/5.12.0", "web/5.12.0", "web/5.11.2"],
    &["ios/8.2.0", "android/8.1.3"],
    &["console/2.0.4", "console/1.9.8"],
];

pub fn player_for(rng: &mut SynthRng, device: u8) -> &'static str {
    let players = PLAYERS[usize::from(device)];
    players[index(rng, players.len())]
}

const USER_AGENTS: [&[&str]; 5] = [
    &[
        "ShowrunnerTV/3.4.1 (SmartTV; Tizen 6.5)",
        "ShowrunnerTV/3.3.0 (Android TV 12)",
    ],
    &[
        "Showrunner/8.2.0 (iPhone; iOS 17.5)",
        "Showrunner/8.1.3 (Linux; Android 14; Pixel 8)",
        "Showrunner/8.1.3 (Linux; Android 13; SM-A546B)",
    ],
    &[
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ],
    &[
        "Showrunner/8.2.0 (iPad; iPadOS 17.5)",
        "Showrunner/8.1.3 (Linux; Android 14; SM-X710)",
    ],
    &[
        "ShowrunnerConsole/2.0.4 (PlayStation 5)",
        "ShowrunnerConsole/1.9.8 (Xbox Series X)",
    ],
];

pub fn user_agent_for(rng: &mut SynthRng, device: u8) -> &'static str {
    let agents = USER_AGENTS[usize::from(device)];
    agents[index(rng, agents.len())]
}

/// User agents of the scripts used in credential stuffing.
pub const ATTACK_USER_AGENTS: &[&str] = &[
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0 Safari/537.36",
    "okhttp/4.12.0",
];

/// The local hour-of-day viewing weights (weekday), with the evening peak at 20-22h.
pub const HOUR_WEIGHTS: [f64; 24] = [
    0.55, 0.3, 0.15, 0.08, 0.06, 0.06, 0.12, 0.25, 0.3, 0.3, 0.35, 0.4, 0.5, 0.5, 0.45, 0.5, 0.65,
    0.85, 1.2, 1.6, 2.2, 2.4, 2.0, 1.2,
];

/// Weekday factors, Monday first: weekends are busier.
pub const WEEKDAY_WEIGHTS: [f64; 7] = [1.0, 0.95, 0.95, 1.0, 1.15, 1.4, 1.35];

/// Weight of an hour of local time: weekend days also lift the daytime hours.
pub fn local_hour_weight(local_hour: usize, local_weekday: usize) -> f64 {
    let weekend = local_weekday >= 5;
    let daytime_boost = if weekend && (10..18).contains(&local_hour) {
        1.9
    } else {
        1.0
    };
    HOUR_WEIGHTS[local_hour] * daytime_boost * WEEKDAY_WEIGHTS[local_weekday]
}

/// Monday = 0 for an instant shifted to local time.
pub fn weekday_of(local_ms: i64) -> usize {
    (local_ms.div_euclid(showrunner_model::time::DAY_MS) + 3).rem_euclid(7) as usize
}

pub fn local_hour_of(local_ms: i64) -> usize {
    (local_ms.rem_euclid(showrunner_model::time::DAY_MS) / showrunner_model::time::HOUR_MS) as usize
}
