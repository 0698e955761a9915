//! Inputs that used to be accepted and fail later, and messages that misled (issue 15, item 9):
//! each is refused up front with exit 2 and one line naming the key, flag or value, or now says
//! what is really wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use tempfile::TempDir;

use super::acceptance::{darkhorses, run};
use super::faults::report_counts;

/// `config check` on a file holding `yaml`: exit 2, one error line holding every `wanted`.
fn check_rejects(yaml: &str, wanted: &[&str]) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, yaml).unwrap();
    let r = run(darkhorses(dir.path()).arg("--config").arg(&path).args(["config", "check"]));
    assert_eq!(r.code, 2, "{yaml}: stdout {} stderr {}", r.stdout, r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    for w in wanted {
        assert!(r.stderr.contains(w), "wanted {w:?} in {}", r.stderr);
    }
}

#[test]
fn config_check_rejects_interval_args_the_job_does_not_take() {
    check_rejects(
        "intervals:\n  nightly:\n    job: daily\n    frequency: \"0 6 * * *\"\n    args: [--bogus]\n",
        &["intervals.nightly.args", "bad.yaml:5", "--bogus"],
    );
    check_rejects(
        "intervals:\n  nightly:\n    job: daily\n    frequency: \"0 6 * * *\"\n    args: [--days-ahead, \"30\"]\n",
        &["intervals.nightly.args", "30"],
    );
}

#[test]
fn config_check_rejects_unknown_alert_channels() {
    check_rejects("alerts:\n  channels: [log, sms]\n", &["alerts.channels[1]", "`sms`", "webhook:https://"]);
}

#[test]
fn config_check_rejects_a_webhook_that_is_not_a_url() {
    check_rejects("alerts:\n  channels: [\"webhook:hooks.example.com/x\"]\n", &["alerts.channels[0]", "not an http"]);
    check_rejects("alerts:\n  channels: [\"email:nobody\"]\n", &["alerts.channels[0]", "e-mail address"]);
}

#[test]
fn config_check_rejects_fault_shares_adding_up_to_more_than_one() {
    check_rejects("sandbox:\n  faults:\n    5xx: 0.6\n    429: 0.5\n", &["sandbox.faults", "add up to 1.1"]);
}

#[test]
fn config_check_blames_retry_initial_delay_when_it_is_negative() {
    check_rejects("retry:\n  initial_delay: -1\n", &["retry.initial_delay in", "bad.yaml:2", "negative"]);
    check_rejects("retry:\n  initial_delay: 5\n  max_delay: 2\n", &["retry.max_delay in", "bad.yaml:3"]);
}

#[test]
fn an_empty_schema_variable_is_an_error_not_the_public_schema() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DARKHORSES_DATABASE_SCHEMA", "").args(["config", "check"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("DARKHORSES_DATABASE_SCHEMA") && r.stderr.contains("empty"), "{}", r.stderr);
    // Other empty variables are ignored, but said so.
    let r = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", "").args(["config", "check"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("DARKHORSES_API_RATE_LIMIT is set but empty"), "{}", r.stderr);
    check_rejects("database:\n  schema: \"my schema\"\n", &["database.schema", "not a schema name"]);
}

#[test]
fn sqlite_urls_with_query_options_are_refused_not_made_into_file_names() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DATABASE_URL", "sqlite:x.db?mode=ro").args(["db", "status"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("database.url") && r.stderr.contains("?mode=ro"), "{}", r.stderr);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(files.is_empty(), "created {files:?}");
}

#[test]
fn out_of_range_day_counts_are_usage_errors_naming_the_flag() {
    let dir = TempDir::new().unwrap();
    for args in [["daily", "--days-ahead", "100000000"], ["daily", "--days-back", "100000000"]] {
        let r = run(darkhorses(dir.path()).arg("--sandbox").args(args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(args[1]) && r.stderr.contains("100000000"), "{}", r.stderr);
    }
    assert!(!dir.path().join("darkhorses.db").exists(), "a refused command created a database");
}

#[test]
fn backfill_months_zero_names_months_not_from() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args(["--sandbox", "backfill", "--months", "0"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--months") && !r.stderr.contains("--from"), "{}", r.stderr);
}

#[test]
fn future_results_are_said_not_to_exist_yet_not_to_be_too_old() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args([
        "--sandbox",
        "--now",
        "2026-06-10T13:00:00Z",
        "backfill",
        "--results-only",
        "--from",
        "2026-06-08",
        "--to",
        "2026-06-20",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("2026-06-11..2026-06-20") && all.contains("do not exist yet"), "{all}");
    assert!(!all.contains("12 months"), "future dates blamed on the history: {all}");
}

#[test]
fn plan_warnings_are_logged_once() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args([
        "--sandbox",
        "--now",
        "2026-06-10T13:00:00Z",
        "backfill",
        "--racecards-only",
        "--from",
        "2026-06-09",
        "--to",
        "2026-06-30",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warned = r.stderr.lines().filter(|l| l.contains("racecards 2026-06-18..2026-06-30 skipped")).count();
    assert_eq!(warned, 1, "{}", r.stderr);
}

#[test]
fn a_rejected_login_on_courses_blames_the_credentials_not_the_plan() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path())
        .env("DARKHORSES_SANDBOX_USERNAME", "right")
        .env("DARKHORSES_SANDBOX_PASSWORD", "right")
        .env("RACING_API_USERNAME", "wrong")
        .env("RACING_API_PASSWORD", "wrong")
        .args(["--sandbox", "reference", "--courses-only"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let line = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(line.contains("credentials rejected"), "{}", r.stderr);
    assert!(!line.contains("Pro") && !line.contains("racecards"), "a 401 on /courses blamed the plan: {line}");
}

#[test]
fn schedule_job_tz_shows_the_jobs_own_fire_times_in_that_zone() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args([
        "schedule",
        "--job",
        "daily_data",
        "--tz",
        "Europe/London",
        "--after",
        "2026-06-01T00:00:00Z",
        "--count",
        "1",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // daily_data fires at 06:00 UTC: 07:00 in London summer time, not 06:00+01:00.
    assert_eq!(r.stdout.trim(), "2026-06-01T07:00:00+01:00", "{}", r.stdout);
}

#[test]
fn a_database_migrated_by_a_newer_release_is_refused_by_name() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args(["db", "migrate"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let db = dir.path().join("darkhorses.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (99, 'from_the_future', 'ab', \
         '2030-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    drop(conn);
    let r = run(darkhorses(dir.path()).args(["--sandbox", "daily"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("0099_from_the_future") && r.stderr.contains("upgrade darkhorses"), "{}", r.stderr);
}

#[test]
fn a_sqlite_file_in_a_missing_directory_is_refused_not_created() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DATABASE_URL", "sqlite:nonexistent/dir/x.db").args(["--sandbox", "daily"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("directory nonexistent/dir does not exist"), "{}", r.stderr);
    assert!(!dir.path().join("nonexistent").exists(), "the typo's directory was created");
}

#[test]
fn db_status_reports_a_missing_database_without_creating_it() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args(["db", "status"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("does not exist yet") && r.stdout.contains("0 applied"), "{}", r.stdout);
    assert!(!dir.path().join("darkhorses.db").exists(), "db status created the database");
}

#[test]
fn a_dry_run_creates_no_database_and_counts_what_a_first_run_writes() {
    let dir = TempDir::new().unwrap();
    let dry = run(darkhorses(dir.path()).args([
        "--sandbox",
        "--now",
        "2026-06-10T13:00:00Z",
        "--json",
        "daily",
        "--dry-run",
    ]));
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!files.iter().any(|f| f.to_string_lossy().starts_with("darkhorses.db")), "created {files:?}");
    let real = run(darkhorses(dir.path()).args(["--sandbox", "--now", "2026-06-10T13:00:00Z", "--json", "daily"]));
    assert_eq!(real.code, 0, "{}", real.stderr);
    let rows = |out: &str| serde_json::from_str::<serde_json::Value>(out).unwrap()["rows"].clone();
    assert_eq!(rows(&dry.stdout), rows(&real.stdout), "the dry run's counts differ from the real run's");
}

#[test]
fn a_dry_run_on_a_database_with_migrations_pending_says_to_migrate_first() {
    let dir = TempDir::new().unwrap();
    assert_eq!(run(darkhorses(dir.path()).args(["db", "migrate"])).code, 0);
    let db = dir.path().join("darkhorses.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let last: i64 = conn.query_row("SELECT max(version) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    conn.execute("DELETE FROM schema_migrations WHERE version = ?1", [last]).unwrap();
    drop(conn);
    let r = run(darkhorses(dir.path()).args(["--sandbox", "daily", "--dry-run"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("darkhorses db migrate") && r.stderr.contains("pending"), "{}", r.stderr);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 =
        conn.query_row("SELECT count(*) FROM schema_migrations WHERE version = ?1", [last], |r| r.get(0)).unwrap();
    assert_eq!(n, 0, "the dry run migrated the database");
}

#[test]
fn a_rerun_with_nothing_new_reports_no_row_updated() {
    // A non-runner's card names its booked jockey "NON-RUNNER": that label must not rename the
    // jockey each time racecards and results take turns.
    let dir = TempDir::new().unwrap();
    let args = ["--sandbox", "--now", "2026-06-10T13:00:00Z", "--json", "daily"];
    assert_eq!(run(darkhorses(dir.path()).args(args)).code, 0);
    let again = run(darkhorses(dir.path()).args(args));
    assert_eq!(again.code, 0, "{}", again.stderr);
    let report: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let changed: Vec<String> = report["rows"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, c)| c["inserted"] != 0 || c["updated"] != 0)
        .map(|(table, c)| format!("{table} {c}"))
        .collect();
    assert!(changed.is_empty(), "a rerun with nothing new changed rows: {changed:?}");
    let conn = rusqlite::Connection::open(dir.path().join("darkhorses.db")).unwrap();
    let labels: i64 =
        conn.query_row("SELECT count(*) FROM jockeys WHERE name LIKE 'NON-RUNNER%'", [], |r| r.get(0)).unwrap();
    assert_eq!(labels, 0);
}

// ---------------------------------------------------------------------------------------------
// The bad-input table (issue 12, item 4): every way of getting the configuration or the command
// line wrong that we could think of, each with the exit code and the words that name the thing.

/// One bad input: a config file (`None`: no file), environment, the command line, and what the
/// one `error:` line must hold.
struct Bad {
    yaml: Option<&'static str>,
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    code: i32,
    wanted: &'static [&'static str],
}

/// `config check` on a file holding `yaml`.
const fn file(yaml: &'static str, wanted: &'static [&'static str]) -> Bad {
    Bad { yaml: Some(yaml), env: &[], args: &["config", "check"], code: 2, wanted }
}

/// `config check` with one variable set.
const fn env(env: &'static [(&'static str, &'static str)], wanted: &'static [&'static str]) -> Bad {
    Bad { yaml: None, env, args: &["config", "check"], code: 2, wanted }
}

/// A command line that is refused before anything runs.
const fn cli(args: &'static [&'static str], wanted: &'static [&'static str]) -> Bad {
    Bad { yaml: None, env: &[], args, code: 2, wanted }
}

const BAD_INPUTS: &[Bad] = &[
    // YAML syntax and shape
    file("api: [unclosed\n", &["YAML syntax error", "bad.yaml:2"]),
    file("api:\n  rate_limit: 2\n   timeout: 3\n", &["bad.yaml:"]),
    file("- a\n- b\n", &["top level", "mapping"]),
    file("api: 5\n", &["api in", "bad.yaml:1", "mapping"]),
    file("api:\n  rate_limit: 1\napi:\n  rate_limit: 2\n", &["api", "bad.yaml:3"]),
    // types
    file("api:\n  rate_limit: fast\n", &["api.rate_limit", "bad.yaml:2", "number", "`fast`"]),
    file("api:\n  timeout: 1.5\n", &["api.timeout", "bad.yaml:2"]),
    file("locks:\n  dir: [a]\n", &["locks.dir", "string", "list"]),
    file("database:\n  auto_migrate: maybe\n", &["database.auto_migrate", "bad.yaml:2"]),
    file("logging:\n  retention_days: -5\n", &["logging.retention_days", "mapping"]),
    file(
        "intervals:\n  x:\n    job: daily\n    frequency: \"0 6 * * *\"\n    misfire: sometimes\n",
        &["intervals.x.misfire", "`sometimes`", "run_once"],
    ),
    // unknown keys
    file("api:\n  rate_limt: 2\n", &["unknown key api.rate_limt", "bad.yaml:2", "api.rate_limit"]),
    file("apii:\n  x: 1\n", &["unknown key apii", "did you mean api"]),
    file("retry:\n  status_codes: [500]\n", &["retry.status_codes", "retry.retry_status_codes"]),
    file("intervals:\n  x:\n    job: daily\n    frequncy: \"0 6 * * *\"\n", &["intervals.x.frequncy"]),
    // schedules: cron, zones, jobs
    file(
        "intervals:\n  x:\n    job: daily\n    frequency: \"61 * * * *\"\n",
        &["cron", "`61 * * * *`", "interval x", "bad.yaml:4", "minute"],
    ),
    file("intervals:\n  x:\n    job: daily\n    frequency: \"* *\"\n", &["cron", "interval x", "5 fields"]),
    file("intervals:\n  x:\n    job: daily\n    frequency: \"0 6 31 2 *\"\n", &["interval x"]),
    file(
        "intervals:\n  x:\n    job: daily\n    frequency: \"0 6 * * *\"\n    timezone: Mars/Base\n",
        &["time zone `Mars/Base`", "interval x", "IANA"],
    ),
    file(
        "intervals:\n  x:\n    job: daily\n    frequency: \"0 6 * * *\"\n    timezone: \"+01:00\"\n",
        &["time zone", "interval x"],
    ),
    file(
        "intervals:\n  x:\n    job: nosuch\n    frequency: \"0 6 * * *\"\n",
        &["unknown job `nosuch`", "interval x", "valid jobs"],
    ),
    file("intervals:\n  x:\n    frequency: \"0 6 * * *\"\n", &["interval", "x", "job"]),
    // zero and negative limits
    file("api:\n  rate_limit: 0\n", &["api.rate_limit", "more than 0"]),
    file("api:\n  rate_limit: -1\n", &["api.rate_limit", "-1"]),
    file("api:\n  timeout: 0\n", &["api.timeout", "1 or more"]),
    file("database:\n  pool_size: 0\n", &["database.pool_size", "1 or more"]),
    file("database:\n  batch_size: 0\n", &["database.batch_size", "1 or more"]),
    file("database:\n  busy_timeout: 0\n", &["database.busy_timeout", "1 or more"]),
    file("retry:\n  max_attempts: -1\n", &["retry.max_attempts", "0 or more", "`-1`"]),
    file("retry:\n  initial_delay: -1\n", &["retry.initial_delay", "negative"]),
    file("orchestrator:\n  misfire_grace: -3\n", &["orchestrator.misfire_grace", "`-3`"]),
    file(
        "intervals:\n  x:\n    job: daily\n    frequency: \"0 6 * * *\"\n    timeout: 0\n",
        &["intervals.x.timeout", "more than 0"],
    ),
    file("sandbox:\n  faults:\n    5xx: 1.5\n", &["sandbox.faults.5xx"]),
    // schema names
    file("database:\n  schema: \"drop table\"\n", &["database.schema", "`drop table`", "not a schema name"]),
    file("database:\n  schema: \"1abc\"\n", &["database.schema", "`1abc`"]),
    file("database:\n  schema: \"public; DROP TABLE races\"\n", &["database.schema", "not a schema name"]),
    file(
        "database:\n  schema: \"s234567890123456789012345678901234567890123456789012345678901234\"\n",
        &["database.schema", "at most 63"],
    ),
    env(&[("DARKHORSES_DATABASE_SCHEMA", "a\"b")], &["database.schema", "DARKHORSES_DATABASE_SCHEMA"]),
    // URLs
    file("api:\n  base_url: \"not a url\"\n", &["api.base_url", "not a URL"]),
    file("api:\n  base_url: \"http://api.example.com/v1\"\n", &["api.base_url", "plain http", "use https"]),
    file("api:\n  base_url: \"http://10.1.2.3/v1\"\n", &["api.base_url", "plain http"]),
    file("api:\n  base_url: \"ftp://127.0.0.1/v1\"\n", &["api.base_url", "\"ftp\""]),
    file("api:\n  base_url: \"https://api.example.com/v1?key=1\"\n", &["api.base_url", "query"]),
    file("database:\n  url: \"mysql://u@h/db\"\n", &["database.url", "sqlite:PATH", "postgres://"]),
    env(&[("DATABASE_URL", "sqlite:x.db?mode=ro")], &["database.url", "?mode=ro"]),
    file("alerts:\n  channels: [\"webhook:ftp://x\"]\n", &["alerts.channels[0]"]),
    // other values
    file("logging:\n  level: loud\n", &["logging.level", "`loud`", "trace, debug, info, warn or error"]),
    env(&[("LOG_LEVEL", "loud")], &["logging.level", "LOG_LEVEL", "`loud`"]),
    env(&[("DARKHORSES_API_RATE_LIMIT", "abc")], &["api.rate_limit", "DARKHORSES_API_RATE_LIMIT", "`abc`"]),
    env(
        &[("DARKHORSES_INTERVALS__LIVE_DATA__FREQUENCY", "* *")],
        &["cron", "live_data", "DARKHORSES_INTERVALS__LIVE_DATA__FREQUENCY"],
    ),
    env(&[("DARKHORSES_DATABASE_SCHEMA", "")], &["DARKHORSES_DATABASE_SCHEMA", "empty"]),
    // the command line
    cli(&["nosuch"], &["unrecognized subcommand", "nosuch"]),
    cli(&["daily", "--bogus"], &["--bogus"]),
    cli(&["daily", "--days-ahead", "abc"], &["--days-ahead", "'abc'"]),
    cli(&["daily", "--days-ahead", "99"], &["--days-ahead", "99", "0..=7"]),
    cli(&["daily", "--days-back", "-1"], &["-1"]),
    cli(&["backfill", "--from", "2026-13-01"], &["--from", "2026-13-01"]),
    cli(&["backfill", "--months", "0"], &["--months", "'0'"]),
    cli(&["daily"], &["RACING_API_USERNAME", "RACING_API_PASSWORD"]),
    cli(&["--now", "yesterday", "daily"], &["--now", "'yesterday'"]),
    cli(&["--log-format", "xml", "daily"], &["--log-format", "'xml'", "human, json"]),
    cli(
        &["--config", "/nonexistent/darkhorses.yaml", "config", "check"],
        &["/nonexistent/darkhorses.yaml", "not found"],
    ),
    cli(&["schedule", "bad cron"], &["cron", "'bad cron'", "5 fields"]),
    cli(&["schedule", "0 6 * * *", "--tz", "Mars/Base"], &["'Mars/Base'", "IANA"]),
    cli(&["schedule", "--job", "nosuch"], &["nosuch"]),
    cli(&["orchestrate", "--update", "nosuch"], &["--update nosuch", "no interval", "live_data"]),
    cli(&["orchestrate", "--simulate"], &["--from", "--to"]),
    cli(&["orchestrate", "--simulate", "--from", "2026-03-30T00:00:00Z", "--to", "2026-03-28T00:00:00Z"], &["--from"]),
    cli(&["orchestrate", "--force-all", "--update", "live_data"], &["--force-all", "--update"]),
    cli(&["sandbox", "--port", "99999"], &["--port", "99999"]),
    cli(&["sandbox", "--fault", "5xx=2"], &["--fault", "5xx=2", "between 0 and 1"]),
    cli(&["sandbox", "--fault", "teapot=0.1"], &["--fault", "teapot"]),
    cli(&["sandbox", "--plan", "gold"], &["--plan", "gold"]),
    cli(&["db", "nosuch"], &["nosuch"]),
    cli(&["-q", "-v", "daily", "--dry-run", "--days-ahead", "8"], &["--days-ahead", "8"]),
];

#[test]
fn every_bad_input_in_the_table_exits_with_its_code_and_names_the_thing() {
    let mut failures = Vec::new();
    for (i, bad) in BAD_INPUTS.iter().enumerate() {
        let dir = TempDir::new().unwrap();
        let mut cmd = darkhorses(dir.path());
        if let Some(yaml) = bad.yaml {
            let path = dir.path().join("bad.yaml");
            std::fs::write(&path, yaml).unwrap();
            cmd.arg("--config").arg(&path);
        }
        cmd.envs(bad.env.iter().copied()).args(bad.args);
        let r = run(&mut cmd);
        let what = format!("#{i} args {:?} env {:?} yaml {:?}", bad.args, bad.env, bad.yaml);
        let mut wrong = Vec::new();
        if r.code != bad.code {
            wrong.push(format!("exit {} (wanted {})", r.code, bad.code));
        }
        for w in bad.wanted {
            if !r.stderr.contains(w) {
                wrong.push(format!("no {w:?} in stderr"));
            }
        }
        if r.stderr.contains("RUST_BACKTRACE") || r.stderr.contains("stack backtrace") {
            wrong.push("a backtrace".into());
        }
        if r.stderr.lines().filter(|l| l.starts_with("error:")).count() != 1 {
            wrong.push("not exactly one error: line".into());
        }
        // Refused before anything ran: no database file, no lock.
        if dir.path().join("darkhorses.db").exists() {
            wrong.push("created darkhorses.db".into());
        }
        if !wrong.is_empty() {
            failures.push(format!("{what}: {}\n  stderr: {}", wrong.join("; "), r.stderr.trim()));
        }
    }
    report_counts(
        "inputs",
        &format!(
            "inputs suite: {} bad inputs tried, {} refused as expected",
            BAD_INPUTS.len(),
            BAD_INPUTS.len() - failures.len()
        ),
    );
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs went wrong:\n{}",
        failures.len(),
        BAD_INPUTS.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_input_with_json_is_one_json_error_document() {
    let dir = TempDir::new().unwrap();
    for args in
        [&["--json", "daily", "--days-ahead", "99"][..], &["--json", "nosuch"], &["--json", "schedule", "bad cron"]]
    {
        let r = run(darkhorses(dir.path()).args(args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        let doc: serde_json::Value =
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", r.stdout));
        assert_eq!(doc["exit_code"], 2, "{doc}");
        assert!(doc["error"].as_str().is_some_and(|e| !e.is_empty()), "{doc}");
    }
}
