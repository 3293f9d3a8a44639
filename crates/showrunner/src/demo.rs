//! `showrunner demo`: the whole product on a fresh machine in one command. It synthesises a
//! platform, imports it into a fresh embedded database with full cleaning, and prints what it
//! did. Later stages (training, analytics, detection, serving) join this same command.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use showrunner_store::Store;

use crate::exit::Outcome;
use crate::import::{format_report, import_into, open_store, thousands};
use crate::progress::cancel_flag;
use crate::synth::{SynthParams, describe, synthesise};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    params: SynthParams,
    /// Working folder for the synthetic files and the database (replaced if it holds an
    /// earlier demo).
    #[arg(long, default_value = "showrunner-demo")]
    dir: PathBuf,
}

pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let cancel = cancel_flag();
    let clock = Instant::now();
    let config = args.params.config()?;
    let data_dir = args.dir.join("data");
    let db_path = args.dir.join("showrunner.db");
    // A demo always starts from a fresh database so its figures are reproducible.
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db_path.display()));
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing old {}", path.display()))?;
        }
    }

    println!(
        "== 1/2 synthesising a platform (seed {}) into {}",
        config.seed,
        data_dir.display()
    );
    let synth_clock = Instant::now();
    let output = synthesise(&config, &data_dir, &cancel)?;
    print!("{}", describe(&output));
    println!(
        "  in {:.1} s ({} events/s)",
        synth_clock.elapsed().as_secs_f64(),
        thousands((output.events as f64 / synth_clock.elapsed().as_secs_f64().max(1e-9)) as u64)
    );

    println!(
        "== 2/2 importing with full cleaning into {}",
        db_path.display()
    );
    let mut store = open_store(&db_path)?;
    let inputs = showrunner_ingest::plan_inputs(
        &[
            output.catalog_path.clone(),
            output.members_path.clone(),
            output.events_path.clone(),
        ],
        None,
    )?;
    let report = import_into(&mut store, &inputs, &cancel)?;
    print!("{}", format_report(&report));
    if report.summary.interrupted {
        return Ok(Outcome::Interrupted);
    }

    let counts = store.counts()?;
    println!("== the store now holds");
    println!("{}", crate::import::format_counts(&counts));
    println!(
        "demo finished in {:.1} s; database: {}; ground truth: {}",
        clock.elapsed().as_secs_f64(),
        db_path.display(),
        output.truth_path.display()
    );
    Ok(Outcome::Success)
}
