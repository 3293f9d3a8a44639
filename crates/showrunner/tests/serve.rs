//! End-to-end test of `showrunner serve` on a real port (slow suite): clients post batches
//! of events while the server is killed with SIGKILL; every event the server acknowledged
//! must be in the store afterwards.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use showrunner_model::EventKind;
use showrunner_store::{EventFilter, SqliteStore, Store};

mod common;
use common::{run_ok, showrunner};

/// One HTTP/1.1 POST on a fresh connection; `None` when the server is gone.
fn post(address: &str, key: &str, body: &str) -> Option<(u16, serde_json::Value)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let (_, json) = answer.split_once("\r\n\r\n")?;
    Some((status, serde_json::from_str(json).ok()?))
}

#[test]
fn sigkill_mid_ingest_keeps_every_acknowledged_event() {
    if std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_none() {
        eprintln!("note: set SHOWRUNNER_SLOW_TESTS=1 to run the server kill test");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    run_ok(&["synth", "--events", "30000", "--out", "syn"], root);
    run_ok(
        &[
            "import",
            "--db",
            "db.sqlite",
            "syn/catalog.jsonl",
            "syn/members.jsonl",
        ],
        root,
    );
    let key = run_ok(
        &["keys", "create", "--db", "db.sqlite", "--scope", "ingest"],
        root,
    )
    .trim()
    .to_owned();

    // Every event gets an id of ours, so acknowledged rows can be looked up afterwards.
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

    let mut command = showrunner();
    command
        .args(["serve", "--db", "db.sqlite", "--listen", "127.0.0.1:0"])
        .current_dir(root)
        .env("SHOWRUNNER_LOG", "warn");
    let (mut server, address) = common::spawn_serve(command);

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let batches_acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let chunks: Vec<Vec<(String, String)>> = lines.chunks(250).map(<[_]>::to_vec).collect();
    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (chunks, next, acknowledged, batches_acked, stop, address, key) = (
                chunks.clone(),
                Arc::clone(&next),
                Arc::clone(&acknowledged),
                Arc::clone(&batches_acked),
                Arc::clone(&stop),
                address.clone(),
                key.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Some(chunk) = chunks.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        return;
                    };
                    let body: Vec<&str> = chunk.iter().map(|(_, l)| l.as_str()).collect();
                    let Some((200, answer)) = post(&address, &key, &body.join("\n")) else {
                        return;
                    };
                    let rejected: HashSet<u64> = answer["rejections"]
                        .as_array()
                        .map(|r| r.iter().filter_map(|x| x["index"].as_u64()).collect())
                        .unwrap_or_default();
                    let mut acked = acknowledged.lock().expect("lock");
                    for (index, (id, _)) in chunk.iter().enumerate() {
                        if !rejected.contains(&(index as u64)) {
                            acked.push(id.clone());
                        }
                    }
                    batches_acked.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let started = Instant::now();
    while batches_acked.load(Ordering::Relaxed) < 20 && started.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().expect("SIGKILL");
    server.wait().expect("reaped");
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client");
    }

    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() >= 20 * 200,
        "too few acknowledged: {}",
        acknowledged.len()
    );
    let store = SqliteStore::open_read_only(&root.join("db.sqlite")).expect("opens");
    let mut stored = HashSet::new();
    for kind in EventKind::ALL {
        for event in store.events(&EventFilter::all(kind)).expect("events") {
            stored.insert(event.id);
        }
    }
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert!(
        stored.len() < lines.len(),
        "the kill came after everything was sent"
    );
}
