//! The demo's last step: the `curl` commands it prints work as printed against the API it
//! serves (slow suite; needs `curl` on the PATH).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_printed_curl_commands_work_as_printed() {
    if std::env::var_os("SHOWRUNNER_SLOW_TESTS").is_none() {
        eprintln!("note: set SHOWRUNNER_SLOW_TESTS=1 to run the demo's curl commands");
        return;
    }
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("note: curl is not installed; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args([
            "demo", "--events", "60000", "--dir", "demo", "--serve", "--listen", &listen,
        ])
        .current_dir(dir.path())
        .env_remove("SHOWRUNNER_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the demo starts");
    let stdout = BufReader::new(demo.stdout.take().unwrap());
    let mut commands: Vec<String> = Vec::new();
    let mut serving = false;
    let mut pending = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.starts_with("== serving the API") {
            serving = true;
            continue;
        }
        if !serving {
            continue;
        }
        let Some(text) = line.strip_prefix("  ") else {
            break;
        };
        let text = text.trim();
        if let Some(head) = text.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(text);
        commands.push(std::mem::take(&mut pending));
        if commands.len() == 7 {
            break;
        }
    }
    assert!(serving, "the demo did not start serving");
    assert_eq!(commands.len(), 7, "{commands:?}");
    // The server is up once health answers.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Command::new("curl")
        .args(["-sf", &format!("http://{listen}/healthz")])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
    for command in &commands {
        let out = Command::new("sh").args(["-c", command]).output().unwrap();
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command}: {body}");
        assert!(!body.trim().is_empty(), "{command} printed nothing");
        assert!(
            !body.contains("\"code\":\""),
            "{command} answered an error: {body}"
        );
    }
    let events: Vec<&String> = commands
        .iter()
        .filter(|c| c.contains("/v1/events"))
        .collect();
    let out = Command::new("sh").args(["-c", events[0]]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"duplicate\":1"),
        "re-sending the example event is a duplicate"
    );
    let _ = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status();
    let status = demo.wait().unwrap();
    assert!(status.success(), "the demo stopped with {status}");
}
