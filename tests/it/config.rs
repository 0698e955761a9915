//! `darkhorses config show` and `config check` run as a user would: environment, config files
//! with mistakes, secrets that must never print.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// The binary with an environment holding only PATH and HOME (no DARKHORSES_* of the caller),
/// run in `dir` so no config/darkhorses.yaml is picked up by accident.
fn darkhorses(dir: &Path) -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("darkhorses");
    cmd.env_clear().current_dir(dir);
    for var in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(var) {
            cmd.env(var, value);
        }
    }
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!run.stdout.contains("panicked") && !run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// A bad config file: exit 2, nothing on stdout, one `error:` line on stderr containing `wanted`.
fn assert_rejected(text: &str, wanted: &[&str]) -> String {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "bad.yaml", text);
    for sub in ["show", "check"] {
        let r = run(darkhorses(dir.path()).arg("--config").arg(&path).args(["config", sub]));
        assert_eq!(r.code, 2, "{sub}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{sub}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        for w in wanted {
            let w = w.replace("FILE", &path.display().to_string());
            assert!(r.stderr.contains(&w), "wanted {w:?} in {}", r.stderr);
        }
    }
    let r = run(darkhorses(dir.path()).arg("--config").arg(&path).args(["config", "check"]));
    r.stderr
}

#[test]
fn env_rate_limit_shows_with_its_variable() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", "0.5").args(["config", "show"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("api.rate_limit: 0.5  (env DARKHORSES_API_RATE_LIMIT)\n"), "{}", r.stdout);
    assert!(r.stdout.contains("api.timeout: 30  (default)\n"), "{}", r.stdout);
    assert_eq!(r.stderr, "");
}

#[test]
fn env_reaches_an_interval_key() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT", "60").args(["config", "show"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("intervals.live_data.timeout: 60  (env DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT)\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn passwords_never_print() {
    let dir = TempDir::new().unwrap();
    let file = write(&dir, "c.yaml", "sandbox:\n  password: hunter2\n");
    for args in
        [&["config", "show"][..], &["--json", "config", "show"], &["config", "check"], &["--json", "config", "check"]]
    {
        let r = run(darkhorses(dir.path())
            .env("RACING_API_PASSWORD", "hunter2")
            .env("DATABASE_URL", "postgres://bob:hunter2@db.example.com:5432/racing")
            .arg("--config")
            .arg(&file)
            .args(args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(!r.stdout.contains("hunter2") && !r.stderr.contains("hunter2"), "{args:?}: {}{}", r.stdout, r.stderr);
    }
    let r = run(darkhorses(dir.path()).env("RACING_API_PASSWORD", "hunter2").args(["config", "show"]));
    assert!(r.stdout.contains("api.password: ***  (env RACING_API_PASSWORD)\n"), "{}", r.stdout);
    let r = run(darkhorses(dir.path())
        .env("DATABASE_URL", "postgres://bob:hunter2@db:5432/racing")
        .args(["config", "show"]));
    assert!(r.stdout.contains("database.url: postgres://bob:***@db:5432/racing  (env DATABASE_URL)\n"), "{}", r.stdout);
}

#[test]
fn show_json_is_an_object_of_values_and_origins() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", "0.5").args([
        "--log-format",
        "json",
        "--json",
        "config",
        "show",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["api.rate_limit"]["value"], 0.5);
    assert_eq!(json["api.rate_limit"]["origin"]["kind"], "env");
    assert_eq!(json["api.rate_limit"]["origin"]["var"], "DARKHORSES_API_RATE_LIMIT");
    assert_eq!(json["logging.format"]["value"], "json");
    assert_eq!(json["logging.format"]["origin"]["flag"], "--log-format");
    assert_eq!(json["retry.max_attempts"]["origin"]["kind"], "default");
    // Accepted for compatibility but no key of the tree: not shown.
    assert!(json.get("database.batch_size").is_none() && json.get("api.max_retries").is_none());
}

#[test]
fn check_accepts_the_shipped_file() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/darkhorses.yaml");
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).arg("--config").arg(&shipped).args(["config", "check"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("configuration OK: {}\n", shipped.display()));
    assert_eq!(r.stderr, "");
}

#[test]
fn check_without_a_file_uses_the_defaults() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args(["config", "check"]));
    assert_eq!((r.code, r.stdout.as_str()), (0, "configuration OK: defaults (no config file)\n"), "{}", r.stderr);
}

#[test]
fn the_default_file_is_read_from_the_working_directory() {
    let dir = TempDir::new().unwrap();
    write(&dir, "config/darkhorses.yaml", "# mine\napi:\n  timeout: 9\n");
    let r = run(darkhorses(dir.path()).args(["config", "show"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("api.timeout: 9  (config/darkhorses.yaml:3)\n"), "{}", r.stdout);
}

#[test]
fn a_named_file_that_is_missing_is_an_error() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).args(["--config", "nope.yaml", "config", "check"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: config file nope.yaml not found"), "{}", r.stderr);
}

#[test]
fn yaml_syntax_error_names_file_line_and_column() {
    let stderr = assert_rejected(
        "api:\n  rate_limit: 2.0\n  regions: [gb, ire\nlogging:\n  level: info\n",
        &["YAML syntax error in FILE:"],
    );
    let place = stderr.split("bad.yaml:").nth(1).unwrap();
    let mut numbers = place.split(':').take(2).map(|n| n.trim().parse::<usize>());
    assert!(numbers.all(|n| n.is_ok()), "line:column in {stderr}");
}

#[test]
fn unknown_key_names_the_key_and_the_nearest_one() {
    assert_rejected(
        "api:\n  timeout: 30\n  rate_limt: 2.0\n",
        &["unknown key api.rate_limt in FILE:3; did you mean api.rate_limit?"],
    );
}

#[test]
fn string_where_a_number_belongs_names_the_key_and_type() {
    assert_rejected("database:\n  batch_size: lots\n", &["database.batch_size in FILE:2 must be a whole number"]);
}

#[test]
fn invalid_time_zone_names_the_interval() {
    assert_rejected(
        "intervals:\n  live_data:\n    timezone: Europe/Atlantis\n",
        &["invalid time zone `Europe/Atlantis` for interval live_data in FILE:3"],
    );
}

#[test]
fn unknown_job_lists_the_valid_ones() {
    assert_rejected(
        "intervals:\n  nightly:\n    frequency: '0 1 * * *'\n    job: everything\n",
        &["unknown job `everything` for interval nightly in FILE:4", "valid jobs: reference, daily, live, backfill"],
    );
}

#[test]
fn jobs_nothing_registers_are_refused_naming_the_interval() {
    // `data_quality_check` names a script of the original, not a job: the message lists the jobs.
    assert_rejected(
        "intervals:\n  checks:\n    frequency: '0 * * * *'\n    job: data_quality_check\n",
        &[
            "unknown job `data_quality_check` for interval checks in FILE:4",
            "valid jobs: reference, daily, live, backfill, rebuild, health, quality",
        ],
    );
}

#[test]
fn interval_args_conflicting_on_the_command_line_conflict_in_the_config() {
    assert_rejected(
        "intervals:\n  today:\n    frequency: '*/5 * * * *'\n    job: live\n    args: [--races-only, --results-only]\n",
        &["intervals.today.args in FILE:5", "for job live", "cannot be used with", "see `darkhorses live --help`"],
    );
}

/// Needs `schedule::check_expression` (the schedule branch); the stub accepts every expression.
#[test]
fn invalid_cron_expression_names_the_interval() {
    assert_rejected(
        "intervals:\n  live_data:\n    frequency: '61 * * * *'\n",
        &["invalid cron expression `61 * * * *` for interval live_data in FILE:3"],
    );
}

#[test]
fn env_type_error_names_the_variable() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", "fast").args(["config", "check"]));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: api.rate_limit from environment variable DARKHORSES_API_RATE_LIMIT must be a number, found `fast`\n"
    );
}

#[test]
fn unknown_darkhorses_variable_is_a_warning() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMT", "1").args(["config", "check"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "warning: environment variable DARKHORSES_API_RATE_LIMT names no config key and is ignored; did you mean DARKHORSES_API_RATE_LIMIT?\n"
    );
}

#[test]
fn seed_era_script_entries_load_with_a_warning() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "scheduler_config.yaml",
        "intervals:\n  daily_data:\n    enabled: true\n    frequency: '0 6 * * *'\n    script: scripts/update_daily_data.py\n    args: --days-ahead 3\n",
    );
    let r = run(darkhorses(dir.path()).arg("--config").arg(&file).args(["config", "show"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("intervals.daily_data.job: daily  ("), "{}", r.stdout);
    assert!(r.stdout.contains("intervals.daily_data.args: [--days-ahead, 3]"), "{}", r.stdout);
    assert!(r.stderr.starts_with("warning: intervals.daily_data in "), "{}", r.stderr);
    assert!(r.stderr.contains("write `job: daily` instead"), "{}", r.stderr);
}

#[test]
fn supabase_without_a_database_url_explains_the_connection_string() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("SUPABASE_URL", "https://abc.supabase.co").args(["config", "check"]));
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("Project Settings > Database > Connection string"), "{}", r.stderr);
}

#[test]
fn flags_override_the_environment() {
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("LOG_LEVEL", "error").args(["-v", "config", "show"]));
    assert!(r.stdout.contains("logging.level: debug  (flag -v)\n"), "{}", r.stdout);
}
