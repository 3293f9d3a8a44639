//! One member's day: sittings at the hours their country watches, each opened by a sign-in
//! when one is due, a home page (impressions) or a search, then one or more playback
//! sessions (binge-watching series, resuming half-watched titles, abandoning what they do
//! not like), each with its play reports, a QoE summary and sometimes a rating.

use std::fmt::Write as _;

use showrunner_model::EventKind;
use showrunner_model::time::{DAY_MS, HOUR_MS, SECOND_MS};

use crate::catalog::{CatalogTitle, GENRES, dot};
use crate::geo::{
    COUNTRIES, DEVICE_BITRATE_KBPS, DEVICE_MOBILE, DEVICE_STARTUP_MEDIAN_MS, DEVICE_TABLET,
    DEVICES, player_for, user_agent_for,
};
use crate::injections::{INCIDENT_FAILURE_RATE, INCIDENT_STARTUP_MULTIPLIER};
use crate::json::{
    begin_event, end_event, field_bool, field_coordinate, field_half_stars, field_plain,
    field_text, field_u64,
};
use crate::members::{Household, InProgress, MemberState, ProfileState, Role};
use crate::random::{
    Stream, SynthRng, chance, index, int_between, lognormal, normal, pick_weighted, poisson,
    rng_for, sigmoid, uniform, uniform_between,
};
use crate::world::World;

/// How sharply taste steers choice: weight = popularity x exp(BETA x affinity).
const BETA: f64 = 4.0;
/// Candidates drawn by popularity among which taste picks one.
const CANDIDATES: usize = 6;
const PROBABILITY_SEARCH: f64 = 0.1;
const PROBABILITY_HOME_PAGE: f64 = 0.62;
const PROBABILITY_PICK_FROM_PAGE: f64 = 0.85;
const ITEMS_PER_ROW: usize = 4;

/// Rendered events of one unit of work (a chunk of members for one day), with the time and
/// start of each line so the writer can put the day in time order. In counting mode nothing
/// is rendered: the calibration run only needs the counts.
#[derive(Debug, Default)]
pub struct EventSink {
    pub bytes: Vec<u8>,
    pub timestamps: Vec<i64>,
    pub offsets: Vec<u32>,
    pub counts: [u64; 6],
    render: bool,
}

impl EventSink {
    pub fn new(render: bool) -> EventSink {
        EventSink {
            render,
            ..EventSink::default()
        }
    }

    /// Empties the sink for reuse, keeping its allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.timestamps.clear();
        self.offsets.clear();
        self.counts = [0; 6];
    }

    /// The bytes of line `line` (with its newline).
    pub fn line(&self, line: usize) -> &[u8] {
        let from = self.offsets[line] as usize;
        let to = self
            .offsets
            .get(line + 1)
            .map_or(self.bytes.len(), |next| *next as usize);
        &self.bytes[from..to]
    }

    /// Appends an already rendered line (used to carry events over to the next day).
    pub fn push_line(&mut self, ts: i64, line: &[u8]) {
        self.timestamps.push(ts);
        self.offsets.push(self.bytes.len() as u32);
        self.bytes.extend_from_slice(line);
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    #[inline]
    pub fn emit(&mut self, ts: i64, kind: EventKind, write_fields: impl FnOnce(&mut Vec<u8>)) {
        self.counts[kind as usize] += 1;
        if self.render {
            self.timestamps.push(ts);
            self.offsets.push(self.bytes.len() as u32);
            begin_event(&mut self.bytes, kind.as_str(), ts);
            write_fields(&mut self.bytes);
            end_event(&mut self.bytes);
        }
    }
}

/// Reusable buffers, so a member-day allocates nothing in the common case.
#[derive(Debug, Default)]
pub struct Scratch {
    session_id: String,
    request_id: String,
    row_name: String,
    page: Vec<(Row, u32)>,
    counter: u32,
    member_number: u32,
    day: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    ContinueWatching,
    TopPicks,
    TrendingNow,
    BecauseYouWatched,
    NewReleases,
}

impl Row {
    fn weight(self) -> f64 {
        match self {
            Row::ContinueWatching => 3.0,
            Row::TopPicks => 1.6,
            _ => 1.0,
        }
    }
}

impl Scratch {
    /// A new session id (`s<member>-<day>-<n>`), or a request id led by the request's time
    /// in milliseconds as 12 hex digits (`r<time>-<member>-<n>`), the shape of the ids
    /// `showrunner serve` gives its responses: time-ordered, so that an index on them grows
    /// at its end, as the plays citing a recommendation are indexed.
    fn next_id(&mut self, prefix: char, target: IdTarget) {
        self.counter += 1;
        let (member, day, counter) = (self.member_number, self.day, self.counter);
        // Writing to a String cannot fail.
        let _ = match target {
            IdTarget::Session => {
                self.session_id.clear();
                write!(self.session_id, "{prefix}{member}-{day}-{counter}")
            }
            IdTarget::Request(ts) => {
                self.request_id.clear();
                write!(
                    self.request_id,
                    "{prefix}{:012x}-{member}-{counter}",
                    ts.max(0)
                )
            }
        };
    }
}

#[derive(Debug, Clone, Copy)]
enum IdTarget {
    Session,
    /// A request made at this time (milliseconds since the epoch).
    Request(i64),
}

/// The day being generated.
#[derive(Debug, Clone, Copy)]
pub struct DayContext<'a> {
    pub world: &'a World,
    pub day: u32,
    pub day_start: i64,
    /// Sittings per member-day at activity 1 and an average hour weight.
    pub rate: f64,
}

/// What a member chose to play.
#[derive(Debug, Clone, Copy)]
struct Choice {
    title: u32,
    from_request: bool,
}

/// Where and on what a session plays.
#[derive(Debug, Clone, Copy)]
struct Setting<'a> {
    member_id: &'a str,
    profile_id: &'a str,
    household: &'a Household,
    device: u8,
}

#[derive(Debug, Clone, Copy)]
struct SessionOutcome {
    end: i64,
    watched_s: u32,
    completed: bool,
    failed: bool,
}

pub fn generate_member_day(
    context: &DayContext,
    member: &mut MemberState,
    sink: &mut EventSink,
    scratch: &mut Scratch,
) {
    let world = context.world;
    let mut rng = rng_for(
        world.seed,
        Stream::MemberDay,
        u64::from(member.index),
        u64::from(context.day),
    );
    scratch.counter = 0;
    scratch.member_number = member.index + 1;
    scratch.day = context.day;
    let day_end = context.day_start + DAY_MS;
    if let Role::NonHuman { start, end, device } = member.role
        && start < day_end
        && end > context.day_start
    {
        non_human_day(
            context,
            member,
            &mut rng,
            sink,
            scratch,
            start.max(context.day_start),
            end.min(day_end),
            device,
        );
        return;
    }
    let table = &world.hour_tables[context.day as usize][member.country];
    let expected = context.rate * member.activity * table.total / 24.0;
    let sittings = poisson(&mut rng, expected).min(16) as usize;
    let mut starts = [0i64; 16];
    for slot in starts.iter_mut().take(sittings) {
        let hour = table.hour_for(uniform(&mut rng));
        *slot = context.day_start
            + hour as i64 * HOUR_MS
            + int_between(&mut rng, 0, HOUR_MS as u64 - 1) as i64;
    }
    starts[..sittings].sort_unstable();
    for start in &starts[..sittings] {
        sitting(context, member, &mut rng, sink, scratch, *start);
    }
}

fn sitting(
    context: &DayContext,
    member: &mut MemberState,
    rng: &mut SynthRng,
    sink: &mut EventSink,
    scratch: &mut Scratch,
    start: i64,
) {
    let world = context.world;
    let usage: [f64; 5] =
        std::array::from_fn(|p| member.profiles.get(p).map_or(0.0, |profile| profile.usage));
    let profile_index = pick_weighted(rng, &usage[..member.profiles.len()]);
    let household_index =
        if member.role == Role::Shared && member.households.len() > 1 && chance(rng, 0.55) {
            1 + index(rng, member.households.len() - 1)
        } else {
            0
        };
    let MemberState {
        id: member_id,
        email,
        households,
        profiles,
        next_login_at,
        last_login_household,
        ..
    } = member;
    let household = &households[household_index];
    let profile = &mut profiles[profile_index];
    let device =
        if household_index == 0 && household.devices.contains(&profile.device) && chance(rng, 0.85)
        {
            profile.device
        } else {
            household.devices[index(rng, household.devices.len())]
        };
    let profile_id = profile.id.clone();
    let setting = Setting {
        member_id,
        profile_id: &profile_id,
        household,
        device,
    };
    let mut ts = start.max(profile.busy_until.saturating_add(60 * SECOND_MS));

    if ts >= *next_login_at || household_index != *last_login_household {
        *last_login_household = household_index;
        let login_at = ts - int_between(rng, 3_000, 30_000) as i64;
        if chance(rng, 0.04) {
            let typo_at = login_at - int_between(rng, 8_000, 40_000) as i64;
            emit_login(
                world,
                sink,
                rng,
                email,
                household,
                device,
                typo_at,
                "bad_password",
            );
        }
        emit_login(
            world, sink, rng, email, household, device, login_at, "success",
        );
        *next_login_at = ts + (uniform_between(rng, 2.0, 6.0) * DAY_MS as f64) as i64;
    }
    let country = household.country;

    let entry = uniform(rng);
    let mut choice = None;
    if entry < PROBABILITY_SEARCH {
        choice = search(context, profile, &setting, rng, sink, scratch, ts);
        ts += int_between(rng, 10_000, 60_000) as i64;
    } else if entry < PROBABILITY_SEARCH + PROBABILITY_HOME_PAGE {
        choice = home_page(context, profile, &setting, rng, sink, scratch, ts);
        ts += int_between(rng, 4_000, 45_000) as i64;
    }
    let choice = match choice {
        Some(choice) => choice,
        None => match direct_choice(context, profile, country, ts, rng) {
            Some(title) => Choice {
                title,
                from_request: false,
            },
            None => return,
        },
    };

    let mut title_index = choice.title;
    let mut with_request = choice.from_request;
    for _ in 0..8 {
        let title = &world.catalog.titles[title_index as usize];
        let (episode, position) = resume_point(profile, title_index, title);
        let affinity = f64::from(dot(&profile.taste, &title.factors));
        let outcome = play_session(
            context,
            &setting,
            rng,
            sink,
            scratch,
            ts,
            title,
            episode,
            position,
            affinity,
            with_request,
            false,
        );
        with_request = false;
        ts = outcome.end;
        if outcome.failed {
            // Some viewers try again after a failed start.
            if chance(rng, 0.5) {
                ts += int_between(rng, 5_000, 30_000) as i64;
                continue;
            }
            break;
        }
        maybe_rate(rng, sink, &setting, title, affinity, outcome, ts);
        let binge = update_progress(
            profile,
            title_index,
            title,
            episode,
            position,
            affinity,
            outcome,
        );
        if !(binge && chance(rng, (0.55 + 0.3 * affinity).clamp(0.2, 0.85))) {
            break;
        }
        ts += int_between(rng, 5_000, 25_000) as i64;
        title_index = choice.title;
    }
    profile.busy_until = ts;
}

/// Where a profile resumes a title: a half-watched movie or episode, the next episode of a
/// series, or the beginning.
fn resume_point(profile: &ProfileState, title_index: u32, title: &CatalogTitle) -> (usize, u32) {
    match profile
        .in_progress
        .iter()
        .find(|entry| entry.title == title_index)
    {
        Some(entry) => {
            let episode = usize::from(entry.episode).min(title.episodes.len().saturating_sub(1));
            let (_, runtime) = title.playable(episode);
            let position = if entry.position_s + 120 >= runtime {
                0
            } else {
                entry.position_s
            };
            (episode, position)
        }
        None => (0, 0),
    }
}

/// Records what a session did to the profile's state. Returns whether the next episode of a
/// series is ready to auto-play.
fn update_progress(
    profile: &mut ProfileState,
    title_index: u32,
    title: &CatalogTitle,
    episode: usize,
    position: u32,
    affinity: f64,
    outcome: SessionOutcome,
) -> bool {
    if outcome.completed {
        if title.is_series && episode + 1 < title.episodes.len() {
            profile.set_in_progress(InProgress {
                title: title_index,
                episode: (episode + 1) as u16,
                position_s: 0,
            });
            return true;
        }
        profile.clear_in_progress(title_index);
        profile.remember_finished(title_index);
        return false;
    }
    // Titles the profile dislikes are dropped rather than resumed.
    if affinity > -0.15 || title.is_series {
        profile.set_in_progress(InProgress {
            title: title_index,
            episode: episode as u16,
            position_s: position + outcome.watched_s,
        });
    } else {
        profile.clear_in_progress(title_index);
        profile.remember_finished(title_index);
    }
    false
}

fn direct_choice(
    context: &DayContext,
    profile: &ProfileState,
    country: usize,
    ts: i64,
    rng: &mut SynthRng,
) -> Option<u32> {
    let catalog = &context.world.catalog;
    if !profile.in_progress.is_empty() && chance(rng, 0.45) {
        let entry = profile.in_progress[index(rng, profile.in_progress.len())];
        if catalog.titles[entry.title as usize].is_available(country, ts) {
            return Some(entry.title);
        }
    }
    if let Some(release) = new_release_choice(context, profile, country, ts, rng) {
        return Some(release);
    }
    choose_title(context, profile, country, ts, rng)
}

/// Titles released during the window draw a share of sittings that decays over days: the
/// release-day spike.
fn new_release_choice(
    context: &DayContext,
    profile: &ProfileState,
    country: usize,
    ts: i64,
    rng: &mut SynthRng,
) -> Option<u32> {
    let catalog = &context.world.catalog;
    let mut pull = 0.0;
    for release in &catalog.releases {
        let age = ts - catalog.titles[*release as usize].added_at;
        if age >= 0 {
            pull += 0.06 * (-(age as f64) / (3.0 * DAY_MS as f64)).exp();
        }
    }
    if pull <= 0.0 || !chance(rng, pull.min(0.35)) {
        return None;
    }
    let mut chosen = None;
    let mut total = 0.0;
    for release in &catalog.releases {
        let title = &catalog.titles[*release as usize];
        if !title.is_available(country, ts) || (profile.kids && !title.kids_ok) {
            continue;
        }
        let age = (ts - title.added_at) as f64 / DAY_MS as f64;
        let weight =
            (-age / 3.0).exp() * (BETA * f64::from(dot(&profile.taste, &title.factors))).exp();
        total += weight;
        if uniform(rng) * total < weight {
            chosen = Some(*release);
        }
    }
    chosen
}

/// A title for this profile: a genre from its favourites (or, less often, from the whole
/// platform's mix), then among a few popularity-drawn titles of that genre the one taste
/// prefers, so choice ~ popularity x exp(affinity).
pub fn choose_title(
    context: &DayContext,
    profile: &ProfileState,
    country: usize,
    ts: i64,
    rng: &mut SynthRng,
) -> Option<u32> {
    let catalog = &context.world.catalog;
    for _ in 0..4 {
        let genre = if chance(rng, 0.82) {
            usize::from(profile.favourite_genres[pick_weighted(rng, &profile.favourite_weights)])
        } else if profile.kids {
            pick_weighted(rng, &catalog.kids_genre_share)
        } else {
            pick_weighted(rng, &catalog.genre_share)
        };
        if let Some(title) = choose_in_genre(context, profile, genre, country, ts, rng) {
            return Some(title);
        }
    }
    None
}

fn choose_in_genre(
    context: &DayContext,
    profile: &ProfileState,
    genre: usize,
    country: usize,
    ts: i64,
    rng: &mut SynthRng,
) -> Option<u32> {
    let catalog = &context.world.catalog;
    let tables = if profile.kids {
        &catalog.kids_genre_tables
    } else {
        &catalog.genre_tables
    };
    let table = tables[genre].as_ref()?;
    let mut chosen = None;
    let mut total = 0.0;
    for _ in 0..CANDIDATES {
        let candidate = table.sample(rng);
        let title = &catalog.titles[candidate as usize];
        if !title.is_available(country, ts) {
            continue;
        }
        // Re-watching is rare.
        if profile.recent.contains(&candidate) && chance(rng, 0.97) {
            continue;
        }
        let weight = (BETA * f64::from(dot(&profile.taste, &title.factors))).exp();
        total += weight;
        if uniform(rng) * total < weight {
            chosen = Some(candidate);
        }
    }
    chosen
}

fn home_page(
    context: &DayContext,
    profile: &ProfileState,
    setting: &Setting,
    rng: &mut SynthRng,
    sink: &mut EventSink,
    scratch: &mut Scratch,
    ts: i64,
) -> Option<Choice> {
    let catalog = &context.world.catalog;
    let country = setting.household.country;
    scratch.next_id('r', IdTarget::Request(ts));
    scratch.page.clear();
    let mut rows: [Option<Row>; 3] = [None; 3];
    let mut row_count = 0;
    let resumable: Vec<u32> = profile
        .in_progress
        .iter()
        .rev()
        .map(|entry| entry.title)
        .filter(|title| catalog.titles[*title as usize].is_available(country, ts))
        .take(ITEMS_PER_ROW)
        .collect();
    if !resumable.is_empty() {
        rows[row_count] = Some(Row::ContinueWatching);
        row_count += 1;
    }
    rows[row_count] = Some(Row::TopPicks);
    row_count += 1;
    let last_finished = profile.last_finished();
    // Small screens show two rows before the fold, large ones three.
    let rows_shown = if chance(rng, 0.65) { 3 } else { 2 };
    while row_count < rows_shown {
        let row = match index(rng, 3) {
            0 => Row::TrendingNow,
            1 if last_finished.is_some() => Row::BecauseYouWatched,
            _ => Row::NewReleases,
        };
        if rows.contains(&Some(row)) {
            if rows.contains(&Some(Row::TrendingNow)) && rows.contains(&Some(Row::NewReleases)) {
                break;
            }
            continue;
        }
        rows[row_count] = Some(row);
        row_count += 1;
    }
    for row in rows.iter().flatten() {
        let before = scratch.page.len();
        let mut attempts = 0;
        while scratch.page.len() - before < ITEMS_PER_ROW && attempts < 3 * ITEMS_PER_ROW {
            attempts += 1;
            let candidate = match row {
                Row::ContinueWatching => resumable.get(attempts - 1).copied(),
                Row::TopPicks => choose_title(context, profile, country, ts, rng),
                Row::TrendingNow => Some(catalog.global.sample(rng)),
                Row::BecauseYouWatched => last_finished.and_then(|seen| {
                    let genre = usize::from(catalog.titles[seen as usize].genres[0]);
                    choose_in_genre(context, profile, genre, country, ts, rng)
                        .filter(|title| *title != seen)
                }),
                Row::NewReleases => catalog.newest_first.get(attempts - 1).copied(),
            };
            let Some(candidate) = candidate else {
                if matches!(row, Row::ContinueWatching | Row::NewReleases)
                    && attempts > catalog.newest_first.len()
                {
                    break;
                }
                continue;
            };
            let title = &catalog.titles[candidate as usize];
            let shown = title.is_available(country, ts)
                && (!profile.kids || title.kids_ok)
                && !scratch.page[before..]
                    .iter()
                    .any(|(_, seen)| *seen == candidate);
            if shown {
                scratch.page.push((*row, candidate));
            }
        }
    }
    if scratch.page.is_empty() {
        return None;
    }
    let mut rank = 0;
    let mut previous_row = None;
    for (row, title_index) in &scratch.page {
        rank = if previous_row == Some(*row) {
            rank + 1
        } else {
            1
        };
        previous_row = Some(*row);
        let row_name: &str = match row {
            Row::ContinueWatching => "continue_watching",
            Row::TopPicks => "top_picks",
            Row::TrendingNow => "trending_now",
            Row::NewReleases => "new_releases",
            Row::BecauseYouWatched => {
                scratch.row_name.clear();
                scratch.row_name.push_str("because_you_watched:");
                if let Some(seen) = last_finished {
                    scratch.row_name.push_str(&catalog.titles[seen as usize].id);
                }
                &scratch.row_name
            }
        };
        let title_id = &catalog.titles[*title_index as usize].id;
        let request_id = &scratch.request_id;
        sink.emit(ts, EventKind::Impression, |out| {
            field_plain(out, "member_id", setting.member_id);
            field_plain(out, "profile_id", setting.profile_id);
            field_plain(out, "title_id", title_id);
            field_plain(out, "row", row_name);
            field_u64(out, "rank", rank);
            field_plain(out, "request_id", request_id);
            field_plain(out, "device", DEVICES[usize::from(setting.device)]);
        });
    }
    if !chance(rng, PROBABILITY_PICK_FROM_PAGE) {
        return None;
    }
    let mut chosen = None;
    let mut total = 0.0;
    let mut rank = 0.0;
    let mut previous_row = None;
    for (row, title_index) in &scratch.page {
        rank = if previous_row == Some(*row) {
            rank + 1.0
        } else {
            1.0
        };
        previous_row = Some(*row);
        let affinity = f64::from(dot(
            &profile.taste,
            &catalog.titles[*title_index as usize].factors,
        ));
        let weight = row.weight() / rank * (1.5 * affinity).exp();
        total += weight;
        if uniform(rng) * total < weight {
            chosen = Some(*title_index);
        }
    }
    chosen.map(|title| Choice {
        title,
        from_request: true,
    })
}

fn search(
    context: &DayContext,
    profile: &ProfileState,
    setting: &Setting,
    rng: &mut SynthRng,
    sink: &mut EventSink,
    scratch: &mut Scratch,
    ts: i64,
) -> Option<Choice> {
    let catalog = &context.world.catalog;
    let country = setting.household.country;
    scratch.next_id('q', IdTarget::Request(ts));
    let (query, clicked) = if chance(rng, 0.6) {
        let wanted = choose_title(context, profile, country, ts, rng)?;
        let query = crate::names::search_query_for(rng, &catalog.titles[wanted as usize].name);
        (query, chance(rng, 0.75).then_some(wanted))
    } else {
        let genre = if chance(rng, 0.7) {
            usize::from(profile.favourite_genres[index(rng, profile.favourite_genres.len())])
        } else {
            index(rng, GENRES.len())
        };
        let genre_name = GENRES[genre].to_lowercase();
        let query = match index(rng, 4) {
            0 => format!("{genre_name} movies"),
            1 => format!("new {genre_name}"),
            2 => format!("{genre_name} series"),
            _ => genre_name,
        };
        let clicked = if chance(rng, 0.35) {
            choose_in_genre(context, profile, genre, country, ts, rng)
        } else {
            None
        };
        (query, clicked)
    };
    let request_id = &scratch.request_id;
    let clicked_id = clicked.map(|title| catalog.titles[title as usize].id.as_str());
    sink.emit(ts, EventKind::Search, |out| {
        field_plain(out, "member_id", setting.member_id);
        field_plain(out, "profile_id", setting.profile_id);
        field_text(out, "query", &query);
        if let Some(clicked_id) = clicked_id {
            field_plain(out, "clicked_title_id", clicked_id);
        }
        field_plain(out, "request_id", request_id);
    });
    clicked.map(|title| Choice {
        title,
        from_request: false,
    })
}

#[allow(clippy::too_many_arguments)]
pub fn emit_login(
    world: &World,
    sink: &mut EventSink,
    rng: &mut SynthRng,
    account: &str,
    household: &Household,
    device: u8,
    ts: i64,
    outcome: &str,
) {
    let isp = &world.networks.isps[household.country][household.isp];
    let user_agent = user_agent_for(rng, device);
    sink.emit(ts, EventKind::Login, |out| {
        field_plain(out, "account", account);
        field_plain(out, "outcome", outcome);
        field_plain(out, "ip", &household.ip);
        field_plain(out, "country", COUNTRIES[household.country].code);
        field_text(out, "city", household.city_name());
        field_coordinate(out, "latitude", household.latitude);
        field_coordinate(out, "longitude", household.longitude);
        field_u64(out, "asn", u64::from(isp.asn));
        field_plain(out, "device", DEVICES[usize::from(device)]);
        field_text(out, "user_agent", user_agent);
    });
}

fn maybe_rate(
    rng: &mut SynthRng,
    sink: &mut EventSink,
    setting: &Setting,
    title: &CatalogTitle,
    affinity: f64,
    outcome: SessionOutcome,
    ts: i64,
) {
    let probability =
        if title.is_series { 0.03 } else { 0.06 } + if outcome.completed { 0.08 } else { 0.0 };
    if !chance(rng, probability) {
        return;
    }
    let completion = if outcome.completed { 1.0 } else { -1.0 };
    let rated_at = ts + int_between(rng, 2_000, 20_000) as i64;
    let stars = chance(rng, 0.12).then(|| {
        let value = 3.0 + 2.0 * affinity + 0.5 * completion + 0.6 * normal(rng);
        (value * 2.0).round().clamp(1.0, 10.0) as u32
    });
    let thumbs_up = chance(rng, sigmoid(3.0 * affinity + 0.7 * completion));
    sink.emit(rated_at, EventKind::Rating, |out| {
        field_plain(out, "member_id", setting.member_id);
        field_plain(out, "profile_id", setting.profile_id);
        field_plain(out, "title_id", &title.id);
        match stars {
            Some(half_stars) => field_half_stars(out, "stars", half_stars),
            None => field_plain(out, "thumbs", if thumbs_up { "up" } else { "down" }),
        }
    });
}

/// One press of play: a `start`, heartbeats every `heartbeat_s` of playback, a `stop`, and
/// the QoE summary. A failed start has the `start` and the QoE event only.
#[allow(clippy::too_many_arguments)]
fn play_session(
    context: &DayContext,
    setting: &Setting,
    rng: &mut SynthRng,
    sink: &mut EventSink,
    scratch: &mut Scratch,
    start: i64,
    title: &CatalogTitle,
    episode: usize,
    start_position: u32,
    affinity: f64,
    with_request: bool,
    tireless: bool,
) -> SessionOutcome {
    let world = context.world;
    let (title_id, runtime) = title.playable(episode);
    let country = setting.household.country;
    let device = setting.device;
    let mut isp = &world.networks.isps[country][setting.household.isp];
    if (device == DEVICE_MOBILE || device == DEVICE_TABLET) && chance(rng, 0.4) {
        isp = &world.networks.isps[country][3];
    }
    let cdn = world.networks.pick_cdn(rng, country);
    let incident = world.incident.applies(cdn, country, start);
    scratch.next_id('s', IdTarget::Session);
    let request_id = with_request.then_some(scratch.request_id.as_str());
    let session_id = scratch.session_id.as_str();
    let country_code = COUNTRIES[country].code;
    let device_name = DEVICES[usize::from(device)];
    let play = |sink: &mut EventSink, ts: i64, action: &str, position: u32, watched: u32| {
        sink.emit(ts, EventKind::Play, |out| {
            field_plain(out, "member_id", setting.member_id);
            field_plain(out, "profile_id", setting.profile_id);
            field_plain(out, "title_id", title_id);
            field_plain(out, "session_id", session_id);
            field_plain(out, "action", action);
            field_u64(out, "position_s", u64::from(position));
            field_u64(out, "watched_s", u64::from(watched));
            field_plain(out, "device", device_name);
            field_plain(out, "country", country_code);
            if let Some(request_id) = request_id {
                field_plain(out, "request_id", request_id);
            }
        });
    };
    let player = player_for(rng, device);
    let qoe = |sink: &mut EventSink, ts: i64, quality: &Quality| {
        sink.emit(ts, EventKind::Qoe, |out| {
            field_plain(out, "session_id", session_id);
            field_plain(out, "member_id", setting.member_id);
            field_plain(out, "title_id", title_id);
            if let Some(startup_ms) = quality.startup_ms {
                field_u64(out, "startup_ms", u64::from(startup_ms));
            }
            field_bool(out, "exit_before_start", quality.exit_before_start);
            field_u64(out, "rebuffer_count", u64::from(quality.rebuffer_count));
            field_u64(out, "rebuffer_ms", quality.rebuffer_ms);
            field_u64(out, "watch_s", u64::from(quality.watch_s));
            field_u64(out, "avg_bitrate_kbps", u64::from(quality.avg_bitrate_kbps));
            field_u64(out, "bitrate_switches", u64::from(quality.bitrate_switches));
            if let Some(error_code) = quality.error_code {
                field_plain(out, "error_code", error_code);
            }
            field_plain(out, "cdn", crate::geo::CDNS[cdn]);
            field_text(out, "isp", &isp.name);
            field_u64(out, "asn", u64::from(isp.asn));
            field_plain(out, "country", country_code);
            field_plain(out, "device", device_name);
            field_plain(out, "player", player);
        });
    };

    play(sink, start, "start", start_position, 0);
    let failure_probability = if tireless {
        0.0
    } else if incident {
        INCIDENT_FAILURE_RATE
    } else {
        0.015
    };
    if chance(rng, failure_probability) {
        let error_code = if incident {
            Some(["CDN_TIMEOUT", "MANIFEST_LOAD_FAILED", "SEGMENT_404"][index(rng, 3)])
        } else if chance(rng, 0.6) {
            Some(
                [
                    "NETWORK_ERROR",
                    "DRM_LICENSE_FAILED",
                    "MANIFEST_LOAD_FAILED",
                    "DECODER_INIT_FAILED",
                ][index(rng, 4)],
            )
        } else {
            None // The viewer gave up waiting.
        };
        let end = start
            + lognormal(rng, if incident { 9_000.0 } else { 5_000.0 }, 0.5).min(120_000.0) as i64;
        let quality = Quality {
            exit_before_start: true,
            error_code,
            ..Quality::default()
        };
        qoe(sink, end + int_between(rng, 100, 900) as i64, &quality);
        return SessionOutcome {
            end,
            watched_s: 0,
            completed: false,
            failed: true,
        };
    }

    let mut startup_ms = lognormal(
        rng,
        DEVICE_STARTUP_MEDIAN_MS[usize::from(device)] * isp.kind.startup_factor(),
        0.45,
    );
    if incident {
        startup_ms *= lognormal(rng, INCIDENT_STARTUP_MULTIPLIER, 0.3);
    }
    let startup_ms = startup_ms.clamp(150.0, 120_000.0) as u32;
    let remaining = runtime.saturating_sub(start_position).max(1);
    let abandon_probability = if tireless {
        0.0
    } else {
        0.08 + 0.45 * sigmoid(-3.0 * affinity - 0.6) + if incident { 0.5 } else { 0.0 }
    };
    let (watch_s, completed) = if chance(rng, abandon_probability) {
        // Viewers give up on a stalling stream within minutes.
        let fraction = if incident {
            uniform_between(rng, 60.0, 900.0) / f64::from(remaining)
        } else {
            uniform_between(rng, 0.03, 0.65)
        }
        .min(1.0);
        (
            ((f64::from(remaining) * fraction) as u32).clamp(30.min(remaining), remaining),
            false,
        )
    } else {
        let credits = int_between(rng, 0, u64::from(remaining / 30).min(240)) as u32;
        (remaining - credits, true)
    };
    let completed = completed || start_position + watch_s >= runtime.saturating_sub(runtime / 20);

    let rebuffer_rate_per_minute = 0.012
        * isp.kind.rebuffer_factor()
        * if device == DEVICE_MOBILE { 1.5 } else { 1.0 }
        * if incident { 15.0 } else { 1.0 };
    let mut rebuffer_count = poisson(rng, rebuffer_rate_per_minute * f64::from(watch_s) / 60.0);
    let playing_from = start + i64::from(startup_ms);
    let overlap = world.incident.overlap_ms(
        cdn,
        country,
        playing_from,
        playing_from + i64::from(watch_s) * SECOND_MS,
    );
    if overlap > 0 && !incident {
        rebuffer_count += poisson(rng, overlap as f64 / 60_000.0 * 0.3);
    }
    let mut rebuffer_ms = 0u64;
    for _ in 0..rebuffer_count.min(200) {
        rebuffer_ms += lognormal(
            rng,
            if incident || overlap > 0 {
                4_000.0
            } else {
                1_500.0
            },
            0.6,
        )
        .min(60_000.0) as u64;
    }
    let mut bitrate = DEVICE_BITRATE_KBPS[usize::from(device)]
        * isp.kind.bitrate_factor()
        * uniform_between(rng, 0.8, 1.15);
    if incident {
        bitrate *= 0.45;
    }
    let bitrate_switches = poisson(
        rng,
        1.0 + f64::from(watch_s) / 900.0 + f64::from(rebuffer_count),
    );

    let heartbeat_s = world.heartbeat_s.max(1);
    let stall_per_second = rebuffer_ms as f64 / f64::from(watch_s.max(1));
    let mut watched = heartbeat_s;
    while watched < watch_s {
        let ts = playing_from
            + i64::from(watched) * SECOND_MS
            + (stall_per_second * f64::from(watched)) as i64;
        play(sink, ts, "heartbeat", start_position + watched, watched);
        watched += heartbeat_s;
    }
    let end = playing_from + i64::from(watch_s) * SECOND_MS + rebuffer_ms as i64;
    play(sink, end, "stop", start_position + watch_s, watch_s);
    let error_code = (!completed && chance(rng, 0.01)).then_some("PLAYBACK_STALLED");
    let quality = Quality {
        startup_ms: Some(startup_ms),
        exit_before_start: false,
        rebuffer_count,
        rebuffer_ms,
        watch_s,
        avg_bitrate_kbps: bitrate as u32,
        bitrate_switches,
        error_code,
    };
    qoe(sink, end + int_between(rng, 100, 900) as i64, &quality);
    SessionOutcome {
        end,
        watched_s: watch_s,
        completed,
        failed: false,
    }
}

#[derive(Debug, Default)]
struct Quality {
    startup_ms: Option<u32>,
    exit_before_start: bool,
    rebuffer_count: u32,
    rebuffer_ms: u64,
    watch_s: u32,
    avg_bitrate_kbps: u32,
    bitrate_switches: u32,
    error_code: Option<&'static str>,
}

/// The non-human viewer: one device plays title after title, day and night.
#[allow(clippy::too_many_arguments)]
fn non_human_day(
    context: &DayContext,
    member: &mut MemberState,
    rng: &mut SynthRng,
    sink: &mut EventSink,
    scratch: &mut Scratch,
    from: i64,
    until: i64,
    device: u8,
) {
    let world = context.world;
    let catalog = &world.catalog;
    let MemberState {
        id: member_id,
        email,
        households,
        profiles,
        ..
    } = member;
    let household = &households[0];
    let profile = &mut profiles[0];
    let mut ts = from.max(profile.busy_until.saturating_add(4 * SECOND_MS));
    if ts < until && from == context.day_start {
        emit_login(
            world,
            sink,
            rng,
            email,
            household,
            device,
            ts - 20 * SECOND_MS,
            "success",
        );
    }
    let profile_id = profile.id.clone();
    let setting = Setting {
        member_id,
        profile_id: &profile_id,
        household,
        device,
    };
    while ts < until {
        let country = household.country;
        let next = profile
            .in_progress
            .iter()
            .find(|entry| catalog.titles[entry.title as usize].is_available(country, ts))
            .map(|entry| entry.title)
            .or_else(|| choose_title(context, profile, country, ts, rng))
            .unwrap_or_else(|| catalog.global.sample(rng));
        let title = &catalog.titles[next as usize];
        let (episode, position) = resume_point(profile, next, title);
        let outcome = play_session(
            context, &setting, rng, sink, scratch, ts, title, episode, position, 0.0, false, true,
        );
        update_progress(profile, next, title, episode, position, 1.0, outcome);
        ts = outcome.end + int_between(rng, 3_000, 12_000) as i64;
    }
    profile.busy_until = ts;
}
