//! Inputs that used to be accepted and fail later, and messages that misled (issue 15, item 9):
//! each is refused up front with exit 2 and one line naming the key, flag or value, or now says
//! what is really wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use tempfile::TempDir;

use super::acceptance::{darkhorses, run};

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
