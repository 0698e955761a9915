//! The backfill benchmark of BENCHMARKS.md: a release `darkhorses sandbox` at a rate limit, a
//! release `darkhorses backfill --months N` at the same limit into a fresh SQLite file under
//! `/usr/bin/time -v`, then calls against the minimum, wall time against calls / rate limit,
//! peak memory and rows/s.
//!
//! Run: `cargo build --release && cargo run --example bench_backfill -- [MONTHS] [RATE] [BIN]`
//! (defaults 12, 50 and target/release/darkhorses).

// An example prints its results; a closed stdout ending it with a panic is acceptable here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Instant;

/// Both processes run at this instant (`--now`): racing day 2025-10-15, so the backfill ends
/// on 2025-10-14 and every day has racecards (the API has them from 2023-01-23).
const NOW: &str = "2025-10-15T12:00:00Z";
const RESULTS_PAGE: i64 = 50;

type Fallible<T> = Result<T, String>;

/// Kills the sandbox however the benchmark ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_backfill: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Fallible<()> {
    let mut args = std::env::args().skip(1);
    let months: u32 = args.next().map_or(Ok(12), |a| a.parse()).map_err(|e| format!("MONTHS: {e}"))?;
    let rate: f64 = args.next().map_or(Ok(50.0), |a| a.parse()).map_err(|e| format!("RATE: {e}"))?;
    let bin = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/darkhorses"));
    if !bin.exists() {
        return Err(format!("{} is missing: run `cargo build --release` first", bin.display()));
    }
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let db = dir.path().join("bench.db");

    // The sandbox, in its own process, announcing its URL on the first line of stdout.
    let mut child = Command::new(&bin)
        .current_dir(dir.path())
        .args(["--now", NOW, "-q", "sandbox", "--port", "0", "--rate-limit", &rate.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("the sandbox has no stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).map_err(|e| format!("reading the sandbox's URL: {e}"))?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .map(|w| w.trim_end_matches([';', ',']).to_string())
        .ok_or_else(|| format!("no URL in the sandbox's first line: {line:?}"))?;

    // The backfill, under /usr/bin/time -v for the peak RSS.
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&bin)
        .current_dir(dir.path())
        .env("DARKHORSES_API_BASE_URL", &url)
        .env("RACING_API_USERNAME", "demo")
        .env("RACING_API_PASSWORD", "demo")
        .env("DARKHORSES_API_RATE_LIMIT", rate.to_string())
        .env("DARKHORSES_DATABASE_URL", format!("sqlite:{}", db.display()))
        .env("DARKHORSES_LOCKS_DIR", dir.path().join("locks"))
        .env("DARKHORSES_LOGGING_DIR", dir.path().join("logs"))
        .args(["--now", NOW, "--json", "backfill", "--months", &months.to_string()])
        .output()
        .map_err(|e| format!("running /usr/bin/time -v {}: {e}", bin.display()))?;
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("the backfill failed ({:?}):\n{stderr}", out.status.code()));
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("the backfill's --json report: {e}: {}", String::from_utf8_lossy(&out.stdout)))?;
    let peak_kib: f64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no peak RSS in /usr/bin/time -v's output")?;

    let stats = sandbox_stats(&url)?;
    drop(server);
    let calls = stats["total"].as_u64().ok_or("the sandbox's stats have no total")?;
    let limited = stats["rate_limited"].as_u64().unwrap_or(0);
    let max_1s = stats["max_in_any_1s_window"].as_u64().unwrap_or(0);
    let by_endpoint: BTreeMap<String, u64> = stats["by_endpoint"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_object().map_or(0, |s| s.values().filter_map(|n| n.as_u64()).sum())))
                .collect()
        })
        .unwrap_or_default();

    let (minimum, days) = minimum_calls(&db)?;
    let rows: u64 = report["rows"]
        .as_object()
        .map(|t| t.values().map(|c| c["inserted"].as_u64().unwrap_or(0) + c["updated"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0);
    let run_s = report["duration"].as_f64().unwrap_or(0.0) / 1000.0;
    let ideal = calls as f64 / rate;

    println!("backfill --months {months} ({days} days) against the sandbox at {rate} requests/s");
    println!("  api calls:      {calls} (minimum {minimum}; {limited} answered 429; at most {max_1s} in any 1 s)");
    for (endpoint, n) in &by_endpoint {
        println!("    {endpoint}: {n}");
    }
    println!(
        "  wall time:      {wall:.1} s for the process ({run_s:.1} s in the job); calls / rate limit = {ideal:.1} s"
    );
    println!(
        "  rate used:      {:.1} calls/s = {:.1}% of {rate} (process), {:.1}% (job)",
        calls as f64 / wall,
        100.0 * ideal / wall,
        100.0 * ideal / run_s.max(f64::MIN_POSITIVE)
    );
    println!("  peak memory:    {:.1} MiB (max RSS)", peak_kib / 1024.0);
    println!("  rows written:   {rows} ({:.0} rows/s)", rows as f64 / wall);
    if calls > minimum {
        println!("  NOTE: {} calls above the minimum", calls - minimum);
    }
    Ok(())
}

/// The fewest calls the backfill needs, and its days: one racecards call per day of the
/// racecards window plus, per day, one results call per page of 50 races with results (one for a
/// day without racing). Days are counted from `fetch_coverage` (one row per day and kind once
/// the run is complete), races from `races`.
fn minimum_calls(db: &std::path::Path) -> Fallible<(u64, i64)> {
    let conn = rusqlite::Connection::open(db).map_err(|e| format!("{}: {e}", db.display()))?;
    let q = |sql: &str| -> Fallible<Vec<(String, i64)>> {
        let mut stmt = conn.prepare(sql).map_err(|e| format!("{sql}: {e}"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| format!("{sql}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{sql}: {e}"))?;
        Ok(rows)
    };
    let coverage = q("SELECT kind, count(*) FROM fetch_coverage GROUP BY kind")?;
    let days_of = |kind: &str| coverage.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
    let with_results = q("SELECT race_date, count(*) FROM races WHERE has_result GROUP BY race_date")?;
    let extra_pages: i64 = with_results.iter().map(|(_, n)| ((n + RESULTS_PAGE - 1) / RESULTS_PAGE - 1).max(0)).sum();
    Ok(((days_of("racecards") + days_of("results") + extra_pages) as u64, days_of("results")))
}

/// `GET /_sandbox/stats` over a plain HTTP/1.1 connection (the sandbox is on loopback).
fn sandbox_stats(base_url: &str) -> Fallible<serde_json::Value> {
    use std::io::{Read, Write};
    let host = base_url.trim_start_matches("http://").split('/').next().ok_or("no host in the sandbox's URL")?;
    let mut stream = std::net::TcpStream::connect(host).map_err(|e| format!("connecting to {host}: {e}"))?;
    write!(stream, "GET /_sandbox/stats HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("asking {host} for its stats: {e}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| format!("reading {host}'s stats: {e}"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).ok_or("the stats response has no body")?;
    serde_json::from_str(body).map_err(|e| format!("the sandbox's stats are not JSON ({e}): {body}"))
}
