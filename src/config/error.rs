//! `config::Error`: every way loading or validating can fail, each a one-line message.

use std::path::PathBuf;

/// What went wrong loading or validating the configuration. Every message is one line naming the
/// place (file:line:column, key path or variable) and what to do. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "config file {} not found: give an existing file to --config, or leave --config out to use \
         config/darkhorses.yaml when present",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("YAML syntax error in {}:{line}:{column}: {message}", path.display())]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    /// `hint` is "; did you mean api.rate_limit?" or the list of valid keys.
    #[error("unknown key {key} {place}{hint}")]
    UnknownKey { key: String, place: String, hint: String },
    /// `place` is "in config/x.yaml:12", "from environment variable X" or "from flag --x".
    #[error("{key} {place} must be {expected}, found {found}")]
    WrongType { key: String, place: String, expected: &'static str, found: String },
    #[error("{key} {place} is invalid: {message}")]
    InvalidValue { key: String, place: String, message: String },
    #[error("invalid cron expression `{expr}` for interval {interval} {place}: {message}")]
    InvalidSchedule { interval: String, expr: String, place: String, message: String },
    #[error("invalid time zone `{tz}` for interval {interval} {place}: use an IANA name such as UTC or Europe/London")]
    InvalidTimeZone { interval: String, tz: String, place: String },
    #[error("unknown job `{job}` for interval {interval} {place}; valid jobs: {}", crate::jobs::names().join(", "))]
    UnknownJob { interval: String, job: String, place: String },
    #[error(
        "interval {interval} {place} names no job: add `job:` with one of {}",
        crate::jobs::names().join(", ")
    )]
    MissingJob { interval: String, place: String },
    #[error(
        "unknown script `{script}` for interval {interval} {place}; write `job:` instead (scripts known from the Python system: {known})"
    )]
    UnknownScript { interval: String, script: String, place: String, known: String },
    #[error(
        "{var} is set but no Postgres database is configured: darkhorses connects to Postgres directly, \
         so give the connection string from the Supabase project settings (Project Settings > Database > \
         Connection string, URI) as DATABASE_URL=postgresql://...; or set DATABASE_URL=sqlite:darkhorses.db \
         to use SQLite"
    )]
    Supabase { var: String },
    /// Anything else, already phrased as a one-line message naming the key and what to do.
    #[error("{0}")]
    Invalid(String),
}
