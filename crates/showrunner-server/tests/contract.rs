//! Contract tests against a live server on a real port (slow suite,
//! `SHOWRUNNER_SLOW_TESTS=1`): `promtool check metrics` accepts `/metrics`, and schemathesis,
//! driven by `/openapi.json` with an admin key, finds no server error and no response that
//! breaks its schema. Each tool is looked up on the PATH; without it the test says so and
//! passes, unless `CI` is set (`.ci/run` installs both).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use common::Fixture;
use tokio::net::TcpListener;

fn slow() -> bool {
    if std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_none() {
        eprintln!("note: set SHOWRUNNER_SLOW_TESTS=1 to run the contract tests");
        return false;
    }
    true
}

/// Whether `tool` runs; without it, a note (or a failure on CI, which installs it).
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed, and CI is set (.ci/run installs it)"
        );
        eprintln!("note: {tool} is not on the PATH; skipping its contract test");
    }
    found
}

/// A blocking HTTP/1.1 GET with a Bearer key; the body.
fn fetch(address: SocketAddr, path: &str, key: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connects");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // The metrics body is small enough to come in one chunk, or with a content length.
    if answer
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut text = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if size == 0 {
                break;
            }
            text.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        text
    } else {
        body.to_owned()
    }
}

/// Runs `check` against a served fixture (with a model) on a free port.
async fn with_server(check: impl FnOnce(SocketAddr, String) + Send + 'static) {
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(showrunner_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let key = fixture.admin_key.clone();
    let outcome = tokio::task::spawn_blocking(move || check(address, key)).await;
    let _ = stop.send(());
    server.await.expect("joins").expect("serves");
    drop(fixture);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_metrics() {
    if !slow() || !have("promtool") {
        return;
    }
    with_server(|address, key| {
        // Traffic first, so every family has samples.
        for path in ["/healthz", "/v1/trending", "/v1/members/m1/home", "/v1/nope"] {
            let _ = TcpStream::connect(address).and_then(|mut s| {
                write!(
                    s,
                    "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
                )?;
                let mut sink = Vec::new();
                s.read_to_end(&mut sink).map(|_| ())
            });
        }
        let metrics = fetch(address, "/metrics", &key);
        assert!(metrics.contains("showrunner_http_requests_total"), "{metrics}");
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool runs");
        promtool
            .stdin
            .take()
            .expect("stdin")
            .write_all(metrics.as_bytes())
            .expect("writes");
        let output = promtool.wait_with_output().expect("promtool ends");
        assert!(
            output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
            "promtool check metrics: {}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    if !slow() || !have("schemathesis") {
        return;
    }
    with_server(|address, key| {
        // Its caches go to a scratch directory, not the checkout.
        let scratch = tempfile::tempdir().expect("tempdir");
        let output = Command::new("schemathesis")
            .current_dir(scratch.path())
            .args([
                "run",
                &format!("http://{address}/openapi.json"),
                "--header",
                &format!("Authorization: Bearer {key}"),
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples",
                "8",
                "--seed",
                "20261126",
                "--workers",
                "1",
                "--request-timeout",
                "20",
                "--generation-database",
                "none",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("{text}");
        assert!(output.status.success(), "schemathesis failed:\n{text}");
        // It really ran: every operation of the document was exercised.
        let figure = |label: &str| {
            text.split(label)
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).find(|s| !s.is_empty()))
                .and_then(|n| n.parse::<u32>().ok())
        };
        let selected = figure("Selected: ");
        assert!(
            selected >= Some(20) && figure("Tested: ") == selected,
            "schemathesis did not test every operation:\n{text}"
        );
    })
    .await;
}
