//! `darkhorses rebuild` through the binary (issue 12 item 2): a SQLite database loaded by a month
//! of sandbox backfill, rebuilt into an empty Postgres schema with the API unreachable, equals a
//! direct Postgres backfill of the same month by a canonical dump; rebuilt in place (its typed
//! tables emptied first) or into a new SQLite file, it equals the original.
//!
//! The canonical dump: every contract table but `job_runs` (each run's own record: ids, hosts,
//! pids, times) and `alert_state`, rows sorted, with the columns that hold the wall clock of a
//! write left out (`updated_at`, `racecard_updated_at`, `result_updated_at`, and
//! `schema_migrations.applied_at`) and `api_responses.body` (its `sha256` of the raw bytes is
//! compared). Fetch times stay in: both runs fetch under the same pinned `--now`, and a rebuild
//! keeps each response's `fetched_at`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::acceptance::{darkhorses, run};

const NOW: &str = "2025-10-15T12:00:00Z";
const MONTH: [&str; 4] = ["--from", "2025-09-15", "--to", "2025-10-14"];
/// Tables of the dump: the contract's, but `job_runs` and `alert_state` (see the module comment).
fn tables() -> Vec<&'static str> {
    darkhorses::store::CONTRACT_TABLES.into_iter().filter(|t| !matches!(*t, "job_runs" | "alert_state")).collect()
}
/// Columns left out of the dump: when a row was written, and raw bodies.
const LEFT_OUT: [&str; 5] = ["updated_at", "racecard_updated_at", "result_updated_at", "applied_at", "body"];
/// The typed tables a rebuild derives (emptied before the in-place rebuild).
const DERIVED: [&str; 12] = [
    "runner_odds",
    "runners",
    "races",
    "horses",
    "jockeys",
    "owners",
    "trainers",
    "sires",
    "dams",
    "damsires",
    "courses",
    "fetch_coverage",
];

/// `darkhorses --now NOW ARGS` into `url`, Irish racing only (a debug build keeps up), against
/// the in-process sandbox when `sandbox`, else against a closed port.
fn tool(dir: &Path, url: &str, schema: Option<&str>, sandbox: bool, args: &[&str]) -> Value {
    let mut cmd = darkhorses(dir);
    cmd.env("DARKHORSES_DATABASE_URL", url)
        .env("DARKHORSES_API_REGIONS", "ire")
        .env("DARKHORSES_API_RATE_LIMIT", "100")
        .env("DARKHORSES_API_PLAN", "pro")
        .args(["--json", "--now", NOW]);
    if let Some(schema) = schema {
        cmd.env("DARKHORSES_DATABASE_SCHEMA", schema);
    }
    if sandbox {
        cmd.arg("--sandbox");
    } else {
        // Nothing listens on port 1: any API call would fail the run.
        cmd.env("DARKHORSES_API_BASE_URL", "http://127.0.0.1:1/v1")
            .env("RACING_API_USERNAME", "u")
            .env("RACING_API_PASSWORD", "p");
    }
    let r = run(cmd.args(args));
    assert_eq!(r.code, 0, "{args:?}\n{}\n{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn sqlite_dump(db: &Path) -> BTreeMap<&'static str, Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    tables()
        .iter()
        .map(|table| {
            let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
            let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
            let mut rows: Vec<String> = stmt
                .query_map([], |row| {
                    let mut cols = Vec::new();
                    for (i, name) in names.iter().enumerate() {
                        if !LEFT_OUT.contains(&name.as_str()) {
                            let v: rusqlite::types::Value = row.get(i)?;
                            cols.push(format!("{name}={v:?}"));
                        }
                    }
                    Ok(cols.join(" | "))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            rows.sort();
            (*table, rows)
        })
        .collect()
}

/// A Postgres schema of its own, dropped at the end.
struct Schema {
    url: String,
    name: String,
    runtime: tokio::runtime::Runtime,
}

impl Schema {
    fn new(url: &str, tag: &str) -> Schema {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let name = format!("rebuild_{tag}_{}", std::process::id());
        let s = Schema { url: url.to_string(), name, runtime };
        s.sql(&format!("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", s.name));
        s
    }

    fn client(&self) -> tokio_postgres::Client {
        self.runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client
        })
    }

    fn sql(&self, sql: &str) {
        let client = self.client();
        self.runtime.block_on(client.batch_execute(sql)).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn dump(&self) -> BTreeMap<&'static str, Vec<String>> {
        let client = self.client();
        let left_out = LEFT_OUT.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
        tables()
            .iter()
            .map(|table| {
                let sql = format!(
                    "SELECT (to_jsonb(t) - ARRAY[{left_out}]::text[])::text FROM {}.{table} t ORDER BY 1",
                    self.name
                );
                let rows = self.runtime.block_on(client.query(&sql, &[])).unwrap_or_else(|e| panic!("{sql}: {e}"));
                (*table, rows.iter().map(|r| r.get::<_, String>(0)).collect())
            })
            .collect()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let client = self.client();
        let _ = self.runtime.block_on(client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)));
    }
}

fn assert_same(what: &str, a: &BTreeMap<&'static str, Vec<String>>, b: &BTreeMap<&'static str, Vec<String>>) {
    for table in tables() {
        let (ra, rb) = (&a[table], &b[table]);
        if let Some((x, y)) = ra.iter().zip(rb).find(|(x, y)| x != y) {
            panic!("{what}: {table} differs:\n  expected: {x}\n  rebuilt:  {y}");
        }
        assert_eq!(ra.len(), rb.len(), "{what}: {table} has {} rows, rebuilt {}", ra.len(), rb.len());
    }
}

fn rows_of(report: &Value, table: &str) -> u64 {
    let c = &report["rows"][table];
    c["inserted"].as_u64().unwrap_or(0) + c["updated"].as_u64().unwrap_or(0)
}

#[test]
fn a_rebuild_in_place_or_into_a_new_sqlite_file_equals_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let (original, copy, fresh) = (dir.path().join("a.db"), dir.path().join("b.db"), dir.path().join("c.db"));
    let url = |p: &Path| format!("sqlite:{}", p.display());
    let mut backfill = vec!["backfill"];
    backfill.extend(&MONTH[..2]);
    backfill.extend(["--to", "2025-09-28"]);
    tool(dir.path(), &url(&original), None, true, &backfill);
    let before = sqlite_dump(&original);
    assert!(before["runners"].len() > 100, "{} runners", before["runners"].len());

    // In place, after the typed tables were emptied (as a normaliser fix would need them redone).
    std::fs::copy(&original, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    for table in DERIVED {
        conn.execute(&format!("DELETE FROM {table}"), []).unwrap();
    }
    drop(conn);
    let report = tool(dir.path(), &url(&copy), None, false, &["rebuild"]);
    assert_eq!(report["api"]["calls"], 0, "{report}");
    assert_eq!(report["rows"]["runners"]["inserted"].as_u64().unwrap() as usize, before["runners"].len(), "{report}");
    assert_same("in place", &before, &sqlite_dump(&copy));

    // A second rebuild in place changes nothing.
    let again = tool(dir.path(), &url(&copy), None, false, &["rebuild"]);
    assert_eq!(again["rows"]["runners"]["inserted"].as_u64().unwrap_or(0), 0, "{again}");
    assert_eq!(again["rows"]["runners"]["updated"].as_u64().unwrap_or(0), 0, "{again}");

    // A dry run into a new file creates nothing.
    let dry = tool(dir.path(), &url(&fresh), None, false, &["rebuild", "--dry-run", "--source", &url(&original)]);
    assert_eq!(dry["dry_run"], true);
    assert!(rows_of(&dry, "runners") > 0, "{dry}");
    assert!(!fresh.exists(), "a dry run created {}", fresh.display());

    // Into a new file: the same rows, raw responses and coverage.
    tool(dir.path(), &url(&fresh), None, false, &["rebuild", "--source", &url(&original)]);
    assert_same("into a new file", &before, &sqlite_dump(&fresh));

    // A range replays only its days.
    let part = dir.path().join("d.db");
    let report = tool(
        dir.path(),
        &url(&part),
        None,
        false,
        &["rebuild", "--source", &url(&original), "--from", "2025-09-20", "--to", "2025-09-21"],
    );
    assert_eq!(report["units_done"], 2 * 2, "two days of racecards and results: {report}");
    // A source that does not exist is named.
    let r = run(darkhorses(dir.path()).env("DARKHORSES_DATABASE_URL", url(&part)).args([
        "rebuild",
        "--source",
        "sqlite:/nowhere/x.db",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("/nowhere/x.db") && r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn pg_rebuild_of_a_sqlite_month_equals_a_direct_postgres_backfill_with_no_api_call() {
    let Some(pg) = std::env::var("DARKHORSES_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("month.db").display());
    let (direct, rebuilt) = (Schema::new(&pg, "direct"), Schema::new(&pg, "rebuilt"));
    let mut backfill = vec!["backfill"];
    backfill.extend(MONTH);

    tool(dir.path(), &sqlite, None, true, &backfill);
    tool(dir.path(), &pg, Some(&direct.name), true, &backfill);
    let started = std::time::Instant::now();
    let report = tool(dir.path(), &pg, Some(&rebuilt.name), false, &["rebuild", "--source", &sqlite]);
    println!(
        "rebuild of a month (IRE) from SQLite into Postgres: {:.1} s (debug build)",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(report["api"]["calls"], 0, "{report}");
    assert_eq!(report["status"], "succeeded", "{report}");

    let (expected, got) = (direct.dump(), rebuilt.dump());
    assert!(expected["runners"].len() > 500, "{} runners", expected["runners"].len());
    assert_same("SQLite rebuilt into Postgres", &expected, &got);
}
