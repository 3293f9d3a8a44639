//! `showrunner detect nab`: runs an anomaly detector over a NAB-layout corpus and writes
//! NAB-format result files (`timestamp,value,anomaly_score,label`) under
//! `<out>/<detector>/<category>/<detector>_<file>.csv`, one per data file, so NAB's own
//! tools (or `cargo xtask bench nab --results`) can score them.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;
use showrunner_monitor::{detector, nab};

use crate::exit::Outcome;
use crate::progress::{cancel_flag, counter_bar};

#[derive(Debug, clap::Args)]
pub struct DetectArgs {
    #[command(subcommand)]
    pub which: DetectCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DetectCommand {
    /// Every data file of a NAB corpus (the files named in labels/combined_windows.json).
    Nab(NabArgs),
}

#[derive(Debug, clap::Args)]
pub struct NabArgs {
    /// The corpus folder, holding data/<category>/*.csv and labels/combined_windows.json.
    #[arg(long, required_unless_present = "list")]
    pub data: Option<PathBuf>,
    /// Where to write the result files.
    #[arg(long, required_unless_present = "list")]
    pub out: Option<PathBuf>,
    /// Which detector to run.
    #[arg(long, default_value = "combined")]
    pub detector: String,
    /// Print the registered detectors and exit.
    #[arg(long)]
    pub list: bool,
}

pub fn run(args: DetectArgs) -> anyhow::Result<Outcome> {
    match args.which {
        DetectCommand::Nab(args) => nab_corpus(&args),
    }
}

fn nab_corpus(args: &NabArgs) -> anyhow::Result<Outcome> {
    let (Some(data), Some(out), false) = (&args.data, &args.out, args.list) else {
        for info in detector::REGISTRY {
            println!("{:<12} {}", info.name, info.description);
        }
        return Ok(Outcome::Success);
    };
    detector::build(&args.detector)?;
    let windows_path = data.join("labels").join("combined_windows.json");
    let windows_text = std::fs::read_to_string(&windows_path)
        .with_context(|| format!("reading {}", windows_path.display()))?;
    let corpus = nab::load_corpus(&windows_text, |name| {
        std::fs::read_to_string(data.join("data").join(name))
    })
    .with_context(|| format!("loading the NAB corpus under {}", data.display()))?;

    let cancel = cancel_flag();
    let bar = counter_bar(corpus.len() as u64, "files");
    let mut points = 0;
    for file in &corpus {
        if cancel.load(Ordering::SeqCst) {
            bar.finish_and_clear();
            eprintln!("interrupted: the result files written so far are complete");
            return Ok(Outcome::Interrupted);
        }
        let mut detector = detector::build(&args.detector)?;
        let scores = detector::run(detector.as_mut(), &file.data.timestamps, &file.data.values);
        let path = out.join(nab::result_path(&args.detector, &file.name));
        write_file(&path, &nab::result_csv(&file.data, &scores, &file.windows))?;
        points += scores.len();
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "{}: {} files, {} points scored, results in {}",
        args.detector,
        corpus.len(),
        crate::import::thousands(points as u64),
        out.join(&args.detector).display()
    );
    Ok(Outcome::Success)
}

/// Writes through a temporary name so an interrupted run never leaves half a file.
fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let partial = path.with_extension("csv.partial");
    std::fs::write(&partial, text).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))
}
