//! The sections that run and watch the tool beside the data path: alerts, logging, health checks,
//! quality, the orchestrator, features, locks and the sandbox.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Plan, ResultsHistory, Secret, defaults};

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use std::path::Path;

    use super::super::load_from;
    use super::super::testing::*;

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
}
