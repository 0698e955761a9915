//! `darkhorses orchestrate` (issue 8): every slot of every interval accounted for exactly once in
//! `job_runs` (run, or skipped with a reason) over a simulated week, three processes racing at
//! every tick of a day against one Postgres schema, DST days, timeouts, dry runs that write no
//! data. Most ticks go through the library's one-shot `tick` with a pinned clock (two thousand
//! processes would be slow); some go through the binary; every tick uses the real ledger in a real
//! database (SQLite always, Postgres when `DARKHORSES_TEST_DATABASE_URL` is set).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use darkhorses::clock::FixedClock;
use darkhorses::config::{Config, IntervalConfig, MisfirePolicy, SandboxConfig, Secret};
use darkhorses::jobs::Needs;
use darkhorses::orchestrate::{Options, previous_fire};
use darkhorses::sandbox::Sandbox;
use darkhorses::schedule::Schedule;
use darkhorses::store::{JobRun, Store};
use serde_json::Value;
use tempfile::TempDir;

use crate::acceptance::{darkhorses, run};

const PG_ENV: &str = "DARKHORSES_TEST_DATABASE_URL";
static NEXT_SCHEMA: AtomicUsize = AtomicUsize::new(0);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn stamp(t: DateTime<Utc>) -> String {
    darkhorses::orchestrate::stamp(t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One interval of a test schedule: name, cron, zone, job and args, misfire, timeout, priority.
struct Iv(&'static str, &'static str, &'static str, &'static [&'static str], MisfirePolicy, u64, u32);

/// Cheap intervals (bookmakers only: no API call, one small write) on schedules that exercise
/// each misfire policy, a fixed-time job in London across a DST change, and a daily morning.
const WEEK: [Iv; 5] = [
    Iv("live_like", "*/15 9-20 * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunOnce, 60, 1),
    Iv("hourly_all", "0 * * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunAll, 60, 2),
    Iv("half_skip", "*/30 * * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::Skip, 60, 3),
    Iv(
        "nightly_london",
        "30 1 * * *",
        "Europe/London",
        &["reference", "--bookmakers-only"],
        MisfirePolicy::RunOnce,
        60,
        4,
    ),
    Iv("morning", "0 6 * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunOnce, 60, 5),
];

/// A test's world: a directory, a database, a sandbox API on a pinned clock, a runtime.
struct World {
    dir: TempDir,
    url: String,
    schema: Option<String>,
    clock: FixedClock,
    sandbox: Sandbox,
    rt: tokio::runtime::Runtime,
}

impl World {
    /// `None` for Postgres when `DARKHORSES_TEST_DATABASE_URL` is not set.
    fn new(backend: Backend, now: &str) -> Option<World> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (url, schema) = match backend {
            Backend::Sqlite => (format!("sqlite:{}", dir.path().join("test.db").display()), None),
            Backend::Postgres => {
                let Some(url) = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty()) else {
                    eprintln!("skipped: {PG_ENV} is not set");
                    return None;
                };
                let schema = format!("orch_{}_{}", std::process::id(), NEXT_SCHEMA.fetch_add(1, Ordering::SeqCst));
                rt.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
                    tokio::spawn(conn);
                    client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
                        .await
                        .unwrap();
                });
                (url, Some(schema))
            }
        };
        let clock = FixedClock::new(at(now));
        let cfg = SandboxConfig { port: 0, seed: 42, rate_limit: 0.0, ..SandboxConfig::default() };
        let sandbox = {
            let _guard = rt.enter();
            Sandbox::start(cfg, Arc::new(clock.clone())).unwrap()
        };
        Some(World { dir, url, schema, clock, sandbox, rt })
    }

    /// The configuration the library's ticks use: these intervals, this database and sandbox.
    fn config(&self, intervals: &[Iv]) -> Config {
        let mut config = Config {
            intervals: intervals.iter().map(|iv| (iv.0.to_string(), interval(iv))).collect(),
            ..Config::default()
        };
        config.database.url = Secret::new(self.url.clone());
        if let Some(schema) = &self.schema {
            config.database.schema = schema.clone();
        }
        config.locks.dir = self.dir.path().join("locks");
        config.api.base_url = self.sandbox.base_url();
        config.api.username = Secret::new("demo");
        config.api.password = Secret::new("demo");
        config.api.rate_limit = 50.0;
        config
    }

    /// The same intervals as a config file for the binary.
    fn config_file(&self, intervals: &[Iv]) -> std::path::PathBuf {
        let mut yaml = String::from("intervals:\n");
        for iv in intervals {
            let misfire = match iv.4 {
                MisfirePolicy::RunOnce => "run_once",
                MisfirePolicy::RunAll => "run_all",
                MisfirePolicy::Skip => "skip",
            };
            let args: Vec<String> = iv.3[1..].iter().map(|a| format!("{a:?}")).collect();
            yaml.push_str(&format!(
                "  {}:\n    frequency: \"{}\"\n    timezone: {}\n    job: {}\n    args: [{}]\n    misfire: {misfire}\n    \
                 timeout: {}\n    priority: {}\n",
                iv.0,
                iv.1,
                iv.2,
                iv.3[0],
                args.join(", "),
                iv.5,
                iv.6
            ));
        }
        let path = self.dir.path().join("orchestrate.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    /// The binary in this world's directory, database and sandbox, at `now`.
    fn binary(&self, config: &Path, now: DateTime<Utc>) -> assert_cmd::Command {
        let mut cmd = darkhorses(self.dir.path());
        cmd.env("DATABASE_URL", &self.url)
            .env("DARKHORSES_API_BASE_URL", self.sandbox.base_url())
            .env("DARKHORSES_API_RATE_LIMIT", "50")
            .env("RACING_API_USERNAME", "demo")
            .env("RACING_API_PASSWORD", "demo")
            .args(["--config", &config.display().to_string(), "--now", &now.to_rfc3339(), "--json"]);
        if let Some(schema) = &self.schema {
            cmd.env("DARKHORSES_DATABASE_SCHEMA", schema);
        }
        cmd
    }

    async fn store(&self, config: &Config) -> Arc<dyn Store> {
        darkhorses::store::open(&config.database).await.unwrap()
    }

    /// Every `job_runs` row.
    fn ledger(&self, config: &Config) -> Vec<JobRun> {
        self.rt.block_on(async { self.store(config).await.latest_job_runs(None, 1_000_000).await.unwrap() })
    }

    /// Library ticks at each of `ticks`, the clock moved to each first; every tick must succeed.
    fn ticks(&self, config: &Config, ticks: &[DateTime<Utc>]) {
        let config = Arc::new(config.clone());
        self.rt.block_on(async {
            let clock = Arc::new(self.clock.clone());
            let ctx =
                darkhorses::app::context(config, Some(clock), false, Needs { store: true, api: true }).await.unwrap();
            for &t in ticks {
                self.clock.set(t);
                let tick = darkhorses::orchestrate::tick(&ctx, &Options::default()).await.unwrap();
                assert!(!tick.failed(), "tick at {t}: {tick:#?}");
            }
        });
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            let url = self.url.clone();
            let schema = schema.clone();
            self.rt.block_on(async move {
                if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                }
            });
        }
    }
}

fn interval(iv: &Iv) -> IntervalConfig {
    IntervalConfig {
        enabled: true,
        frequency: iv.1.to_string(),
        timezone: iv.2.to_string(),
        timeout: iv.5,
        job: iv.3[0].to_string(),
        args: iv.3[1..].iter().map(|s| s.to_string()).collect(),
        priority: iv.6,
        misfire: iv.4,
    }
}

/// Every slot of every interval between the first tick's look-back and the last tick has
/// exactly one row; runs succeeded; skipped rows give a reason; a `run_once` skipped slot names
/// the run that covered it, the next run after it, so runs cover every gap; `run_all` skips none.
fn assert_every_slot_once(ledger: &[JobRun], intervals: &[Iv], first: DateTime<Utc>, last: DateTime<Utc>) {
    for iv in intervals {
        let schedule = Schedule::parse(iv.1, iv.2).unwrap();
        let start = previous_fire(&schedule, first).unwrap();
        let mut expected = vec![start];
        expected.extend(schedule.fires_between(start, last).into_iter().map(|f| f.at));
        let rows: Vec<&JobRun> = ledger.iter().filter(|r| r.job == iv.0).collect();
        let mut slots: Vec<DateTime<Utc>> = rows.iter().map(|r| r.slot.unwrap()).collect();
        slots.sort();
        assert_eq!(slots.len(), expected.len(), "{}: {} rows for {} slots", iv.0, slots.len(), expected.len());
        assert_eq!(slots, expected, "{}: every slot once", iv.0);
        let runs: BTreeSet<DateTime<Utc>> =
            rows.iter().filter(|r| r.status == "succeeded").map(|r| r.slot.unwrap()).collect();
        for row in &rows {
            let slot = row.slot.unwrap();
            match row.status.as_str() {
                "succeeded" => assert_eq!(row.trigger, "schedule", "{}: {row:?}", iv.0),
                "skipped" => {
                    let reason = row.error.as_deref().unwrap_or("");
                    assert!(!reason.is_empty(), "{}: a skipped slot without a reason: {row:?}", iv.0);
                    match iv.4 {
                        MisfirePolicy::RunAll => panic!("{}: run_all skipped {slot}: {reason}", iv.0),
                        MisfirePolicy::Skip => assert!(reason.contains("misfire"), "{}: {reason}", iv.0),
                        MisfirePolicy::RunOnce => {
                            let covered_by = reason.rsplit(' ').next().map(at).unwrap();
                            assert!(
                                runs.contains(&covered_by),
                                "{}: {slot} covered by a run that is not: {reason}",
                                iv.0
                            );
                            let next_run = runs.range(slot..).next().copied();
                            assert_eq!(next_run, Some(covered_by), "{}: {slot} covered by the next run", iv.0);
                        }
                    }
                }
                other => panic!("{}: slot {slot} ended {other}: {row:?}", iv.0),
            }
        }
    }
}

/// `n` ticks from `from`, `step(i)` minutes apart.
fn tick_times(from: &str, until: &str, mut step: impl FnMut(usize) -> i64) -> Vec<DateTime<Utc>> {
    let (mut t, until) = (at(from), at(until));
    let mut out = Vec::new();
    let mut i = 0;
    while t <= until {
        out.push(t);
        t += Duration::minutes(step(i));
        i += 1;
    }
    out
}

/// Deterministic gaps of 7 to 23 minutes.
fn irregular() -> impl FnMut(usize) -> i64 {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    move |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        7 + (state % 17) as i64
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(super::Backend::Postgres) })*
        }
    };
}

on_both!(
    a_week_of_five_minute_ticks_accounts_for_every_slot_once,
    a_week_of_irregular_ticks_accounts_for_every_slot_once,
    a_london_fixed_time_runs_once_on_both_dst_days,
    a_run_past_its_timeout_is_timed_out_and_the_next_still_runs,
    force_all_test_changes_no_data_row,
    a_daemon_serves_metrics_of_its_runs_and_stops_on_sigterm,
    run_once_after_missed_mornings_fetches_every_missed_day,
    update_runs_one_interval_and_list_shows_it,
);

fn week(backend: Backend, ticks: Vec<DateTime<Utc>>) {
    let Some(w) = World::new(backend, "2026-03-26T00:00:00Z") else { return };
    let config = w.config(&WEEK);
    let file = w.config_file(&WEEK);
    let (library, binary) = ticks.split_at(ticks.len() - 3);
    w.ticks(&config, library);
    // The last ticks through the binary, as cron runs it: the same ledger, the same rules.
    for &t in binary {
        w.clock.set(t);
        let r = run(w.binary(&file, t).arg("orchestrate"));
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(doc["runs"].is_array(), "{doc}");
    }
    let ledger = w.ledger(&config);
    assert_every_slot_once(&ledger, &WEEK, ticks[0], *ticks.last().unwrap());
}

fn a_week_of_five_minute_ticks_accounts_for_every_slot_once(backend: Backend) {
    week(backend, tick_times("2026-03-26T00:00:00Z", "2026-04-02T00:00:00Z", |_| 5));
}

fn a_week_of_irregular_ticks_accounts_for_every_slot_once(backend: Backend) {
    let mut gap = irregular();
    let ticks = tick_times("2026-03-26T00:03:00Z", "2026-04-02T00:00:00Z", &mut gap);
    // The gaps are what they claim: irregular, 7 to 23 minutes.
    let gaps: BTreeSet<i64> = ticks.windows(2).map(|w| (w[1] - w[0]).num_minutes()).collect();
    assert!(gaps.len() > 10 && gaps.iter().all(|g| (7..=23).contains(g)), "{gaps:?}");
    week(backend, ticks);
}

fn a_london_fixed_time_runs_once_on_both_dst_days(backend: Backend) {
    const NIGHTLY: [Iv; 1] = [Iv(
        "nightly",
        "30 1 * * *",
        "Europe/London",
        &["reference", "--bookmakers-only"],
        MisfirePolicy::RunOnce,
        60,
        1,
    )];
    let Some(w) = World::new(backend, "2026-03-28T12:00:00Z") else { return };
    let config = w.config(&NIGHTLY);
    let mut ticks = tick_times("2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z", |_| 10);
    ticks.extend(tick_times("2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z", |_| 10));
    w.ticks(&config, &ticks);
    let ledger = w.ledger(&config);
    let on = |day: &str| -> Vec<(String, String)> {
        ledger
            .iter()
            .filter(|r| stamp(r.slot.unwrap()).starts_with(day))
            .map(|r| (stamp(r.slot.unwrap()), r.status.clone()))
            .collect()
    };
    // 01:30 does not exist on 29 March: the first instant after the gap, 02:00 BST (01:00Z).
    assert_eq!(on("2026-03-29"), [("2026-03-29T01:00:00Z".to_string(), "succeeded".to_string())]);
    // 01:30 happens twice on 25 October: the first, 01:30 BST (00:30Z), once.
    assert_eq!(on("2026-10-25"), [("2026-10-25T00:30:00Z".to_string(), "succeeded".to_string())]);
    // Between the two weekends nothing ran (no tick), so the October tick covered the summer.
    assert!(ledger.iter().all(|r| r.status == "succeeded" || r.status == "skipped"), "{ledger:#?}");

    let file = w.config_file(&NIGHTLY);
    for (from, to, slot, note) in [
        ("2026-03-28T12:00:00Z", "2026-03-29T12:00:00Z", "2026-03-29T01:00:00Z", "DST gap"),
        ("2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z", "2026-10-25T00:30:00Z", "DST fold"),
    ] {
        let now = at("2026-01-01T00:00:00Z");
        let mut cmd = w.binary(&file, now);
        let r = run(cmd.args(["orchestrate", "--simulate", "--from", from, "--to", to]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout).unwrap();
        let slots = doc["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 1, "{doc}");
        assert_eq!(slots[0]["at"], slot, "{doc}");
        assert!(slots[0]["dst"].as_str().unwrap().contains(note), "{doc}");
        let text = run(darkhorses(w.dir.path()).args([
            "--config",
            &file.display().to_string(),
            "orchestrate",
            "--simulate",
            "--from",
            from,
            "--to",
            to,
        ]));
        assert!(text.stdout.contains(slot) && text.stdout.contains(note), "{}", text.stdout);
    }
}

fn a_run_past_its_timeout_is_timed_out_and_the_next_still_runs(backend: Backend) {
    // Seven days of racecards at one request a second cannot finish in one second.
    const SLOW: [Iv; 2] = [
        Iv(
            "slow",
            "0 6 * * *",
            "UTC",
            &["daily", "--racecards-only", "--days-ahead", "7"],
            MisfirePolicy::RunOnce,
            1,
            1,
        ),
        Iv("after", "0 6 * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunOnce, 60, 2),
    ];
    let now = at("2026-03-10T06:02:00Z");
    let Some(w) = World::new(backend, "2026-03-10T06:02:00Z") else { return };
    let config = w.config(&SLOW);
    let file = w.config_file(&SLOW);
    let r = run(w.binary(&file, now).env("DARKHORSES_API_RATE_LIMIT", "1").arg("orchestrate"));
    assert_eq!(r.code, 1, "a timed-out run exits 1:\n{}\n{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let statuses: Vec<(&str, &str)> = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["interval"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("slow", "timed_out"), ("after", "succeeded")], "{doc}");
    let ledger = w.ledger(&config);
    let slow = ledger.iter().find(|r| r.job == "slow").unwrap();
    assert_eq!(slow.status, "timed_out", "{slow:?}");
    assert_eq!(slow.slot, Some(at("2026-03-10T06:00:00Z")));
    assert!(slow.error.as_deref().unwrap().contains("intervals.slow.timeout"), "{slow:?}");
    assert!(slow.finished_at.is_some(), "{slow:?}");
    // What the cancelled run committed is what the ledger says it wrote: no half unit.
    let stored = w.rt.block_on(async {
        w.store(&config)
            .await
            .coverage(
                darkhorses::model::Kind::Racecards,
                at("2026-03-11T00:00:00Z").date_naive(),
                at("2026-03-17T00:00:00Z").date_naive(),
            )
            .await
            .unwrap()
    });
    assert!(stored.len() < 7, "the run was stopped before its last unit: {stored:?}");
    let after = ledger.iter().find(|r| r.job == "after").unwrap();
    assert_eq!(after.status, "succeeded", "{after:?}");
}

/// Every data row of every table but `job_runs`, as text, sorted.
fn data_rows(w: &World) -> BTreeMap<String, Vec<String>> {
    let tables = darkhorses::store::CONTRACT_TABLES.into_iter().filter(|t| *t != "job_runs");
    let mut out = BTreeMap::new();
    match &w.schema {
        None => {
            let path = w.url.strip_prefix("sqlite:").unwrap();
            let con = rusqlite::Connection::open(path).unwrap();
            for table in tables.clone() {
                let mut stmt = con.prepare(&format!("SELECT * FROM {table}")).unwrap();
                let n = stmt.column_count();
                let mut rows: Vec<String> = stmt
                    .query_map([], |r| {
                        Ok((0..n)
                            .map(|i| format!("{:?}", r.get_ref(i).map(|v| format!("{v:?}")).unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join("|"))
                    })
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                rows.sort();
                out.insert(table.to_string(), rows);
            }
        }
        Some(schema) => w.rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&w.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client.batch_execute(&format!("SET search_path TO {schema}")).await.unwrap();
            for table in tables.clone() {
                let messages = client.simple_query(&format!("SELECT * FROM {table}")).await.unwrap();
                let mut rows: Vec<String> = messages
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => {
                            Some((0..r.len()).map(|i| format!("{:?}", r.get(i))).collect::<Vec<_>>().join("|"))
                        }
                        _ => None,
                    })
                    .collect();
                rows.sort();
                out.insert(table.to_string(), rows);
            }
        }),
    }
    out
}

fn force_all_test_changes_no_data_row(backend: Backend) {
    // The shipped intervals, real jobs: live, daily, weekly and reference against the sandbox.
    let Some(w) = World::new(backend, "2026-03-10T14:00:00Z") else { return };
    let mut config = w.config(&[]);
    config.intervals = Config::default().intervals;
    let file = w.dir.path().join("empty.yaml");
    std::fs::write(&file, "logging:\n  level: info\n").unwrap();
    let now = at("2026-03-10T14:00:00Z");
    let loaded = run(w.binary(&file, now).args(["orchestrate", "--force-all"]));
    assert_eq!(loaded.code, 0, "{}\n{}", loaded.stdout, loaded.stderr);
    let before = data_rows(&w);
    assert!(before["races"].len() > 10 && before["runners"].len() > 100, "loaded: {:?}", before["races"].len());
    let runs_before = w.ledger(&config).len();

    let later = at("2026-03-11T15:00:00Z");
    w.clock.set(later);
    let dry = run(w.binary(&file, later).args(["orchestrate", "--force-all", "--test"]));
    assert_eq!(dry.code, 0, "{}\n{}", dry.stdout, dry.stderr);
    let doc: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(doc["dry_run"], true, "{doc}");
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "{doc}");
    assert!(runs.iter().all(|r| r["status"] == "succeeded" && r["trigger"] == "force"), "{doc}");
    assert!(runs.iter().any(|r| r["calls"].as_u64().unwrap() > 0 && r["rows"].as_u64().unwrap() > 0), "{doc}");
    let after = data_rows(&w);
    for (table, rows) in &before {
        assert!(rows == &after[table], "{table} changed in a --test run");
    }
    let ledger = w.ledger(&config);
    assert_eq!(ledger.len(), runs_before + 4, "one dry-run row per interval, nothing else");
    assert!(ledger.iter().filter(|r| r.dry_run).all(|r| r.slot.is_none()), "a dry run claims no slot");
}

// ---------------------------------------------------------------------------------------------
// Three processes at once, every tick of a racing day, one Postgres schema.

#[test]
fn three_processes_at_every_tick_of_a_racing_day_run_each_slot_once() {
    const DAY: [Iv; 4] = [
        Iv("live_data", "*/15 9-20 * * *", "UTC", &["live"], MisfirePolicy::RunOnce, 120, 1),
        Iv("every_ten", "*/10 * * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunAll, 60, 2),
        Iv("half_skip", "*/30 * * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::Skip, 60, 3),
        Iv("morning", "0 6 * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunOnce, 60, 4),
    ];
    let Some(w) = World::new(Backend::Postgres, "2026-03-10T08:00:00Z") else { return };
    let config = w.config(&DAY);
    let file = w.config_file(&DAY);
    // Migrated once up front, as `db migrate` would be on a real deployment.
    w.rt.block_on(w.store(&config));
    let ticks = tick_times("2026-03-10T08:00:00Z", "2026-03-10T21:00:00Z", |i| if i % 2 == 0 { 15 } else { 20 });
    for &t in &ticks {
        w.clock.set(t);
        let children: Vec<std::process::Child> = (0..3)
            .map(|_| {
                let mut cmd = crate::acceptance::darkhorses_child(w.dir.path());
                cmd.env("DATABASE_URL", &w.url)
                    .env("DARKHORSES_DATABASE_SCHEMA", w.schema.as_deref().unwrap())
                    .env("DARKHORSES_API_BASE_URL", w.sandbox.base_url())
                    .env("DARKHORSES_API_RATE_LIMIT", "50")
                    .env("RACING_API_USERNAME", "demo")
                    .env("RACING_API_PASSWORD", "demo")
                    // Each its own lock directory, as on three hosts: only the database decides.
                    .env("DARKHORSES_LOCKS_DIR", w.dir.path().join(format!("locks-{}", rand_id())))
                    .args(["--config", &file.display().to_string(), "--now", &t.to_rfc3339(), "--json"])
                    .arg("orchestrate")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "at {t}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let ledger = w.ledger(&config);
    let mut pairs: BTreeMap<(String, DateTime<Utc>), usize> = BTreeMap::new();
    for r in &ledger {
        *pairs.entry((r.job.clone(), r.slot.unwrap())).or_default() += 1;
    }
    assert!(pairs.values().all(|&n| n == 1), "a (job, slot) pair twice: {pairs:?}");
    assert_every_slot_once(&ledger, &DAY, ticks[0], *ticks.last().unwrap());
    assert!(ledger.iter().any(|r| r.job == "live_data" && r.status == "succeeded"));
}

/// A distinct name per call within this test process.
fn rand_id() -> usize {
    NEXT_SCHEMA.fetch_add(1, Ordering::SeqCst)
}

// ---------------------------------------------------------------------------------------------
// The daemon: metrics of its runs, and SIGTERM with a run in flight.

fn a_daemon_serves_metrics_of_its_runs_and_stops_on_sigterm(backend: Backend) {
    const DAEMON: [Iv; 2] = [
        Iv("fast", "* * * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunOnce, 60, 1),
        // Seven days of racecards at one request a second: in flight when the signal comes.
        Iv(
            "slow",
            "* * * * *",
            "UTC",
            &["daily", "--racecards-only", "--days-ahead", "7"],
            MisfirePolicy::RunOnce,
            120,
            2,
        ),
    ];
    let Some(w) = World::new(backend, "2026-03-10T14:00:00Z") else { return };
    // The daemon runs on the wall clock; the sandbox follows it.
    w.clock.set(Utc::now());
    let config = w.config(&DAEMON);
    let file = w.config_file(&DAEMON);
    let mut yaml = std::fs::read_to_string(&file).unwrap();
    yaml.push_str("orchestrator:\n  shutdown_grace: 30\n");
    std::fs::write(&file, yaml).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = crate::acceptance::darkhorses_child(w.dir.path());
    cmd.env("DATABASE_URL", &w.url)
        .env("DARKHORSES_API_BASE_URL", w.sandbox.base_url())
        .env("DARKHORSES_API_RATE_LIMIT", "1")
        .env("RACING_API_USERNAME", "demo")
        .env("RACING_API_PASSWORD", "demo")
        .env("DARKHORSES_HEALTH_CHECK_PORT", port.to_string())
        .args(["--config", &file.display().to_string(), "--json", "orchestrate", "--daemon"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(schema) = &w.schema {
        cmd.env("DARKHORSES_DATABASE_SCHEMA", schema);
    }
    let child = crate::acceptance::ChildGuard(cmd.spawn().unwrap());
    let get = |path: &str| -> Option<String> {
        w.rt.block_on(async {
            let r = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await.ok()?;
            r.status().is_success().then_some(())?;
            r.text().await.ok()
        })
    };
    let metrics = crate::acceptance::wait_for(std::time::Duration::from_secs(60), "the fast run in /metrics", || {
        get("/metrics").filter(|m| m.contains("darkhorses_runs_total{interval=\"fast\",status=\"succeeded\"} 1"))
    });
    assert!(metrics.contains("# TYPE darkhorses_runs_total counter"), "{metrics}");
    assert!(metrics.contains("darkhorses_last_success_timestamp_seconds{interval=\"fast\"}"), "{metrics}");
    assert!(metrics.contains("darkhorses_rows_written_total{interval=\"fast\"}"), "{metrics}");
    assert!(get("/livez").unwrap().starts_with("ok"), "/livez");
    // The slow run is in flight: its row is `running`.
    crate::acceptance::wait_for(std::time::Duration::from_secs(60), "the slow run to start", || {
        w.ledger(&config).iter().any(|r| r.job == "slow" && r.status == "running").then_some(())
    });
    let pid = child.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut child = child;
    let status = crate::acceptance::wait_for(std::time::Duration::from_secs(60), "the daemon to exit", || {
        child.0.try_wait().unwrap()
    });
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    child.0.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    child.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0:\n{stdout}\n{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(doc["daemon"], "stopped", "{doc}");
    // The run in flight finished its unit and recorded itself: no `running` row is left.
    let ledger = w.ledger(&config);
    let slow = ledger.iter().find(|r| r.job == "slow").unwrap();
    assert_ne!(slow.status, "running", "{slow:?}\n{stderr}");
    assert!(slow.finished_at.is_some(), "{slow:?}");
}

// ---------------------------------------------------------------------------------------------
// run_once covers the gap in data, not only in the ledger.

fn run_once_after_missed_mornings_fetches_every_missed_day(backend: Backend) {
    const MORNING: [Iv; 1] =
        [Iv("daily_data", "0 6 * * *", "UTC", &["daily", "--results-only"], MisfirePolicy::RunOnce, 600, 1)];
    let Some(w) = World::new(backend, "2026-03-10T06:05:00Z") else { return };
    let config = w.config(&MORNING);
    w.ticks(&config, &[at("2026-03-10T06:05:00Z")]);
    // Three mornings later, two of them missed: one run stands in for 11, 12 and 13 March.
    w.ticks(&config, &[at("2026-03-13T06:05:00Z")]);
    let ledger = w.ledger(&config);
    let runs: Vec<(String, String)> = ledger
        .iter()
        .map(|r| (stamp(r.slot.unwrap()), r.status.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        runs,
        [
            ("2026-03-10T06:00:00Z".to_string(), "succeeded".to_string()),
            ("2026-03-11T06:00:00Z".to_string(), "skipped".to_string()),
            ("2026-03-12T06:00:00Z".to_string(), "skipped".to_string()),
            ("2026-03-13T06:00:00Z".to_string(), "succeeded".to_string()),
        ]
    );
    let results: BTreeSet<String> = w.rt.block_on(async {
        w.store(&config)
            .await
            .coverage(
                darkhorses::model::Kind::Results,
                at("2026-03-01T00:00:00Z").date_naive(),
                at("2026-03-13T00:00:00Z").date_naive(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.race_date.to_string())
            .collect()
    });
    // The first morning fetched the 9th; the run for the 13th fetched what each missed morning
    // would have: the 10th, 11th and 12th.
    assert_eq!(results, ["2026-03-09", "2026-03-10", "2026-03-11", "2026-03-12"].map(String::from).into());
}

// ---------------------------------------------------------------------------------------------
// --update, --list and a bad --update.

fn update_runs_one_interval_and_list_shows_it(backend: Backend) {
    const TWO: [Iv; 2] = [
        Iv("first", "0 6 * * *", "UTC", &["reference", "--bookmakers-only"], MisfirePolicy::RunOnce, 60, 1),
        Iv("second", "30 1 * * *", "Europe/London", &["reference", "--bookmakers-only"], MisfirePolicy::Skip, 60, 2),
    ];
    let Some(w) = World::new(backend, "2026-03-10T12:00:00Z") else { return };
    let config = w.config(&TWO);
    let file = w.config_file(&TWO);
    let now = at("2026-03-10T12:00:00Z");
    let r = run(w.binary(&file, now).args(["orchestrate", "--update", "second"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{doc}");
    assert_eq!((runs[0]["interval"].as_str(), runs[0]["trigger"].as_str()), (Some("second"), Some("force")));
    let ledger = w.ledger(&config);
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].job.as_str(), ledger[0].slot, ledger[0].trigger.as_str()), ("second", None, "force"));

    let r = run(w.binary(&file, now).args(["orchestrate", "--list"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let listed = doc["intervals"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{doc}");
    assert_eq!(listed[0]["interval"], "first");
    assert_eq!(listed[0]["last_status"], Value::Null, "{doc}");
    assert_eq!(listed[0]["next_slot"], "2026-03-11T06:00:00Z", "{doc}");
    assert_eq!(listed[1]["last_status"], "succeeded", "{doc}");
    assert_eq!(listed[1]["timezone"], "Europe/London", "{doc}");
    assert_eq!(listed[1]["next_slot"], "2026-03-11T01:30:00Z", "{doc}");

    let bad = run(w.binary(&file, now).args(["orchestrate", "--update", "secnd"]));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let doc: Value = serde_json::from_str(&bad.stdout).unwrap();
    let error = doc["error"].as_str().unwrap();
    assert!(error.contains("--update secnd") && error.contains("first, second"), "{error}");
}

/// Issue 9 item 2: the default intervals through a racing day in the orchestrator's 5-minute
/// ticks (what examples/simulate_day.rs measures for BENCHMARKS.md), counted, not timed: at most
/// 60 calls, every result stored within one tick of its publication, evening racing included,
/// and a blank day at most 2 calls. An uncounted tick the evening before starts the day where a
/// running installation's previous day ended.
fn racing_day_calls_and_delays(backend: Backend, day: &str) -> (u64, Vec<i64>, usize) {
    let start = at(&format!("{day}T00:00:00Z"));
    let w = World::new(backend, &stamp(start - Duration::minutes(5))).unwrap();
    let mut config = w.config(&[]);
    config.intervals = Config::default().intervals;
    let sandbox_world = darkhorses::sandbox::world::World::new(42);
    let date = start.date_naive();
    let config = Arc::new(config);
    w.rt.block_on(async {
        let clock = Arc::new(w.clock.clone());
        let ctx = darkhorses::app::context(Arc::clone(&config), Some(clock), false, Needs { store: true, api: true })
            .await
            .unwrap();
        let store = w.store(&config).await;
        darkhorses::orchestrate::tick(&ctx, &Options::default()).await.unwrap();
        let (mut calls, mut stored) = (0, BTreeMap::new());
        for step in 0..24 * 12 {
            let now = start + Duration::minutes(5 * step);
            w.clock.set(now);
            let tick = darkhorses::orchestrate::tick(&ctx, &Options::default()).await.unwrap();
            assert!(!tick.failed(), "tick at {now}: {tick:#?}");
            calls += tick.runs.iter().map(|r| r.calls).sum::<u64>();
            for race in store.races_on(date).await.unwrap() {
                if race.has_result {
                    stored.entry(race.id).or_insert(now);
                }
            }
        }
        let races = store.races_on(date).await.unwrap();
        let mut delays = Vec::new();
        for race in &races {
            let (served, i) = sandbox_world.race(&race.id).unwrap();
            let published = served.races[i].result_at();
            let got =
                stored.get(&race.id).unwrap_or_else(|| panic!("{day}: {} (out {published}) never stored", race.id));
            delays.push((*got - published).num_minutes());
        }
        (calls, delays, races.len())
    })
}

#[test]
fn the_default_schedules_keep_a_racing_day_within_the_goals() {
    // 2026-06-10: summer, last result 20:10 UTC; 2026-01-14: winter evening racing, last off 21:00.
    for day in ["2026-06-10", "2026-01-14"] {
        let (calls, delays, races) = racing_day_calls_and_delays(Backend::Sqlite, day);
        assert!(races > 20, "{day}: {races} races");
        assert!(calls <= 60, "{day}: {calls} API calls, more than 60");
        assert!(delays.iter().all(|d| (0..=5).contains(d)), "{day}: publication to storage (min): {delays:?}");
    }
    let (calls, _, races) = racing_day_calls_and_delays(Backend::Sqlite, "2026-12-25");
    assert_eq!(races, 0);
    assert!(calls <= 2, "a blank day cost {calls} calls");
}
