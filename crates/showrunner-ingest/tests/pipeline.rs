//! The import pipeline as a whole: planning errors, batching, cancellation, sink and read
//! failures, and the real public datasets when they are present beside the checkout.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{FakeStore, gzip, import_with, rules, write_file};
use showrunner_ingest::{
    Format, ImportOptions, IngestError, KnownEntities, NoProgress, plan_inputs, run_import,
};
use showrunner_model::ProblemKind;

fn members_jsonl(count: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for index in 0..count {
        bytes
            .extend_from_slice(format!("{{\"type\":\"member\",\"id\":\"m{index}\"}}\n").as_bytes());
    }
    bytes
}

fn check_plan_error(paths: &[PathBuf], expected_message: &str) {
    match plan_inputs(paths, None) {
        Err(error) => assert_eq!(error.to_string(), expected_message),
        Ok(planned) => panic!("expected {expected_message:?}, planned {planned:?}"),
    }
}

#[test]
fn planning_names_the_bad_path() {
    let directory = tempfile::tempdir().expect("temp dir");
    let missing = directory.path().join("missing.jsonl");
    check_plan_error(
        std::slice::from_ref(&missing),
        &format!("{}: no such file", missing.display()),
    );
    let data = directory.path().join("data/");
    std::fs::create_dir(&data).expect("mkdir");
    check_plan_error(
        std::slice::from_ref(&data),
        &format!("{}: is a directory, not a file", data.display()),
    );
    let mystery = write_file(directory.path(), "mystery.bin", b"\x00\x01\x02");
    let message = plan_inputs(&[mystery], None)
        .expect_err("undetectable")
        .to_string();
    assert!(
        message.contains("--format") && message.contains("netflix-catalog"),
        "{message}"
    );
}

#[test]
fn formats_parse_by_name_and_list_the_choices() {
    for format in Format::ALL {
        assert_eq!(format.as_str().parse::<Format>().ok(), Some(format));
    }
    let error = "parquet".parse::<Format>().expect_err("unknown name");
    assert_eq!(
        error.to_string(),
        "unknown format \"parquet\"; expected one of: jsonl, csv, movielens-ratings, movielens-movies, ml100k-data, ml100k-item, movietweetings-ratings, movietweetings-movies, netflix-catalog"
    );
}

#[test]
fn detects_formats_and_puts_catalogs_first() {
    let directory = tempfile::tempdir().expect("temp dir");
    let dir = directory.path();
    let files = [
        write_file(dir, "events.ndjson.gz", &gzip(b"{\"type\":\"play\"}\n")),
        write_file(dir, "ratings.csv", b"userId,movieId,rating,timestamp\n"),
        write_file(dir, "u.data", b"1\t2\t3\t4\n"),
        write_file(dir, "titles.jsonl", b"{\"type\":\"title\",\"id\":\"t\"}\n"),
        write_file(dir, "catalog.csv", b"show_id,type,title,director,cast,country,date_added,release_year,rating,duration,listed_in,description\n"),
        write_file(dir, "dump", b"1::0000008::10::1381620027\n"),
        write_file(dir, "other.csv", b"type,id\nmember,m1\n"),
        write_file(dir, "movies.dat", b""),
    ];
    let planned = plan_inputs(&files, None).expect("plan");
    let got: Vec<(String, Format)> = planned
        .iter()
        .map(|input| {
            (
                input
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                input.format,
            )
        })
        .collect();
    let expected = [
        ("titles.jsonl", Format::Jsonl),
        ("catalog.csv", Format::NetflixCatalog),
        ("other.csv", Format::Csv),
        ("movies.dat", Format::MovietweetingsMovies),
        ("events.ndjson.gz", Format::Jsonl),
        ("ratings.csv", Format::MovielensRatings),
        ("u.data", Format::Ml100kData),
        ("dump", Format::MovietweetingsRatings),
    ];
    let expected: Vec<(String, Format)> =
        expected.iter().map(|(n, f)| (n.to_string(), *f)).collect();
    assert_eq!(got, expected);
    let forced = plan_inputs(&files[..1], Some(Format::Csv)).expect("plan");
    assert_eq!(forced[0].format, Format::Csv);
}

#[test]
fn small_batches_keep_the_books_balanced() {
    let directory = tempfile::tempdir().expect("temp dir");
    let mut bytes = members_jsonl(25);
    bytes.extend_from_slice(b"garbage\n{\"type\":\"play\",\"ts\":\"2026-10-01T00:00:00Z\",\"member_id\":\"m1\",\"title_id\":\"t404\",\"session_id\":\"s\",\"action\":\"stop\",\"position_s\":1,\"watched_s\":1}\n");
    let path = write_file(directory.path(), "members.jsonl", &bytes);
    let (summary, store) = import_with(&[path], KnownEntities::default(), 4).expect("import");
    assert_eq!(store.batches.len(), 7, "27 rows in batches of 4");
    assert!(store.batches.iter().all(|batch| batch.len() <= 4));
    assert_eq!(
        (
            summary.rows_read,
            summary.members,
            summary.quarantined_total()
        ),
        (27, 25, 2)
    );
    assert_eq!(
        summary.quarantined.get(&ProblemKind::UnknownTitle),
        Some(&1)
    );
    assert_eq!(summary.files[0].rows_read, 27);
    let json = serde_json::to_value(&summary).expect("summary serialises");
    assert_eq!(json["quarantined"]["malformed"], 1);
    assert_eq!(json["files"][0]["format"], "jsonl");
}

#[test]
fn cancelling_after_the_first_batch_keeps_what_the_sink_saw() {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = write_file(directory.path(), "members.jsonl", &members_jsonl(10_000));
    let inputs = plan_inputs(&[path], None).expect("plan");
    let options = ImportOptions {
        rules: rules(),
        batch_rows: 100,
        create_unknown_members: None,
        ..ImportOptions::default()
    };
    let cancel = AtomicBool::new(false);
    let mut store = FakeStore::default();
    let summary = run_import(
        &inputs,
        &options,
        KnownEntities::default(),
        &mut |batch| {
            cancel.store(true, Ordering::Relaxed);
            store.take(batch)
        },
        &NoProgress,
        &cancel,
    )
    .expect("an interrupted import is not an error");
    assert!(summary.interrupted);
    assert_eq!(store.batches.len(), 1);
    let seen = store.all().members.len() as u64;
    assert_eq!((summary.rows_read, summary.members), (seen, seen));
    assert!(summary.rows_balance());
}

#[test]
fn a_sink_error_stops_the_import() {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = write_file(directory.path(), "members.jsonl", &members_jsonl(1_000));
    let inputs = plan_inputs(&[path], None).expect("plan");
    let options = ImportOptions {
        rules: rules(),
        batch_rows: 10,
        create_unknown_members: None,
        ..ImportOptions::default()
    };
    let mut calls = 0;
    let result = run_import(
        &inputs,
        &options,
        KnownEntities::default(),
        &mut |_batch| {
            calls += 1;
            Err("disk full".into())
        },
        &NoProgress,
        &AtomicBool::new(false),
    );
    match result {
        Err(IngestError::Sink { source }) => assert_eq!(source.to_string(), "disk full"),
        other => panic!("expected a sink error, got {other:?}"),
    }
    assert_eq!(calls, 1);
}

#[test]
fn a_corrupt_gzip_fails_naming_the_file_and_keeps_earlier_rows() {
    let directory = tempfile::tempdir().expect("temp dir");
    let mut compressed = gzip(&members_jsonl(5_000));
    let cut = compressed.len() / 2;
    compressed.truncate(cut);
    compressed.extend_from_slice(&[0u8; 64]);
    let path = write_file(directory.path(), "members.jsonl.gz", &compressed);
    let inputs = plan_inputs(std::slice::from_ref(&path), None).expect("plan");
    let options = ImportOptions {
        rules: rules(),
        batch_rows: 100,
        create_unknown_members: None,
        ..ImportOptions::default()
    };
    let mut store = FakeStore::default();
    let result = run_import(
        &inputs,
        &options,
        KnownEntities::default(),
        &mut |batch| store.take(batch),
        &NoProgress,
        &AtomicBool::new(false),
    );
    match result {
        Err(error @ IngestError::Read { .. }) => {
            let message = error.to_string();
            assert!(
                message.starts_with(&path.display().to_string()),
                "{message}"
            );
            assert!(message.contains("line"), "{message}");
        }
        other => panic!("expected a read error, got {other:?}"),
    }
    assert!(
        !store.all().members.is_empty(),
        "rows before the damage were handed over"
    );
}

fn shared_data(relative: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is absent", path.display());
        None
    }
}

#[test]
fn the_real_netflix_catalog_is_fully_accounted_for() {
    let Some(path) = shared_data("netflix-titles/netflix_titles.csv") else {
        return;
    };
    let (summary, store) = import_with(&[path], KnownEntities::default(), 50_000).expect("import");
    assert_eq!(summary.files[0].format, Format::NetflixCatalog);
    assert_eq!(summary.rows_read, 8_807);
    assert_eq!(
        (summary.titles, summary.quarantined_total()),
        (8_807, 0),
        "quarantined {:?}",
        store.all().quarantined
    );
    assert_eq!(summary.warnings.catalog_rows_repaired, 3);
    for row in store.all().quarantined {
        assert!(!row.problem.detail.is_empty());
    }
    eprintln!(
        "netflix: {} titles, quarantined {:?}, warnings {:?}",
        summary.titles, summary.quarantined, summary.warnings
    );
    let all = store.all();
    assert!(
        all.titles
            .iter()
            .all(|title| title.countries.iter().all(|code| code.len() == 2))
    );
    let movies_with_runtime = all
        .titles
        .iter()
        .filter(|title| title.duration_s.is_some())
        .count();
    assert!(movies_with_runtime > 6_000, "{movies_with_runtime}");
}

#[test]
fn the_real_movielens_small_dataset_imports() {
    let (Some(ratings), Some(movies)) = (
        shared_data("ml-latest-small/ratings.csv"),
        shared_data("ml-latest-small/movies.csv"),
    ) else {
        return;
    };
    let (summary, _store) =
        import_with(&[ratings, movies], KnownEntities::default(), 50_000).expect("import");
    assert_eq!(summary.titles, 9_742);
    assert_eq!(summary.events_accepted, 100_836);
    assert_eq!(summary.members_implied, 610);
    assert_eq!(summary.quarantined_total(), 0, "{:?}", summary.quarantined);
}
