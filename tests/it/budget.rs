//! Issue 9 item 3 through the real binary: four jobs (`live`, `daily --weekly`, `reference`,
//! `backfill --months 1`) started together against one `darkhorses sandbox --rate-limit 2` child
//! share the account's rate limit through their database (the SQLite file's `.budget` ledger, or
//! the Postgres schema's `api_budget` row): the sandbox answers no 429 and never sees more than 2
//! requests in any second, and live finishes first. With one of them killed (SIGKILL) mid-run,
//! the others' requests go on within a second. Every figure is what the sandbox saw (its arrival
//! times, `/_sandbox/stats?arrivals=1`), not the test's clock.

use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::acceptance::{ChildGuard, darkhorses, darkhorses_child, run, sandbox_child, wait_for};

/// A racing day with real work for every job: today's racecards and results so far for live,
/// the last week's results for daily, a month for backfill.
const NOW: &str = "2026-06-10T13:00:00Z";
const JOBS: [(&str, &[&str]); 4] = [
    ("live", &["live"]),
    ("daily", &["daily", "--weekly"]),
    ("reference", &["reference"]),
    ("backfill", &["backfill", "--months", "1"]),
];
/// Generous: the four jobs take about 40 s at 2 requests/s.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Where the jobs keep their data: environment for the binary.
enum Db {
    Sqlite,
    Postgres(PgSchema),
}

impl Db {
    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Db::Sqlite => vec![],
            Db::Postgres(pg) => {
                vec![("DATABASE_URL", pg.url.clone()), ("DARKHORSES_DATABASE_SCHEMA", pg.schema.clone())]
            }
        }
    }
}

/// A fresh Postgres schema for one test, dropped afterwards; `None` without
/// DARKHORSES_TEST_DATABASE_URL.
struct PgSchema {
    url: String,
    schema: String,
}

impl PgSchema {
    fn new(name: &str) -> Option<PgSchema> {
        let url = std::env::var("DARKHORSES_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
        let schema = format!("t_{}_budget_{name}", std::process::id());
        sql(&url, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"));
        Some(PgSchema { url, schema })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        sql(&self.url, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}

fn sql(url: &str, statements: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(statements).await.unwrap_or_else(|e| panic!("{statements}: {e}"));
    });
}

/// One job running as a child; its report goes to `<dir>/<name>.json`.
struct Job {
    name: &'static str,
    child: ChildGuard,
}

/// The sandbox child, the database migrated, the four jobs started together.
fn start(dir: &Path, db: &Db) -> (ChildGuard, String, Vec<Job>) {
    let (sandbox, url) = sandbox_child(dir, &["--now", NOW, "--rate-limit", "2"]);
    let env = |cmd: &mut std::process::Command| {
        cmd.env("DARKHORSES_API_BASE_URL", &url)
            .env("RACING_API_USERNAME", "demo")
            .env("RACING_API_PASSWORD", "demo")
            .env("DARKHORSES_API_RATE_LIMIT", "2");
        for (key, value) in db.env() {
            cmd.env(key, value);
        }
    };
    // Migrated first, as a deployment is before its cron jobs start.
    let mut migrate = darkhorses(dir);
    for (key, value) in db.env() {
        migrate.env(key, value);
    }
    let r = run(migrate.args(["db", "migrate"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let jobs = JOBS
        .iter()
        .map(|&(name, args)| {
            let mut cmd = darkhorses_child(dir);
            env(&mut cmd);
            let child = cmd
                .args(["--now", NOW, "--json", "-v"])
                .args(args)
                .stdin(Stdio::null())
                .stdout(File::create(dir.join(format!("{name}.json"))).unwrap())
                .stderr(File::create(dir.join(format!("{name}.err"))).unwrap())
                .spawn()
                .unwrap();
            Job { name, child: ChildGuard(child) }
        })
        .collect();
    (sandbox, url, jobs)
}

/// Waits for every job; returns (name, exit code) in the order they finished.
fn finish(jobs: &mut [Job]) -> Vec<(&'static str, Option<i32>)> {
    let mut order = Vec::new();
    wait_for(RUN_LIMIT, "the four jobs to finish", || {
        for job in jobs.iter_mut() {
            if order.iter().any(|(name, _)| *name == job.name) {
                continue;
            }
            if let Some(status) = job.child.0.try_wait().unwrap() {
                order.push((job.name, status.code()));
            }
        }
        (order.len() == jobs.len()).then_some(())
    });
    order
}

/// `/_sandbox/stats?arrivals=1`.
fn stats(base_url: &str) -> Value {
    let url = format!("{}/_sandbox/stats?arrivals=1", base_url.trim_end_matches("/v1"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { reqwest::get(&url).await.unwrap().json::<Value>().await.unwrap() })
}

fn arrivals(stats: &Value) -> Vec<u64> {
    stats["arrivals_us"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()
}

/// The most arrivals within any 1-second window `[t, t + 1 s)`.
fn max_in_any_second(arrivals: &[u64]) -> usize {
    arrivals.iter().map(|&t| arrivals.iter().filter(|&&u| u >= t && u < t + 1_000_000).count()).max().unwrap_or(0)
}

fn report(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| {
        let stderr = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
        panic!("{name}: {e}: {text}\n{stderr}")
    })
}

/// What every run must show the sandbox: no 429 at all, at most 2 in any second.
fn assert_within_the_limit(stats: &Value) -> Vec<u64> {
    let arrivals = arrivals(stats);
    assert_eq!(stats["rate_limited"], 0, "the sandbox refused requests: {:#}", stats["by_endpoint"]);
    let refused: u64 = stats["by_endpoint"].as_object().unwrap().values().filter_map(|s| s["429"].as_u64()).sum();
    assert_eq!(refused, 0, "{:#}", stats["by_endpoint"]);
    // `total` counts answered requests; a killed job's last request may have arrived unanswered.
    assert!(arrivals.len() as u64 >= stats["total"].as_u64().unwrap());
    let max = max_in_any_second(&arrivals);
    assert!(max <= 2, "the sandbox saw {max} requests within one second: {arrivals:?}");
    arrivals
}

fn four_jobs_at_once(db: Db) {
    let dir = TempDir::new().unwrap();
    let (_sandbox, url, mut jobs) = start(dir.path(), &db);
    let order = finish(&mut jobs);
    for &(name, code) in &order {
        let stderr = std::fs::read_to_string(dir.path().join(format!("{name}.err"))).unwrap_or_default();
        assert_eq!(code, Some(0), "{name} failed:\n{stderr}");
    }
    let stats = stats(&url);
    let arrivals = assert_within_the_limit(&stats);
    assert_eq!(order[0].0, "live", "live goes first: {order:?}");

    // Every call the jobs report reached the sandbox, and they did wait for each other.
    let reports: Vec<Value> = JOBS.iter().map(|(name, _)| report(dir.path(), name)).collect();
    let calls: u64 = reports.iter().map(|r| r["api"]["calls"].as_u64().unwrap()).sum();
    let waits: u64 = reports.iter().map(|r| r["api"]["shared_waits"].as_u64().unwrap()).sum();
    assert_eq!(calls, stats["total"].as_u64().unwrap());
    assert!(waits > 0, "no request waited for another process: {reports:?}");
    // Each wait on another process is a debug line (`-v`).
    let logged = JOBS.iter().any(|(name, _)| {
        std::fs::read_to_string(dir.path().join(format!("{name}.err")))
            .unwrap_or_default()
            .contains("API budget: waiting")
    });
    assert!(logged, "no job logged a wait on another process");
    let span = (arrivals[arrivals.len() - 1] - arrivals[0]) as f64 / 1e6;
    eprintln!(
        "four jobs: {} requests in {span:.1} s = {:.2} req/s, at most {} in any second, finished {order:?}, {waits} shared waits",
        arrivals.len(),
        (arrivals.len() - 1) as f64 / span,
        max_in_any_second(&arrivals),
    );
}

fn one_killed_mid_run(db: Db) {
    let dir = TempDir::new().unwrap();
    let (_sandbox, url, mut jobs) = start(dir.path(), &db);
    // Mid-run: daily (second lane, so its waiter record holds back reference and backfill) has
    // had some of its requests and not all; it is killed while it most likely waits for a slot.
    let (before_kill, killed_at) = wait_for(RUN_LIMIT, "daily to be mid-run", || {
        let seen = stats(&url)["total"].as_u64().unwrap();
        if seen < 6 {
            return None;
        }
        let daily = jobs.iter_mut().find(|j| j.name == "daily").unwrap();
        assert!(daily.child.0.try_wait().unwrap().is_none(), "daily finished before it could be killed");
        daily.child.0.kill().unwrap();
        // The sandbox's clock just after the kill.
        let after = stats(&url);
        Some((arrivals(&after).len(), after["now_us"].as_u64().unwrap()))
    });
    let order = finish(&mut jobs);
    for &(name, code) in &order {
        let stderr = std::fs::read_to_string(dir.path().join(format!("{name}.err"))).unwrap_or_default();
        let expected = if name == "daily" { None } else { Some(0) };
        assert_eq!(code, expected, "{name}:\n{stderr}");
    }
    let stats = stats(&url);
    let arrivals = assert_within_the_limit(&stats);
    let after: Vec<u64> = arrivals.iter().copied().filter(|&t| t > killed_at).collect();
    assert!(after.len() >= 10, "the others went on after the kill: {} requests", after.len());
    // The first request after the kill, and the throughput of the next seconds.
    let last_before = arrivals[..before_kill].last().copied().unwrap_or(0);
    let recovery = after[0].saturating_sub(killed_at) as f64 / 1e6;
    let gap = (after[0] - last_before) as f64 / 1e6;
    let next_5s = after.iter().filter(|&&t| t < after[0] + 5_000_000).count();
    eprintln!(
        "killed daily at {:.3} s: next request {recovery:.3} s later (gap between requests {gap:.3} s), {next_5s} requests in the 5 s after it",
        killed_at as f64 / 1e6
    );
    assert!(recovery <= 1.0, "the first request after the kill came {recovery:.3} s after it");
    // No stall after it either: at 2 per second less the slack, about 9 in 5 s when the others
    // always have a request ready; backfill alone, parsing and writing between its requests in a
    // debug build on a loaded machine, sends fewer.
    assert!(next_5s >= 5, "{next_5s} requests in the 5 s after the kill: {after:?}");
}

#[test]
fn four_jobs_at_once_share_two_requests_a_second_on_sqlite() {
    four_jobs_at_once(Db::Sqlite);
}

#[test]
fn four_jobs_at_once_share_two_requests_a_second_on_postgres() {
    let Some(pg) = PgSchema::new("four") else {
        eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
        return;
    };
    four_jobs_at_once(Db::Postgres(pg));
}

#[test]
fn a_job_killed_mid_run_holds_the_others_back_under_a_second_on_sqlite() {
    one_killed_mid_run(Db::Sqlite);
}

#[test]
fn a_job_killed_mid_run_holds_the_others_back_under_a_second_on_postgres() {
    let Some(pg) = PgSchema::new("kill") else {
        eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
        return;
    };
    one_killed_mid_run(Db::Postgres(pg));
}
