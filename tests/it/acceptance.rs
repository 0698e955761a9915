//! Acceptance of issues 2 and 3 through the real binary, as a user would run it: help texts, two
//! runs of one job at once, log file names and retention, exit codes, a 30-day backfill against a
//! faulty rate-limited sandbox, and rejected credentials. Each test runs in its own temporary
//! directory, with locks and logs inside it and none of the caller's DARKHORSES_*/RACING_API_*
//! environment.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::{cargo_bin, cargo_bin_cmd};
use chrono::{NaiveDate, Utc};
use serde_json::Value;
use tempfile::TempDir;

/// Variables of the caller that would change what the binary does.
fn ours(name: &str) -> bool {
    ["DARKHORSES_", "RACING_API_", "SUPABASE_"].iter().any(|p| name.starts_with(p))
        || name == "DATABASE_URL"
        || name == "LOG_LEVEL"
}

/// `darkhorses` run once in `dir`: clean environment, locks in `dir/locks`, logs in `dir/logs`.
pub(crate) fn darkhorses(dir: &Path) -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("darkhorses");
    cmd.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(ours) {
            cmd.env_remove(name);
        }
    }
    cmd.env("DARKHORSES_LOCKS_DIR", dir.join("locks")).env("DARKHORSES_LOGGING_DIR", dir.join("logs"));
    cmd
}

/// The same, as a `std` command for children that keep running.
pub(crate) fn darkhorses_child(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(cargo_bin!("darkhorses"));
    cmd.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(ours) {
            cmd.env_remove(name);
        }
    }
    cmd.env("DARKHORSES_LOCKS_DIR", dir.join("locks")).env("DARKHORSES_LOGGING_DIR", dir.join("logs"));
    cmd
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn run(cmd: &mut assert_cmd::Command) -> Run {
    let output = cmd.output().unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stdout.contains("panicked") && !run.stderr.contains("panicked"),
        "a panic:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failing test leaves none behind.
pub(crate) struct ChildGuard(pub(crate) Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 20 ms until it gives a value; panics with `what` after `limit`.
pub(crate) fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < limit, "gave up after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Issue 2: every flag in every --help has an example.

/// The flags of the options section of a help text, each with its description.
fn flags_with_text(help: &str) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut in_options = false;
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        if indent == 0 && !line.is_empty() {
            in_options = line.starts_with("Options:");
            continue;
        }
        if !in_options || line.trim().is_empty() {
            continue;
        }
        let trimmed = line.trim_start();
        if indent <= 6 && trimmed.starts_with('-') {
            // `-v, --verbose...  text` or `--config <PATH>  text`
            let flag = trimmed
                .split([' ', ','])
                .find(|w| w.starts_with("--"))
                .map(|w| w.trim_end_matches("...").to_string())
                .unwrap_or_else(|| trimmed.split(' ').next().unwrap_or_default().to_string());
            entries.push((flag, trimmed.to_string()));
        } else if let Some(last) = entries.last_mut() {
            last.1.push(' ');
            last.1.push_str(line.trim());
        }
    }
    entries
}

/// The examples section of a help text (`Example:` or `Examples:` to the end).
fn examples_section(help: &str) -> &str {
    help.lines()
        .position(|l| l.starts_with("Example"))
        .map(|i| {
            let offset: usize = help.lines().take(i).map(|l| l.len() + 1).sum();
            &help[offset..]
        })
        .unwrap_or("")
}

#[test]
fn every_help_explains_every_flag_with_an_example() {
    let dir = TempDir::new().unwrap();
    let commands: [&[&str]; 16] = [
        &[],
        &["reference"],
        &["daily"],
        &["live"],
        &["backfill"],
        &["quality"],
        &["schedule"],
        &["status"],
        &["orchestrate"],
        &["db"],
        &["db", "migrate"],
        &["db", "status"],
        &["config"],
        &["config", "show"],
        &["config", "check"],
        &["sandbox"],
    ];
    let mut missing = Vec::new();
    for command in commands {
        let r = run(darkhorses(dir.path()).args(command).arg("--help"));
        assert_eq!(r.code, 0, "{command:?} --help: {}", r.stderr);
        let flags = flags_with_text(&r.stdout);
        assert!(flags.len() >= 6, "{command:?}: too few flags parsed from\n{}", r.stdout);
        let examples = examples_section(&r.stdout);
        assert!(examples.lines().count() >= 2, "{command:?} --help has no examples section:\n{}", r.stdout);
        for (flag, text) in flags {
            if flag == "--help" || flag == "--version" {
                continue;
            }
            let explained = text.contains("Example") || text.contains("e.g.");
            let in_examples = examples.split(|c: char| c.is_whitespace() || c == '=').any(|w| w == flag);
            if !explained && !in_examples {
                missing.push(format!("darkhorses {} --help: {flag} ({text})", command.join(" ")));
            }
        }
    }
    assert!(missing.is_empty(), "flags without an example:\n{}", missing.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Issue 2: two runs of one job at once.

/// The holder record in a lock file, if it parses.
fn lock_holder(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(text.trim()).ok()
}

/// The lock file of `job` in `dir`, named after the job and a hash of its database.
fn job_lock_file(dir: &Path, job: &str) -> Option<std::path::PathBuf> {
    let prefix = format!("darkhorses_update_{job}_");
    std::fs::read_dir(dir).ok()?.filter_map(Result::ok).map(|e| e.path()).find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&prefix) && n.to_string_lossy().ends_with(".lock"))
    })
}

#[test]
fn a_second_run_is_skipped_naming_the_first_and_kill_9_frees_the_lock() {
    let dir = TempDir::new().unwrap();
    let out = std::fs::File::create(dir.path().join("first.out")).unwrap();
    let err = std::fs::File::create(dir.path().join("first.err")).unwrap();
    // Two months at the default 2 requests/second: a minute or more of work.
    let mut first = ChildGuard(
        darkhorses_child(dir.path())
            .args(["--sandbox", "backfill", "--months", "2"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap(),
    );
    let pid = first.0.id();
    let mut lock = std::path::PathBuf::new();
    let holder = wait_for(Duration::from_secs(120), "the first run to record itself in its lock file", || {
        if let Some(status) = first.0.try_wait().unwrap() {
            let stderr = std::fs::read_to_string(dir.path().join("first.err")).unwrap_or_default();
            panic!("the first run ended ({status}) before taking its lock:\n{stderr}");
        }
        lock = job_lock_file(&dir.path().join("locks"), "backfill")?;
        lock_holder(&lock).filter(|h| h["pid"].as_u64() == Some(u64::from(pid)))
    });
    let host = holder["host"].as_str().unwrap().to_string();
    assert_eq!(host, darkhorses::lock::hostname());

    let second = run(darkhorses(dir.path()).args(["--sandbox", "backfill", "--months", "2"]));
    assert_eq!(second.code, 0, "a skipped run exits 0: {}", second.stderr);
    let wanted = format!("backfill is already running: pid {pid} on {host} since ");
    assert!(second.stdout.contains(&wanted), "wanted {wanted:?} in {}", second.stdout);
    assert!(second.stdout.trim_end().ends_with("; skipped"), "{}", second.stdout);
    assert!(!second.stdout.contains("units done"), "the second run must not run: {}", second.stdout);
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "the first run must still be running for this test to mean anything"
    );
    // The skipped run left the first's record alone.
    assert_eq!(lock_holder(&lock).unwrap()["pid"].as_u64(), Some(u64::from(pid)));

    first.0.kill().unwrap(); // SIGKILL: no destructor, no cleanup in the child.
    first.0.wait().unwrap();
    let killed_at = Instant::now();
    let day = (Utc::now().date_naive() - chrono::Duration::days(3)).to_string();
    let third = run(darkhorses(dir.path()).args(["--sandbox", "backfill", "--from", &day, "--to", &day]));
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    assert!(!third.stdout.contains("already running"), "{}", third.stdout);
    assert!(third.stdout.starts_with("backfill: "), "the run's summary: {}", third.stdout);
    assert!(killed_at.elapsed() < Duration::from_secs(60), "the run after kill -9 waited for something");
    let after = lock_holder(&lock).unwrap();
    assert_ne!(after["pid"].as_u64(), Some(u64::from(pid)), "the third run rewrote the holder record");
}

// ---------------------------------------------------------------------------------------------
// Issue 2: log files per job, retention.

/// Today's log file of `log_name` (the date may turn over during the run: either day counts).
fn todays_log(logs: &Path, log_name: &str, before: NaiveDate) -> PathBuf {
    let after = Utc::now().date_naive();
    [after, before]
        .iter()
        .map(|d| logs.join(format!("{log_name}_{}.log", d.format("%Y%m%d"))))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            let names: Vec<_> = std::fs::read_dir(logs)
                .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            panic!("no {log_name}_YYYYMMDD.log for {before} or {after} in {}: {names:?}", logs.display())
        })
}

#[test]
fn each_job_logs_to_its_daily_file_and_old_files_are_pruned() {
    let dir = TempDir::new().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for name in ["daily_update_20200101.log", "live_update_20200101.log", "daily_update_notes.log"] {
        std::fs::write(logs.join(name), "old\n").unwrap();
    }
    let day = (Utc::now().date_naive() - chrono::Duration::days(2)).to_string();
    let runs: [(&[&str], &str, &str); 4] = [
        (&["daily", "--days-ahead", "0"], "daily_update", "job=daily"),
        (&["live"], "live_update", "job=live"),
        (&["reference"], "reference_update", "job=reference"),
        (&["backfill", "--from", &day, "--to", &day], "backfill", "job=backfill"),
    ];
    for (args, log_name, span) in runs {
        let before = Utc::now().date_naive();
        let r = run(darkhorses(dir.path()).arg("--sandbox").args(args));
        assert_eq!(r.code, 0, "{args:?}: {}\n{}", r.stdout, r.stderr);
        let path = todays_log(&logs, log_name, before);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(span), "{} lacks the run's span {span}:\n{text}", path.display());
        // Every line the run logged to stderr is in the file too (each output stamps its own
        // time, microseconds apart, so the timestamp is left out of the comparison).
        assert!(!r.stderr.trim().is_empty(), "{args:?} logged nothing");
        for line in r.stderr.lines().filter(|l| !l.trim().is_empty()) {
            let message = line.split_once(' ').map_or(line, |(_, rest)| rest);
            assert!(text.contains(message), "{} lacks the stderr line {line:?}", path.display());
        }
        if log_name == "daily_update" {
            // The daily run pruned its own expired file, and only that.
            assert!(!logs.join("daily_update_20200101.log").exists(), "retention kept an expired daily file");
            assert!(logs.join("live_update_20200101.log").exists(), "the daily run pruned another job's file");
        }
        if log_name == "live_update" {
            assert!(!logs.join("live_update_20200101.log").exists(), "retention kept an expired live file");
        }
    }
    // A file whose name is not `<name>_YYYYMMDD.log` is never touched.
    assert!(logs.join("daily_update_notes.log").exists());
}

// ---------------------------------------------------------------------------------------------
// Issue 2: exit codes.

/// Exit 2, one `error:` line on stderr containing every `wanted`, nothing panicked.
fn assert_fatal(r: &Run, wanted: &[&str]) {
    assert_eq!(r.code, 2, "exit code: stdout {}\nstderr {}", r.stdout, r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {}", r.stderr);
    for w in wanted {
        assert!(errors[0].contains(w), "wanted {w:?} in {:?}", errors[0]);
    }
}

#[test]
fn configuration_errors_exit_2_with_one_line() {
    let dir = TempDir::new().unwrap();

    // No credentials and no --sandbox: the job cannot start.
    let r = run(darkhorses(dir.path()).args(["daily"]));
    assert_fatal(&r, &["RACING_API_USERNAME", "RACING_API_PASSWORD"]);

    // A configuration file with an unknown key: the one line is all there is.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "api:\n  rate_limt: 2\n").unwrap();
    let r = run(darkhorses(dir.path()).arg("--config").arg(&bad).args(["--sandbox", "daily"]));
    assert_fatal(&r, &["api.rate_limt", "rate_limit"]);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    // A wrong type in the environment names the variable.
    let r = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", "fast").args(["--sandbox", "live"]));
    assert_fatal(&r, &["DARKHORSES_API_RATE_LIMIT"]);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    // Supabase settings without DATABASE_URL explain what is needed.
    let r = run(darkhorses(dir.path())
        .env("SUPABASE_URL", "https://abc.supabase.co")
        .env("SUPABASE_SERVICE_KEY", "k")
        .args(["--sandbox", "reference"]));
    assert_fatal(&r, &["DATABASE_URL"]);
    assert!(!r.stderr.contains("\"k\""), "{}", r.stderr);

    // A usage error (clap) is exit 2 as well.
    let r = run(darkhorses(dir.path()).args(["backfill", "--from", "2025-13-01"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--from"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Issue 3: the client against a faulty, rate-limited sandbox child.

/// `darkhorses sandbox` as a child on a free port; returns it with its base URL.
pub(crate) fn sandbox_child(dir: &Path, args: &[&str]) -> (ChildGuard, String) {
    let mut child = ChildGuard(
        darkhorses_child(dir)
            .args(["sandbox", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the sandbox exited before printing its URL").unwrap();
        if let Some(rest) = line.split_once(" on http://").map(|(_, r)| r) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    assert!(url.ends_with("/v1"), "{url}");
    (child, url)
}

/// `/_sandbox/stats` of the sandbox at `base_url`.
pub(crate) fn sandbox_stats(base_url: &str) -> Value {
    let url = format!("{}/_sandbox/stats", base_url.trim_end_matches("/v1"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        response.json::<Value>().await.unwrap()
    })
}

/// Race ids stored in the SQLite file `db`.
fn stored_race_ids(db: &Path) -> std::collections::BTreeSet<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM races").unwrap();
    stmt.query_map([], |row| row.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn thirty_days_through_faults_and_the_rate_limit_lose_nothing_and_count_every_call() {
    const NOW: &str = "2026-03-01T12:00:00Z";
    const SEED: u64 = 7;
    let from = NaiveDate::from_ymd_opt(2026, 1, 20).unwrap();
    let to = from + chrono::Duration::days(29);
    let dir = TempDir::new().unwrap();
    let (_sandbox, url) = sandbox_child(
        dir.path(),
        &[
            "--now",
            NOW,
            "--seed",
            &SEED.to_string(),
            "--rate-limit",
            "2",
            "--fault",
            "5xx=0.2,429=0.1,slow=0.05,malformed=0.02,slow_ms=1500",
        ],
    );

    let r = run(darkhorses(dir.path())
        .env("DARKHORSES_API_BASE_URL", &url)
        .env("RACING_API_USERNAME", "demo")
        .env("RACING_API_PASSWORD", "demo")
        .env("DARKHORSES_API_RATE_LIMIT", "2")
        .args(["--now", NOW, "--json", "backfill", "--from", &from.to_string(), "--to", &to.to_string()]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    assert_eq!(report["units_failed"], 0, "{report:#}");

    // Every race the sandbox generated for those dates is stored.
    let world = darkhorses::sandbox::world::World::new(SEED);
    let mut expected = std::collections::BTreeSet::new();
    let mut day = from;
    while day <= to {
        expected.extend(world.day(day).races.iter().map(|race| race.id.clone()));
        day = day.succ_opt().unwrap();
    }
    assert!(expected.len() > 30 * 20, "about 36 races a day: {}", expected.len());
    let stored = stored_race_ids(&dir.path().join("darkhorses.db"));
    let missing: Vec<_> = expected.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} of {} races missing, e.g. {:?}",
        missing.len(),
        expected.len(),
        &missing[..5.min(missing.len())]
    );

    // The sandbox never saw more than 2 requests in a second, and saw exactly the client's calls.
    let stats = sandbox_stats(&url);
    eprintln!(
        "30 days: {} races stored; client {}; sandbox total {}, max {} in 1 s, faults {}, refused {}",
        stored.len(),
        report["api"],
        stats["total"],
        stats["max_in_any_1s_window"],
        stats["faults"],
        stats["rate_limited"]
    );
    assert!(stats["max_in_any_1s_window"].as_u64().unwrap() <= 2, "{stats:#}");
    assert_eq!(report["api"]["calls"], stats["total"], "client {:#} vs sandbox {stats:#}", report["api"]);
    // The faults did happen, and were retried.
    assert!(stats["faults"]["5xx"].as_u64().unwrap_or(0) > 0, "{stats:#}");
    assert!(report["api"]["retries"].as_u64().unwrap() > 0, "{report:#}");
}

#[test]
fn wrong_credentials_exit_2_with_one_line_after_one_request() {
    let dir = TempDir::new().unwrap();
    let (_sandbox, url) = sandbox_child(dir.path(), &["--username", "u", "--password", "p"]);
    let r = run(darkhorses(dir.path())
        .env("DARKHORSES_API_BASE_URL", &url)
        .env("RACING_API_USERNAME", "u")
        .env("RACING_API_PASSWORD", "wrong")
        .args(["daily"]));
    assert_fatal(&r, &["credentials rejected"]);
    assert!(!r.stderr.contains("wrong") && !r.stdout.contains("wrong"), "the password leaked: {}", r.stderr);
    let stats = sandbox_stats(&url);
    assert_eq!(stats["total"], 1, "{stats:#}");
    assert_eq!(stats["by_endpoint"].as_object().unwrap().values().next().unwrap()["401"], 1, "{stats:#}");
}
