//! The SQLite store: the embedded default. One file, WAL mode, one connection behind a mutex,
//! every blocking call on `spawn_blocking`, every write an upsert that never touches an
//! unchanged row.
//!
//! Another process may hold the write lock (a second writer, a backup, a `sqlite3` shell): every
//! write waits for it up to `database.busy_timeout`, logging while it waits, and then fails with
//! `Error::Busy` naming the file; reads never wait (WAL). Opening an up-to-date database only reads.
//!
//! A dry run (`Store::begin_dry_run`) keeps its writes in a connection of its own, in one open
//! transaction rolled back at its end, so other writes through the same store (the run's
//! `job_runs` row, another job of the orchestrator) commit as usual: they wait for the session's
//! write lock as for any other writer's, never vanish in its rollback. An in-memory database (a dry
//! run against a file that does not exist yet) cannot be opened twice, and is thrown away whole:
//! its session stays on its one connection.
//!
//! Writes go row by row through prepared statements (one per table and unit) inside one transaction: SQLite runs
//! in-process, so a prepared statement per row costs about what a multi-row VALUES would, without
//! the bind-variable limit. `database.batch_size` therefore does not apply here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::migrations::{self, Applied, Migration};
use super::quality;
use super::{
    AlertState, Backend, Coverage, CoverageStatus, DayCalls, Error, FinishedJobRun, Freshness, HeldLock, JobRun,
    MigrationState, NewJobRun, RaceState, ReferenceData, Result, ResultDelay, RunRecord, Store, WriteStats,
};
use crate::config::DatabaseConfig;

mod upsert;
mod write;
use crate::model::{Horse, Kind, RawResponse, Unit};
use write::*;

/// The file used when `database.url` is empty.
pub const DEFAULT_PATH: &str = "darkhorses.db";

/// The bookkeeping table, created before any migration runs.
const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// When a write waiting for another process's lock is first logged, and how often after that.
const BUSY_FIRST_LOG: Duration = Duration::from_secs(1);
const BUSY_LOG_EVERY: Duration = Duration::from_secs(5);
/// Pauses between attempts at a held lock, as SQLite's own busy handler spaces them (ms).
const BUSY_PAUSES_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// The SQLite backend of [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    /// `sqlite:<canonical path>`: what a job lock on this database is named after.
    scope: String,
    busy_timeout: Duration,
    /// How long opening a connection may wait for another process switching a new file to WAL.
    connect_timeout: Duration,
    conn: Arc<Mutex<Connection>>,
    /// The dry-run session's own connection, in an open transaction (`Store::begin_dry_run`).
    dry_session: Mutex<Option<Arc<Mutex<Connection>>>>,
    /// An in-memory database: its dry-run session stays on `conn` (see the module comment).
    in_memory: bool,
    migrations: &'static [Migration],
}

/// Open (creating the file, not its directory, when missing) the SQLite database `database.url`
/// names, and migrate it when `database.auto_migrate` is true.
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
        let busy_timeout = Duration::from_secs(cfg.busy_timeout);
        let open_path = path.clone();
        let conn = tokio::task::spawn_blocking(move || connect(&open_path, timeout, busy_timeout))
            .await
            .map_err(|e| Error::Connect(format!("opening SQLite database {}: {e}", path.display())))??;
        // The file exists now (the connection created it), so its canonical path names it however
        // database.url spelled it (relative, through a symlink).
        let canonical = std::fs::canonicalize(&path)
            .or_else(|_| std::env::current_dir().map(|cwd| cwd.join(&path)))
            .unwrap_or_else(|_| path.clone());
        let scope = format!("sqlite:{}", canonical.display());
        let store = SqliteStore {
            path,
            scope,
            busy_timeout,
            connect_timeout: timeout,
            conn: Arc::new(Mutex::new(conn)),
            dry_session: Mutex::new(None),
            in_memory: false,
            migrations: migrations::SQLITE,
        };
        if cfg.auto_migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// An empty database in memory, migrated, standing in for the file `database.url` names
    /// (which does not exist yet) in a dry run: the lock and messages still name that file.
    pub async fn open_in_memory(cfg: &DatabaseConfig) -> Result<Self> {
        let path = path_of(cfg.url.expose())?;
        let conn = Connection::open_in_memory()
            .and_then(|c| c.execute_batch("PRAGMA foreign_keys = ON;").map(|()| c))
            .map_err(|e| Error::Connect(format!("opening an in-memory SQLite database: {e}")))?;
        let absolute = std::env::current_dir().map(|cwd| cwd.join(&path)).unwrap_or_else(|_| path.clone());
        let store = SqliteStore {
            scope: format!("sqlite:{}", absolute.display()),
            path,
            busy_timeout: Duration::from_secs(cfg.busy_timeout),
            connect_timeout: Duration::from_secs(cfg.connection_timeout.max(1)),
            conn: Arc::new(Mutex::new(conn)),
            dry_session: Mutex::new(None),
            in_memory: true,
            migrations: migrations::SQLITE,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run a blocking closure on the connection, off the async threads, in the caller's span (so
    /// the lock-wait lines carry the job and run). A write that gave up waiting for another
    /// process's lock comes back as `Error::Busy` saying which file and which key.
    async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        self.call_on(Arc::clone(&self.conn), f).await
    }

    /// [`Self::call`] for a write: a dry-run write goes to the dry-run session's connection when
    /// one is open, every other write to the shared one.
    async fn call_writer<T, F>(&self, dry_run: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let session = if dry_run { self.dry_slot()?.clone() } else { None };
        self.call_on(session.unwrap_or_else(|| Arc::clone(&self.conn)), f).await
    }

    /// The dry-run session's slot (locked only to look or swap, never across a query).
    fn dry_slot(&self) -> Result<std::sync::MutexGuard<'_, Option<Arc<Mutex<Connection>>>>> {
        self.dry_session.lock().map_err(|_| {
            Error::Query(format!(
                "the dry-run session of SQLite database {} was poisoned by a panic",
                self.path.display()
            ))
        })
    }

    async fn call_on<T, F>(&self, conn: Arc<Mutex<Connection>>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let path = self.path.clone();
        let span = tracing::Span::current();
        let outcome = tokio::task::spawn_blocking(move || {
            let _in_span = span.enter();
            let mut guard = conn.lock().map_err(|_| {
                Error::Query(format!(
                    "the connection to SQLite database {} was poisoned by an earlier panic; restart the process",
                    path.display()
                ))
            })?;
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Query(format!("a SQLite task on {} failed: {e}", self.path.display())))?;
        outcome.map_err(|e| match e {
            Error::Busy(what) => Error::Busy(format!(
                "{what}: another process held the write lock on SQLite database {} for more than {}s \
                 (database.busy_timeout); nothing of this write was kept. Raise database.busy_timeout \
                 (DARKHORSES_DATABASE_BUSY_TIMEOUT) or find the other writer",
                self.path.display(),
                self.busy_timeout.as_secs()
            )),
            other => other,
        })
    }
}

/// The busy handler of a connection: while another process holds the lock a statement needs,
/// wait (as SQLite's own handler would) up to `timeout`, saying so in the log after a second and
/// every few seconds after, rather than hang in silence; then give up (the statement fails BUSY).
fn busy_handler(path: PathBuf, timeout: Duration) -> impl FnMut(i32) -> bool + Send + 'static {
    let mut started = Instant::now();
    let mut next_log = BUSY_FIRST_LOG;
    move |count| {
        if count == 0 {
            started = Instant::now();
            next_log = BUSY_FIRST_LOG;
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return false;
        }
        if waited >= next_log {
            tracing::warn!(
                db.path = %path.display(),
                waited_s = waited.as_secs(),
                busy_timeout_s = timeout.as_secs(),
                "waiting for the SQLite write lock on {} held by another process, {}s so far (gives up after {}s, database.busy_timeout)",
                path.display(),
                waited.as_secs(),
                timeout.as_secs()
            );
            next_log = waited + BUSY_LOG_EVERY;
        }
        let pause = BUSY_PAUSES_MS[usize::try_from(count).unwrap_or(0).min(BUSY_PAUSES_MS.len() - 1)];
        std::thread::sleep(Duration::from_millis(pause).min(timeout - waited));
        true
    }
}

fn connect(path: &Path, timeout: Duration, busy_timeout: Duration) -> Result<Connection> {
    let fail = |e: &dyn std::fmt::Display| {
        Error::Connect(format!("cannot open SQLite database {}: {e}; check the path in database.url", path.display()))
    };
    // A missing directory is most likely a typo in the path: creating it would quietly start a
    // fresh, empty database somewhere nobody looks.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Error::Connect(format!(
            "cannot open SQLite database {}: directory {} does not exist; check the path in database.url, or \
             create the directory first (mkdir -p {})",
            path.display(),
            parent.display(),
            parent.display()
        )));
    }
    let mut conn = Connection::open(path).map_err(|e| fail(&e))?;
    conn.busy_handler(Some(busy_handler(path.to_path_buf(), busy_timeout))).map_err(|e| fail(&e))?;
    // journal_mode answers with a row; the others do not. Switching a new file to WAL needs an
    // exclusive lock, and SQLite answers BUSY at once (without the busy handler) while another
    // process opening the same new file holds a shared one: retry within the connection timeout.
    let started = std::time::Instant::now();
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Ok(mode) => break mode,
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy && started.elapsed() < timeout =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(fail(&e)),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(db.path = %path.display(), journal_mode = %mode, "SQLite did not switch to WAL mode");
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;").map_err(|e| fail(&e))?;
    Ok(conn)
}

/// Map a rusqlite error to `Error::Query` saying what was being done.
pub(super) trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|e| sql_error(e, what))
    }
}

/// A rusqlite error as ours: `Busy` when another process's lock outlasted the busy timeout (the
/// caller adds the file and the key), `Query` otherwise.
pub(super) fn sql_error(e: rusqlite::Error, what: &str) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
            Error::Busy(format!("{what}: {e}"))
        }
        _ => Error::Query(format!("{what}: {e}")),
    }
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
    // A read first: a database with nothing pending is left alone without taking the write lock,
    // so a run can start while another process writes (it waits only when it writes itself).
    if migrations::pending("sqlite", list, &read_applied(conn)?)?.is_empty() {
        return Ok(Vec::new());
    }
    conn.execute_batch(BOOTSTRAP).ctx("creating schema_migrations")?;
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
            migrations::check("sqlite", m, &recorded)?;
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
        // A note speaks of rows stored before the file: a database created in this call has none.
        if let Some(note) = m.note().filter(|_| applied.first().is_none_or(|a: &MigrationState| a.version != 1)) {
            tracing::info!(migration = %file, "note on {file}: {note}");
        }
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

    fn lock_scope(&self) -> String {
        self.scope.clone()
    }

    fn api_budget(&self) -> Result<Option<Arc<dyn crate::api::shared_budget::Ledger>>> {
        // The in-memory stand-in of a dry run: the file does not exist, and nothing is created.
        if !self.path.exists() {
            return Ok(None);
        }
        let path = crate::api::shared_budget::FileLedger::path_for(&self.path);
        let ledger = crate::api::shared_budget::FileLedger::open(&path).map_err(Error::Config)?;
        Ok(Some(Arc::new(ledger)))
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
        self.call_writer(dry_run, move |conn| {
            let what = format!("the {} unit of {}", unit.kind, unit.race_date);
            in_transaction(conn, dry_run, &what, |tx| write_unit_tx(tx, &unit, Utc::now())).map_err(|e| match e {
                Error::Busy(m) => Error::Busy(format!("writing {what}: {m}")),
                other => Error::Query(format!("writing {what}: {other}")),
            })
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
        self.call_writer(dry_run, move |conn| {
            in_transaction(conn, dry_run, "reference data", |tx| write_reference_tx(tx, &data))
        })
        .await
    }

    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse], dry_run: bool) -> Result<WriteStats> {
        let horses = horses.to_vec();
        let responses = responses.to_vec();
        self.call_writer(dry_run, move |conn| {
            in_transaction(conn, dry_run, "horse profiles", |tx| write_horses_tx(tx, &horses, &responses))
        })
        .await
    }

    async fn coverage(&self, kind: Kind, from: NaiveDate, to: NaiveDate) -> Result<Vec<Coverage>> {
        self.call(move |conn| {
            let what = "reading fetch_coverage";
            let mut stmt = conn
                .prepare(
                    "SELECT race_date, status, races, runners, pages, api_calls, fetched_at, error, regions, day_over
                     FROM fetch_coverage WHERE kind = ?1 AND race_date BETWEEN ?2 AND ?3 ORDER BY race_date",
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
                            r.get::<_, Option<String>>(8)?,
                            r.get::<_, bool>(9)?,
                        ))
                    },
                )
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(date, status, races, runners, pages, api_calls, fetched_at, error, regions, day_over)| {
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
                        regions: super::parse_regions(regions.as_deref()),
                        day_over,
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
                Err(e) => Err(sql_error(e, &format!("recording the start of job {} in job_runs", run.job))),
            }
        })
        .await
    }

    async fn claim_slot(&self, run: &NewJobRun, covered: &[DateTime<Utc>], reason: &str) -> Result<Option<i64>> {
        let (run, covered, reason) = (run.clone(), covered.to_vec(), reason.to_string());
        self.call(move |conn| {
            let what = format!("claiming a slot of {} in job_runs", run.job);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&what)?;
            let changed = tx
                .execute(
                    "INSERT INTO job_runs (job, slot, trigger, status, started_at, host, pid, dry_run)
                     VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)
                     ON CONFLICT (job, slot) DO NOTHING",
                    params![
                        run.job,
                        run.slot.map(instant),
                        run.trigger.as_str(),
                        instant(run.started_at),
                        run.host,
                        i64::from(run.pid),
                        run.dry_run
                    ],
                )
                .ctx(&what)?;
            if changed == 0 {
                return Ok(None);
            }
            let id = tx.last_insert_rowid();
            for slot in covered {
                tx.execute(
                    "INSERT INTO job_runs (job, slot, trigger, status, started_at, finished_at, host, pid, error)
                     VALUES (?1, ?2, 'schedule', 'skipped', ?3, ?3, ?4, ?5, ?6)
                     ON CONFLICT (job, slot) DO NOTHING",
                    params![run.job, instant(slot), instant(run.started_at), run.host, i64::from(run.pid), reason],
                )
                .ctx(&what)?;
            }
            tx.commit().ctx(&what)?;
            Ok(Some(id))
        })
        .await
    }

    async fn skip_slot(&self, job: &str, slot: DateTime<Utc>, at: DateTime<Utc>, reason: &str) -> Result<bool> {
        let (job, reason) = (job.to_string(), reason.to_string());
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "INSERT INTO job_runs (job, slot, trigger, status, started_at, finished_at, host, pid, error)
                     VALUES (?1, ?2, 'schedule', 'skipped', ?3, ?3, ?4, ?5, ?6)
                     ON CONFLICT (job, slot) DO NOTHING",
                    params![
                        job,
                        instant(slot),
                        instant(at),
                        crate::lock::hostname(),
                        i64::from(std::process::id()),
                        reason
                    ],
                )
                .ctx(&format!("recording a skipped slot of {job} in job_runs"))?;
            Ok(changed > 0)
        })
        .await
    }

    async fn last_slot(&self, job: &str) -> Result<Option<DateTime<Utc>>> {
        let job = job.to_string();
        self.call(move |conn| {
            // Stored as fixed-width UTC text, so the text order is the time order.
            let slot: Option<String> = conn
                .query_row("SELECT MAX(slot) FROM job_runs WHERE job = ?1", [&job], |r| r.get(0))
                .ctx(&format!("reading the last slot of {job} in job_runs"))?;
            parse_opt_instant(slot, "job_runs.slot")
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

    async fn running_job_runs(&self, job: &str) -> Result<Vec<JobRun>> {
        let job = job.to_string();
        self.call(move |conn| {
            let what = format!("reading the running rows of job {job} in job_runs");
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                            api_calls, api_errors, rows_written, error
                     FROM job_runs WHERE job = ?1 AND status = 'running' ORDER BY started_at, id",
                )
                .ctx(&what)?;
            let rows = stmt
                .query_map([&job], job_run_from_row)
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter().map(JobRunRow::parse).collect()
        })
        .await
    }

    async fn fail_dead_job_run(&self, id: i64, finished_at: DateTime<Utc>, error: &str) -> Result<bool> {
        let error = error.to_string();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE job_runs SET status = 'failed', finished_at = ?2, error = ?3
                     WHERE id = ?1 AND status = 'running'",
                    params![id, instant(finished_at), error],
                )
                .ctx(&format!("marking the dead job run {id} failed in job_runs"))?;
            Ok(changed > 0)
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
            for table in super::CONTRACT_TABLES {
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

    async fn begin_dry_run(&self) -> Result<()> {
        // Deferred: the write lock is taken at the first write and held until `end_dry_run`.
        let begin = |conn: &mut Connection| conn.execute_batch("BEGIN DEFERRED").ctx("starting the dry-run session");
        if self.in_memory {
            return self.call(begin).await;
        }
        let (path, timeout, busy_timeout) = (self.path.clone(), self.connect_timeout, self.busy_timeout);
        let conn = tokio::task::spawn_blocking(move || connect(&path, timeout, busy_timeout))
            .await
            .map_err(|e| Error::Connect(format!("opening the dry-run session on {}: {e}", self.path.display())))??;
        let conn = Arc::new(Mutex::new(conn));
        self.call_on(Arc::clone(&conn), begin).await?;
        *self.dry_slot()? = Some(conn);
        Ok(())
    }

    async fn end_dry_run(&self) -> Result<()> {
        let rollback = |conn: &mut Connection| {
            if conn.is_autocommit() { Ok(()) } else { conn.execute_batch("ROLLBACK").ctx("rolling back the dry run") }
        };
        if self.in_memory {
            return self.call(rollback).await;
        }
        // Taken out first: whatever the rollback says, the session is over, and dropping its
        // connection rolls back anything left.
        let session = self.dry_slot()?.take();
        match session {
            Some(conn) => self.call_on(conn, rollback).await,
            None => Ok(()),
        }
    }

    async fn try_job_lock(&self, _job: &str) -> Result<Option<Box<dyn HeldLock>>> {
        Ok(Some(Box::new(NoLock)))
    }

    async fn job_lock_holder(&self, _job: &str) -> Result<Option<String>> {
        Ok(None)
    }

    // -----------------------------------------------------------------------------------------
    // Status page reads (issue 14).

    async fn runs_since(&self, since: DateTime<Utc>) -> Result<Vec<RunRecord>> {
        self.call(move |conn| {
            let what = "reading recent job_runs for the status page";
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                            api_calls, api_errors, rows_written, error,
                            COALESCE(json_extract(summary, '$.api.rate_limited'), 0), json_extract(summary, '$.rows')
                     FROM job_runs WHERE started_at >= ?1 ORDER BY started_at, id",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map([instant(since)], |r| Ok((job_run_from_row(r)?, r.get::<_, i64>(14)?, r.get(15)?)))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(JobRunRow, i64, Option<String>)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(run, rate_limited, rows)| {
                    let rows = rows.and_then(|text| serde_json::from_str(&text).ok());
                    Ok(RunRecord { run: run.parse()?, rate_limited, rows: super::summary_rows(rows) })
                })
                .collect()
        })
        .await
    }

    async fn api_calls_by_day(&self, from: NaiveDate) -> Result<Vec<DayCalls>> {
        self.call(move |conn| {
            let what = "reading API calls per day from job_runs";
            // Instants are `YYYY-MM-DDTHH:MM:SSZ` text: the first ten characters are the UTC day.
            let mut stmt = conn
                .prepare(
                    "SELECT substr(started_at, 1, 10) AS day, SUM(api_calls), SUM(api_errors), COUNT(*)
                     FROM job_runs WHERE started_at >= ?1 GROUP BY day ORDER BY day",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map([from.format("%Y-%m-%d").to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(String, i64, i64, i64)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(day, calls, errors, runs)| {
                    Ok(DayCalls { date: parse_date(&day, "job_runs.started_at")?, calls, errors, runs })
                })
                .collect()
        })
        .await
    }

    async fn result_delays(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<ResultDelay>> {
        self.call(move |conn| {
            let what = "reading result times from races";
            let mut stmt = conn
                .prepare(
                    "SELECT race_date, off_at, result_updated_at FROM races
                     WHERE race_date BETWEEN ?1 AND ?2 AND has_result = 1
                       AND off_at IS NOT NULL AND result_updated_at IS NOT NULL
                     ORDER BY race_date, off_at",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map([v_date(from), v_date(to)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(String, String, String)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(day, off, result)| {
                    Ok(ResultDelay {
                        race_date: parse_date(&day, "races.race_date")?,
                        off_at: parse_instant(&off, "races.off_at")?,
                        result_at: parse_instant(&result, "races.result_updated_at")?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn last_runs(&self) -> Result<Vec<JobRun>> {
        self.call(|conn| {
            let what = "reading the last run of each job from job_runs";
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                            api_calls, api_errors, rows_written, error
                     FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY job
                               ORDER BY status = 'skipped', started_at DESC, id DESC) AS n FROM job_runs)
                     WHERE n = 1 ORDER BY job",
                )
                .ctx(what)?;
            let rows =
                stmt.query_map([], job_run_from_row).ctx(what)?.collect::<rusqlite::Result<Vec<_>>>().ctx(what)?;
            rows.into_iter().map(JobRunRow::parse).collect()
        })
        .await
    }

    async fn alert_states(&self) -> Result<Vec<AlertState>> {
        self.call(|conn| {
            let what = "reading alert_state";
            let mut stmt = conn
                .prepare("SELECT job, state, consecutive_failures, last_alert_at FROM alert_state ORDER BY job")
                .ctx(what)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(String, String, i64, Option<String>)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(key, state, consecutive_failures, last)| {
                    Ok(AlertState {
                        key,
                        state,
                        consecutive_failures,
                        last_alert_at: parse_opt_instant(last, "alert_state.last_alert_at")?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn response_keys(&self) -> Result<Vec<super::ResponseKey>> {
        self.call(|conn| {
            let what = "reading the keys of api_responses";
            let mut stmt = conn
                .prepare(
                    "SELECT endpoint, params, fetched_at, status FROM api_responses ORDER BY fetched_at, endpoint, params",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
                })
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(endpoint, params, fetched_at, status)| {
                    Ok(super::ResponseKey {
                        fetched_at: parse_instant(&fetched_at, "api_responses.fetched_at")?,
                        status: u16::try_from(status).unwrap_or(0),
                        endpoint,
                        params,
                    })
                })
                .collect()
        })
        .await
    }

    // --- health and alerts ---

    async fn api_calls_since(&self, since: DateTime<Utc>) -> Result<i64> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT COALESCE(SUM(api_calls), 0) FROM job_runs WHERE started_at >= ?1",
                [instant(since)],
                |r| r.get(0),
            )
            .ctx("summing the API calls of job_runs")
        })
        .await
    }

    async fn response(&self, endpoint: &str, params: &str) -> Result<Option<RawResponse>> {
        let (endpoint, params) = (endpoint.to_string(), params.to_string());
        self.call(move |conn| {
            let what = format!("reading api_responses {endpoint}?{params}");
            let row = conn
                .query_row(
                    "SELECT fetched_at, status, sha256, encoding, body FROM api_responses WHERE endpoint = ?1 AND params = ?2",
                    params![endpoint, params],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, Vec<u8>>(4)?,
                        ))
                    },
                )
                .optional()
                .ctx(&what)?;
            let Some((fetched_at, status, sha256, encoding, stored)) = row else { return Ok(None) };
            Ok(Some(RawResponse {
                body: super::decode_body(&endpoint, &params, &encoding, &stored, &sha256)?,
                fetched_at: parse_instant(&fetched_at, "api_responses.fetched_at")?,
                status: u16::try_from(status).unwrap_or(0),
                endpoint,
                params,
            }))
        })
        .await
    }

    async fn alert_state(&self, key: &str) -> Result<Option<AlertState>> {
        let key = key.to_string();
        self.call(move |conn| {
            let what = format!("reading the alert state of {key}");
            let row: Option<(String, i64, Option<String>)> = conn
                .query_row(
                    "SELECT state, consecutive_failures, last_alert_at FROM alert_state WHERE job = ?1",
                    [&key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .ctx(&what)?;
            row.map(|(state, consecutive_failures, at)| {
                Ok(AlertState {
                    key: key.clone(),
                    state,
                    consecutive_failures,
                    last_alert_at: parse_opt_instant(at, "alert_state.last_alert_at")?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn save_alert_state(&self, state: &AlertState) -> Result<()> {
        let state = state.clone();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO alert_state (job, state, consecutive_failures, last_alert_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job) DO UPDATE SET state = excluded.state,
                     consecutive_failures = excluded.consecutive_failures, last_alert_at = excluded.last_alert_at",
                params![state.key, state.state, state.consecutive_failures, state.last_alert_at.map(instant)],
            )
            .ctx(&format!("saving the alert state of {}", state.key))?;
            Ok(())
        })
        .await
    }

    // ---------------------------------------------------------------------------------------------
    // `darkhorses quality`: the shared SQL of `store::quality`, `$N` bound as `?N`.

    async fn known_range(&self) -> Result<Option<(NaiveDate, NaiveDate)>> {
        self.call(|conn| {
            let what = "reading the first and last stored racing day";
            let (first, last): (Option<String>, Option<String>) =
                conn.query_row(quality::KNOWN_RANGE, [], |r| Ok((r.get(0)?, r.get(1)?))).ctx(what)?;
            match (first, last) {
                (Some(first), Some(last)) => {
                    Ok(Some((parse_date(&first, "races.race_date")?, parse_date(&last, "races.race_date")?)))
                }
                _ => Ok(None),
            }
        })
        .await
    }

    async fn day_counts(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<quality::DayCounts>> {
        self.call(move |conn| {
            let what = format!("counting the races and runners of each day from {from} to {to}");
            let mut stmt = conn.prepare(&question_marks(quality::DAY_COUNTS)).ctx(&what)?;
            let rows = stmt
                .query_map(params![date_text(from), date_text(to)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter()
                .map(|(date, races, racecards, results, abandoned, runners)| {
                    let date = parse_date(&date, "races.race_date")?;
                    Ok(quality::DayCounts { date, races, racecards, results, abandoned, runners })
                })
                .collect()
        })
        .await
    }

    async fn resulted_races(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<quality::ResultedRace>> {
        self.call(move |conn| {
            let what = format!("reading the races with a result from {from} to {to}");
            let mut stmt = conn.prepare(&question_marks(quality::RESULTED_RACES)).ctx(&what)?;
            let rows = stmt
                .query_map(params![date_text(from), date_text(to)], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter()
                .map(|(id, date, field_size, non_runners, result_runners, winners)| {
                    Ok(quality::ResultedRace {
                        id,
                        race_date: parse_date(&date, "races.race_date")?,
                        field_size,
                        non_runners,
                        result_runners,
                        winners,
                    })
                })
                .collect()
        })
        .await
    }

    async fn probe(&self, probe: &quality::Probe, scope: &quality::ProbeScope) -> Result<quality::Found> {
        use quality::Param;
        let values: Vec<Value> = probe
            .params
            .iter()
            .map(|p| match p {
                Param::From => Value::Text(date_text(scope.from)),
                Param::To => Value::Text(date_text(scope.to)),
                Param::Yesterday => Value::Text(date_text(scope.yesterday())),
                Param::Today => Value::Text(date_text(scope.today)),
                Param::Now => Value::Text(instant(scope.now)),
                Param::GraceCutoff => Value::Text(instant(scope.grace_cutoff)),
                Param::Regions => Value::Text(scope.regions.clone()),
                Param::Limit => Value::Integer(i64::from(scope.limit)),
            })
            .collect();
        let (name, sql) = (probe.name, question_marks(probe.sql));
        self.call(move |conn| {
            let what = format!("running the quality probe {name}");
            let mut stmt = conn.prepare(&sql).ctx(&what)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(values), |r| {
                    Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            Ok(quality::Found {
                total: rows.first().map_or(0, |(_, total)| u64::try_from(*total).unwrap_or_default()),
                subjects: rows.into_iter().map(|(subject, _)| subject.unwrap_or_default()).collect(),
            })
        })
        .await
    }
}

/// The shared SQL's `$N` placeholders as SQLite's numbered `?N` (the same index; no probe has a `$`
/// elsewhere).
fn question_marks(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A date as SQLite stores it: `YYYY-MM-DD`.
fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Every quality read finds its rows through an index: the only table it reads whole is
    /// `runners`, by its primary key, for the runners without races (which have no date).
    #[test]
    fn quality_reads_search_by_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_blocking(&mut conn, migrations::SQLITE).unwrap();
        let reads = quality::ALL.iter().map(|p| (p.name, p.sql)).chain([
            ("known_range", quality::KNOWN_RANGE),
            ("day_counts", quality::DAY_COUNTS),
            ("resulted_races", quality::RESULTED_RACES),
        ]);
        for (name, sql) in reads {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", question_marks(sql))).unwrap();
            let unbound = vec![Value::Null; stmt.parameter_count()];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(unbound), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let scans: Vec<&String> = plan
                .iter()
                .filter(|step| {
                    step.starts_with("SCAN ") && !step.starts_with("SCAN (subquery") && step != &"SCAN known"
                })
                .collect();
            let allowed = name == quality::RUNNERS_WITHOUT_RACES.name
                && scans.iter().all(|s| s.as_str() == "SCAN r USING COVERING INDEX sqlite_autoindex_runners_1");
            assert!(scans.is_empty() || allowed, "{name} scans a table: {plan:#?}");
        }
    }

    #[test]
    fn urls_name_paths() {
        assert_eq!(path_of("").unwrap(), PathBuf::from("darkhorses.db"));
        assert_eq!(path_of("sqlite:data/x.db").unwrap(), PathBuf::from("data/x.db"));
        assert_eq!(path_of("sqlite:///tmp/x.db").unwrap(), PathBuf::from("/tmp/x.db"));
        assert_eq!(path_of("sqlite:").unwrap(), PathBuf::from("darkhorses.db"));
        let err = path_of("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(err.contains("\"mysql\"") && !err.contains("secret"), "{err}");
    }
}
