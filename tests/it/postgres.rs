//! What only PostgreSQL has, against a real server: migrations by several processes at once under
//! the advisory lock, `db status` and connect errors through the binary, job advisory locks, and a
//! unit too big for one statement's bind parameters. The store's meaning (upserts, column
//! ownership, skips, coverage, reads) is the shared suite in `store.rs`, run on both backends.
//! Runs when `DARKHORSES_TEST_DATABASE_URL` is set (for example
//! `postgres://postgres@127.0.0.1:5432/test`), each test in a fresh schema `t_<pid>_<n>` that is
//! dropped afterwards. Without the variable every test returns at once.

#![allow(clippy::expect_used, clippy::unwrap_used)]
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use darkhorses::config::{DatabaseConfig, Secret};
use darkhorses::model::{Course, Horse, Kind, Person, Race, Runner, Source, Trainer, Unit};
use darkhorses::store::{self, Store, migrations};
use tokio_postgres::NoTls;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh schema for one test, dropped (CASCADE) when the value is dropped.
struct TestDb {
    url: String,
    schema: String,
}

impl TestDb {
    async fn new() -> Option<TestDb> {
        let url = std::env::var("DARKHORSES_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
        let schema = format!("tp_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let db = TestDb { url, schema };
        db.sql(&format!("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", db.schema)).await;
        Some(db)
    }

    fn config(&self, auto_migrate: bool) -> DatabaseConfig {
        DatabaseConfig {
            url: Secret::new(self.url.clone()),
            schema: self.schema.clone(),
            auto_migrate,
            connection_timeout: 5,
            ..DatabaseConfig::default()
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        match store::open(&self.config(true)).await {
            Ok(s) => s,
            Err(e) => panic!("open {}: {e}", self.schema),
        }
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        client.batch_execute(&format!("SET search_path TO {}", self.schema)).await.expect("search_path");
        client
    }

    async fn sql(&self, sql: &str) {
        self.client().await.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn value<T: for<'a> tokio_postgres::types::FromSql<'a>>(&self, query: &str) -> T {
        let row = self.client().await.query_one(query, &[]).await.unwrap_or_else(|e| panic!("{query}: {e}"));
        row.get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread with its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.expect("drop schema");
            });
        });
        let _ = done.join();
    }
}

macro_rules! test_db {
    () => {
        match TestDb::new().await {
            Some(db) => db,
            None => {
                eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
                return;
            }
        }
    };
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 10, 7).expect("date")
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 7, h, m, 0).single().expect("time")
}

fn race(source: Source, id: &str) -> Race {
    Race {
        source,
        id: id.to_string(),
        course_id: "crs_1".into(),
        course_name: "Ascot".into(),
        race_date: day(),
        off_at: Some(at(14, 30)),
        region: "GB".into(),
        race_name: Some(format!("Race {id}")),
        race_type: Some("Flat".into()),
        race_class: Some("Class 4".into()),
        pattern: None,
        rating_band: None,
        age_band: Some("3yo+".into()),
        sex_restriction: None,
        distance: Some("1m2f110y".into()),
        distance_f: Some(10.5),
        distance_y: Some(2310),
        distance_m: Some(2112),
        going: None,
        going_detailed: None,
        surface: Some("Turf".into()),
        jumps: None,
        prize_amount: Some(4187.2),
        prize_currency: Some("GBP".into()),
        field_size: Some(2),
        ran: None,
        big_race: None,
        is_abandoned: None,
        stalls: None,
        weather: None,
        rail_movements: None,
        tip: None,
        verdict: None,
        betting_forecast: None,
        winning_time_detail: None,
        comments: None,
        non_runners: None,
        tote_win: None,
        tote_pl: None,
        tote_ex: None,
        tote_csf: None,
        tote_tricast: None,
        tote_trifecta: None,
    }
}

fn runner(source: Source, race_id: &str, horse_id: &str) -> Runner {
    Runner {
        source,
        race_id: race_id.into(),
        horse_id: horse_id.into(),
        horse_name: format!("Horse {horse_id}"),
        number: Some(1),
        draw: None,
        age: Some(4),
        sex_code: Some("G".into()),
        jockey_id: Some("jky_1".into()),
        jockey_name: Some("J Smith".into()),
        jockey_claim_lbs: None,
        trainer_id: Some("trn_1".into()),
        trainer_name: Some("T Jones".into()),
        owner_id: None,
        owner_name: None,
        sire_id: None,
        dam_id: None,
        damsire_id: None,
        weight_lbs: Some(130),
        headgear: None,
        official_rating: None,
        rpr: None,
        topspeed: None,
        result_rpr: None,
        result_topspeed: None,
        silk_url: None,
        form: None,
        spotlight: None,
        card_comment: None,
        position: None,
        finish_position: None,
        btn: None,
        ovr_btn: None,
        sp: None,
        sp_decimal: None,
        prize_amount: None,
        prize_currency: None,
        finish_time: None,
        finish_time_s: None,
        comment: None,
    }
}

fn horse(id: &str) -> Horse {
    Horse { id: id.into(), name: format!("Horse {id}"), sex_code: Some("G".into()), ..Horse::default() }
}

fn base_unit(kind: Kind) -> Unit {
    let mut unit = Unit::new(kind, day());
    unit.entities.courses = vec![Course {
        id: "crs_1".into(),
        name: "Ascot".into(),
        region_code: "gb".into(),
        region: "Great Britain".into(),
    }];
    unit.entities.horses = vec![horse("hrs_1"), horse("hrs_2")];
    unit.entities.jockeys = vec![Person { id: "jky_1".into(), name: "J Smith".into() }];
    unit.entities.trainers = vec![Trainer { id: "trn_1".into(), name: "T Jones".into(), location: None }];
    unit.pages = 1;
    unit.api_calls = 1;
    unit
}

// ---------------------------------------------------------------------------------------------
// Through the binary, as an operator runs it: the store chosen by DATABASE_URL and
// DARKHORSES_DATABASE_SCHEMA.

/// `darkhorses ARGS` against `url` in `schema`, from an empty working directory.
fn darkhorses(dir: &Path, url: &str, schema: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("darkhorses"));
    cmd.args(args)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("DARKHORSES_DATABASE_SCHEMA", schema)
        .env_remove("DARKHORSES_TEST_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs tests/tools/check-contract.py (SCHEMA.md's checker) on the schema.
fn check_contract(db: &TestDb) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/check-contract.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&db.url)
        .args(["--schema", &db.schema])
        .output()
        .expect("run check-contract.py");
    let text = stdout_of(&out);
    assert!(out.status.success(), "{text}{}", stderr_of(&out));
    assert!(text.contains("columns present in 18 tables"), "{text}");
}

#[tokio::test]
async fn db_migrate_by_three_processes_at_once_applies_each_file_once_and_status_lists_them() {
    let db = test_db!();
    let dir = tempfile::tempdir().expect("tempdir");
    let pending = darkhorses(dir.path(), &db.url, &db.schema, &["db", "status"]).output().expect("db status");
    let text = stdout_of(&pending);
    assert!(pending.status.success(), "{text}{}", stderr_of(&pending));
    assert!(text.contains(&format!("(schema {})", db.schema)), "{text}");
    assert!(text.contains(&format!("0 applied, {} pending", migrations::POSTGRES.len())), "{text}");

    let children: Vec<_> = (0..3)
        .map(|_| darkhorses(dir.path(), &db.url, &db.schema, &["db", "migrate"]).spawn().expect("spawn db migrate"))
        .collect();
    let mut applied: Vec<String> = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("db migrate");
        assert!(out.status.success(), "{}{}", stdout_of(&out), stderr_of(&out));
        applied.extend(stdout_of(&out).lines().filter(|l| l.starts_with("applied ")).map(str::to_string));
    }
    for m in migrations::POSTGRES {
        let line = format!("applied {}", m.file_stem());
        assert_eq!(applied.iter().filter(|l| l.starts_with(&line)).count(), 1, "{line} once: {applied:?}");
    }
    assert_eq!(applied.len(), migrations::POSTGRES.len(), "{applied:?}");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM schema_migrations").await, migrations::POSTGRES.len() as i64);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM bookmakers").await, 19);

    let status = darkhorses(dir.path(), &db.url, &db.schema, &["db", "status"]).output().expect("db status");
    let text = stdout_of(&status);
    assert!(status.status.success(), "{text}{}", stderr_of(&status));
    for m in migrations::POSTGRES {
        let line = text.lines().find(|l| l.starts_with(&format!("{:04}", m.version))).unwrap_or_default();
        assert!(line.contains(m.name) && !line.contains("pending"), "{text}");
    }
    assert!(text.contains(&format!("{} applied, 0 pending", migrations::POSTGRES.len())), "{text}");
    check_contract(&db);
}

/// Every way of not reaching the database ends the same: exit 2 and one line on stderr that names
/// host, port and user (never the password) within `database.connection_timeout`. The test server
/// trusts every local connection, so a wrong password cannot be provoked here; a role or database
/// that does not exist takes the same path (the server refuses the startup packet).
#[tokio::test]
async fn connect_failures_exit_2_with_one_line_naming_host_port_and_user() {
    let db = test_db!();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg: tokio_postgres::Config = db.url.parse().expect("test url");
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        other => panic!("the test URL needs a TCP host, not {other:?}"),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    const PASSWORD: &str = "s3cret-pw-x9";
    const TIMEOUT_SECS: u64 = 2;
    // A server that accepts connections (the kernel completes the handshake) and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent = listener.local_addr().expect("address").to_string();
    let cases = [
        ("refused", format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/test"), "127.0.0.1:1", "postgres"),
        ("no answer", format!("postgres://postgres:{PASSWORD}@{silent}/test"), silent.as_str(), "postgres"),
        ("no role", format!("postgres://dh_no_such_role:{PASSWORD}@{host}:{port}/test"), "", "dh_no_such_role"),
        ("no database", format!("postgres://postgres:{PASSWORD}@{host}:{port}/dh_no_such_db"), "", "postgres"),
    ];
    for (case, url, at, user) in cases {
        let at = if at.is_empty() { format!("{host}:{port}") } else { at.to_string() };
        let started = Instant::now();
        let out = darkhorses(dir.path(), &url, &db.schema, &["db", "status"])
            .env("DARKHORSES_DATABASE_CONNECTION_TIMEOUT", TIMEOUT_SECS.to_string())
            .output()
            .expect("db status");
        let took = started.elapsed();
        let (stdout, stderr) = (stdout_of(&out), stderr_of(&out));
        assert_eq!(out.status.code(), Some(2), "{case}: {stdout}{stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{case}: one line: {stderr}");
        assert!(lines[0].contains(&at) && lines[0].contains(&format!("user {user}")), "{case}: {stderr}");
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD), "{case}: the password leaked: {stderr}");
        // The timeout bounds the wait; the rest is starting the process.
        assert!(took < Duration::from_secs(TIMEOUT_SECS + 2), "{case}: took {took:?}");
        if case == "no answer" {
            assert!(lines[0].contains(&format!("no answer within {TIMEOUT_SECS}s")), "{stderr}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Postgres-only store behaviour

#[tokio::test]
async fn a_job_lock_is_held_until_dropped() {
    let db = test_db!();
    let store = db.open().await;
    let other = db.open().await;
    let held = store.try_job_lock("daily").await.expect("lock").expect("granted");
    assert!(other.try_job_lock("daily").await.expect("lock").is_none(), "a second holder is refused");
    assert!(other.try_job_lock("live").await.expect("lock").is_some(), "other jobs are independent");
    drop(held);
    // The server releases the lock when it sees the connection close: wait for that, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if other.try_job_lock("daily").await.expect("lock").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the lock was not released after the holder was dropped");
        tokio::task::yield_now().await;
    }
}

/// Issue 15, item 5: a run refused the database lock says who holds it (pid and host, read from
/// the holder's session), not "another host" when the holder is this host; another schema of the
/// same database is another database and runs.
#[tokio::test]
async fn a_run_refused_the_database_lock_names_the_holder_on_this_host() {
    let db = test_db!();
    let store = db.open().await;
    let held = store.try_job_lock("daily").await.expect("lock").expect("granted");
    let dir = tempfile::tempdir().unwrap();
    let run = |schema: &str| {
        darkhorses(dir.path(), &db.url, schema, &["daily", "--days-ahead", "0", "--days-back", "0"])
            .env("DARKHORSES_LOCKS_DIR", dir.path().join("locks"))
            .env("DARKHORSES_LOGGING_DIR", dir.path().join("logs"))
            .env("DARKHORSES_API_BASE_URL", "http://127.0.0.1:9/v1")
            .env("RACING_API_USERNAME", "demo")
            .env("RACING_API_PASSWORD", "demo")
            .output()
            .unwrap()
    };
    let out = run(&db.schema);
    let stdout = stdout_of(&out);
    assert_eq!(out.status.code(), Some(0), "a skipped run exits 0: {stdout}{}", stderr_of(&out));
    let holder = format!("pid {} on {}", std::process::id(), darkhorses::lock::hostname());
    assert!(stdout.contains("daily is already running: ") && stdout.contains(&holder), "wanted {holder:?}: {stdout}");
    assert!(stdout.contains(&format!("(schema {})", db.schema)), "names the database: {stdout}");
    assert!(!stdout.contains("another host"), "{stdout}");

    let other = TestDb { url: db.url.clone(), schema: format!("{}_b", db.schema) };
    other.sql(&format!("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", other.schema)).await;
    let out = run(&other.schema);
    assert!(!stdout_of(&out).contains("already running"), "another schema is another database: {}", stdout_of(&out));
    drop(held);
}

/// 20,000 runners of 38 columns in one unit: far past the 65,535 bind parameters one statement
/// may carry, so this only works because rows go through COPY.
#[tokio::test]
async fn twenty_thousand_runners_in_one_unit() {
    let db = test_db!();
    let store = db.open().await;
    let mut unit = base_unit(Kind::Results);
    unit.entities.horses.clear();
    for r in 0..2000 {
        let race_id = format!("rac_{r}");
        unit.races.push(race(Source::Result, &race_id));
        for h in 0..10 {
            let horse_id = format!("hrs_{r}_{h}");
            unit.entities.horses.push(horse(&horse_id));
            let mut x = runner(Source::Result, &race_id, &horse_id);
            x.position = Some((h + 1).to_string());
            x.btn = Some(f64::from(h) * 0.5);
            unit.runners.push(x);
        }
    }
    let stats = store.write_unit(&unit).await.expect("bulk write");
    assert_eq!(stats.tables["runners"].inserted, 20_000);
    assert_eq!(stats.tables["horses"].inserted, 20_000);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM runners").await, 20_000);
    let cov = store.coverage(Kind::Results, day(), day()).await.expect("coverage");
    assert_eq!((cov[0].races, cov[0].runners), (2000, 20_000));
    let again = store.write_unit(&unit).await.expect("rerun");
    assert_eq!(again.tables["runners"].unchanged, 20_000);
}
