//! The one typed configuration tree and the one function that loads it.
//!
//! Precedence: built-in defaults < YAML file < environment < command-line flags. Only this module
//! reads the environment. Defaults live in the `defaults` consts below.
//!
//! `load` reads the YAML file with positions (`yaml`), overlays the layers onto a JSON tree of the
//! defaults, recording where every leaf came from (`layer`), then deserializes the tree into
//! `Config` and validates it. `render` prints it for `config show` and `config check`.

mod layer;
mod render;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use layer::Layers;
pub use render::{check_json, check_line, show_human, show_json};

use serde::{Deserialize, Serialize};

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself. Call only where it is sent (an Authorization header, a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

pub mod defaults {
    pub const API_BASE_URL: &str = "https://api.theracingapi.com/v1";
    pub const API_RATE_LIMIT: f64 = 2.0;
    pub const API_BURST_ALLOWANCE: u32 = 1;
    pub const API_TIMEOUT_SECS: u64 = 30;
    pub const API_MAX_RETRIES: u32 = 5;
    pub const RETRY_MAX_ATTEMPTS: u32 = 5;
    pub const RETRY_INITIAL_DELAY_SECS: f64 = 1.0;
    pub const RETRY_MAX_DELAY_SECS: f64 = 60.0;
    pub const RETRY_BACKOFF_FACTOR: f64 = 2.0;
    pub const RETRY_STATUS_CODES: [u16; 7] = [408, 429, 500, 502, 503, 504, 520];
    pub const DATABASE_URL: &str = "sqlite:darkhorses.db";
    pub const DATABASE_SCHEMA: &str = "public";
    pub const DATABASE_BATCH_SIZE: usize = 100;
    pub const DATABASE_CONNECTION_TIMEOUT_SECS: u64 = 10;
    pub const DATABASE_QUERY_TIMEOUT_SECS: u64 = 300;
    pub const DATABASE_POOL_SIZE: usize = 4;
    pub const ALERT_CONSECUTIVE_FAILURES: u32 = 3;
    pub const ALERT_API_ERROR_RATE: f64 = 0.1;
    pub const ALERT_STALE_DATA_HOURS: u32 = 24;
    pub const ALERT_COOLDOWN_MINUTES: u32 = 60;
    pub const LOG_LEVEL: &str = "info";
    pub const LOG_DIR: &str = "logs";
    pub const LOG_RETENTION_DAYS: u32 = 30;
    pub const LOCK_DIR: &str = "/tmp";
    pub const ENRICH_HORSES_PER_RUN: u32 = 200;
}

/// The whole effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub intervals: BTreeMap<String, IntervalConfig>,
    pub retry: RetryConfig,
    pub api: ApiConfig,
    pub database: DatabaseConfig,
    pub alerts: AlertsConfig,
    pub logging: LoggingConfig,
    pub health_check: HealthCheckConfig,
    pub features: FeaturesConfig,
    pub locks: LocksConfig,
    pub sandbox: SandboxConfig,
}

impl Default for Config {
    fn default() -> Self {
        let interval = |frequency: &str, job: &str, args: &[&str], priority: u32, timeout: u64| IntervalConfig {
            enabled: true,
            frequency: frequency.to_string(),
            timezone: "UTC".to_string(),
            timeout,
            job: job.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            priority,
            misfire: MisfirePolicy::default(),
        };
        let mut intervals = BTreeMap::new();
        intervals.insert("live_data".to_string(), interval("*/15 9-20 * * *", "live", &[], 1, 600));
        intervals.insert("daily_data".to_string(), interval("0 6 * * *", "daily", &[], 2, 3600));
        intervals.insert(
            "weekly_reconciliation".to_string(),
            interval("0 23 * * 0", "daily", &["--weekly"], 3, 7200),
        );
        intervals.insert("monthly_reference".to_string(), interval("0 3 1 * *", "reference", &[], 4, 1800));
        Self {
            intervals,
            retry: RetryConfig::default(),
            api: ApiConfig::default(),
            database: DatabaseConfig::default(),
            alerts: AlertsConfig::default(),
            logging: LoggingConfig::default(),
            health_check: HealthCheckConfig::default(),
            features: FeaturesConfig::default(),
            locks: LocksConfig::default(),
            sandbox: SandboxConfig::default(),
        }
    }
}

/// What the orchestrator does with a slot it missed (the process was down at its time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// Run the most recent missed slot once.
    #[default]
    RunOnce,
    /// Run every missed slot.
    RunAll,
    /// Record missed slots as skipped and wait for the next one.
    Skip,
}

/// One scheduled job (the original's `intervals.<name>` entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntervalConfig {
    pub enabled: bool,
    /// A 5-field cron expression.
    pub frequency: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// Seconds before a run is stopped and recorded as timed out.
    pub timeout: u64,
    /// The registered job to run (`live`, `daily`, `reference`, `backfill`, ...).
    pub job: String,
    /// Extra command-line arguments for the job, as the CLI takes them: `["--weekly"]`.
    pub args: Vec<String>,
    /// Lower runs first when several are due.
    pub priority: u32,
    pub misfire: MisfirePolicy,
}

impl Default for IntervalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            frequency: String::new(),
            timezone: "UTC".to_string(),
            timeout: 3600,
            job: String::new(),
            args: Vec::new(),
            priority: 5,
            misfire: MisfirePolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub max_attempts: u32,
    /// Seconds.
    pub initial_delay: f64,
    /// Seconds.
    pub max_delay: f64,
    pub backoff_factor: f64,
    /// Full jitter: each delay is uniform in [0, computed delay].
    pub jitter: bool,
    pub retry_status_codes: Vec<u16>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: defaults::RETRY_MAX_ATTEMPTS,
            initial_delay: defaults::RETRY_INITIAL_DELAY_SECS,
            max_delay: defaults::RETRY_MAX_DELAY_SECS,
            backoff_factor: defaults::RETRY_BACKOFF_FACTOR,
            jitter: true,
            retry_status_codes: defaults::RETRY_STATUS_CODES.to_vec(),
        }
    }
}

/// The Racing API plan of the account: decides endpoints and windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Basic,
    Standard,
    #[default]
    Pro,
}

/// How far back results can be fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultsHistory {
    /// The last 12 months (every plan).
    #[default]
    #[serde(rename = "12_months")]
    TwelveMonths,
    /// Everything (the history add-on).
    Full,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub base_url: String,
    pub username: Secret,
    pub password: Secret,
    /// Requests per second, shared by everything in the process.
    pub rate_limit: f64,
    /// Requests allowed in a burst above the steady rate (1 = no burst).
    pub burst_allowance: u32,
    /// Seconds per request.
    pub timeout: u64,
    pub max_retries: u32,
    pub user_agent: String,
    pub plan: Plan,
    pub results_history: ResultsHistory,
    /// Lower-case region codes requested: `gb`, `ire`.
    pub regions: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            base_url: defaults::API_BASE_URL.to_string(),
            username: Secret::default(),
            password: Secret::default(),
            rate_limit: defaults::API_RATE_LIMIT,
            burst_allowance: defaults::API_BURST_ALLOWANCE,
            timeout: defaults::API_TIMEOUT_SECS,
            max_retries: defaults::API_MAX_RETRIES,
            user_agent: format!("darkhorses/{}", env!("CARGO_PKG_VERSION")),
            plan: Plan::default(),
            results_history: ResultsHistory::default(),
            regions: vec!["gb".to_string(), "ire".to_string()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite:PATH` (default `sqlite:darkhorses.db`) or `postgres://...`. A secret: it may hold a password.
    pub url: Secret,
    /// Postgres schema holding every table.
    pub schema: String,
    /// Rows per statement.
    pub batch_size: usize,
    /// Seconds.
    pub connection_timeout: u64,
    /// Seconds.
    pub query_timeout: u64,
    pub pool_size: usize,
    /// Apply pending migrations before any command that needs the schema.
    pub auto_migrate: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new(defaults::DATABASE_URL),
            schema: defaults::DATABASE_SCHEMA.to_string(),
            batch_size: defaults::DATABASE_BATCH_SIZE,
            connection_timeout: defaults::DATABASE_CONNECTION_TIMEOUT_SECS,
            query_timeout: defaults::DATABASE_QUERY_TIMEOUT_SECS,
            pool_size: defaults::DATABASE_POOL_SIZE,
            auto_migrate: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    pub enabled: bool,
    /// Where alerts go: `log`, `webhook:https://...`, `email:...` (delivered by the alerts issue).
    pub channels: Vec<String>,
    pub thresholds: AlertThresholds,
    pub cooldown_minutes: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            channels: vec!["log".to_string()],
            thresholds: AlertThresholds::default(),
            cooldown_minutes: defaults::ALERT_COOLDOWN_MINUTES,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertThresholds {
    pub consecutive_failures: u32,
    /// Share of API calls that failed in a run (0..1).
    pub api_error_rate: f64,
    pub stale_data_hours: u32,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        Self {
            consecutive_failures: defaults::ALERT_CONSECUTIVE_FAILURES,
            api_error_rate: defaults::ALERT_API_ERROR_RATE,
            stale_data_hours: defaults::ALERT_STALE_DATA_HOURS,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub level: String,
    pub dir: PathBuf,
    pub format: LogFormat,
    /// Days to keep log files, per log name (`live_update`, `daily_update`, ...); `default` for the rest.
    pub retention_days: BTreeMap<String, u32>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        let mut retention_days = BTreeMap::new();
        retention_days.insert("default".to_string(), defaults::LOG_RETENTION_DAYS);
        retention_days.insert("live_update".to_string(), 7);
        Self {
            level: defaults::LOG_LEVEL.to_string(),
            dir: PathBuf::from(defaults::LOG_DIR),
            format: LogFormat::default(),
            retention_days,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    pub enabled: bool,
    /// Seconds a run may stay `running` before it is reported as stuck.
    pub stuck_after: u64,
    /// Check the API with one cheap call.
    pub check_api: bool,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self { enabled: true, stuck_after: 7200, check_api: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    pub dry_run: bool,
    pub skip_entity_extraction: bool,
    pub skip_results: bool,
    pub skip_racecards: bool,
    pub enrich_horses: bool,
    /// At most this many `/horses/{id}/pro` calls per run.
    pub enrich_horses_per_run: u32,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            dry_run: false,
            skip_entity_extraction: false,
            skip_results: false,
            skip_racecards: false,
            enrich_horses: false,
            enrich_horses_per_run: defaults::ENRICH_HORSES_PER_RUN,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocksConfig {
    /// Directory of the `darkhorses_update_<job>.lock` files.
    pub dir: PathBuf,
}

impl Default for LocksConfig {
    fn default() -> Self {
        Self { dir: PathBuf::from(defaults::LOCK_DIR) }
    }
}

/// Settings of the simulated API (`darkhorses sandbox`, `--sandbox`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    pub port: u16,
    pub seed: u64,
    /// Requests per second the sandbox allows before answering 429.
    pub rate_limit: f64,
    /// Fault shares, each 0..1.
    pub faults: FaultsConfig,
    /// Fixed credentials; empty means any non-empty pair is accepted.
    pub username: String,
    pub password: Secret,
    /// The plan the sandbox enforces.
    pub plan: Plan,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 8787,
            seed: 42,
            rate_limit: 2.0,
            faults: FaultsConfig::default(),
            username: String::new(),
            password: Secret::default(),
            plan: Plan::Pro,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsConfig {
    #[serde(rename = "5xx")]
    pub server_error: f64,
    #[serde(rename = "429")]
    pub too_many_requests: f64,
    pub slow: f64,
    pub truncated: f64,
    pub malformed: f64,
    pub dropped: f64,
    /// Dates (YYYY-MM-DD) for which every data request answers 500.
    pub fail_dates: Vec<String>,
}

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
    #[error(
        "invalid time zone `{tz}` for interval {interval} {place}: use an IANA name such as UTC or Europe/London"
    )]
    InvalidTimeZone { interval: String, tz: String, place: String },
    #[error("unknown job `{job}` for interval {interval} {place}; valid jobs: {}", JOBS.join(", "))]
    UnknownJob { interval: String, job: String, place: String },
    #[error("interval {interval} {place} names no job: add `job:` with one of {}", JOBS.join(", "))]
    MissingJob { interval: String, place: String },
    #[error("unknown script `{script}` for interval {interval} {place}; write `job:` instead (scripts known from the Python system: {known})")]
    UnknownScript { interval: String, script: String, place: String, known: String },
    #[error(
        "{var} is set but no Postgres database is configured: darkhorses connects to Postgres directly, \
         so give the connection string from the Supabase project settings (Project Settings > Database > \
         Connection string, URI) as DATABASE_URL=postgresql://...; or set DATABASE_URL=sqlite:darkhorses.db \
         to use SQLite"
    )]
    Supabase { var: String },
    #[error("{0}")]
    Invalid(String),
}

/// Every job an interval may name (the registry in `jobs` is checked against this list by a test).
pub const JOBS: [&str; 6] = ["live", "daily", "reference", "backfill", "health", "quality"];

/// Keys whose values are secrets (`Secret` fields): `config show` prints them as `***`, and a
/// database URL with only its password hidden.
pub const SECRET_KEYS: [&str; 4] = ["api.username", "api.password", "database.url", "sandbox.password"];

/// The file read when `--config` is not given, if it exists (relative to the working directory).
pub const DEFAULT_FILE: &str = "config/darkhorses.yaml";

/// Where a value of the effective configuration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    Default,
    File { path: PathBuf, line: usize },
    Env { var: String },
    Flag { flag: String },
}

/// A command-line flag that sets a config key (applied last).
#[derive(Debug, Clone, PartialEq)]
pub struct FlagOverride {
    /// Dotted key path: `api.rate_limit`.
    pub key: String,
    pub value: serde_json::Value,
    /// The flag as typed: `--log-format`.
    pub flag: String,
}

/// What `load` needs from the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// `--config PATH`: must exist. `None`: `config/darkhorses.yaml` when present.
    pub path: Option<PathBuf>,
    pub flags: Vec<FlagOverride>,
}

/// The effective configuration, where each value came from, and warnings to log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Dotted key path to origin, for every leaf value.
    pub origins: BTreeMap<String, Origin>,
    pub warnings: Vec<String>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

impl std::fmt::Display for Origin {
    /// As `config show` prints it: `default`, `config/darkhorses.yaml:14`, `env X`, `flag --x`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env { var } => write!(f, "env {var}"),
            Origin::Flag { flag } => write!(f, "flag {flag}"),
        }
    }
}

/// Load the configuration: defaults < YAML file < environment < flags. The one function that does,
/// and the one place the process environment is read.
pub fn load(opts: &LoadOptions) -> Result<Loaded, Error> {
    let env: BTreeMap<String, String> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let file = match &opts.path {
        Some(path) => Some(read_file(path)?),
        None => {
            let path = PathBuf::from(DEFAULT_FILE);
            if path.is_file() { Some(read_file(&path)?) } else { None }
        }
    };
    load_from(file.as_ref().map(|(p, text)| (p.as_path(), text.as_str())), &env, &opts.flags)
}

fn read_file(path: &Path) -> Result<(PathBuf, String), Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((path.to_path_buf(), text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Missing { path: path.to_path_buf() }),
        Err(source) => Err(Error::Read { path: path.to_path_buf(), source }),
    }
}

/// `load` without the process: the file's path and text, an environment snapshot and the flags.
pub fn load_from(
    file: Option<(&Path, &str)>,
    env: &BTreeMap<String, String>,
    flags: &[FlagOverride],
) -> Result<Loaded, Error> {
    let mut layers = Layers::defaults()?;
    if let Some((path, text)) = file {
        let root = yaml::parse(text).map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            line: e.line,
            column: e.col,
            message: e.message,
        })?;
        if let Some(root) = root {
            layers.apply_file(&root, path)?;
        }
    }
    layers.apply_env(env)?;
    layers.apply_flags(flags)?;
    let config: Config = serde_path_to_error::deserialize(layers.tree.clone()).map_err(|e| {
        let key = e.path().to_string();
        Error::InvalidValue { place: layers.place_of(&key), key, message: e.inner().to_string() }
    })?;
    validate(&config, &layers)?;
    check_supabase(&config, env)?;
    let mut paths = Vec::new();
    layer::leaves(&layers.tree, "", &mut paths);
    let origins = paths
        .into_iter()
        .map(|p| {
            let origin = layers.origins.get(&p).cloned().unwrap_or(Origin::Default);
            (p, origin)
        })
        .collect();
    Ok(Loaded { config, origins, warnings: layers.warnings, file: file.map(|(p, _)| p.to_path_buf()) })
}

/// Everything that can be checked offline beyond types: schedules, jobs, ranges, URLs.
fn validate(config: &Config, layers: &Layers) -> Result<(), Error> {
    let invalid = |key: &str, message: String| Error::InvalidValue {
        key: key.to_string(),
        place: layers.place_of(key),
        message,
    };
    for (name, interval) in &config.intervals {
        let key = |field: &str| format!("intervals.{name}.{field}");
        if interval.job.is_empty() {
            return Err(Error::MissingJob { interval: name.clone(), place: layers.place_of(&format!("intervals.{name}")) });
        }
        if !JOBS.contains(&interval.job.as_str()) {
            return Err(Error::UnknownJob {
                interval: name.clone(),
                job: interval.job.clone(),
                place: layers.place_of(&key("job")),
            });
        }
        if interval.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Error::InvalidTimeZone {
                interval: name.clone(),
                tz: interval.timezone.clone(),
                place: layers.place_of(&key("timezone")),
            });
        }
        if interval.frequency.trim().is_empty() {
            return Err(invalid(&key("frequency"), "give a 5-field cron expression such as `0 6 * * *`".into()));
        }
        if let Err(message) = crate::schedule::check_expression(&interval.frequency, &interval.timezone) {
            return Err(Error::InvalidSchedule {
                interval: name.clone(),
                expr: interval.frequency.clone(),
                place: layers.place_of(&key("frequency")),
                message,
            });
        }
        if interval.timeout == 0 {
            return Err(invalid(&key("timeout"), "give the seconds a run may take, more than 0".into()));
        }
    }
    let positive = [
        ("api.rate_limit", config.api.rate_limit),
        ("sandbox.rate_limit", config.sandbox.rate_limit),
        ("retry.backoff_factor", config.retry.backoff_factor),
    ];
    for (key, value) in positive {
        if value <= 0.0 {
            return Err(invalid(key, format!("{value} must be more than 0")));
        }
    }
    let at_least_one = [
        ("api.timeout", config.api.timeout),
        ("database.batch_size", config.database.batch_size as u64),
        ("database.pool_size", config.database.pool_size as u64),
        ("database.connection_timeout", config.database.connection_timeout),
        ("database.query_timeout", config.database.query_timeout),
        ("retry.max_attempts", u64::from(config.retry.max_attempts)),
    ];
    for (key, value) in at_least_one {
        if value == 0 {
            return Err(invalid(key, "must be 1 or more".into()));
        }
    }
    let faults = &config.sandbox.faults;
    let shares = [
        ("alerts.thresholds.api_error_rate", config.alerts.thresholds.api_error_rate),
        ("sandbox.faults.5xx", faults.server_error),
        ("sandbox.faults.429", faults.too_many_requests),
        ("sandbox.faults.slow", faults.slow),
        ("sandbox.faults.truncated", faults.truncated),
        ("sandbox.faults.malformed", faults.malformed),
        ("sandbox.faults.dropped", faults.dropped),
    ];
    for (key, value) in shares {
        if !(0.0..=1.0).contains(&value) {
            return Err(invalid(key, format!("{value} is a share: give a number from 0 to 1")));
        }
    }
    if config.retry.initial_delay < 0.0 || config.retry.max_delay < config.retry.initial_delay {
        return Err(invalid("retry.max_delay", "give 0 <= retry.initial_delay <= retry.max_delay".into()));
    }
    for (key, url) in [("api.base_url", config.api.base_url.as_str())] {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(key, format!("`{url}` is not an http:// or https:// URL")));
        }
    }
    let db = config.database.url.expose();
    if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
        return Err(invalid(
            "database.url",
            "give sqlite:PATH or a postgres://user:password@host:port/db connection string".into(),
        ));
    }
    for (i, date) in config.sandbox.faults.fail_dates.iter().enumerate() {
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            return Err(invalid(&format!("sandbox.faults.fail_dates[{i}]"), format!("`{date}` is not a YYYY-MM-DD date")));
        }
    }
    for directive in config.logging.level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive.rsplit('=').next().unwrap_or(directive).to_ascii_lowercase();
        if !matches!(level.as_str(), "trace" | "debug" | "info" | "warn" | "warning" | "error" | "critical" | "off") {
            return Err(invalid(
                "logging.level",
                format!("`{directive}` is not a level: give trace, debug, info, warn or error"),
            ));
        }
    }
    Ok(())
}

/// The original system talked to Supabase's REST API; this tool needs the Postgres connection string.
fn check_supabase(config: &Config, env: &BTreeMap<String, String>) -> Result<(), Error> {
    let has_database_url = env.get("DATABASE_URL").is_some_and(|v| !v.is_empty());
    let url = config.database.url.expose();
    let is_postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if has_database_url || is_postgres {
        return Ok(());
    }
    for var in ["SUPABASE_URL", "SUPABASE_SERVICE_KEY"] {
        if env.get(var).is_some_and(|v| !v.is_empty()) {
            return Err(Error::Supabase { var: var.to_string() });
        }
    }
    Ok(())
}
