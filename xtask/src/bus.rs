//! `cargo xtask bench bus`: ingest through NATS JetStream. The synthetic events are
//! published once to a fresh stream (messages of `--batch` NDJSON rows, as `serve` publishes
//! a request's rows), then `showrunner consume` (release build) drains the stream into a
//! fresh store with 1 and with 2 consumers sharing one durable consumer, into PostgreSQL
//! and into SQLite, in the same run. A figure is events stored per second from the
//! consumers' start until JetStream reports every message acknowledged (a message is
//! acknowledged only once its events are durable), and the consumers' own totals must add
//! up to every event.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream;

use crate::bench::{build_release, median, workspace_root};
use crate::store::Database;

#[derive(Debug, clap::Args)]
pub struct BusArgs {
    /// Events to synthesise and publish (once).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Rows per message.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Runs per figure; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Consumer counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    consumers: Vec<usize>,
    /// Stores to measure: `postgres`, `sqlite` or both.
    #[arg(long, value_delimiter = ',', default_value = "postgres,sqlite")]
    stores: Vec<String>,
    /// The PostgreSQL server (a database is created per run and dropped after).
    #[arg(
        long,
        env = "SHOWRUNNER_TEST_PG_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pg: String,
    /// The NATS server (a stream is created for the run and deleted after).
    #[arg(
        long,
        env = "SHOWRUNNER_TEST_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    nats: String,
}

/// Consumer processes, stopped (SIGKILL: the figure is already taken) when dropped.
struct Consumers(Vec<Child>);

impl Drop for Consumers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Publishes `events.jsonl` as messages of `batch` rows; returns the message count.
async fn publish(
    context: &jetstream::Context,
    subject: &str,
    events: &Path,
    batch: usize,
) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(events).with_context(|| events.display().to_string())?;
    let lines: Vec<&str> = text.lines().collect();
    let mut acks = Vec::new();
    let mut messages = 0u64;
    for chunk in lines.chunks(batch.max(1)) {
        let mut payload = chunk.join("\n");
        payload.push('\n');
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("bench-{messages}").as_str());
        acks.push(
            context
                .publish_with_headers(subject.to_owned(), headers, payload.into())
                .await?,
        );
        messages += 1;
        if acks.len() >= 256 {
            for ack in acks.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in acks {
        ack.await?;
    }
    Ok(messages)
}

/// Waits until durable consumer `durable` has every message of the stream acknowledged.
async fn drained(
    context: &jetstream::Context,
    stream: &str,
    durable: &str,
    messages: u64,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Ok(mut consumer) = context
            .get_consumer_from_stream::<jetstream::consumer::pull::Config, _, _>(durable, stream)
            .await
        {
            let info = consumer.info().await?;
            if info.ack_floor.stream_sequence >= messages
                && info.num_pending == 0
                && info.num_ack_pending == 0
            {
                return Ok(());
            }
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("{durable} did not drain {stream} within 30 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What every figure shares: the binary, its configuration, the stream and its size.
struct Setup<'a> {
    binary: &'a Path,
    config: &'a Path,
    stream: &'a str,
    messages: u64,
    nats: &'a str,
}

/// One figure: `consumers` processes draining the stream into `db`; seconds to drain and
/// the events the consumers stored.
fn drain(
    setup: &Setup<'_>,
    db: &str,
    consumers: usize,
    durable: &str,
) -> anyhow::Result<(f64, u64)> {
    let Setup {
        binary,
        config,
        stream,
        messages,
        nats,
    } = *setup;
    let clock = Instant::now();
    let mut running = Consumers(Vec::new());
    for _ in 0..consumers {
        running.0.push(
            Command::new(binary)
                .args(["consume", "--json", "--durable", durable, "--db", db])
                .arg("--config")
                .arg(config)
                .env("SHOWRUNNER_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .context("starting showrunner consume")?,
        );
    }
    runtime()?.block_on(async {
        let context = jetstream::new(async_nats::connect(nats).await?);
        drained(&context, stream, durable, messages).await
    })?;
    let seconds = clock.elapsed().as_secs_f64();
    // SIGTERM: each consumer stops cleanly and prints its totals.
    let mut stored = 0;
    for child in &mut running.0 {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    for child in std::mem::take(&mut running.0) {
        let output = child.wait_with_output()?;
        let totals: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("reading a consumer's JSON totals")?;
        stored += totals["accepted"].as_u64().unwrap_or(0);
    }
    Ok((seconds, stored))
}

pub fn run(args: BusArgs) -> anyhow::Result<()> {
    let runs = args.runs.max(1);
    let binary = build_release()?;
    let scratch = workspace_root().join("target").join("bench").join("bus");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let data = scratch.join("synth");
    crate::bench::synth(&binary, args.events, &data)?;
    let tag = std::process::id();
    let stream = format!("SR_BENCH_{tag}");
    let subject = format!("sr.bench.{tag}");
    let config = scratch.join("bus.toml");
    std::fs::write(
        &config,
        format!(
            "[bus]\nnats_url = \"{}\"\nstream = \"{stream}\"\nsubject = \"{subject}\"\n",
            args.nats
        ),
    )?;
    let messages = runtime()?.block_on(async {
        let context = jetstream::new(async_nats::connect(&args.nats).await?);
        context
            .create_stream(jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![subject.clone()],
                ..Default::default()
            })
            .await?;
        publish(&context, &subject, &data.join("events.jsonl"), args.batch).await
    })?;
    let result = measure(&args, &binary, &config, &scratch, &stream, messages, runs);
    let _ = runtime().map(|rt| {
        rt.block_on(async {
            if let Ok(client) = async_nats::connect(&args.nats).await {
                let _ = jetstream::new(client).delete_stream(&stream).await;
            }
        })
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn measure(
    args: &BusArgs,
    binary: &Path,
    config: &Path,
    scratch: &Path,
    stream: &str,
    messages: u64,
    runs: usize,
) -> anyhow::Result<()> {
    let data = scratch.join("synth");
    let people = [data.join("catalog.jsonl"), data.join("members.jsonl")];
    println!(
        "machine: {} cores; {} synthetic events in {messages} messages of {} rows; runs per \
         figure: {runs} (median)",
        std::thread::available_parallelism().map_or(0, usize::from),
        args.events,
        args.batch
    );
    let mut table = Vec::new();
    let mut expected = None;
    let mut backends = Vec::new();
    for store in &args.stores {
        match store.as_str() {
            "postgres" | "postgresql" | "pg" => backends.push("PostgreSQL"),
            "sqlite" => backends.push("SQLite"),
            other => bail!("--stores: {other:?} is not a store (postgres or sqlite)"),
        }
    }
    for backend in backends {
        for &consumers in &args.consumers {
            let consumers = consumers.max(1);
            let mut seconds = Vec::new();
            for run in 0..runs {
                let durable = format!("bench-{}-{consumers}-{run}", backend.to_lowercase());
                let (db, _database) = if backend == "PostgreSQL" {
                    let database = Database::create(
                        &args.pg,
                        &format!("showrunner_bench_bus_{consumers}_{run}"),
                    )?;
                    (database.url(), Some(database))
                } else {
                    let file = scratch.join(format!("bus-{consumers}-{run}.db"));
                    (file.display().to_string(), None)
                };
                let status = Command::new(binary)
                    .args(["import", "--db", &db])
                    .args(&people)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()?;
                if status.code() == Some(2) {
                    bail!("importing the catalog and members into {backend} failed");
                }
                let setup = Setup {
                    binary,
                    config,
                    stream,
                    messages,
                    nats: &args.nats,
                };
                let (taken, stored) = drain(&setup, &db, consumers, &durable)?;
                match expected {
                    None => expected = Some(stored),
                    Some(events) if events != stored => {
                        bail!(
                            "{backend} with {consumers} consumers stored {stored} events, not {events}"
                        )
                    }
                    Some(_) => {}
                }
                eprintln!("{backend}, {consumers} consumer(s), run {run}: {taken:.2} s");
                seconds.push(taken);
            }
            table.push((backend, consumers, median(&mut seconds)));
        }
    }
    let events = expected.unwrap_or(0);
    println!();
    println!("| store | consumers | events stored | seconds | events/s |");
    println!("|---|---|---|---|---|");
    for (backend, consumers, seconds) in table {
        println!(
            "| {backend} | {consumers} | {events} | {seconds:.2} | {:.0} |",
            events as f64 / seconds
        );
    }
    Ok(())
}
