//! Past one machine, end to end (issue 8): two `serve` replicas publishing to NATS
//! JetStream, `showrunner consume` storing into one PostgreSQL database, killed with SIGKILL
//! mid-stream and restarted, then a model published while both replicas serve.
//!
//! Checks that every event either replica acknowledged is stored exactly once, and that
//! both replicas answer with the new model within seconds although their poll interval is
//! a minute (they hear the publication through PostgreSQL's LISTEN/NOTIFY).
//!
//! Slow (it starts five processes and trains a model): runs with `SHOWRUNNER_SLOW_TESTS`
//! set, as `.ci/run` does. Needs PostgreSQL (`SHOWRUNNER_TEST_PG_URL`) and NATS
//! (`SHOWRUNNER_TEST_NATS_URL`); skipped with a note when either is missing, failed under
//! `CI=true`.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use showrunner_store::testing::TestDatabase;
use showrunner_store::{EventFilter, PgStore, ServerStore, Store};

mod common;
use common::{run_ok, showrunner};

fn nats_url() -> String {
    std::env::var("SHOWRUNNER_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Whether NATS answers (`None`: skip, outside CI).
fn nats_reachable() -> bool {
    match runtime().block_on(async_nats::connect(nats_url())) {
        Ok(_) => true,
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("NATS at {} is not reachable in CI: {error}", nats_url())
        }
        Err(error) => {
            eprintln!(
                "note: skipping: NATS at {} is not reachable: {error}",
                nats_url()
            );
            false
        }
    }
}

fn delete_stream(stream: &str) {
    runtime().block_on(async {
        if let Ok(client) = async_nats::connect(nats_url()).await {
            let _ = async_nats::jetstream::new(client)
                .delete_stream(stream)
                .await;
        }
    });
}

/// A child process killed when dropped (a failing assertion leaves nothing running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` on a free port and returns it with its address.
fn start_replica(root: &Path, db: &str) -> (Running, String) {
    let mut command = showrunner();
    command
        .args([
            "serve",
            "--config",
            "bus.toml",
            "--db",
            db,
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(root);
    let (child, address) = common::spawn_serve(command);
    (Running(child), address)
}

fn start_consumer(root: &Path, db: &str) -> Running {
    Running(
        showrunner()
            .env("SHOWRUNNER_LOG", "warn")
            .args(["consume", "--config", "bus.toml", "--db", db])
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("consume starts"),
    )
}

/// One HTTP/1.1 request on a fresh connection: status and JSON body.
fn request(
    address: &str,
    key: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("writes");
    stream.write_all(body.as_bytes()).expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let json = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn stored_events(db: &str) -> u64 {
    PgStore::open_read_only(db)
        .and_then(|store| store.counts())
        .map_or(0, |counts| counts.events_total())
}

/// Waits until `ready` holds, or fails after `limit` naming `what`.
fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_replicas_a_killed_consumer_and_a_published_model() {
    if std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_none() {
        eprintln!("note: set SHOWRUNNER_SLOW_TESTS=1 to run the replicas end-to-end test");
        return;
    }
    let Some(database) = TestDatabase::create() else {
        return;
    };
    if !nats_reachable() {
        return;
    }
    let db = database.url().to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let tag = format!(
        "{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos()
    );
    let stream = format!("SR_E2E_{tag}");
    // Replicas poll for models once a minute: only a notification can make them swap within
    // the seconds this test allows. Monitoring and threat passes are not under test here.
    std::fs::write(
        root.join("bus.toml"),
        format!(
            "poll_seconds = 60\n\
             [bus]\nnats_url = \"{}\"\nstream = \"{stream}\"\nsubject = \"sr.e2e.{tag}\"\n\
             durable = \"sr-e2e\"\npublish = true\nack_wait_seconds = 2\nfetch_max = 8\n\
             [monitor]\nenabled = false\n[threats]\nenabled = false\n",
            nats_url()
        ),
    )
    .expect("writes the configuration");
    let cleanup = StreamGuard(stream.clone());

    run_ok(&["synth", "--events", "20000", "--out", "syn"], root);
    run_ok(
        &[
            "import",
            "--db",
            &db,
            "syn/catalog.jsonl",
            "syn/members.jsonl",
        ],
        root,
    );
    let key = run_ok(&["keys", "create", "--db", &db, "--scope", "admin"], root)
        .trim()
        .to_owned();

    // Every event gets an id of ours, so what was acknowledged can be looked up.
    let events = std::fs::read_to_string(root.join("syn/events.jsonl")).expect("events");
    let lines: Vec<(String, String)> = events
        .lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let mut value: serde_json::Value = serde_json::from_str(line).ok()?;
            let id = format!("e2e-{n}");
            value["id"] = serde_json::Value::String(id.clone());
            Some((id, value.to_string()))
        })
        .collect();
    let chunks: Vec<&[(String, String)]> = lines.chunks(100).collect();
    let half = chunks.len() / 2;

    let (_first, first_address) = start_replica(root, &db);
    let (_second, second_address) = start_replica(root, &db);
    let replicas = [first_address.as_str(), second_address.as_str()];
    let mut consumer = start_consumer(root, &db);

    let mut acknowledged = HashSet::new();
    let send = |chunks: &[&[(String, String)]], acknowledged: &mut HashSet<String>| {
        for (n, chunk) in chunks.iter().enumerate() {
            let body: Vec<&str> = chunk.iter().map(|(_, line)| line.as_str()).collect();
            let address = replicas[n % 2];
            let (status, answer) = request(address, &key, "POST", "/v1/events", &body.join("\n"));
            assert_eq!(status, 202, "{address}: {answer}");
            assert_eq!(answer["queued"], chunk.len() as u64, "{answer}");
            acknowledged.extend(chunk.iter().map(|(id, _)| id.clone()));
        }
    };
    send(&chunks[..half], &mut acknowledged);

    // SIGKILL the consumer once it has stored some, but not all, of the first half.
    wait_for(
        Duration::from_secs(120),
        "the consumer's first writes",
        || stored_events(&db) > 0,
    );
    consumer.0.kill().expect("kills the consumer");
    consumer.0.wait().expect("reaps the consumer");
    let at_kill = stored_events(&db);
    eprintln!(
        "consumer killed with {at_kill} of {} events stored",
        acknowledged.len()
    );

    // Events keep coming while no consumer runs; a new one picks up everything left,
    // including what the killed one had written but not acknowledged.
    send(&chunks[half..], &mut acknowledged);
    let _restarted = start_consumer(root, &db);
    let total = acknowledged.len() as u64;
    wait_for(Duration::from_secs(300), "every acknowledged event", || {
        stored_events(&db) >= total
    });
    // A moment more: nothing beyond the acknowledged events may arrive.
    std::thread::sleep(Duration::from_secs(3));
    let store = PgStore::open_read_only(&db).expect("opens");
    assert_eq!(store.counts().expect("counts").events_total(), total);
    let mut stored = HashSet::new();
    for kind in showrunner_model::EventKind::ALL {
        for event in store.events(&EventFilter::all(kind)).expect("reads events") {
            assert!(
                stored.insert(event.id.clone()),
                "event {} is stored twice",
                event.id
            );
        }
    }
    assert_eq!(
        stored, acknowledged,
        "the stored events are not the acknowledged ones"
    );

    // A model published now is served by both replicas within seconds.
    let member = "m1";
    for address in replicas {
        let (status, _) = request(
            address,
            &key,
            "GET",
            &format!("/v1/members/{member}/home"),
            "",
        );
        assert!(status == 200 || status == 503, "{address}: {status}");
    }
    run_ok(&["train", "--db", &db, "--publish", "--out", "model"], root);
    let published = store
        .latest_model()
        .expect("reads")
        .expect("a model is live")
        .version;
    let started = Instant::now();
    for address in replicas {
        wait_for(
            Duration::from_secs(20),
            &format!("{address} to serve model {published}"),
            || {
                let (status, page) = request(
                    address,
                    &key,
                    "GET",
                    &format!("/v1/members/{member}/home"),
                    "",
                );
                status == 200 && page["model_version"] == published
            },
        );
    }
    eprintln!(
        "both replicas serve model {published} after {:?}",
        started.elapsed()
    );
    drop(cleanup);
}

/// Deletes the test's stream however the test ends.
struct StreamGuard(String);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        delete_stream(&self.0);
    }
}
