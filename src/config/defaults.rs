//! The built-in defaults of the keys whose value other code names too (the rest sit in the
//! `Default` impls of their sections).

pub const API_BASE_URL: &str = "https://api.theracingapi.com/v1";
pub const API_RATE_LIMIT: f64 = 2.0;
pub const API_BURST_ALLOWANCE: u32 = 1;
pub const API_TIMEOUT_SECS: u64 = 30;
pub const RETRY_MAX_ATTEMPTS: u32 = 5;
pub const RETRY_INITIAL_DELAY_SECS: f64 = 1.0;
pub const RETRY_MAX_DELAY_SECS: f64 = 60.0;
pub const RETRY_BACKOFF_FACTOR: f64 = 2.0;
pub const RETRY_STATUS_CODES: [u16; 7] = [408, 429, 500, 502, 503, 504, 520];
pub const DATABASE_URL: &str = "sqlite:darkhorses.db";
pub const DATABASE_SCHEMA: &str = "public";
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
