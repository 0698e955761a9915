//! `darkhorses quality` through the binary, on a database the sandbox loaded (SQLite always,
//! Postgres in a schema of its own when `DARKHORSES_TEST_DATABASE_URL` is set): it exits 0 and its
//! `--json` document is the committed snapshot on both backends; then, each on its own and undone
//! after, an orphan runner, a jockey's row deleted, a duplicate race and a day's results deleted
//! make the right check fail naming the runner, race or day (exit 1). Over Christmas, the blank
//! days are not gaps.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tempfile::TempDir;

use crate::acceptance::{darkhorses, run};

const PG_ENV: &str = "DARKHORSES_TEST_DATABASE_URL";
static NEXT_SCHEMA: AtomicUsize = AtomicUsize::new(0);

/// A week of racing, checked the morning after.
const FROM: &str = "2026-03-02";
const TO: &str = "2026-03-08";
const NOW: &str = "2026-03-09T08:00:00Z";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A directory and a database (a SQLite file, or a fresh Postgres schema dropped at the end).
struct Db {
    dir: TempDir,
    url: String,
    schema: Option<String>,
    rt: tokio::runtime::Runtime,
}

impl Db {
    /// `None` for Postgres when `DARKHORSES_TEST_DATABASE_URL` is not set.
    fn new(backend: Backend) -> Option<Db> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite:{}", dir.path().join("quality.db").display());
                Db { dir, url, schema: None, rt }
            }
            Backend::Postgres => {
                let Some(url) = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty()) else {
                    eprintln!("skipped: {PG_ENV} is not set");
                    return None;
                };
                let schema = format!("quality_{}_{}", std::process::id(), NEXT_SCHEMA.fetch_add(1, Ordering::SeqCst));
                let db = Db { dir, url, schema: Some(schema.clone()), rt };
                db.sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"));
                db
            }
        };
        Some(db)
    }

    /// The binary on this database at `now`, the sandbox's rate limit lifted.
    fn cmd(&self, now: &str) -> assert_cmd::Command {
        let mut cmd = darkhorses(self.dir.path());
        cmd.env("DATABASE_URL", &self.url).env("DARKHORSES_API_RATE_LIMIT", "1000").args(["--now", now]);
        if let Some(schema) = &self.schema {
            cmd.env("DARKHORSES_DATABASE_SCHEMA", schema);
        }
        cmd
    }

    /// `--sandbox backfill --from FROM --to TO` at `now`.
    fn load(&self, from: &str, to: &str, now: &str) {
        let r = run(self.cmd(now).args(["-q", "--sandbox", "backfill", "--from", from, "--to", to]));
        assert_eq!(r.code, 0, "backfill: {}\n{}", r.stdout, r.stderr);
    }

    /// `quality --json ARGS` at `now`: the exit code and the document.
    fn quality(&self, now: &str, args: &[&str]) -> (i32, Value) {
        let r = run(self.cmd(now).args(["--json", "quality"]).args(args));
        let document = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
        (r.code, document)
    }

    /// Run SQL the way someone with a shell on the database would (foreign keys not enforced).
    fn sql(&self, sql: &str) {
        match &self.schema {
            None => {
                let conn = rusqlite::Connection::open(self.path()).unwrap();
                conn.execute_batch(&format!("PRAGMA foreign_keys = OFF; {sql}"))
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Some(schema) => self.rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                let setup = format!("SET search_path TO {schema}; SET session_replication_role = replica;");
                client.batch_execute(&format!("{setup}{sql}")).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            }),
        }
    }

    /// The one text value `query` returns.
    fn text(&self, query: &str) -> String {
        match &self.schema {
            None => {
                let conn = rusqlite::Connection::open(self.path()).unwrap();
                conn.query_row(query, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{query}: {e}"))
            }
            Some(schema) => self.rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                client.batch_execute(&format!("SET search_path TO {schema}")).await.unwrap();
                client.query_one(query, &[]).await.unwrap_or_else(|e| panic!("{query}: {e}")).get(0)
            }),
        }
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(self.url.trim_start_matches("sqlite:"))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(schema) = &self.schema {
            let (url, schema) = (self.url.clone(), schema.clone());
            self.rt.block_on(async move {
                if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
                }
            });
        }
    }
}

/// The check called `name` in a quality document.
fn check<'a>(document: &'a Value, name: &str) -> &'a Value {
    document["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {document:#}"))
}

/// The names of the checks that are not `ok`.
fn failing(document: &Value) -> Vec<String> {
    let checks = document["checks"].as_array().unwrap_or_else(|| panic!("no checks in {document:#}"));
    checks.iter().filter(|c| c["level"] != "ok").map(|c| c["name"].as_str().unwrap_or_default().to_string()).collect()
}

fn subjects(check: &Value) -> Vec<String> {
    check["subjects"]
        .as_array()
        .map(|s| s.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default()
}

/// The document as the snapshot holds it: the run's duration (wall clock) and the count of
/// migrations (each backend has its own list) left out.
fn stable(mut document: Value) -> Value {
    if let Some(object) = document.as_object_mut() {
        object.remove("duration");
    }
    if let Some(tables) = document["figures"]["tables"].as_object_mut() {
        assert!(tables.remove("schema_migrations").is_some_and(|n| n.as_i64() > Some(0)), "{tables:?}");
    }
    document
}

fn snapshot_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/quality/report.json")
}

/// The clean database's document equals the committed snapshot (`DARKHORSES_TEST_BLESS=1`
/// rewrites it from SQLite); every backend answers the same.
fn assert_snapshot(backend: Backend, document: &Value) {
    let path = snapshot_path();
    let text = format!("{}\n", serde_json::to_string_pretty(&stable(document.clone())).unwrap());
    if backend == Backend::Sqlite && std::env::var_os("DARKHORSES_TEST_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{backend:?}: quality --json differs from {}; if the change is meant, run \
         DARKHORSES_TEST_BLESS=1 cargo test --test it quality:: and commit the file. Got:\n{text}",
        path.display()
    );
}

fn a_sandbox_week_is_clean_then_each_fault_fails_its_check(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    db.load(FROM, TO, NOW);
    let (code, clean) = db.quality(NOW, &[]);
    assert_eq!(code, 0, "{clean:#}");
    assert!(failing(&clean).is_empty(), "{clean:#}");
    assert_eq!(clean["status"], "succeeded");
    assert_snapshot(backend, &clean);

    // An orphan runner: a runner whose race is not stored.
    let horse = db.text("SELECT MIN(id) FROM horses");
    db.sql(&format!(
        "INSERT INTO runners (race_id, horse_id, horse_name, updated_at)
         SELECT 'rac_orphan', id, name, updated_at FROM horses WHERE id = '{horse}'"
    ));
    let (code, document) = db.quality(NOW, &[]);
    assert_eq!(code, 1, "{document:#}");
    assert_eq!(failing(&document), ["orphans.runners"]);
    let orphans = check(&document, "orphans.runners");
    assert_eq!(orphans["level"], "critical");
    assert_eq!(subjects(orphans), [format!("rac_orphan/{horse}")]);
    assert!(orphans["detail"].as_str().unwrap_or_default().starts_with("1 runners whose race_id"), "{orphans}");
    db.sql("DELETE FROM runners WHERE race_id = 'rac_orphan'");
    assert_eq!(db.quality(NOW, &[]).0, 0, "clean again");

    // A jockey's row gone while runners still name it.
    let jockey = db.text("SELECT MIN(jockey_id) FROM runners");
    let name = db.text(&format!("SELECT name FROM jockeys WHERE id = '{jockey}'"));
    db.sql(&format!("DELETE FROM jockeys WHERE id = '{jockey}'"));
    let (code, document) = db.quality(NOW, &[]);
    assert_eq!(code, 1, "{document:#}");
    assert_eq!(failing(&document), ["orphans.entities"]);
    let entities = check(&document, "orphans.entities");
    let named = subjects(entities);
    assert!(!named.is_empty() && named.len() <= 10, "{entities}");
    assert!(named.iter().all(|s| s.ends_with(&format!(" no row for jockey_id {jockey}"))), "{entities}");
    db.sql(&format!("INSERT INTO jockeys (id, name) VALUES ('{jockey}', '{}')", name.replace('\'', "''")));
    assert_eq!(db.quality(NOW, &[]).0, 0, "clean again");

    // The same race under another id.
    let original = db.text("SELECT MIN(id) FROM races WHERE race_date = '2026-03-04'");
    db.sql(&format!(
        "CREATE TEMP TABLE copy AS SELECT * FROM races WHERE id = '{original}';
         UPDATE copy SET id = 'rac_zz_copy';
         INSERT INTO races SELECT * FROM copy;"
    ));
    let (code, document) = db.quality(NOW, &[]);
    assert_eq!(code, 1, "{document:#}");
    // A copy without runners also has a result without a winner, and no runners in its result.
    assert_eq!(failing(&document), ["duplicates.races", "results.no_winner", "results.runner_count"]);
    let duplicates = check(&document, "duplicates.races");
    assert_eq!(duplicates["level"], "critical");
    let named = subjects(duplicates);
    assert_eq!(named.len(), 1, "{duplicates}");
    assert!(named[0].starts_with(&format!("{original} and rac_zz_copy (2026-03-04, course ")), "{named:?}");
    assert_eq!(subjects(check(&document, "results.no_winner")), ["rac_zz_copy (2026-03-04)"]);
    db.sql("DELETE FROM races WHERE id = 'rac_zz_copy'");
    assert_eq!(db.quality(NOW, &[]).0, 0, "clean again");

    // One racing day's results gone: the day is a gap and its races are overdue.
    let races_that_day = db.text("SELECT CAST(COUNT(*) AS TEXT) FROM races WHERE race_date = '2026-03-05'");
    db.sql(
        "UPDATE runners SET position = NULL, finish_position = NULL, result_updated_at = NULL
          WHERE race_id IN (SELECT id FROM races WHERE race_date = '2026-03-05');
         UPDATE races SET has_result = FALSE, ran = NULL, result_updated_at = NULL WHERE race_date = '2026-03-05';
         DELETE FROM fetch_coverage WHERE kind = 'results' AND race_date = '2026-03-05';",
    );
    let (code, document) = db.quality(NOW, &["--calendar"]);
    assert_eq!(code, 1, "{document:#}");
    assert_eq!(failing(&document), ["results.overdue", "coverage.gaps"]);
    let gaps = check(&document, "coverage.gaps");
    assert_eq!(gaps["level"], "critical");
    assert_eq!(subjects(gaps), ["2026-03-05 no results"]);
    let overdue = check(&document, "results.overdue");
    assert_eq!(overdue["level"], "warning");
    assert!(
        overdue["detail"].as_str().unwrap_or_default().starts_with(&format!("{races_that_day} races")),
        "{overdue}"
    );
    assert!(subjects(overdue).iter().all(|s| s.ends_with("(2026-03-05)")), "{overdue}");
    let day = document["figures"]["days"]
        .as_array()
        .and_then(|days| days.iter().find(|d| d["date"] == "2026-03-05"))
        .cloned()
        .unwrap_or_default();
    assert_eq!((day["state"].as_str(), day["mark"].as_str()), (Some("gap"), Some("!")), "{day}");

    // In text, the gap is seen at a glance, and the exit code is the same.
    let r = run(db.cmd(NOW).args(["quality", "--calendar"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.contains("\nMarch 2026\nMo  Tu  We  Th  Fr  Sa  Su\n"), "{}", r.stdout);
    assert!(r.stdout.contains(" 2R  3R  4R  5!  6R  7R  8R"), "{}", r.stdout);
    assert!(r.stdout.lines().any(|l| l.starts_with("critical  coverage.gaps") && l.contains("2026-03-05 no results")));
}

fn blank_days_are_not_gaps(backend: Backend) {
    let Some(db) = Db::new(backend) else { return };
    // The sandbox, like the API, has no racing on Christmas Eve and Christmas Day.
    let now = "2026-12-29T08:00:00Z";
    db.load("2026-12-20", "2026-12-28", now);
    let (code, document) = db.quality(now, &["--calendar"]);
    assert_eq!(code, 0, "{document:#}");
    let gaps = check(&document, "coverage.gaps");
    assert_eq!(gaps["level"], "ok");
    assert!(gaps["detail"].as_str().unwrap_or_default().contains("(2 blank days, not gaps)"), "{gaps}");
    let days = document["figures"]["days"].as_array().cloned().unwrap_or_default();
    let christmas = days.iter().find(|d| d["date"] == "2026-12-25").cloned().unwrap_or_default();
    assert_eq!(christmas["state"], "blank", "{christmas}");
    assert_eq!((christmas["races"].as_i64(), christmas["racecards_fetch"].as_str()), (Some(0), Some("empty")));
    let r = run(db.cmd(now).args(["quality", "--calendar"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("\n21R 22R 23R 24. 25. 26R 27R\n28R 29\n"), "{}", r.stdout);
}

#[test]
fn a_bad_since_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(darkhorses(dir.path()).args(["--now", NOW, "quality", "--since", "2026-04-01"]));
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("--since 2026-04-01 is after today's racing day (2026-03-09)"), "{}", r.stderr);
    let r = run(darkhorses(dir.path()).args(["quality", "--since", "last week"]));
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("--since"), "{}", r.stderr);
}

#[test]
fn an_empty_database_has_nothing_to_vouch_for() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(darkhorses(dir.path()).args(["--now", NOW, "quality"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let gaps = r.stdout.lines().find(|l| l.contains("coverage.gaps")).unwrap_or_default();
    assert!(gaps.starts_with("critical") && gaps.contains("the database holds no racing days yet"), "{}", r.stdout);
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

on_both!(a_sandbox_week_is_clean_then_each_fault_fails_its_check, blank_days_are_not_gaps);
