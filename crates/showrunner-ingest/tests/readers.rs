//! Each reader on small hand-written fixtures, through `plan_inputs` + `run_import`: what is
//! accepted, what is quarantined and why, and that every row is accounted for.

mod common;

use std::collections::BTreeMap;

use common::{gzip, import, write_file, zstd};
use showrunner_ingest::KnownEntities;
use showrunner_model::{EventBody, ProblemKind, RatingValue, TitleKind};

/// Summary figures a fixture should produce: (rows, titles, members, events accepted,
/// duplicates, quarantined by kind).
struct Expected {
    rows: u64,
    titles: u64,
    members: u64,
    accepted: u64,
    duplicates: u64,
    quarantined: &'static [(ProblemKind, u64)],
}

fn check(name: &str, bytes: &[u8], known: KnownEntities, expected: Expected) -> common::FakeStore {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = write_file(directory.path(), name, bytes);
    let (summary, store) = import(&[path], known).expect("import succeeds");
    let quarantined: BTreeMap<ProblemKind, u64> = expected.quarantined.iter().copied().collect();
    assert_eq!(
        (
            summary.rows_read,
            summary.titles,
            summary.members,
            summary.events_accepted,
            summary.events_duplicate,
            &summary.quarantined
        ),
        (
            expected.rows,
            expected.titles,
            expected.members,
            expected.accepted,
            expected.duplicates,
            &quarantined
        ),
        "{name}: quarantined rows {:#?}",
        store.all().quarantined
    );
    store
}

const EVENTS_JSONL: &str = r#"{"type":"play","ts":"2026-10-01T20:15:03Z","member_id":"m1","title_id":"t1","session_id":"s1","action":"start","position_s":0,"watched_s":0}
{"type":"play","ts":"2026-10-01T20:10:03Z","member_id":"m1","title_id":"t1","session_id":"s1","action":"heartbeat","position_s":60,"watched_s":60}

{"type":"play","ts":"2026-10-01T20:10:03Z","member_id":"m1","title_id":"t1","session_id":"s1","action":"heartbeat","position_s":60,"watched_s":60}
{"id":"e1","type":"rating","ts":"2026-10-02T00:00:00Z","member_id":"m2","title_id":"t1","stars":4}
{"id":"e1","type":"rating","ts":"2026-10-02T00:00:00Z","member_id":"m2","title_id":"t1","stars":4}
{"type":"rating","ts":"2026-10-02T00:00:00Z","member_id":"m404","title_id":"t1","stars":4}
{"type":"play","ts":"2026-10-01T20:15:03Z","member_id":"m1","title_id":"t1","sess
"#;

#[test]
fn jsonl_counts_duplicates_out_of_order_and_bad_lines() {
    // Out-of-order times are accepted; repeated lines and repeated ids pass the cleaner with
    // the same id and the store (here its stand-in) merges them.
    let store = check(
        "events.jsonl",
        EVENTS_JSONL.as_bytes(),
        common::known(),
        Expected {
            rows: 7,
            titles: 0,
            members: 0,
            accepted: 3,
            duplicates: 2,
            quarantined: &[(ProblemKind::UnknownMember, 1), (ProblemKind::Truncated, 1)],
        },
    );
    let all = store.all();
    assert_eq!(all.events[1].id, all.events[2].id);
    assert_eq!(all.events[3].id, "e1");
    let lines: Vec<u64> = all.quarantined.iter().map(|row| row.line).collect();
    assert_eq!(
        lines,
        vec![7, 8],
        "quarantine keeps 1-based line numbers (blank lines count)"
    );
    assert!(all.quarantined[1].raw.ends_with("\"sess"));
    assert_eq!(all.quarantined[0].source, store_source(&all));
}

fn store_source(all: &showrunner_model::Batch) -> String {
    all.quarantined[0].source.clone()
}

#[test]
fn compressed_inputs_are_read_transparently() {
    for (name, bytes) in [
        ("events.jsonl.gz", gzip(EVENTS_JSONL.as_bytes())),
        ("events.jsonl.zst", zstd(EVENTS_JSONL.as_bytes())),
        // Detected by magic bytes, not by name.
        ("events.jsonl", zstd(EVENTS_JSONL.as_bytes())),
    ] {
        check(
            name,
            &bytes,
            common::known(),
            Expected {
                rows: 7,
                titles: 0,
                members: 0,
                accepted: 3,
                duplicates: 2,
                quarantined: &[(ProblemKind::UnknownMember, 1), (ProblemKind::Truncated, 1)],
            },
        );
    }
    // Concatenated gzip members are one stream.
    let mut two_members = gzip(b"{\"type\":\"member\",\"id\":\"a\"}\n");
    two_members.extend(gzip(b"{\"type\":\"member\",\"id\":\"b\"}\n"));
    check(
        "members.jsonl.gz",
        &two_members,
        KnownEntities::default(),
        Expected {
            rows: 2,
            titles: 0,
            members: 2,
            accepted: 0,
            duplicates: 0,
            quarantined: &[],
        },
    );
}

#[test]
fn a_byte_order_mark_is_not_data() {
    check(
        "members.jsonl",
        b"\xef\xbb\xbf{\"type\":\"member\",\"id\":\"a\"}\n",
        KnownEntities::default(),
        Expected {
            rows: 1,
            titles: 0,
            members: 1,
            accepted: 0,
            duplicates: 0,
            quarantined: &[],
        },
    );
}

#[test]
fn empty_file_is_not_an_error() {
    check(
        "empty-export",
        b"",
        common::known(),
        Expected {
            rows: 0,
            titles: 0,
            members: 0,
            accepted: 0,
            duplicates: 0,
            quarantined: &[],
        },
    );
    check(
        "empty.jsonl",
        b"",
        common::known(),
        Expected {
            rows: 0,
            titles: 0,
            members: 0,
            accepted: 0,
            duplicates: 0,
            quarantined: &[],
        },
    );
}

#[test]
fn a_two_mebibyte_line_is_quarantined_without_stopping_the_file() {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"{\"type\":\"member\",\"id\":\"a\"}\n");
    bytes.extend_from_slice(b"{\"type\":\"search\",\"query\":\"");
    bytes.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    bytes.extend_from_slice(b"\"}\n{\"type\":\"member\",\"id\":\"b\"}\n");
    let store = check(
        "long.jsonl",
        &bytes,
        KnownEntities::default(),
        Expected {
            rows: 3,
            titles: 0,
            members: 2,
            accepted: 0,
            duplicates: 0,
            quarantined: &[(ProblemKind::LineTooLong, 1)],
        },
    );
    let quarantined = &store.all().quarantined[0];
    assert_eq!(quarantined.line, 2);
    assert!(quarantined.raw.len() < 17 * 1024, "the raw row is cut");
}

#[test]
fn invalid_utf8_lines_are_quarantined() {
    let mut bytes = b"{\"type\":\"member\",\"id\":\"a\xff\"}\n".to_vec();
    bytes.extend_from_slice(b"{\"type\":\"member\",\"id\":\"b\"}\r\n");
    check(
        "members.jsonl",
        &bytes,
        KnownEntities::default(),
        Expected {
            rows: 2,
            titles: 0,
            members: 1,
            accepted: 0,
            duplicates: 0,
            quarantined: &[(ProblemKind::InvalidUtf8, 1)],
        },
    );
}

#[test]
fn generic_csv_maps_headers_lists_and_numbers() {
    let csv = "type,id,kind,name,genres,duration_s,ts,member_id,title_id,session_id,action,position_s,watched_s,country\n\
        title,t5,movie,\"Heat, Part 1\",Crime|Drama,6000,,,,,,,,\n\
        play,,,,,,2026-10-01T20:15:03Z,m1,t5,s1,heartbeat,600,598,gb\n\
        play,,,,,,2026-10-01T20:15:03Z,m1,t5,s1,heartbeat,abc,598,gb\n\
        play,,,,,,2026-10-01T20:15:03Z,m1,t5,s1,heartbeat,-3,598,gb\n\
        ,,,,,,,,,,,,,\n";
    let store = check(
        "mixed.csv",
        csv.as_bytes(),
        common::known(),
        Expected {
            rows: 4,
            titles: 1,
            members: 0,
            accepted: 1,
            duplicates: 0,
            quarantined: &[(ProblemKind::WrongType, 1), (ProblemKind::NegativeValue, 1)],
        },
    );
    let all = store.all();
    assert_eq!(all.titles[0].name, "Heat, Part 1");
    assert_eq!(all.titles[0].genres, vec!["Crime", "Drama"]);
    match &all.events[0].body {
        EventBody::Play(play) => {
            assert_eq!(play.position_s, 600);
            assert_eq!(play.country.as_deref(), Some("GB"));
        }
        other => panic!("not a play: {other:?}"),
    }
    assert_eq!(all.quarantined[0].line, 4);
    assert!(all.quarantined[0].raw.contains("abc"));
}

#[test]
fn movielens_ratings_and_movies() {
    let directory = tempfile::tempdir().expect("temp dir");
    let ratings = write_file(
        directory.path(),
        "ratings.csv",
        b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964982224\n2,1,9.0,964982703\n2,3,5.0,964982703\n",
    );
    let movies = write_file(
        directory.path(),
        "movies.csv",
        "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n2,\"American President, The (1995)\",Comedy|Drama|Romance\n3,Babylon 5,(no genres listed)\n"
            .as_bytes(),
    );
    // Ratings first on the command line: planning puts the catalog first.
    let (summary, store) =
        common::import(&[ratings, movies], KnownEntities::default()).expect("import");
    assert_eq!(
        summary.files[0].path.file_name().and_then(|n| n.to_str()),
        Some("movies.csv")
    );
    assert_eq!(
        (summary.rows_read, summary.titles, summary.events_accepted),
        (7, 3, 3)
    );
    assert_eq!(
        summary.members_implied, 2,
        "users 1 and 2 become bare members"
    );
    assert_eq!(
        summary.quarantined.get(&ProblemKind::InvalidValue),
        Some(&1),
        "9 stars"
    );
    let all = store.all();
    assert_eq!(all.titles[0].name, "Toy Story");
    assert_eq!(all.titles[0].release_year, Some(1995));
    assert_eq!(all.titles[1].name, "American President, The");
    assert_eq!(all.titles[2].release_year, None);
    assert!(all.titles[2].genres.is_empty());
    assert_eq!(
        all.members
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        vec!["1", "2"]
    );
    match &all.events[0].body {
        EventBody::Rating(rating) => assert_eq!(rating.value, RatingValue::Stars(4.0)),
        other => panic!("not a rating: {other:?}"),
    }
    assert_eq!(all.events[0].ts.to_rfc3339(), "2000-07-30T18:45:03Z");
}

#[test]
fn ml100k_data_and_items() {
    let mut item = b"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n".to_vec();
    // ISO-8859-1: 0xe9 is "é".
    item.extend_from_slice(
        b"2|Cit\xe9 des enfants perdus, La|01-Jan-1995||x|0|0|0|0|0|0|0|0|1|1|0|0|0|0|0|1|0|0|0\n",
    );
    let directory = tempfile::tempdir().expect("temp dir");
    let items = write_file(directory.path(), "u.item", &item);
    let data = write_file(
        directory.path(),
        "u.data",
        b"196\t1\t3\t881250949\n186\t2\t3\t891717742\n186\t99\t1\t891717742\n22\t1\n",
    );
    let (summary, store) =
        common::import(&[data, items], KnownEntities::default()).expect("import");
    assert_eq!(
        (summary.rows_read, summary.titles, summary.events_accepted),
        (6, 2, 2)
    );
    assert_eq!(
        summary.quarantined.get(&ProblemKind::UnknownTitle),
        Some(&1)
    );
    assert_eq!(summary.quarantined.get(&ProblemKind::Malformed), Some(&1));
    let all = store.all();
    assert_eq!(
        all.titles[0].genres,
        vec!["Animation", "Children's", "Comedy"]
    );
    assert_eq!(all.titles[1].name, "Cité des enfants perdus, La");
    assert_eq!(
        all.titles[1].release_year,
        Some(1995),
        "year from the release date"
    );
    assert_eq!(all.titles[1].genres, vec!["Drama", "Fantasy", "Sci-Fi"]);
}

#[test]
fn movietweetings_ratings_are_halved_into_stars() {
    let directory = tempfile::tempdir().expect("temp dir");
    let movies = write_file(
        directory.path(),
        "movies.dat",
        b"0000008::Edison Kinetoscopic Record of a Sneeze (1894)::Documentary|Short\n0000010::La sortie des usines Lumi\xc3\xa8re (1895)::Documentary|Short\n",
    );
    let ratings = write_file(
        directory.path(),
        "ratings.dat",
        b"1::0000008::10::1381620027\n1::0000010::0::1379466669\n2::0000010::11::1379466669\n2::0000008::7::1379466669\n",
    );
    let (summary, store) =
        common::import(&[ratings, movies], KnownEntities::default()).expect("import");
    assert_eq!(
        (
            summary.titles,
            summary.events_accepted,
            summary.members_implied
        ),
        (2, 3, 2)
    );
    assert_eq!(
        summary.quarantined.get(&ProblemKind::InvalidValue),
        Some(&1),
        "11 -> 5.5 stars is out of range"
    );
    let stars: Vec<RatingValue> = store
        .all()
        .events
        .iter()
        .filter_map(|event| match &event.body {
            EventBody::Rating(rating) => Some(rating.value),
            _ => None,
        })
        .collect();
    assert_eq!(
        stars,
        vec![
            RatingValue::Stars(5.0),
            RatingValue::Stars(0.5),
            RatingValue::Stars(3.5)
        ]
    );
}

const NETFLIX: &str = "show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description
s1,Movie,Dick Johnson Is Dead,Kirsten Johnson,,United States,\"September 25, 2021\",2020,PG-13,90 min,Documentaries,\"A film.\"
s2,TV Show,Blood & Water,,\"Ama Qamata, Khosi Ngema\",\"South Africa, Soviet Union\",\"September 24, 2021\",2021,TV-MA,2 Seasons,\"International TV Shows, TV Dramas\",A show.
s3,Movie,Louis C.K. 2017,Louis C.K.,Louis C.K.,\"United Kingdom, South Korea\",\"April 4, 2017\",2017,74 min,,Movies,Stand-up.
s4,Cartoon,Odd,,,,\"Someday\",2020,TV-Y,10 min,Kids,?
";

#[test]
fn netflix_catalog_rows_are_mapped_and_repaired() {
    let store = check(
        "netflix_titles.csv",
        NETFLIX.as_bytes(),
        KnownEntities::default(),
        Expected {
            rows: 4,
            titles: 3,
            members: 0,
            accepted: 0,
            duplicates: 0,
            quarantined: &[(ProblemKind::InvalidValue, 1)],
        },
    );
    let all = store.all();
    let movie = &all.titles[0];
    assert_eq!(
        (movie.kind, movie.duration_s),
        (TitleKind::Movie, Some(5400))
    );
    assert_eq!(movie.countries, vec!["US"]);
    assert_eq!(
        movie.added_at.map(|ts| ts.to_rfc3339()).as_deref(),
        Some("2021-09-25T00:00:00Z")
    );
    assert_eq!(movie.maturity_rating.as_deref(), Some("PG-13"));
    let series = &all.titles[1];
    assert_eq!((series.kind, series.duration_s), (TitleKind::Series, None));
    assert_eq!(
        series.countries,
        vec!["ZA"],
        "the unmappable country is dropped, the title kept"
    );
    assert_eq!(series.cast, vec!["Ama Qamata", "Khosi Ngema"]);
    assert_eq!(series.genres, vec!["International TV Shows", "TV Dramas"]);
    let repaired = &all.titles[2];
    assert_eq!(repaired.duration_s, Some(74 * 60));
    assert_eq!(repaired.maturity_rating, None);
    assert_eq!(repaired.countries, vec!["GB", "KR"]);
}
