//! What the binary writes, run as a script would run it (issue 15, items 3, 7 and 8): a stdout
//! closed early or full never panics; `--json` gives one JSON document on stdout for every
//! command, a skipped run and every error; `--log-format json` makes every stderr line JSON; and
//! a job's log file records its outcome whatever `-q` does to the terminal.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use darkhorses::clock::SystemClock;
use darkhorses::config::SandboxConfig;
use darkhorses::sandbox::{Sandbox, parse_faults};
use serde_json::Value;
use tempfile::TempDir;

use crate::acceptance::{ChildGuard, Run, darkhorses, darkhorses_child, run, wait_for};

/// Fast enough for tests; the in-process sandbox takes the client's rate limit.
const RATE: &str = "50";

/// The whole of stdout as one JSON value: fails on no document, two documents or text.
fn one_json(what: &str, r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
        panic!("{what}: stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", r.stdout, r.stderr)
    })
}

/// An error document: `{"error": "...", "exit_code": 2}` holding `wanted`, and exit 2.
fn assert_error_document(what: &str, r: &Run, wanted: &str) {
    assert_eq!(r.code, 2, "{what}: {}", r.stderr);
    let doc = one_json(what, r);
    assert_eq!(doc["exit_code"], 2, "{what}: {doc}");
    let error = doc["error"].as_str().unwrap_or_else(|| panic!("{what}: no error text in {doc}"));
    assert!(error.contains(wanted), "{what}: wanted {wanted:?} in {error:?}");
}

/// Every stderr line is a JSON object with a level and a message; returns them.
fn json_lines(what: &str, stderr: &str) -> Vec<Value> {
    assert!(!stderr.trim().is_empty(), "{what}: nothing on stderr");
    stderr
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{what}: a stderr line is not JSON ({e}): {line:?}\n{stderr}"));
            assert!(v["level"].is_string() && v["message"].is_string(), "{what}: {line}");
            v
        })
        .collect()
}

/// A run that panicked says so on stderr and exits 101.
fn assert_no_panic(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what} panicked:\n{stderr}");
    assert_ne!(out.status.code(), Some(101), "{what} exited as a panic does:\n{stderr}");
}

/// `args` run in `dir` with stdout a pipe whose reader is gone before the binary writes.
fn with_closed_stdout(dir: &Path, args: &[&str]) -> Output {
    let mut child = darkhorses_child(dir)
        .env("DARKHORSES_API_RATE_LIMIT", RATE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_no_panic(&args.join(" "), &out);
    out
}

fn stored_races(db: &Path) -> i64 {
    let con = rusqlite::Connection::open(db).unwrap();
    con.query_row("SELECT COUNT(*) FROM races", [], |r| r.get(0)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Item 3: a closed or full stdout.

#[test]
fn a_closed_stdout_ends_the_output_quietly_with_the_runs_exit_code() {
    let dir = TempDir::new().unwrap();
    let out = with_closed_stdout(dir.path(), &["--sandbox", "daily", "--days-ahead", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stored_races(&dir.path().join("darkhorses.db")) > 0, "the run stored its data");
    // The same with the JSON report.
    let out = with_closed_stdout(dir.path(), &["--json", "--sandbox", "reference"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for args in [&["schedule", "* * * * *", "--count", "100000"][..], &["config", "show"], &["--json", "db", "status"]]
    {
        let out = with_closed_stdout(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}: a closed pipe is not an error");
    }
    // A run that fails keeps its own exit code when stdout is closed too.
    let out = with_closed_stdout(dir.path(), &["--json", "schedule", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_full_stdout_is_one_error_line_and_exit_2_not_a_panic() {
    let dir = TempDir::new().unwrap();
    for args in [&["config", "show"][..], &["schedule", "* * * * *", "--count", "3"], &["--json", "config", "check"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = darkhorses_child(dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_no_panic(&args.join(" "), &out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.starts_with("error: writing the output to stdout"), "{args:?}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{args:?}: {stderr}");
    }
    // A job whose summary is lost: the same line and exit 2, and its log file says the run
    // itself succeeded (it did: the data is stored).
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = darkhorses_child(dir.path())
        .env("DARKHORSES_API_RATE_LIMIT", RATE)
        .args(["-q", "--sandbox", "reference"])
        .stdin(Stdio::null())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_no_panic("reference > /dev/full", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: writing the output to stdout"), "{stderr}");
    let text = log_text(dir.path(), "reference_update");
    assert!(text.contains("job run finished") && !text.contains("job run failed"), "{text}");
}

#[test]
fn a_closed_stderr_does_not_panic() {
    let dir = TempDir::new().unwrap();
    // A warning (an unknown variable) and an error (a bad expression), both to a closed stderr.
    for (args, code) in [(&["config", "check"][..], 0), (&["schedule", "bogus"], 2)] {
        let mut child = darkhorses_child(dir.path())
            .env("DARKHORSES_API_RATE_LIMT", "1")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

// ---------------------------------------------------------------------------------------------
// Item 7: --json everywhere, --log-format json on every stderr line.

#[test]
fn json_gives_one_document_for_every_command_and_every_error() {
    let dir = TempDir::new().unwrap();
    let dh = || {
        let mut cmd = darkhorses(dir.path());
        cmd.env("DARKHORSES_API_RATE_LIMIT", RATE).arg("--json");
        cmd
    };

    let r = run(dh().args(["config", "show"]));
    assert_eq!(one_json("config show", &r)["api.rate_limit"]["value"], 50.0);
    let r = run(dh().args(["config", "check"]));
    assert_eq!(one_json("config check", &r)["ok"], true);

    let r = run(dh().args(["schedule", "30 1 * * *", "--tz", "Europe/London", "--after", "2026-03-28T00:00:00Z"]));
    let doc = one_json("schedule", &r);
    assert_eq!(doc["timezone"], "Europe/London");
    assert_eq!(doc["fires"].as_array().unwrap().len(), 5);
    assert_eq!(doc["fires"][1]["at"], "2026-03-29T01:00:00Z", "{doc}");
    assert_eq!(doc["fires"][1]["local"], "2026-03-29T02:00:00+01:00", "{doc}");
    assert_eq!(doc["fires"][1]["dst"]["kind"], "gap", "{doc}");
    let r = run(dh().args(["schedule", "--job", "daily_data", "--count", "1"]));
    assert_eq!(one_json("schedule --job", &r)["job"], "daily_data");

    let r = run(dh().args(["db", "status"]));
    let doc = one_json("db status (fresh)", &r);
    assert!(doc["pending"].as_u64().unwrap() > 0, "{doc}");
    let r = run(dh().args(["db", "migrate"]));
    let doc = one_json("db migrate", &r);
    assert!(!doc["applied"].as_array().unwrap().is_empty(), "{doc}");
    let r = run(dh().args(["db", "migrate"]));
    let doc = one_json("db migrate (up to date)", &r);
    assert_eq!(doc["applied"].as_array().unwrap().len(), 0, "{doc}");
    let r = run(dh().args(["db", "status"]));
    let doc = one_json("db status", &r);
    assert_eq!(doc["pending"], 0, "{doc}");
    assert_eq!(doc["applied"], doc["migrations"].as_array().unwrap().len(), "{doc}");

    let r = run(dh().args(["--sandbox", "reference"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = one_json("reference", &r);
    assert_eq!((doc["job"].as_str(), doc["status"].as_str()), (Some("reference"), Some("succeeded")), "{doc}");

    // Errors: from the command, the configuration, the job, and clap's usage check.
    assert_error_document("bad expression", &run(dh().args(["schedule", "bogus"])), "invalid cron expression");
    assert_error_document(
        "missing config file",
        &run(dh().args(["--config", "missing.yaml", "config", "show"])),
        "missing.yaml",
    );
    assert_error_document("no credentials", &run(dh().args(["daily"])), "RACING_API_USERNAME");
    assert_error_document("unknown flag", &run(dh().args(["config", "show", "--bogus"])), "--bogus");
    let r = run(dh().args(["backfill", "--from", "2025-13-01"]));
    assert_error_document("bad date", &r, "--from");
    // The human line stays on stderr for whoever watches the terminal.
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
}

#[test]
fn a_run_skipped_by_its_lock_prints_a_json_document() {
    let dir = TempDir::new().unwrap();
    // A sandbox that answers nothing for a minute: the first run holds its lock meanwhile.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let cfg = SandboxConfig {
        port: 0,
        rate_limit: 0.0,
        faults: parse_faults("slow=1,slow_ms=60000").unwrap(),
        ..SandboxConfig::default()
    };
    let sandbox = {
        let _guard = rt.enter();
        Sandbox::start(cfg, Arc::new(SystemClock)).unwrap()
    };
    let db = format!("sqlite:{}", dir.path().join("skip.db").display());
    let env = [
        ("DARKHORSES_API_BASE_URL", sandbox.base_url()),
        ("RACING_API_USERNAME", "demo".to_string()),
        ("RACING_API_PASSWORD", "demo".to_string()),
        ("DATABASE_URL", db),
    ];
    let mut first = ChildGuard(
        darkhorses_child(dir.path())
            .envs(env.clone())
            .arg("reference")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The lock is taken before the first request, so a request means the lock is held.
    wait_for(Duration::from_secs(60), "the first run's first request", || {
        assert!(first.0.try_wait().unwrap().is_none(), "the first run ended before its first request");
        (sandbox.stats().max_in_any_1s_window > 0).then_some(())
    });

    let r = run(darkhorses(dir.path()).envs(env).args(["--json", "reference"]));
    assert_eq!(r.code, 0, "a skipped run exits 0: {}", r.stderr);
    let doc = one_json("skipped run", &r);
    assert_eq!(doc["job"], "reference", "{doc}");
    assert_eq!(doc["status"], "skipped", "{doc}");
    assert!(doc["reason"].as_str().unwrap().contains("already running"), "{doc}");
    assert!(first.0.try_wait().unwrap().is_none(), "the first run must still hold the lock for this to mean anything");
}

#[test]
fn log_format_json_makes_every_stderr_line_json() {
    let dir = TempDir::new().unwrap();
    let dh = |format_from_env: bool| {
        let mut cmd = darkhorses(dir.path());
        // An unknown variable: a warning printed before logging starts.
        cmd.env("DARKHORSES_API_RATE_LIMIT", RATE).env("DARKHORSES_API_RATE_LIMT", "1");
        if format_from_env {
            cmd.env("DARKHORSES_LOGGING_FORMAT", "json");
        } else {
            cmd.args(["--log-format", "json"]);
        }
        cmd
    };
    let level_of = |lines: &[Value], level: &str| lines.iter().filter(|l| l["level"] == level).count();

    let r = run(dh(false).args(["config", "check"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = json_lines("config check", &r.stderr);
    assert_eq!(level_of(&lines, "WARN"), 1, "{}", r.stderr);

    for from_env in [false, true] {
        let r = run(dh(from_env).args(["schedule", "bogus"]));
        assert_eq!(r.code, 2);
        let lines = json_lines("schedule error", &r.stderr);
        assert_eq!(level_of(&lines, "ERROR"), 1, "{}", r.stderr);
        assert!(lines.iter().any(|l| l["message"].as_str().unwrap().contains("bogus")), "{}", r.stderr);
    }

    let r = run(dh(false).args(["--sandbox", "reference"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = json_lines("reference", &r.stderr);
    assert_eq!(level_of(&lines, "WARN"), 1, "the warning once: {}", r.stderr);

    // A job that fails after logging started: the sandbox wants other credentials.
    let r = run(dh(false)
        .env("DARKHORSES_SANDBOX_USERNAME", "someone")
        .env("DARKHORSES_SANDBOX_PASSWORD", "else")
        .args(["--sandbox", "reference"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let lines = json_lines("failed job", &r.stderr);
    assert_eq!(level_of(&lines, "ERROR"), 1, "{}", r.stderr);

    // A usage error, before the command line is even parsed.
    let r = run(dh(false).args(["backfill", "--from", "2025-13-01"]));
    assert_eq!(r.code, 2);
    let lines = json_lines("usage error", &r.stderr);
    assert_eq!(level_of(&lines, "ERROR"), 1, "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Item 8: -q quiets the terminal, not the job's log file.

/// The text of today's (or, just past midnight, yesterday's) file of `log_name`.
fn log_text(dir: &Path, log_name: &str) -> String {
    let logs = dir.join("logs");
    let mut text = String::new();
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&format!("{log_name}_")) {
            text.push_str(&std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    text
}

#[test]
fn a_quiet_job_run_still_logs_its_outcome_to_its_file() {
    for quiet in ["-q", "-qq"] {
        let dir = TempDir::new().unwrap();
        let r =
            run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", RATE).args([quiet, "--sandbox", "reference"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stderr.contains("job run finished"), "{quiet} keeps info off the terminal: {}", r.stderr);
        let text = log_text(dir.path(), "reference_update");
        assert!(text.contains("job run finished"), "{quiet}: the log file lacks the outcome:\n{text}");
        assert!(text.contains("using the in-process sandbox API"), "{quiet}: the file keeps info lines:\n{text}");
    }

    // -v adds debug lines to the terminal only; the file keeps logging.level (info).
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path()).env("DARKHORSES_API_RATE_LIMIT", RATE).args(["-v", "--sandbox", "reference"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("DEBUG"), "-v shows debug lines: {}", r.stderr);
    let text = log_text(dir.path(), "reference_update");
    assert!(text.contains("job run finished") && !text.contains("DEBUG"), "{text}");

    // A run that fails records that too, and stderr still shows its one error line.
    let dir = TempDir::new().unwrap();
    let r = run(darkhorses(dir.path())
        .env("DARKHORSES_API_RATE_LIMIT", RATE)
        .env("DARKHORSES_SANDBOX_USERNAME", "someone")
        .env("DARKHORSES_SANDBOX_PASSWORD", "else")
        .args(["-q", "--sandbox", "reference"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{}", r.stderr);
    let text = log_text(dir.path(), "reference_update");
    assert!(text.contains("job run failed"), "the log file lacks the failure:\n{text}");
}
