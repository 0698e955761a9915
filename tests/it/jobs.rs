//! The four update jobs end to end: the real binary against a sandbox API on 127.0.0.1, into
//! SQLite always and into Postgres when `DARKHORSES_TEST_DATABASE_URL` is set (a fresh schema per
//! test, dropped afterwards). What the jobs store is checked against what the sandbox serves: a
//! second, fault-free sandbox with the same seed and clock answers the test's own requests, so
//! the counts of the sandbox the binary talks to are exactly the binary's calls.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use darkhorses::clock::FixedClock;
use darkhorses::config::SandboxConfig;
use darkhorses::model::{bookmaker_code, seed_bookmakers};
use darkhorses::sandbox::{Sandbox, SandboxStats, parse_faults};
use serde_json::Value;
use tempfile::TempDir;

const PG_ENV: &str = "DARKHORSES_TEST_DATABASE_URL";
const SEED: u64 = 42;
/// Requests per second the binary and its sandbox allow: high, so tests are fast.
const RATE: &str = "50";

static NEXT_SCHEMA: AtomicUsize = AtomicUsize::new(0);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn days(from: &str, to: &str) -> Vec<NaiveDate> {
    let (mut day, to) = (d(from), d(to));
    let mut out = Vec::new();
    while day <= to {
        out.push(day);
        day = day.succ_opt().unwrap();
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The database a test writes into.
enum Db {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
}

type Row = Vec<Option<String>>;

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite(path) => format!("sqlite:{}", path.display()),
            Db::Postgres { url, .. } => url.clone(),
        }
    }

    /// Every row of `sql`, each value as text (NULL as `None`).
    fn rows(&self, rt: &tokio::runtime::Runtime, sql: &str) -> Vec<Row> {
        match self {
            Db::Sqlite(path) => {
                let con = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                let mut stmt = con.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let n = stmt.column_count();
                let mut out = Vec::new();
                let mut rows = stmt.query([]).unwrap_or_else(|e| panic!("{sql}: {e}"));
                while let Some(row) = rows.next().unwrap_or_else(|e| panic!("{sql}: {e}")) {
                    let mut values = Vec::with_capacity(n);
                    for i in 0..n {
                        use rusqlite::types::ValueRef;
                        values.push(match row.get_ref(i).unwrap() {
                            ValueRef::Null => None,
                            ValueRef::Integer(v) => Some(v.to_string()),
                            ValueRef::Real(v) => Some(v.to_string()),
                            ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Blob(b) => {
                                Some(format!("blob:{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()))
                            }
                        });
                    }
                    out.push(values);
                }
                out
            }
            Db::Postgres { url, schema } => rt.block_on(async {
                let client = pg_connect(url).await;
                client.batch_execute(&format!("SET search_path TO {schema}")).await.unwrap();
                // The simple protocol answers every value as text, whatever its type.
                let messages = client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
                messages
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => {
                            Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
                        }
                        _ => None,
                    })
                    .collect()
            }),
        }
    }
}

async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// One test's world: a temp dir (cwd of the binary), a database, the sandbox the binary talks to,
/// and a clean twin of it that answers the test's own requests.
struct Rig {
    dir: TempDir,
    db: Db,
    clock: FixedClock,
    now: DateTime<Utc>,
    sandbox: Sandbox,
    truth: Sandbox,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Rig {
    /// `None` for Postgres when `DARKHORSES_TEST_DATABASE_URL` is not set.
    fn new(backend: Backend, now: &str) -> Option<Rig> {
        Self::with(backend, now, SandboxConfig::default())
    }

    fn with(backend: Backend, now: &str, mut cfg: SandboxConfig) -> Option<Rig> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = match backend {
            Backend::Sqlite => Db::Sqlite(dir.path().join("test.db")),
            Backend::Postgres => {
                let Some(url) = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty()) else {
                    eprintln!("skipped: {PG_ENV} is not set");
                    return None;
                };
                let schema = format!("jobs_{}_{}", std::process::id(), NEXT_SCHEMA.fetch_add(1, Ordering::SeqCst));
                rt.block_on(async {
                    pg_connect(&url)
                        .await
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
                        .await
                        .unwrap();
                });
                Db::Postgres { url, schema }
            }
        };
        let now = at(now);
        let clock = FixedClock::new(now);
        cfg.port = 0;
        cfg.seed = SEED;
        cfg.rate_limit = RATE.parse().unwrap();
        let clean = SandboxConfig { port: 0, seed: SEED, rate_limit: 0.0, ..SandboxConfig::default() };
        let (sandbox, truth) = {
            let _guard = rt.enter();
            (
                Sandbox::start(cfg, Arc::new(clock.clone())).unwrap(),
                Sandbox::start(clean, Arc::new(clock.clone())).unwrap(),
            )
        };
        Some(Rig { dir, db, clock, now, sandbox, truth, http: reqwest::Client::new(), rt })
    }

    fn set_now(&mut self, now: &str) {
        self.now = at(now);
        self.clock.set(self.now);
    }

    fn stats(&self) -> SandboxStats {
        self.sandbox.stats()
    }

    /// Run the binary with `args` after the global flags; the report is parsed when it is JSON.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with(&[], args)
    }

    /// [`Rig::run`] with extra environment variables (set last, so they win).
    fn run_with(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("darkhorses");
        let dir = self.dir.path();
        cmd.current_dir(dir)
            .env_remove("DATABASE_URL")
            .env_remove("RACING_API_USERNAME")
            .env_remove("RACING_API_PASSWORD")
            .env_remove("DARKHORSES_FEATURES_DRY_RUN")
            .env("DARKHORSES_LOCKS_DIR", dir.join("locks"))
            .env("DARKHORSES_LOGGING_DIR", dir.join("logs"))
            .env("DARKHORSES_API_BASE_URL", self.sandbox.base_url())
            .env("DARKHORSES_API_RATE_LIMIT", RATE)
            .env("DARKHORSES_RETRY_INITIAL_DELAY", "0.02")
            .env("DARKHORSES_RETRY_MAX_DELAY", "0.2")
            .env("RACING_API_USERNAME", "demo")
            .env("RACING_API_PASSWORD", "demo")
            .env("DATABASE_URL", self.db.url())
            .args(["--now", &self.now.to_rfc3339(), "--json"])
            .args(args);
        if let Db::Postgres { schema, .. } = &self.db {
            cmd.env("DARKHORSES_DATABASE_SCHEMA", schema);
        }
        cmd.envs(env.iter().copied());
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        Run { args: args.join(" "), code: out.status.code().unwrap_or(-1), stdout, stderr, report }
    }

    /// Run, assert exit 0 and return the run, with the sandbox's counts over it.
    fn ok(&self, args: &[&str]) -> (Run, Calls) {
        self.ok_with(&[], args)
    }

    /// [`Rig::ok`] with extra environment variables.
    fn ok_with(&self, env: &[(&str, &str)], args: &[&str]) -> (Run, Calls) {
        let before = self.stats();
        let run = self.run_with(env, args);
        assert_eq!(run.code, 0, "{run}");
        assert!(run.report.is_object(), "{run}");
        (run, Calls::between(&before, &self.stats()))
    }

    fn rows(&self, sql: &str) -> Vec<Row> {
        self.db.rows(&self.rt, sql)
    }

    fn strings(&self, sql: &str) -> BTreeSet<String> {
        self.rows(sql).into_iter().map(|r| r[0].clone().unwrap_or_default()).collect()
    }

    fn count(&self, sql: &str) -> i64 {
        self.rows(sql)[0][0].as_deref().unwrap_or("0").parse().unwrap()
    }

    /// GET from the clean twin.
    fn served(&self, path_and_query: &str) -> Value {
        let url = format!("{}{path_and_query}", self.truth.base_url());
        self.rt.block_on(async {
            let r = self.http.get(&url).basic_auth("demo", Some("demo")).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{url}");
            r.json::<Value>().await.unwrap_or_else(|e| panic!("{url}: {e}"))
        })
    }

    /// Every `/results` page for `date` (or `/results/today` when `date` is `None`).
    fn served_results(&self, date: Option<NaiveDate>) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut skip = 0;
        loop {
            let path = match date {
                Some(date) => {
                    format!("/results?start_date={date}&end_date={date}&region=gb&region=ire&limit=50&skip={skip}")
                }
                None => format!("/results/today?region=gb&region=ire&limit=50&skip={skip}"),
            };
            let page = self.served(&path);
            let total = page["total"].as_u64().unwrap_or_else(|| page["total"].as_str().unwrap().parse().unwrap());
            pages.push(page);
            skip += 50;
            if skip >= total {
                return pages;
            }
        }
    }

    fn served_racecards(&self, date: NaiveDate) -> Vec<Value> {
        let v = self.served(&format!("/racecards/pro?date={date}&region_codes=gb&region_codes=ire"));
        v["racecards"].as_array().unwrap().clone()
    }

    /// The races stored for `dates`.
    fn races_on(&self, dates: &[NaiveDate]) -> BTreeSet<String> {
        self.strings(&format!("SELECT id FROM races WHERE CAST(race_date AS TEXT) IN ({})", quoted(dates)))
    }

    /// The results served for `dates` (and today's when `today`) agree field by field with the
    /// database, by the independent checker; with `exact`, the races and runners stored for
    /// those dates are exactly those served. Returns the pages served per date.
    ///
    /// When racecards of those dates were stored before the results, a column both sources
    /// provide keeps the racecard's value where the result sends none (the contract's
    /// `COALESCE(new, old)`); the expected pages are filled that way first.
    fn check_results(&self, dates: &[NaiveDate], today: bool, exact: bool) -> Vec<usize> {
        self.check_results_with(dates, today, exact, false)
    }

    fn check_results_after_cards(&self, dates: &[NaiveDate], today: bool) -> Vec<usize> {
        self.check_results_with(dates, today, false, true)
    }

    fn check_results_with(&self, dates: &[NaiveDate], today: bool, exact: bool, after_cards: bool) -> Vec<usize> {
        let data = self.dir.path().join(format!("served_{}", NEXT_SCHEMA.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&data).unwrap();
        let mut races = BTreeSet::new();
        let mut runners = BTreeSet::new();
        let mut entities: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut pages_per_date = Vec::new();
        let mut targets: Vec<(String, Option<NaiveDate>)> = dates.iter().map(|d| (d.to_string(), Some(*d))).collect();
        if today {
            targets.push(("today".into(), None));
        }
        for (name, date) in targets {
            let mut pages = self.served_results(date);
            pages_per_date.push(pages.len());
            if after_cards {
                let cards = self.served_racecards(date.unwrap_or_else(|| self.now.date_naive()));
                for page in &mut pages {
                    fill_blanks_from_cards(page, &cards);
                }
            }
            for (i, page) in pages.iter().enumerate() {
                std::fs::write(data.join(format!("results_{name}_{i}.json")), page.to_string()).unwrap();
                for race in page["results"].as_array().unwrap() {
                    let id = race["race_id"].as_str().unwrap().to_string();
                    for ru in race["runners"].as_array().unwrap() {
                        runners.insert((id.clone(), ru["horse_id"].as_str().unwrap().to_string()));
                        for (table, key) in ENTITY_KEYS {
                            entities.entry(table).or_default().insert(ru[key].as_str().unwrap().to_string());
                        }
                    }
                    races.insert(id);
                }
            }
        }
        assert!(!races.is_empty(), "the sandbox served no results for {dates:?} (today: {today})");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/check-results-fidelity.py");
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(script).arg("--data").arg(&data).arg("--db").arg(self.db.url());
        if let Db::Postgres { schema, .. } = &self.db {
            cmd.args(["--schema", schema]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "results fidelity for {dates:?} (today: {today}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.check_entities(&entities);
        if exact {
            let stored_dates: Vec<NaiveDate> =
                if today { dates.iter().copied().chain([self.now.date_naive()]).collect() } else { dates.to_vec() };
            assert_eq!(self.races_on(&stored_dates), races, "races stored for {stored_dates:?}");
            let stored: BTreeSet<(String, String)> = self
                .rows(&format!(
                    "SELECT race_id, horse_id FROM runners WHERE race_id IN (SELECT id FROM races WHERE CAST(race_date AS TEXT) IN ({}))",
                    quoted(&stored_dates)
                ))
                .into_iter()
                .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
                .collect();
            assert_eq!(stored, runners, "runners stored for {stored_dates:?}");
        }
        pages_per_date
    }

    /// Every race, runner and odds quote of the Pro racecards served for `dates` is stored with
    /// its values, and nothing else is stored for those dates; every entity they name exists.
    fn check_racecards(&self, dates: &[NaiveDate]) {
        let mut races = BTreeSet::new();
        let mut runners = BTreeMap::new();
        let mut odds = BTreeMap::new();
        let mut entities: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut courses = BTreeSet::new();
        for &date in dates {
            for race in self.served_racecards(date) {
                let id = race["race_id"].as_str().unwrap().to_string();
                courses.insert(race["course_id"].as_str().unwrap().to_string());
                for ru in race["runners"].as_array().unwrap() {
                    let horse = ru["horse_id"].as_str().unwrap().to_string();
                    let values = vec![
                        ru["number"].as_str().map(str::to_string),
                        ru["jockey_id"].as_str().map(str::to_string),
                        ru["trainer_id"].as_str().map(str::to_string),
                        ru["lbs"].as_str().map(str::to_string),
                    ];
                    runners.insert((id.clone(), horse.clone()), values);
                    for (table, key) in ENTITY_KEYS {
                        entities.entry(table).or_default().insert(ru[key].as_str().unwrap().to_string());
                    }
                    for o in ru["odds"].as_array().unwrap() {
                        let code = bookmaker_code(o["bookmaker"].as_str().unwrap());
                        let decimal: f64 = o["decimal"].as_str().unwrap().parse().unwrap();
                        let fractional = o["fractional"].as_str().unwrap().to_string();
                        odds.insert((id.clone(), horse.clone(), code), (fractional, decimal));
                    }
                }
                races.insert(id);
            }
        }
        assert!(!races.is_empty(), "the sandbox served no racecards for {dates:?}");
        assert_eq!(self.races_on(dates), races, "races stored for {dates:?}");
        let of_dates = format!("SELECT id FROM races WHERE CAST(race_date AS TEXT) IN ({})", quoted(dates));
        let stored: BTreeMap<(String, String), Row> = self
            .rows(&format!(
                "SELECT race_id, horse_id, number, jockey_id, trainer_id, weight_lbs FROM runners WHERE race_id IN ({of_dates})"
            ))
            .into_iter()
            .map(|r| ((r[0].clone().unwrap(), r[1].clone().unwrap()), r[2..].to_vec()))
            .collect();
        assert_eq!(stored.len(), runners.len(), "runners stored for {dates:?}");
        assert_eq!(stored, runners, "runners stored for {dates:?}");
        let stored: BTreeMap<(String, String, String), (String, f64)> = self
            .rows(&format!(
                "SELECT race_id, horse_id, bookmaker, fractional, \"decimal\" FROM runner_odds WHERE race_id IN ({of_dates})"
            ))
            .into_iter()
            .map(|r| {
                let key = (r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone().unwrap());
                (key, (r[3].clone().unwrap(), r[4].as_deref().unwrap().parse::<f64>().unwrap()))
            })
            .collect();
        assert_eq!(stored.len(), odds.len(), "odds quotes stored for {dates:?}");
        assert_eq!(stored, odds, "odds stored for {dates:?}");
        let bookmakers = self.strings("SELECT code FROM bookmakers");
        let quoted_by: BTreeSet<String> = odds.keys().map(|k| k.2.clone()).collect();
        assert!(
            quoted_by.is_subset(&bookmakers),
            "bookmakers quoting but not stored: {:?}",
            quoted_by.difference(&bookmakers)
        );
        entities.insert("courses", courses);
        self.check_entities(&entities);
    }

    fn check_entities(&self, entities: &BTreeMap<&str, BTreeSet<String>>) {
        for (table, ids) in entities {
            let stored = self.strings(&format!("SELECT id FROM {table}"));
            let missing: Vec<&String> = ids.difference(&stored).collect();
            assert!(
                missing.is_empty(),
                "{} of {} {table} ids served are not stored: {:?}",
                missing.len(),
                ids.len(),
                &missing[..missing.len().min(5)]
            );
        }
    }

    /// Every data table and `api_responses`, each sorted, for before/after comparisons.
    fn dump(&self) -> BTreeMap<&'static str, Vec<Row>> {
        DATA_TABLES
            .iter()
            .map(|t| {
                let mut rows = self.rows(&format!("SELECT * FROM {t}"));
                rows.sort();
                (*t, rows)
            })
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Db::Postgres { url, schema } = &self.db {
            let (url, schema) = (url.clone(), schema.clone());
            self.rt.block_on(async move {
                let _ = pg_connect(&url).await.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
            });
        }
    }
}

fn blank(v: &Value) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| matches!(s.trim(), "" | "-" | "\u{2013}"))
}

/// Result fields a racecard also provides (result name, racecard name), for races and runners.
const SHARED_RACE_FIELDS: [(&str, &str); 6] = [
    ("class", "race_class"),
    ("pattern", "pattern"),
    ("going", "going"),
    ("surface", "surface"),
    ("type", "type"),
    ("race_name", "race_name"),
];
/// (A result's `rpr`/`tsr` are not among them: they go to `result_rpr`/`result_topspeed`, which
/// racecards never write.)
const SHARED_RUNNER_FIELDS: [(&str, &str); 7] = [
    ("or", "ofr"),
    ("draw", "draw"),
    ("headgear", "headgear"),
    ("weight_lbs", "lbs"),
    ("number", "number"),
    ("age", "age"),
    ("sex", "sex_code"),
];

/// What the database should hold after racecards then results: each shared field the result
/// leaves blank keeps the racecard's value.
fn fill_blanks_from_cards(page: &mut Value, cards: &[Value]) {
    let cards: BTreeMap<&str, &Value> = cards.iter().map(|c| (c["race_id"].as_str().unwrap(), c)).collect();
    for race in page["results"].as_array_mut().unwrap() {
        let Some(card) = cards.get(race["race_id"].as_str().unwrap()).copied() else { continue };
        for (result_key, card_key) in SHARED_RACE_FIELDS {
            if blank(&race[result_key]) && !blank(&card[card_key]) {
                race[result_key] = card[card_key].clone();
            }
        }
        let runners: BTreeMap<&str, &Value> =
            card["runners"].as_array().unwrap().iter().map(|r| (r["horse_id"].as_str().unwrap(), r)).collect();
        for ru in race["runners"].as_array_mut().unwrap() {
            let Some(card_runner) = runners.get(ru["horse_id"].as_str().unwrap()).copied() else { continue };
            for (result_key, card_key) in SHARED_RUNNER_FIELDS {
                if blank(&ru[result_key]) && !blank(&card_runner[card_key]) {
                    ru[result_key] = card_runner[card_key].clone();
                }
            }
        }
    }
}

/// Runner fields naming an entity, by the table it must be in.
const ENTITY_KEYS: [(&str, &str); 7] = [
    ("horses", "horse_id"),
    ("jockeys", "jockey_id"),
    ("trainers", "trainer_id"),
    ("owners", "owner_id"),
    ("sires", "sire_id"),
    ("dams", "dam_id"),
    ("damsires", "damsire_id"),
];

const DATA_TABLES: [&str; 16] = [
    "api_responses",
    "fetch_coverage",
    "regions",
    "courses",
    "bookmakers",
    "horses",
    "jockeys",
    "owners",
    "trainers",
    "sires",
    "dams",
    "damsires",
    "races",
    "runners",
    "runner_odds",
    "alert_state",
];

fn quoted(dates: &[NaiveDate]) -> String {
    dates.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(",")
}

/// One run of the binary.
struct Run {
    args: String,
    code: i32,
    stdout: String,
    stderr: String,
    report: Value,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`darkhorses {}` exited {}\nstdout:\n{}\nstderr:\n{}", self.args, self.code, self.stdout, self.stderr)
    }
}

impl Run {
    fn calls(&self) -> u64 {
        self.report["api"]["calls"].as_u64().unwrap()
    }

    /// Rows written (inserted + updated) per table.
    fn written(&self) -> BTreeMap<String, u64> {
        self.report["rows"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(t, c)| (t.clone(), c["inserted"].as_u64().unwrap() + c["updated"].as_u64().unwrap()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Requests the sandbox answered over one run, by endpoint (every status).
#[derive(Debug, PartialEq, Eq)]
struct Calls(BTreeMap<String, u64>);

impl Calls {
    fn between(before: &SandboxStats, after: &SandboxStats) -> Calls {
        let total = |s: &SandboxStats, e: &str| s.by_endpoint.get(e).map_or(0, |m| m.values().sum::<u64>());
        let mut out = BTreeMap::new();
        for e in after.by_endpoint.keys() {
            let n = total(after, e) - total(before, e);
            if n > 0 {
                out.insert(e.clone(), n);
            }
        }
        Calls(out)
    }

    fn of(&self, endpoint: &str) -> u64 {
        self.0.get(endpoint).copied().unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

const CARDS: &str = "/v1/racecards/pro";
const RESULTS: &str = "/v1/results";
const RESULTS_TODAY: &str = "/v1/results/today";

/// Each test body runs once per backend, as two tests.
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
    reference_flags,
    daily_defaults,
    daily_windows,
    daily_weekly_survives_faults,
    daily_failing_date_fails_the_run_only,
    live_flags_and_call_economy,
    live_on_a_blank_day_makes_no_calls,
    dry_runs_write_nothing_and_count_what_real_runs_write,
    backfill_flags_and_resume,
);

// ---------------------------------------------------------------------------------------------

fn reference_flags(backend: Backend) {
    let Some(rig) = Rig::new(backend, "2026-03-10T14:00:00Z") else { return };
    let seeds: BTreeSet<String> = seed_bookmakers().into_iter().map(|b| b.code).collect();

    let (run, calls) = rig.ok(&["reference", "--bookmakers-only"]);
    assert_eq!(calls.total(), 0, "{calls:?}");
    assert_eq!(run.calls(), 0);
    assert_eq!(rig.strings("SELECT code FROM bookmakers"), seeds);
    assert_eq!(rig.count("SELECT count(*) FROM courses"), 0);

    let (run, calls) = rig.ok(&["reference", "--courses-only"]);
    assert_eq!(calls.total(), 2, "{calls:?}");
    assert_eq!(run.calls(), 2);
    let served = rig.served("/courses?region_codes=gb&region_codes=ire");
    let courses: BTreeSet<String> =
        served["courses"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert!(courses.len() > 50, "{courses:?}");
    assert_eq!(rig.strings("SELECT id FROM courses"), courses);
    let names: BTreeSet<String> = served["courses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}|{}|{}",
                c["id"].as_str().unwrap(),
                c["course"].as_str().unwrap(),
                c["region_code"].as_str().unwrap().to_lowercase()
            )
        })
        .collect();
    let stored: BTreeSet<String> = rig
        .rows("SELECT id, name, region_code FROM courses")
        .into_iter()
        .map(|r| format!("{}|{}|{}", r[0].clone().unwrap(), r[1].clone().unwrap(), r[2].clone().unwrap()))
        .collect();
    assert_eq!(stored, names);
    let regions = rig.strings("SELECT code FROM regions");
    assert!(regions.contains("gb") && regions.contains("ire"), "{regions:?}");

    // Everything again: at most 2 calls, and nothing changes.
    let (run, calls) = rig.ok(&["reference"]);
    assert!(calls.total() <= 2, "{calls:?}");
    assert_eq!(run.calls(), calls.total());
    let written = run.written();
    assert!(written.keys().all(|t| t == "api_responses"), "a second reference run rewrote rows: {written:?}");
    assert_eq!(rig.strings("SELECT id FROM courses"), courses);
    assert!(rig.strings("SELECT code FROM bookmakers").is_superset(&seeds));
}

fn daily_defaults(backend: Backend) {
    let Some(rig) = Rig::new(backend, "2026-03-10T14:00:00Z") else { return };
    let (run, calls) = rig.ok(&["daily"]);
    let pages = rig.check_results(&[d("2026-03-09")], false, true);
    rig.check_racecards(&days("2026-03-11", "2026-03-12"));
    assert_eq!(calls.of(CARDS), 2, "{calls:?}");
    assert_eq!(calls.of(RESULTS), pages.iter().sum::<usize>() as u64, "{calls:?}");
    assert_eq!(calls.total(), 2 + pages.iter().sum::<usize>() as u64, "{calls:?}");
    assert_eq!(run.calls(), calls.total());
    assert_eq!(run.report["units_done"], 3);
    assert_eq!(run.report["units_failed"], 0);
    assert_eq!(
        rig.count(
            "SELECT count(*) FROM job_runs WHERE job = 'daily' AND status = 'succeeded' AND \"trigger\" = 'manual'"
        ),
        1
    );

    // The same run again is idempotent: no race, runner or odds row changes. (Entities named
    // differently by racecards and results, such as `Red Vega` and `Red Vega (USA)`, flip.)
    let (again, _) = rig.ok(&["daily"]);
    let written = again.written();
    for table in ["races", "runners", "runner_odds", "trainers", "owners", "courses"] {
        assert!(!written.contains_key(table), "a rerun rewrote {table}: {written:?}");
    }
}

fn daily_windows(backend: Backend) {
    let Some(rig) = Rig::new(backend, "2026-03-10T14:00:00Z") else { return };
    let (run, calls) = rig.ok(&["daily", "--days-ahead", "0", "--days-back", "0"]);
    assert_eq!(calls.total(), 0, "{run}");
    assert_eq!(run.report["units_done"], 0, "{run}");

    let (run, calls) = rig.ok(&["daily", "--racecards-only", "--days-ahead", "3"]);
    assert_eq!(calls, Calls([(CARDS.to_string(), 3)].into()), "{run}");
    rig.check_racecards(&days("2026-03-11", "2026-03-13"));
    assert!(rig.races_on(&days("2026-03-01", "2026-03-10")).is_empty());

    let (run, calls) = rig.ok(&["daily", "--results-only", "--days-back", "3"]);
    let pages = rig.check_results(&days("2026-03-07", "2026-03-09"), false, true);
    assert_eq!(calls, Calls([(RESULTS.to_string(), pages.iter().sum::<usize>() as u64)].into()), "{run}");
    assert!(rig.races_on(&[d("2026-03-06")]).is_empty());
    rig.check_racecards(&days("2026-03-11", "2026-03-13"));
}

fn faulty(spec: &str) -> SandboxConfig {
    SandboxConfig { faults: parse_faults(spec).unwrap(), ..SandboxConfig::default() }
}

fn daily_weekly_survives_faults(backend: Backend) {
    let Some(rig) = Rig::with(backend, "2026-03-10T14:00:00Z", faulty("5xx=0.2,429=0.1,malformed=0.02")) else {
        return;
    };
    let run = rig.run(&["daily", "--weekly"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.report["units_failed"], 0, "{run}");
    let stats = rig.stats();
    assert!(stats.faults.values().sum::<u64>() > 0, "no fault was injected: {stats:?}");
    rig.check_results(&days("2026-03-03", "2026-03-09"), false, true);
    rig.check_racecards(&days("2026-03-11", "2026-03-12"));
}

fn daily_failing_date_fails_the_run_only(backend: Backend) {
    let Some(rig) = Rig::with(backend, "2026-03-10T14:00:00Z", faulty("fail_date=2026-03-06")) else { return };
    let run = rig.run(&["daily", "--weekly"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stdout.contains("2026-03-06") || run.stderr.contains("2026-03-06"), "{run}");
    assert_eq!(run.report["units_failed"], 1, "{run}");
    let errors = run.report["errors"].to_string();
    assert!(errors.contains("2026-03-06"), "{errors}");
    let mut others = days("2026-03-03", "2026-03-09");
    others.retain(|x| *x != d("2026-03-06"));
    rig.check_results(&others, false, true);
    rig.check_racecards(&days("2026-03-11", "2026-03-12"));
    assert!(rig.races_on(&[d("2026-03-06")]).is_empty());
    let coverage =
        rig.rows("SELECT status FROM fetch_coverage WHERE kind = 'results' AND CAST(race_date AS TEXT) = '2026-03-06'");
    assert_eq!(coverage, vec![vec![Some("failed".to_string())]]);
    assert_eq!(rig.count("SELECT count(*) FROM job_runs WHERE job = 'daily' AND status = 'partial'"), 1);
}

fn live_on_a_blank_day_makes_no_calls(backend: Backend) {
    let Some(mut rig) = Rig::new(backend, "2025-12-24T10:00:00Z") else { return };
    // The day before loads Christmas Day's (empty) racecards and Boxing Day's.
    let (_, calls) = rig.ok(&["daily"]);
    assert_eq!(calls.of(CARDS), 2, "{calls:?}");
    rig.set_now("2025-12-25T14:00:00Z");
    for args in [&["live"][..], &["live", "--results-only"], &["live", "--races-only"]] {
        let (run, calls) = rig.ok(args);
        assert_eq!(calls.total(), 0, "{run}");
        assert_eq!(run.calls(), 0, "{run}");
    }
}

fn live_flags_and_call_economy(backend: Backend) {
    let Some(mut rig) = Rig::new(backend, "2026-03-09T14:00:00Z") else { return };
    // Yesterday's daily run loaded today's racecards.
    rig.ok(&["daily", "--racecards-only"]);
    let today = d("2026-03-10");

    // Before the first race: racecards may change, no result can be out.
    rig.set_now("2026-03-10T09:05:00Z");
    let (run, calls) = rig.ok(&["live"]);
    assert_eq!(calls, Calls([(CARDS.to_string(), 1)].into()), "{run}");
    rig.check_racecards(&[today]);
    // Just fetched, hours before the first off: nothing new can be had.
    let (run, calls) = rig.ok(&["live"]);
    assert_eq!(calls.total(), 0, "{run}");

    // Mid-afternoon: the results declared so far, and only them with --results-only.
    rig.set_now("2026-03-10T15:05:00Z");
    let (run, calls) = rig.ok(&["live", "--results-only"]);
    assert_eq!(calls.of(CARDS), 0, "{run}");
    assert!(calls.of(RESULTS_TODAY) >= 1, "{run}");
    rig.check_results_after_cards(&[], true);
    let (run, calls) = rig.ok(&["live", "--races-only"]);
    assert_eq!(calls, Calls([(CARDS.to_string(), 1)].into()), "{run}");
    rig.check_racecards(&[today]);

    // After the last race: one run takes every result (the racecards can no longer change, so
    // none are fetched), a second run makes no call.
    rig.set_now("2026-03-10T22:00:00Z");
    let (run, calls) = rig.ok(&["live"]);
    assert!(calls.of(RESULTS_TODAY) >= 1, "{run}");
    rig.check_results_after_cards(&[], true);
    rig.check_racecards(&[today]);
    let pending = rig.count(&format!(
        "SELECT count(*) FROM races WHERE CAST(race_date AS TEXT) = '{today}' AND NOT has_result AND NOT is_abandoned"
    ));
    assert_eq!(pending, 0);
    let (run, calls) = rig.ok(&["live"]);
    assert_eq!(calls.total(), 0, "{run}");
    assert_eq!(run.calls(), 0, "{run}");
}

/// `args --dry-run` leaves every data table and `api_responses` as they were, records one
/// `job_runs` row (dry_run true), and would write what `args` then writes, table by table (the
/// store keeps a dry run's units in one session, so entities several units name count once).
fn dry_then_real(rig: &Rig, args: &[&str]) {
    let runs = |rig: &Rig| rig.count("SELECT count(*) FROM job_runs");
    let before = rig.dump();
    let n = runs(rig);
    let mut dry: Vec<&str> = args.to_vec();
    dry.push("--dry-run");
    let (dry_run, _) = rig.ok(&dry);
    let what = dry.join(" ");
    assert_eq!(dry_run.report["dry_run"], true, "{dry_run}");
    assert!(dry_run.calls() > 0 || args[0] == "reference", "{dry_run}");
    let after = rig.dump();
    for (table, rows) in &before {
        assert!(rows == &after[table], "`{what}` changed {table}");
    }
    assert_eq!(runs(rig), n + 1, "`{what}` records one job_runs row");
    let dry_rows = rig.count("SELECT count(*) FROM job_runs WHERE dry_run");
    assert!(dry_rows >= 1, "`{what}`: its job_runs row says dry_run");
    let (real, _) = rig.ok(args);
    let (would, wrote) = (dry_run.written(), real.written());
    assert_eq!(would, wrote, "would-write counts of `{what}` against the real run");
}

fn dry_runs_write_nothing_and_count_what_real_runs_write(backend: Backend) {
    let Some(mut rig) = Rig::new(backend, "2026-03-10T14:00:00Z") else { return };
    let migrate = rig.run(&["db", "migrate"]);
    assert_eq!(migrate.code, 0, "{migrate}");
    // One unit each.
    dry_then_real(&rig, &["reference"]);
    dry_then_real(&rig, &["daily", "--results-only"]);
    dry_then_real(&rig, &["daily", "--racecards-only", "--days-ahead", "1"]);
    dry_then_real(&rig, &["reference", "--bookmakers-only"]);
    // Several units: entities named by more than one count once, as in the real run.
    dry_then_real(&rig, &["backfill", "--from", "2026-03-04", "--to", "2026-03-05"]);
    dry_then_real(&rig, &["daily", "--weekly"]);
    rig.set_now("2026-03-11T16:00:00Z");
    dry_then_real(&rig, &["live"]);
}

fn backfill_flags_and_resume(backend: Backend) {
    let Some(rig) = Rig::new(backend, "2026-03-10T14:00:00Z") else { return };
    let (run, calls) = rig.ok(&["backfill", "--from", "2026-03-05", "--to", "2026-03-06", "--results-only"]);
    let pages = rig.check_results(&days("2026-03-05", "2026-03-06"), false, true);
    assert_eq!(calls, Calls([(RESULTS.to_string(), pages.iter().sum::<usize>() as u64)].into()), "{run}");

    let (run, calls) = rig.ok(&["backfill", "--from", "2026-03-05", "--to", "2026-03-06", "--racecards-only"]);
    assert_eq!(calls, Calls([(CARDS.to_string(), 2)].into()), "{run}");
    rig.check_racecards(&days("2026-03-05", "2026-03-06"));
    assert_eq!(rig.count("SELECT count(*) FROM races WHERE NOT has_result"), 0, "racecards reset has_result");

    // A wider range fetches only the units not yet complete.
    let (run, calls) = rig.ok(&["backfill", "--from", "2026-03-03", "--to", "2026-03-06"]);
    let pages = rig.check_results_after_cards(&days("2026-03-03", "2026-03-04"), false);
    assert_eq!(calls.of(CARDS), 2, "{run}");
    assert_eq!(calls.of(RESULTS), pages.iter().sum::<usize>() as u64, "{run}");
    assert_eq!(run.report["units_skipped"], 4, "{run}");
    rig.check_racecards(&days("2026-03-03", "2026-03-06"));

    // --months N ends yesterday by default (here: --to), and covers N months inclusive.
    let (run, calls) = rig.ok(&["backfill", "--months", "1", "--to", "2026-02-03", "--results-only"]);
    let window = days("2026-01-04", "2026-02-03");
    assert_eq!(calls.of(CARDS), 0, "{run}");
    assert_eq!(calls.of(RESULTS), window.len() as u64, "{run}");
    let covered = rig.count(&format!(
        "SELECT count(*) FROM fetch_coverage WHERE kind = 'results' AND status = 'complete' AND CAST(race_date AS TEXT) IN ({})",
        quoted(&window)
    ));
    assert_eq!(covered, window.len() as i64);
    rig.check_results(&[d("2026-01-04"), d("2026-02-03")], false, true);
    assert!(rig.races_on(&[d("2026-01-03")]).is_empty());
}

// Issue 15: the rows of a day do not depend on the order racecards and results arrive, and
// backfill never skips a unit its coverage does not cover.
mod order_and_coverage;

// Issue 9 item 1: live knows the racing day.
mod racing_day;
