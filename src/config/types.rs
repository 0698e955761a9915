//! The typed configuration tree: `Config` and the sections of the data path (intervals, retry,
//! api, database). The sections that run and watch the tool are in `operations`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    AlertsConfig, FeaturesConfig, HealthCheckConfig, LocksConfig, LoggingConfig, OrchestratorConfig, QualityConfig,
    SandboxConfig, Secret, defaults,
};

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
            connection_timeout: defaults::DATABASE_CONNECTION_TIMEOUT_SECS,
            query_timeout: defaults::DATABASE_QUERY_TIMEOUT_SECS,
            pool_size: defaults::DATABASE_POOL_SIZE,
            auto_migrate: true,
            busy_timeout: defaults::DATABASE_BUSY_TIMEOUT_SECS,
        }
    }
}
