//! The fault suite (issue 12, item 3), loopback only: the real binary against a sandbox child and
//! real databases, interrupted the ways production interrupts it.
//!
//! - SIGKILL at seeded points of `daily` and `orchestrate --force-all` (after the sandbox has
//!   served N requests, plus a seeded delay of a few ms, so kills land in fetches, writes and
//!   commits): after a rerun, the contract tables equal an uninterrupted run's (a canonical dump,
//!   [`dump`]) and no `job_runs` row is left `running`.
//! - PostgreSQL connections terminated mid-run (`pg_terminate_backend` from a second connection,
//!   aimed at the run's own backends by `application_name`) and the database unreachable at start:
//!   the run fails cleanly (one error line, no panic) or recovers, a rerun completes, the tables
//!   equal an uninterrupted run's, and no `job_runs` row is left `running`.
//! - The runner's own gaps: a dry-run session that cannot start ends its run row as `failed`; a
//!   SQLite dry-run session no longer swallows other writes through the same store.
//!
//! Each test prints one `faults suite:` line with what it injected (`--nocapture`, or .ci/run's
//! log) for BENCHMARKS.md's reliability table.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tempfile::TempDir;

use super::acceptance::{ChildGuard, darkhorses, darkhorses_child, run, sandbox_child, sandbox_stats, wait_for};

/// The clock of every run here (client and sandbox): a Tuesday with racing, after the day's
/// results are out, so `daily` fetches racecards ahead and results behind.
const NOW: &str = "2026-06-10T21:00:00Z";
const SEED: &str = "12";
/// Columns that say when a row was fetched or written (wall clock, not `--now`): the only ones
/// left out of the comparison.
const TIMESTAMPS: [&str; 5] = ["updated_at", "racecard_updated_at", "result_updated_at", "fetched_at", "applied_at"];
/// The contract tables compared: every one but `job_runs` (a killed run adds rows by design; it
/// is checked for `running` rows instead) and `alert_state` (how runs went, which a fault changes
/// by design: a failed run counts towards an alert).
fn compared_tables() -> impl Iterator<Item = &'static str> {
    darkhorses::store::CONTRACT_TABLES.into_iter().filter(|t| !matches!(*t, "job_runs" | "alert_state"))
}

/// Print a suite's count line and keep it in `target/tmp/reliability/<key>.txt`, where .ci/run
/// shows it after the gate (cargo captures a passing test's stdout).
pub(crate) fn report_counts(key: &str, line: &str) {
    println!("{line}");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{key}.txt")), format!("{line}\n"));
}

/// A seeded xorshift: the kill points are the same on every run of the suite.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical dumps

/// Every compared table of a database, each row a JSON object without [`TIMESTAMPS`], rows sorted.
type Dump = BTreeMap<String, Vec<String>>;

fn canonical(mut row: Map<String, Value>) -> String {
    for column in TIMESTAMPS {
        row.remove(column);
    }
    // api_responses.body is the gzip of the bytes sha256 names: the hash stands for it.
    row.remove("body");
    Value::Object(row).to_string()
}

fn dump_sqlite(path: &Path) -> Dump {
    let conn = rusqlite::Connection::open(path).unwrap();
    compared_tables()
        .map(|table| {
            let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
            let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    let mut row = Map::new();
                    for (i, name) in names.iter().enumerate() {
                        let value = match r.get::<_, rusqlite::types::Value>(i)? {
                            rusqlite::types::Value::Null => Value::Null,
                            rusqlite::types::Value::Integer(n) => Value::from(n),
                            rusqlite::types::Value::Real(f) => Value::from(f),
                            rusqlite::types::Value::Text(s) => Value::from(s),
                            rusqlite::types::Value::Blob(b) => Value::from(b.len()),
                        };
                        row.insert(name.clone(), value);
                    }
                    Ok(canonical(row))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort();
            (table.to_string(), rows)
        })
        .collect()
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn dump_pg(url: &str, schema: &str) -> Dump {
    let client = pg_client(url).await;
    let mut dump = Dump::new();
    for table in compared_tables() {
        let rows = client.query(&format!("SELECT row_to_json(t)::text FROM {schema}.{table} t"), &[]).await.unwrap();
        let mut rows: Vec<String> = rows
            .iter()
            .map(|r| match serde_json::from_str(r.get::<_, &str>(0)).unwrap() {
                Value::Object(row) => canonical(row),
                other => panic!("{table}: {other}"),
            })
            .collect();
        rows.sort();
        dump.insert(table.to_string(), rows);
    }
    dump
}

/// The first difference between two dumps, for the failure message (the dumps are large).
fn first_difference(want: &Dump, got: &Dump) -> Option<String> {
    for (table, rows) in want {
        let other = got.get(table).cloned().unwrap_or_default();
        if *rows != other {
            let missing: Vec<&String> = rows.iter().filter(|r| !other.contains(r)).take(2).collect();
            let extra: Vec<&String> = other.iter().filter(|r| !rows.contains(r)).take(2).collect();
            return Some(format!(
                "{table}: {} rows wanted, {} found; missing e.g. {missing:?}; unexpected e.g. {extra:?}",
                rows.len(),
                other.len()
            ));
        }
    }
    None
}

fn running_rows_sqlite(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM job_runs WHERE status = 'running'", [], |r| r.get(0)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// SIGKILL at seeded points

/// A job command against the sandbox at `url` into SQLite file `db`, clock pinned.
fn job(dir: &Path, url: &str, db: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = darkhorses_child(dir);
    cmd.env("DARKHORSES_API_BASE_URL", url)
        .env("RACING_API_USERNAME", "demo")
        .env("RACING_API_PASSWORD", "demo")
        .env("DARKHORSES_API_RATE_LIMIT", "50")
        .env("DATABASE_URL", format!("sqlite:{}", db.display()))
        .args(["--now", NOW, "-q"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn finish(cmd: &mut std::process::Command, what: &str) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: a panic: {stderr}");
    assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
}

fn requests_served(url: &str) -> u64 {
    sandbox_stats(url)["total"].as_u64().unwrap()
}

/// Kill `args` at `points` seeded points, rerun each to completion, compare with an
/// uninterrupted run; returns the number of kills that landed while the run was still going.
fn kill_and_rerun(args: &[&str], points: usize, seed: u64) -> usize {
    let dir = TempDir::new().unwrap();
    let (_sandbox, url) = sandbox_child(dir.path(), &["--now", NOW, "--seed", SEED, "--rate-limit", "50"]);

    let reference = dir.path().join("reference.db");
    let before = requests_served(&url);
    finish(&mut job(dir.path(), &url, &reference, args), "the uninterrupted run");
    let calls = requests_served(&url) - before;
    assert!(calls >= 3, "{args:?} made {calls} calls: too few to kill it anywhere interesting");
    let want = dump_sqlite(&reference);
    assert!(want["races"].len() > 20 && want["runners"].len() > 100, "the reference run stored too little");

    let mut rng = Seeded(seed);
    let mut landed = 0;
    for point in 0..points {
        let (after, delay_ms) = (rng.below(calls), rng.below(60));
        let db = dir.path().join(format!("killed_{point}.db"));
        let base = requests_served(&url);
        let mut child = ChildGuard(job(dir.path(), &url, &db, args).stderr(Stdio::null()).spawn().unwrap());
        let exited = wait_for(Duration::from_secs(120), "the run to reach its kill point", || {
            if let Some(status) = child.0.try_wait().unwrap() {
                return Some(Some(status));
            }
            (requests_served(&url) - base > after).then_some(None)
        });
        if exited.is_none() {
            std::thread::sleep(Duration::from_millis(delay_ms));
            // SIGKILL: no handler runs, as on an OOM kill or a power cut.
            child.0.kill().unwrap();
            let status = child.0.wait().unwrap();
            if status.code().is_none() {
                landed += 1;
            }
        }
        let what = format!("{args:?} killed after request {} + {delay_ms} ms (point {point})", after + 1);
        finish(&mut job(dir.path(), &url, &db, args), &format!("the rerun of {what}"));
        if let Some(diff) = first_difference(&want, &dump_sqlite(&db)) {
            panic!("{what}: after the rerun the tables differ from an uninterrupted run's: {diff}");
        }
        assert_eq!(running_rows_sqlite(&db), 0, "{what}: a job_runs row is left running");
    }
    landed
}

#[test]
fn daily_killed_at_twenty_seeded_points_then_rerun_equals_an_uninterrupted_run() {
    let points = 20;
    let landed = kill_and_rerun(&["daily", "--days-ahead", "2", "--days-back", "2"], points, 0x9e37_79b9_7f4a_7c15);
    report_counts(
        "faults_daily",
        &format!(
            "faults suite: daily: {points} kill points, {landed} landed mid-run; every rerun equal to the uninterrupted run"
        ),
    );
    assert!(landed >= points / 2, "only {landed} of {points} kills landed while the run was going");
}

#[test]
fn orchestrate_killed_at_ten_seeded_points_then_rerun_equals_an_uninterrupted_run() {
    let points = 10;
    let landed = kill_and_rerun(&["orchestrate", "--force-all"], points, 0x2545_f491_4f6c_dd1d);
    report_counts(
        "faults_orchestrate",
        &format!(
            "faults suite: orchestrate --force-all: {points} kill points, {landed} landed mid-run; every rerun equal to the uninterrupted run"
        ),
    );
    assert!(landed >= points / 2, "only {landed} of {points} kills landed while the run was going");
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: connections terminated mid-run, the server unreachable at start

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh schema, dropped when the value is.
struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    async fn new(label: &str) -> Option<PgSchema> {
        let url = std::env::var("DARKHORSES_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
        let name =
            format!("f_{label}_{}_{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        pg_client(&url)
            .await
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"))
            .await
            .unwrap();
        Some(PgSchema { url, name })
    }

    /// The URL the runs use: their pooled connections name themselves after the schema, so the
    /// test can find (and terminate) exactly them in `pg_stat_activity`.
    fn run_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}application_name={}", self.url, self.name)
    }

    async fn running_rows(&self) -> i64 {
        let client = pg_client(&self.url).await;
        let sql = format!("SELECT count(*) FROM {}.job_runs WHERE status = 'running'", self.name);
        client.query_one(&sql, &[]).await.unwrap().get(0)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let _ = pg_client(&url).await.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
            });
        })
        .join();
    }
}

fn pg_job(dir: &Path, sandbox: &str, url: &str, schema: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = darkhorses_child(dir);
    cmd.env("DARKHORSES_API_BASE_URL", sandbox)
        .env("RACING_API_USERNAME", "demo")
        .env("RACING_API_PASSWORD", "demo")
        .env("DARKHORSES_API_RATE_LIMIT", "5")
        .env("DATABASE_URL", url)
        .env("DARKHORSES_DATABASE_SCHEMA", schema)
        .env("DARKHORSES_DATABASE_CONNECTION_TIMEOUT", "3")
        .args(["--now", NOW, "-q"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Terminate every backend of the run: its pool (named after the schema) and its job-lock
/// connection (named after the job and its pid). Returns how many were terminated.
async fn terminate(admin: &tokio_postgres::Client, schema: &str, pid: u32) -> i64 {
    let sql = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
               WHERE pid <> pg_backend_pid() AND (application_name = $1 OR application_name LIKE $2)";
    admin.query_one(sql, &[&schema, &format!("darkhorses %: pid {pid} on %")]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_connections_terminated_mid_run_fail_cleanly_and_a_rerun_completes() {
    let Some(reference) = PgSchema::new("ref").await else {
        eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
        return;
    };
    let dir = TempDir::new().unwrap();
    let (_sandbox, sandbox) = sandbox_child(dir.path(), &["--now", NOW, "--seed", SEED, "--rate-limit", "5"]);
    let args = ["backfill", "--from", "2026-05-28", "--to", "2026-06-06"];

    let before = requests_served_async(&sandbox).await;
    let out = pg_job(dir.path(), &sandbox, &reference.run_url(), &reference.name, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = requests_served_async(&sandbox).await - before;
    let want = dump_pg(&reference.url, &reference.name).await;

    let admin = pg_client(&reference.url).await;
    let (mut injected, mut rounds, mut codes) = (0, 0, Vec::new());
    // Cut at three depths of the run (early: migrations and the first units; middle; late), each
    // into a fresh schema (a backfill skips what is covered), three terminations 40 ms apart so
    // some land inside a unit's transaction.
    for cut_after in [1, calls / 2, calls - 2] {
        rounds += 1;
        let faulted = PgSchema::new("cut").await.unwrap();
        let base = requests_served_async(&sandbox).await;
        let mut child = pg_job(dir.path(), &sandbox, &faulted.run_url(), &faulted.name, &args).spawn().unwrap();
        let pid = child.id();
        while child.try_wait().unwrap().is_none() && requests_served_async(&sandbox).await - base <= cut_after {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for _ in 0..3 {
            injected += terminate(&admin, &faulted.name, pid).await;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let what = format!("terminated after {cut_after} of {calls} requests");
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{what}: {stderr}");
        // Recovered (0), some units failed (1) or ended with one error line (2).
        let code = out.status.code().unwrap_or_else(|| panic!("{what}: killed by a signal: {:?}", out.status));
        eprintln!("{what}: exit {code}: {}", stderr.trim());
        codes.push(code);
        assert!(code <= 2, "{what}: exit {code}: {stderr}");
        if code == 2 {
            assert!(stderr.contains("error:"), "{what}: a fatal end says why: {stderr}");
        }
        assert_eq!(faulted.running_rows().await, 0, "{what}: a job_runs row is left running; {stderr}");

        let out = pg_job(dir.path(), &sandbox, &faulted.run_url(), &faulted.name, &args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{what}, the rerun: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(faulted.running_rows().await, 0, "{what}, the rerun");
        if let Some(diff) = first_difference(&want, &dump_pg(&faulted.url, &faulted.name).await) {
            panic!("{what}, then rerun: the tables differ from an uninterrupted run's: {diff}");
        }
    }
    report_counts(
        "faults_pg_terminated",
        &format!(
            "faults suite: postgres: {rounds} runs cut, {injected} backends terminated mid-run (exit codes {codes:?}); each rerun equal to an uninterrupted run"
        ),
    );
    assert!(injected >= rounds, "each round terminated at least one backend: {injected}");
}

async fn requests_served_async(url: &str) -> u64 {
    let stats = format!("{}/_sandbox/stats", url.trim_end_matches("/v1"));
    let body: Value = reqwest::get(&stats).await.unwrap().json().await.unwrap();
    body["total"].as_u64().unwrap()
}

#[tokio::test]
async fn pg_unreachable_at_start_is_one_error_line_and_a_rerun_completes() {
    let Some(schema) = PgSchema::new("down").await else {
        eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
        return;
    };
    let dir = TempDir::new().unwrap();
    // A port nothing listens on (bound, then released), and a host that refuses.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = format!("postgres://postgres@127.0.0.1:{port}/test");
    let mut faults = 0;
    for args in [&["daily"][..], &["orchestrate", "--force-all"], &["db", "status"], &["db", "migrate"]] {
        faults += 1;
        let r = run(darkhorses(dir.path())
            .env("DATABASE_URL", &down)
            .env("DARKHORSES_DATABASE_SCHEMA", &schema.name)
            .env("DARKHORSES_DATABASE_CONNECTION_TIMEOUT", "2")
            .args(["--sandbox", "--now", NOW])
            .args(args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("127.0.0.1:{port}")), "{args:?} names where: {}", r.stderr);
        assert!(!r.stderr.contains("RUST_BACKTRACE"), "{}", r.stderr);
        assert_eq!(r.stderr.lines().filter(|l| l.starts_with("error:")).count(), 1, "{args:?}: {}", r.stderr);
    }
    let r = run(darkhorses(dir.path())
        .env("DATABASE_URL", &schema.url)
        .env("DARKHORSES_DATABASE_SCHEMA", &schema.name)
        .args(["--sandbox", "--now", NOW, "daily"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(schema.running_rows().await, 0);
    report_counts(
        "faults_pg_unreachable",
        &format!(
            "faults suite: postgres unreachable at start: {faults} commands, each one error line, exit 2; the rerun completed"
        ),
    );
}

// ---------------------------------------------------------------------------------------------
// The runner's own gaps (issue 12)

/// A job outside the crate that only reads: enough to run the runner's dry-run path.
struct Census;

#[async_trait::async_trait]
impl darkhorses::jobs::UpdateJob for Census {
    fn name(&self) -> &str {
        "census"
    }
    fn needs(&self) -> darkhorses::jobs::Needs {
        darkhorses::jobs::Needs { store: true, api: false }
    }
    async fn run(&self, ctx: &darkhorses::jobs::JobContext) -> darkhorses::Result<darkhorses::jobs::JobReport> {
        ctx.store()?.table_counts().await?;
        Ok(darkhorses::jobs::JobReport::new(self.name(), ctx.dry_run))
    }
}

fn context(dir: &Path, store: Arc<dyn darkhorses::store::Store>, dry_run: bool) -> darkhorses::jobs::JobContext {
    let mut config = darkhorses::config::Config::default();
    config.locks.dir = dir.join("locks");
    darkhorses::jobs::JobContext {
        config: Arc::new(config),
        clock: Arc::new(darkhorses::clock::SystemClock),
        dry_run,
        cancel: Default::default(),
        store: Some(store),
        api: None,
        covers_since: None,
        writes: None,
        committed: Default::default(),
    }
}

#[tokio::test]
async fn a_dry_run_session_that_cannot_start_ends_its_run_row_failed() {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let cfg = darkhorses::config::DatabaseConfig {
        url: darkhorses::config::Secret::new(format!("sqlite:{}", dir.path().join("data/x.db").display())),
        ..Default::default()
    };
    let store = darkhorses::store::open(&cfg).await.unwrap();
    // The session opens a connection of its own: with the directory gone (moved away under the
    // open store), it cannot, after the run's row was started.
    std::fs::rename(dir.path().join("data"), dir.path().join("moved")).unwrap();
    let ctx = context(dir.path(), Arc::clone(&store), true);
    let err = darkhorses::jobs::runner::execute(&Census, &ctx, darkhorses::store::Trigger::Manual, None)
        .await
        .expect_err("the dry-run session cannot start");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let runs = store.latest_job_runs(Some("census"), 5).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, "failed", "{runs:?}");
    assert!(runs[0].error.as_deref().unwrap_or_default().contains("does not exist"), "{runs:?}");
    report_counts("faults_runner", "faults suite: runner: 1 dry-run session refused; its job_runs row ended failed");
}

#[tokio::test]
async fn a_sqlite_dry_run_holds_no_lock_and_leaves_other_writes_alone() {
    use darkhorses::store::{NewJobRun, ReferenceData, Trigger};
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.db");
    let cfg = darkhorses::config::DatabaseConfig {
        url: darkhorses::config::Secret::new(format!("sqlite:{}", path.display())),
        ..Default::default()
    };
    let store = darkhorses::store::open(&cfg).await.unwrap();
    fn new_run(job: &str) -> NewJobRun {
        NewJobRun {
            job: job.to_string(),
            slot: None,
            trigger: Trigger::Manual,
            started_at: chrono::Utc::now(),
            host: "here".into(),
            pid: 1,
            dry_run: false,
        }
    }
    fn reference(code: &str) -> ReferenceData {
        let region = darkhorses::model::Region { code: code.into(), name: code.to_uppercase() };
        ReferenceData { regions: vec![region], ..Default::default() }
    }

    let before = store.table_counts().await.unwrap();
    let dry = store.dry_run().await.unwrap();
    // A write of another job while the dry run is open and before it wrote: kept.
    store.start_job_run(&new_run("other_before")).await.unwrap();
    // The dry run writes (into its copy beside the file) ...
    dry.write_reference(&reference("dry")).await.unwrap();
    let copies = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("dry-run"))
            .count()
    };
    assert!(copies() > 0, "the dry run writes into a copy beside the database");
    for entry in std::fs::read_dir(dir.path()).unwrap().map(Result::unwrap) {
        use std::os::unix::fs::PermissionsExt;
        if entry.file_name().to_string_lossy().contains("dry-run") {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{:?} is owner-only", entry.file_name());
        }
    }
    // ... and holds no lock on the database: another connection that will not wait at all
    // (busy_timeout 0: SQLITE_BUSY at once if anyone held the write lock) writes, as does the store.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.busy_timeout(Duration::ZERO).unwrap();
    other
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO regions (code, name) VALUES ('other', 'OTHER'); COMMIT;")
        .expect("another writer goes on while a dry run is open");
    store.write_reference(&reference("real")).await.unwrap();
    store.start_job_run(&new_run("other_during")).await.unwrap();
    dry.write_reference(&reference("dry2")).await.unwrap();
    dry.close().await.unwrap();
    assert_eq!(copies(), 0, "the dry run's copy is removed at its end");
    let after = store.table_counts().await.unwrap();
    assert_eq!(after["regions"], before["regions"] + 2, "only the real writes are kept: {after:?}");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let strings = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(strings("SELECT job FROM job_runs ORDER BY id"), ["other_before", "other_during"]);
    assert_eq!(
        strings("SELECT code FROM regions WHERE code IN ('dry', 'dry2', 'other', 'real') ORDER BY code"),
        ["other", "real"],
        "the dry writes are discarded"
    );
}
