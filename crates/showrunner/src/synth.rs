//! `showrunner synth`: write a deterministic synthetic platform to a folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use showrunner_model::Timestamp;
use showrunner_synth::{SynthConfig, SynthOutput};

use crate::exit::Outcome;
use crate::import::thousands;
use crate::progress::{cancel_flag, counter_bar};

#[derive(Debug, Clone, clap::Args)]
pub struct SynthParams {
    /// About how many events to generate (within ±15%; the exact count is reported).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Random seed: the same seed and sizes give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Members (accounts); scales with --events when omitted.
    #[arg(long)]
    pub members: Option<u32>,
    /// Movies and series (episodes come on top); scales with --events when omitted.
    #[arg(long)]
    pub titles: Option<u32>,
    /// Days of activity.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// First day of activity (UTC), e.g. 2026-09-01.
    #[arg(long, default_value = "2026-09-01")]
    pub start: String,
}

impl SynthParams {
    pub fn config(&self) -> anyhow::Result<SynthConfig> {
        let start = Timestamp::parse(&self.start)
            .with_context(|| format!("--start {:?} is not a date", self.start))?;
        if self.days == 0 {
            anyhow::bail!("--days must be at least 1");
        }
        if self.events == 0 {
            anyhow::bail!("--events must be at least 1");
        }
        Ok(SynthConfig {
            seed: self.seed,
            events: self.events,
            members: self.members,
            titles: self.titles,
            days: self.days,
            start,
            ..SynthConfig::default()
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    #[command(flatten)]
    params: SynthParams,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: SynthArgs) -> anyhow::Result<Outcome> {
    let cancel = cancel_flag();
    let config = args.params.config()?;
    let output = synthesise(&config, &args.out, &cancel)?;
    print!("{}", describe(&output));
    Ok(Outcome::Success)
}

/// Runs the generator with a progress bar; Ctrl-C stops it (the partial files are left for
/// inspection, and a re-run overwrites them).
pub fn synthesise(
    config: &SynthConfig,
    out: &Path,
    cancel: &AtomicBool,
) -> anyhow::Result<SynthOutput> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let bar = counter_bar(config.events, "events");
    let output = showrunner_synth::generate(config, out, &|done| bar.set_position(done), cancel);
    bar.finish_and_clear();
    output.with_context(|| format!("synthesising into {}", out.display()))
}

pub fn describe(output: &SynthOutput) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "synthesised {} events, {} titles (+{} episodes), {} members with {} profiles",
        thousands(output.events),
        thousands(output.titles),
        thousands(output.episodes),
        thousands(output.members),
        thousands(output.profiles)
    );
    for (kind, count) in &output.events_by_kind {
        let _ = writeln!(out, "  {kind:<12}{:>12}", thousands(*count));
    }
    for path in [
        &output.catalog_path,
        &output.members_path,
        &output.events_path,
        &output.truth_path,
    ] {
        let _ = writeln!(out, "  wrote {}", path.display());
    }
    out
}
