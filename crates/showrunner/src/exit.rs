//! What a finished subcommand reports, and the process exit code it maps to (documented in
//! `--help`).

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went through.
    Success,
    /// Finished, but some rows were quarantined or an input was empty.
    Findings,
    /// Stopped by Ctrl-C; what was acknowledged is kept.
    Interrupted,
    /// A usage or fatal error (reported on stderr).
    Fatal,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Findings => ExitCode::from(1),
            Outcome::Fatal => ExitCode::from(2),
            Outcome::Interrupted => ExitCode::from(130),
        }
    }
}
