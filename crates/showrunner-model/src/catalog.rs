//! The catalog: movies, series, seasons and episodes, with the metadata content models and
//! analytics need, and where and when each title may be shown.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What kind of catalog entry a title is. Seasons and episodes point at their series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TitleKind {
    Movie,
    Series,
    Season,
    Episode,
}

impl TitleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TitleKind::Movie => "movie",
            TitleKind::Series => "series",
            TitleKind::Season => "season",
            TitleKind::Episode => "episode",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "movie" | "film" => Some(TitleKind::Movie),
            "series" | "show" | "tv show" | "tv_show" => Some(TitleKind::Series),
            "season" => Some(TitleKind::Season),
            "episode" => Some(TitleKind::Episode),
            _ => None,
        }
    }

    /// Whether a member can press play on this kind of title.
    pub fn is_playable(self) -> bool {
        matches!(self, TitleKind::Movie | TitleKind::Episode)
    }
}

/// A window in which a title may be shown in one country (ISO 3166-1 alpha-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub country: String,
    pub from: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Title {
    pub id: String,
    pub kind: TitleKind,
    pub name: String,
    /// For seasons and episodes: the series they belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub season_number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode_number: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_year: Option<i32>,
    /// Runtime in seconds, for movies and episodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u32>,
    /// The rating as published (`TV-MA`, `PG-13`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maturity_rating: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cast: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directors: Vec<String>,
    /// Countries of production (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// Where and when the title may be shown. Empty means everywhere, always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability: Vec<Availability>,
    /// When the title was added to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Audience bands that published maturity ratings map onto, in increasing order, so a
/// profile's limit can be compared with a title's rating whatever system rated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaturityLevel {
    Kids,
    OlderKids,
    Teens,
    Adults,
}

impl MaturityLevel {
    /// Maps a US TV or MPA rating to its band; unknown ratings are treated as adult-only so a
    /// kids profile never sees an unrated title by accident.
    pub fn of_rating(rating: &str) -> MaturityLevel {
        match rating.trim().to_ascii_uppercase().as_str() {
            "TV-Y" | "TV-G" | "G" => MaturityLevel::Kids,
            "TV-Y7" | "TV-Y7-FV" | "PG" => MaturityLevel::OlderKids,
            "TV-PG" | "PG-13" | "TV-14" => MaturityLevel::Teens,
            _ => MaturityLevel::Adults,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MaturityLevel::Kids => "kids",
            MaturityLevel::OlderKids => "older_kids",
            MaturityLevel::Teens => "teens",
            MaturityLevel::Adults => "adults",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "kids" => Some(MaturityLevel::Kids),
            "older_kids" => Some(MaturityLevel::OlderKids),
            "teens" => Some(MaturityLevel::Teens),
            "adults" => Some(MaturityLevel::Adults),
            _ => None,
        }
    }
}

impl Title {
    /// A bare title with just the required fields, for tests and readers that fill the rest.
    pub fn new(id: impl Into<String>, kind: TitleKind, name: impl Into<String>) -> Self {
        Title {
            id: id.into(),
            kind,
            name: name.into(),
            series_id: None,
            season_number: None,
            episode_number: None,
            genres: Vec::new(),
            release_year: None,
            duration_s: None,
            maturity_rating: None,
            cast: Vec::new(),
            directors: Vec::new(),
            countries: Vec::new(),
            availability: Vec::new(),
            added_at: None,
            description: None,
        }
    }

    pub fn maturity_level(&self) -> MaturityLevel {
        self.maturity_rating
            .as_deref()
            .map_or(MaturityLevel::Adults, MaturityLevel::of_rating)
    }
}
