//! The status page benchmark of BENCHMARKS.md: a 12-month SQLite database (a release
//! `darkhorses --sandbox backfill --months 12`, then `orchestrate` every 5 minutes through one
//! racing day, as cron would call it), then `darkhorses status --html` timed as a user runs it
//! (process start, open, every read, render, write) and the page's size.
//!
//! Run: `cargo build --release && cargo run --release --example bench_status -- [RUNS] [BIN]`
//! (defaults 5 and target/release/darkhorses).

// An example prints its results; a closed stdout ending it with a panic is acceptable here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The racing day the database is left at: the backfill runs at 05:00, the ticks follow.
const DAY: &str = "2026-03-10";

type Fallible<T> = Result<T, String>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_status: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The binary in `dir` against its in-process sandbox at 50 requests/s, on the SQLite file `db`.
fn darkhorses(bin: &Path, dir: &Path, db: &Path, now: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env("DATABASE_URL", format!("sqlite:{}", db.display()))
        .env("DARKHORSES_API_RATE_LIMIT", "50")
        .env("DARKHORSES_LOCKS_DIR", dir.join("locks"))
        .env("DARKHORSES_LOGGING_DIR", dir.join("logs"))
        .args(["--sandbox", "-q", "--now", now]);
    cmd
}

fn checked(cmd: &mut Command, what: &str) -> Fallible<std::process::Output> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed ({:?}): {}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out)
}

fn run() -> Fallible<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map_or(Ok(5), |a| a.parse()).map_err(|e| format!("RUNS: {e}"))?;
    let bin = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/darkhorses"));
    // Absolute: the runs below start in a temporary directory.
    let bin = std::fs::canonicalize(&bin)
        .map_err(|e| format!("{}: {e}: run `cargo build --release` first", bin.display()))?;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let db = dir.path().join("year.db");

    let started = Instant::now();
    checked(
        darkhorses(&bin, dir.path(), &db, &format!("{DAY}T05:00:00Z")).args(["backfill", "--months", "12"]),
        "the 12-month backfill",
    )?;
    let backfill_s = started.elapsed().as_secs_f64();
    // A racing day as cron leaves it: `orchestrate` every 5 minutes from 05:05 to 23:55.
    let started = Instant::now();
    let mut ticks = 0;
    for minute in (5 * 60 + 5..24 * 60).step_by(5) {
        let now = format!("{DAY}T{:02}:{:02}:00Z", minute / 60, minute % 60);
        checked(darkhorses(&bin, dir.path(), &db, &now).arg("orchestrate"), &format!("orchestrate at {now}"))?;
        ticks += 1;
    }
    let day_s = started.elapsed().as_secs_f64();
    let db_mib = std::fs::metadata(&db).map(|m| m.len() as f64 / 1048576.0).unwrap_or(0.0);

    let page = dir.path().join("status.html");
    let mut times = Vec::new();
    let mut status = serde_json::Value::Null;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = checked(
            darkhorses(&bin, dir.path(), &db, &format!("{DAY}T23:58:00Z"))
                .arg("--json")
                .arg("status")
                .arg("--html")
                .arg(&page),
            "status --html",
        )?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        status = serde_json::from_slice(&out.stdout).map_err(|e| format!("status --json: {e}"))?;
    }
    times.sort_by(f64::total_cmp);
    let bytes = std::fs::metadata(&page).map_err(|e| format!("{}: {e}", page.display()))?.len();
    let rows = |table: &str| {
        status["tables"]
            .as_array()
            .and_then(|t| t.iter().find(|r| r["table"] == table))
            .map_or(0, |r| r["rows"].as_i64().unwrap_or(0))
    };
    let complete = status["calendar"].as_array().map_or(0, |d| d.iter().filter(|d| d["state"] == "complete").count());

    println!("status page of a 12-month SQLite database ({db_mib:.0} MiB)");
    println!(
        "  loaded by:   backfill --months 12 in {backfill_s:.1} s, then {ticks} orchestrate ticks in {day_s:.1} s"
    );
    println!(
        "  holds:       {} races, {} runners, {} runner_odds, {} job_runs; {complete} of 365 calendar days complete",
        rows("races"),
        rows("runners"),
        rows("runner_odds"),
        rows("job_runs")
    );
    println!(
        "  status --html (process start to page written), {} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms",
        times.len(),
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    println!("  page size:   {bytes} bytes ({:.0} KiB)", bytes as f64 / 1024.0);
    Ok(())
}
