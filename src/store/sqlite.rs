//! The SQLite store: the embedded default. One file, WAL mode, one connection behind a mutex,
//! every blocking call on `spawn_blocking`, every write an upsert that never touches an
//! unchanged row.
//!
//! Writes go row by row through prepared statements (one per table and unit) inside one transaction: SQLite runs
//! in-process, so a prepared statement per row costs about what a multi-row VALUES would, without
//! the bind-variable limit. `database.batch_size` therefore does not apply here.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Statement, TransactionBehavior, params, params_from_iter};

use super::migrations::{self, Applied, Migration};
use super::{
    Backend, Coverage, CoverageStatus, Error, FinishedJobRun, Freshness, HeldLock, JobRun, MigrationState, NewJobRun,
    RaceState, ReferenceData, Result, Store, TableCounts, WriteStats,
};
use crate::config::DatabaseConfig;
use crate::model::{
    Bookmaker, Course, Entities, Horse, Kind, Race, RawResponse, Region, Runner, RunnerOdds, Skipped, Source, Unit,
};

/// The file used when `database.url` is empty.
pub const DEFAULT_PATH: &str = "darkhorses.db";

/// Every contract table, for `table_counts`.
pub const CONTRACT_TABLES: [&str; 18] = [
    "courses",
    "regions",
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
    "api_responses",
    "fetch_coverage",
    "job_runs",
    "alert_state",
    "schema_migrations",
];

/// The bookkeeping table, created before any migration runs.
const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Instants are stored as ISO 8601 UTC text with whole seconds.
const INSTANT_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// The SQLite backend of [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    migrations: &'static [Migration],
}

/// Open (creating it and its directory when missing) the SQLite database `database.url` names,
/// and migrate it when `database.auto_migrate` is true.
pub async fn open(cfg: &DatabaseConfig) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqliteStore::open(cfg).await?))
}

/// The file path of a `database.url`: empty is `darkhorses.db`; `sqlite:PATH` or `sqlite://PATH`
/// is PATH.
pub fn path_of(url: &str) -> Result<PathBuf> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(PathBuf::from(DEFAULT_PATH));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        let scheme = url.split(':').next().unwrap_or_default();
        return Err(Error::Config(format!(
            "database.url has scheme {scheme:?}: use sqlite:PATH (for example sqlite:darkhorses.db) or postgres://user@host/db"
        )));
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() {
        return Ok(PathBuf::from(DEFAULT_PATH));
    }
    Ok(PathBuf::from(path))
}

impl SqliteStore {
    /// Open and configure the connection; migrate when `cfg.auto_migrate`.
    pub async fn open(cfg: &DatabaseConfig) -> Result<Self> {
        let path = path_of(cfg.url.expose())?;
        let timeout = Duration::from_secs(cfg.connection_timeout.max(1));
        let open_path = path.clone();
        let conn = tokio::task::spawn_blocking(move || connect(&open_path, timeout))
            .await
            .map_err(|e| Error::Connect(format!("opening SQLite database {}: {e}", path.display())))??;
        let store = SqliteStore { path, conn: Arc::new(Mutex::new(conn)), migrations: migrations::SQLITE };
        if cfg.auto_migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run a blocking closure on the connection, off the async threads.
    async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| {
                Error::Query(format!(
                    "the connection to SQLite database {} was poisoned by an earlier panic; restart the process",
                    path.display()
                ))
            })?;
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Query(format!("a SQLite task on {} failed: {e}", self.path.display())))?
    }
}

fn connect(path: &Path, timeout: Duration) -> Result<Connection> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::Connect(format!("cannot open SQLite database {}: {e}; check the path in database.url", path.display()))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        std::fs::create_dir_all(parent).map_err(|e| fail(&format!("creating directory {}: {e}", parent.display())))?;
    }
    let conn = Connection::open(path).map_err(|e| fail(&e))?;
    conn.busy_timeout(timeout).map_err(|e| fail(&e))?;
    // journal_mode answers with a row; the others do not.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(|e| fail(&e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(db.path = %path.display(), journal_mode = %mode, "SQLite did not switch to WAL mode");
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;").map_err(|e| fail(&e))?;
    Ok(conn)
}

/// Map a rusqlite error to `Error::Query` saying what was being done.
trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|e| Error::Query(format!("{what}: {e}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Values

fn instant(t: DateTime<Utc>) -> String {
    t.format(INSTANT_FORMAT).to_string()
}

fn v_str(s: &str) -> Value {
    Value::Text(s.to_string())
}
fn v_text(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}
fn v_int(i: Option<i32>) -> Value {
    i.map_or(Value::Null, |i| Value::Integer(i64::from(i)))
}
fn v_real(f: Option<f64>) -> Value {
    f.map_or(Value::Null, Value::Real)
}
fn v_bool(b: Option<bool>) -> Value {
    b.map_or(Value::Null, |b| Value::Integer(i64::from(b)))
}
fn v_instant(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::Text(instant(t)))
}
fn v_date(d: NaiveDate) -> Value {
    Value::Text(d.format("%Y-%m-%d").to_string())
}

fn parse_instant(s: &str, what: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Query(format!("{what} holds {s:?}, not an ISO 8601 instant: {e}")))
}

fn parse_opt_instant(s: Option<String>, what: &str) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_instant(&s, what)).transpose()
}

fn parse_date(s: &str, what: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| Error::Query(format!("{what} holds {s:?}, not a YYYY-MM-DD date: {e}")))
}

// ---------------------------------------------------------------------------------------------
// The upsert: one statement per (table, column set), reused for every row.

/// How a column is written on conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Part of the conflict key.
    Key,
    /// The new value as is (names, owned columns).
    Newest,
    /// `COALESCE(new, old)`: a blank never erases a value (shared columns, enrichment).
    Coalesce,
    /// A timestamp set to the new value only when some other column changed; never compared.
    Touch,
}

type Col = (&'static str, Rule, Value);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Inserted,
    Updated,
    Unchanged,
}

impl Outcome {
    fn count(self, counts: &mut TableCounts) {
        match self {
            Outcome::Inserted => counts.inserted += 1,
            Outcome::Updated => counts.updated += 1,
            Outcome::Unchanged => counts.unchanged += 1,
        }
    }
}

/// The SQL of an upsert that only touches a row when a compared column would change, and the
/// existence check that tells an insert from an update.
fn upsert_sql(table: &str, cols: &[(&str, Rule)], guard: Option<&str>) -> (String, String) {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let keys: Vec<&str> = cols.iter().filter(|c| c.1 == Rule::Key).map(|c| c.0).collect();
    let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let mut sets = Vec::new();
    let mut changes = Vec::new();
    for (name, rule) in cols {
        let expr = match rule {
            Rule::Key => continue,
            Rule::Newest | Rule::Touch => format!("excluded.{name}"),
            Rule::Coalesce => format!("COALESCE(excluded.{name}, {table}.{name})"),
        };
        if *rule != Rule::Touch {
            changes.push(format!("{expr} IS NOT {table}.{name}"));
        }
        sets.push(format!("{name} = {expr}"));
    }
    let conflict = if changes.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let changed = changes.join(" OR ");
        let condition = match guard {
            Some(g) => format!("({g}) AND ({changed})"),
            None => changed,
        };
        format!("DO UPDATE SET {} WHERE {condition}", sets.join(", "))
    };
    let upsert = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) {conflict}",
        names.join(", "),
        placeholders.join(", "),
        keys.join(", ")
    );
    let key_match: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("{k} = ?{}", i + 1)).collect();
    let exists = format!("SELECT 1 FROM {table} WHERE {}", key_match.join(" AND "));
    (upsert, exists)
}

/// Upserts rows of one column set into one table. Keys must come first in the column list.
struct Upserter<'c> {
    table: &'static str,
    names: Vec<&'static str>,
    n_keys: usize,
    exists: Statement<'c>,
    upsert: Statement<'c>,
}

impl<'c> Upserter<'c> {
    fn new(conn: &'c Connection, table: &'static str, spec: &[Col], guard: Option<&str>) -> Result<Self> {
        let cols: Vec<(&str, Rule)> = spec.iter().map(|c| (c.0, c.1)).collect();
        let n_keys = cols.iter().take_while(|c| c.1 == Rule::Key).count();
        let (upsert, exists) = upsert_sql(table, &cols, guard);
        let what = format!("preparing the upsert into {table}");
        Ok(Upserter {
            table,
            names: cols.iter().map(|c| c.0).collect(),
            n_keys,
            exists: conn.prepare(&exists).ctx(&what)?,
            upsert: conn.prepare(&upsert).ctx(&what)?,
        })
    }

    /// Write one row; the raw SQLite error is returned so callers can skip a row on a constraint.
    fn row(&mut self, cols: Vec<Col>) -> rusqlite::Result<Outcome> {
        debug_assert!(cols.iter().map(|c| c.0).eq(self.names.iter().copied()), "column set of {}", self.table);
        let values: Vec<Value> = cols.into_iter().map(|c| c.2).collect();
        let existed = self.exists.exists(params_from_iter(&values[..self.n_keys]))?;
        let changed = self.upsert.execute(params_from_iter(&values))?;
        Ok(match (existed, changed) {
            (false, _) => Outcome::Inserted,
            (true, 0) => Outcome::Unchanged,
            (true, _) => Outcome::Updated,
        })
    }
}

/// Upsert every row of one table (all rows share one column set) and add the counts.
fn upsert_all(
    conn: &Connection,
    table: &'static str,
    rows: Vec<Vec<Col>>,
    guard: Option<&str>,
    stats: &mut WriteStats,
) -> Result<()> {
    let Some(first) = rows.first() else { return Ok(()) };
    let mut up = Upserter::new(conn, table, first, guard)?;
    let mut counts = TableCounts::default();
    for row in rows {
        let key = row.first().map(|c| c.2.clone());
        let outcome = up.row(row).map_err(|e| Error::Query(format!("upserting into {table} (key {key:?}): {e}")))?;
        outcome.count(&mut counts);
    }
    stats.add(table, counts);
    Ok(())
}

fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

// ---------------------------------------------------------------------------------------------
// Rows to columns. Column ownership lives here: a source writes only the columns it provides.

fn course_cols(c: &Course, now: &Value) -> Vec<Col> {
    use Rule::*;
    vec![
        ("id", Key, v_str(&c.id)),
        ("name", Newest, v_str(&c.name)),
        ("region_code", Newest, v_str(&c.region_code)),
        ("region", Newest, v_str(&c.region)),
        ("updated_at", Touch, now.clone()),
    ]
}

fn horse_cols(h: &Horse, now: &Value) -> Vec<Col> {
    use Rule::*;
    vec![
        ("id", Key, v_str(&h.id)),
        ("name", Newest, v_str(&h.name)),
        ("sex_code", Coalesce, v_text(&h.sex_code)),
        ("dob", Coalesce, h.dob.map_or(Value::Null, v_date)),
        ("colour", Coalesce, v_text(&h.colour)),
        ("breeder", Coalesce, v_text(&h.breeder)),
        ("region", Coalesce, v_text(&h.region)),
        ("sire_id", Coalesce, v_text(&h.sire_id)),
        ("dam_id", Coalesce, v_text(&h.dam_id)),
        ("damsire_id", Coalesce, v_text(&h.damsire_id)),
        ("updated_at", Touch, now.clone()),
    ]
}

fn bookmaker_cols(b: &Bookmaker) -> Vec<Col> {
    use Rule::*;
    vec![
        ("code", Key, v_str(&b.code)),
        ("name", Newest, v_str(&b.name)),
        ("kind", Newest, v_str(b.kind.as_str())),
        ("source", Newest, v_str(&b.source)),
    ]
}

/// A bookmaker seen in odds never overwrites a seeded row's name, kind or source.
const BOOKMAKER_GUARD: &str = "NOT (bookmakers.source = 'seed' AND excluded.source = 'odds')";

fn race_cols(r: &Race, now: &Value) -> Vec<Col> {
    use Rule::*;
    let mut c = vec![
        ("id", Key, v_str(&r.id)),
        ("course_id", Coalesce, v_str(&r.course_id)),
        ("course_name", Coalesce, v_str(&r.course_name)),
        ("race_date", Coalesce, v_date(r.race_date)),
        ("off_at", Coalesce, v_instant(r.off_at)),
        ("region", Coalesce, v_str(&r.region)),
        ("race_name", Coalesce, v_text(&r.race_name)),
        ("race_type", Coalesce, v_text(&r.race_type)),
        ("race_class", Coalesce, v_text(&r.race_class)),
        ("pattern", Coalesce, v_text(&r.pattern)),
        ("rating_band", Coalesce, v_text(&r.rating_band)),
        ("age_band", Coalesce, v_text(&r.age_band)),
        ("sex_restriction", Coalesce, v_text(&r.sex_restriction)),
        ("distance", Coalesce, v_text(&r.distance)),
        ("distance_f", Coalesce, v_real(r.distance_f)),
        ("distance_y", Coalesce, v_int(r.distance_y)),
        ("distance_m", Coalesce, v_int(r.distance_m)),
        ("going", Coalesce, v_text(&r.going)),
        ("going_detailed", Coalesce, v_text(&r.going_detailed)),
        ("surface", Coalesce, v_text(&r.surface)),
        ("jumps", Coalesce, v_text(&r.jumps)),
        ("prize_amount", Coalesce, v_real(r.prize_amount)),
        ("prize_currency", Coalesce, v_text(&r.prize_currency)),
        ("field_size", Coalesce, v_int(r.field_size)),
    ];
    match r.source {
        Source::Racecard => c.extend([
            ("big_race", Newest, v_bool(r.big_race)),
            ("is_abandoned", Newest, v_bool(r.is_abandoned)),
            ("stalls", Newest, v_text(&r.stalls)),
            ("weather", Newest, v_text(&r.weather)),
            ("rail_movements", Newest, v_text(&r.rail_movements)),
            ("tip", Newest, v_text(&r.tip)),
            ("verdict", Newest, v_text(&r.verdict)),
            ("betting_forecast", Newest, v_text(&r.betting_forecast)),
            ("racecard_updated_at", Touch, now.clone()),
        ]),
        Source::Result => c.extend([
            ("winning_time_detail", Newest, v_text(&r.winning_time_detail)),
            ("comments", Newest, v_text(&r.comments)),
            ("non_runners", Newest, v_text(&r.non_runners)),
            ("tote_win", Newest, v_text(&r.tote_win)),
            ("tote_pl", Newest, v_text(&r.tote_pl)),
            ("tote_ex", Newest, v_text(&r.tote_ex)),
            ("tote_csf", Newest, v_text(&r.tote_csf)),
            ("tote_tricast", Newest, v_text(&r.tote_tricast)),
            ("tote_trifecta", Newest, v_text(&r.tote_trifecta)),
            ("has_result", Newest, Value::Integer(1)),
            ("result_updated_at", Touch, now.clone()),
        ]),
    }
    c.push(("updated_at", Touch, now.clone()));
    c
}

fn runner_cols(r: &Runner, now: &Value) -> Vec<Col> {
    use Rule::*;
    let mut c = vec![
        ("race_id", Key, v_str(&r.race_id)),
        ("horse_id", Key, v_str(&r.horse_id)),
        ("horse_name", Coalesce, v_str(&r.horse_name)),
        ("number", Coalesce, v_int(r.number)),
        ("draw", Coalesce, v_int(r.draw)),
        ("age", Coalesce, v_int(r.age)),
        ("sex_code", Coalesce, v_text(&r.sex_code)),
        ("jockey_id", Coalesce, v_text(&r.jockey_id)),
        ("jockey_name", Coalesce, v_text(&r.jockey_name)),
        ("jockey_claim_lbs", Coalesce, v_int(r.jockey_claim_lbs)),
        ("trainer_id", Coalesce, v_text(&r.trainer_id)),
        ("trainer_name", Coalesce, v_text(&r.trainer_name)),
        ("owner_id", Coalesce, v_text(&r.owner_id)),
        ("owner_name", Coalesce, v_text(&r.owner_name)),
        ("sire_id", Coalesce, v_text(&r.sire_id)),
        ("dam_id", Coalesce, v_text(&r.dam_id)),
        ("damsire_id", Coalesce, v_text(&r.damsire_id)),
        ("weight_lbs", Coalesce, v_int(r.weight_lbs)),
        ("headgear", Coalesce, v_text(&r.headgear)),
        ("official_rating", Coalesce, v_int(r.official_rating)),
        ("rpr", Coalesce, v_int(r.rpr)),
        ("topspeed", Coalesce, v_int(r.topspeed)),
        ("silk_url", Coalesce, v_text(&r.silk_url)),
    ];
    match r.source {
        Source::Racecard => c.extend([
            ("form", Newest, v_text(&r.form)),
            ("spotlight", Newest, v_text(&r.spotlight)),
            ("card_comment", Newest, v_text(&r.card_comment)),
            ("racecard_updated_at", Touch, now.clone()),
        ]),
        Source::Result => c.extend([
            ("position", Newest, v_text(&r.position)),
            ("finish_position", Newest, v_int(r.finish_position)),
            ("btn", Newest, v_real(r.btn)),
            ("ovr_btn", Newest, v_real(r.ovr_btn)),
            ("sp", Newest, v_text(&r.sp)),
            ("sp_decimal", Newest, v_real(r.sp_decimal)),
            ("prize_amount", Newest, v_real(r.prize_amount)),
            ("prize_currency", Newest, v_text(&r.prize_currency)),
            ("finish_time", Newest, v_text(&r.finish_time)),
            ("finish_time_s", Newest, v_real(r.finish_time_s)),
            ("comment", Newest, v_text(&r.comment)),
            ("result_updated_at", Touch, now.clone()),
        ]),
    }
    c.push(("updated_at", Touch, now.clone()));
    c
}

fn odds_cols(o: &RunnerOdds, fetched_at: &Value) -> Vec<Col> {
    use Rule::*;
    vec![
        ("race_id", Key, v_str(&o.race_id)),
        ("horse_id", Key, v_str(&o.horse_id)),
        ("bookmaker", Key, v_str(&o.bookmaker)),
        ("fractional", Newest, v_text(&o.fractional)),
        ("decimal", Newest, v_real(o.decimal)),
        ("ew_places", Newest, v_int(o.ew_places)),
        ("ew_denom", Newest, v_int(o.ew_denom)),
        ("quoted_at", Newest, v_instant(o.quoted_at)),
        ("fetched_at", Touch, fetched_at.clone()),
    ]
}

/// `body` is the gzip of the exact bytes; `sha256` is of the raw bytes.
fn response_cols(r: &RawResponse) -> Result<Vec<Col>> {
    use Rule::*;
    Ok(vec![
        ("endpoint", Key, v_str(&r.endpoint)),
        ("params", Key, v_str(&r.params)),
        ("fetched_at", Newest, Value::Text(instant(r.fetched_at))),
        ("status", Newest, Value::Integer(i64::from(r.status))),
        ("sha256", Newest, Value::Text(migrations::sha256_hex(&r.body))),
        ("encoding", Newest, v_str("gzip")),
        ("body", Newest, Value::Blob(gzip(&r.body, &r.endpoint)?)),
    ])
}

/// Gzip with a fixed header (no mtime), so the same bytes always compress to the same blob.
pub fn gzip(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    let mut enc =
        flate2::GzBuilder::new().write(Vec::with_capacity(bytes.len() / 4 + 64), flate2::Compression::default());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .map_err(|e| Error::Query(format!("compressing the response of {what}: {e}")))
}

fn entity_rows(conn: &Connection, e: &Entities, now: &Value, stats: &mut WriteStats) -> Result<()> {
    use Rule::*;
    upsert_all(conn, "courses", e.courses.iter().map(|c| course_cols(c, now)).collect(), None, stats)?;
    upsert_all(conn, "horses", e.horses.iter().map(|h| horse_cols(h, now)).collect(), None, stats)?;
    let person =
        |p: &crate::model::Person| -> Vec<Col> { vec![("id", Key, v_str(&p.id)), ("name", Newest, v_str(&p.name))] };
    upsert_all(conn, "jockeys", e.jockeys.iter().map(person).collect(), None, stats)?;
    let trainers = e
        .trainers
        .iter()
        .map(|t| {
            vec![
                ("id", Key, v_str(&t.id)),
                ("name", Newest, v_str(&t.name)),
                ("location", Coalesce, v_text(&t.location)),
            ]
        })
        .collect();
    upsert_all(conn, "trainers", trainers, None, stats)?;
    upsert_all(conn, "owners", e.owners.iter().map(person).collect(), None, stats)?;
    let ancestor = |a: &crate::model::Ancestor| -> Vec<Col> {
        vec![("id", Key, v_str(&a.id)), ("name", Newest, v_str(&a.name)), ("region", Coalesce, v_text(&a.region))]
    };
    upsert_all(conn, "sires", e.sires.iter().map(ancestor).collect(), None, stats)?;
    upsert_all(conn, "dams", e.dams.iter().map(ancestor).collect(), None, stats)?;
    upsert_all(conn, "damsires", e.damsires.iter().map(ancestor).collect(), None, stats)?;
    Ok(())
}

fn response_rows(conn: &Connection, responses: &[RawResponse], stats: &mut WriteStats) -> Result<()> {
    let rows = responses.iter().map(response_cols).collect::<Result<Vec<_>>>()?;
    upsert_all(conn, "api_responses", rows, None, stats)
}

/// The whole of `write_unit`, inside the caller's transaction.
fn write_unit_tx(conn: &Connection, unit: &Unit, now: DateTime<Utc>) -> Result<WriteStats> {
    let mut stats = WriteStats::default();
    let now_v = Value::Text(instant(now));
    // The unit's fetch time: its latest response, so a rerun of the same responses changes nothing.
    let fetched_at = unit.responses.iter().map(|r| r.fetched_at).max().unwrap_or(now);
    let fetched_v = Value::Text(instant(fetched_at));

    entity_rows(conn, &unit.entities, &now_v, &mut stats)?;

    // Races, one statement per source (the column sets differ).
    let mut races_written: HashSet<&str> = HashSet::new();
    for source in [Source::Racecard, Source::Result] {
        let rows: Vec<&Race> = unit.races.iter().filter(|r| r.source == source).collect();
        upsert_all(conn, "races", rows.iter().map(|r| race_cols(r, &now_v)).collect(), None, &mut stats)?;
        races_written.extend(rows.iter().map(|r| r.id.as_str()));
    }

    // Runners: skip (and count) a runner whose race is not in the unit or whose horse is unknown.
    let mut runners_written: HashSet<(&str, &str)> = HashSet::new();
    for source in [Source::Racecard, Source::Result] {
        let mut up: Option<Upserter> = None;
        let mut counts = TableCounts::default();
        for r in unit.runners.iter().filter(|r| r.source == source) {
            let record = format!("runner {}/{}", r.race_id, r.horse_id);
            if !races_written.contains(r.race_id.as_str()) {
                stats.skipped.push(Skipped { record, reason: format!("race {} is not in this unit", r.race_id) });
                continue;
            }
            let cols = runner_cols(r, &now_v);
            let up = match &mut up {
                Some(up) => up,
                None => up.insert(Upserter::new(conn, "runners", &cols, None)?),
            };
            match up.row(cols) {
                Ok(outcome) => {
                    outcome.count(&mut counts);
                    runners_written.insert((r.race_id.as_str(), r.horse_id.as_str()));
                }
                Err(e) if is_foreign_key_violation(&e) => stats
                    .skipped
                    .push(Skipped { record, reason: format!("horse {} is not in the horses table", r.horse_id) }),
                Err(e) => return Err(Error::Query(format!("upserting into runners ({record}): {e}"))),
            }
        }
        if up.is_some() {
            stats.add("runners", counts);
        }
    }

    // Odds: only for runners written by this unit.
    let mut odds_rows = Vec::new();
    for o in &unit.odds {
        if runners_written.contains(&(o.race_id.as_str(), o.horse_id.as_str())) {
            odds_rows.push(odds_cols(o, &fetched_v));
        } else {
            stats.skipped.push(Skipped {
                record: format!("odds {}/{}/{}", o.race_id, o.horse_id, o.bookmaker),
                reason: format!("runner {}/{} was not written by this unit", o.race_id, o.horse_id),
            });
        }
    }
    upsert_all(conn, "runner_odds", odds_rows, None, &mut stats)?;

    upsert_all(
        conn,
        "bookmakers",
        unit.bookmakers.iter().map(bookmaker_cols).collect(),
        Some(BOOKMAKER_GUARD),
        &mut stats,
    )?;
    response_rows(conn, &unit.responses, &mut stats)?;

    let status = if races_written.is_empty() { CoverageStatus::Empty } else { CoverageStatus::Complete };
    let coverage = vec![
        ("kind", Rule::Key, v_str(unit.kind.as_str())),
        ("race_date", Rule::Key, v_date(unit.race_date)),
        ("status", Rule::Newest, v_str(coverage_status_str(status))),
        ("races", Rule::Newest, Value::Integer(races_written.len() as i64)),
        ("runners", Rule::Newest, Value::Integer(runners_written.len() as i64)),
        ("pages", Rule::Newest, Value::Integer(i64::from(unit.pages))),
        ("api_calls", Rule::Newest, Value::Integer(i64::from(unit.api_calls))),
        ("fetched_at", Rule::Newest, fetched_v.clone()),
        ("error", Rule::Newest, Value::Null),
    ];
    upsert_all(conn, "fetch_coverage", vec![coverage], None, &mut stats)?;
    Ok(stats)
}

fn coverage_status_str(s: CoverageStatus) -> &'static str {
    match s {
        CoverageStatus::Complete => "complete",
        CoverageStatus::Empty => "empty",
        CoverageStatus::Failed => "failed",
    }
}

/// Run `f` in one IMMEDIATE transaction; commit, or roll back when `dry_run`.
fn in_transaction<T>(
    conn: &mut Connection,
    dry_run: bool,
    what: &str,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&format!("starting {what}"))?;
    let out = f(&tx)?;
    if dry_run {
        tx.rollback().ctx(&format!("rolling back the dry run of {what}"))?;
    } else {
        tx.commit().ctx(&format!("committing {what}"))?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Migrations

fn read_applied(conn: &Connection) -> Result<Vec<Applied>> {
    let what = "reading schema_migrations";
    let present: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
            [],
            |r| r.get(0),
        )
        .ctx(what)?;
    if !present {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version").ctx(what)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })
        .ctx(what)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx(what)?;
    rows.into_iter()
        .map(|(version, name, checksum, applied_at)| {
            Ok(Applied {
                version,
                name,
                checksum,
                applied_at: parse_instant(&applied_at, "schema_migrations.applied_at")?,
            })
        })
        .collect()
}

fn migrate_blocking(conn: &mut Connection, list: &[Migration]) -> Result<Vec<MigrationState>> {
    conn.execute_batch(BOOTSTRAP).ctx("creating schema_migrations")?;
    migrations::status("sqlite", list, &read_applied(conn)?)?;
    let mut applied = Vec::new();
    for m in list {
        let file = m.file_stem();
        let checksum = m.checksum();
        // BEGIN IMMEDIATE takes the write lock (waiting up to busy_timeout), so a second process
        // migrating at the same time waits here and then sees the version applied.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&format!("locking the database to apply sql/sqlite/{file}.sql"))?;
        let recorded: Option<String> = tx
            .query_row("SELECT checksum FROM schema_migrations WHERE version = ?1", [m.version], |r| r.get(0))
            .optional()
            .ctx("reading schema_migrations")?;
        if let Some(recorded) = recorded {
            if recorded != checksum {
                return Err(Error::Migration(format!(
                    "migration sql/sqlite/{file}.sql was edited after it was applied (database checksum {}, file \
                     checksum {}): never edit an applied migration; restore the file and add a new numbered migration",
                    migrations::short(&recorded),
                    migrations::short(&checksum)
                )));
            }
            continue;
        }
        tx.execute_batch(m.sql).map_err(|e| {
            Error::Migration(format!("applying sql/sqlite/{file}.sql failed, nothing of it was kept: {e}"))
        })?;
        let now = Utc::now();
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            params![m.version, m.name, checksum, instant(now)],
        )
        .ctx("recording the migration in schema_migrations")?;
        tx.commit().ctx(&format!("committing sql/sqlite/{file}.sql"))?;
        tracing::info!(migration = %file, checksum = %migrations::short(&checksum), "applied migration");
        applied.push(MigrationState {
            version: m.version,
            name: m.name.to_string(),
            checksum,
            applied_at: parse_instant(&instant(now), "applied_at").ok(),
        });
    }
    Ok(applied)
}

// ---------------------------------------------------------------------------------------------
// Reads

fn job_run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRunRow> {
    Ok(JobRunRow {
        id: r.get(0)?,
        job: r.get(1)?,
        slot: r.get(2)?,
        trigger: r.get(3)?,
        status: r.get(4)?,
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
        host: r.get(7)?,
        pid: r.get(8)?,
        dry_run: r.get(9)?,
        api_calls: r.get(10)?,
        api_errors: r.get(11)?,
        rows_written: r.get(12)?,
        error: r.get(13)?,
    })
}

/// A `job_runs` row with its instants still as text.
struct JobRunRow {
    id: i64,
    job: String,
    slot: Option<String>,
    trigger: String,
    status: String,
    started_at: String,
    finished_at: Option<String>,
    host: Option<String>,
    pid: Option<i64>,
    dry_run: bool,
    api_calls: i64,
    api_errors: i64,
    rows_written: i64,
    error: Option<String>,
}

impl JobRunRow {
    fn parse(self) -> Result<JobRun> {
        Ok(JobRun {
            id: self.id,
            job: self.job,
            slot: parse_opt_instant(self.slot, "job_runs.slot")?,
            trigger: self.trigger,
            status: self.status,
            started_at: parse_instant(&self.started_at, "job_runs.started_at")?,
            finished_at: parse_opt_instant(self.finished_at, "job_runs.finished_at")?,
            host: self.host,
            pid: self.pid,
            dry_run: self.dry_run,
            api_calls: self.api_calls,
            api_errors: self.api_errors,
            rows_written: self.rows_written,
            error: self.error,
        })
    }
}

/// What `try_job_lock` returns on SQLite: nothing to hold, the job's file lock covers it.
#[derive(Debug)]
struct NoLock;

impl HeldLock for NoLock {}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn migrate(&self) -> Result<Vec<MigrationState>> {
        let list = self.migrations;
        self.call(move |conn| migrate_blocking(conn, list)).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationState>> {
        let list = self.migrations;
        self.call(move |conn| migrations::status("sqlite", list, &read_applied(conn)?)).await
    }

    async fn write_unit(&self, unit: &Unit, dry_run: bool) -> Result<WriteStats> {
        let unit = unit.clone();
        self.call(move |conn| {
            let what = format!("the {} unit of {}", unit.kind, unit.race_date);
            in_transaction(conn, dry_run, &what, |tx| write_unit_tx(tx, &unit, Utc::now()))
                .map_err(|e| Error::Query(format!("writing {what}: {e}")))
        })
        .await
    }

    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()> {
        let error = error.to_string();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO fetch_coverage (kind, race_date, status, races, runners, pages, api_calls, fetched_at, error)
                 VALUES (?1, ?2, 'failed', 0, 0, 0, ?3, ?4, ?5)
                 ON CONFLICT (kind, race_date) DO UPDATE SET
                     status = 'failed', api_calls = excluded.api_calls, fetched_at = excluded.fetched_at, error = excluded.error
                 WHERE fetch_coverage.status <> 'complete'",
                params![kind.as_str(), race_date.format("%Y-%m-%d").to_string(), i64::from(api_calls), instant(Utc::now()), error],
            )
            .ctx(&format!("marking the {kind} unit of {race_date} failed in fetch_coverage"))?;
            Ok(())
        })
        .await
    }

    async fn write_reference(&self, data: &ReferenceData, dry_run: bool) -> Result<WriteStats> {
        let data = data.clone();
        self.call(move |conn| {
            in_transaction(conn, dry_run, "reference data", |tx| {
                let mut stats = WriteStats::default();
                let now = Value::Text(instant(Utc::now()));
                upsert_all(
                    tx,
                    "courses",
                    data.courses.iter().map(|c| course_cols(c, &now)).collect(),
                    None,
                    &mut stats,
                )?;
                let regions = data.regions.iter().map(|r: &Region| -> Vec<Col> {
                    vec![("code", Rule::Key, v_str(&r.code)), ("name", Rule::Newest, v_str(&r.name))]
                });
                upsert_all(tx, "regions", regions.collect(), None, &mut stats)?;
                let bookmakers = data.bookmakers.iter().map(bookmaker_cols).collect();
                upsert_all(tx, "bookmakers", bookmakers, Some(BOOKMAKER_GUARD), &mut stats)?;
                response_rows(tx, &data.responses, &mut stats)?;
                Ok(stats)
            })
        })
        .await
    }

    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse], dry_run: bool) -> Result<WriteStats> {
        let horses = horses.to_vec();
        let responses = responses.to_vec();
        self.call(move |conn| {
            in_transaction(conn, dry_run, "horse profiles", |tx| {
                let mut stats = WriteStats::default();
                let now = Value::Text(instant(Utc::now()));
                upsert_all(tx, "horses", horses.iter().map(|h| horse_cols(h, &now)).collect(), None, &mut stats)?;
                response_rows(tx, &responses, &mut stats)?;
                Ok(stats)
            })
        })
        .await
    }

    async fn coverage(&self, kind: Kind, from: NaiveDate, to: NaiveDate) -> Result<Vec<Coverage>> {
        self.call(move |conn| {
            let what = "reading fetch_coverage";
            let mut stmt = conn
                .prepare(
                    "SELECT race_date, status, races, runners, pages, api_calls, fetched_at, error FROM fetch_coverage
                     WHERE kind = ?1 AND race_date BETWEEN ?2 AND ?3 ORDER BY race_date",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map(
                    params![kind.as_str(), from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, Option<String>>(7)?,
                        ))
                    },
                )
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(date, status, races, runners, pages, api_calls, fetched_at, error)| {
                    let status = match status.as_str() {
                        "complete" => CoverageStatus::Complete,
                        "empty" => CoverageStatus::Empty,
                        "failed" => CoverageStatus::Failed,
                        other => {
                            return Err(Error::Query(format!(
                                "fetch_coverage.status holds {other:?} for {kind} {date}; expected complete, empty or failed"
                            )));
                        }
                    };
                    Ok(Coverage {
                        kind,
                        race_date: parse_date(&date, "fetch_coverage.race_date")?,
                        status,
                        races,
                        runners,
                        pages,
                        api_calls,
                        fetched_at: parse_instant(&fetched_at, "fetch_coverage.fetched_at")?,
                        error,
                    })
                })
                .collect()
        })
        .await
    }

    async fn races_on(&self, date: NaiveDate) -> Result<Vec<RaceState>> {
        self.call(move |conn| {
            let what = format!("reading the races of {date}");
            let mut stmt = conn
                .prepare(
                    "SELECT id, off_at, has_result, COALESCE(is_abandoned, 0) FROM races
                     WHERE race_date = ?1 ORDER BY off_at, id",
                )
                .ctx(&what)?;
            let rows = stmt
                .query_map([date.format("%Y-%m-%d").to_string()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, bool>(3)?,
                    ))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter()
                .map(|(id, off_at, has_result, is_abandoned)| {
                    Ok(RaceState { id, off_at: parse_opt_instant(off_at, "races.off_at")?, has_result, is_abandoned })
                })
                .collect()
        })
        .await
    }

    async fn horses_needing_enrichment(&self, limit: u32) -> Result<Vec<String>> {
        self.call(move |conn| {
            let what = "reading horses needing enrichment";
            let mut stmt = conn
                .prepare(
                    "SELECT h.id FROM horses h
                     WHERE (h.dob IS NULL OR h.colour IS NULL OR h.breeder IS NULL)
                       AND EXISTS (SELECT 1 FROM runners r WHERE r.horse_id = h.id)
                     ORDER BY h.id LIMIT ?1",
                )
                .ctx(what)?;
            let ids = stmt
                .query_map([i64::from(limit)], |r| r.get::<_, String>(0))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            Ok(ids)
        })
        .await
    }

    async fn start_job_run(&self, run: &NewJobRun) -> Result<i64> {
        let run = run.clone();
        self.call(move |conn| {
            let slot = run.slot.map(instant);
            let res = conn.execute(
                "INSERT INTO job_runs (job, slot, trigger, status, started_at, host, pid, dry_run)
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
                params![
                    run.job,
                    slot,
                    run.trigger.as_str(),
                    instant(run.started_at),
                    run.host,
                    i64::from(run.pid),
                    run.dry_run
                ],
            );
            match res {
                Ok(_) => Ok(conn.last_insert_rowid()),
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                {
                    Err(Error::Query(format!(
                        "job_runs already has a run of {} for slot {}: each (job, slot) runs once",
                        run.job,
                        slot.as_deref().unwrap_or("(none)")
                    )))
                }
                Err(e) => Err(Error::Query(format!("recording the start of job {} in job_runs: {e}", run.job))),
            }
        })
        .await
    }

    async fn finish_job_run(&self, id: i64, run: &FinishedJobRun) -> Result<()> {
        let run = run.clone();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE job_runs SET status = ?2, finished_at = ?3, api_calls = ?4, api_errors = ?5,
                         rows_written = ?6, error = ?7, summary = ?8
                     WHERE id = ?1",
                    params![
                        id,
                        run.status.as_str(),
                        instant(run.finished_at),
                        run.api_calls,
                        run.api_errors,
                        run.rows_written,
                        run.error,
                        run.summary.to_string()
                    ],
                )
                .ctx(&format!("recording the end of job run {id} in job_runs"))?;
            if changed == 0 {
                return Err(Error::Query(format!("job_runs has no run with id {id} to finish")));
            }
            Ok(())
        })
        .await
    }

    async fn latest_job_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>> {
        let job = job.map(str::to_string);
        self.call(move |conn| {
            let what = "reading job_runs";
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                            api_calls, api_errors, rows_written, error
                     FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY job ORDER BY started_at DESC, id DESC) AS n
                           FROM job_runs WHERE ?1 IS NULL OR job = ?1)
                     WHERE n <= ?2 ORDER BY started_at DESC, id DESC",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map(params![job, i64::from(limit)], job_run_from_row)
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            rows.into_iter().map(JobRunRow::parse).collect()
        })
        .await
    }

    async fn table_counts(&self) -> Result<BTreeMap<String, i64>> {
        self.call(|conn| {
            let mut counts = BTreeMap::new();
            for table in CONTRACT_TABLES {
                let n: i64 = conn
                    .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                    .ctx(&format!("counting the rows of {table} (run `darkhorses db migrate` if it is missing)"))?;
                counts.insert(table.to_string(), n);
            }
            Ok(counts)
        })
        .await
    }

    async fn freshness(&self) -> Result<Freshness> {
        self.call(|conn| {
            let (card, result, latest, latest_result): (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = conn
                .query_row(
                    "SELECT MAX(racecard_updated_at), MAX(result_updated_at), MAX(race_date),
                            MAX(CASE WHEN has_result = 1 THEN race_date END)
                     FROM races",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .ctx("reading freshness from races")?;
            Ok(Freshness {
                latest_racecard_write: parse_opt_instant(card, "races.racecard_updated_at")?,
                latest_result_write: parse_opt_instant(result, "races.result_updated_at")?,
                latest_race_date: latest.map(|d| parse_date(&d, "races.race_date")).transpose()?,
                latest_result_race_date: latest_result.map(|d| parse_date(&d, "races.race_date")).transpose()?,
            })
        })
        .await
    }

    async fn try_job_lock(&self, _job: &str) -> Result<Option<Box<dyn HeldLock>>> {
        Ok(Some(Box::new(NoLock)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_paths() {
        assert_eq!(path_of("").unwrap(), PathBuf::from("darkhorses.db"));
        assert_eq!(path_of("sqlite:data/x.db").unwrap(), PathBuf::from("data/x.db"));
        assert_eq!(path_of("sqlite:///tmp/x.db").unwrap(), PathBuf::from("/tmp/x.db"));
        assert_eq!(path_of("sqlite:").unwrap(), PathBuf::from("darkhorses.db"));
        let err = path_of("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(err.contains("\"mysql\"") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn upsert_sql_compares_all_but_touched_columns() {
        let (upsert, exists) = upsert_sql(
            "horses",
            &[("id", Rule::Key), ("name", Rule::Newest), ("dob", Rule::Coalesce), ("updated_at", Rule::Touch)],
            None,
        );
        assert_eq!(
            upsert,
            "INSERT INTO horses (id, name, dob, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, dob = COALESCE(excluded.dob, horses.dob), updated_at = excluded.updated_at \
             WHERE excluded.name IS NOT horses.name OR COALESCE(excluded.dob, horses.dob) IS NOT horses.dob"
        );
        assert_eq!(exists, "SELECT 1 FROM horses WHERE id = ?1");
    }

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        use std::io::Read;
        let a = gzip(b"{\"racecards\": []}", "t").unwrap();
        assert_eq!(a, gzip(b"{\"racecards\": []}", "t").unwrap());
        let mut out = String::new();
        flate2::read::GzDecoder::new(&a[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "{\"racecards\": []}");
    }
}
