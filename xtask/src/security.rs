//! `cargo xtask bench security`: synthesises platforms of several sizes with the release
//! binary, runs every threat detector over their login and play events in this process
//! (time order, default settings), scores the findings against each run's `truth.json`
//! (precision and recall per finding kind, see `showrunner_security::eval`) and times the
//! detectors alone (reading and parsing the file is timed apart).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use showrunner_model::Event;
use showrunner_security::eval::{Labels, Score, score};
use showrunner_security::{Scanner, SecurityConfig};
use showrunner_synth::Truth;

use crate::bench::{build_release, workspace_root};

pub struct SecurityArgs {
    pub events: Vec<u64>,
    pub seeds: Vec<u64>,
    pub verbose: bool,
    /// Detector settings overriding the defaults (JSON, as `showrunner security scan --config`).
    pub config: Option<std::path::PathBuf>,
}

/// The labels a synthetic run's truth implies (see `docs/security.md`).
pub fn labels_from_truth(truth: &Truth) -> Labels {
    let stuffing = &truth.credential_stuffing;
    let mut takeover_accounts: BTreeSet<String> = stuffing
        .successful_accounts
        .iter()
        .map(|account| account.account.clone())
        .collect();
    if truth.brute_force.succeeded {
        takeover_accounts.insert(truth.brute_force.account.clone());
    }
    if let Some(spraying) = &truth.password_spraying {
        takeover_accounts.extend(
            spraying
                .successful_accounts
                .iter()
                .map(|account| account.account.clone()),
        );
    }
    Labels {
        stuffing_ips: stuffing.attacker_ips.iter().cloned().collect(),
        spraying_ips: truth
            .password_spraying
            .iter()
            .flat_map(|spraying| spraying.ips.iter().cloned())
            .collect(),
        brute_force_accounts: [truth.brute_force.account.clone()].into(),
        travel_also: takeover_accounts.clone(),
        takeover_accounts,
        takeover_also: truth
            .impossible_travel
            .iter()
            .map(|pair| pair.account.clone())
            .collect(),
        travel_accounts: truth
            .impossible_travel
            .iter()
            .map(|pair| pair.account.clone())
            .collect(),
        shared_accounts: truth
            .shared_accounts
            .iter()
            .map(|shared| (shared.account.clone(), shared.member_id.clone()))
            .collect(),
    }
}

/// The login and play events of a synthetic `events.jsonl`, in time order.
pub fn read_login_and_play(path: &Path) -> anyhow::Result<Vec<Event>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut events = Vec::new();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if !(line.contains("\"type\":\"login\"") || line.contains("\"type\":\"play\"")) {
            continue;
        }
        let event: Event = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not an event", path.display(), number + 1))?;
        events.push(event);
    }
    events.sort_by_key(|event| event.ts);
    Ok(events)
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |value| format!("{value:.3}"))
}

pub fn run(args: SecurityArgs) -> anyhow::Result<()> {
    let config: SecurityConfig = match &args.config {
        Some(path) => serde_json::from_str(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("parsing settings in {}", path.display()))?,
        None => SecurityConfig::default(),
    };
    let binary = build_release()?;
    let scratch = workspace_root().join("target").join("bench");
    std::fs::create_dir_all(&scratch)?;
    println!(
        "{:>9} {:>5} {:>10} {:>9} {:>9} {:>8}  {:<20} {:>6} {:>6} {:>4} {:>9} {:>7}",
        "events",
        "seed",
        "scanned",
        "scan_s",
        "events/s",
        "findings",
        "kind",
        "truth",
        "pred",
        "tp",
        "precision",
        "recall"
    );
    let mut totals: Vec<Score> = Vec::new();
    for &size in &args.events {
        for &seed in &args.seeds {
            let data = scratch.join(format!("security-{size}-{seed}"));
            let _ = std::fs::remove_dir_all(&data);
            let output = Command::new(&binary)
                .args(["synth", "--events", &size.to_string(), "--seed"])
                .arg(seed.to_string())
                .arg("--out")
                .arg(&data)
                .stderr(Stdio::inherit())
                .output()
                .context("running showrunner synth")?;
            if !output.status.success() {
                bail!(
                    "showrunner synth failed: {}",
                    String::from_utf8_lossy(&output.stdout)
                );
            }
            let truth_path = data.join("truth.json");
            let truth: Truth = serde_json::from_str(
                &std::fs::read_to_string(&truth_path)
                    .with_context(|| format!("reading {}", truth_path.display()))?,
            )
            .with_context(|| format!("parsing {}", truth_path.display()))?;
            let events = read_login_and_play(&data.join("events.jsonl"))?;

            let clock = Instant::now();
            let mut scanner = Scanner::new(&config);
            for event in &events {
                scanner.observe(event);
            }
            let findings = scanner.finish();
            let seconds = clock.elapsed().as_secs_f64();

            let scores = score(&findings, &labels_from_truth(&truth));
            for (index, item) in scores.iter().enumerate() {
                let lead = if index == 0 {
                    format!(
                        "{size:>9} {seed:>5} {:>10} {seconds:>9.3} {:>9.0} {:>8}",
                        events.len(),
                        events.len() as f64 / seconds.max(1e-9),
                        findings.len()
                    )
                } else {
                    format!(
                        "{:>9} {:>5} {:>10} {:>9} {:>9} {:>8}",
                        "", "", "", "", "", ""
                    )
                };
                println!(
                    "{lead}  {:<20} {:>6} {:>6} {:>4} {:>9} {:>7}",
                    item.name,
                    item.truth,
                    item.predicted,
                    item.true_positives,
                    ratio(item.precision()),
                    ratio(item.recall())
                );
                if args.verbose {
                    for unit in item.false_positives.iter().take(5) {
                        println!("    false positive: {unit}");
                    }
                    for unit in item.missed.iter().take(5) {
                        println!("    missed: {unit}");
                    }
                }
            }
            if args.verbose {
                for finding in findings
                    .iter()
                    .filter(|finding| {
                        scores.iter().any(|item| {
                            item.kind == finding.kind
                                && finding
                                    .accounts
                                    .iter()
                                    .chain(finding.ips.iter())
                                    .any(|unit| item.false_positives.contains(unit))
                        })
                    })
                    .take(10)
                {
                    println!("    {}", serde_json::to_string(finding)?);
                }
            }
            for item in scores {
                match totals.iter_mut().find(|total| total.name == item.name) {
                    Some(total) => {
                        total.truth += item.truth;
                        total.predicted += item.predicted;
                        total.true_positives += item.true_positives;
                    }
                    None => totals.push(item),
                }
            }
            let _ = std::fs::remove_dir_all(&data);
        }
    }
    println!("\nall runs pooled:");
    for total in &totals {
        println!(
            "  {:<20} truth {:>6}  predicted {:>6}  tp {:>6}  precision {:>5}  recall {:>5}",
            total.name,
            total.truth,
            total.predicted,
            total.true_positives,
            ratio(total.precision()),
            ratio(total.recall())
        );
    }
    Ok(())
}
