//! The one typed configuration tree and the one function that loads it.
//!
//! Precedence: built-in defaults < YAML file < environment < command-line flags. Only this module
//! reads the environment. Defaults live in the `defaults` consts below.
//!
//! (The loader, origins, `config show` and `config check` are filled in by issue 2.)

use std::collections::BTreeMap;
use std::path::PathBuf;

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
    pub features: FeaturesConfig,
    pub locks: LocksConfig,
    pub sandbox: SandboxConfig,
}

impl Default for Config {
    fn default() -> Self {
        let interval = |frequency: &str, job: &str, args: &[&str], priority: u32, timeout: u64| {
            IntervalConfig {
                enabled: true,
                frequency: frequency.to_string(),
                timezone: "UTC".to_string(),
                timeout,
                job: job.to_string(),
                args: args.iter().map(|s| s.to_string()).collect(),
                priority,
                misfire: MisfirePolicy::default(),
            }
        };
        let mut intervals = BTreeMap::new();
        intervals.insert(
            "live_data".to_string(),
            interval("*/15 9-20 * * *", "live", &[], 1, 600),
        );
        intervals.insert(
            "daily_data".to_string(),
            interval("0 6 * * *", "daily", &[], 2, 3600),
        );
        intervals.insert(
            "weekly_reconciliation".to_string(),
            interval("0 23 * * 0", "daily", &["--weekly"], 3, 7200),
        );
        intervals.insert(
            "monthly_reference".to_string(),
            interval("0 3 1 * *", "reference", &[], 4, 1800),
        );
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
        Self {
            enabled: true,
            stuck_after: 7200,
            check_api: true,
        }
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
        Self {
            dir: PathBuf::from(defaults::LOCK_DIR),
        }
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

/// What went wrong loading or validating the configuration. Every message names the place
/// (file:line:column, key path or variable) and what to do. Exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
}

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

/// Load the configuration: defaults < YAML file < environment < flags. The one function that does.
pub fn load(opts: &LoadOptions) -> Result<Loaded, Error> {
    let _ = opts;
    Ok(Loaded {
        config: Config::default(),
        origins: BTreeMap::new(),
        warnings: Vec::new(),
        file: None,
    })
}
