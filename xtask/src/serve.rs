//! `cargo xtask bench serve`: the HTTP service under load, with the load generator on the
//! same machine. A synthetic platform is imported (most of its events), an iALS model is
//! trained and published, `showrunner serve` (release) is started, and keep-alive HTTP/1.1
//! clients (plain threads, one connection each) measure requests/s, p50 and p99 of
//! `GET /v1/members/{id}/recommendations?n=20` and `GET /v1/members/{id}/home`, then
//! events/s of `POST /v1/events` in batches of 1,000 (the events held back from the import).
//! The in-process cost of one top-20 query is printed beside the HTTP figures, and the
//! server's peak memory (VmHWM) at the end.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Events to synthesise (the platform's size scales with it unless given below).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    #[arg(long)]
    members: Option<u64>,
    #[arg(long)]
    titles: Option<u64>,
    /// iALS factors.
    #[arg(long, default_value_t = 64)]
    factors: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds of load per endpoint.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The endpoints to load, of `recommendations`, `home` and `ingest`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "recommendations,home,ingest"
    )]
    endpoints: Vec<Endpoint>,
    /// Reuse the platform, store and key the previous run prepared under `target/bench/serve`
    /// (its store as it was before any load) instead of synthesising, importing and training
    /// again: for comparing server builds on the same data. The sizes given must match.
    #[arg(long)]
    reuse: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Endpoint {
    Recommendations,
    Home,
    Ingest,
}

pub(crate) fn run_ok(binary: &Path, args: &[&str], dir: &Path) -> anyhow::Result<String> {
    let output = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .env_remove("SHOWRUNNER_DB")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running showrunner {args:?}"))?;
    if !output.status.success() {
        bail!(
            "showrunner {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// One keep-alive connection speaking just enough HTTP/1.1.
pub(crate) struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The last answer's `Age` header, if it had one.
    pub age: Option<u64>,
}

impl Connection {
    pub(crate) fn open(address: &str) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            age: None,
        })
    }

    /// Sends a request and reads the answer; returns the status.
    pub(crate) fn request(&mut self, head: &str, body: &[u8]) -> anyhow::Result<u16> {
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status line")?;
        let mut length = 0usize;
        self.age = None;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("age")
            {
                self.age = value.trim().parse().ok();
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        Ok(status)
    }
}

/// Makes the `k`-th request (head and body), or `None` when there are no more.
type MakeRequest = Arc<dyn Fn(usize) -> Option<(String, Vec<u8>)> + Send + Sync>;

struct LoadResult {
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
}

pub(crate) fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Runs `connections` clients for `seconds` or until `make` has no more requests; the
/// `k`-th request overall is `make(k)`.
fn load(
    address: &str,
    connections: usize,
    seconds: u64,
    make: MakeRequest,
) -> anyhow::Result<LoadResult> {
    let counter = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let (address, make, counter) =
                (address.to_owned(), Arc::clone(&make), Arc::clone(&counter));
            std::thread::spawn(move || -> anyhow::Result<(Vec<f64>, usize)> {
                let mut connection = Connection::open(&address)?;
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < deadline {
                    let Some((head, body)) = make(counter.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let sent = Instant::now();
                    match connection.request(&head, &body) {
                        Ok(200) => latencies.push(sent.elapsed().as_secs_f64() * 1000.0),
                        Ok(_) => errors += 1,
                        Err(_) => {
                            errors += 1;
                            connection = Connection::open(&address)?;
                        }
                    }
                }
                Ok((latencies, errors))
            })
        })
        .collect();
    let mut latencies_ms = Vec::new();
    let mut errors = 0;
    for handle in handles {
        let (l, e) = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
        latencies_ms.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_ms.sort_by(f64::total_cmp);
    Ok(LoadResult {
        requests: latencies_ms.len(),
        errors,
        seconds,
        latencies_ms,
    })
}

fn report(name: &str, result: &LoadResult, per_request: f64, unit: &str) {
    println!(
        "{name:<34} {:>10.0} {unit}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} ok, {} errors, {:.1} s)",
        result.requests as f64 * per_request / result.seconds,
        percentile(&result.latencies_ms, 0.5),
        percentile(&result.latencies_ms, 0.99),
        result.requests,
        result.errors,
        result.seconds
    );
}

pub(crate) fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Starts `showrunner serve` on `db` (relative to `dir`) on a free port with `env` set;
/// returns the process and its `host:port`.
pub(crate) fn start_server(
    binary: &Path,
    dir: &Path,
    db: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(std::process::Child, String)> {
    let mut server = Command::new(binary)
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env("SHOWRUNNER_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting showrunner serve")?;
    let mut stderr = BufReader::new(server.stderr.take().context("stderr")?);
    let mut address = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line)? > 0 {
        if let Some(at) = line.find("http://") {
            address = line[at + 7..].trim().to_owned();
            break;
        }
        line.clear();
    }
    if address.is_empty() {
        let _ = server.kill();
        let _ = server.wait();
        bail!("showrunner serve printed no address");
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Ok((server, address))
}

/// Synthesises the platform under `dir`, imports half its events (the other half is posted
/// by the ingest load), trains and publishes iALS, and creates an admin key, which it returns.
fn prepare(binary: &Path, dir: &Path, args: &ServeArgs) -> anyhow::Result<String> {
    let events = args.events.to_string();
    let mut synth = vec!["synth", "--events", events.as_str(), "--out", "syn"];
    let members = args.members.map(|m| m.to_string());
    let titles = args.titles.map(|t| t.to_string());
    if let Some(m) = &members {
        synth.extend(["--members", m.as_str()]);
    }
    if let Some(t) = &titles {
        synth.extend(["--titles", t.as_str()]);
    }
    eprintln!("synthesising {} events ...", args.events);
    run_ok(binary, &synth, dir)?;
    // Half the events are imported and trained on; the other half are posted over HTTP.
    let all = std::fs::read_to_string(dir.join("syn/events.jsonl"))?;
    let lines: Vec<&str> = all.lines().collect();
    let cut = lines.len() / 2;
    std::fs::write(dir.join("train.jsonl"), lines[..cut].join("\n"))?;
    eprintln!(
        "importing, training iALS ({} factors) and publishing ...",
        args.factors
    );
    // Exit code 1 means some rows were quarantined, which synthetic data has on purpose.
    let import = Command::new(binary)
        .args([
            "import",
            "--db",
            "db.sqlite",
            "syn/catalog.jsonl",
            "syn/members.jsonl",
            "train.jsonl",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running showrunner import")?;
    if !matches!(import.status.code(), Some(0 | 1)) {
        bail!(
            "showrunner import failed: {}",
            String::from_utf8_lossy(&import.stderr)
        );
    }
    let factors = args.factors.to_string();
    run_ok(
        binary,
        &[
            "train",
            "--db",
            "db.sqlite",
            "--out",
            "model",
            "--algo",
            "ials",
            "--factors",
            &factors,
            "--publish",
        ],
        dir,
    )?;
    Ok(run_ok(
        binary,
        &["keys", "create", "--db", "db.sqlite", "--scope", "admin"],
        dir,
    )?
    .trim()
    .to_owned())
}

/// Copies the closed store `db.sqlite` (with its WAL, if one was left) from `from` to `to`.
fn copy_store(from: &Path, to: &Path) -> anyhow::Result<()> {
    for name in ["db.sqlite", "db.sqlite-wal"] {
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name))
                .with_context(|| format!("copying {}", from.join(name).display()))?;
        }
    }
    Ok(())
}

/// The in-process cost of one top-20, for the ratio: `showrunner recommend` over every
/// member (parallel over all cores), as milliseconds of CPU per query.
fn in_process_top20_ms(binary: &Path, dir: &Path, member_ids: &[String]) -> anyhow::Result<f64> {
    std::fs::write(dir.join("users.txt"), member_ids.join("\n"))?;
    let output = Command::new(binary)
        .args([
            "recommend",
            "--model",
            "model",
            "--users",
            "users.txt",
            "--k",
            "20",
            "--out",
            "recs.csv",
            "--timings",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running showrunner recommend")?;
    let timings: serde_json::Value = String::from_utf8_lossy(&output.stderr)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .context("showrunner recommend printed no timings")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    Ok(
        timings["recommend_all_s"].as_f64().unwrap_or(f64::NAN) * 1000.0 * cores
            / timings["users"].as_f64().unwrap_or(f64::NAN),
    )
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let binary = crate::bench::build_release()?;
    let dir = crate::bench::workspace_root().join("target/bench/serve");
    if !args.reuse {
        let _ = std::fs::remove_dir_all(&dir);
    }
    std::fs::create_dir_all(&dir)?;
    let prepared = dir.join("prepared");
    let key = if args.reuse && prepared.join("key").exists() {
        eprintln!(
            "reusing the platform, store and key prepared under {}",
            dir.display()
        );
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("db.sqlite{suffix}")));
        }
        copy_store(&prepared, &dir)?;
        std::fs::read_to_string(prepared.join("key"))?
            .trim()
            .to_owned()
    } else {
        let key = prepare(&binary, &dir, &args)?;
        std::fs::create_dir_all(&prepared)?;
        copy_store(&dir, &prepared)?;
        std::fs::write(prepared.join("key"), &key)?;
        key
    };
    let all = std::fs::read_to_string(dir.join("syn/events.jsonl"))?;
    let lines: Vec<&str> = all.lines().collect();
    let held_back: Vec<String> = lines[lines.len() / 2..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    drop(lines);
    let member_ids: Vec<String> = std::fs::read_to_string(dir.join("syn/members.jsonl"))?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect();
    if member_ids.is_empty() {
        bail!("no members synthesised");
    }

    let (mut server, address) = start_server(
        &binary,
        &dir,
        "db.sqlite",
        // One key drives the whole load: measure the server, not its per-key rate limit.
        &[("SHOWRUNNER_SECURITY_KEY_RATE_PER_SECOND", "0")],
    )?;
    let pid = server.id();
    let result = (|| -> anyhow::Result<()> {
        println!(
            "serve: {} members, {} connections, {} s per endpoint, load generator on the same machine",
            member_ids.len(),
            args.connections,
            args.seconds
        );
        let ids = Arc::new(member_ids);
        let get = |path: &'static str| {
            let (ids, key, address) = (Arc::clone(&ids), key.clone(), address.clone());
            Arc::new(move |k: usize| {
                let id = &ids[(k * 7919) % ids.len()];
                Some((
                    format!(
                        "GET /v1/members/{id}/{path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\r\n"
                    ),
                    Vec::new(),
                ))
            }) as MakeRequest
        };
        if args.endpoints.contains(&Endpoint::Recommendations) {
            let in_process_ms = in_process_top20_ms(&binary, &dir, &ids)?;
            let recs = load(
                &address,
                args.connections,
                args.seconds,
                get("recommendations?n=20"),
            )?;
            report("GET recommendations?n=20", &recs, 1.0, "req");
            println!(
                "{:<34} in-process top-20: {in_process_ms:.3} ms of CPU a query; HTTP p50 / in-process = {:.1}x",
                "",
                percentile(&recs.latencies_ms, 0.5) / in_process_ms
            );
        }
        if args.endpoints.contains(&Endpoint::Home) {
            let home = load(&address, args.connections, args.seconds, get("home"))?;
            report("GET home", &home, 1.0, "req");
        }
        if args.endpoints.contains(&Endpoint::Ingest) {
            let batches: Vec<Vec<u8>> = held_back
                .chunks(1_000)
                .map(|c| c.join("\n").into_bytes())
                .collect();
            let batch_count = batches.len();
            let batches = Arc::new(batches);
            let (key2, address2) = (key.clone(), address.clone());
            let post = Arc::new(move |k: usize| {
                // Each held-back batch once: every event is new to the store.
                let body = batches.get(k)?.clone();
                Some((
                    format!(
                        "POST /v1/events HTTP/1.1\r\nHost: {address2}\r\nAuthorization: Bearer {key2}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    ),
                    body,
                ))
            }) as MakeRequest;
            let ingest = load(&address, args.connections, args.seconds, post)?;
            report(
                "POST /v1/events (1,000 a batch)",
                &ingest,
                1_000.0,
                "events",
            );
            println!(
                "{:<34} ({batch_count} batches, each posted once: every event new to the store)",
                ""
            );
        }
        if let Some(mb) = peak_rss_mb(pid) {
            println!("server peak memory (VmHWM): {mb:.0} MB");
        }
        Ok(())
    })();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = server.wait();
    result
}
