//! `Store::viewing_facts`: the columnar snapshot content analytics reads, for the whole
//! catalog and for one show, with the range, country and non-human filters.

mod common;

use common::{Backend, PlaySpec, TestStore, at, events_batch, full_member, movie};
use showrunner_model::event::Thumbs;
use showrunner_model::{
    Batch, Event, EventBody, Impression, Rating, RatingValue, Title, TitleKind,
};
use showrunner_store::FactsFilter;

fn series() -> Vec<Title> {
    let mut show = Title::new("s1", TitleKind::Series, "Series One");
    show.genres = vec!["Anime".into()];
    let mut episode = Title::new("s1e1", TitleKind::Episode, "Episode One");
    episode.series_id = Some("s1".into());
    episode.duration_s = Some(600);
    vec![show, episode]
}

fn store(backend: Backend) -> TestStore {
    let mut store = backend.store();
    let mut titles = vec![movie("m1", Some(3600))];
    titles.extend(series());
    store
        .write_batch(&Batch {
            titles,
            members: vec![full_member("a")],
            ..Batch::default()
        })
        .unwrap();
    let mut events = Vec::new();
    for (session, member, title, start) in [
        ("v1", "a", "m1", 0),
        ("v2", "b", "m1", 3600),
        ("v3", "a", "s1e1", 7200),
        ("v4", "a", "m1", 86_400 * 3),
    ] {
        let spec = PlaySpec {
            session,
            member,
            title,
            device: "tv",
        };
        events.extend(spec.session(start, 5, 0));
    }
    events.push(Event::with_derived_id(
        at(100),
        EventBody::Rating(Rating {
            member_id: "a".into(),
            profile_id: None,
            title_id: "m1".into(),
            value: RatingValue::Thumbs(Thumbs::Up),
        }),
    ));
    for (member, title) in [("a", "m1"), ("b", "s1e1")] {
        events.push(Event::with_derived_id(
            at(50),
            EventBody::Impression(Impression {
                member_id: member.into(),
                profile_id: None,
                title_id: title.into(),
                row: "top_picks".into(),
                rank: 1,
                request_id: format!("r-{member}"),
                device: None,
            }),
        ));
    }
    events.sort_by_key(|event| event.ts);
    store.write_batch(&events_batch(events)).unwrap();
    store
}

fn filter(days: i64) -> FactsFilter {
    FactsFilter {
        from: at(0),
        to: at(86_400 * days),
        country: None,
        title_id: None,
    }
}

fn whole_catalog_facts_hold_views_ratings_impressions_and_unknown_members(backend: Backend) {
    let store = store(backend);
    let facts = store.viewing_facts(&filter(2)).unwrap();
    // v4 starts on day 3: outside the two days.
    assert_eq!(facts.views.len(), 3);
    assert_eq!(facts.titles.len(), 3);
    let m1 = facts.title_index("m1").unwrap();
    let s1e1 = facts.title_index("s1e1").unwrap();
    assert_eq!(
        facts.titles.series[s1e1] as usize,
        facts.title_index("s1").unwrap()
    );
    assert_eq!(facts.titles.duration_s[m1], 3600);
    let genres: Vec<&str> = facts
        .titles
        .genres_of(facts.title_index("s1").unwrap())
        .iter()
        .map(|g| facts.genres[usize::from(*g)].as_str())
        .collect();
    assert_eq!(genres, vec!["Anime"]);
    // a is a member; b only appears in events.
    let a = facts.members.id.iter().position(|id| id == "a").unwrap();
    let b = facts.members.id.iter().position(|id| id == "b").unwrap();
    assert!(facts.members.known[a] && !facts.members.known[b]);
    assert_eq!(facts.plans, vec!["premium".to_string()]);
    let first = (0..3)
        .find(|v| facts.views.start_ms[*v] == at(0).millis())
        .unwrap();
    assert_eq!(facts.views.title[first] as usize, m1);
    assert_eq!(facts.views.watched_s[first], 300);
    assert_eq!(facts.views.max_position_s[first], 300);
    assert_eq!(
        facts.countries[usize::from(facts.views.country[first])],
        "US"
    );
    assert_eq!(facts.ratings.thumbs, vec![1]);
    assert_eq!(facts.impressions.title.len(), 2);
}

fn one_show_reads_only_its_rows_and_country_filters_views(backend: Backend) {
    let store = store(backend);
    let facts = store
        .viewing_facts(&FactsFilter {
            title_id: Some("s1e1".into()),
            ..filter(7)
        })
        .unwrap();
    assert_eq!(facts.titles.len(), 2);
    assert_eq!(facts.views.len(), 1);
    assert_eq!(facts.impressions.title.len(), 1);
    assert!(facts.ratings.title.is_empty());
    assert!(facts.members.known[0], "a's membership is looked up");

    let elsewhere = store
        .viewing_facts(&FactsFilter {
            country: Some("FR".into()),
            ..filter(7)
        })
        .unwrap();
    assert!(elsewhere.views.is_empty());
    let home = store
        .viewing_facts(&FactsFilter {
            country: Some("US".into()),
            ..filter(7)
        })
        .unwrap();
    assert_eq!(home.views.len(), 4);
}

/// Views come in the order they were stored (their id), whichever way they are found: a
/// scan of a range holding most of them, the start index for a narrow range, or one show's
/// index. (Figures summed in the same order are equal to the last bit, so a show's
/// dashboard cut from the whole range equals the one read for the show alone.)
fn views_come_in_stored_order_whichever_way_they_are_read(backend: Backend) {
    let mut store = backend.store();
    store
        .write_batch(&Batch {
            titles: vec![movie("m1", Some(3600)), movie("m2", Some(3600))],
            members: vec![full_member("a")],
            ..Batch::default()
        })
        .unwrap();
    // Stored one session at a time, each starting a day before the one stored before it.
    let starts: Vec<i64> = (0..6).map(|k| 86_400 * (6 - k) + 600).collect();
    for (k, start) in starts.iter().enumerate() {
        let session = format!("w{k}");
        let spec = PlaySpec {
            session: &session,
            member: "a",
            title: if k % 2 == 0 { "m1" } else { "m2" },
            device: "tv",
        };
        store
            .write_batch(&events_batch(spec.session(*start, 5, 0)))
            .unwrap();
    }
    let in_order = |from_day: i64, to_day: i64, show: Option<&str>| -> Vec<i64> {
        starts
            .iter()
            .enumerate()
            .filter(|(k, start)| {
                (86_400 * from_day..86_400 * to_day).contains(*start)
                    && show.is_none_or(|show| (show == "m1") == (k % 2 == 0))
            })
            .map(|(_, start)| at(*start).millis())
            .collect()
    };
    let read = |from_day: i64, to_day: i64, show: Option<&str>| -> Vec<i64> {
        store
            .viewing_facts(&FactsFilter {
                from: at(86_400 * from_day),
                to: at(86_400 * to_day),
                country: None,
                title_id: show.map(str::to_owned),
            })
            .unwrap()
            .views
            .start_ms
    };
    // Every view (the range holds them all), two of six days (a narrow range), one show.
    for (from_day, to_day, show) in [
        (0, 30, None),
        (2, 4, None),
        (0, 30, Some("m1")),
        (3, 6, Some("m2")),
    ] {
        let want = in_order(from_day, to_day, show);
        assert!(!want.is_empty());
        assert_eq!(
            read(from_day, to_day, show),
            want,
            "days {from_day}..{to_day}, show {show:?}"
        );
    }
}

backend_tests!(
    whole_catalog_facts_hold_views_ratings_impressions_and_unknown_members,
    one_show_reads_only_its_rows_and_country_filters_views,
    views_come_in_stored_order_whichever_way_they_are_read,
);
