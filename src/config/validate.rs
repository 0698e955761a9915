//! What is checked beyond types once the tree is built: schedules and jobs, ranges, shares, URLs,
//! alert channels, the SMTP server, the schema name, and Supabase-era variables.

use std::collections::BTreeMap;

use super::layer::Layers;
use super::{AlertsConfig, Config, Error, SmtpTls};

/// Everything that can be checked offline beyond types: schedules, jobs, ranges, URLs.
pub(super) fn validate(config: &Config, layers: &Layers) -> Result<(), Error> {
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
pub(super) fn check_supabase(config: &Config, env: &BTreeMap<String, String>) -> Result<(), Error> {
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
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::super::testing::*;
    use super::super::{CheckRule, DEFAULT_FILE, load_from};

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
}
