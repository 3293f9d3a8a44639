//! Behaviour of the generator through its public API: the files parse into the model, runs
//! are reproducible, sizes land on target, and everything truth.json claims is in the data.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use showrunner_model::time::HOUR_MS;
use showrunner_model::{Event, EventBody, LoginOutcome, Member, PlayAction, Title, TitleKind};
use showrunner_synth::{SynthConfig, SynthError, SynthOutput, Truth, generate};

/// A generated run, parsed back with serde_json into the model types.
struct Run {
    output: SynthOutput,
    truth: Truth,
    titles: Vec<Title>,
    members: Vec<Member>,
    events: Vec<Event>,
}

fn run(config: &SynthConfig, dir: &Path) -> Run {
    let output =
        generate(config, dir, &|_| {}, &AtomicBool::new(false)).expect("generation succeeds");
    let titles = read_lines(&output.catalog_path)
        .map(|line| {
            serde_json::from_str::<Title>(&line).unwrap_or_else(|e| panic!("title {line}: {e}"))
        })
        .collect();
    let members = read_lines(&output.members_path)
        .map(|line| {
            serde_json::from_str::<Member>(&line).unwrap_or_else(|e| panic!("member {line}: {e}"))
        })
        .collect();
    let events = read_lines(&output.events_path)
        .map(|line| {
            let mut value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(value.get("id").is_none(), "events carry no id: {line}");
            // The model's Event needs an id; the importer derives it from the content.
            value["id"] = serde_json::Value::from("pending");
            let mut event: Event =
                serde_json::from_value(value).unwrap_or_else(|e| panic!("event {line}: {e}"));
            event.id = event.derive_id();
            event
        })
        .collect();
    let truth: Truth =
        serde_json::from_slice(&std::fs::read(&output.truth_path).expect("truth.json exists"))
            .expect("truth.json parses");
    Run {
        output,
        truth,
        titles,
        members,
        events,
    }
}

fn read_lines(path: &Path) -> impl Iterator<Item = String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::to_string)
        .collect::<Vec<_>>()
        .into_iter()
}

/// One mid-sized run shared by the tests that inspect content (generated once per test
/// binary): a week, 150,000 events, the non-human viewer included.
fn week() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = SynthConfig {
            seed: 7,
            events: 150_000,
            days: 7,
            ..SynthConfig::default()
        };
        let run = run(&config, dir.path());
        // The files were read into memory; the directory can go.
        drop(dir);
        run
    })
}

#[test]
fn every_line_parses_into_the_model_and_counts_match() {
    let run = week();
    let output = &run.output;
    assert_eq!(run.events.len() as u64, output.events);
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for event in &run.events {
        *by_kind
            .entry(event.kind().as_str().to_string())
            .or_default() += 1;
    }
    assert_eq!(by_kind, output.events_by_kind);
    assert_eq!(run.truth.counts.events, output.events);
    assert_eq!(run.members.len() as u64, output.members);
    assert_eq!(
        run.members
            .iter()
            .map(|m| m.profiles.len() as u64)
            .sum::<u64>(),
        output.profiles
    );
    let top_level = run
        .titles
        .iter()
        .filter(|t| matches!(t.kind, TitleKind::Movie | TitleKind::Series))
        .count();
    let episodes = run
        .titles
        .iter()
        .filter(|t| t.kind == TitleKind::Episode)
        .count();
    assert_eq!(top_level as u64, output.titles);
    assert_eq!(episodes as u64, output.episodes);
    for kind in ["play", "impression", "qoe", "login", "rating", "search"] {
        assert!(output.events_by_kind[kind] > 0, "no {kind} events");
    }
}

#[test]
fn references_resolve_and_series_come_before_their_parts() {
    let run = week();
    let mut seen_series = HashSet::new();
    let titles: HashMap<&str, &Title> = run.titles.iter().map(|t| (t.id.as_str(), t)).collect();
    for title in &run.titles {
        match title.kind {
            TitleKind::Series => {
                seen_series.insert(title.id.as_str());
            }
            TitleKind::Season | TitleKind::Episode => {
                let series = title.series_id.as_deref().expect("parts name their series");
                assert!(
                    seen_series.contains(series),
                    "{} comes before its series",
                    title.id
                );
            }
            TitleKind::Movie => {}
        }
        if title.kind.is_playable() {
            let minutes = title.duration_s.expect("playable titles have a runtime") / 60;
            let range = if title.kind == TitleKind::Movie {
                80..=150
            } else {
                20..=60
            };
            assert!(range.contains(&minutes), "{} runs {minutes} min", title.id);
        }
    }
    let profiles: HashMap<&str, &str> = run
        .members
        .iter()
        .flat_map(|m| {
            m.profiles
                .iter()
                .map(move |p| (p.id.as_str(), m.id.as_str()))
        })
        .collect();
    let mut session_ids = HashSet::new();
    for event in &run.events {
        if let Some(title_id) = event.body.title_id() {
            assert!(titles.contains_key(title_id), "unknown title {title_id}");
        }
        let profile = match &event.body {
            EventBody::Play(play) => {
                let title = titles[play.title_id.as_str()];
                assert!(title.kind.is_playable(), "play of a {:?}", title.kind);
                if play.action == PlayAction::Start {
                    assert!(
                        session_ids.insert(play.session_id.clone()),
                        "session {} reused",
                        play.session_id
                    );
                }
                play.profile_id
                    .as_deref()
                    .map(|p| (p, play.member_id.as_str()))
            }
            EventBody::Impression(impression) => impression
                .profile_id
                .as_deref()
                .map(|p| (p, impression.member_id.as_str())),
            EventBody::Rating(rating) => rating
                .profile_id
                .as_deref()
                .map(|p| (p, rating.member_id.as_str())),
            _ => None,
        };
        if let Some((profile, member)) = profile {
            assert_eq!(
                profiles.get(profile),
                Some(&member),
                "profile {profile} of member {member}"
            );
        }
    }
}

#[test]
fn positions_never_exceed_runtime_and_sessions_are_consistent() {
    let run = week();
    let runtimes: HashMap<&str, u32> = run
        .titles
        .iter()
        .filter_map(|t| t.duration_s.map(|d| (t.id.as_str(), d)))
        .collect();
    let mut last_watched: HashMap<&str, u32> = HashMap::new();
    let mut plays = 0;
    for event in &run.events {
        if let EventBody::Play(play) = &event.body {
            plays += 1;
            let runtime = runtimes[play.title_id.as_str()];
            assert!(
                play.position_s <= runtime + 60,
                "{} at {} of {runtime}",
                play.session_id,
                play.position_s
            );
            assert!(
                play.watched_s <= runtime,
                "{} watched {} of {runtime}",
                play.session_id,
                play.watched_s
            );
            let previous = last_watched
                .insert(&play.session_id, play.watched_s)
                .unwrap_or(0);
            assert!(
                play.watched_s >= previous,
                "watched_s goes back in {}",
                play.session_id
            );
        }
    }
    assert!(plays > 10_000);
    // Every playback session has exactly one QoE summary.
    let qoe_sessions: Vec<&str> = run
        .events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Qoe(qoe) => Some(qoe.session_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(qoe_sessions.len(), last_watched.len());
    assert_eq!(
        qoe_sessions.iter().collect::<HashSet<_>>().len(),
        qoe_sessions.len()
    );
}

#[test]
fn events_are_in_time_order_except_a_few() {
    let run = week();
    let mut latest = i64::MIN;
    let mut behind = 0;
    for event in &run.events {
        if event.ts.millis() < latest {
            behind += 1;
        }
        latest = latest.max(event.ts.millis());
    }
    assert!(
        behind * 200 < run.events.len(),
        "{behind} events out of order"
    );
}

#[test]
fn mix_of_events_is_realistic() {
    let run = week();
    let total = run.output.events as f64;
    let impressions = run.output.events_by_kind["impression"] as f64 / total;
    assert!(
        (0.15..=0.25).contains(&impressions),
        "impressions are {impressions:.3} of events"
    );
    let starts: Vec<bool> = run
        .events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Play(play) if play.action == PlayAction::Start => {
                Some(play.request_id.is_some())
            }
            _ => None,
        })
        .collect();
    let from_impression = starts.iter().filter(|has| **has).count() as f64 / starts.len() as f64;
    assert!(
        (0.25..=0.42).contains(&from_impression),
        "{from_impression:.3} of plays cite an impression"
    );
    // Evening peak: the hour with most session starts, in members' local time, is 19-22h.
    let offsets: HashMap<&str, i64> = [
        ("US", -5),
        ("GB", 0),
        ("BR", -3),
        ("DE", 1),
        ("IN", 5),
        ("FR", 1),
        ("MX", -6),
        ("CA", -5),
        ("JP", 9),
        ("KR", 9),
        ("ES", 1),
        ("IT", 1),
        ("AU", 10),
        ("NL", 1),
        ("PL", 1),
        ("AR", -3),
        ("SE", 1),
    ]
    .into_iter()
    .collect();
    let mut by_local_hour = [0u32; 24];
    for event in &run.events {
        if let EventBody::Play(play) = &event.body
            && play.action == PlayAction::Start
        {
            let offset = offsets[play.country.as_deref().unwrap_or("US")];
            by_local_hour[((event.ts.millis() / HOUR_MS + offset).rem_euclid(24)) as usize] += 1;
        }
    }
    let peak = (0..24).max_by_key(|h| by_local_hour[*h]).unwrap_or(0);
    assert!(
        (19..=22).contains(&peak),
        "peak at {peak}h local: {by_local_hour:?}"
    );
    assert!(by_local_hour[21] > 4 * by_local_hour[5]);
}

#[test]
fn incident_is_visible_in_qoe() {
    let run = week();
    let incident = &run.truth.cdn_incident;
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    let (mut failed_inside, mut failed_outside) = (0, 0);
    for event in &run.events {
        if let EventBody::Qoe(qoe) = &event.body
            && qoe.cdn == incident.cdn
            && qoe.country == incident.country
        {
            let during = event.ts >= incident.start && event.ts < incident.end;
            if let Some(startup) = qoe.startup_ms {
                if during {
                    inside.push(f64::from(startup))
                } else {
                    outside.push(f64::from(startup))
                }
            }
            if qoe.exit_before_start {
                if during {
                    failed_inside += 1
                } else {
                    failed_outside += 1
                }
            }
        }
    }
    assert!(
        inside.len() >= 5,
        "only {} sessions in the incident hour",
        inside.len()
    );
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    assert!(
        mean(&inside) > 2.0 * mean(&outside),
        "startup {} in the hour vs {}",
        mean(&inside),
        mean(&outside)
    );
    let failure_inside = failed_inside as f64 / (inside.len() + failed_inside) as f64;
    let failure_outside = failed_outside as f64 / (outside.len() + failed_outside) as f64;
    assert!(
        failure_inside > 3.0 * failure_outside,
        "failures {failure_inside} vs {failure_outside}"
    );
    assert_eq!((incident.end.millis() - incident.start.millis()), HOUR_MS);
}

#[test]
fn credential_stuffing_brute_force_and_travel_are_in_the_data() {
    let run = week();
    let stuffing = &run.truth.credential_stuffing;
    let attacker_ips: HashSet<&str> = stuffing.attacker_ips.iter().map(String::as_str).collect();
    assert_eq!(attacker_ips.len() as u64, stuffing.attacker_ip_count);
    let mut attempts = 0;
    let mut accounts = HashSet::new();
    let mut successes = HashSet::new();
    for event in &run.events {
        if let EventBody::Login(login) = &event.body
            && attacker_ips.contains(login.ip.as_str())
            && event.ts >= stuffing.start
            && event.ts < stuffing.end
        {
            attempts += 1;
            accounts.insert(login.account.as_str());
            assert!(stuffing.attacker_asns.contains(&login.asn.unwrap_or(0)));
            if login.outcome == LoginOutcome::Success {
                successes.insert(login.account.as_str());
            }
        }
    }
    assert_eq!(attempts, stuffing.attempts);
    assert_eq!(accounts.len() as u64, stuffing.targeted_accounts);
    assert!(
        accounts.len() as u64 * 10 > stuffing.attempts * 8,
        "stuffing tries many accounts"
    );
    let expected: HashSet<&str> = stuffing
        .successful_accounts
        .iter()
        .map(|a| a.account.as_str())
        .collect();
    assert_eq!(successes, expected);
    assert!(
        successes.len() as u64 * 10 < stuffing.attempts,
        "a small success rate"
    );

    let brute = &run.truth.brute_force;
    let brute_attempts: Vec<&Event> = run
        .events
        .iter()
        .filter(|e| matches!(&e.body, EventBody::Login(l) if l.ip == brute.ip && l.account == brute.account))
        .collect();
    assert_eq!(brute_attempts.len() as u64, brute.attempts);
    assert!(
        brute_attempts
            .iter()
            .all(|e| e.ts >= brute.start && e.ts <= brute.end)
    );
    assert!(
        brute.end.millis() - brute.start.millis() < HOUR_MS / 2,
        "within minutes"
    );

    assert!(
        run.truth.impossible_travel.len() >= 5,
        "enough pairs to measure recall on"
    );
    let travel_accounts: HashSet<&str> = run
        .truth
        .impossible_travel
        .iter()
        .map(|travel| travel.account.as_str())
        .collect();
    assert_eq!(
        travel_accounts.len(),
        run.truth.impossible_travel.len(),
        "one pair per account"
    );
    for travel in &run.truth.impossible_travel {
        let logins: Vec<(i64, &str)> = run
            .events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Login(l)
                    if l.account == travel.account && l.outcome == LoginOutcome::Success =>
                {
                    Some((e.ts.millis(), l.city.as_deref().unwrap_or("")))
                }
                _ => None,
            })
            .collect();
        assert!(logins.contains(&(travel.first.ts.millis(), travel.first.city.as_str())));
        assert!(logins.contains(&(travel.second.ts.millis(), travel.second.city.as_str())));
        assert!(travel.second.ts.millis() - travel.first.ts.millis() < HOUR_MS);
        let distance = (travel.first.latitude - travel.second.latitude).abs()
            + (travel.first.longitude - travel.second.longitude).abs();
        assert!(distance > 30.0, "the two sign-ins are far apart");
        // Past a one-day learning period: a successful sign-in more than 24 hours before
        // the pair.
        let learned_at = travel
            .learned_at
            .expect("the pair names its learning sign-in");
        assert!(travel.first.ts.millis() - learned_at.millis() > 24 * HOUR_MS);
        assert!(
            logins.iter().any(|(ts, _)| *ts == learned_at.millis()),
            "the learning sign-in is in the events"
        );
    }
}

#[test]
fn shared_accounts_and_the_non_human_viewer_show_up() {
    let run = week();
    for shared in &run.truth.shared_accounts {
        assert!(shared.households.len() >= 2);
        let ips: HashSet<&str> = run
            .events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Login(l) if l.account == shared.account => Some(l.ip.as_str()),
                _ => None,
            })
            .collect();
        assert!(ips.len() >= 2, "{} signs in from {ips:?}", shared.account);
    }
    let viewer = run
        .truth
        .non_human_viewer
        .as_ref()
        .expect("150k events include the non-human viewer");
    let heartbeat_s = u64::from(run.truth.config.heartbeat_s);
    let mut watched_by_day: BTreeMap<i64, u64> = BTreeMap::new();
    for event in &run.events {
        if let EventBody::Play(play) = &event.body
            && play.member_id == viewer.member_id
            && play.device.as_deref() == Some(viewer.device.as_str())
            && play.action == PlayAction::Heartbeat
        {
            *watched_by_day.entry(event.ts.day_number()).or_default() += heartbeat_s;
        }
    }
    let days_over_20_hours = watched_by_day
        .values()
        .filter(|seconds| **seconds > 20 * 3600)
        .count();
    assert!(days_over_20_hours >= 2, "{watched_by_day:?}");
}

#[test]
fn tastes_are_learnable() {
    let run = week();
    let genres: HashMap<&str, &str> = run
        .titles
        .iter()
        .filter_map(|t| t.genres.first().map(|g| (t.id.as_str(), g.as_str())))
        .collect();
    let middle = run.truth.config.start.millis()
        + (run.truth.config.end.millis() - run.truth.config.start.millis()) / 2;
    let mut first_half: HashMap<&str, HashMap<&str, f64>> = HashMap::new();
    let mut global: HashMap<&str, f64> = HashMap::new();
    let mut second_half: Vec<(&str, &str)> = Vec::new();
    for event in &run.events {
        if let EventBody::Play(play) = &event.body
            && play.action == PlayAction::Start
        {
            let profile = play.profile_id.as_deref().unwrap_or("");
            let genre = genres[play.title_id.as_str()];
            if event.ts.millis() < middle {
                *first_half
                    .entry(profile)
                    .or_default()
                    .entry(genre)
                    .or_default() += 1.0;
                *global.entry(genre).or_default() += 1.0;
            } else {
                second_half.push((profile, genre));
            }
        }
    }
    let global_total: f64 = global.values().sum();
    let (mut personal_log_likelihood, mut global_log_likelihood, mut count) = (0.0, 0.0, 0.0);
    for (profile, genre) in second_half {
        let Some(history) = first_half.get(profile) else {
            continue;
        };
        let seen: f64 = history.values().sum();
        if seen < 3.0 {
            continue;
        }
        let global_share =
            (global.get(genre).copied().unwrap_or(0.0) + 0.5) / (global_total + 10.0);
        // The personal model backs off to the global shares, as a recommender would.
        let personal =
            (history.get(genre).copied().unwrap_or(0.0) + 2.0 * global_share) / (seen + 2.0);
        personal_log_likelihood += personal.ln();
        global_log_likelihood += global_share.ln();
        count += 1.0;
    }
    assert!(
        count > 500.0,
        "only {count} second-half plays of known profiles"
    );
    let gain = (personal_log_likelihood - global_log_likelihood) / count;
    assert!(
        gain > 0.3,
        "personal history predicts genres better by only {gain:.3} nats per play"
    );
}

#[test]
fn truth_names_releases_that_spike_after_release() {
    let run = week();
    assert!(!run.truth.releases.is_empty());
    let titles: HashMap<&str, &Title> = run.titles.iter().map(|t| (t.id.as_str(), t)).collect();
    for release in &run.truth.releases {
        assert!(
            release.released_at > run.truth.config.start
                && release.released_at < run.truth.config.end
        );
        assert_eq!(
            titles[release.title_id.as_str()].added_at,
            Some(release.released_at)
        );
        for event in &run.events {
            if let EventBody::Play(play) = &event.body {
                let title = titles[play.title_id.as_str()];
                let top = title.series_id.as_deref().unwrap_or(&title.id);
                assert!(
                    top != release.title_id || event.ts >= release.released_at,
                    "{} played before its release",
                    release.title_id
                );
            }
        }
    }
}

#[test]
fn same_seed_same_bytes_whatever_the_threads_and_another_seed_differs() {
    let config = SynthConfig {
        seed: 11,
        events: 4_000,
        days: 5,
        ..SynthConfig::default()
    };
    let first = tempfile::tempdir().expect("temporary directory");
    let second = tempfile::tempdir().expect("temporary directory");
    let third = tempfile::tempdir().expect("temporary directory");
    let never = AtomicBool::new(false);
    generate(&config, first.path(), &|_| {}, &never).expect("first run");
    let single_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    single_thread
        .install(|| generate(&config, second.path(), &|_| {}, &never))
        .expect("second run");
    let other_seed = SynthConfig {
        seed: 12,
        ..config.clone()
    };
    generate(&other_seed, third.path(), &|_| {}, &never).expect("third run");
    for file in [
        "catalog.jsonl",
        "members.jsonl",
        "events.jsonl",
        "truth.json",
    ] {
        let read =
            |dir: &tempfile::TempDir| std::fs::read(dir.path().join(file)).expect("file exists");
        assert!(
            read(&first) == read(&second),
            "{file} differs between identical runs"
        );
        assert!(
            read(&first) != read(&third),
            "{file} is the same for another seed"
        );
    }
}

#[test]
fn event_counts_land_within_fifteen_percent_of_the_target() {
    for (events, days) in [(300, 30), (2_500, 30), (40_000, 10), (20_000, 1)] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = SynthConfig {
            seed: 3,
            events,
            days,
            ..SynthConfig::default()
        };
        let output = generate(&config, dir.path(), &|_| {}, &AtomicBool::new(false))
            .expect("generation succeeds");
        let error = (output.events as f64 - events as f64).abs() / events as f64;
        assert!(
            error <= 0.15,
            "{} events for a target of {events} over {days} days",
            output.events
        );
        assert!(output.members >= 10 && output.titles >= 40);
    }
}

#[test]
fn cancellation_returns_cancelled_and_leaves_no_partial_events() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = SynthConfig {
        events: 5_000,
        days: 10,
        ..SynthConfig::default()
    };
    let already = AtomicBool::new(true);
    assert!(matches!(
        generate(&config, dir.path(), &|_| {}, &already),
        Err(SynthError::Cancelled)
    ));
    // Cancelled from the progress callback after the first day.
    let cancel = AtomicBool::new(false);
    let days_reported = std::cell::Cell::new(0);
    let result = generate(
        &config,
        dir.path(),
        &|_| {
            days_reported.set(days_reported.get() + 1);
            cancel.store(true, Ordering::Relaxed);
        },
        &cancel,
    );
    assert!(matches!(result, Err(SynthError::Cancelled)));
    assert_eq!(days_reported.get(), 1);
    assert!(!dir.path().join("events.jsonl").exists());
}

#[test]
fn progress_reports_growing_counts_up_to_the_total() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = SynthConfig {
        events: 2_000,
        days: 4,
        ..SynthConfig::default()
    };
    let reports = std::cell::RefCell::new(Vec::new());
    let output = generate(
        &config,
        dir.path(),
        &|written| reports.borrow_mut().push(written),
        &AtomicBool::new(false),
    )
    .expect("generation succeeds");
    let reports = reports.into_inner();
    assert_eq!(reports.len(), 4);
    assert!(reports.windows(2).all(|pair| pair[0] <= pair[1]));
    assert_eq!(reports.last().copied(), Some(output.events));
}

#[test]
fn invalid_configuration_is_rejected_with_the_field_named() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let never = AtomicBool::new(false);
    for (config, field) in [
        (
            SynthConfig {
                days: 0,
                ..SynthConfig::default()
            },
            "days",
        ),
        (
            SynthConfig {
                events: 10,
                ..SynthConfig::default()
            },
            "events",
        ),
        (
            SynthConfig {
                heartbeat_s: 0,
                ..SynthConfig::default()
            },
            "heartbeat_s",
        ),
        (
            SynthConfig {
                members: Some(1),
                ..SynthConfig::default()
            },
            "members",
        ),
    ] {
        match generate(&config, dir.path(), &|_| {}, &never) {
            Err(error @ SynthError::InvalidConfig { .. }) => {
                assert!(error.to_string().contains(field), "{error}")
            }
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
}

#[test]
fn default_configuration_is_the_documented_demo() {
    let config = SynthConfig::default();
    assert_eq!(config.start.to_rfc3339(), "2026-09-01T00:00:00Z");
    assert_eq!(
        (config.seed, config.events, config.days, config.heartbeat_s),
        (42, 1_000_000, 30, 300)
    );
    assert_eq!(
        (config.member_count(), config.title_count()),
        (5_000, 2_000)
    );
}

#[test]
fn truth_names_a_genre_watched_far_beyond_its_supply() {
    let run = week();
    let planted = run.truth.overwatched_genre.genre.as_str();
    let top_level: HashMap<&str, &Title> = run
        .titles
        .iter()
        .filter(|t| t.series_id.is_none())
        .map(|t| (t.id.as_str(), t))
        .collect();
    let by_id: HashMap<&str, &Title> = run.titles.iter().map(|t| (t.id.as_str(), t)).collect();
    // Supply: titles per genre; demand: starts per genre (a title's genres share its starts).
    let mut titles_in: HashMap<&str, f64> = HashMap::new();
    for title in top_level.values() {
        for genre in &title.genres {
            *titles_in.entry(genre.as_str()).or_default() += 1.0 / title.genres.len() as f64;
        }
    }
    let mut starts_in: HashMap<&str, f64> = HashMap::new();
    for event in &run.events {
        if let EventBody::Play(play) = &event.body
            && play.action == PlayAction::Start
        {
            let title = by_id[play.title_id.as_str()];
            let top = top_level[title.series_id.as_deref().unwrap_or(&title.id)];
            for genre in &top.genres {
                *starts_in.entry(genre.as_str()).or_default() += 1.0 / top.genres.len() as f64;
            }
        }
    }
    let per_title = |genre: &str| starts_in.get(genre).copied().unwrap_or(0.0) / titles_in[genre];
    let planted_rate = per_title(planted);
    for genre in titles_in.keys().filter(|genre| **genre != planted) {
        assert!(
            planted_rate > 1.2 * per_title(genre),
            "{planted}: {planted_rate:.1} starts per title, {genre}: {:.1}",
            per_title(genre)
        );
    }
}
