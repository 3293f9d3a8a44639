//! End-to-end tests of `showrunner train`, `recommend` and `evaluate`: the exact CLI shape
//! the recommendation yardstick drives, and its bad inputs.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(args)
        .current_dir(dir)
        .env_remove("SHOWRUNNER_DB")
        .stdin(Stdio::null())
        .output()
        .expect("the showrunner binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Users in two taste groups over items `a0..a9` and `b0..b9`, with times.
fn write_interactions(path: &Path) {
    let mut csv = String::from("user,item,timestamp\n");
    for u in 0..30 {
        let group = if u % 2 == 0 { 'a' } else { 'b' };
        for k in 0..7 {
            let item = (u + k * 3) % 10;
            csv.push_str(&format!("u{u},{group}{item},{}\n", 1000 + u * 10 + k));
        }
    }
    fs::write(path, csv).unwrap();
}

#[test]
fn train_recommend_evaluate_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_interactions(&d.join("train.csv"));
    fs::write(d.join("users.txt"), "u0\n\nu1\nnobody\n").unwrap();

    let out = run(
        &[
            "train",
            "--interactions",
            "train.csv",
            "--out",
            "model",
            "--algo",
            "ials",
            "--factors",
            "8",
            "--iterations",
            "5",
            "--regularization",
            "1",
            "--alpha",
            "5",
            "--threads",
            "2",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("model/model.json")).unwrap()).unwrap();
    assert_eq!(manifest["spec"]["algo"], "ials");
    assert_eq!(manifest["spec"]["factors"], 8);
    assert_eq!(manifest["data"]["users"], 30);
    assert!(manifest["version"].as_str().is_some_and(|v| v.len() == 16));

    let out = run(
        &[
            "recommend",
            "--model",
            "model",
            "--users",
            "users.txt",
            "--k",
            "5",
            "--out",
            "recs.csv",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 of 3 users are not in the model"));
    let recs = fs::read_to_string(d.join("recs.csv")).unwrap();
    let mut lines = recs.lines();
    assert_eq!(lines.next(), Some("user,item,rank,score"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    for user in ["u0", "u1", "nobody"] {
        let ranks: Vec<&str> = rows
            .iter()
            .filter(|r| r[0] == user)
            .map(|r| r[2].as_str())
            .collect();
        assert_eq!(ranks, ["1", "2", "3", "4", "5"], "{user}");
    }
    // Never an item the user has in training.
    let train = fs::read_to_string(d.join("train.csv")).unwrap();
    for r in &rows {
        assert!(
            !train.contains(&format!("{},{},", r[0], r[1])),
            "{} got back {}",
            r[0],
            r[1]
        );
    }

    let out = run(
        &[
            "evaluate",
            "--interactions",
            "train.csv",
            "--algo",
            "ease",
            "--lambda",
            "10",
            "--json",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["model"]["algo"], "ease");
    let ndcg = report["metrics"]["ndcg@10"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&ndcg));
    assert!(report["metrics"]["coverage@10"].as_f64().is_some());
    assert!(report["users"].as_u64().unwrap() > 0);
}

#[test]
fn auto_records_its_search_in_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_interactions(&d.join("train.csv"));
    let out = run(
        &[
            "train",
            "--interactions",
            "train.csv",
            "--out",
            "model",
            "--algo",
            "itemknn",
            "--tune",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("model/model.json")).unwrap()).unwrap();
    assert_eq!(manifest["spec"]["algo"], "itemknn");
    assert!(manifest["search"].as_array().unwrap().len() >= 6);
    assert!(
        manifest["validation"]["values"]["ndcg@10"]
            .as_f64()
            .is_some()
    );
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &str, &str, &str)] = &[
        ("empty.csv", "", "pop", "empty"),
        (
            "one.csv",
            "user,item,timestamp\nu,a,1\nu,b,2\n",
            "ials",
            "single user",
        ),
        (
            "one.csv",
            "user,item,timestamp\nu,a,1\nu,b,2\n",
            "auto",
            "nothing to validate",
        ),
        (
            "nan.csv",
            "user,item,timestamp,weight\nu,a,1,1\nv,a,2,NaN\n",
            "pop",
            "line 3",
        ),
        (
            "inf.csv",
            "user,item,timestamp,weight\nu,a,1,inf\n",
            "pop",
            "finite",
        ),
        ("header.csv", "a,b,c\n1,2,3\n", "pop", "user and item"),
    ];
    for (name, body, algo, expected) in cases {
        fs::write(d.join(name), body).unwrap();
        let out = run(
            &[
                "train",
                "--interactions",
                name,
                "--out",
                "m",
                "--algo",
                algo,
            ],
            d,
        );
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    // A missing, truncated or foreign model directory.
    write_interactions(&d.join("train.csv"));
    fs::write(d.join("users.txt"), "u0\n").unwrap();
    let out = run(
        &[
            "recommend",
            "--model",
            "nowhere",
            "--users",
            "users.txt",
            "--out",
            "r.csv",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("model directory"));
    let out = run(
        &[
            "train",
            "--interactions",
            "train.csv",
            "--out",
            "m",
            "--algo",
            "pop",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let blob = fs::read(d.join("m/model.bin")).unwrap();
    fs::write(d.join("m/model.bin"), &blob[..blob.len() / 2]).unwrap();
    let out = run(
        &[
            "recommend",
            "--model",
            "m",
            "--users",
            "users.txt",
            "--out",
            "r.csv",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("truncated"),
        "{}",
        text(&out.stderr)
    );
    // Hyper-parameters need a named algorithm.
    let out = run(
        &[
            "train",
            "--interactions",
            "train.csv",
            "--out",
            "m",
            "--factors",
            "8",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("named --algo"));
}

#[test]
fn trains_from_the_store_and_never_recommends_a_thumbs_down_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(&["synth", "--out", "platform", "--events", "40000"], d);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = [
        "platform/catalog.jsonl",
        "platform/members.jsonl",
        "platform/events.jsonl",
    ];
    let mut args = vec!["import", "--db", "s.db"];
    args.extend(files);
    let out = run(&args, d);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        &[
            "train",
            "--db",
            "s.db",
            "--out",
            "model",
            "--algo",
            "itemknn",
            "--neighbours",
            "50",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("views used"),
        "{}",
        text(&out.stderr)
    );
    // Thumbs-down pairs from the events file.
    let events = fs::read_to_string(d.join("platform/events.jsonl")).unwrap();
    let mut down: Vec<(String, String)> = Vec::new();
    for line in events.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["type"] == "rating" && e["thumbs"] == "down" {
            down.push((
                e["member_id"].as_str().unwrap().into(),
                e["title_id"].as_str().unwrap().into(),
            ));
        }
    }
    assert!(
        !down.is_empty(),
        "the synthetic platform has thumbs-down ratings"
    );
    let users: Vec<&str> = down.iter().map(|(m, _)| m.as_str()).collect();
    fs::write(d.join("users.txt"), users.join("\n")).unwrap();
    let out = run(
        &[
            "recommend",
            "--model",
            "model",
            "--users",
            "users.txt",
            "--k",
            "200",
            "--out",
            "r.csv",
        ],
        d,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recs = fs::read_to_string(d.join("r.csv")).unwrap();
    for (member, title) in &down {
        assert!(
            !recs.contains(&format!("{member},{title},")),
            "{member} got back the thumbs-down title {title}"
        );
    }
}
