//! Property-based fuzzing of the parsers that read untrusted bytes: the JSON line cleaner
//! (`Cleaner::clean_json`, the entry point of HTTP ingest) and whole JSONL and CSV files
//! through `run_import`. Whatever the bytes, nothing panics, a line is either a record or a
//! problem with a reason, and every row read is accounted for.
//!
//! cargo-fuzz needs a nightly toolchain this project does not require, so these run on
//! stable with proptest: a short run in the default suite, a long one (many more cases)
//! with `SHOWRUNNER_SLOW_TESTS=1`.

mod common;

use common::{import, known, rules, write_file};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use showrunner_ingest::Cleaner;

fn cases(short: u32, long: u32) -> Config {
    let slow = std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_some_and(|v| v == "1");
    Config {
        cases: if slow { long } else { short },
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text that looks like an event often enough to get past the first checks.
fn event_like() -> impl Strategy<Value = String> {
    let kinds = prop::sample::select(vec![
        "play",
        "rating",
        "login",
        "impression",
        "qoe",
        "search",
        "title",
        "member",
        "heartbeat",
        "",
    ]);
    let values = prop::sample::select(vec![
        "\"m1\"",
        "\"t1\"",
        "1",
        "-1",
        "1e308",
        "null",
        "true",
        "[]",
        "{}",
        "\"\"",
        "\"\\u0000\"",
        "\"2026-10-15T11:00:00Z\"",
        "\"' OR 1=1 --\"",
        "\"\u{202e}evil\"",
        "99999999999999999999",
    ]);
    let fields = prop::sample::select(vec![
        "id",
        "ts",
        "member_id",
        "title_id",
        "session_id",
        "action",
        "position_s",
        "watched_s",
        "thumbs",
        "stars",
        "outcome",
        "ip",
        "country",
        "device",
        "kind",
        "name",
    ]);
    (kinds, prop::collection::vec((fields, values), 0..8)).prop_map(|(kind, pairs)| {
        let mut text = format!("{{\"type\":\"{kind}\"");
        for (field, value) in pairs {
            text.push_str(&format!(",\"{field}\":{value}"));
        }
        text.push('}');
        text
    })
}

#[test]
fn clean_json_takes_any_bytes() {
    let mut runner = TestRunner::new(cases(256, 20_000));
    // One cleaner across cases, as the server keeps one: state from earlier lines must not
    // break later ones.
    let cleaner = std::cell::RefCell::new(Cleaner::new(rules(), known()));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            // A record or a problem; a problem always says why.
            if let Err(problem) = cleaner.borrow_mut().clean_json(&bytes) {
                prop_assert!(!problem.to_string().is_empty());
            }
            Ok(())
        })
        .expect("no input breaks the cleaner");
    runner
        .run(&event_like(), |line| {
            if let Err(problem) = cleaner.borrow_mut().clean_json(line.as_bytes()) {
                prop_assert!(!problem.to_string().is_empty());
            }
            Ok(())
        })
        .expect("no event-like input breaks the cleaner");
}

#[test]
fn whole_files_of_any_bytes_are_accounted_for() {
    let mut runner = TestRunner::new(cases(24, 1_000));
    let directory = tempfile::tempdir().expect("temp dir");
    let lines = prop::collection::vec(
        prop_oneof![
            event_like(),
            "[ -~]{0,80}",
            prop::collection::vec(any::<u8>(), 0..80)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ],
        0..20,
    );
    runner
        .run(&(lines, any::<bool>()), |(lines, csv)| {
            let (name, body) = if csv {
                let mut body = String::from("type,id,ts,member_id,title_id,action,watched_s\n");
                for line in &lines {
                    body.push_str(&line.replace('\n', " "));
                    body.push('\n');
                }
                ("events.csv", body)
            } else {
                ("events.jsonl", lines.join("\n"))
            };
            let path = write_file(directory.path(), name, body.as_bytes());
            // `import` asserts that every row read is accepted, a duplicate or quarantined.
            match import(&[path], known()) {
                Ok((summary, _)) => {
                    let breaks = body.bytes().filter(|b| matches!(b, b'\n' | b'\r')).count();
                    prop_assert!(summary.rows_read <= breaks as u64 + 1);
                }
                Err(error) => prop_assert!(error.to_string().contains(name), "{error}"),
            }
            Ok(())
        })
        .expect("no file breaks the importer");
}
