//! The JSON wire shape, parsed fast: one flat struct with every field of every record kind,
//! each optional and borrowing from the input line where it can.
//!
//! Why not deserialize `Event` directly: serde's internally tagged enums buffer the whole
//! object into a `Content` tree before choosing the variant, which is several times slower,
//! and a type error anywhere would reject the line with a message that names no field.
//! Here every value is read as a [`Scalar`] (which accepts any JSON type), so the only serde
//! errors are syntax errors, and type checks happen below with the field's name at hand.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use showrunner_model::{
    Availability, Event, EventBody, Impression, Login, LoginOutcome, MaturityLevel, Member,
    Personal, Play, PlayAction, Problem, ProblemKind, Profile, Qoe, Rating, RatingValue, Record,
    Search, Timestamp, Title, TitleKind, event::Thumbs,
};

/// Any JSON value, with strings borrowed from the line when they contain no escapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Negative(i64),
    Float(f64),
    Text(Cow<'a, str>),
    List(Vec<Scalar<'a>>),
    Object,
}

impl Scalar<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Unsigned(_) | Scalar::Negative(_) | Scalar::Float(_) => "a number",
            Scalar::Text(_) => "a string",
            Scalar::List(_) => "an array",
            Scalar::Object => "an object",
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(if value >= 0 {
            Scalar::Unsigned(value as u64)
        } else {
            Scalar::Negative(value)
        })
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(value))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(value)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Scalar<'de>>()? {
            items.push(item);
        }
        Ok(Scalar::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Every field any record kind has. Unknown fields are ignored (clients add fields before
/// the server knows them); a repeated field is `malformed`.
#[derive(Debug, Default)]
pub(crate) struct WireRecord<'a> {
    pub record_type: Option<Scalar<'a>>,
    pub id: Option<Scalar<'a>>,
    pub ts: Option<Scalar<'a>>,
    pub member_id: Option<Scalar<'a>>,
    pub profile_id: Option<Scalar<'a>>,
    pub title_id: Option<Scalar<'a>>,
    pub session_id: Option<Scalar<'a>>,
    pub action: Option<Scalar<'a>>,
    pub position_s: Option<Scalar<'a>>,
    pub watched_s: Option<Scalar<'a>>,
    pub device: Option<Scalar<'a>>,
    pub country: Option<Scalar<'a>>,
    pub request_id: Option<Scalar<'a>>,
    pub thumbs: Option<Scalar<'a>>,
    pub stars: Option<Scalar<'a>>,
    pub row: Option<Scalar<'a>>,
    pub rank: Option<Scalar<'a>>,
    pub account: Option<Scalar<'a>>,
    pub outcome: Option<Scalar<'a>>,
    pub ip: Option<Scalar<'a>>,
    pub city: Option<Scalar<'a>>,
    pub latitude: Option<Scalar<'a>>,
    pub longitude: Option<Scalar<'a>>,
    pub asn: Option<Scalar<'a>>,
    pub user_agent: Option<Scalar<'a>>,
    pub startup_ms: Option<Scalar<'a>>,
    pub exit_before_start: Option<Scalar<'a>>,
    pub rebuffer_count: Option<Scalar<'a>>,
    pub rebuffer_ms: Option<Scalar<'a>>,
    pub watch_s: Option<Scalar<'a>>,
    pub avg_bitrate_kbps: Option<Scalar<'a>>,
    pub bitrate_switches: Option<Scalar<'a>>,
    pub error_code: Option<Scalar<'a>>,
    pub cdn: Option<Scalar<'a>>,
    pub isp: Option<Scalar<'a>>,
    pub player: Option<Scalar<'a>>,
    pub query: Option<Scalar<'a>>,
    pub clicked_title_id: Option<Scalar<'a>>,
    pub kind: Option<Scalar<'a>>,
    pub name: Option<Scalar<'a>>,
    pub series_id: Option<Scalar<'a>>,
    pub season_number: Option<Scalar<'a>>,
    pub episode_number: Option<Scalar<'a>>,
    pub genres: Option<Scalar<'a>>,
    pub release_year: Option<Scalar<'a>>,
    pub duration_s: Option<Scalar<'a>>,
    pub maturity_rating: Option<Scalar<'a>>,
    pub cast: Option<Scalar<'a>>,
    pub directors: Option<Scalar<'a>>,
    pub countries: Option<Scalar<'a>>,
    pub added_at: Option<Scalar<'a>>,
    pub description: Option<Scalar<'a>>,
    pub email: Option<Scalar<'a>>,
    pub signup_at: Option<Scalar<'a>>,
    pub plan: Option<Scalar<'a>>,
    /// Nested objects appear only on catalog and member records, which are rare, so they
    /// are read as generic JSON values and checked by hand.
    pub availability: Option<serde_json::Value>,
    pub profiles: Option<serde_json::Value>,
}

/// The known keys, so the map visitor can dispatch on an enum rather than compare strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WireField {
    RecordType,
    Id,
    Ts,
    MemberId,
    ProfileId,
    TitleId,
    SessionId,
    Action,
    PositionS,
    WatchedS,
    Device,
    Country,
    RequestId,
    Thumbs,
    Stars,
    Row,
    Rank,
    Account,
    Outcome,
    Ip,
    City,
    Latitude,
    Longitude,
    Asn,
    UserAgent,
    StartupMs,
    ExitBeforeStart,
    RebufferCount,
    RebufferMs,
    WatchS,
    AvgBitrateKbps,
    BitrateSwitches,
    ErrorCode,
    Cdn,
    Isp,
    Player,
    Query,
    ClickedTitleId,
    Kind,
    Name,
    SeriesId,
    SeasonNumber,
    EpisodeNumber,
    Genres,
    ReleaseYear,
    DurationS,
    MaturityRating,
    Cast,
    Directors,
    Countries,
    AddedAt,
    Description,
    Email,
    SignupAt,
    Plan,
    Availability,
    Profiles,
}

/// Finds a key's field: first by length (cheap, and few keys share one), then by bytes.
/// A flat `match` on 57 strings compiles to a chain of `memcmp` calls.
fn wire_field(key: &[u8]) -> Option<WireField> {
    match key.len() {
        2 => match key {
            b"id" => Some(WireField::Id),
            b"ts" => Some(WireField::Ts),
            b"ip" => Some(WireField::Ip),
            _ => None,
        },
        3 => match key {
            b"row" => Some(WireField::Row),
            b"asn" => Some(WireField::Asn),
            b"cdn" => Some(WireField::Cdn),
            b"isp" => Some(WireField::Isp),
            _ => None,
        },
        4 => match key {
            b"type" => Some(WireField::RecordType),
            b"rank" => Some(WireField::Rank),
            b"city" => Some(WireField::City),
            b"kind" => Some(WireField::Kind),
            b"name" => Some(WireField::Name),
            b"cast" => Some(WireField::Cast),
            b"plan" => Some(WireField::Plan),
            _ => None,
        },
        5 => match key {
            b"stars" => Some(WireField::Stars),
            b"query" => Some(WireField::Query),
            b"email" => Some(WireField::Email),
            _ => None,
        },
        6 => match key {
            b"action" => Some(WireField::Action),
            b"device" => Some(WireField::Device),
            b"thumbs" => Some(WireField::Thumbs),
            b"player" => Some(WireField::Player),
            b"genres" => Some(WireField::Genres),
            _ => None,
        },
        7 => match key {
            b"country" => Some(WireField::Country),
            b"account" => Some(WireField::Account),
            b"outcome" => Some(WireField::Outcome),
            b"watch_s" => Some(WireField::WatchS),
            _ => None,
        },
        8 => match key {
            b"title_id" => Some(WireField::TitleId),
            b"latitude" => Some(WireField::Latitude),
            b"added_at" => Some(WireField::AddedAt),
            b"profiles" => Some(WireField::Profiles),
            _ => None,
        },
        9 => match key {
            b"member_id" => Some(WireField::MemberId),
            b"watched_s" => Some(WireField::WatchedS),
            b"longitude" => Some(WireField::Longitude),
            b"series_id" => Some(WireField::SeriesId),
            b"directors" => Some(WireField::Directors),
            b"countries" => Some(WireField::Countries),
            b"signup_at" => Some(WireField::SignupAt),
            _ => None,
        },
        10 => match key {
            b"profile_id" => Some(WireField::ProfileId),
            b"session_id" => Some(WireField::SessionId),
            b"position_s" => Some(WireField::PositionS),
            b"request_id" => Some(WireField::RequestId),
            b"user_agent" => Some(WireField::UserAgent),
            b"startup_ms" => Some(WireField::StartupMs),
            b"error_code" => Some(WireField::ErrorCode),
            b"duration_s" => Some(WireField::DurationS),
            _ => None,
        },
        11 => match key {
            b"rebuffer_ms" => Some(WireField::RebufferMs),
            b"description" => Some(WireField::Description),
            _ => None,
        },
        12 => match key {
            b"release_year" => Some(WireField::ReleaseYear),
            b"availability" => Some(WireField::Availability),
            _ => None,
        },
        13 => match key {
            b"season_number" => Some(WireField::SeasonNumber),
            _ => None,
        },
        14 => match key {
            b"rebuffer_count" => Some(WireField::RebufferCount),
            b"episode_number" => Some(WireField::EpisodeNumber),
            _ => None,
        },
        15 => match key {
            b"maturity_rating" => Some(WireField::MaturityRating),
            _ => None,
        },
        16 => match key {
            b"avg_bitrate_kbps" => Some(WireField::AvgBitrateKbps),
            b"bitrate_switches" => Some(WireField::BitrateSwitches),
            b"clicked_title_id" => Some(WireField::ClickedTitleId),
            _ => None,
        },
        17 => match key {
            b"exit_before_start" => Some(WireField::ExitBeforeStart),
            _ => None,
        },
        _ => None,
    }
}

/// Reads an object key as a [`WireField`] (or `None` for a key we ignore) without
/// allocating, whether or not the key was escaped.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Option<WireField>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Option<WireField>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(wire_field(key.as_bytes()))
    }
}

fn store<'a, E: de::Error>(
    slot: &mut Option<Scalar<'a>>,
    value: Scalar<'a>,
    key: &'static str,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format_args!("duplicate field `{key}`")));
    }
    *slot = Some(value);
    Ok(())
}

/// Fills a `WireRecord` in place from a JSON object: the record (about 2 KB of optional
/// fields) is never moved, which matters at millions of lines a second.
struct FillSeed<'r, 'a>(&'r mut WireRecord<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for FillSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for FillSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key_seed(KeySeed)? {
            let Some(field) = field else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match field {
                WireField::RecordType => store(&mut self.0.record_type, map.next_value()?, "type"),
                WireField::Id => store(&mut self.0.id, map.next_value()?, "id"),
                WireField::Ts => store(&mut self.0.ts, map.next_value()?, "ts"),
                WireField::MemberId => store(&mut self.0.member_id, map.next_value()?, "member_id"),
                WireField::ProfileId => {
                    store(&mut self.0.profile_id, map.next_value()?, "profile_id")
                }
                WireField::TitleId => store(&mut self.0.title_id, map.next_value()?, "title_id"),
                WireField::SessionId => {
                    store(&mut self.0.session_id, map.next_value()?, "session_id")
                }
                WireField::Action => store(&mut self.0.action, map.next_value()?, "action"),
                WireField::PositionS => {
                    store(&mut self.0.position_s, map.next_value()?, "position_s")
                }
                WireField::WatchedS => store(&mut self.0.watched_s, map.next_value()?, "watched_s"),
                WireField::Device => store(&mut self.0.device, map.next_value()?, "device"),
                WireField::Country => store(&mut self.0.country, map.next_value()?, "country"),
                WireField::RequestId => {
                    store(&mut self.0.request_id, map.next_value()?, "request_id")
                }
                WireField::Thumbs => store(&mut self.0.thumbs, map.next_value()?, "thumbs"),
                WireField::Stars => store(&mut self.0.stars, map.next_value()?, "stars"),
                WireField::Row => store(&mut self.0.row, map.next_value()?, "row"),
                WireField::Rank => store(&mut self.0.rank, map.next_value()?, "rank"),
                WireField::Account => store(&mut self.0.account, map.next_value()?, "account"),
                WireField::Outcome => store(&mut self.0.outcome, map.next_value()?, "outcome"),
                WireField::Ip => store(&mut self.0.ip, map.next_value()?, "ip"),
                WireField::City => store(&mut self.0.city, map.next_value()?, "city"),
                WireField::Latitude => store(&mut self.0.latitude, map.next_value()?, "latitude"),
                WireField::Longitude => {
                    store(&mut self.0.longitude, map.next_value()?, "longitude")
                }
                WireField::Asn => store(&mut self.0.asn, map.next_value()?, "asn"),
                WireField::UserAgent => {
                    store(&mut self.0.user_agent, map.next_value()?, "user_agent")
                }
                WireField::StartupMs => {
                    store(&mut self.0.startup_ms, map.next_value()?, "startup_ms")
                }
                WireField::ExitBeforeStart => store(
                    &mut self.0.exit_before_start,
                    map.next_value()?,
                    "exit_before_start",
                ),
                WireField::RebufferCount => store(
                    &mut self.0.rebuffer_count,
                    map.next_value()?,
                    "rebuffer_count",
                ),
                WireField::RebufferMs => {
                    store(&mut self.0.rebuffer_ms, map.next_value()?, "rebuffer_ms")
                }
                WireField::WatchS => store(&mut self.0.watch_s, map.next_value()?, "watch_s"),
                WireField::AvgBitrateKbps => store(
                    &mut self.0.avg_bitrate_kbps,
                    map.next_value()?,
                    "avg_bitrate_kbps",
                ),
                WireField::BitrateSwitches => store(
                    &mut self.0.bitrate_switches,
                    map.next_value()?,
                    "bitrate_switches",
                ),
                WireField::ErrorCode => {
                    store(&mut self.0.error_code, map.next_value()?, "error_code")
                }
                WireField::Cdn => store(&mut self.0.cdn, map.next_value()?, "cdn"),
                WireField::Isp => store(&mut self.0.isp, map.next_value()?, "isp"),
                WireField::Player => store(&mut self.0.player, map.next_value()?, "player"),
                WireField::Query => store(&mut self.0.query, map.next_value()?, "query"),
                WireField::ClickedTitleId => store(
                    &mut self.0.clicked_title_id,
                    map.next_value()?,
                    "clicked_title_id",
                ),
                WireField::Kind => store(&mut self.0.kind, map.next_value()?, "kind"),
                WireField::Name => store(&mut self.0.name, map.next_value()?, "name"),
                WireField::SeriesId => store(&mut self.0.series_id, map.next_value()?, "series_id"),
                WireField::SeasonNumber => store(
                    &mut self.0.season_number,
                    map.next_value()?,
                    "season_number",
                ),
                WireField::EpisodeNumber => store(
                    &mut self.0.episode_number,
                    map.next_value()?,
                    "episode_number",
                ),
                WireField::Genres => store(&mut self.0.genres, map.next_value()?, "genres"),
                WireField::ReleaseYear => {
                    store(&mut self.0.release_year, map.next_value()?, "release_year")
                }
                WireField::DurationS => {
                    store(&mut self.0.duration_s, map.next_value()?, "duration_s")
                }
                WireField::MaturityRating => store(
                    &mut self.0.maturity_rating,
                    map.next_value()?,
                    "maturity_rating",
                ),
                WireField::Cast => store(&mut self.0.cast, map.next_value()?, "cast"),
                WireField::Directors => {
                    store(&mut self.0.directors, map.next_value()?, "directors")
                }
                WireField::Countries => {
                    store(&mut self.0.countries, map.next_value()?, "countries")
                }
                WireField::AddedAt => store(&mut self.0.added_at, map.next_value()?, "added_at"),
                WireField::Description => {
                    store(&mut self.0.description, map.next_value()?, "description")
                }
                WireField::Email => store(&mut self.0.email, map.next_value()?, "email"),
                WireField::SignupAt => store(&mut self.0.signup_at, map.next_value()?, "signup_at"),
                WireField::Plan => store(&mut self.0.plan, map.next_value()?, "plan"),
                WireField::Availability => {
                    if self.0.availability.is_some() {
                        return Err(de::Error::custom("duplicate field `availability`"));
                    }
                    self.0.availability = Some(map.next_value()?);
                    Ok(())
                }
                WireField::Profiles => {
                    if self.0.profiles.is_some() {
                        return Err(de::Error::custom("duplicate field `profiles`"));
                    }
                    self.0.profiles = Some(map.next_value()?);
                    Ok(())
                }
            }?;
        }
        Ok(())
    }
}

impl<'a> WireRecord<'a> {
    /// The slot of a scalar field; `None` for the nested ones (read only by serde).
    fn scalar_slot(&mut self, field: WireField) -> Option<&mut Option<Scalar<'a>>> {
        match field {
            WireField::RecordType => Some(&mut self.record_type),
            WireField::Id => Some(&mut self.id),
            WireField::Ts => Some(&mut self.ts),
            WireField::MemberId => Some(&mut self.member_id),
            WireField::ProfileId => Some(&mut self.profile_id),
            WireField::TitleId => Some(&mut self.title_id),
            WireField::SessionId => Some(&mut self.session_id),
            WireField::Action => Some(&mut self.action),
            WireField::PositionS => Some(&mut self.position_s),
            WireField::WatchedS => Some(&mut self.watched_s),
            WireField::Device => Some(&mut self.device),
            WireField::Country => Some(&mut self.country),
            WireField::RequestId => Some(&mut self.request_id),
            WireField::Thumbs => Some(&mut self.thumbs),
            WireField::Stars => Some(&mut self.stars),
            WireField::Row => Some(&mut self.row),
            WireField::Rank => Some(&mut self.rank),
            WireField::Account => Some(&mut self.account),
            WireField::Outcome => Some(&mut self.outcome),
            WireField::Ip => Some(&mut self.ip),
            WireField::City => Some(&mut self.city),
            WireField::Latitude => Some(&mut self.latitude),
            WireField::Longitude => Some(&mut self.longitude),
            WireField::Asn => Some(&mut self.asn),
            WireField::UserAgent => Some(&mut self.user_agent),
            WireField::StartupMs => Some(&mut self.startup_ms),
            WireField::ExitBeforeStart => Some(&mut self.exit_before_start),
            WireField::RebufferCount => Some(&mut self.rebuffer_count),
            WireField::RebufferMs => Some(&mut self.rebuffer_ms),
            WireField::WatchS => Some(&mut self.watch_s),
            WireField::AvgBitrateKbps => Some(&mut self.avg_bitrate_kbps),
            WireField::BitrateSwitches => Some(&mut self.bitrate_switches),
            WireField::ErrorCode => Some(&mut self.error_code),
            WireField::Cdn => Some(&mut self.cdn),
            WireField::Isp => Some(&mut self.isp),
            WireField::Player => Some(&mut self.player),
            WireField::Query => Some(&mut self.query),
            WireField::ClickedTitleId => Some(&mut self.clicked_title_id),
            WireField::Kind => Some(&mut self.kind),
            WireField::Name => Some(&mut self.name),
            WireField::SeriesId => Some(&mut self.series_id),
            WireField::SeasonNumber => Some(&mut self.season_number),
            WireField::EpisodeNumber => Some(&mut self.episode_number),
            WireField::Genres => Some(&mut self.genres),
            WireField::ReleaseYear => Some(&mut self.release_year),
            WireField::DurationS => Some(&mut self.duration_s),
            WireField::MaturityRating => Some(&mut self.maturity_rating),
            WireField::Cast => Some(&mut self.cast),
            WireField::Directors => Some(&mut self.directors),
            WireField::Countries => Some(&mut self.countries),
            WireField::AddedAt => Some(&mut self.added_at),
            WireField::Description => Some(&mut self.description),
            WireField::Email => Some(&mut self.email),
            WireField::SignupAt => Some(&mut self.signup_at),
            WireField::Plan => Some(&mut self.plan),
            WireField::Availability | WireField::Profiles => None,
        }
    }
}

fn skip_whitespace(bytes: &[u8], mut position: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(position) {
        position += 1;
    }
    position
}

thread_local! {
    /// Strings of records the sink is done with, refilled instead of allocating new ones:
    /// an event has half a dozen short strings, and allocating them on a parser thread to
    /// free them on another costs more than parsing them. Filled only on the import's
    /// parser threads ([`add_spare_strings`]); elsewhere it stays empty.
    static SPARE_STRINGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Capacity of a new field string, so that once recycled it fits most ids and values.
pub(crate) const FIELD_STRING_CAPACITY: usize = 32;
/// Recycled strings longer than this are freed rather than kept.
pub(crate) const MAX_SPARE_STRING_CAPACITY: usize = 128;
/// Spare strings kept per thread (a few MB).
const MAX_SPARE_STRINGS: usize = 64 * 1024;

/// An owned copy of a field's text, in a recycled string when one is at hand.
fn field_string(text: &str) -> String {
    let spare = SPARE_STRINGS.with(|spare| spare.borrow_mut().pop());
    let mut string = match spare {
        Some(mut string) if string.capacity() >= text.len() => {
            string.clear();
            string
        }
        _ => String::with_capacity(text.len().max(FIELD_STRING_CAPACITY)),
    };
    string.push_str(text);
    string
}

/// Gives this thread strings to refill (see `SPARE_STRINGS`); beyond the limit they are
/// dropped. Leaves `strings` empty.
pub(crate) fn add_spare_strings(strings: &mut Vec<String>) {
    SPARE_STRINGS.with(|spare| {
        let mut spare = spare.borrow_mut();
        let room = MAX_SPARE_STRINGS.saturating_sub(spare.len());
        strings.truncate(room);
        spare.append(strings);
    });
}

/// `str::trim`, with a fast path for the usual case of nothing to trim (printable ASCII at
/// both ends), which skips decoding characters at both ends.
pub(crate) fn trim_fast(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// The end (the closing quote) of a string starting after its opening quote at `start`, if
/// the string is simple: no escapes and no control characters.
fn simple_string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = bytes.get(start..)?;
    // Keys and most values are a few bytes long, for which one byte loop beats setting up
    // a vectorised search (and then a second pass for control characters).
    const SHORT: usize = 32;
    for (offset, byte) in rest.iter().take(SHORT).enumerate() {
        match *byte {
            b'"' => return Some(start + offset),
            b'\\' | 0..=0x1f => return None,
            _ => {}
        }
    }
    let long = rest.get(SHORT..)?;
    let length = memchr::memchr2(b'"', b'\\', long)?;
    if long[length] != b'"' || long[..length].iter().any(|byte| *byte < 0x20) {
        return None;
    }
    Some(start + SHORT + length)
}

/// The end of a JSON number starting at `start`, following the grammar exactly, and
/// whether it is an integer.
fn number_end(bytes: &[u8], start: usize) -> Option<(usize, bool)> {
    let digits = |mut position: usize| {
        let begin = position;
        while bytes.get(position).is_some_and(u8::is_ascii_digit) {
            position += 1;
        }
        (position > begin).then_some(position)
    };
    let mut position = start;
    if bytes.get(position) == Some(&b'-') {
        position += 1;
    }
    match bytes.get(position) {
        Some(b'0') => position += 1,
        Some(b'1'..=b'9') => position = digits(position)?,
        _ => return None,
    }
    let mut integer = true;
    if bytes.get(position) == Some(&b'.') {
        integer = false;
        position = digits(position + 1)?;
    }
    if let Some(b'e' | b'E') = bytes.get(position) {
        integer = false;
        position += 1;
        if let Some(b'+' | b'-') = bytes.get(position) {
            position += 1;
        }
        position = digits(position)?;
    }
    Some((position, integer))
}

/// The fast path for the common line: a flat JSON object whose strings have no escapes.
/// Fills `record` and returns true, or returns false (leaving `record` partly filled) for
/// anything else (nesting, escapes, duplicate keys, any syntax error), which the caller then
/// hands to serde_json for an exact verdict. It accepts only valid JSON.
fn scan_flat_object<'a>(line: &'a str, record: &mut WireRecord<'a>) -> bool {
    let bytes = line.as_bytes();
    let mut position = skip_whitespace(bytes, 0);
    if bytes.get(position) != Some(&b'{') {
        return false;
    }
    position = skip_whitespace(bytes, position + 1);
    if bytes.get(position) == Some(&b'}') {
        return skip_whitespace(bytes, position + 1) == bytes.len();
    }
    loop {
        if bytes.get(position) != Some(&b'"') {
            return false;
        }
        let Some(key_end) = simple_string_end(bytes, position + 1) else {
            return false;
        };
        let key = &bytes[position + 1..key_end];
        position = skip_whitespace(bytes, key_end + 1);
        if bytes.get(position) != Some(&b':') {
            return false;
        }
        position = skip_whitespace(bytes, position + 1);
        let value = match bytes.get(position) {
            Some(b'"') => {
                let Some(end) = simple_string_end(bytes, position + 1) else {
                    return false;
                };
                // Quotes are ASCII, so these are character boundaries.
                let text = &line[position + 1..end];
                position = end + 1;
                Scalar::Text(Cow::Borrowed(text))
            }
            Some(b'-' | b'0'..=b'9') => {
                let Some((end, integer)) = number_end(bytes, position) else {
                    return false;
                };
                let text = &line[position..end];
                position = end;
                if integer {
                    if let Ok(number) = text.parse::<u64>() {
                        Scalar::Unsigned(number)
                    } else if let Ok(number) = text.parse::<i64>() {
                        if number >= 0 {
                            Scalar::Unsigned(number as u64)
                        } else {
                            Scalar::Negative(number)
                        }
                    } else {
                        return false;
                    }
                } else {
                    match text.parse::<f64>() {
                        Ok(number) if number.is_finite() => Scalar::Float(number),
                        _ => return false,
                    }
                }
            }
            Some(b't') if bytes[position..].starts_with(b"true") => {
                position += 4;
                Scalar::Bool(true)
            }
            Some(b'f') if bytes[position..].starts_with(b"false") => {
                position += 5;
                Scalar::Bool(false)
            }
            Some(b'n') if bytes[position..].starts_with(b"null") => {
                position += 4;
                Scalar::Null
            }
            _ => return false,
        };
        if let Some(field) = wire_field(key) {
            let Some(slot) = record.scalar_slot(field) else {
                return false;
            };
            if slot.is_some() {
                return false;
            }
            *slot = Some(value);
        }
        position = skip_whitespace(bytes, position);
        match bytes.get(position) {
            Some(b',') => position = skip_whitespace(bytes, position + 1),
            Some(b'}') => return skip_whitespace(bytes, position + 1) == bytes.len(),
            _ => return false,
        }
    }
}

/// Turns a serde_json failure into the problem the quarantine shows.
pub(crate) fn syntax_problem(error: &serde_json::Error) -> Problem {
    let detail = error.to_string();
    match error.classify() {
        serde_json::error::Category::Eof => Problem::new(ProblemKind::Truncated, detail),
        _ => Problem::new(ProblemKind::Malformed, detail),
    }
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 64;
    if text.len() <= LIMIT {
        return text.to_owned();
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn wrong_type(field: &str, expected: &str, got: &Scalar<'_>) -> Problem {
    Problem::on_field(
        ProblemKind::WrongType,
        field,
        format!("expected {expected}, got {}", got.type_name()),
    )
}

fn missing(field: &str) -> Problem {
    Problem::on_field(ProblemKind::MissingField, field, "required field is absent")
}

/// A trimmed string; absent, null and empty all mean `None`.
fn text(field: &str, value: Option<Scalar<'_>>) -> Result<Option<String>, Problem> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Text(text)) => {
            let trimmed = trim_fast(&text);
            if trimmed.is_empty() {
                Ok(None)
            } else if trimmed.len() == text.len()
                && let Cow::Owned(owned) = text
            {
                Ok(Some(owned))
            } else {
                Ok(Some(field_string(trim_fast(&text))))
            }
        }
        Some(other) => Err(wrong_type(field, "a string", &other)),
    }
}

fn required_text(field: &str, value: Option<Scalar<'_>>) -> Result<String, Problem> {
    text(field, value)?.ok_or_else(|| missing(field))
}

/// A non-negative integer, from a JSON number or (as CSV sends them) a numeric string.
fn unsigned(field: &str, value: Option<Scalar<'_>>) -> Result<Option<u64>, Problem> {
    let negative = |shown: String| {
        Problem::on_field(
            ProblemKind::NegativeValue,
            field,
            format!("{shown} is negative"),
        )
    };
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Unsigned(number)) => Ok(Some(number)),
        Some(Scalar::Negative(number)) => Err(negative(number.to_string())),
        Some(Scalar::Float(number)) => float_to_unsigned(field, number),
        Some(Scalar::Text(text)) => {
            let trimmed = trim_fast(&text);
            if trimmed.is_empty() {
                return Ok(None);
            }
            if let Ok(number) = trimmed.parse::<u64>() {
                return Ok(Some(number));
            }
            match trimmed.parse::<f64>() {
                Ok(number) if number.is_finite() => float_to_unsigned(field, number),
                _ => Err(Problem::on_field(
                    ProblemKind::WrongType,
                    field,
                    format!("expected a number, got {:?}", shorten(trimmed)),
                )),
            }
        }
        Some(other) => Err(wrong_type(field, "a number", &other)),
    }
}

fn float_to_unsigned(field: &str, number: f64) -> Result<Option<u64>, Problem> {
    if number < 0.0 {
        Err(Problem::on_field(
            ProblemKind::NegativeValue,
            field,
            format!("{number} is negative"),
        ))
    } else if number.fract() != 0.0 || !number.is_finite() {
        Err(Problem::on_field(
            ProblemKind::WrongType,
            field,
            format!("expected a whole number, got {number}"),
        ))
    } else if number > u64::MAX as f64 {
        Err(Problem::on_field(
            ProblemKind::ImpossibleValue,
            field,
            format!("{number} is out of range"),
        ))
    } else {
        Ok(Some(number as u64))
    }
}

fn u32_field(field: &str, value: Option<Scalar<'_>>) -> Result<Option<u32>, Problem> {
    match unsigned(field, value)? {
        None => Ok(None),
        Some(number) => u32::try_from(number).map(Some).map_err(|_| {
            Problem::on_field(
                ProblemKind::ImpossibleValue,
                field,
                format!("{number} is out of range"),
            )
        }),
    }
}

fn required_u32(field: &str, value: Option<Scalar<'_>>) -> Result<u32, Problem> {
    u32_field(field, value)?.ok_or_else(|| missing(field))
}

fn float(field: &str, value: Option<Scalar<'_>>) -> Result<Option<f64>, Problem> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Unsigned(number)) => Ok(Some(number as f64)),
        Some(Scalar::Negative(number)) => Ok(Some(number as f64)),
        Some(Scalar::Float(number)) => Ok(Some(number)),
        Some(Scalar::Text(text)) => {
            let trimmed = trim_fast(&text);
            if trimmed.is_empty() {
                return Ok(None);
            }
            match trimmed.parse::<f64>() {
                Ok(number) if number.is_finite() => Ok(Some(number)),
                _ => Err(Problem::on_field(
                    ProblemKind::WrongType,
                    field,
                    format!("expected a number, got {:?}", shorten(trimmed)),
                )),
            }
        }
        Some(other) => Err(wrong_type(field, "a number", &other)),
    }
}

fn signed_i32(field: &str, value: Option<Scalar<'_>>) -> Result<Option<i32>, Problem> {
    match float(field, value)? {
        None => Ok(None),
        Some(number) if number.fract() == 0.0 && number.abs() < 1e9 => Ok(Some(number as i32)),
        Some(number) => Err(Problem::on_field(
            ProblemKind::WrongType,
            field,
            format!("expected a whole number, got {number}"),
        )),
    }
}

fn boolean(field: &str, value: Option<Scalar<'_>>) -> Result<Option<bool>, Problem> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Bool(flag)) => Ok(Some(flag)),
        Some(Scalar::Unsigned(0)) => Ok(Some(false)),
        Some(Scalar::Unsigned(1)) => Ok(Some(true)),
        Some(Scalar::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            other => Err(Problem::on_field(
                ProblemKind::WrongType,
                field,
                format!("expected true or false, got {:?}", shorten(other)),
            )),
        },
        Some(other) => Err(wrong_type(field, "a boolean", &other)),
    }
}

/// A timestamp in any form `Timestamp::parse` accepts, or an epoch number.
pub(crate) fn timestamp(
    field: &str,
    value: Option<Scalar<'_>>,
) -> Result<Option<Timestamp>, Problem> {
    let bad = |detail: String| Problem::on_field(ProblemKind::BadTimestamp, field, detail);
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Text(text)) => {
            if trim_fast(&text).is_empty() {
                return Ok(None);
            }
            Timestamp::parse(&text)
                .map(Some)
                .map_err(|error| bad(error.to_string()))
        }
        Some(Scalar::Unsigned(number)) => Timestamp::from_epoch_number(number as f64)
            .map(Some)
            .ok_or_else(|| bad(format!("{number} is not an epoch time"))),
        Some(Scalar::Float(number)) => Timestamp::from_epoch_number(number)
            .map(Some)
            .ok_or_else(|| bad(format!("{number} is not an epoch time"))),
        Some(Scalar::Negative(number)) => Err(bad(format!("{number} is before 1970"))),
        Some(other) => Err(wrong_type(field, "a timestamp", &other)),
    }
}

fn list(field: &str, value: Option<Scalar<'_>>) -> Result<Vec<String>, Problem> {
    match value {
        None | Some(Scalar::Null) => Ok(Vec::new()),
        Some(Scalar::List(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Scalar::Text(text) => {
                        let trimmed = trim_fast(&text);
                        if !trimmed.is_empty() {
                            out.push(trimmed.to_owned());
                        }
                    }
                    other => return Err(wrong_type(field, "a list of strings", &other)),
                }
            }
            Ok(out)
        }
        Some(other) => Err(wrong_type(field, "a list of strings", &other)),
    }
}

fn enum_value<T>(
    field: &str,
    value: Option<Scalar<'_>>,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, Problem> {
    // As `text`, without allocating the string only to parse it.
    let text = match &value {
        None | Some(Scalar::Null) => return Ok(None),
        Some(Scalar::Text(text)) => trim_fast(text),
        Some(other) => return Err(wrong_type(field, "a string", other)),
    };
    match (!text.is_empty()).then_some(text) {
        None => Ok(None),
        Some(text) => parse(text).map(Some).ok_or_else(|| {
            Problem::on_field(
                ProblemKind::InvalidValue,
                field,
                format!("{:?} is not one of {allowed}", shorten(text)),
            )
        }),
    }
}

impl<'a> WireRecord<'a> {
    /// Builds the typed record, checking presence and types. Semantic checks (ranges,
    /// references, lengths) and normalisation happen afterwards in the cleaner, on the typed
    /// record, so every source shares them. Returns the given event id, if any, beside it.
    pub(crate) fn take_record(&mut self) -> Result<(Record, Option<String>), Problem> {
        let record_type = match self.record_type.take() {
            None | Some(Scalar::Null) => return Err(missing("type")),
            Some(Scalar::Text(text)) => text,
            Some(other) => return Err(wrong_type("type", "a string", &other)),
        };
        let record_type = trim_fast(&record_type);
        match record_type {
            "title" => return Ok((Record::Title(self.take_title()?), None)),
            "member" => return Ok((Record::Member(self.take_member()?), None)),
            _ => {}
        }
        let body = match record_type {
            "play" => EventBody::Play(Play {
                member_id: required_text("member_id", self.member_id.take())?,
                profile_id: text("profile_id", self.profile_id.take())?,
                title_id: required_text("title_id", self.title_id.take())?,
                session_id: required_text("session_id", self.session_id.take())?,
                action: enum_value(
                    "action",
                    self.action.take(),
                    PlayAction::parse,
                    "start, heartbeat, stop",
                )?
                .ok_or_else(|| missing("action"))?,
                position_s: required_u32("position_s", self.position_s.take())?,
                watched_s: required_u32("watched_s", self.watched_s.take())?,
                device: text("device", self.device.take())?,
                country: text("country", self.country.take())?,
                request_id: text("request_id", self.request_id.take())?,
            }),
            "rating" => {
                let thumbs = enum_value(
                    "thumbs",
                    self.thumbs.take(),
                    |text| match text {
                        "up" => Some(Thumbs::Up),
                        "down" => Some(Thumbs::Down),
                        _ => None,
                    },
                    "up, down",
                )?;
                let stars = float("stars", self.stars.take())?;
                let value = match (thumbs, stars) {
                    (Some(thumbs), None) => RatingValue::Thumbs(thumbs),
                    (None, Some(stars)) => RatingValue::Stars(stars as f32),
                    (None, None) => {
                        return Err(Problem::on_field(
                            ProblemKind::MissingField,
                            "stars",
                            "a rating needs `thumbs` or `stars`",
                        ));
                    }
                    (Some(_), Some(_)) => {
                        return Err(Problem::on_field(
                            ProblemKind::InvalidValue,
                            "stars",
                            "a rating has either `thumbs` or `stars`, not both",
                        ));
                    }
                };
                EventBody::Rating(Rating {
                    member_id: required_text("member_id", self.member_id.take())?,
                    profile_id: text("profile_id", self.profile_id.take())?,
                    title_id: required_text("title_id", self.title_id.take())?,
                    value,
                })
            }
            "impression" => EventBody::Impression(Impression {
                member_id: required_text("member_id", self.member_id.take())?,
                profile_id: text("profile_id", self.profile_id.take())?,
                title_id: required_text("title_id", self.title_id.take())?,
                row: required_text("row", self.row.take())?,
                rank: required_u32("rank", self.rank.take())?,
                request_id: required_text("request_id", self.request_id.take())?,
                device: text("device", self.device.take())?,
            }),
            "login" => EventBody::Login(Login {
                account: required_text("account", self.account.take())?,
                outcome: enum_value(
                    "outcome",
                    self.outcome.take(),
                    LoginOutcome::parse,
                    "success, bad_password, unknown_account, locked, mfa_failed",
                )?
                .ok_or_else(|| missing("outcome"))?,
                ip: required_text("ip", self.ip.take())?,
                country: text("country", self.country.take())?,
                city: text("city", self.city.take())?,
                latitude: float("latitude", self.latitude.take())?,
                longitude: float("longitude", self.longitude.take())?,
                asn: u32_field("asn", self.asn.take())?,
                device: text("device", self.device.take())?,
                user_agent: text("user_agent", self.user_agent.take())?,
            }),
            "qoe" => EventBody::Qoe(Qoe {
                session_id: required_text("session_id", self.session_id.take())?,
                member_id: text("member_id", self.member_id.take())?,
                title_id: text("title_id", self.title_id.take())?,
                startup_ms: u32_field("startup_ms", self.startup_ms.take())?,
                exit_before_start: boolean("exit_before_start", self.exit_before_start.take())?
                    .unwrap_or(false),
                rebuffer_count: required_u32("rebuffer_count", self.rebuffer_count.take())?,
                rebuffer_ms: unsigned("rebuffer_ms", self.rebuffer_ms.take())?
                    .ok_or_else(|| missing("rebuffer_ms"))?,
                watch_s: required_u32("watch_s", self.watch_s.take())?,
                avg_bitrate_kbps: required_u32("avg_bitrate_kbps", self.avg_bitrate_kbps.take())?,
                bitrate_switches: required_u32("bitrate_switches", self.bitrate_switches.take())?,
                error_code: text("error_code", self.error_code.take())?,
                cdn: required_text("cdn", self.cdn.take())?,
                isp: text("isp", self.isp.take())?,
                asn: u32_field("asn", self.asn.take())?,
                country: required_text("country", self.country.take())?,
                device: required_text("device", self.device.take())?,
                player: required_text("player", self.player.take())?,
            }),
            "search" => EventBody::Search(Search {
                member_id: required_text("member_id", self.member_id.take())?,
                profile_id: text("profile_id", self.profile_id.take())?,
                query: required_text("query", self.query.take())?,
                clicked_title_id: text("clicked_title_id", self.clicked_title_id.take())?,
                request_id: text("request_id", self.request_id.take())?,
            }),
            other => {
                return Err(Problem::on_field(
                    ProblemKind::UnknownType,
                    "type",
                    format!(
                        "{:?} is not one of play, rating, impression, login, qoe, search, title, member",
                        shorten(other)
                    ),
                ));
            }
        };
        // `ts` is read after the body so a line of an unknown type says so rather than
        // complaining about its time.
        let ts = timestamp("ts", self.ts.take())?.ok_or_else(|| missing("ts"))?;
        let given_id = text("id", self.id.take())?;
        let event = Event {
            id: String::new(),
            ts,
            body,
        };
        Ok((Record::Event(event), given_id))
    }

    fn take_title(&mut self) -> Result<Title, Problem> {
        let id = required_text("id", self.id.take())?;
        let kind = enum_value(
            "kind",
            self.kind.take(),
            TitleKind::parse,
            "movie, series, season, episode",
        )?
        .ok_or_else(|| missing("kind"))?;
        let name = required_text("name", self.name.take())?;
        let mut title = Title::new(id, kind, name);
        title.series_id = text("series_id", self.series_id.take())?;
        title.season_number = u32_field("season_number", self.season_number.take())?;
        title.episode_number = u32_field("episode_number", self.episode_number.take())?;
        title.genres = list("genres", self.genres.take())?;
        title.release_year = signed_i32("release_year", self.release_year.take())?;
        title.duration_s = u32_field("duration_s", self.duration_s.take())?;
        title.maturity_rating = text("maturity_rating", self.maturity_rating.take())?;
        title.cast = list("cast", self.cast.take())?;
        title.directors = list("directors", self.directors.take())?;
        title.countries = list("countries", self.countries.take())?;
        title.added_at = timestamp("added_at", self.added_at.take())?;
        title.description = text("description", self.description.take())?;
        title.availability = availability(self.availability.take())?;
        Ok(title)
    }

    fn take_member(&mut self) -> Result<Member, Problem> {
        let mut member = Member::bare(required_text("id", self.id.take())?);
        member.email = text("email", self.email.take())?.map(Personal::new);
        member.name = text("name", self.name.take())?.map(Personal::new);
        member.country = text("country", self.country.take())?;
        member.signup_at = timestamp("signup_at", self.signup_at.take())?;
        member.plan = text("plan", self.plan.take())?;
        member.profiles = profiles(self.profiles.take())?;
        Ok(member)
    }
}

fn json_text<'v>(
    field: &str,
    object: &'v serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<&'v str>, Problem> {
    match object.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text.trim())),
        Some(_) => Err(Problem::on_field(
            ProblemKind::WrongType,
            &format!("{field}.{key}"),
            "expected a string",
        )),
    }
}

fn nested_objects(
    field: &str,
    value: Option<serde_json::Value>,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, Problem> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::Object(object) => Ok(object),
                _ => Err(Problem::on_field(
                    ProblemKind::WrongType,
                    field,
                    "expected a list of objects",
                )),
            })
            .collect(),
        Some(_) => Err(Problem::on_field(
            ProblemKind::WrongType,
            field,
            "expected a list of objects",
        )),
    }
}

fn availability(value: Option<serde_json::Value>) -> Result<Vec<Availability>, Problem> {
    let mut windows = Vec::new();
    for object in nested_objects("availability", value)? {
        let country = json_text("availability", &object, "country")?
            .ok_or_else(|| missing("availability.country"))?
            .to_owned();
        let parse_time = |key: &str| -> Result<Option<Timestamp>, Problem> {
            match json_text("availability", &object, key)? {
                None => Ok(None),
                Some(text) => Timestamp::parse(text).map(Some).map_err(|error| {
                    Problem::on_field(
                        ProblemKind::BadTimestamp,
                        &format!("availability.{key}"),
                        error.to_string(),
                    )
                }),
            }
        };
        let from = parse_time("from")?.ok_or_else(|| missing("availability.from"))?;
        let until = parse_time("until")?;
        windows.push(Availability {
            country,
            from,
            until,
        });
    }
    Ok(windows)
}

fn profiles(value: Option<serde_json::Value>) -> Result<Vec<Profile>, Problem> {
    let mut out = Vec::new();
    for object in nested_objects("profiles", value)? {
        let id = json_text("profiles", &object, "id")?
            .ok_or_else(|| missing("profiles.id"))?
            .to_owned();
        let name =
            json_text("profiles", &object, "name")?.map(|name| Personal::new(name.to_owned()));
        let maturity_text = json_text("profiles", &object, "maturity")?
            .ok_or_else(|| missing("profiles.maturity"))?;
        let maturity = MaturityLevel::parse(maturity_text).ok_or_else(|| {
            Problem::on_field(
                ProblemKind::InvalidValue,
                "profiles.maturity",
                format!(
                    "{:?} is not one of kids, older_kids, teens, adults",
                    shorten(maturity_text)
                ),
            )
        })?;
        out.push(Profile { id, name, maturity });
    }
    Ok(out)
}

/// Raised when a caller hands the wire parser something that is not an object at all.
pub(crate) fn not_an_object(error: &serde_json::Error) -> bool {
    error.classify() == serde_json::error::Category::Data
}

/// How a line was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// By the flat fast path: every value is a number or a borrowed string, so the record
    /// owns no heap memory.
    BorrowedOnly,
    /// By serde_json: values may own memory.
    MayOwn,
}

/// Parses one JSON line into `record` (which must be empty), classifying syntax problems.
pub(crate) fn parse_wire<'a>(
    line: &'a str,
    record: &mut WireRecord<'a>,
) -> Result<Parsed, Problem> {
    let classify = |error: serde_json::Error| {
        if not_an_object(&error) {
            Problem::new(
                ProblemKind::Malformed,
                format!("not a JSON object: {error}"),
            )
        } else {
            syntax_problem(&error)
        }
    };
    if scan_flat_object(line, record) {
        return Ok(Parsed::BorrowedOnly);
    }
    *record = WireRecord::default();
    let mut deserializer = serde_json::Deserializer::from_str(line);
    FillSeed(record)
        .deserialize(&mut deserializer)
        .map_err(classify)?;
    deserializer.end().map_err(classify)?;
    Ok(Parsed::MayOwn)
}
