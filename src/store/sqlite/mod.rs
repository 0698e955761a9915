//! The SQLite store: the embedded default. One file, WAL mode, one connection behind a mutex,
//! every blocking call on `spawn_blocking`, every write an upsert that never touches an
//! unchanged row. This file holds the connection (busy handling, error messages) and the `Store`
//! implementation, laid out as `postgres/` is: migrations in `migrate.rs`; writes in `write.rs`;
//! reads and the job-run ledger in `read.rs`; `health.rs` and `quality.rs` what those commands read.
//!
//! Another process may hold the write lock (a second writer, a backup, a `sqlite3` shell): every
//! write waits for it up to `database.busy_timeout`, logging while it waits, and then fails with
//! `Error::Busy` naming the file; reads never wait (WAL). Opening an up-to-date database only reads.
//!
//! A dry run (`Store::dry_run`, `dry_run.rs`) writes into a copy of the database in a file beside
//! it, removed at its end: the real file is only read, so other writers (the run's `job_runs` row,
//! another job, another process) never wait for a dry run. An in-memory database (a dry run
//! against a file that does not exist yet) is thrown away whole: the dry run writes straight into it.
//!
//! Writes go row by row through prepared statements (one per table and unit) inside one transaction: SQLite runs
//! in-process, so a prepared statement per row costs about what a multi-row VALUES would, without
//! the bind-variable limit. `database.batch_size` therefore does not apply here.

mod dry_run;
mod health;
mod migrate;
mod quality;
mod read;
mod upsert;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;

use super::migrations::{self, Migration};
use super::{
    AlertState, Backend, Coverage, DayCalls, Error, FinishedJobRun, Freshness, HeldLock, JobRun, MigrationState,
    NewJobRun, RaceState, ReferenceData, Result, ResultDelay, RunRecord, Store, WriteStats,
};
use crate::config::DatabaseConfig;
use crate::model::{Horse, Kind, RawResponse, Unit};

/// The file used when `database.url` is empty.
pub const DEFAULT_PATH: &str = "darkhorses.db";

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
    /// An in-memory database: a dry run's writes go straight into it (see the module comment).
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
        migrate::migrate(self).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationState>> {
        migrate::status(self).await
    }

    async fn write_unit(&self, unit: &Unit) -> Result<WriteStats> {
        write::write_unit(self, unit).await
    }

    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()> {
        write::mark_unit_failed(self, kind, race_date, api_calls, error).await
    }

    async fn write_reference(&self, data: &ReferenceData) -> Result<WriteStats> {
        write::write_reference(self, data).await
    }

    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats> {
        write::write_horses(self, horses, responses).await
    }

    async fn coverage(&self, kind: Kind, from: NaiveDate, to: NaiveDate) -> Result<Vec<Coverage>> {
        read::coverage(self, kind, from, to).await
    }

    async fn races_on(&self, date: NaiveDate) -> Result<Vec<RaceState>> {
        read::races_on(self, date).await
    }

    async fn horses_needing_enrichment(&self, limit: u32) -> Result<Vec<String>> {
        read::horses_needing_enrichment(self, limit).await
    }

    async fn start_job_run(&self, run: &NewJobRun) -> Result<i64> {
        read::start_job_run(self, run).await
    }

    async fn claim_slot(&self, run: &NewJobRun, covered: &[DateTime<Utc>], reason: &str) -> Result<Option<i64>> {
        read::claim_slot(self, run, covered, reason).await
    }

    async fn skip_slot(&self, job: &str, slot: DateTime<Utc>, at: DateTime<Utc>, reason: &str) -> Result<bool> {
        read::skip_slot(self, job, slot, at, reason).await
    }

    async fn last_slot(&self, job: &str) -> Result<Option<DateTime<Utc>>> {
        read::last_slot(self, job).await
    }

    async fn finish_job_run(&self, id: i64, run: &FinishedJobRun) -> Result<()> {
        read::finish_job_run(self, id, run).await
    }

    async fn running_job_runs(&self, job: &str) -> Result<Vec<JobRun>> {
        read::running_job_runs(self, job).await
    }

    async fn fail_dead_job_run(&self, id: i64, finished_at: DateTime<Utc>, error: &str) -> Result<bool> {
        read::fail_dead_job_run(self, id, finished_at, error).await
    }

    async fn latest_job_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>> {
        read::latest_job_runs(self, job, limit).await
    }

    async fn table_counts(&self) -> Result<BTreeMap<String, i64>> {
        read::table_counts(self).await
    }

    async fn freshness(&self) -> Result<Freshness> {
        read::freshness(self).await
    }

    async fn dry_run(&self) -> Result<Arc<dyn crate::store::Writer>> {
        dry_run::open(self).await
    }

    async fn try_job_lock(&self, _job: &str) -> Result<Option<Box<dyn HeldLock>>> {
        Ok(Some(Box::new(NoLock)))
    }

    async fn job_lock_holder(&self, _job: &str) -> Result<Option<String>> {
        Ok(None)
    }

    async fn runs_since(&self, since: DateTime<Utc>) -> Result<Vec<RunRecord>> {
        read::runs_since(self, since).await
    }

    async fn api_calls_by_day(&self, from: NaiveDate) -> Result<Vec<DayCalls>> {
        read::api_calls_by_day(self, from).await
    }

    async fn result_delays(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<ResultDelay>> {
        read::result_delays(self, from, to).await
    }

    async fn last_runs(&self) -> Result<Vec<JobRun>> {
        read::last_runs(self).await
    }

    async fn alert_states(&self) -> Result<Vec<AlertState>> {
        read::alert_states(self).await
    }

    async fn response_keys(&self) -> Result<Vec<super::ResponseKey>> {
        read::response_keys(self).await
    }

    async fn api_calls_since(&self, since: DateTime<Utc>) -> Result<i64> {
        health::api_calls_since(self, since).await
    }

    async fn response(&self, endpoint: &str, params: &str) -> Result<Option<RawResponse>> {
        read::response(self, endpoint, params).await
    }

    async fn alert_state(&self, key: &str) -> Result<Option<AlertState>> {
        health::alert_state(self, key).await
    }

    async fn save_alert_state(&self, state: &AlertState) -> Result<()> {
        health::save_alert_state(self, state).await
    }

    async fn known_range(&self) -> Result<Option<(NaiveDate, NaiveDate)>> {
        quality::known_range(self).await
    }

    async fn day_counts(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<crate::store::quality::DayCounts>> {
        quality::day_counts(self, from, to).await
    }

    async fn resulted_races(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<crate::store::quality::ResultedRace>> {
        quality::resulted_races(self, from, to).await
    }

    async fn probe(
        &self,
        probe: &crate::store::quality::Probe,
        scope: &crate::store::quality::ProbeScope,
    ) -> Result<crate::store::quality::Found> {
        quality::probe(self, probe, scope).await
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
}
