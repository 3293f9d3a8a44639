//! The platform's events: plays (start / heartbeat / stop), ratings, recommendation
//! impressions, logins, playback-quality (QoE) sessions and searches.
//!
//! Every event has a stable `id`: the one the client sent, or one derived from the event's
//! content ([`Event::derive_id`]), so the same event imported twice is recognised as one.

use serde::{Deserialize, Serialize};
use std::cell::RefCell;

use xxhash_rust::xxh3::xxh3_128;

use crate::time::Timestamp;

/// One event as stored: its id, when it happened (UTC), and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Absent on the wire when the client sends none; the importer then derives it.
    #[serde(default)]
    pub id: String,
    pub ts: Timestamp,
    #[serde(flatten)]
    pub body: EventBody,
}

/// The kinds of event, with their fields. The JSON form is a flat object whose `type` names
/// the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    Play(Play),
    Rating(Rating),
    Impression(Impression),
    Login(Login),
    Qoe(Qoe),
    Search(Search),
}

/// The kind of an event without its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Play,
    Rating,
    Impression,
    Login,
    Qoe,
    Search,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Play,
        EventKind::Rating,
        EventKind::Impression,
        EventKind::Login,
        EventKind::Qoe,
        EventKind::Search,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Play => "play",
            EventKind::Rating => "rating",
            EventKind::Impression => "impression",
            EventKind::Login => "login",
            EventKind::Qoe => "qoe",
            EventKind::Search => "search",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// What a player reported about a playback session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayAction {
    Start,
    Heartbeat,
    Stop,
}

impl PlayAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayAction::Start => "start",
            PlayAction::Heartbeat => "heartbeat",
            PlayAction::Stop => "stop",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "start" => Some(PlayAction::Start),
            "heartbeat" => Some(PlayAction::Heartbeat),
            "stop" => Some(PlayAction::Stop),
            _ => None,
        }
    }
}

/// A playback report. A session is one press of play: a `start`, heartbeats every minute or
/// so, and a `stop`. `watched_s` is cumulative within the session (seconds of content
/// actually played so far, excluding seeks), so reports can arrive twice or out of order and
/// the session's total is still their maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Play {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    pub title_id: String,
    pub session_id: String,
    pub action: PlayAction,
    /// Playhead position in the title, seconds from its start.
    pub position_s: u32,
    /// Seconds played in this session so far.
    pub watched_s: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The recommendation response (see [`Impression::request_id`]) the member pressed play
    /// from, when there was one: plays citing it give the take rate of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A thumbs rating or a star rating (0.5 to 5 in half stars, as MovieLens allows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingValue {
    Thumbs(Thumbs),
    Stars(f32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Thumbs {
    Up,
    Down,
}

impl RatingValue {
    /// The rating on a common scale from -1 (thumbs down, half a star) to 1 (thumbs up, five
    /// stars), for models that mix both kinds.
    pub fn score(self) -> f32 {
        match self {
            RatingValue::Thumbs(Thumbs::Up) => 1.0,
            RatingValue::Thumbs(Thumbs::Down) => -1.0,
            RatingValue::Stars(stars) => (stars - 2.75) / 2.25,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    pub title_id: String,
    #[serde(flatten)]
    pub value: RatingValue,
}

pub use Thumbs as ThumbsValue;

/// A title shown to a member in a row of a page, at a rank, as part of one response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impression {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    pub title_id: String,
    /// The row's name (`top_picks`, `trending_now`, `because_you_watched:t123`, ...).
    pub row: String,
    /// 1-based position in the row.
    pub rank: u32,
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginOutcome {
    Success,
    BadPassword,
    UnknownAccount,
    Locked,
    MfaFailed,
}

impl LoginOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::BadPassword => "bad_password",
            LoginOutcome::UnknownAccount => "unknown_account",
            LoginOutcome::Locked => "locked",
            LoginOutcome::MfaFailed => "mfa_failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "success" => Some(LoginOutcome::Success),
            "bad_password" => Some(LoginOutcome::BadPassword),
            "unknown_account" => Some(LoginOutcome::UnknownAccount),
            "locked" => Some(LoginOutcome::Locked),
            "mfa_failed" => Some(LoginOutcome::MfaFailed),
            _ => None,
        }
    }
}

/// A sign-in attempt on the platform. `account` is the identifier that was tried, which need
/// not exist (credential stuffing tries lists of leaked ones), so it is not checked against
/// the member table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Login {
    pub account: String,
    pub outcome: LoginOutcome,
    /// The client's IP address (personal data).
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The quality-of-experience summary of one playback session, sent by the player when the
/// session ends (or fails).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qoe {
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_id: Option<String>,
    /// Time from pressing play to the first frame; absent when video never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_ms: Option<u32>,
    /// The viewer left before the first frame (with or without an error).
    #[serde(default)]
    pub exit_before_start: bool,
    pub rebuffer_count: u32,
    pub rebuffer_ms: u64,
    /// Seconds of video played.
    pub watch_s: u32,
    pub avg_bitrate_kbps: u32,
    pub bitrate_switches: u32,
    /// The player's fatal error, when playback failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub cdn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    pub country: String,
    pub device: String,
    /// Player name and version (`web/5.12.0`).
    pub player: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clicked_title_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::Play(_) => EventKind::Play,
            EventBody::Rating(_) => EventKind::Rating,
            EventBody::Impression(_) => EventKind::Impression,
            EventBody::Login(_) => EventKind::Login,
            EventBody::Qoe(_) => EventKind::Qoe,
            EventBody::Search(_) => EventKind::Search,
        }
    }

    /// The member the event is about, when it names one that must exist.
    pub fn member_id(&self) -> Option<&str> {
        match self {
            EventBody::Play(play) => Some(&play.member_id),
            EventBody::Rating(rating) => Some(&rating.member_id),
            EventBody::Impression(impression) => Some(&impression.member_id),
            EventBody::Login(_) => None,
            EventBody::Qoe(qoe) => qoe.member_id.as_deref(),
            EventBody::Search(search) => Some(&search.member_id),
        }
    }

    /// The title the event is about, when it names one that must exist.
    pub fn title_id(&self) -> Option<&str> {
        match self {
            EventBody::Play(play) => Some(&play.title_id),
            EventBody::Rating(rating) => Some(&rating.title_id),
            EventBody::Impression(impression) => Some(&impression.title_id),
            EventBody::Login(_) => None,
            EventBody::Qoe(qoe) => qoe.title_id.as_deref(),
            EventBody::Search(search) => search.clicked_title_id.as_deref(),
        }
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        self.body.kind()
    }

    /// Builds an event whose id is derived from its content.
    pub fn with_derived_id(ts: Timestamp, body: EventBody) -> Self {
        let mut event = Event {
            id: String::new(),
            ts,
            body,
        };
        event.id = event.derive_id();
        event
    }

    /// A 128-bit hash of everything the event says (kind, time and every field), as 32 hex
    /// digits. Two reports of the same thing get the same id; any difference in any field
    /// gives another. The hash is XXH3-128, which is stable across versions and platforms.
    pub fn derive_id(&self) -> String {
        // The fields are laid out in a reused buffer and hashed in one call: streaming many
        // small pieces into the hasher costs several times more on the import's hot path.
        thread_local! {
            static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
        }
        BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.clear();
            let mut hasher = ContentHasher(&mut buffer);
            self.write_content(&mut hasher);
            hex_128(xxh3_128(&buffer))
        })
    }

    fn write_content(&self, hasher: &mut ContentHasher<'_>) {
        hasher.str(self.kind().as_str());
        hasher.i64(self.ts.millis());
        match &self.body {
            EventBody::Play(play) => {
                hasher.str(&play.member_id);
                hasher.opt_str(play.profile_id.as_deref());
                hasher.str(&play.title_id);
                hasher.str(&play.session_id);
                hasher.str(play.action.as_str());
                hasher.i64(i64::from(play.position_s));
                hasher.i64(i64::from(play.watched_s));
                hasher.opt_str(play.device.as_deref());
                hasher.opt_str(play.country.as_deref());
                hasher.opt_str(play.request_id.as_deref());
            }
            EventBody::Rating(rating) => {
                hasher.str(&rating.member_id);
                hasher.opt_str(rating.profile_id.as_deref());
                hasher.str(&rating.title_id);
                match rating.value {
                    RatingValue::Thumbs(Thumbs::Up) => hasher.str("up"),
                    RatingValue::Thumbs(Thumbs::Down) => hasher.str("down"),
                    RatingValue::Stars(stars) => {
                        hasher.i64((f64::from(stars) * 2.0).round() as i64)
                    }
                }
            }
            EventBody::Impression(impression) => {
                hasher.str(&impression.member_id);
                hasher.opt_str(impression.profile_id.as_deref());
                hasher.str(&impression.title_id);
                hasher.str(&impression.row);
                hasher.i64(i64::from(impression.rank));
                hasher.str(&impression.request_id);
                hasher.opt_str(impression.device.as_deref());
            }
            EventBody::Login(login) => {
                hasher.str(&login.account);
                hasher.str(login.outcome.as_str());
                hasher.str(&login.ip);
                hasher.opt_str(login.country.as_deref());
                hasher.opt_str(login.city.as_deref());
                hasher.opt_f64(login.latitude);
                hasher.opt_f64(login.longitude);
                hasher.opt_i64(login.asn.map(i64::from));
                hasher.opt_str(login.device.as_deref());
                hasher.opt_str(login.user_agent.as_deref());
            }
            EventBody::Qoe(qoe) => {
                hasher.str(&qoe.session_id);
                hasher.opt_str(qoe.member_id.as_deref());
                hasher.opt_str(qoe.title_id.as_deref());
                hasher.opt_i64(qoe.startup_ms.map(i64::from));
                hasher.i64(i64::from(qoe.exit_before_start));
                hasher.i64(i64::from(qoe.rebuffer_count));
                hasher.i64(qoe.rebuffer_ms as i64);
                hasher.i64(i64::from(qoe.watch_s));
                hasher.i64(i64::from(qoe.avg_bitrate_kbps));
                hasher.i64(i64::from(qoe.bitrate_switches));
                hasher.opt_str(qoe.error_code.as_deref());
                hasher.str(&qoe.cdn);
                hasher.opt_str(qoe.isp.as_deref());
                hasher.opt_i64(qoe.asn.map(i64::from));
                hasher.str(&qoe.country);
                hasher.str(&qoe.device);
                hasher.str(&qoe.player);
            }
            EventBody::Search(search) => {
                hasher.str(&search.member_id);
                hasher.opt_str(search.profile_id.as_deref());
                hasher.str(&search.query);
                hasher.opt_str(search.clicked_title_id.as_deref());
                hasher.opt_str(search.request_id.as_deref());
            }
        }
    }
}

/// Lower-case hex of a 128-bit value, most significant digit first (as `{:032x}`).
fn hex_128(value: u128) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (index, slot) in out.iter_mut().enumerate() {
        let shift = (31 - index) * 4;
        *slot = DIGITS[((value >> shift) & 0xf) as usize];
    }
    out.iter().map(|&digit| digit as char).collect()
}

/// Lays fields out unambiguously for hashing: every string is length-prefixed and every
/// optional value carries a presence byte, so `("ab", "c")` and `("a", "bc")` differ.
struct ContentHasher<'a>(&'a mut Vec<u8>);

impl ContentHasher<'_> {
    fn str(&mut self, value: &str) {
        self.0
            .extend_from_slice(&(value.len() as u64).to_le_bytes());
        self.0.extend_from_slice(value.as_bytes());
    }

    fn opt_str(&mut self, value: Option<&str>) {
        match value {
            Some(value) => {
                self.0.push(1);
                self.str(value);
            }
            None => self.0.push(0),
        }
    }

    fn i64(&mut self, value: i64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn opt_i64(&mut self, value: Option<i64>) {
        match value {
            Some(value) => {
                self.0.push(1);
                self.i64(value);
            }
            None => self.0.push(0),
        }
    }

    fn opt_f64(&mut self, value: Option<f64>) {
        self.opt_i64(value.map(|v| v.to_bits() as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(watched_s: u32) -> Event {
        Event::with_derived_id(
            Timestamp::parse("2026-10-01T20:15:03Z").unwrap(),
            EventBody::Play(Play {
                member_id: "m1".into(),
                profile_id: Some("m1-p1".into()),
                title_id: "t1".into(),
                session_id: "s1".into(),
                action: PlayAction::Heartbeat,
                position_s: 600,
                watched_s,
                device: Some("tv".into()),
                country: Some("US".into()),
                request_id: None,
            }),
        )
    }

    #[test]
    fn derived_id_is_hex_of_the_content_hash() {
        let id = play(598).id;
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(hex_128(0xfe), format!("{:032x}", 0xfe_u128));
        assert_eq!(hex_128(u128::MAX - 5), format!("{:032x}", u128::MAX - 5));
    }

    #[test]
    fn derived_id_is_stable_and_content_sensitive() {
        assert_eq!(play(598).id, play(598).id);
        assert_ne!(play(598).id, play(599).id);
        assert_eq!(play(598).id.len(), 32);
    }

    #[test]
    fn json_shape_is_flat_with_a_type() {
        let json = serde_json::to_value(play(598)).unwrap();
        assert_eq!(json["type"], "play");
        assert_eq!(json["ts"], "2026-10-01T20:15:03Z");
        assert_eq!(json["session_id"], "s1");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, play(598));
    }

    #[test]
    fn rating_value_flattens_to_thumbs_or_stars() {
        let rating = Rating {
            member_id: "m1".into(),
            profile_id: None,
            title_id: "t1".into(),
            value: RatingValue::Stars(4.5),
        };
        let json = serde_json::to_value(&rating).unwrap();
        assert_eq!(json["stars"], 4.5);
        let thumbs = Rating {
            value: RatingValue::Thumbs(Thumbs::Down),
            ..rating
        };
        assert_eq!(serde_json::to_value(&thumbs).unwrap()["thumbs"], "down");
    }
}
