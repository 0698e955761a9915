//! The PostgreSQL store against a real server: runs when `DARKHORSES_TEST_DATABASE_URL` is set
//! (for example `postgres://postgres@127.0.0.1:5432/test`), each test in a fresh schema
//! `t_<pid>_<n>` that is dropped afterwards. Without the variable every test returns at once.

#![allow(clippy::expect_used, clippy::unwrap_used)]
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use darkhorses::config::{DatabaseConfig, Secret};
use darkhorses::model::{
    Bookmaker, BookmakerKind, Course, Horse, Kind, Person, Race, RawResponse, Runner, RunnerOdds, Source, Trainer, Unit,
};
use darkhorses::store::postgres::PgStore;
use darkhorses::store::{self, CoverageStatus, Error, FinishedJobRun, NewJobRun, RunStatus, Store, Trigger};
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
        let schema = format!("t_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
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

    /// Every row of a query as JSON text, for comparing whole tables.
    async fn rows(&self, query: &str) -> Vec<String> {
        let sql = format!("SELECT row_to_json(q)::text FROM ({query}) q");
        let rows = self.client().await.query(&sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter().map(|r| r.get(0)).collect()
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

fn response(endpoint: &str, body: &str) -> RawResponse {
    RawResponse {
        endpoint: endpoint.into(),
        params: format!("date={}", day()),
        status: 200,
        fetched_at: at(9, 0),
        body: bytes::Bytes::from(body.to_string()),
    }
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

/// A racecard: racecard-owned columns set, draw and rating known.
fn racecard_unit() -> Unit {
    let mut unit = base_unit(Kind::Racecards);
    let mut r = race(Source::Racecard, "rac_1");
    r.going = Some("Good".into());
    r.verdict = Some("Horse 1 to win".into());
    r.big_race = Some(false);
    r.is_abandoned = Some(false);
    unit.races = vec![r];
    let mut a = runner(Source::Racecard, "rac_1", "hrs_1");
    a.form = Some("1-23".into());
    a.spotlight = Some("Sure thing".into());
    a.draw = Some(3);
    a.official_rating = Some(80);
    let mut b = runner(Source::Racecard, "rac_1", "hrs_2");
    b.number = Some(2);
    b.form = Some("456".into());
    unit.runners = vec![a, b];
    unit.odds = vec![RunnerOdds {
        race_id: "rac_1".into(),
        horse_id: "hrs_1".into(),
        bookmaker: "bet365".into(),
        fractional: Some("5/2".into()),
        decimal: Some(3.5),
        ew_places: Some(3),
        ew_denom: Some(5),
        quoted_at: Some(at(8, 0)),
    }];
    unit.bookmakers = vec![
        Bookmaker {
            code: "bet365".into(),
            name: "bet365 odds".into(),
            kind: BookmakerKind::Exchange,
            source: "odds".into(),
        },
        Bookmaker {
            code: "new_book".into(),
            name: "New Book".into(),
            kind: BookmakerKind::Online,
            source: "odds".into(),
        },
    ];
    unit.responses = vec![response("/racecards/pro", r#"{"racecards":[]}"#)];
    unit
}

/// A result of the same race: result-owned columns set, racecard columns and draw blank.
fn result_unit() -> Unit {
    let mut unit = base_unit(Kind::Results);
    let mut r = race(Source::Result, "rac_1");
    r.tote_win = Some("£3.50".into());
    r.winning_time_detail = Some("2m 10.5s".into());
    r.going = None;
    unit.races = vec![r];
    let mut a = runner(Source::Result, "rac_1", "hrs_1");
    a.position = Some("1".into());
    a.finish_position = Some(1);
    a.btn = Some(0.0);
    a.sp = Some("5/2".into());
    a.sp_decimal = Some(3.5);
    a.finish_time_s = Some(130.5);
    a.official_rating = Some(82);
    let mut b = runner(Source::Result, "rac_1", "hrs_2");
    b.number = Some(2);
    b.position = Some("PU".into());
    unit.runners = vec![a, b];
    unit.responses = vec![response("/results", r#"{"results":[]}"#)];
    unit
}

async fn race_row(db: &TestDb) -> serde_json::Value {
    let rows = db
        .rows(
            "SELECT going, verdict, big_race, tote_win, winning_time_detail, has_result, distance_f::float8 AS distance_f,
                    racecard_updated_at IS NOT NULL AS rc, result_updated_at IS NOT NULL AS rs FROM races WHERE id = 'rac_1'",
        )
        .await;
    serde_json::from_str(&rows[0]).expect("json")
}

async fn runner_row(db: &TestDb) -> serde_json::Value {
    let rows = db
        .rows(
            "SELECT form, spotlight, draw, official_rating, position, finish_position, sp_decimal::float8 AS sp_decimal,
                    finish_time_s::float8 AS finish_time_s FROM runners WHERE race_id = 'rac_1' AND horse_id = 'hrs_1'",
        )
        .await;
    serde_json::from_str(&rows[0]).expect("json")
}

#[tokio::test]
async fn migrate_then_status_and_a_changed_checksum_stops() {
    let db = test_db!();
    let store = match PgStore::open(&db.config(false)).await {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let before = store.migration_status().await.expect("status");
    assert_eq!(before.len(), darkhorses::store::migrations::POSTGRES.len());
    assert!(before.iter().all(|m| m.applied_at.is_none()));
    let applied = store.migrate().await.expect("migrate");
    assert_eq!(applied.len(), before.len());
    let after = store.migration_status().await.expect("status");
    assert!(after.iter().all(|m| m.applied_at.is_some()), "{after:?}");
    assert!(store.migrate().await.expect("migrate again").is_empty());
    let counts = store.table_counts().await.expect("counts");
    assert_eq!(counts.get("bookmakers"), Some(&19));
    assert_eq!(counts.get("regions"), Some(&2));
    assert_eq!(counts.len(), 18, "{counts:?}");

    check_contract(&db);

    db.sql("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1").await;
    for result in [store.migration_status().await, store.migrate().await] {
        match result {
            Err(Error::Migration(msg)) => {
                assert!(msg.contains("sql/postgres/0001_schema.sql"), "{msg}")
            }
            other => panic!("expected a migration error, got {other:?}"),
        }
    }
}

/// Runs ../shared/tools/check-contract.py (SCHEMA.md's checker) when it and psql are on this machine.
fn check_contract(db: &TestDb) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(script) =
        [root.join("../shared/tools/check-contract.py"), root.join("../../shared/tools/check-contract.py")]
            .into_iter()
            .find(|p| p.exists())
    else {
        eprintln!("check-contract.py not found next to the project; contract check skipped");
        return;
    };
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&db.url)
        .args(["--schema", &db.schema])
        .output()
        .expect("run check-contract.py");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("columns present"), "{text}");
    eprintln!("check-contract.py: {}", text.trim());
}

#[tokio::test]
async fn three_concurrent_migrations_apply_each_file_once() {
    let db = test_db!();
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(PgStore::open(&db.config(false)).await.expect("open")));
    }
    let tasks: Vec<_> = stores
        .iter()
        .map(|s| {
            let s = Arc::clone(s);
            tokio::spawn(async move { s.migrate().await })
        })
        .collect();
    let mut applied = Vec::new();
    for t in tasks {
        applied.extend(t.await.expect("join").expect("migrate").into_iter().map(|m| m.version));
    }
    applied.sort();
    let expected: Vec<i64> = darkhorses::store::migrations::POSTGRES.iter().map(|m| m.version).collect();
    assert_eq!(applied, expected, "each migration applied by exactly one of the three");
    assert_eq!(db.value::<i64>("SELECT count(*) FROM schema_migrations").await, expected.len() as i64);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM bookmakers").await, 19);
}

#[tokio::test]
async fn results_after_racecards_keep_racecard_columns() {
    let db = test_db!();
    let store = db.open().await;
    store.write_unit(&racecard_unit(), false).await.expect("racecards");
    store.write_unit(&result_unit(), false).await.expect("results");
    let race = race_row(&db).await;
    assert_eq!(race["going"], "Good", "a result's blank going never erases it");
    assert_eq!(race["verdict"], "Horse 1 to win");
    assert_eq!(race["big_race"], false);
    assert_eq!(race["tote_win"], "£3.50");
    assert_eq!(race["has_result"], true);
    assert_eq!(race["distance_f"], 10.5);
    assert_eq!((race["rc"].clone(), race["rs"].clone()), (true.into(), true.into()));
    let runner = runner_row(&db).await;
    assert_eq!(runner["form"], "1-23");
    assert_eq!(runner["spotlight"], "Sure thing");
    assert_eq!(runner["draw"], 3);
    assert_eq!(runner["official_rating"], 82, "shared columns take the newest value");
    assert_eq!(runner["position"], "1");
    assert_eq!(runner["sp_decimal"], 3.5);
    assert_eq!(runner["finish_time_s"], 130.5);
}

#[tokio::test]
async fn racecards_after_results_keep_result_columns() {
    let db = test_db!();
    let store = db.open().await;
    store.write_unit(&result_unit(), false).await.expect("results");
    store.write_unit(&racecard_unit(), false).await.expect("racecards");
    let race = race_row(&db).await;
    assert_eq!(race["has_result"], true, "racecards never reset has_result");
    assert_eq!(race["tote_win"], "£3.50");
    assert_eq!(race["winning_time_detail"], "2m 10.5s");
    assert_eq!(race["verdict"], "Horse 1 to win");
    let runner = runner_row(&db).await;
    assert_eq!(runner["position"], "1");
    assert_eq!(runner["finish_position"], 1);
    assert_eq!(runner["form"], "1-23");
    assert_eq!(runner["official_rating"], 80, "shared columns take the newest value");
}

/// Every row of the unit's tables, timestamps included.
async fn snapshot(db: &TestDb) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in [
        ("races", "id"),
        ("runners", "race_id, horse_id"),
        ("runner_odds", "race_id, horse_id, bookmaker"),
        ("horses", "id"),
        ("courses", "id"),
        ("bookmakers", "code"),
        ("api_responses", "endpoint, params"),
        ("fetch_coverage", "kind, race_date"),
    ] {
        out.extend(db.rows(&format!("SELECT * FROM {table} ORDER BY {order}")).await);
    }
    out
}

#[tokio::test]
async fn the_same_unit_twice_changes_nothing() {
    let db = test_db!();
    let store = db.open().await;
    for unit in [racecard_unit(), result_unit()] {
        let first = store.write_unit(&unit, false).await.expect("first");
        assert!(first.rows_written() > 0);
        let before = snapshot(&db).await;
        let second = store.write_unit(&unit, false).await.expect("second");
        assert_eq!(second.rows_written(), 0, "{second:?}");
        for (table, counts) in &second.tables {
            let f = first.tables[table];
            assert_eq!(counts.unchanged, f.written() + f.unchanged, "{table}");
        }
        assert_eq!(snapshot(&db).await, before, "rows and timestamps identical after a rerun");
    }
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_counts_like_a_real_write() {
    let db = test_db!();
    let store = db.open().await;
    let unit = racecard_unit();
    let counts_before = store.table_counts().await.expect("counts");
    let dry = store.write_unit(&unit, true).await.expect("dry run");
    assert_eq!(store.table_counts().await.expect("counts"), counts_before);
    let real = store.write_unit(&unit, false).await.expect("write");
    assert_eq!(dry, real);
    assert_eq!(real.tables["runners"].inserted, 2);
    assert_eq!(real.tables["races"].inserted, 1);
}

#[tokio::test]
async fn odds_bookmakers_never_overwrite_the_seed_and_responses_are_gzipped() {
    let db = test_db!();
    let store = db.open().await;
    store.write_unit(&racecard_unit(), false).await.expect("write");
    let books = db
        .rows("SELECT code, name, kind, source FROM bookmakers WHERE code IN ('bet365', 'new_book') ORDER BY code")
        .await;
    assert_eq!(
        books,
        vec![
            r#"{"code":"bet365","name":"Bet365","kind":"online","source":"seed"}"#.to_string(),
            r#"{"code":"new_book","name":"New Book","kind":"online","source":"odds"}"#.to_string(),
        ]
    );
    let resp = db.rows("SELECT encoding, sha256, length(body) > 0 AS has_body FROM api_responses").await;
    assert_eq!(resp.len(), 1);
    assert!(resp[0].contains(r#""encoding":"gzip""#), "{resp:?}");
    let odds: String = db.value("SELECT decimal::text FROM runner_odds").await;
    assert_eq!(odds, "3.5");
}

#[tokio::test]
async fn a_runner_without_its_horse_is_skipped_and_counted() {
    let db = test_db!();
    let store = db.open().await;
    let mut unit = racecard_unit();
    unit.runners.push(runner(Source::Racecard, "rac_1", "hrs_unknown"));
    let stats = store.write_unit(&unit, false).await.expect("write");
    assert_eq!(stats.tables["runners"].inserted, 2);
    assert_eq!(stats.skipped.len(), 1, "{:?}", stats.skipped);
    assert!(stats.skipped[0].record.contains("hrs_unknown"));
    let cov = store.coverage(Kind::Racecards, day(), day()).await.expect("coverage");
    assert_eq!((cov[0].status, cov[0].races, cov[0].runners), (CoverageStatus::Complete, 1, 2));
}

#[tokio::test]
async fn coverage_failures_never_downgrade_complete() {
    let db = test_db!();
    let store = db.open().await;
    let other = day().succ_opt().expect("date");
    store.mark_unit_failed(Kind::Results, other, 3, "HTTP 500 from /results").await.expect("fail");
    store.write_unit(&result_unit(), false).await.expect("write");
    store.mark_unit_failed(Kind::Results, day(), 2, "later failure").await.expect("fail");
    let cov = store.coverage(Kind::Results, day(), other).await.expect("coverage");
    assert_eq!(cov.len(), 2);
    assert_eq!((cov[0].status, cov[0].error.clone()), (CoverageStatus::Complete, None));
    assert_eq!((cov[1].status, cov[1].api_calls), (CoverageStatus::Failed, 3));
    assert_eq!(cov[1].error.as_deref(), Some("HTTP 500 from /results"));
    let empty = Unit::new(Kind::Racecards, other);
    store.write_unit(&empty, false).await.expect("empty unit");
    let cov = store.coverage(Kind::Racecards, other, other).await.expect("coverage");
    assert_eq!(cov[0].status, CoverageStatus::Empty);
}

#[tokio::test]
async fn reads_races_horses_freshness_and_job_runs() {
    let db = test_db!();
    let store = db.open().await;
    store.write_unit(&racecard_unit(), false).await.expect("write");
    let races = store.races_on(day()).await.expect("races");
    assert_eq!(races.len(), 1);
    assert_eq!((races[0].off_at, races[0].has_result), (Some(at(14, 30)), false));
    assert_eq!(store.horses_needing_enrichment(10).await.expect("horses"), vec!["hrs_1", "hrs_2"]);
    let mut profile = horse("hrs_1");
    profile.dob = NaiveDate::from_ymd_opt(2020, 4, 1);
    profile.colour = Some("b".into());
    profile.breeder = Some("Someone".into());
    profile.sex_code = None;
    store.write_horses(&[profile], &[], false).await.expect("profiles");
    assert_eq!(store.horses_needing_enrichment(10).await.expect("horses"), vec!["hrs_2"]);
    let sex: String = db.value("SELECT sex_code FROM horses WHERE id = 'hrs_1'").await;
    assert_eq!(sex, "G", "a profile's blank never erases a known value");
    store.write_unit(&result_unit(), false).await.expect("write");
    let fresh = store.freshness().await.expect("freshness");
    assert_eq!((fresh.latest_race_date, fresh.latest_result_race_date), (Some(day()), Some(day())));
    assert!(fresh.latest_racecard_write.is_some() && fresh.latest_result_write.is_some());

    let run = NewJobRun {
        job: "daily".into(),
        slot: Some(at(6, 0)),
        trigger: Trigger::Schedule,
        started_at: at(6, 0),
        host: "host-a".into(),
        pid: 42,
        dry_run: false,
    };
    let id = store.start_job_run(&run).await.expect("start");
    assert!(matches!(store.start_job_run(&run).await, Err(Error::Query(m)) if m.contains("daily")));
    let finished = FinishedJobRun {
        status: RunStatus::Succeeded,
        finished_at: at(6, 5),
        api_calls: 7,
        api_errors: 0,
        rows_written: 100,
        error: None,
        summary: serde_json::json!({"units": 2}),
    };
    store.finish_job_run(id, &finished).await.expect("finish");
    let manual = NewJobRun { slot: None, trigger: Trigger::Manual, started_at: at(7, 0), ..run.clone() };
    let id2 = store.start_job_run(&manual).await.expect("start manual");
    store.start_job_run(&NewJobRun { job: "live".into(), ..manual.clone() }).await.expect("start live");
    let latest = store.latest_job_runs(Some("daily"), 10).await.expect("latest");
    assert_eq!(latest.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id2, id]);
    assert_eq!((latest[1].status.as_str(), latest[1].api_calls, latest[1].pid), ("succeeded", 7, Some(42)));
    let per_job = store.latest_job_runs(None, 1).await.expect("latest");
    let jobs: BTreeMap<_, _> = per_job.iter().map(|r| (r.job.clone(), r.id)).collect();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs["daily"], id2);
}

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

fn with_url(db: &TestDb, url: &str, timeout: u64) -> DatabaseConfig {
    DatabaseConfig { url: Secret::new(url), connection_timeout: timeout, ..db.config(true) }
}

fn connect_error(result: Result<Arc<dyn Store>, Error>) -> String {
    match result {
        Err(Error::Connect(msg)) => msg,
        Err(other) => panic!("expected a connect error, got {other}"),
        Ok(_) => panic!("expected a connect error, got a store"),
    }
}

#[tokio::test]
async fn unreachable_servers_and_missing_databases_fail_in_one_line() {
    let db = test_db!();
    let started = Instant::now();
    let msg = connect_error(store::open(&with_url(&db, "postgres://postgres:s3cret@127.0.0.1:1/test", 3)).await);
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(msg.contains("127.0.0.1:1") && msg.contains("postgres"), "{msg}");
    assert!(!msg.contains("s3cret") && !msg.contains('\n'), "{msg}");

    // A host that never answers: the connection timeout bounds the wait.
    let started = Instant::now();
    let msg = connect_error(store::open(&with_url(&db, "postgres://postgres:s3cret@10.255.255.1:5432/test", 1)).await);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(msg.contains("10.255.255.1:5432") && !msg.contains("s3cret"), "{msg}");

    let base = db.url.rsplit_once('/').map(|(b, _)| b.to_string()).expect("url with a database");
    let msg = connect_error(store::open(&with_url(&db, &format!("{base}/no_such_db_dh"), 3)).await);
    assert!(msg.contains("no_such_db_dh") && msg.contains("does not exist"), "{msg}");
}

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
    let stats = store.write_unit(&unit, false).await.expect("bulk write");
    assert_eq!(stats.tables["runners"].inserted, 20_000);
    assert_eq!(stats.tables["horses"].inserted, 20_000);
    assert_eq!(db.value::<i64>("SELECT count(*) FROM runners").await, 20_000);
    let again = store.write_unit(&unit, false).await.expect("rerun");
    assert_eq!(again.tables["runners"].unchanged, 20_000);
}

/// Throughput of the upsert path against a plain COPY of the same rows into an unindexed table.
/// Run by hand: `DARKHORSES_TEST_DATABASE_URL=... cargo test --test it postgres::bench -- --ignored --nocapture`
/// (`DARKHORSES_BENCH_RUNNERS` sets the row count, default 500,000).
#[tokio::test]
#[ignore = "benchmark; run by hand"]
async fn bench_runner_upsert_against_plain_copy() {
    let db = test_db!();
    let store = db.open().await;
    let total: usize = std::env::var("DARKHORSES_BENCH_RUNNERS").ok().and_then(|v| v.parse().ok()).unwrap_or(500_000);
    let mut unit = base_unit(Kind::Results);
    unit.entities.horses.clear();
    for i in 0..total {
        let race_id = format!("rac_{}", i / 10);
        if i % 10 == 0 {
            unit.races.push(race(Source::Result, &race_id));
        }
        let horse_id = format!("hrs_{i}");
        unit.entities.horses.push(horse(&horse_id));
        let mut x = runner(Source::Result, &race_id, &horse_id);
        x.position = Some((i % 10 + 1).to_string());
        x.btn = Some((i % 10) as f64 * 0.5);
        unit.runners.push(x);
    }
    let started = Instant::now();
    let stats = store.write_unit(&unit, false).await.expect("upsert");
    let upsert = started.elapsed();
    assert_eq!(stats.tables["runners"].inserted, total as u64);
    let started = Instant::now();
    let again = store.write_unit(&unit, false).await.expect("rerun");
    let rerun = started.elapsed();
    assert_eq!(again.tables["runners"].unchanged, total as u64);

    // The baseline: the same runner rows, binary COPY into an unindexed table, no conflict handling.
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE plain_runners (race_id text, horse_id text, horse_name text, number integer, age integer,
             sex_code text, jockey_id text, jockey_name text, trainer_id text, trainer_name text,
             weight_lbs integer, position text, btn float8)",
        )
        .await
        .expect("plain table");
    let cols = "race_id, horse_id, horse_name, number, age, sex_code, jockey_id, jockey_name, trainer_id, \
                trainer_name, weight_lbs, position, btn";
    use tokio_postgres::types::{ToSql, Type};
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::TEXT,
        Type::FLOAT8,
    ];
    let started = Instant::now();
    let sink = client.copy_in(&format!("COPY plain_runners ({cols}) FROM STDIN (FORMAT binary)")).await.expect("copy");
    let writer = tokio_postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for r in &unit.runners {
        let row: [&(dyn ToSql + Sync); 13] = [
            &r.race_id,
            &r.horse_id,
            &r.horse_name,
            &r.number,
            &r.age,
            &r.sex_code,
            &r.jockey_id,
            &r.jockey_name,
            &r.trainer_id,
            &r.trainer_name,
            &r.weight_lbs,
            &r.position,
            &r.btn,
        ];
        writer.as_mut().write(&row).await.expect("copy row");
    }
    writer.finish().await.expect("finish copy");
    let plain = started.elapsed();
    eprintln!(
        "bench: {total} runners (+{} horses, {} races) upsert {:.2}s = {:.0} runners/s; rerun (all unchanged) {:.2}s; \
         plain COPY of the runners {:.2}s = {:.0} rows/s; upsert/COPY = {:.2}x",
        total,
        total / 10,
        upsert.as_secs_f64(),
        total as f64 / upsert.as_secs_f64(),
        rerun.as_secs_f64(),
        plain.as_secs_f64(),
        total as f64 / plain.as_secs_f64(),
        upsert.as_secs_f64() / plain.as_secs_f64()
    );
}
