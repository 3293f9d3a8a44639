//! Word lists for made-up names: titles, people, descriptions, search typos. A few entries
//! hold quotes, apostrophes and non-ASCII letters on purpose, so every consumer of the data
//! meets them.

use crate::random::{SynthRng, chance, index, int_between};

pub const FIRST_NAMES: &[&str] = &[
    "James",
    "Maria",
    "Hiroshi",
    "Ana",
    "José",
    "Zoë",
    "Björn",
    "Łukasz",
    "Amélie",
    "Søren",
    "Priya",
    "Min-jun",
    "Chloé",
    "Mateo",
    "Aisha",
    "Lars",
    "Yuki",
    "Carlos",
    "Fatima",
    "Noah",
    "Olivia",
    "Liam",
    "Emma",
    "Raj",
    "Ingrid",
    "Luca",
    "Sofía",
    "Kenji",
    "Seo-yeon",
    "Thiago",
    "Léa",
    "Jürgen",
    "Ayşe",
    "Nikolai",
    "Grace",
    "Omar",
    "Elena",
    "Diego",
    "Hana",
    "Pierre",
    "Camila",
    "Arjun",
    "Freya",
    "Mohammed",
    "Valentina",
    "Oskar",
    "Nadia",
    "Tomás",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith",
    "García",
    "Müller",
    "Kowalski",
    "Nakamura",
    "Kim",
    "Silva",
    "Rossi",
    "O'Brien",
    "Dubois",
    "Johansson",
    "Patel",
    "Fernández",
    "Novak",
    "Tanaka",
    "Park",
    "Santos",
    "Bianchi",
    "Schröder",
    "Lefèvre",
    "Nguyen",
    "Okafor",
    "Andersson",
    "Costa",
    "Herrera",
    "Ivanova",
    "Yamamoto",
    "Lee",
    "Martin",
    "Jensen",
    "Moreau",
    "Haddad",
    "Wójcik",
    "Sato",
    "Oliveira",
    "Romano",
    "Becker",
    "Chen",
    "Murphy",
    "Ortega",
    "D'Angelo",
    "Van der Berg",
];

const ADJECTIVES: &[&str] = &[
    "Silent",
    "Last",
    "Broken",
    "Golden",
    "Hidden",
    "Midnight",
    "Lost",
    "Burning",
    "Crimson",
    "Endless",
    "Wild",
    "Quiet",
    "Electric",
    "Frozen",
    "Secret",
    "Little",
    "Dark",
    "Bright",
    "Final",
    "Hollow",
    "Savage",
    "Gentle",
    "Iron",
    "Paper",
    "Glass",
    "Distant",
    "Restless",
    "Sweet",
    "Bitter",
    "Velvet",
    "Forgotten",
    "Northern",
    "Wicked",
    "Lucky",
    "Brave",
];

const NOUNS: &[&str] = &[
    "River",
    "Kingdom",
    "Promise",
    "Signal",
    "Harbor",
    "Garden",
    "Witness",
    "Empire",
    "Shadow",
    "Horizon",
    "Storm",
    "Letter",
    "Island",
    "Machine",
    "Season",
    "Winter",
    "Summer",
    "Detective",
    "Stranger",
    "Orchard",
    "Dynasty",
    "Frontier",
    "Heist",
    "Mirror",
    "Lantern",
    "Crown",
    "Tide",
    "Echo",
    "Circus",
    "Verdict",
    "Café",
    "Fiancée",
    "Saudade",
    "Mañana",
    "Daughter",
    "Pilot",
    "Comet",
    "Bakery",
    "Lighthouse",
    "Inheritance",
];

const PLACES: &[&str] = &[
    "Lisbon",
    "Tokyo",
    "the North",
    "Avalon",
    "Montréal",
    "São Paulo",
    "Zürich",
    "Kraków",
    "Seoul",
    "Málaga",
    "the Valley",
    "Reykjavík",
    "Marseille",
    "Nowhere",
    "Brooklyn",
    "Göteborg",
    "the Moon",
    "Mumbai",
    "Buenos Aires",
    "Straße 9",
];

/// Titles for Japanese and Korean productions, kept in their own script.
const CJK_TITLES: &[&str] = &[
    "東京ラブストーリー",
    "夜の果て",
    "月曜日の雨",
    "서울 블루스",
    "봄날의 약속",
    "海辺の家",
    "별의 시간",
    "風の街",
];

const ROMAN: &[&str] = &["II", "III", "IV"];

/// A made-up title name. `production_country` lets JP/KR titles sometimes keep a native name.
pub fn title_name(rng: &mut SynthRng, production_country: &str) -> String {
    if matches!(production_country, "JP" | "KR") && chance(rng, 0.3) {
        return CJK_TITLES[index(rng, CJK_TITLES.len())].to_string();
    }
    let adjective = ADJECTIVES[index(rng, ADJECTIVES.len())];
    let noun = NOUNS[index(rng, NOUNS.len())];
    let place = PLACES[index(rng, PLACES.len())];
    let first = FIRST_NAMES[index(rng, FIRST_NAMES.len())];
    match index(rng, 10) {
        0 | 1 => format!("The {adjective} {noun}"),
        2 => format!("{noun} of {place}"),
        3 => format!("{first}'s {noun}"),
        4 => format!("{adjective} {noun} {}", ROMAN[index(rng, ROMAN.len())]),
        5 => format!("The \"{noun}\" Affair"),
        6 => format!("{place} {noun}"),
        7 => format!("{adjective} in {place}"),
        8 => format!("A {noun} for {first}"),
        _ => format!("{adjective} {noun}"),
    }
}

pub fn person_name(rng: &mut SynthRng) -> String {
    format!(
        "{} {}",
        FIRST_NAMES[index(rng, FIRST_NAMES.len())],
        LAST_NAMES[index(rng, LAST_NAMES.len())]
    )
}

/// A one-sentence synopsis.
pub fn description(rng: &mut SynthRng, genre: &str) -> String {
    let adjective = ADJECTIVES[index(rng, ADJECTIVES.len())].to_lowercase();
    let noun = NOUNS[index(rng, NOUNS.len())].to_lowercase();
    let place = PLACES[index(rng, PLACES.len())];
    format!(
        "A {} {} about a {adjective} {noun} in {place}.",
        ["gripping", "tender", "funny", "dark", "sweeping", "quiet"][index(rng, 6)],
        genre.to_lowercase()
    )
}

/// Folds a display name to the ASCII letters an email address would use (`Łukasz` ->
/// `lukasz`, `O'Brien` -> `obrien`).
pub fn ascii_fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for character in text.chars().flat_map(char::to_lowercase) {
        let replacement = match character {
            'a'..='z' | '0'..='9' => character,
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ł' => 'l',
            'ş' => 's',
            _ => continue,
        };
        folded.push(replacement);
    }
    folded
}

/// What a member types to find a title: the first word or two, lower case, sometimes with a
/// typo (a dropped or doubled letter, or two letters swapped).
pub fn search_query_for(rng: &mut SynthRng, name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let take = if words.len() > 2 && chance(rng, 0.5) {
        2
    } else {
        words.len().min(1 + index(rng, 2))
    };
    let mut query = words[..take.max(1).min(words.len())]
        .join(" ")
        .to_lowercase();
    if query.is_empty() {
        query = name.to_lowercase();
    }
    if chance(rng, 0.15) {
        query = with_typo(rng, &query);
    }
    query
}

fn with_typo(rng: &mut SynthRng, text: &str) -> String {
    let mut characters: Vec<char> = text.chars().collect();
    if characters.len() < 3 {
        return text.to_string();
    }
    let position = int_between(rng, 1, characters.len() as u64 - 2) as usize;
    match index(rng, 3) {
        0 => {
            characters.remove(position);
        }
        1 => characters.swap(position, position + 1),
        _ => {
            let doubled = characters[position];
            characters.insert(position, doubled);
        }
    }
    characters.into_iter().collect()
}
