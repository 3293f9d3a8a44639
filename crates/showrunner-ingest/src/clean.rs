//! Cleaning: one path that every source goes through. Validates a record's values, checks
//! it against the entities known so far, normalises it (UTC times, ISO country codes,
//! trimmed strings, absent rather than empty), and gives events their stable id.
//!
//! [`Cleaner::clean_json`] is the line-level entry point (the importer, and later HTTP and
//! NATS ingest); [`Cleaner::clean_record`] takes a record a reader has already built
//! (MovieLens, the catalog CSV) and applies the same checks.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use showrunner_model::time::{DAY_MS, HOUR_MS};
use showrunner_model::{
    Event, EventBody, Member, Problem, ProblemKind, RatingValue, Record, Timestamp, Title,
    TitleKind,
};

use crate::country::{is_canonical_alpha2, normalize_country};
use crate::index::{EntityIndex, IdKey};
use crate::wire::{Parsed, WireRecord, parse_wire, trim_fast};

/// Length bounds, in bytes, on string fields.
pub const MAX_ID_BYTES: usize = 128;
pub const MAX_SHORT_TEXT_BYTES: usize = 256;
pub const MAX_NAME_BYTES: usize = 512;
pub const MAX_LONG_TEXT_BYTES: usize = 1024;
pub const MAX_DESCRIPTION_BYTES: usize = 8192;
/// Lines (and CSV records) longer than this are quarantined as `line_too_long` unread.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Allowances for "watched beyond length". A session may legitimately play more than the
/// title runs (rewinds, re-watching a scene, a second viewing without pressing stop), so
/// `watched_s` may reach three times the runtime plus ten minutes; the playhead itself may
/// overshoot the catalog runtime by a minute (credits, rounding of the catalog duration).
pub const POSITION_ALLOWANCE_S: u32 = 60;
pub const WATCHED_RUNTIME_FACTOR: u64 = 3;
pub const WATCHED_ALLOWANCE_S: u64 = 600;

/// What the cleaner needs to know about a title to check events against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownTitle {
    pub kind: TitleKind,
    pub duration_s: Option<u32>,
}

/// Titles and members that exist (from the store, and from records already cleaned in this
/// run). Events naming others are quarantined as `unknown_title` / `unknown_member`.
#[derive(Debug, Clone, Default)]
pub struct KnownEntities {
    pub titles: HashMap<String, KnownTitle>,
    pub members: HashSet<String>,
}

impl KnownEntities {
    pub fn remember_title(&mut self, title: &Title) {
        let known = KnownTitle {
            kind: title.kind,
            duration_s: title.duration_s,
        };
        // Avoid allocating a key for a title seen before (catalog re-imports).
        if let Some(existing) = self.titles.get_mut(title.id.as_str()) {
            *existing = known;
        } else {
            self.titles.insert(title.id.clone(), known);
        }
    }

    pub fn remember_member(&mut self, member_id: &str) {
        if !self.members.contains(member_id) {
            self.members.insert(member_id.to_owned());
        }
    }
}

/// The thresholds of validation. `Default` reads the system clock for `now`.
#[derive(Debug, Clone)]
pub struct CleaningRules {
    /// "Now", for the future-timestamp check. A fake clock in tests.
    pub now: Timestamp,
    /// How far past `now` a timestamp may be (client clock skew) before it is
    /// `future_timestamp`. One day by default.
    pub max_future_skew_ms: i64,
    /// Timestamps before this are `bad_timestamp` (1990-01-01: a zeroed or garbage clock).
    pub min_timestamp: Timestamp,
    /// Longest accepted line or CSV record, in bytes.
    pub max_line_bytes: usize,
}

impl CleaningRules {
    /// The rules with a given "now" (tests, replays).
    pub fn at(now: Timestamp) -> Self {
        CleaningRules {
            now,
            max_future_skew_ms: DAY_MS,
            min_timestamp: Timestamp::from_seconds(631_152_000), // 1990-01-01T00:00:00Z
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

impl Default for CleaningRules {
    fn default() -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis() as i64)
            .unwrap_or(0);
        CleaningRules::at(Timestamp::from_millis(now_ms))
    }
}

/// Things the cleaner fixed or dropped without rejecting the row, counted so the import
/// summary can show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CleaningWarnings {
    /// Production countries of a title that map to no ISO code ("Soviet Union"): dropped
    /// from the title, which is kept.
    pub unmappable_countries_dropped: u64,
    /// Catalog rows whose duration sat in the rating column, moved back.
    pub catalog_rows_repaired: u64,
}

impl CleaningWarnings {
    pub fn add(&mut self, other: &CleaningWarnings) {
        self.unmappable_countries_dropped += other.unmappable_countries_dropped;
        self.catalog_rows_repaired += other.catalog_rows_repaired;
    }

    pub fn is_empty(&self) -> bool {
        *self == CleaningWarnings::default()
    }
}

/// Validates and normalises records; remembers the titles and members it lets through.
#[derive(Debug)]
pub struct Cleaner {
    rules: CleaningRules,
    known: EntityIndex,
    warnings: CleaningWarnings,
}

fn too_long(field: &str, length: usize, limit: usize) -> Problem {
    Problem::on_field(
        ProblemKind::FieldTooLong,
        field,
        format!("{length} bytes, at most {limit} allowed"),
    )
}

fn check_length(field: &str, value: &str, limit: usize) -> Result<(), Problem> {
    if value.len() > limit {
        Err(too_long(field, value.len(), limit))
    } else {
        Ok(())
    }
}

/// Trims a required string in place; empty means missing.
fn required(field: &str, value: &mut String, limit: usize) -> Result<(), Problem> {
    trim_in_place(value);
    if value.is_empty() {
        return Err(Problem::on_field(
            ProblemKind::MissingField,
            field,
            "required field is empty",
        ));
    }
    check_length(field, value, limit)
}

/// Trims an optional string in place; empty becomes absent.
fn optional(field: &str, value: &mut Option<String>, limit: usize) -> Result<(), Problem> {
    if let Some(text) = value {
        trim_in_place(text);
        if text.is_empty() {
            *value = None;
        } else {
            check_length(field, text, limit)?;
        }
    }
    Ok(())
}

fn trim_in_place(value: &mut String) {
    let trimmed = trim_fast(value);
    if trimmed.len() != value.len() {
        *value = trimmed.to_owned();
    }
}

fn list_entries(field: &str, values: &mut Vec<String>, limit: usize) -> Result<(), Problem> {
    for value in values.iter_mut() {
        trim_in_place(value);
        check_length(field, value, limit)?;
    }
    values.retain(|value| !value.is_empty());
    Ok(())
}

/// Normalises a country field in place; an unknown one is `invalid_country`.
fn country_field(field: &str, value: &mut String) -> Result<(), Problem> {
    if is_canonical_alpha2(value) {
        return Ok(());
    }
    match normalize_country(value) {
        Some(code) => {
            *value = code.to_owned();
            Ok(())
        }
        None => Err(Problem::on_field(
            ProblemKind::InvalidCountry,
            field,
            format!(
                "{:?} is not an ISO 3166-1 country",
                value.chars().take(64).collect::<String>()
            ),
        )),
    }
}

fn optional_country(field: &str, value: &mut Option<String>) -> Result<(), Problem> {
    optional(field, value, MAX_SHORT_TEXT_BYTES)?;
    match value {
        Some(text) => country_field(field, text),
        None => Ok(()),
    }
}

fn invalid(field: &str, detail: impl Into<String>) -> Problem {
    Problem::on_field(ProblemKind::InvalidValue, field, detail)
}

fn impossible(field: &str, detail: impl Into<String>) -> Problem {
    Problem::on_field(ProblemKind::ImpossibleValue, field, detail)
}

/// No player session plausibly lasts longer than a day.
const MAX_SESSION_S: u32 = 24 * 60 * 60;
/// Ten minutes from pressing play to the first frame is not a slow start but a broken clock.
const MAX_STARTUP_MS: u32 = 10 * 60 * 1000;
/// 1 Gbit/s: far above any streaming ladder.
const MAX_BITRATE_KBPS: u32 = 1_000_000;
/// The longest film ever made runs about a week.
const MAX_TITLE_DURATION_S: u32 = 7 * 24 * 60 * 60;

impl Cleaner {
    pub fn new(rules: CleaningRules, known: KnownEntities) -> Self {
        Cleaner {
            rules,
            known: EntityIndex::from_known(known),
            warnings: CleaningWarnings::default(),
        }
    }

    pub fn rules(&self) -> &CleaningRules {
        &self.rules
    }

    /// Whether a member exists (given at the start, or cleaned since).
    pub fn knows_member(&self, member_id: &str) -> bool {
        self.known.has_member(member_id)
    }

    /// A title known so far, with what events are checked against.
    pub fn known_title(&self, title_id: &str) -> Option<KnownTitle> {
        self.known.title(title_id)
    }

    /// How many members and titles are known.
    pub fn known_counts(&self) -> (usize, usize) {
        (self.known.member_count(), self.known.title_count())
    }

    /// What was fixed or dropped (without rejecting a row) so far.
    pub fn warnings(&self) -> CleaningWarnings {
        self.warnings
    }

    /// Returns and resets the warning counters.
    pub fn take_warnings(&mut self) -> CleaningWarnings {
        std::mem::take(&mut self.warnings)
    }

    pub(crate) fn note_catalog_repair(&mut self) {
        self.warnings.catalog_rows_repaired += 1;
    }

    /// The line-level entry point: one JSON object (no trailing newline needed) to a clean
    /// record, or the problem that rejects it.
    pub fn clean_json(&mut self, line: &[u8]) -> Result<Record, Problem> {
        let prepared = prepare_json(&self.rules, line);
        self.resolve(prepared)
    }

    /// Type-checks a wire record (from JSON or built by a reader) and cleans it.
    pub(crate) fn clean_wire(&mut self, wire: &mut WireRecord<'_>) -> Result<Record, Problem> {
        let prepared = prepare_wire(&self.rules, wire);
        self.resolve(prepared)
    }

    /// Validates and normalises a record built by a reader, and remembers titles and members.
    /// An event with an empty id gets one derived from its content; a non-empty id is kept.
    pub fn clean_record(&mut self, record: Record) -> Result<Record, Problem> {
        let mut countries_dropped = 0;
        let outcome = prepare_record(&self.rules, record, &mut countries_dropped);
        self.resolve(Prepared {
            outcome,
            countries_dropped,
        })
    }

    /// The stateful half of cleaning, applied in input order: checks an event's references
    /// against the titles and members known so far, then remembers the titles and members
    /// let through. The checks run in the order the one-pass cleaner ran them, so a row with
    /// several faults is rejected for the same one whichever half finds it.
    pub fn resolve(&mut self, prepared: Prepared) -> Result<Record, Problem> {
        self.warnings.unmappable_countries_dropped += prepared.countries_dropped;
        match prepared.outcome? {
            PreparedRecord::Event {
                mut event,
                given_id,
                keys,
            } => {
                self.check_references(&event.body, keys)?;
                if let Some(mut id) = given_id {
                    required("id", &mut id, MAX_ID_BYTES)?;
                    event.id = id;
                }
                Ok(Record::Event(event))
            }
            PreparedRecord::Title(title) => {
                self.known.insert_title(
                    title.id.clone(),
                    KnownTitle {
                        kind: title.kind,
                        duration_s: title.duration_s,
                    },
                );
                Ok(Record::Title(*title))
            }
            PreparedRecord::Member(member) => {
                if !self.known.has_member(&member.id) {
                    self.known.insert_member(member.id.clone());
                }
                Ok(Record::Member(*member))
            }
        }
    }

    /// `key` is the id's lookup key when already computed.
    fn known_member(
        &self,
        field: &str,
        member_id: &str,
        key: Option<IdKey>,
    ) -> Result<(), Problem> {
        let key = key.unwrap_or_else(|| IdKey::new(member_id));
        if self.known.has_member_key(key, member_id) {
            Ok(())
        } else {
            Err(Problem::on_field(
                ProblemKind::UnknownMember,
                field,
                format!("no member {:?}", member_id),
            ))
        }
    }

    fn check_title(
        &self,
        field: &str,
        title_id: &str,
        key: Option<IdKey>,
    ) -> Result<KnownTitle, Problem> {
        let key = key.unwrap_or_else(|| IdKey::new(title_id));
        self.known.title_key(key, title_id).ok_or_else(|| {
            Problem::on_field(
                ProblemKind::UnknownTitle,
                field,
                format!("no title {:?}", title_id),
            )
        })
    }

    /// An event's references: its member and title must be known, and a play must fit
    /// the title it names.
    fn check_references(&self, body: &EventBody, keys: References) -> Result<(), Problem> {
        match body {
            EventBody::Play(play) => {
                self.known_member("member_id", &play.member_id, keys.member)?;
                let title = self.check_title("title_id", &play.title_id, keys.title)?;
                if !title.kind.is_playable() {
                    return Err(invalid(
                        "title_id",
                        format!(
                            "{:?} is a {}, which cannot be played; plays name a movie or episode",
                            play.title_id,
                            title.kind.as_str()
                        ),
                    ));
                }
                if let Some(duration_s) = title.duration_s {
                    if play.position_s > duration_s.saturating_add(POSITION_ALLOWANCE_S) {
                        return Err(Problem::on_field(
                            ProblemKind::WatchedBeyondLength,
                            "position_s",
                            format!(
                                "position {} s is past the title's {duration_s} s runtime",
                                play.position_s
                            ),
                        ));
                    }
                    let watched_limit =
                        u64::from(duration_s) * WATCHED_RUNTIME_FACTOR + WATCHED_ALLOWANCE_S;
                    if u64::from(play.watched_s) > watched_limit {
                        return Err(Problem::on_field(
                            ProblemKind::WatchedBeyondLength,
                            "watched_s",
                            format!(
                                "{} s watched of a {duration_s} s title (at most {watched_limit} s allowed)",
                                play.watched_s
                            ),
                        ));
                    }
                } else if play.position_s > MAX_TITLE_DURATION_S {
                    return Err(impossible(
                        "position_s",
                        format!("position {} s is longer than any title", play.position_s),
                    ));
                }
            }
            EventBody::Rating(rating) => {
                self.known_member("member_id", &rating.member_id, keys.member)?;
                self.check_title("title_id", &rating.title_id, keys.title)?;
            }
            EventBody::Impression(impression) => {
                self.known_member("member_id", &impression.member_id, keys.member)?;
                self.check_title("title_id", &impression.title_id, keys.title)?;
            }
            EventBody::Login(_) => {}
            EventBody::Qoe(qoe) => {
                if let Some(member_id) = &qoe.member_id {
                    self.known_member("member_id", member_id, keys.member)?;
                }
                if let Some(title_id) = &qoe.title_id {
                    self.check_title("title_id", title_id, keys.title)?;
                }
            }
            EventBody::Search(search) => {
                self.known_member("member_id", &search.member_id, keys.member)?;
                if let Some(title_id) = &search.clicked_title_id {
                    self.check_title("clicked_title_id", title_id, keys.title)?;
                }
            }
        }
        Ok(())
    }
}

/// A record after the stateless half of cleaning: parsed, type-checked, validated,
/// normalised, with its id derived. Depends only on the rules and the row, so rows can be
/// prepared on any thread; [`Cleaner::resolve`] finishes them in input order.
/// Public so that a caller can prepare rows on its own threads (the HTTP server does, in
/// its request handlers) and hand them to the one [`Cleaner`] that resolves them.
#[derive(Debug)]
pub struct Prepared {
    pub(crate) outcome: Result<PreparedRecord, Problem>,
    /// Unmappable production countries dropped from a title (counted even when the title
    /// is then rejected).
    pub(crate) countries_dropped: u64,
}

impl Prepared {
    pub(crate) fn rejected(problem: Problem) -> Self {
        Prepared {
            outcome: Err(problem),
            countries_dropped: 0,
        }
    }
}

// Events are the many (a boxed one would cost an allocation each); titles and members,
// large and rare, are boxed instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum PreparedRecord {
    /// `given_id` is the event's own id, checked only after its references (as the
    /// one-pass cleaner did); without one, `event.id` is already derived.
    Event {
        event: Event,
        given_id: Option<String>,
        keys: References,
    },
    Title(Box<Title>),
    Member(Box<Member>),
}

/// The stateless half of [`Cleaner::clean_json`]: `Cleaner::resolve(prepare_json(rules,
/// line))` is `clean_json(line)` for a cleaner with the same rules.
pub fn prepare_json(rules: &CleaningRules, line: &[u8]) -> Prepared {
    let mut countries_dropped = 0;
    let outcome = prepare_json_record(rules, line, &mut countries_dropped);
    Prepared {
        outcome,
        countries_dropped,
    }
}

fn prepare_json_record(
    rules: &CleaningRules,
    line: &[u8],
    countries_dropped: &mut u64,
) -> Result<PreparedRecord, Problem> {
    if line.len() > rules.max_line_bytes {
        return Err(Problem::new(
            ProblemKind::LineTooLong,
            format!(
                "{} bytes, at most {} allowed",
                line.len(),
                rules.max_line_bytes
            ),
        ));
    }
    let text = std::str::from_utf8(line).map_err(|error| {
        Problem::new(
            ProblemKind::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", error.valid_up_to()),
        )
    })?;
    let mut wire = WireRecord::default();
    let parsed = parse_wire(text, &mut wire)?;
    let result = prepare_wire_record(rules, &mut wire, countries_dropped);
    if parsed == Parsed::BorrowedOnly {
        // The record's 57 optional fields hold only numbers and borrowed strings here,
        // so there is nothing to free; skipping the field-by-field drop glue saves
        // about 7% of the hot path. (Forgetting is safe; it would at worst leak.)
        std::mem::forget(wire);
    }
    result
}

/// The stateless half of [`Cleaner::clean_wire`].
pub(crate) fn prepare_wire(rules: &CleaningRules, wire: &mut WireRecord<'_>) -> Prepared {
    let mut countries_dropped = 0;
    let outcome = prepare_wire_record(rules, wire, &mut countries_dropped);
    Prepared {
        outcome,
        countries_dropped,
    }
}

fn prepare_wire_record(
    rules: &CleaningRules,
    wire: &mut WireRecord<'_>,
    countries_dropped: &mut u64,
) -> Result<PreparedRecord, Problem> {
    let (record, given_id) = wire.take_record()?;
    match record {
        Record::Event(event) => prepare_event(rules, event, given_id),
        other => prepare_record(rules, other, countries_dropped),
    }
}

fn prepare_record(
    rules: &CleaningRules,
    record: Record,
    countries_dropped: &mut u64,
) -> Result<PreparedRecord, Problem> {
    match record {
        Record::Title(title) => prepare_title(rules, title, countries_dropped)
            .map(|title| PreparedRecord::Title(Box::new(title))),
        Record::Member(member) => {
            prepare_member(rules, member).map(|member| PreparedRecord::Member(Box::new(member)))
        }
        Record::Event(mut event) => {
            let given_id = std::mem::take(&mut event.id);
            let given_id = (!given_id.trim().is_empty()).then_some(given_id);
            prepare_event(rules, event, given_id)
        }
    }
}

fn prepare_event(
    rules: &CleaningRules,
    mut event: Event,
    given_id: Option<String>,
) -> Result<PreparedRecord, Problem> {
    check_time(rules, "ts", event.ts)?;
    normalise_body(&mut event.body)?;
    if given_id.is_none() {
        // Derived after normalisation, so "us" and "US" give one id.
        event.id = event.derive_id();
    }
    let keys = References::of(&event.body);
    Ok(PreparedRecord::Event {
        event,
        given_id,
        keys,
    })
}

/// The lookup keys of the member and title an event names, computed while preparing it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct References {
    member: Option<IdKey>,
    title: Option<IdKey>,
}

impl References {
    fn of(body: &EventBody) -> Self {
        let (member, title) = match body {
            EventBody::Play(play) => (Some(play.member_id.as_str()), Some(play.title_id.as_str())),
            EventBody::Rating(rating) => (
                Some(rating.member_id.as_str()),
                Some(rating.title_id.as_str()),
            ),
            EventBody::Impression(impression) => (
                Some(impression.member_id.as_str()),
                Some(impression.title_id.as_str()),
            ),
            EventBody::Login(_) => (None, None),
            EventBody::Qoe(qoe) => (qoe.member_id.as_deref(), qoe.title_id.as_deref()),
            EventBody::Search(search) => (
                Some(search.member_id.as_str()),
                search.clicked_title_id.as_deref(),
            ),
        };
        References {
            member: member.map(IdKey::new),
            title: title.map(IdKey::new),
        }
    }
}

fn check_time(rules: &CleaningRules, field: &str, ts: Timestamp) -> Result<(), Problem> {
    if ts < rules.min_timestamp {
        return Err(Problem::on_field(
            ProblemKind::BadTimestamp,
            field,
            format!("{ts} is before {}", rules.min_timestamp),
        ));
    }
    if ts.millis() > rules.now.millis().saturating_add(rules.max_future_skew_ms) {
        return Err(Problem::on_field(
            ProblemKind::FutureTimestamp,
            field,
            format!("{ts} is after now ({}) plus the allowed skew", rules.now),
        ));
    }
    Ok(())
}

/// The stateless checks and normalisation of an event's body (everything but its
/// references to titles and members).
fn normalise_body(body: &mut EventBody) -> Result<(), Problem> {
    match body {
        EventBody::Play(play) => {
            required("member_id", &mut play.member_id, MAX_ID_BYTES)?;
            optional("profile_id", &mut play.profile_id, MAX_ID_BYTES)?;
            required("title_id", &mut play.title_id, MAX_ID_BYTES)?;
            required("session_id", &mut play.session_id, MAX_ID_BYTES)?;
            optional("device", &mut play.device, MAX_SHORT_TEXT_BYTES)?;
            optional_country("country", &mut play.country)?;
            optional("request_id", &mut play.request_id, MAX_ID_BYTES)?;
            if play.watched_s > MAX_SESSION_S {
                return Err(impossible(
                    "watched_s",
                    format!("{} s watched in one session (over 24 h)", play.watched_s),
                ));
            }
        }
        EventBody::Rating(rating) => {
            required("member_id", &mut rating.member_id, MAX_ID_BYTES)?;
            optional("profile_id", &mut rating.profile_id, MAX_ID_BYTES)?;
            required("title_id", &mut rating.title_id, MAX_ID_BYTES)?;
            if let RatingValue::Stars(stars) = rating.value {
                let doubled = stars * 2.0;
                if !(0.5..=5.0).contains(&stars) || doubled.fract() != 0.0 {
                    return Err(invalid(
                        "stars",
                        format!("{stars} is not between 0.5 and 5 in half stars"),
                    ));
                }
            }
        }
        EventBody::Impression(impression) => {
            required("member_id", &mut impression.member_id, MAX_ID_BYTES)?;
            optional("profile_id", &mut impression.profile_id, MAX_ID_BYTES)?;
            required("title_id", &mut impression.title_id, MAX_ID_BYTES)?;
            required("row", &mut impression.row, MAX_SHORT_TEXT_BYTES)?;
            required("request_id", &mut impression.request_id, MAX_ID_BYTES)?;
            optional("device", &mut impression.device, MAX_SHORT_TEXT_BYTES)?;
            if impression.rank == 0 {
                return Err(invalid("rank", "ranks start at 1"));
            }
        }
        EventBody::Login(login) => {
            required("account", &mut login.account, MAX_SHORT_TEXT_BYTES)?;
            required("ip", &mut login.ip, MAX_SHORT_TEXT_BYTES)?;
            match login.ip.parse::<IpAddr>() {
                // Canonical form, so "::0001" and "::1" are one address.
                Ok(address) => {
                    let canonical = address.to_string();
                    if canonical != login.ip {
                        login.ip = canonical;
                    }
                }
                Err(_) => {
                    return Err(Problem::on_field(
                        ProblemKind::InvalidIp,
                        "ip",
                        format!(
                            "{:?} is not an IPv4 or IPv6 address",
                            login.ip.chars().take(64).collect::<String>()
                        ),
                    ));
                }
            }
            optional_country("country", &mut login.country)?;
            optional("city", &mut login.city, MAX_SHORT_TEXT_BYTES)?;
            optional("device", &mut login.device, MAX_SHORT_TEXT_BYTES)?;
            optional("user_agent", &mut login.user_agent, MAX_LONG_TEXT_BYTES)?;
            if let Some(latitude) = login.latitude
                && !(-90.0..=90.0).contains(&latitude)
            {
                return Err(invalid("latitude", format!("{latitude} is outside ±90")));
            }
            if let Some(longitude) = login.longitude
                && !(-180.0..=180.0).contains(&longitude)
            {
                return Err(invalid("longitude", format!("{longitude} is outside ±180")));
            }
        }
        EventBody::Qoe(qoe) => {
            required("session_id", &mut qoe.session_id, MAX_ID_BYTES)?;
            optional("member_id", &mut qoe.member_id, MAX_ID_BYTES)?;
            optional("title_id", &mut qoe.title_id, MAX_ID_BYTES)?;
            optional("error_code", &mut qoe.error_code, MAX_SHORT_TEXT_BYTES)?;
            required("cdn", &mut qoe.cdn, MAX_SHORT_TEXT_BYTES)?;
            optional("isp", &mut qoe.isp, MAX_SHORT_TEXT_BYTES)?;
            required("country", &mut qoe.country, MAX_SHORT_TEXT_BYTES)?;
            country_field("country", &mut qoe.country)?;
            required("device", &mut qoe.device, MAX_SHORT_TEXT_BYTES)?;
            required("player", &mut qoe.player, MAX_SHORT_TEXT_BYTES)?;
            if let Some(startup_ms) = qoe.startup_ms
                && startup_ms > MAX_STARTUP_MS
            {
                return Err(impossible(
                    "startup_ms",
                    format!("{startup_ms} ms to start (over 10 minutes)"),
                ));
            }
            if qoe.watch_s > MAX_SESSION_S {
                return Err(impossible(
                    "watch_s",
                    format!("{} s watched in one session (over 24 h)", qoe.watch_s),
                ));
            }
            // Rebuffering happens while watching; allow an hour beyond the watch time for
            // stalls before the viewer gave up.
            let rebuffer_limit_ms = u64::from(qoe.watch_s) * 1000 + HOUR_MS as u64;
            if qoe.rebuffer_ms > rebuffer_limit_ms {
                return Err(impossible(
                    "rebuffer_ms",
                    format!(
                        "{} ms rebuffering in a {} s session",
                        qoe.rebuffer_ms, qoe.watch_s
                    ),
                ));
            }
            if qoe.avg_bitrate_kbps > MAX_BITRATE_KBPS {
                return Err(impossible(
                    "avg_bitrate_kbps",
                    format!("{} kbit/s (over 1 Gbit/s)", qoe.avg_bitrate_kbps),
                ));
            }
        }
        EventBody::Search(search) => {
            required("member_id", &mut search.member_id, MAX_ID_BYTES)?;
            optional("profile_id", &mut search.profile_id, MAX_ID_BYTES)?;
            required("query", &mut search.query, MAX_LONG_TEXT_BYTES)?;
            optional(
                "clicked_title_id",
                &mut search.clicked_title_id,
                MAX_ID_BYTES,
            )?;
            optional("request_id", &mut search.request_id, MAX_ID_BYTES)?;
        }
    }
    Ok(())
}

fn prepare_title(
    rules: &CleaningRules,
    mut title: Title,
    countries_dropped: &mut u64,
) -> Result<Title, Problem> {
    required("id", &mut title.id, MAX_ID_BYTES)?;
    required("name", &mut title.name, MAX_NAME_BYTES)?;
    optional("series_id", &mut title.series_id, MAX_ID_BYTES)?;
    optional(
        "maturity_rating",
        &mut title.maturity_rating,
        MAX_SHORT_TEXT_BYTES,
    )?;
    optional("description", &mut title.description, MAX_DESCRIPTION_BYTES)?;
    list_entries("genres", &mut title.genres, MAX_SHORT_TEXT_BYTES)?;
    list_entries("cast", &mut title.cast, MAX_NAME_BYTES)?;
    list_entries("directors", &mut title.directors, MAX_NAME_BYTES)?;
    list_entries("countries", &mut title.countries, MAX_SHORT_TEXT_BYTES)?;
    // A title is never lost for one odd production country: unmappable ones ("Soviet
    // Union") are dropped and counted as a warning, and duplicates after mapping are
    // removed ("West Germany, Germany" -> DE).
    let mut countries = Vec::with_capacity(title.countries.len());
    for country in title.countries.drain(..) {
        match normalize_country(&country) {
            Some(code) if !countries.iter().any(|seen: &String| seen == code) => {
                countries.push(code.to_owned());
            }
            Some(_) => {}
            None => *countries_dropped += 1,
        }
    }
    title.countries = countries;
    for window in &mut title.availability {
        required(
            "availability.country",
            &mut window.country,
            MAX_SHORT_TEXT_BYTES,
        )?;
        country_field("availability.country", &mut window.country)?;
        if window.until.is_some_and(|until| until < window.from) {
            return Err(invalid(
                "availability.until",
                "the window ends before it starts",
            ));
        }
    }
    if let Some(year) = title.release_year {
        let (current_year, _, _) = rules.now.civil_date();
        if !(1870..=current_year as i32 + 5).contains(&year) {
            return Err(invalid(
                "release_year",
                format!("{year} is not between 1870 and {}", current_year + 5),
            ));
        }
    }
    if let Some(duration_s) = title.duration_s
        && duration_s > MAX_TITLE_DURATION_S
    {
        return Err(impossible(
            "duration_s",
            format!("{duration_s} s runtime (over a week)"),
        ));
    }
    if let Some(added_at) = title.added_at {
        // Catalog entries may be scheduled ahead, so only the lower bound applies.
        if added_at < rules.min_timestamp {
            return Err(Problem::on_field(
                ProblemKind::BadTimestamp,
                "added_at",
                format!("{added_at} is before {}", rules.min_timestamp),
            ));
        }
    }
    Ok(title)
}

fn prepare_member(rules: &CleaningRules, mut member: Member) -> Result<Member, Problem> {
    required("id", &mut member.id, MAX_ID_BYTES)?;
    if let Some(email) = &member.email {
        check_length("email", email.expose(), MAX_SHORT_TEXT_BYTES)?;
    }
    if let Some(name) = &member.name {
        check_length("name", name.expose(), MAX_NAME_BYTES)?;
    }
    optional_country("country", &mut member.country)?;
    optional("plan", &mut member.plan, MAX_SHORT_TEXT_BYTES)?;
    if let Some(signup_at) = member.signup_at {
        check_time(rules, "signup_at", signup_at)?;
    }
    for profile in &mut member.profiles {
        required("profiles.id", &mut profile.id, MAX_ID_BYTES)?;
        if let Some(name) = &profile.name {
            check_length("profiles.name", name.expose(), MAX_NAME_BYTES)?;
        }
    }
    Ok(member)
}
