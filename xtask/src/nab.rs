//! `cargo xtask bench nab`: runs a detector over a NAB-layout corpus (default
//! `../shared/data/nab-subset`), scores it with NAB's published scoring (the monitor
//! crate's `nab` module) for the three profiles, and prints our figures beside the published
//! detectors' rows of the corpus's `ANCHORS.md`, with the wall time of detection and of
//! scoring. `--results DIR` scores existing NAB-format result files instead (for instance
//! the output of `showrunner detect nab`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use showrunner_monitor::{detector, nab};

pub struct NabArgs {
    pub data: Option<PathBuf>,
    pub detector: String,
    pub results: Option<PathBuf>,
    pub per_file: bool,
    /// `name=value` overrides of the combined detector's settings.
    pub settings: Vec<String>,
    /// Write each file's scores under this folder.
    pub dump: Option<PathBuf>,
}

pub fn run(args: NabArgs) -> anyhow::Result<()> {
    let root = match args.data {
        Some(data) => data,
        None => super::bench::workspace_root().join("../shared/data/nab-subset"),
    };
    let windows_path = root.join("labels/combined_windows.json");
    if !windows_path.exists() {
        println!(
            "note: no NAB corpus at {} (labels/combined_windows.json missing); nothing to do",
            root.display()
        );
        return Ok(());
    }
    let windows_text = std::fs::read_to_string(&windows_path)
        .with_context(|| format!("reading {}", windows_path.display()))?;
    let corpus = nab::load_corpus(&windows_text, |name| {
        std::fs::read_to_string(root.join("data").join(name))
    })
    .with_context(|| format!("loading the corpus under {}", root.display()))?;
    let profiles_path = root.join("config/profiles.json");
    let profiles = match std::fs::read_to_string(&profiles_path) {
        Ok(text) => nab::parse_profiles_json(&profiles_path.display().to_string(), &text)?,
        Err(_) => nab::Profile::published(),
    };
    let rows: usize = corpus.iter().map(|file| file.data.values.len()).sum();
    let windows: usize = corpus.iter().map(|file| file.windows.len()).sum();

    let started = Instant::now();
    let (label, scores) = match &args.results {
        Some(results) => (
            format!("{} (result files)", args.detector),
            read_results(results, &args.detector, &corpus)?,
        ),
        None => {
            let make = detector_factory(&args.detector, &args.settings)?;
            let scores: Vec<Vec<f64>> = corpus
                .iter()
                .map(|file| {
                    let mut detector = make();
                    Ok(detector::run(
                        detector.as_mut(),
                        &file.data.timestamps,
                        &file.data.values,
                    ))
                })
                .collect::<anyhow::Result<_>>()?;
            let mut label = format!("ours: {}", args.detector);
            if !args.settings.is_empty() {
                label = format!("{label} {}", args.settings.join(" "));
            }
            (label, scores)
        }
    };
    let detect_seconds = started.elapsed().as_secs_f64();
    if let Some(dump) = &args.dump {
        dump_scores(dump, &corpus, &scores)?;
    }

    let started = Instant::now();
    let files: Vec<nab::ScoredFile<'_>> = corpus
        .iter()
        .zip(&scores)
        .map(|(file, scores)| file.scored(scores))
        .collect();
    let results: Vec<nab::ProfileScore> = profiles
        .iter()
        .map(|profile| nab::score_corpus(&files, profile))
        .collect();
    let score_seconds = started.elapsed().as_secs_f64();

    println!(
        "NAB corpus {}: {} files, {} rows, {} windows",
        root.display(),
        corpus.len(),
        rows,
        windows
    );
    let anchors = std::fs::read_to_string(root.join("ANCHORS.md")).unwrap_or_default();
    let mut table = anchor_rows(&anchors);
    let ours: Vec<f64> = results.iter().map(|result| result.normalised).collect();
    table.push((format!("**{label}**"), ours));
    table.sort_by(|a, b| b.1[0].total_cmp(&a.1[0]));
    let headers: Vec<&str> = profiles
        .iter()
        .map(|profile| profile.name.as_str())
        .collect();
    println!("\n| detector | {} |", headers.join(" | "));
    println!("|---|{}", "---|".repeat(headers.len()));
    for (name, figures) in &table {
        let figures: Vec<String> = figures
            .iter()
            .map(|figure| format!("{figure:.1}"))
            .collect();
        println!("| {name} | {} |", figures.join(" | "));
    }
    println!();
    for result in &results {
        println!(
            "{}: threshold {:.4}, raw {:.3} (null {:.3}, perfect {:.1}), normalised {:.2}",
            result.profile,
            result.threshold,
            result.raw,
            result.null,
            result.perfect,
            result.normalised
        );
    }
    if args.per_file
        && let Some(standard) = results.first()
    {
        println!("\nper file ({} profile):", standard.profile);
        for ((file, corpus_file), file_scores) in standard.per_file.iter().zip(&corpus).zip(&scores)
        {
            println!(
                "  {:<55} raw {:>7.3}  windows {}/{}  false-positive rows {}",
                file.name, file.raw, file.windows_detected, file.windows, file.false_positive_rows
            );
            // Where the highest scores are: each window's best and the best outside windows
            // (after the probationary period), to see what a threshold would catch.
            let probation = nab::probationary_length(file_scores.len());
            let window_best: Vec<String> = corpus_file
                .windows
                .iter()
                .map(|&(start, end)| {
                    let best = file_scores[start..=end].iter().copied().fold(0.0, f64::max);
                    format!("{best:.4}")
                })
                .collect();
            let outside_best = file_scores
                .iter()
                .enumerate()
                .skip(probation)
                .filter(|(row, _)| {
                    !corpus_file
                        .windows
                        .iter()
                        .any(|&(start, end)| (start..=end).contains(row))
                })
                .map(|(_, &score)| score)
                .fold(0.0, f64::max);
            println!(
                "      best in windows [{}], best outside {outside_best:.4}",
                window_best.join(", ")
            );
        }
    }
    println!(
        "\nwall time: detection {detect_seconds:.2} s ({:.0} points/s), scoring {score_seconds:.2} s",
        rows as f64 / detect_seconds.max(1e-9)
    );
    Ok(())
}

/// Writes `timestamp,value,score,label` per row of each file (label 1 inside a window).
fn dump_scores(dir: &Path, corpus: &[nab::CorpusFile], scores: &[Vec<f64>]) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    for (file, scores) in corpus.iter().zip(scores) {
        let path = dir.join(&file.name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut text = String::from("timestamp,value,score,label\n");
        for (row, ((timestamp, value), score)) in file
            .data
            .timestamps
            .iter()
            .zip(&file.data.values)
            .zip(scores)
            .enumerate()
        {
            let label = file
                .windows
                .iter()
                .any(|&(start, end)| (start..=end).contains(&row));
            writeln!(text, "{timestamp},{value},{score},{}", u8::from(label))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Builds detectors by name; settings apply to the combined detector only.
fn detector_factory(
    name: &str,
    settings: &[String],
) -> anyhow::Result<Box<dyn Fn() -> Box<dyn detector::Detector>>> {
    detector::build(name)?;
    if settings.is_empty() {
        let info = detector::REGISTRY
            .iter()
            .find(|info| info.name == name)
            .with_context(|| format!("unknown detector {name:?}"))?;
        let build = info.build;
        return Ok(Box::new(build));
    }
    anyhow::ensure!(
        name == "combined",
        "--set applies to the combined detector only"
    );
    let mut config = detector::CombinedConfig::default();
    for setting in settings {
        let (key, value) = setting
            .split_once('=')
            .with_context(|| format!("--set {setting}: expected name=value"))?;
        config.set(key, value).map_err(anyhow::Error::msg)?;
    }
    Ok(Box::new(move || {
        Box::new(detector::CombinedDetector::new(config.clone()))
    }))
}

fn read_results(
    results: &Path,
    detector: &str,
    corpus: &[nab::CorpusFile],
) -> anyhow::Result<Vec<Vec<f64>>> {
    corpus
        .iter()
        .map(|file| {
            let path = results.join(nab::result_path(detector, &file.name));
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let scores = nab::parse_result_scores(&path.display().to_string(), &text)?;
            anyhow::ensure!(
                scores.len() == file.data.values.len(),
                "{}: {} scores for {} rows",
                path.display(),
                scores.len(),
                file.data.values.len()
            );
            Ok(scores)
        })
        .collect()
}

/// The `| detector | standard | low FP | low FN |` rows of ANCHORS.md.
fn anchor_rows(markdown: &str) -> Vec<(String, Vec<f64>)> {
    markdown
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let figures: Vec<f64> = cells
                .get(1..)?
                .iter()
                .map(|cell| cell.parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()?;
            (figures.len() == 3).then(|| (cells[0].to_owned(), figures))
        })
        .collect()
}
