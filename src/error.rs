//! The crate error, composed of each boundary's error, and the one place exit codes are decided.

use std::process::ExitCode;

/// Exit codes, documented in the README.
pub mod exit {
    /// Success, including a run skipped because another instance holds its lock.
    pub const OK: u8 = 0;
    /// The run completed but with failures: a failed unit, an unhealthy check.
    pub const FAILURES: u8 = 1;
    /// Usage, configuration or fatal error.
    pub const FATAL: u8 = 2;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error(transparent)]
    Api(#[from] crate::api::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Fatal(String),
}

impl Error {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a command ended, before it becomes an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked (or the run was skipped because another instance holds its lock).
    Success,
    /// The command completed, but something failed: a unit, a check.
    CompletedWithFailures,
}

/// The one place a result becomes an exit code.
pub fn exit_code(result: &Result<Outcome>) -> ExitCode {
    ExitCode::from(match result {
        Ok(Outcome::Success) => exit::OK,
        Ok(Outcome::CompletedWithFailures) => exit::FAILURES,
        Err(_) => exit::FATAL,
    })
}
