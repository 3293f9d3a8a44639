//! Project automation: `cargo xtask bench ingest|store|recs|analytics|nab|detect|security|serve`.
//! Benchmarks are not tests: they print figures (medians of several runs, and ratios against a
//! peer measured in the same run) for
//! `docs/benchmarks.md`.

mod bench;
mod bus;
mod detect;
mod nab;
mod recs;
mod security;
mod serve;
mod store;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a benchmark.
    Bench {
        #[command(subcommand)]
        which: bench::Bench,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Bench { which } => bench::run(which),
    }
}
