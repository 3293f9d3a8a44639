//! Parallel parsing changes nothing: the same inputs imported with one parse thread (the
//! one-thread line reader) and with several (chunked, prepared in parallel, finished in
//! file order) give identical batches and summaries, on a mix of the awkward cases: bad
//! rows, titles and members defined after events that need them, duplicates, blank and CRLF
//! lines, a byte-order mark, over-long lines inside and beyond a chunk, an unterminated last
//! line, compressed input, and a rating dataset with implied members.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::{FakeStore, gzip, rules, write_file, zstd};
use showrunner_ingest::{
    CleaningRules, ImportOptions, ImportSummary, KnownEntities, NoProgress, plan_inputs, run_import,
};
use showrunner_model::{Batch, ProblemKind};

/// A JSONL file of `lines` rows cycling through good and bad cases, several chunks long.
fn mixed_jsonl(lines: usize) -> Vec<u8> {
    let mut text = String::from("\u{feff}");
    for line in 0..lines {
        let member = line % 40;
        let title = line % 25;
        let ts = format!(
            "2026-10-{:02}T{:02}:{:02}:00Z",
            1 + line % 9,
            line % 24,
            line % 60
        );
        let _ = match line % 23 {
            // Titles and members defined after the first events naming them.
            7 => writeln!(
                text,
                r#"{{"type":"title","id":"t{title}","kind":"movie","name":"Film {title}","duration_s":{},"countries":["France","Soviet Union"]}}"#,
                3600 + title * 60
            ),
            11 => writeln!(text, r#"{{"type":"member","id":"m{member}"}}"#),
            3 => writeln!(text, "not json at all {line}"),
            5 => writeln!(text),
            6 => write!(text, "   \r\n"),
            9 => writeln!(
                text,
                r#"{{"id":"dup{}","type":"rating","ts":"{ts}","member_id":"m{member}","title_id":"t{title}","stars":4}}"#,
                line % 5
            ),
            13 => write!(
                text,
                "{{\"type\":\"search\",\"ts\":\"{ts}\",\"member_id\":\"m{member}\",\"query\":\"caf\\u00e9 {line}\"}}\r\n"
            ),
            17 => writeln!(
                text,
                r#"{{"type":"play","ts":"{ts}","member_id":"m{member}","title_id":"t{title}","session_id":"s{line}","action":"stop","position_s":999999,"watched_s":5}}"#
            ),
            19 => writeln!(
                text,
                r#"{{"type":"qoe","ts":"{ts}","session_id":"q{line}","member_id":"m{member}","title_id":"t{title}","cdn":"c1","country":"fr","device":"tv","player":"p","watch_s":60,"rebuffer_ms":10,"avg_bitrate_kbps":3000}}"#
            ),
            _ => writeln!(
                text,
                r#"{{"type":"play","ts":"{ts}","member_id":"m{member}","profile_id":"p{member}","title_id":"t{title}","session_id":"s{}","action":"heartbeat","position_s":{},"watched_s":{},"device":"tv","country":"us"}}"#,
                line / 50,
                line % 3000,
                line % 2000
            ),
        };
        if line == lines / 2 {
            // Over the default limit (1 MiB) and longer than a chunk.
            text.push_str(&"x".repeat(1_300_000));
            text.push('\n');
        }
        if line == lines / 3 {
            // Over a 4 KiB limit, but within a chunk.
            text.push_str(&format!(
                "{{\"type\":\"member\",\"id\":\"{}\"}}\n",
                "y".repeat(5000)
            ));
        }
    }
    // An unterminated last line.
    text.push_str(r#"{"type":"member","id":"m-last"}"#);
    text.into_bytes()
}

fn import(
    paths: &[PathBuf],
    rules: CleaningRules,
    parse_threads: usize,
) -> (ImportSummary, Vec<Batch>) {
    let inputs = plan_inputs(paths, None).expect("plan");
    let options = ImportOptions {
        rules,
        batch_rows: 1_000,
        create_unknown_members: None,
        parse_threads,
    };
    let mut store = FakeStore::default();
    let mut summary = run_import(
        &inputs,
        &options,
        KnownEntities::default(),
        &mut |batch| store.take(batch),
        &NoProgress,
        &AtomicBool::new(false),
    )
    .expect("import");
    assert!(summary.rows_balance());
    summary.elapsed = Duration::ZERO;
    (summary, store.batches)
}

fn check_same(paths: &[PathBuf], rules: CleaningRules) {
    let (one_summary, one_batches) = import(paths, rules.clone(), 1);
    assert!(one_summary.quarantined_total() > 0 && one_summary.events_accepted > 0);
    assert!(one_summary.events_duplicate > 0 && one_summary.members_implied > 0);
    assert!(one_summary.warnings.unmappable_countries_dropped > 0);
    assert!(
        one_summary
            .quarantined
            .contains_key(&ProblemKind::LineTooLong)
    );
    assert!(
        one_summary
            .quarantined
            .contains_key(&ProblemKind::UnknownMember)
    );
    for threads in [2, 3] {
        let (summary, batches) = import(paths, rules.clone(), threads);
        assert_eq!(summary, one_summary, "{threads} parse threads");
        assert_eq!(batches.len(), one_batches.len(), "{threads} parse threads");
        for (index, (batch, expected)) in batches.iter().zip(&one_batches).enumerate() {
            assert!(
                batch.titles == expected.titles
                    && batch.members == expected.members
                    && batch.events == expected.events
                    && batch.quarantined == expected.quarantined,
                "batch {index} differs with {threads} parse threads"
            );
        }
    }
}

#[test]
fn parallel_parsing_gives_identical_batches_and_summaries() {
    let directory = tempfile::tempdir().expect("temp dir");
    let dir = directory.path();
    let jsonl = mixed_jsonl(30_000);
    assert!(jsonl.len() > 5 * 1024 * 1024, "several chunks");
    let paths = vec![
        write_file(dir, "events.jsonl", &jsonl),
        write_file(dir, "events.jsonl.gz", &gzip(&jsonl[..jsonl.len() / 3])),
        write_file(dir, "more.jsonl.zst", &zstd(&jsonl[jsonl.len() / 3..])),
        write_file(
            dir,
            "u.data",
            b"m1\tt1\t4\t881250949\nu77\tt2\t3\t891717742\nu77\tt3\t9\t891717742\n",
        ),
    ];
    check_same(&paths, rules());
    let mut small_lines = rules();
    small_lines.max_line_bytes = 4096;
    check_same(&paths, small_lines);
}
