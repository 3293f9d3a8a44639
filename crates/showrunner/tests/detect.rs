//! End-to-end test of `showrunner detect nab` on a tiny NAB-layout corpus written by the
//! test: one result file per data file at NAB's path, `timestamp,value,anomaly_score,label`
//! with the window rows labelled, scores in [0, 1]; unknown detectors fail with exit 2.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn showrunner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the showrunner binary runs")
}

/// 600 points at 5 minutes from 2014-04-01, flat with a small wobble, a spike at row 500
/// inside a window on rows 480..=520.
fn write_corpus(root: &Path) {
    let category = root.join("data").join("artificialWithAnomaly");
    std::fs::create_dir_all(&category).expect("data folder");
    std::fs::create_dir_all(root.join("labels")).expect("labels folder");
    let mut csv = String::from("timestamp,value\r\n");
    for row in 0..600_i64 {
        let minutes = row * 5;
        let value = if row == 500 {
            90.0
        } else {
            10.0 + (row % 7) as f64 * 0.5
        };
        csv.push_str(&format!(
            "2014-04-{:02} {:02}:{:02}:00,{value}\r\n",
            1 + minutes / 1440,
            minutes % 1440 / 60,
            minutes % 60
        ));
    }
    std::fs::write(category.join("spike.csv"), csv).expect("data file");
    // Row 480 is 2400 minutes in (2014-04-02 16:00), row 520 is 2600 (2014-04-02 19:20).
    std::fs::write(
        root.join("labels").join("combined_windows.json"),
        r#"{"artificialWithAnomaly/spike.csv": [["2014-04-02 16:00:00.000000", "2014-04-02 19:20:00.000000"]]}"#,
    )
    .expect("windows file");
}

#[test]
fn detect_nab_writes_result_files_in_nab_layout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let corpus = dir.path().join("corpus");
    write_corpus(&corpus);
    let out = dir.path().join("results");
    let output = showrunner(&[
        "detect",
        "nab",
        "--data",
        &corpus.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = out.join("combined/artificialWithAnomaly/combined_spike.csv");
    let text = std::fs::read_to_string(&path).expect("result file written");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score,label"));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), 600);
    assert_eq!(rows[0][0], "2014-04-01 00:00:00");
    let labelled: Vec<usize> = (0..600).filter(|&row| rows[row][3] == "1").collect();
    assert_eq!(labelled.first(), Some(&480));
    assert_eq!(labelled.last(), Some(&520));
    assert_eq!(labelled.len(), 41);
    let scores: Vec<f64> = rows
        .iter()
        .map(|row| row[2].parse().expect("numeric score"))
        .collect();
    assert!(scores.iter().all(|score| (0.0..=1.0).contains(score)));
    // The spike is the most anomalous point after warm-up.
    let top = (100..600)
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .expect("rows");
    assert_eq!(top, 500, "highest score at row {top}");
}

#[test]
fn unknown_detector_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let corpus = dir.path().join("corpus");
    write_corpus(&corpus);
    let output = showrunner(&[
        "detect",
        "nab",
        "--data",
        &corpus.display().to_string(),
        "--out",
        &dir.path().join("out").display().to_string(),
        "--detector",
        "nope",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown detector") && stderr.contains("combined"),
        "{stderr}"
    );
}
