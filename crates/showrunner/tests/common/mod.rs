//! What the command-line tests that start `showrunner` processes share.

use std::path::Path;
use std::process::{Command, Stdio};

/// The binary under test, with no database from the environment and no input.
pub fn showrunner() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_showrunner"));
    command.env_remove("SHOWRUNNER_DB").stdin(Stdio::null());
    command
}

/// Runs `showrunner ARGS` in `dir`, fails the test with its stderr unless it succeeds, and
/// returns its stdout.
pub fn run_ok(args: &[&str], dir: &Path) -> String {
    let output = showrunner()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Spawns `command` (a configured `showrunner serve … --listen 127.0.0.1:0`), waits for
/// the address it prints on stderr, keeps draining its stderr, and returns the process and
/// the address (`host:port`).
pub fn spawn_serve(mut command: Command) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut address = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("reads stderr") > 0 {
        if let Some(at) = line.find("http://") {
            address = line[at + 7..].trim().to_owned();
            break;
        }
        line.clear();
    }
    assert!(!address.is_empty(), "the server printed no address");
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (child, address)
}
