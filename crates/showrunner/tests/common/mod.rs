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
