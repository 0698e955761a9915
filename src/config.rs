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
pub use layer::{PLAIN_ENV, env_name};
pub use render::{check_json, check_line, redact_url, show_human, show_json};

use serde::{Deserialize, Serialize};

/// A secret string: never printed by `Debug` or `Display`, and serialised masked (see
/// [`Secret::masked`]), so no tree, report or `config show` built by serde can carry it in clear.
/// Only [`Secret::expose`] gives the value.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

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
    /// The secret as it may be shown: `""` when unset (so "not set" stays visible), a database URL
    /// with only its password hidden (`postgres://bob:***@db/racing`; a `sqlite:` URL holds
    /// none), anything else `***`.
    pub fn masked(&self) -> String {
        let s = self.0.as_str();
        if s.is_empty() {
            String::new()
        } else if ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| s.starts_with(p)) {
            redact_url(s)
        } else {
            "***".to_string()
        }
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
    /// Seconds a SQLite write waits for another process's write lock before that unit fails.
    pub const DATABASE_BUSY_TIMEOUT_SECS: u64 = 60;
    pub const ALERT_CONSECUTIVE_FAILURES: u32 = 3;
    pub const ALERT_API_ERROR_RATE: f64 = 0.1;
    pub const ALERT_STALE_DATA_HOURS: u32 = 24;
    pub const ALERT_COOLDOWN_MINUTES: u32 = 60;
    pub const LOG_LEVEL: &str = "info";
    pub const LOG_DIR: &str = "logs";
    pub const LOG_RETENTION_DAYS: u32 = 30;
    /// Empty: the per-user default, `$XDG_RUNTIME_DIR/darkhorses`, else
    /// `$HOME/.cache/darkhorses/locks`, else `/tmp/darkhorses-<uid>` (see `super::default_lock_dir`).
    pub const LOCK_DIR: &str = "";
    pub const ENRICH_HORSES_PER_RUN: u32 = 200;
    /// How long the sandbox holds back a `slow` response.
    pub const SANDBOX_SLOW_MS: u64 = 3000;
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
    pub quality: QualityConfig,
    pub orchestrator: OrchestratorConfig,
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
        // Chosen from a simulated racing day (examples/simulate_day.rs, BENCHMARKS.md): live checks
        // every 5 minutes through British racing hours on the UK clock, so evening racing is in
        // the window all year, and spends calls only when the data says so; daily fetches
        // tomorrow's racecards (live keeps today's fresh) and yesterday's results.
        let mut live = interval("*/5 10-22 * * *", "live", &[], 1, 600);
        live.timezone = "Europe/London".to_string();
        intervals.insert("live_data".to_string(), live);
        intervals.insert("daily_data".to_string(), interval("0 6 * * *", "daily", &["--days-ahead", "1"], 2, 3600));
        intervals.insert(
            "weekly_reconciliation".to_string(),
            interval("0 23 * * 0", "daily", &["--weekly", "--results-only"], 3, 7200),
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
            quality: QualityConfig::default(),
            orchestrator: OrchestratorConfig::default(),
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
    /// One run for every slot due: the latest slot runs and covers the earlier ones (a daily job
    /// fetches every missed day); the earlier ones are recorded as skipped, covered by it.
    #[default]
    RunOnce,
    /// Run every missed slot, oldest first.
    RunAll,
    /// Run only the latest slot, and only within `orchestrator.misfire_grace` of its time; every
    /// other slot is recorded as skipped with its reason.
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
    /// Processes using one database share the account's rate limit through it
    /// (docs/api-budget.md); false: each process keeps `rate_limit` on its own.
    pub share_budget: bool,
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
            share_budget: true,
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
    /// `database.busy_timeout` (env `DARKHORSES_DATABASE_BUSY_TIMEOUT`), seconds: how long a
    /// SQLite write waits for the write lock another process holds (logging while it waits)
    /// before that unit fails; the other units go on.
    pub busy_timeout: u64,
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
            busy_timeout: defaults::DATABASE_BUSY_TIMEOUT_SECS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    pub enabled: bool,
    /// Where alerts go: `log`, `webhook:https://...`, `email:ADDRESS` (see src/alerts.rs).
    pub channels: Vec<String>,
    pub thresholds: AlertThresholds,
    pub cooldown_minutes: u32,
    /// The SMTP server `email:` channels send through.
    pub smtp: SmtpConfig,
}

/// How `email:` alerts reach their SMTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Host name of the SMTP server; empty: no `email:` channel can send.
    pub server: String,
    pub port: u16,
    /// Empty: no login.
    pub username: String,
    pub password: Secret,
    /// The sender address.
    pub from: String,
    pub tls: SmtpTls,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            server: String::new(),
            port: 587,
            username: String::new(),
            password: Secret::default(),
            from: "darkhorses@localhost".to_string(),
            tls: SmtpTls::default(),
        }
    }
}

/// Encryption to the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: allowed only to a server on this machine (a local relay, a test server).
    None,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            channels: vec!["log".to_string()],
            thresholds: AlertThresholds::default(),
            cooldown_minutes: defaults::ALERT_COOLDOWN_MINUTES,
            smtp: SmtpConfig::default(),
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
    /// Port on `bind` where `orchestrate --daemon` serves `/livez`, `/metrics`, `/healthz` and the
    /// status page; 0 serves none.
    pub port: u16,
    /// Address the daemon's HTTP endpoint binds: loopback by default, `0.0.0.0` (or `::`) when a
    /// probe comes from outside the host, as the kubelet's does to the pod IP.
    pub bind: std::net::IpAddr,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            stuck_after: 7200,
            check_api: true,
            port: 9187,
            bind: std::net::IpAddr::from([127, 0, 0, 1]),
        }
    }
}

/// `darkhorses quality`: the window it checks, the grace for results, and each family of checks'
/// rule (see docs/quality.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// Racing days checked, today included, when `--since` is not given.
    pub window_days: u32,
    /// Minutes after its off time a race may still lack its result.
    pub result_grace_minutes: u32,
    pub orphans: CheckRule,
    pub duplicates: CheckRule,
    pub missing: CheckRule,
    pub regions: CheckRule,
    pub results: CheckRule,
    pub values: CheckRule,
    pub coverage: CheckRule,
}

/// How a family of quality checks judges what it found: up to `allowed` findings are `ok`, more
/// are `severity` (`ok` makes the family informational).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckRule {
    pub severity: crate::jobs::checks::Level,
    pub allowed: u64,
}

impl Default for CheckRule {
    fn default() -> Self {
        Self { severity: crate::jobs::checks::Level::Critical, allowed: 0 }
    }
}

impl Default for QualityConfig {
    fn default() -> Self {
        use crate::jobs::checks::Level::{Critical, Warning};
        let rule = |severity| CheckRule { severity, allowed: 0 };
        Self {
            window_days: 30,
            result_grace_minutes: 60,
            orphans: rule(Critical),
            duplicates: rule(Critical),
            missing: rule(Warning),
            regions: rule(Warning),
            results: rule(Warning),
            values: rule(Critical),
            coverage: rule(Critical),
        }
    }
}

/// How `darkhorses orchestrate` treats missed slots and a stop signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestratorConfig {
    /// Seconds after its time a slot of a `misfire: skip` interval still runs; older ones are
    /// recorded as skipped.
    pub misfire_grace: u64,
    /// Seconds the daemon gives the job in flight to finish its units after SIGTERM or SIGINT.
    pub shutdown_grace: u64,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self { misfire_grace: 600, shutdown_grace: 60 }
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
    /// `locks.dir` (env `DARKHORSES_LOCKS_DIR`): directory of the lock files, one per job and
    /// database. Empty or unset: the per-user [`default_lock_dir`], never a world-shared one.
    pub dir: PathBuf,
}

impl Default for LocksConfig {
    fn default() -> Self {
        Self { dir: default_lock_dir(&BTreeMap::new()) }
    }
}

/// The per-user lock directory when `locks.dir` is empty or unset: `$XDG_RUNTIME_DIR/darkhorses`
/// (a tmpfs only this user can write, emptied at logout), else `$HOME/.cache/darkhorses/locks`,
/// else `/tmp/darkhorses-<uid>`. A lock file in a directory every user shares would let one
/// user's file block every other user's runs; the lock module creates the directory 0700.
pub fn default_lock_dir(env: &BTreeMap<String, String>) -> PathBuf {
    let absolute = |var: &str| env.get(var).map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(runtime) = absolute("XDG_RUNTIME_DIR") {
        return runtime.join("darkhorses");
    }
    if let Some(home) = absolute("HOME") {
        return home.join(".cache").join("darkhorses").join("locks");
    }
    // The owner of /proc/self is this process's user: std has no getuid, and the uid is stable
    // where a user name from the environment might not be set at all (cron, systemd).
    let uid = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").map(|m| m.uid().to_string()).unwrap_or_else(|_| "unknown".to_string())
    };
    PathBuf::from(format!("/tmp/darkhorses-{uid}"))
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
    /// How far back `/results` serves (`12_months` answers 401 for older dates, as the real API).
    pub results_history: ResultsHistory,
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
            results_history: ResultsHistory::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// How long a `slow` response is held back, in milliseconds.
    pub slow_ms: u64,
}

impl Default for FaultsConfig {
    fn default() -> Self {
        Self {
            server_error: 0.0,
            too_many_requests: 0.0,
            slow: 0.0,
            truncated: 0.0,
            malformed: 0.0,
            dropped: 0.0,
            fail_dates: Vec::new(),
            slow_ms: defaults::SANDBOX_SLOW_MS,
        }
    }
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
    // The one place the process environment is read (clippy.toml bans it elsewhere).
    #[allow(clippy::disallowed_methods)]
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
    let mut config: Config = serde_path_to_error::deserialize(layers.tree.clone()).map_err(|e| {
        let key = e.path().to_string();
        Error::InvalidValue { place: layers.place_of(&key), key, message: e.inner().to_string() }
    })?;
    // The built-in lock directory depends on who runs us: resolved here, from the same snapshot
    // of the environment as every other value.
    if config.locks.dir.as_os_str().is_empty() || layers.origins.get("locks.dir") == Some(&Origin::Default) {
        config.locks.dir = default_lock_dir(env);
    }
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
    let invalid =
        |key: &str, message: String| Error::InvalidValue { key: key.to_string(), place: layers.place_of(key), message };
    for (name, interval) in &config.intervals {
        let key = |field: &str| format!("intervals.{name}.{field}");
        if interval.job.is_empty() {
            return Err(Error::MissingJob {
                interval: name.clone(),
                place: layers.place_of(&format!("intervals.{name}")),
            });
        }
        // Only a registered job can run: `jobs::registry()` is the list.
        let Some(spec) = crate::jobs::find(&interval.job) else {
            return Err(Error::UnknownJob {
                interval: name.clone(),
                job: interval.job.clone(),
                place: layers.place_of(&key("job")),
            });
        };
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
        // The arguments mean what they mean on the command line: parsed by the job's own flags.
        if let Err(e) = (spec.build)(&interval.args) {
            return Err(invalid(&key("args"), format!("{e}; see `darkhorses {} --help`", interval.job)));
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
        ("database.busy_timeout", config.database.busy_timeout),
        ("retry.max_attempts", u64::from(config.retry.max_attempts)),
        ("quality.window_days", u64::from(config.quality.window_days)),
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
    // Each request meets at most one fault, so the shares are parts of one whole.
    let fault_total: f64 = shares[1..].iter().map(|(_, v)| v).sum();
    if fault_total > 1.0 + 1e-9 {
        return Err(invalid(
            "sandbox.faults",
            format!(
                "the fault shares add up to {fault_total}: each request meets at most one fault, so keep their sum at 1 or less"
            ),
        ));
    }
    if config.retry.initial_delay < 0.0 {
        return Err(invalid(
            "retry.initial_delay",
            format!("{} seconds is negative: give 0 or more", config.retry.initial_delay),
        ));
    }
    if config.retry.max_delay < config.retry.initial_delay {
        return Err(invalid(
            "retry.max_delay",
            format!(
                "{} seconds is less than retry.initial_delay ({}): give a max_delay at least as long",
                config.retry.max_delay, config.retry.initial_delay
            ),
        ));
    }
    check_alert_channels(&config.alerts.channels, &invalid)?;
    check_smtp(&config.alerts, &invalid)?;
    let schema = &config.database.schema;
    if !is_identifier(schema) {
        return Err(invalid(
            "database.schema",
            format!(
                "`{schema}` is not a schema name: give letters, digits and underscores, starting with a letter or \
                 underscore, at most 63 characters (for example public or darkhorses)"
            ),
        ));
    }
    // The client's own check (https, or plain http to this machine only), offline and with the
    // key's place: `config check` refuses what the first API call would.
    if let Err(e) = crate::api::client::parse_base_url(&config.api.base_url) {
        let message = e.to_string();
        return Err(invalid("api.base_url", message.trim_start_matches("api.base_url ").to_string()));
    }
    let db = config.database.url.expose();
    if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
        return Err(invalid(
            "database.url",
            "give sqlite:PATH or a postgres://user:password@host:port/db connection string".into(),
        ));
    }
    // A SQLite URL holds no secret, so it can be quoted.
    if db.starts_with("sqlite:") && db.contains('?') {
        return Err(invalid(
            "database.url",
            format!(
                "`{db}`: a SQLite URL is sqlite:PATH alone; options such as ?mode=ro are not supported (the text \
                 would become part of the file name)"
            ),
        ));
    }
    for (i, date) in config.sandbox.faults.fail_dates.iter().enumerate() {
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            return Err(invalid(
                &format!("sandbox.faults.fail_dates[{i}]"),
                format!("`{date}` is not a YYYY-MM-DD date"),
            ));
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

/// Alert channels: `log`, `webhook:URL` (http or https) or `email:ADDRESS`.
fn check_alert_channels(channels: &[String], invalid: &dyn Fn(&str, String) -> Error) -> Result<(), Error> {
    for (i, channel) in channels.iter().enumerate() {
        let key = format!("alerts.channels[{i}]");
        let (kind, target) = channel.split_once(':').unwrap_or((channel.as_str(), ""));
        let problem = match kind {
            "log" if target.is_empty() => None,
            "webhook" => reqwest::Url::parse(target)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .is_none()
                .then(|| format!("`{target}` is not an http:// or https:// URL: write webhook:https://host/path")),
            "email" => {
                let ok = target.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
                (!ok).then(|| format!("`{target}` is not an e-mail address: write email:ops@example.com"))
            }
            _ => Some(format!("`{channel}` is not a channel: give log, webhook:https://... or email:ADDRESS")),
        };
        if let Some(message) = problem {
            return Err(invalid(&key, message));
        }
    }
    Ok(())
}

/// `alerts.smtp`: a server when an `email:` channel is configured, and plain SMTP only to this machine.
fn check_smtp(alerts: &AlertsConfig, invalid: &dyn Fn(&str, String) -> Error) -> Result<(), Error> {
    let smtp = &alerts.smtp;
    let email = alerts.channels.iter().find(|c| c.starts_with("email:"));
    if let Some(channel) = email
        && smtp.server.trim().is_empty()
    {
        return Err(invalid(
            "alerts.smtp.server",
            format!("is empty but alerts.channels has `{channel}`: give the SMTP server's host name"),
        ));
    }
    let loopback = matches!(smtp.server.trim(), "localhost" | "127.0.0.1" | "::1" | "[::1]");
    if smtp.tls == SmtpTls::None && !smtp.server.trim().is_empty() && !loopback {
        return Err(invalid(
            "alerts.smtp.tls",
            format!(
                "none sends the password and the alerts in clear text to {}: use starttls (port 587) or tls (port 465); \
                 none is only for a server on this machine",
                smtp.server
            ),
        ));
    }
    if !smtp.from.contains('@') {
        return Err(invalid("alerts.smtp.from", format!("`{}` is not an e-mail address", smtp.from)));
    }
    Ok(())
}

/// A Postgres identifier that needs no quoting: what `database.schema` may be.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../config/darkhorses.yaml");

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn from_yaml(text: &str) -> Result<Loaded, Error> {
        load_from(Some((Path::new("x.yaml"), text)), &BTreeMap::new(), &[])
    }

    fn from_env(pairs: &[(&str, &str)]) -> Result<Loaded, Error> {
        load_from(None, &env(pairs), &[])
    }

    fn err(result: Result<Loaded, Error>) -> String {
        let message = result.map(|_| ()).unwrap_err().to_string();
        assert!(!message.contains('\n'), "errors are one line: {message}");
        message
    }

    fn file_origin(line: usize) -> Origin {
        Origin::File { path: "x.yaml".into(), line }
    }

    #[test]
    fn defaults_alone_give_the_default_tree_with_an_origin_for_every_leaf() {
        let loaded = from_env(&[]).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.file.is_none());
        assert!(loaded.warnings.is_empty());
        assert!(loaded.origins.values().all(|o| *o == Origin::Default));
        for key in [
            "api.rate_limit",
            "intervals.live_data.timeout",
            "alerts.thresholds.stale_data_hours",
            "sandbox.faults.5xx",
        ] {
            assert!(loaded.origins.contains_key(key), "{key}");
        }
    }

    #[test]
    fn shipped_file_equals_the_defaults_and_lists_every_key() {
        let loaded = load_from(Some((Path::new(DEFAULT_FILE), SHIPPED)), &BTreeMap::new(), &[]).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let missing: Vec<&String> =
            loaded.origins.iter().filter(|(_, o)| !matches!(o, Origin::File { .. })).map(|(k, _)| k).collect();
        assert!(missing.is_empty(), "keys missing from {DEFAULT_FILE}: {missing:?}");
    }

    #[test]
    fn lock_dir_defaults_to_a_per_user_directory_never_shared_tmp() {
        let dir = |pairs: &[(&str, &str)]| from_env(pairs).unwrap().config.locks.dir;
        assert_eq!(
            dir(&[("XDG_RUNTIME_DIR", "/run/user/1000"), ("HOME", "/home/ann")]),
            Path::new("/run/user/1000/darkhorses")
        );
        assert_eq!(dir(&[("HOME", "/home/ann")]), Path::new("/home/ann/.cache/darkhorses/locks"));
        // A relative or empty value is no base for a lock directory.
        assert_eq!(
            dir(&[("XDG_RUNTIME_DIR", "run"), ("HOME", "/home/ann")]),
            Path::new("/home/ann/.cache/darkhorses/locks")
        );
        let fallback = dir(&[]);
        assert!(fallback.to_string_lossy().starts_with("/tmp/darkhorses-"), "{}", fallback.display());
        assert_ne!(fallback, Path::new("/tmp"));
        // Still configurable, and an empty value means the default.
        assert_eq!(dir(&[("DARKHORSES_LOCKS_DIR", "/srv/locks"), ("HOME", "/home/ann")]), Path::new("/srv/locks"));
        let loaded =
            load_from(Some((Path::new("x.yaml"), "locks:\n  dir: \"\"\n")), &env(&[("HOME", "/h")]), &[]).unwrap();
        assert_eq!(loaded.config.locks.dir, Path::new("/h/.cache/darkhorses/locks"));
    }

    #[test]
    fn busy_timeout_is_a_database_key_with_an_env_name() {
        assert_eq!(from_env(&[]).unwrap().config.database.busy_timeout, defaults::DATABASE_BUSY_TIMEOUT_SECS);
        let loaded = from_env(&[("DARKHORSES_DATABASE_BUSY_TIMEOUT", "5")]).unwrap();
        assert_eq!(loaded.config.database.busy_timeout, 5);
        assert_eq!(env_name("database.busy_timeout"), "DARKHORSES_DATABASE_BUSY_TIMEOUT");
        assert!(err(from_env(&[("DARKHORSES_DATABASE_BUSY_TIMEOUT", "0")])).contains("database.busy_timeout"));
    }

    #[test]
    fn quality_rules_are_typed_and_checked_naming_the_key() {
        use crate::jobs::checks::Level;
        let loaded = from_env(&[("DARKHORSES_QUALITY__MISSING__ALLOWED", "3")]).unwrap();
        // A rule given in part keeps the rest of its family's default.
        assert_eq!(loaded.config.quality.missing, CheckRule { severity: Level::Warning, allowed: 3 });
        assert_eq!(loaded.config.quality.orphans, CheckRule { severity: Level::Critical, allowed: 0 });
        let loaded = from_yaml("quality:\n  coverage:\n    severity: ok\n").unwrap();
        assert_eq!(loaded.config.quality.coverage.severity, Level::Ok);
        let message = err(from_env(&[("DARKHORSES_QUALITY__ORPHANS__SEVERITY", "fatal")]));
        assert!(message.starts_with("quality.orphans.severity from environment variable"), "{message}");
        assert!(message.contains("`ok`, `warning`, `critical`"), "{message}");
        assert!(err(from_env(&[("DARKHORSES_QUALITY_WINDOW_DAYS", "0")])).contains("quality.window_days"));
    }

    #[test]
    fn every_shipped_interval_names_a_registered_job_whose_args_parse() {
        let loaded = load_from(Some((Path::new(DEFAULT_FILE), SHIPPED)), &BTreeMap::new(), &[]).unwrap();
        assert!(!loaded.config.intervals.is_empty());
        for (name, interval) in &loaded.config.intervals {
            let spec = crate::jobs::find(&interval.job)
                .unwrap_or_else(|| panic!("interval {name}: job {} is not registered", interval.job));
            let job = (spec.build)(&interval.args).unwrap_or_else(|e| panic!("interval {name}: {e}"));
            assert_eq!(job.name(), interval.job, "interval {name}");
        }
        // The weekly reconciliation is the daily job with its flag.
        let weekly = &loaded.config.intervals["weekly_reconciliation"];
        assert_eq!(
            (weekly.job.as_str(), weekly.args.as_slice()),
            ("daily", &["--weekly".to_string(), "--results-only".to_string()][..])
        );
    }

    #[test]
    fn interval_args_are_checked_by_the_jobs_flags_naming_the_interval() {
        let message = err(from_yaml(
            "intervals:\n  nightly:\n    frequency: '0 1 * * *'\n    job: daily\n    args: [--racecards-only, --results-only]\n",
        ));
        assert!(message.starts_with("intervals.nightly.args in x.yaml:5 is invalid: arguments"), "{message}");
        assert!(message.contains("for job daily") && message.contains("--results-only"), "{message}");
        assert!(message.ends_with("see `darkhorses daily --help`"), "{message}");
        let loaded = from_yaml(
            "intervals:\n  nightly:\n    frequency: '0 1 * * *'\n    job: backfill\n    args: [--months, \"3\", --results-only]\n",
        )
        .unwrap();
        assert_eq!(loaded.config.intervals["nightly"].args, ["--months", "3", "--results-only"]);
    }

    #[test]
    fn shipped_file_comments_every_key() {
        for (i, line) in SHIPPED.lines().enumerate() {
            let trimmed = line.trim();
            let is_leaf = !trimmed.starts_with('#') && !trimmed.is_empty() && !trimmed.ends_with(':');
            assert!(!is_leaf || line.contains(" # "), "line {} has no comment: {line}", i + 1);
        }
    }

    #[test]
    fn file_values_are_typed_and_located() {
        let loaded = from_yaml(
            "# top\napi:\n  rate_limit: 0.5\n  regions: [gb]\n  password: 123456\ndatabase:\n  batch_size: 50\n",
        )
        .unwrap();
        assert_eq!(loaded.config.api.rate_limit, 0.5);
        assert_eq!(loaded.config.api.regions, vec!["gb"]);
        assert_eq!(loaded.config.api.password.expose(), "123456");
        assert_eq!(loaded.config.database.batch_size, 50);
        assert_eq!(loaded.origins["api.rate_limit"], file_origin(3));
        assert_eq!(loaded.origins["api.regions"], file_origin(4));
        assert_eq!(loaded.origins["database.batch_size"], file_origin(7));
        assert_eq!(loaded.origins["api.timeout"], Origin::Default);
        assert_eq!(loaded.file.as_deref(), Some(Path::new("x.yaml")));
    }

    #[test]
    fn integer_values_fill_float_keys() {
        let loaded = from_yaml("api:\n  rate_limit: 1\n").unwrap();
        assert_eq!(loaded.config.api.rate_limit, 1.0);
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let message = err(from_yaml("api:\n  rate_limit: [1, 2\ndatabase: {\n"));
        assert!(message.starts_with("YAML syntax error in x.yaml:"), "{message}");
        let message = err(from_yaml("api:\n  rate_limit: 1\n bad: 2\n"));
        assert!(message.contains("x.yaml:3:"), "{message}");
    }

    #[test]
    fn unknown_keys_name_the_path_and_the_nearest_key() {
        let message = err(from_yaml("api:\n  rate_limt: 1\n"));
        assert_eq!(message, "unknown key api.rate_limt in x.yaml:2; did you mean api.rate_limit?");
        let message = err(from_yaml("databse:\n  url: x\n"));
        assert!(message.contains("unknown key databse in x.yaml:1; did you mean database?"), "{message}");
        let message = err(from_yaml("api:\n  zzzzzzzzzzzzzzzzz: 1\n"));
        assert!(message.contains("valid keys here: base_url, username"), "{message}");
        let message = err(from_yaml("intervals:\n  live_data:\n    frequncy: '* * * * *'\n"));
        assert!(
            message.contains("intervals.live_data.frequncy in x.yaml:3; did you mean intervals.live_data.frequency?")
        );
    }

    #[test]
    fn wrong_types_name_the_key_the_place_and_the_type() {
        let message = err(from_yaml("api:\n  rate_limit: fast\n"));
        assert_eq!(message, "api.rate_limit in x.yaml:2 must be a number, found `fast`");
        let message = err(from_yaml("api:\n  rate_limit: \"0.5\"\n"));
        assert!(message.contains("found the string \"0.5\""), "{message}");
        let message = err(from_yaml("database:\n  batch_size: -5\n"));
        assert!(message.contains("database.batch_size in x.yaml:2 must be a whole number"), "{message}");
        let message = err(from_yaml("alerts:\n  enabled: sometimes\n"));
        assert!(message.contains("alerts.enabled in x.yaml:2 must be a boolean"), "{message}");
        let message = err(from_yaml("retry:\n  retry_status_codes: [429, x]\n"));
        assert!(message.contains("retry.retry_status_codes[1] in x.yaml:2"), "{message}");
        let message = err(from_yaml("api: 3\n"));
        assert!(message.contains("api in x.yaml:1 must be a mapping"), "{message}");
        let message = err(from_yaml("- a\n- b\n"));
        assert!(message.contains("the top level"), "{message}");
    }

    #[test]
    fn control_characters_in_keys_and_values_stay_on_one_line() {
        let message = err(from_yaml("api:\n  \"rate\\nlimit\": 1\n"));
        assert!(message.contains("api.rate\\nlimit"), "{message}");
        let message = err(from_yaml("api:\n  rate_limit: |\n    1\n    2\n"));
        assert!(message.contains("found the string \"1\\n2\\n\""), "{message}");
    }

    #[test]
    fn out_of_range_and_unknown_variants_name_the_key_and_line() {
        let message = err(from_yaml("sandbox:\n  port: 70000\n"));
        assert!(message.starts_with("sandbox.port in x.yaml:2 is invalid:"), "{message}");
        let message = err(from_yaml("api:\n  plan: gold\n"));
        assert!(message.starts_with("api.plan in x.yaml:2 is invalid: unknown variant `gold`"), "{message}");
    }

    #[test]
    fn intervals_in_a_file_replace_the_default_schedule() {
        let loaded = from_yaml(
            "intervals:\n  live_data:\n    timeout: 60\n  nightly:\n    frequency: '0 1 * * *'\n    job: backfill\n",
        )
        .unwrap();
        let names: Vec<&str> = loaded.config.intervals.keys().map(String::as_str).collect();
        assert_eq!(names, ["live_data", "nightly"]);
        let live = &loaded.config.intervals["live_data"];
        assert_eq!(live.timeout, 60);
        assert_eq!(live.frequency, "*/5 10-22 * * *", "an entry named like a default starts from it");
        assert_eq!(loaded.origins["intervals.live_data.timeout"], file_origin(3));
        assert_eq!(loaded.origins["intervals.live_data.frequency"], Origin::Default);
        assert_eq!(loaded.config.intervals["nightly"].priority, IntervalConfig::default().priority);
        assert!(!loaded.origins.keys().any(|k| k.starts_with("intervals.daily_data")));
    }

    #[test]
    fn retention_days_merge_with_the_defaults() {
        let loaded = from_yaml("logging:\n  retention_days:\n    daily_update: 14\n").unwrap();
        let days = &loaded.config.logging.retention_days;
        assert_eq!((days["daily_update"], days["default"], days["live_update"]), (14, 30, 7));
    }

    #[test]
    fn interval_problems_name_the_interval() {
        let message = err(from_yaml("intervals:\n  x:\n    frequency: '0 1 * * *'\n    job: dialy\n"));
        assert_eq!(
            message,
            "unknown job `dialy` for interval x in x.yaml:4; valid jobs: reference, daily, live, backfill, rebuild, health, quality"
        );
        // A registered checking job is a valid interval, its args parsed by its own flags.
        let health =
            from_yaml("intervals:\n  x:\n    frequency: '*/15 * * * *'\n    job: health\n    args: [--offline]\n");
        assert!(health.is_ok_and(|l| l.config.intervals["x"].job == "health"));
        let loaded = from_yaml(
            "intervals:\n  data_quality:\n    frequency: '0 7 * * *'\n    job: quality\n    args: [--calendar]\n",
        );
        assert_eq!(loaded.unwrap().config.intervals["data_quality"].job, "quality");
        let message = err(from_yaml(
            "intervals:\n  x:\n    frequency: '0 7 * * *'\n    job: quality\n    args: [--since, soon]\n",
        ));
        assert!(message.starts_with("intervals.x.args in x.yaml:5 is invalid: arguments"), "{message}");
        let message = err(from_yaml("intervals:\n  x:\n    frequency: '0 1 * * *'\n"));
        assert!(message.contains("interval x") && message.contains("names no job"), "{message}");
        let message = err(from_yaml(
            "intervals:\n  x:\n    frequency: '0 1 * * *'\n    job: daily\n    timezone: Mars/Olympus\n",
        ));
        assert!(message.starts_with("invalid time zone `Mars/Olympus` for interval x in x.yaml:5"), "{message}");
        let message = err(from_yaml("intervals:\n  x:\n    job: daily\n"));
        assert!(message.contains("intervals.x.frequency"), "{message}");
        let message = err(from_yaml("intervals:\n  a.b:\n    job: daily\n"));
        assert!(message.contains("intervals.a.b in x.yaml:2"), "{message}");
    }

    #[test]
    fn seed_era_scripts_map_to_jobs_with_a_warning() {
        let text = "intervals:\n  daily:\n    script: scripts/update_daily_data.py\n    frequency: '0 6 * * *'\n    args: --days-ahead 3\n  history:\n    script: scripts/initialize_12months.py\n    frequency: '0 2 * * *'\n";
        let loaded = from_yaml(text).unwrap();
        let daily = &loaded.config.intervals["daily"];
        assert_eq!(daily.job, "daily");
        assert_eq!(daily.args, ["--days-ahead", "3"]);
        assert_eq!(loaded.origins["intervals.daily.job"], file_origin(3));
        let history = &loaded.config.intervals["history"];
        assert_eq!(history.job, "backfill");
        assert_eq!(history.args, ["--months", "12"]);
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("write `job: daily` instead"), "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[1].contains("write `job: backfill` and `args: [--months, 12]`"),
            "{:?}",
            loaded.warnings
        );
        for (script, job) in [
            ("update_live_data.py", "live"),
            ("update_reference_data.py", "reference"),
            ("initialize_data.py", "backfill"),
        ] {
            let loaded = from_yaml(&format!(
                "intervals:\n  x:\n    script: python3 scripts/{script}\n    frequency: '0 1 * * *'\n"
            ))
            .unwrap();
            assert_eq!(loaded.config.intervals["x"].job, job);
        }
    }

    #[test]
    fn unknown_scripts_are_errors_naming_them() {
        let message = err(from_yaml("intervals:\n  x:\n    script: scripts/do_magic.py\n    frequency: '0 1 * * *'\n"));
        assert!(message.starts_with("unknown script `scripts/do_magic.py` for interval x in x.yaml:3"), "{message}");
    }

    #[test]
    fn environment_sets_the_documented_keys() {
        let loaded = from_env(&[
            ("RACING_API_USERNAME", "007"),
            ("RACING_API_PASSWORD", "123456"),
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("DARKHORSES_API_RATE_LIMIT", "0.5"),
            ("DARKHORSES_DATABASE_BATCH_SIZE", "250"),
            ("DARKHORSES_ALERTS_ENABLED", "no"),
            ("DARKHORSES_FEATURES_DRY_RUN", "1"),
            ("DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT", "60"),
            ("DARKHORSES_ALERTS__THRESHOLDS__STALE_DATA_HOURS", "6"),
            ("DARKHORSES_API_REGIONS", "gb"),
            ("DARKHORSES_SANDBOX_PASSWORD", "007"),
        ])
        .unwrap();
        let c = &loaded.config;
        assert_eq!(c.api.username.expose(), "007");
        assert_eq!(c.api.password.expose(), "123456");
        assert_eq!(c.database.url.expose(), "postgres://u:p@localhost/db");
        assert_eq!(c.api.rate_limit, 0.5);
        assert_eq!(c.database.batch_size, 250);
        assert!(!c.alerts.enabled);
        assert!(c.features.dry_run);
        assert_eq!(c.intervals["live_data"].timeout, 60);
        assert_eq!(c.alerts.thresholds.stale_data_hours, 6);
        assert_eq!(c.api.regions, ["gb"]);
        assert_eq!(c.sandbox.password.expose(), "007");
        assert_eq!(loaded.origins["api.rate_limit"], Origin::Env { var: "DARKHORSES_API_RATE_LIMIT".into() });
        assert_eq!(loaded.origins["api.password"], Origin::Env { var: "RACING_API_PASSWORD".into() });
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn darkhorses_logging_level_overrides_log_level() {
        let loaded = from_env(&[("LOG_LEVEL", "debug")]).unwrap();
        assert_eq!(loaded.config.logging.level, "debug");
        let loaded = from_env(&[("LOG_LEVEL", "debug"), ("DARKHORSES_LOGGING_LEVEL", "warn")]).unwrap();
        assert_eq!(loaded.config.logging.level, "warn");
        assert_eq!(loaded.origins["logging.level"], Origin::Env { var: "DARKHORSES_LOGGING_LEVEL".into() });
        let message = err(from_env(&[("LOG_LEVEL", "loud")]));
        assert!(message.starts_with("logging.level from environment variable LOG_LEVEL is invalid"), "{message}");
    }

    #[test]
    fn unknown_darkhorses_variables_are_warned_about_by_name() {
        let loaded =
            from_env(&[("DARKHORSES_API_RATE_LIMT", "1"), ("DARKHORSES_TEST_DATABASE_URL", "x"), ("OTHER", "1")])
                .unwrap();
        assert_eq!(
            loaded.warnings,
            [
                "environment variable DARKHORSES_API_RATE_LIMT names no config key and is ignored; did you mean DARKHORSES_API_RATE_LIMIT?"
            ]
        );
    }

    #[test]
    fn environment_type_errors_name_the_variable() {
        let message = err(from_env(&[("DARKHORSES_API_RATE_LIMIT", "fast")]));
        assert_eq!(
            message,
            "api.rate_limit from environment variable DARKHORSES_API_RATE_LIMIT must be a number, found `fast`"
        );
        let message = err(from_env(&[("DARKHORSES_SANDBOX_PORT", "99999")]));
        assert!(
            message.starts_with("sandbox.port from environment variable DARKHORSES_SANDBOX_PORT is invalid"),
            "{message}"
        );
    }

    #[test]
    fn empty_variables_are_ignored() {
        let loaded = from_env(&[("RACING_API_PASSWORD", ""), ("DARKHORSES_API_RATE_LIMIT", "")]).unwrap();
        assert_eq!(loaded.config, Config::default());
    }

    #[test]
    fn environment_beats_the_file_and_flags_beat_both() {
        let flags = [FlagOverride { key: "logging.format".into(), value: "json".into(), flag: "--log-format".into() }];
        let file = "logging:\n  format: human\n  level: debug\napi:\n  rate_limit: 1.5\n";
        let loaded = load_from(
            Some((Path::new("x.yaml"), file)),
            &env(&[("DARKHORSES_LOGGING_FORMAT", "human"), ("DARKHORSES_API_RATE_LIMIT", "0.5")]),
            &flags,
        )
        .unwrap();
        assert_eq!(loaded.config.logging.format, LogFormat::Json);
        assert_eq!(loaded.origins["logging.format"], Origin::Flag { flag: "--log-format".into() });
        assert_eq!(loaded.config.api.rate_limit, 0.5);
        assert_eq!(loaded.config.logging.level, "debug");
        assert_eq!(loaded.origins["logging.level"], file_origin(3));
    }

    #[test]
    fn flags_are_typed_and_checked() {
        let flag = |key: &str, value: serde_json::Value| FlagOverride { key: key.into(), value, flag: "--x".into() };
        let loaded = load_from(
            None,
            &BTreeMap::new(),
            &[flag("features.dry_run", true.into()), flag("sandbox.port", "9000".into())],
        )
        .unwrap();
        assert!(loaded.config.features.dry_run);
        assert_eq!(loaded.config.sandbox.port, 9000);
        let message = err(load_from(None, &BTreeMap::new(), &[flag("sandbox.port", "x".into())]));
        assert!(message.contains("from flag --x"), "{message}");
        let message = err(load_from(None, &BTreeMap::new(), &[flag("no.such", true.into())]));
        assert!(message.contains("unknown config key no.such"), "{message}");
    }

    #[test]
    fn supabase_variables_without_a_postgres_url_explain_what_is_needed() {
        let message = err(from_env(&[("SUPABASE_URL", "https://x.supabase.co")]));
        assert!(message.contains("Project Settings > Database > Connection string"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(from_env(&[("SUPABASE_URL", "https://x.supabase.co"), ("DATABASE_URL", "postgres://h/db")]).is_ok());
        let file = "database:\n  url: postgresql://u@h/db\n";
        assert!(load_from(Some((Path::new("x.yaml"), file)), &env(&[("SUPABASE_SERVICE_KEY", "k")]), &[]).is_ok());
    }

    #[test]
    fn other_values_are_validated() {
        let message = err(from_yaml("api:\n  rate_limit: 0\n"));
        assert!(message.starts_with("api.rate_limit in x.yaml:2 is invalid"), "{message}");
        let message = err(from_yaml("database:\n  url: mysql://x\n"));
        assert!(message.starts_with("database.url in x.yaml:2 is invalid"), "{message}");
        assert!(!message.contains("mysql://x"), "the URL may hold a password: {message}");
        let message = err(from_yaml("sandbox:\n  faults:\n    5xx: 2\n"));
        assert!(message.starts_with("sandbox.faults.5xx in x.yaml:3 is invalid"), "{message}");
        let message = err(from_yaml("sandbox:\n  faults:\n    fail_dates: [2026-02-30]\n"));
        assert!(message.contains("sandbox.faults.fail_dates[0] in x.yaml:3"), "{message}");
    }

    #[test]
    fn missing_named_file_is_an_error_naming_it() {
        let opts = LoadOptions { path: Some("/nonexistent/dh.yaml".into()), flags: Vec::new() };
        let message = load(&opts).map(|_| ()).unwrap_err().to_string();
        assert!(message.starts_with("config file /nonexistent/dh.yaml not found"), "{message}");
    }

    #[test]
    fn show_prints_origins_and_hides_secrets() {
        let loaded = load_from(
            Some((Path::new("x.yaml"), "api:\n  timeout: 9\n")),
            &env(&[
                ("DARKHORSES_API_RATE_LIMIT", "0.5"),
                ("RACING_API_PASSWORD", "hunter2"),
                ("RACING_API_USERNAME", "alice-hunter2"),
                ("DATABASE_URL", "postgres://bob:hunter2@db:5432/racing"),
            ]),
            &[],
        )
        .unwrap();
        let text = show_human(&loaded);
        assert!(text.contains("api.rate_limit: 0.5  (env DARKHORSES_API_RATE_LIMIT)\n"), "{text}");
        assert!(text.contains("api.timeout: 9  (x.yaml:2)\n"), "{text}");
        assert!(text.contains("api.max_retries: 5  (default)\n"), "{text}");
        assert!(text.contains("api.password: ***  (env RACING_API_PASSWORD)\n"), "{text}");
        assert!(text.contains("database.url: postgres://bob:***@db:5432/racing  (env DATABASE_URL)\n"), "{text}");
        assert!(text.contains("api.regions: [gb, ire]  (default)\n"), "{text}");
        let json = show_json(&loaded).to_string();
        assert!(
            json.contains(
                r#""api.rate_limit":{"value":0.5,"origin":{"kind":"env","var":"DARKHORSES_API_RATE_LIMIT"}}"#
            ),
            "{json}"
        );
        for out in [&text, &json, &format!("{loaded:?}")] {
            assert!(!out.contains("hunter2"), "{out}");
        }
        assert_eq!(text.lines().count(), loaded.origins.len());
    }

    #[test]
    fn check_names_the_file_or_the_defaults() {
        assert_eq!(check_line(&from_env(&[]).unwrap()), "configuration OK: defaults (no config file)");
        assert_eq!(check_line(&from_yaml("").unwrap()), "configuration OK: x.yaml");
    }

    #[test]
    fn mangled_files_give_errors_not_panics() {
        // Deterministic mutations of the shipped file: every one loads or fails with a one-line error.
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet: Vec<char> = " \t\n:-[]{}#&*!|>'\"%@`,?0123456789abc".chars().collect();
        for _ in 0..1000 {
            let mut chars: Vec<char> = SHIPPED.chars().collect();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..chars.len());
                match rng.u8(..3) {
                    0 => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, alphabet[rng.usize(..alphabet.len())]),
                    _ => chars[at] = alphabet[rng.usize(..alphabet.len())],
                }
            }
            let text: String = chars.into_iter().collect();
            if let Err(e) = load_from(Some((Path::new("x.yaml"), &text)), &BTreeMap::new(), &[]) {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
}
