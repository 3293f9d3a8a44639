//! A platform with taste in a temporary database: 200 movies in 10 genres, 300 members who
//! each watch 12 movies of their genre one day after another. A collaborative model learns
//! the genres; a model with random scores cannot.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use showrunner_ingest::{Cleaner, CleaningRules, KnownEntities};
use showrunner_model::{Batch, Timestamp};
use showrunner_store::{SqliteStore, Store};

pub const TITLES: usize = 200;
pub const GENRES: usize = 10;
pub const MEMBERS: usize = 300;
pub const WATCHED: usize = 12;

/// 2026-10-01T00:00:00Z.
pub const START: i64 = 1_790_812_800;

pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_seconds(START + seconds)
}

/// A small deterministic generator (splitmix64), so the data is the same on every run.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn lines() -> Vec<String> {
    let mut lines = Vec::new();
    for t in 0..TITLES {
        lines.push(format!(
            r#"{{"type":"title","id":"t{t}","kind":"movie","name":"Title {t}","genres":["g{}"],"duration_s":5400}}"#,
            t % GENRES
        ));
    }
    let mut mix = Mix(7);
    let mut n = 0;
    for m in 0..MEMBERS {
        lines.push(format!(
            r#"{{"type":"member","id":"m{m}","country":"US","plan":"standard"}}"#
        ));
        let genre = m % GENRES;
        let mut pool: Vec<usize> = (0..TITLES).filter(|t| t % GENRES == genre).collect();
        for day in 0..WATCHED {
            let pick = pool.swap_remove((mix.next() % pool.len() as u64) as usize);
            n += 1;
            let ts = at((day as i64) * 86_400 + (m as i64) * 60).to_rfc3339();
            lines.push(format!(
                r#"{{"type":"play","id":"p{n}","ts":"{ts}","member_id":"m{m}","title_id":"t{pick}","session_id":"s{n}","action":"stop","position_s":5400,"watched_s":5400,"device":"tv","country":"US"}}"#
            ));
        }
    }
    lines
}

/// Writes the platform into `dir/platform.db` and returns the path.
pub fn platform(dir: &Path) -> PathBuf {
    let db = dir.join("platform.db");
    let mut store = SqliteStore::open(&db).expect("opens");
    let mut cleaner = Cleaner::new(
        CleaningRules::at(at(100 * 86_400)),
        KnownEntities::default(),
    );
    let mut batch = Batch::default();
    for line in lines() {
        let record = cleaner
            .clean_json(line.as_bytes())
            .unwrap_or_else(|p| panic!("{line}: {p}"));
        batch.push(record);
    }
    store.write_batch(&batch).expect("writes");
    store.refresh_derived().expect("derives");
    db
}
