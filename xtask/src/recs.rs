//! `cargo xtask bench recs`: recommendation speed and quality against implicit's ALS in the
//! same run.
//!
//! - On `ml-latest-small` (split by the common yardstick's `split.py`, read from
//!   `../shared`): iALS fit time at the same factors, iterations, regularisation, alpha and
//!   threads as implicit, NDCG@10 of both scored by `score.py`, and `--algo auto`'s score.
//! - On a synthetic set of N interactions (100k users x 10k titles at 10M; taste groups and
//!   long-tail popularity): fit time, top-20 for every user, and model load to first answer.
//!
//! Everything runs the release binary as a user would; implicit runs in
//! `xtask/peers/implicit_als.py`. Without Python's implicit the peer columns are skipped.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::bench::{build_release, median, workspace_root};

#[derive(Debug, clap::Args)]
pub struct RecsArgs {
    /// Interactions in the synthetic set (0 skips it).
    #[arg(long, default_value_t = 10_000_000)]
    interactions: u64,
    /// Runs per timing; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Skip implicit (the peer) even when it is installed.
    #[arg(long)]
    no_peer: bool,
    /// iALS factors for the synthetic set (ml-latest-small uses the yardstick's tuned 128).
    #[arg(long, default_value_t = 64)]
    factors: usize,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Skip the `--algo auto` run on ml-latest-small (it searches for minutes).
    #[arg(long)]
    no_auto: bool,
}

fn peer_available(no_peer: bool) -> bool {
    if no_peer {
        return false;
    }
    let ok = Command::new("python3")
        .args(["-c", "import implicit, threadpoolctl, scipy, numpy"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!(
            "note: python3 with implicit is not installed (pip install implicit threadpoolctl scipy numpy); peer columns skipped"
        );
    }
    ok
}

struct Timings {
    fit_s: f64,
    recommend_s: f64,
    first_answer_s: f64,
}

#[allow(clippy::too_many_arguments)]
fn ours(
    binary: &Path,
    dir: &Path,
    train: &Path,
    users: &Path,
    out: &Path,
    hyper: &[String],
) -> anyhow::Result<Timings> {
    let model = dir.join("model");
    let mut args = vec![
        "train".to_string(),
        "--interactions".into(),
        train.display().to_string(),
        "--out".into(),
        model.display().to_string(),
    ];
    args.extend(hyper.iter().cloned());
    let status = Command::new(binary)
        .args(&args)
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("showrunner train failed: {args:?}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(model.join("model.json"))?)?;
    let fit_s = manifest["train_seconds"].as_f64().unwrap_or(f64::NAN);
    let output = Command::new(binary)
        .args(["recommend", "--model"])
        .arg(&model)
        .arg("--users")
        .arg(users)
        .args(["--k", "20", "--timings", "--out"])
        .arg(out)
        .output()?;
    if !output.status.success() {
        bail!(
            "showrunner recommend failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .context("recommend --timings printed no JSON")?;
    let t: serde_json::Value = serde_json::from_str(line)?;
    Ok(Timings {
        fit_s,
        recommend_s: t["recommend_all_s"].as_f64().unwrap_or(f64::NAN),
        first_answer_s: t["first_answer_s"].as_f64().unwrap_or(f64::NAN),
    })
}

fn peer(
    root: &Path,
    train: &Path,
    users: &Path,
    out: &Path,
    settings: &[(&str, String)],
) -> anyhow::Result<Timings> {
    let mut cmd = Command::new("python3");
    cmd.arg(root.join("xtask/peers/implicit_als.py"))
        .arg(train)
        .arg(users)
        .arg(out);
    for (k, v) in settings {
        cmd.arg(format!("--{k}")).arg(v);
    }
    let output = cmd.output()?;
    if !output.status.success() {
        bail!(
            "implicit failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the peer printed no JSON")?;
    let t: serde_json::Value = serde_json::from_str(line)?;
    Ok(Timings {
        fit_s: t["fit_s"].as_f64().unwrap_or(f64::NAN),
        recommend_s: t["recommend_s"].as_f64().unwrap_or(f64::NAN),
        first_answer_s: f64::NAN,
    })
}

/// NDCG@10 and recall@20 of a recommendation file, by the yardstick's scorer.
fn score(root: &Path, train: &Path, test: &Path, recs: &Path) -> anyhow::Result<(f64, f64)> {
    let scorer = root.join("../shared/bench/recs/score.py");
    let output = Command::new("python3")
        .arg(&scorer)
        .args([train, test, recs])
        .arg("--json")
        .output()?;
    if !output.status.success() {
        bail!(
            "score.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok((
        v["ndcg@10"].as_f64().unwrap_or(f64::NAN),
        v["recall@20"].as_f64().unwrap_or(f64::NAN),
    ))
}

pub fn recs(args: RecsArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let binary = build_release()?;
    let scratch = root.join("target/bench/recs");
    fs::create_dir_all(&scratch)?;
    let with_peer = peer_available(args.no_peer);
    let runs = args.runs.max(1);
    let yardstick = root.join("../shared/bench/recs");
    let ratings = root.join("../shared/data/ml-latest-small/ratings.csv");

    if yardstick.join("split.py").exists() && ratings.exists() {
        println!("== ml-latest-small (yardstick split), iALS at the peer's tuned setting");
        let split = scratch.join("ml-split");
        let status = Command::new("python3")
            .arg(yardstick.join("split.py"))
            .arg("movielens-csv")
            .arg(&ratings)
            .arg(&split)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("split.py failed");
        }
        let (train, test, users) = (
            split.join("train.csv"),
            split.join("test.csv"),
            split.join("test_users.txt"),
        );
        // The same factors, iterations, regularisation and threads; alpha is mapped so both
        // fit the same model (see `compare`).
        let settings = [
            ("factors", "128".to_string()),
            ("iterations", "15".to_string()),
            ("regularization", "10".to_string()),
            ("alpha", "1".to_string()),
            ("threads", args.threads.to_string()),
        ];
        compare(
            &binary,
            &root,
            &scratch,
            &train,
            Some(&test),
            &users,
            &settings,
            runs,
            with_peer,
        )?;
        if args.no_auto {
            println!("(--algo auto skipped)");
        }
        let out = scratch.join("auto.csv");
        let timings = if args.no_auto {
            None
        } else {
            Some(ours(
                &binary,
                &scratch.join("auto"),
                &train,
                &users,
                &out,
                &[
                    "--algo".into(),
                    "auto".into(),
                    "--threads".into(),
                    args.threads.to_string(),
                ],
            )?)
        };
        if let Some(timings) = timings {
            let (ndcg, recall) = score(&root, &train, &test, &out)?;
            println!(
                "showrunner --algo auto: ndcg@10 {ndcg:.4}  recall@20 {recall:.4}  (search + fit {:.1} s)",
                timings.fit_s
            );
        }
    } else {
        println!("note: ../shared/data/ml-latest-small or ../shared/bench/recs is absent; skipped");
    }

    if args.interactions > 0 {
        let n = args.interactions;
        let users_n = (n / 100).max(100);
        let items_n = (n / 1000).clamp(100, 10_000);
        println!(
            "== synthetic: {n} interactions, {users_n} users x {items_n} titles, {} factors",
            args.factors
        );
        let dir = scratch.join(format!("synthetic-{n}"));
        let (train, test, users) = synthetic(&dir, n, users_n, items_n)?;
        let settings = [
            ("factors", args.factors.to_string()),
            ("iterations", "15".to_string()),
            ("regularization", "1".to_string()),
            ("alpha", "1".to_string()),
            ("threads", args.threads.to_string()),
        ];
        let score_test = (n <= 20_000_000).then_some(test.as_path());
        compare(
            &binary, &root, &dir, &train, score_test, &users, &settings, runs, with_peer,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn compare(
    binary: &Path,
    root: &Path,
    dir: &Path,
    train: &Path,
    test: Option<&Path>,
    users: &Path,
    settings: &[(&str, String)],
    runs: usize,
    with_peer: bool,
) -> anyhow::Result<()> {
    let mut hyper: Vec<String> = vec!["--algo".into(), "ials".into()];
    for (k, v) in settings {
        hyper.push(format!("--{k}"));
        // implicit's confidence is alpha * w where ours is 1 + alpha * w: the same model on
        // binary data takes our alpha one lower.
        if *k == "alpha" {
            let alpha: f64 = v.parse().unwrap_or(1.0);
            hyper.push((alpha - 1.0).max(0.0).to_string());
        } else {
            hyper.push(v.clone());
        }
    }
    let (mut fit, mut rec, mut first) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pfit, mut prec) = (Vec::new(), Vec::new());
    let ours_out = dir.join("ours.csv");
    let peer_out = dir.join("implicit.csv");
    for run in 0..runs {
        let t = ours(binary, &dir.join("ours"), train, users, &ours_out, &hyper)?;
        fit.push(t.fit_s);
        rec.push(t.recommend_s);
        first.push(t.first_answer_s);
        if with_peer {
            let p = peer(root, train, users, &peer_out, settings)?;
            pfit.push(p.fit_s);
            prec.push(p.recommend_s);
        }
        println!(
            "  run {}: showrunner fit {:.2} s, top-20 {:.2} s{}",
            run + 1,
            fit[run],
            rec[run],
            if with_peer {
                format!(
                    "; implicit fit {:.2} s, top-20 {:.2} s",
                    pfit[run], prec[run]
                )
            } else {
                String::new()
            }
        );
    }
    let (fit, rec, first) = (median(&mut fit), median(&mut rec), median(&mut first));
    println!(
        "  showrunner: fit {fit:.3} s, top-20 for every user {rec:.3} s, load to first answer {:.1} ms",
        first * 1000.0
    );
    if with_peer {
        let (pfit, prec) = (median(&mut pfit), median(&mut prec));
        println!("  implicit:   fit {pfit:.3} s, top-20 for every user {prec:.3} s");
        println!(
            "  ratio (showrunner / implicit, medians of {runs}): fit {:.2}, top-20 {:.2}",
            fit / pfit,
            rec / prec
        );
    }
    let scorer_present = root.join("../shared/bench/recs/score.py").exists();
    if test.is_some() && !scorer_present {
        println!("  (quality skipped: ../shared/bench/recs/score.py is absent)");
    }
    if let Some(test) = test.filter(|_| scorer_present) {
        let (ndcg, recall) = score(root, train, test, &ours_out)?;
        print!("  quality on the holdout: showrunner ndcg@10 {ndcg:.4} recall@20 {recall:.4}");
        if with_peer {
            let (pn, pr) = score(root, train, test, &peer_out)?;
            print!("; implicit ndcg@10 {pn:.4} recall@20 {pr:.4}");
        }
        println!();
    }
    Ok(())
}

/// A deterministic synthetic interaction set: each user belongs to one of 50 taste groups and
/// draws ~70% of their titles from the group's titles and the rest from the whole catalog,
/// both by long-tail popularity; each user's last 2 titles are held out as the test set.
fn synthetic(
    dir: &Path,
    n: u64,
    users_n: u64,
    items_n: u64,
) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    let train = dir.join("train.csv");
    let test = dir.join("test.csv");
    let users = dir.join("users.txt");
    if train.exists() && test.exists() && users.exists() {
        return Ok((train, test, users));
    }
    fs::create_dir_all(dir)?;
    let groups = 50u64;
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Popularity weights 1/(rank+10), ranks shuffled over items.
    let mut order: Vec<u64> = (0..items_n).collect();
    for i in (1..order.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let weight = |item: u64| 1.0 / (order[item as usize] as f64 + 10.0);
    let cdf = |members: &[u64]| -> Vec<f64> {
        let mut acc = 0.0;
        members
            .iter()
            .map(|&i| {
                acc += weight(i);
                acc
            })
            .collect()
    };
    let all: Vec<u64> = (0..items_n).collect();
    let all_cdf = cdf(&all);
    let group_items: Vec<Vec<u64>> = (0..groups)
        .map(|g| (0..items_n).filter(|i| i % groups == g).collect())
        .collect();
    let group_cdf: Vec<Vec<f64>> = group_items.iter().map(|m| cdf(m)).collect();
    let draw = |members: &[u64], cdf: &[f64], r: u64| -> u64 {
        let total = cdf.last().copied().unwrap_or(1.0);
        let x = (r % 1_000_000_007) as f64 / 1_000_000_007.0 * total;
        let k = cdf.partition_point(|&c| c < x).min(members.len() - 1);
        members[k]
    };
    let mut train_w = BufWriter::new(File::create(&train)?);
    let mut test_w = BufWriter::new(File::create(&test)?);
    let mut users_w = BufWriter::new(File::create(&users)?);
    writeln!(train_w, "user,item,timestamp")?;
    writeln!(test_w, "user,item,timestamp")?;
    let per_user = n / users_n;
    let mut train_items: HashSet<u64> = HashSet::new();
    let mut held: Vec<(u64, u64, u64)> = Vec::new();
    for u in 0..users_n {
        let g = (next() % groups) as usize;
        let count = (per_user / 2 + next() % (per_user + 1))
            .min(items_n / 2)
            .max(5);
        let mut seen = HashSet::new();
        let mut list = Vec::new();
        let mut tries = 0;
        while (list.len() as u64) < count && tries < count * 20 {
            tries += 1;
            let r = next();
            let item = if r % 10 < 7 {
                draw(&group_items[g], &group_cdf[g], next())
            } else {
                draw(&all, &all_cdf, next())
            };
            if seen.insert(item) {
                list.push(item);
            }
        }
        writeln!(users_w, "u{u}")?;
        let cut = list.len().saturating_sub(2);
        for (t, item) in list.iter().enumerate() {
            if t < cut {
                writeln!(train_w, "u{u},t{item},{t}")?;
                train_items.insert(*item);
            } else {
                held.push((u, *item, t as u64));
            }
        }
    }
    for (u, item, t) in held {
        if train_items.contains(&item) {
            writeln!(test_w, "u{u},t{item},{t}")?;
        }
    }
    train_w.flush()?;
    test_w.flush()?;
    users_w.flush()?;
    Ok((train, test, users))
}
