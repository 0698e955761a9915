//! Logging: tracing to stderr and to a daily file per job, with retention (issue 2).
//!
//! # Where logs go
//!
//! Every event goes to stderr (human-readable, or one JSON object per line with
//! `logging.format: json` / `--log-format json`) and to `<logging.dir>/<log_name>_YYYYMMDD.log`,
//! where `log_name` is a registered job's `JobSpec::log_name` (`daily_update`, `live_update`,
//! `reference_update`, `backfill`), the orchestrator's `scheduler`, or any other command's name
//! (see [`log_name_for`]), and the date is the UTC date.
//! A long-running process (the daemon) switches to the next day's file at UTC midnight. At start-up
//! the files of that log name older than `logging.retention_days[<log_name>]` (else `["default"]`)
//! are deleted: `7` keeps today's file and the six before it.
//!
//! The level is `logging.level` (the config layer applies `LOG_LEVEL`, then
//! `DARKHORSES_LOGGING_LEVEL`). `-v` (debug, `-vv` trace) and `-q` (warn, `-qq` error) replace it
//! on stderr only: the file is the record of every run, so it keeps `logging.level` and never
//! less than `info`, whatever the terminal asked for (each run's outcome line is at `info`).
//! Levels apply to darkhorses' own events; dependencies log at `warn` unless the level is `trace`.
//! Events with the target [`FILE_ONLY`] go to the file alone: the final error of a run, which
//! stderr already shows as the binary's one `error:` line.
//!
//! # Conventions
//!
//! - One span per job run, named after the job, with fields `job` and `run_id`; everything the run
//!   logs happens inside it, so every line carries them.
//! - Messages read on their own ("racecards stored", not "done"); values go in fields, not in the
//!   message.
//! - Field names are dotted and carry their unit: `api.calls`, `duration_ms`, `rows.upserted`,
//!   `rate.per_second`, `date`, `race_id`.
//! - An error is logged once, where it is handled, not at every layer it passes through.
//! - Secrets (`config::Secret`) are never logged; log the key name instead.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use crate::clock::{Clock, SystemClock};
use crate::config::{LogFormat, LoggingConfig};
use crate::error::Error;

/// Levels from quietest to loudest; [`level`] moves along this list.
const LEVELS: [(&str, LevelFilter); 5] = [
    ("error", LevelFilter::ERROR),
    ("warn", LevelFilter::WARN),
    ("info", LevelFilter::INFO),
    ("debug", LevelFilter::DEBUG),
    ("trace", LevelFilter::TRACE),
];

/// Keeps logging set up for the run. Hold it until the process ends.
#[derive(Debug)]
pub struct TelemetryGuard {
    file: DailyFile,
}

impl TelemetryGuard {
    /// Today's log file (the one being written now).
    pub fn log_file(&self) -> PathBuf {
        self.file.current_path()
    }
}

/// The log name of the orchestrator (`scheduler_YYYYMMDD.log`, as the original named it).
pub const SCHEDULER_LOG: &str = "scheduler";

/// The log name of a job or command: a registered job's `JobSpec::log_name` (`daily` logs to
/// `daily_update_YYYYMMDD.log`), the orchestrator's [`SCHEDULER_LOG`]; other names (a job
/// defined outside the crate, `health`) are used as they are.
pub fn log_name_for(job: &str) -> &str {
    match job {
        "orchestrate" | SCHEDULER_LOG => SCHEDULER_LOG,
        other => crate::jobs::find(other).map_or(other, |spec| spec.log_name),
    }
}

/// The target of events written to the job's log file only (see the module docs).
pub const FILE_ONLY: &str = "darkhorses::log_file";

/// The level of each output. Stderr follows `-v`/`-q`; the file does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    pub stderr: LevelFilter,
    pub file: LevelFilter,
}

impl Levels {
    /// `configured` is `logging.level`; `terminal` the level `-v`/`-q` ask for on stderr, if any.
    pub fn new(configured: &str, terminal: Option<&str>) -> Result<Levels, Error> {
        let configured = level(configured, 0)?;
        let stderr = match terminal {
            Some(name) => level(name, 0)?,
            None => configured,
        };
        // `LevelFilter` orders more verbose as greater: the file keeps at least `info`.
        Ok(Levels { stderr, file: configured.max(LevelFilter::INFO) })
    }
}

/// Set up the global subscriber for this process: stderr plus the daily file of `log_name`.
/// `terminal` is the stderr level `-v`/`-q` ask for (see [`Levels`]). Prunes expired files.
pub fn init(cfg: &LoggingConfig, log_name: &str, terminal: Option<&str>) -> Result<TelemetryGuard, Error> {
    let (subscriber, guard) = build(cfg, log_name, terminal, Arc::new(SystemClock))?;
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| Error::Fatal("logging was already set up in this process (telemetry::init runs once)".into()))?;
    Ok(guard)
}

/// Logging to stderr only, for commands that are not job runs (`config`, `db`, `schedule`,
/// `sandbox`): they keep no log file.
pub fn init_stderr(cfg: &LoggingConfig) -> Result<(), Error> {
    let level = level(&cfg.level, 0)?;
    let subscriber: Box<dyn Subscriber + Send + Sync> =
        Box::new(tracing_subscriber::registry().with(vec![stderr_layer(cfg.format, level)]));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| Error::Fatal("logging was already set up in this process (telemetry::init runs once)".into()))
}

/// Which events an output at `level` takes: darkhorses' own at `level`, dependencies' at `warn`
/// (all of them at `trace`).
fn targets(level: LevelFilter) -> Targets {
    let dependencies = if level == LevelFilter::TRACE { LevelFilter::TRACE } else { LevelFilter::WARN };
    Targets::new().with_default(dependencies).with_target("darkhorses", level)
}

/// The stderr output at `level`, in `format`; it leaves out the [`FILE_ONLY`] events.
fn stderr_layer(format: LogFormat, level: LevelFilter) -> Box<dyn Layer<Registry> + Send + Sync> {
    let filter = targets(level).with_target(FILE_ONLY, LevelFilter::OFF);
    match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    }
}

/// The subscriber `init` installs, without installing it (tests use it with `with_default`).
pub fn build(
    cfg: &LoggingConfig,
    log_name: &str,
    terminal: Option<&str>,
    clock: Arc<dyn Clock>,
) -> Result<(impl Subscriber + Send + Sync + 'static, TelemetryGuard), Error> {
    if log_name.is_empty() || !log_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Error::Fatal(format!(
            "log name '{log_name}' may only hold letters, digits, '_' and '-' (it becomes a file name)"
        )));
    }
    let levels = Levels::new(&cfg.level, terminal)?;
    // Owner-only: the files hold request URLs and errors (the directory, when this creates it).
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&cfg.dir)
        .map_err(|e| Error::io(format!("creating the log directory {} (logging.dir)", cfg.dir.display()), e))?;
    let today = clock.now().date_naive();
    prune(&cfg.dir, log_name, today, retention_days(cfg, log_name))?;
    let file = DailyFile::open(&cfg.dir, log_name, clock)?;

    let file_filter = targets(levels.file);
    let file_layer = match cfg.format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(file.clone())
            .with_ansi(false)
            .with_target(false)
            .with_filter(file_filter)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(file.clone())
            .with_filter(file_filter)
            .boxed(),
    };
    let layers = vec![stderr_layer(cfg.format, levels.stderr), file_layer];
    let subscriber = tracing_subscriber::registry().with(layers);
    Ok((subscriber, TelemetryGuard { file }))
}

/// A level name (`logging.level`, or what `-v`/`-q` ask for), moved `verbosity` steps louder (or
/// quieter when negative).
pub fn level(configured: &str, verbosity: i8) -> Result<LevelFilter, Error> {
    let wanted = configured.trim().to_ascii_lowercase();
    let wanted = if wanted == "warning" { "warn".to_string() } else { wanted };
    let index = LEVELS.iter().position(|(name, _)| *name == wanted).ok_or_else(|| {
        Error::Fatal(format!("logging.level '{configured}' is not a level: use one of error, warn, info, debug, trace"))
    })?;
    let shifted = (index as i32 + i32::from(verbosity)).clamp(0, LEVELS.len() as i32 - 1) as usize;
    Ok(LEVELS[shifted].1)
}

/// Days to keep the files of `log_name`: its own entry, else `default`, else 30.
pub fn retention_days(cfg: &LoggingConfig, log_name: &str) -> u32 {
    cfg.retention_days
        .get(log_name)
        .or_else(|| cfg.retention_days.get("default"))
        .copied()
        .unwrap_or(crate::config::defaults::LOG_RETENTION_DAYS)
}

/// `daily_update_20261129.log`.
pub fn file_name(log_name: &str, date: NaiveDate) -> String {
    format!("{log_name}_{}.log", date.format("%Y%m%d"))
}

/// The date of a file of `log_name`, or `None` if the name is not one of its files.
pub fn file_date(log_name: &str, name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix(log_name)?.strip_prefix('_')?.strip_suffix(".log")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// Whether a file dated `date` is past a retention of `days` on `today` (0 keeps only today's).
pub fn expired(date: NaiveDate, today: NaiveDate, days: u32) -> bool {
    (today - date).num_days() >= i64::from(days.max(1))
}

/// Delete the expired files of `log_name` in `dir`; returns what was deleted.
pub fn prune(dir: &Path, log_name: &str, today: NaiveDate, days: u32) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("listing the log directory {} (logging.dir)", dir.display()), e))?;
    let mut deleted = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(date) = name.to_str().and_then(|n| file_date(log_name, n)) else {
            continue;
        };
        if expired(date, today, days) {
            let path = entry.path();
            std::fs::remove_file(&path)
                .map_err(|e| Error::io(format!("deleting the expired log file {}", path.display()), e))?;
            deleted.push(path);
        }
    }
    deleted.sort();
    Ok(deleted)
}

/// A `MakeWriter` that appends to `<dir>/<log_name>_YYYYMMDD.log` for the current UTC date,
/// switching files when the date changes. Each formatted event arrives as one `write`, made under
/// a lock, so lines from different threads never interleave.
#[derive(Debug, Clone)]
pub struct DailyFile {
    inner: Arc<Mutex<DailyState>>,
}

#[derive(Debug)]
struct DailyState {
    dir: PathBuf,
    log_name: String,
    clock: Arc<dyn Clock>,
    date: NaiveDate,
    file: File,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    // Owner-only when this creates it (0600): a log line can hold a request URL or an error.
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

impl DailyFile {
    /// Open (append) today's file of `log_name` in `dir`.
    pub fn open(dir: &Path, log_name: &str, clock: Arc<dyn Clock>) -> Result<DailyFile, Error> {
        let date = clock.now().date_naive();
        let path = dir.join(file_name(log_name, date));
        let file = open_append(&path).map_err(|e| Error::io(format!("opening the log file {}", path.display()), e))?;
        Ok(DailyFile {
            inner: Arc::new(Mutex::new(DailyState {
                dir: dir.to_path_buf(),
                log_name: log_name.to_string(),
                clock,
                date,
                file,
            })),
        })
    }

    /// The file for the current date.
    pub fn current_path(&self) -> PathBuf {
        let state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        state.dir.join(file_name(&state.log_name, state.clock.now().date_naive()))
    }
}

impl DailyState {
    /// Move to the file of the current date if the date changed. If the new file cannot be
    /// opened, keep writing to the old one rather than lose the lines.
    fn roll(&mut self) {
        let today = self.clock.now().date_naive();
        if today != self.date
            && let Ok(file) = open_append(&self.dir.join(file_name(&self.log_name, today)))
        {
            self.file = file;
            self.date = today;
        }
    }
}

/// One event's writer, handed out by [`DailyFile`].
#[derive(Debug)]
pub struct DailyFileWriter {
    inner: Arc<Mutex<DailyState>>,
}

impl Write for DailyFileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        state.roll();
        state.file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).file.flush()
    }
}

impl<'a> MakeWriter<'a> for DailyFile {
    type Writer = DailyFileWriter;

    fn make_writer(&'a self) -> Self::Writer {
        DailyFileWriter { inner: Arc::clone(&self.inner) }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::clock::FixedClock;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn names_match_the_original() {
        assert_eq!(file_name("daily_update", date("2026-11-29")), "daily_update_20261129.log");
        assert_eq!(file_name(log_name_for("live"), date("2026-01-05")), "live_update_20260105.log");
        assert_eq!(log_name_for("reference"), "reference_update");
        assert_eq!(log_name_for("orchestrate"), "scheduler");
        assert_eq!(log_name_for("backfill"), "backfill");
        assert_eq!(log_name_for("health"), "health_check");
        assert_eq!(log_name_for("table_census"), "table_census");
        for spec in crate::jobs::registry() {
            assert_eq!(log_name_for(spec.name), spec.log_name);
        }
    }

    #[test]
    fn file_dates_only_for_our_names() {
        assert_eq!(file_date("daily_update", "daily_update_20261129.log"), Some(date("2026-11-29")));
        assert_eq!(file_date("daily_update", "live_update_20261129.log"), None);
        assert_eq!(file_date("daily_update", "daily_update_20261129.log.gz"), None);
        assert_eq!(file_date("daily_update", "daily_update_2026112.log"), None);
        assert_eq!(file_date("daily_update", "daily_update_20261329.log"), None);
        assert_eq!(file_date("daily", "daily_update_20261129.log"), None);
        assert_eq!(file_date("daily_update", "daily_update_notes.log"), None);
    }

    #[test]
    fn retention_keeps_today_and_the_days_before() {
        let today = date("2026-11-29");
        assert!(!expired(today, today, 7));
        assert!(!expired(date("2026-11-23"), today, 7));
        assert!(expired(date("2026-11-22"), today, 7));
        assert!(!expired(today, today, 0));
        assert!(expired(date("2026-11-28"), today, 0));
        // A file from the future (clock skew) is kept.
        assert!(!expired(date("2026-11-30"), today, 7));
    }

    #[test]
    fn retention_per_log_name_with_default() {
        let cfg = LoggingConfig::default();
        assert_eq!(retention_days(&cfg, "live_update"), 7);
        assert_eq!(retention_days(&cfg, "daily_update"), crate::config::defaults::LOG_RETENTION_DAYS);
    }

    #[test]
    fn prune_deletes_only_expired_files_of_the_log_name() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "daily_update_20261129.log",
            "daily_update_20261123.log",
            "daily_update_20261122.log",
            "daily_update_20250101.log",
            "live_update_20250101.log",
            "daily_update_notes.log",
        ] {
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        let deleted = prune(dir.path(), "daily_update", date("2026-11-29"), 7).unwrap();
        assert_eq!(
            deleted,
            [dir.path().join("daily_update_20250101.log"), dir.path().join("daily_update_20261122.log")]
        );
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(
            left,
            [
                "daily_update_20261123.log",
                "daily_update_20261129.log",
                "daily_update_notes.log",
                "live_update_20250101.log"
            ]
        );
    }

    #[test]
    fn levels_shift_with_verbosity() {
        assert_eq!(level("info", 0).unwrap(), LevelFilter::INFO);
        assert_eq!(level("info", 1).unwrap(), LevelFilter::DEBUG);
        assert_eq!(level("INFO", 2).unwrap(), LevelFilter::TRACE);
        assert_eq!(level("info", 5).unwrap(), LevelFilter::TRACE);
        assert_eq!(level("info", -1).unwrap(), LevelFilter::WARN);
        assert_eq!(level("info", -2).unwrap(), LevelFilter::ERROR);
        assert_eq!(level("debug", -3).unwrap(), LevelFilter::ERROR);
        assert_eq!(level("warning", 0).unwrap(), LevelFilter::WARN);
        let err = level("loud", 0).unwrap_err().to_string();
        assert!(err.contains("logging.level 'loud'"), "{err}");
    }

    #[test]
    fn the_terminal_level_leaves_the_file_at_least_at_info() {
        let levels = |configured: &str, terminal: Option<&str>| {
            let l = Levels::new(configured, terminal).unwrap();
            (l.stderr, l.file)
        };
        assert_eq!(levels("info", None), (LevelFilter::INFO, LevelFilter::INFO));
        assert_eq!(levels("info", Some("warn")), (LevelFilter::WARN, LevelFilter::INFO));
        assert_eq!(levels("info", Some("error")), (LevelFilter::ERROR, LevelFilter::INFO));
        assert_eq!(levels("info", Some("debug")), (LevelFilter::DEBUG, LevelFilter::INFO));
        assert_eq!(levels("debug", Some("error")), (LevelFilter::ERROR, LevelFilter::DEBUG));
        assert_eq!(levels("warn", None), (LevelFilter::WARN, LevelFilter::INFO));
        assert!(Levels::new("info", Some("loud")).is_err());
    }

    #[test]
    fn a_quiet_terminal_keeps_info_and_file_only_events_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LoggingConfig { dir: dir.path().to_path_buf(), ..LoggingConfig::default() };
        let clock = Arc::new(FixedClock::new(at("2026-11-29T06:00:03Z")));
        let (subscriber, guard) = build(&cfg, "daily_update", Some("error"), clock).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("job run finished");
            tracing::error!(target: FILE_ONLY, "job run failed");
            tracing::debug!("not at info");
        });
        let text = std::fs::read_to_string(guard.log_file()).unwrap();
        assert!(text.contains("job run finished") && text.contains("job run failed"), "{text}");
        assert!(!text.contains("not at info"), "{text}");
    }

    #[test]
    fn log_directory_and_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("a").join("logs");
        let cfg = LoggingConfig { dir: logs.clone(), ..LoggingConfig::default() };
        let clock = Arc::new(FixedClock::new(at("2026-11-29T06:00:03Z")));
        let (subscriber, guard) = build(&cfg, "daily_update", None, clock).unwrap();
        tracing::subscriber::with_default(subscriber, || tracing::info!("a line"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&logs), 0o700, "{}", logs.display());
        assert_eq!(mode(guard.log_file().as_path()), 0o600, "{}", guard.log_file().display());
    }

    #[test]
    fn daily_file_switches_at_utc_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let clock = FixedClock::new(at("2026-11-29T23:59:59Z"));
        let file = DailyFile::open(dir.path(), "scheduler", Arc::new(clock.clone())).unwrap();
        file.make_writer().write_all(b"before midnight\n").unwrap();
        clock.set(at("2026-11-30T00:00:00Z"));
        file.make_writer().write_all(b"after midnight\n").unwrap();
        assert_eq!(file.current_path(), dir.path().join("scheduler_20261130.log"));
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("scheduler_20261129.log"), "before midnight\n");
        assert_eq!(read("scheduler_20261130.log"), "after midnight\n");
    }

    #[test]
    fn built_subscriber_writes_the_days_file_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        std::fs::write(logs.join("daily_update_20261001.log"), "old\n").unwrap();
        let cfg = LoggingConfig { dir: logs.clone(), format: LogFormat::Json, ..LoggingConfig::default() };
        let clock = Arc::new(FixedClock::new(at("2026-11-29T06:00:03Z")));
        let (subscriber, guard) = build(&cfg, "daily_update", None, clock).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("daily", job = "daily", run_id = 7);
            let _entered = span.enter();
            tracing::info!(api.calls = 3, duration_ms = 120, "racecards stored");
            tracing::debug!("not at info");
        });
        assert_eq!(guard.log_file(), logs.join("daily_update_20261129.log"));
        assert!(!logs.join("daily_update_20261001.log").exists());
        let text = std::fs::read_to_string(guard.log_file()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["message"], "racecards stored");
        assert_eq!(line["api.calls"], 3);
        assert_eq!(line["span"]["run_id"], 7);
    }

    #[test]
    fn unusable_log_dir_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let cfg = LoggingConfig { dir: blocker.join("logs"), ..LoggingConfig::default() };
        let err = build(&cfg, "health", None, Arc::new(SystemClock)).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(&blocker.join("logs").display().to_string()) && err.contains("logging.dir"), "{err}");
    }
}
