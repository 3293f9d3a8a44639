//! `showrunner consume`: reads events from the NATS JetStream stream that `serve` replicas
//! publish to (`[bus] publish = true`), cleans them like any ingest and stores them,
//! acknowledging each message only once its events are durable. Any number of consumers
//! share the stream through one durable consumer name. Ctrl-C or SIGTERM finishes the
//! messages in hand and stops; anything not yet acknowledged is redelivered.

use std::path::PathBuf;

use anyhow::Context;
use showrunner_server::Config;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// The database (created if missing). Overrides the file and SHOWRUNNER_DB.
    #[arg(long)]
    db: Option<PathBuf>,
    /// The NATS server. Overrides the file and SHOWRUNNER_NATS_URL.
    #[arg(long)]
    nats: Option<String>,
    /// The JetStream stream. Overrides the file and SHOWRUNNER_BUS_STREAM.
    #[arg(long)]
    stream: Option<String>,
    /// The durable consumer name shared by every consumer of the stream.
    #[arg(long)]
    durable: Option<String>,
    /// A TOML configuration file (the same as `serve`'s; see docs/server.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the totals as JSON on stdout when stopping.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ConsumeArgs) -> anyhow::Result<Outcome> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(db) = args.db {
        config.db = db;
    }
    if let Some(url) = args.nats {
        config.bus.nats_url = url;
    }
    if let Some(stream) = args.stream {
        config.bus.stream = stream;
    }
    if let Some(durable) = args.durable {
        config.bus.durable = durable;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let bar = crate::progress::counter_bar(0, "messages");
    let summary = runtime.block_on(async {
        eprintln!(
            "consuming {} from {} as {} into {}",
            config.bus.stream,
            config.bus.nats_url,
            config.bus.durable,
            crate::import::shown(&config.db)
        );
        showrunner_server::bus::run_consumer(&config, crate::serve::shutdown_signal(), |summary| {
            bar.set_position(summary.messages)
        })
        .await
    })?;
    bar.finish_and_clear();
    eprintln!(
        "stopped: {} messages, {} events accepted, {} duplicate, {} rejected, {} left for redelivery",
        summary.messages, summary.accepted, summary.duplicate, summary.rejected, summary.failed
    );
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(Outcome::Success)
}
