//! A SQLite dry run: its writes go into a copy of the database, taken with `VACUUM INTO` into a
//! file beside it (0600, named `.<file>.dry-run-<pid>-<n>`) and removed when the run closes its
//! writer or drops it. Taking the copy only reads the database (a WAL reader, which never waits
//! for a writer nor holds one up), and nothing of the run writes it, so a dry run never holds the
//! database's write lock: another process's writes go on as if it were not there. Each write is a
//! committed transaction of the copy, so later units see earlier ones as in a real run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::Connection;

use super::{Ctx, SqliteStore, connect};
use crate::model::{Horse, Kind, RawResponse, Unit};
use crate::store::{Error, ReferenceData, Result, Store, WriteStats, Writer};

/// Copies taken by this process, so two dry runs of one process never pick the same name.
static COPIES: AtomicU64 = AtomicU64::new(0);

/// Open a dry run's writer on `store`.
pub(super) async fn open(store: &SqliteStore) -> Result<Arc<dyn Writer>> {
    if store.in_memory {
        // The stand-in for a file that does not exist yet: thrown away whole at the end of the
        // process, so the dry run writes straight into it, on its one connection.
        let copy = SqliteStore { conn: Arc::clone(&store.conn), ..store.same_settings(store.path.clone()) };
        return Ok(Arc::new(DryRun { copy, file: None }));
    }
    let file = CopyFile::beside(&store.path)?;
    let (source, target) = (store.path.clone(), file.0.clone());
    let (timeout, busy_timeout) = (store.connect_timeout, store.busy_timeout);
    let started = Instant::now();
    let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
        // A connection of its own: the copy takes a while on a big database, and the store's
        // connection stays free for the run's `job_runs` row and other jobs meanwhile.
        let reader = connect(&source, timeout, busy_timeout)?;
        reader.execute("VACUUM INTO ?1", [target.to_string_lossy()]).ctx(&format!(
            "copying {} to {} for the dry run",
            source.display(),
            target.display()
        ))?;
        drop(reader);
        connect(&target, timeout, busy_timeout)
    })
    .await
    .map_err(|e| Error::Query(format!("copying {} for the dry run: {e}", store.path.display())))??;
    let bytes = std::fs::metadata(&file.0).map(|m| m.len()).unwrap_or_default();
    tracing::info!(
        db.path = %store.path.display(),
        copy = %file.0.display(),
        bytes,
        ms = started.elapsed().as_millis() as u64,
        "dry run: writing into a copy of {} ({bytes} bytes, taken in {} ms), removed at the end",
        store.path.display(),
        started.elapsed().as_millis()
    );
    let copy = SqliteStore { conn: Arc::new(Mutex::new(conn)), ..store.same_settings(file.0.clone()) };
    Ok(Arc::new(DryRun { copy, file: Some(file) }))
}

impl SqliteStore {
    /// A store of the same settings on another connection: `path` is what its messages name.
    fn same_settings(&self, path: PathBuf) -> SqliteStore {
        SqliteStore {
            path,
            scope: self.scope.clone(),
            busy_timeout: self.busy_timeout,
            connect_timeout: self.connect_timeout,
            conn: Arc::clone(&self.conn),
            in_memory: self.in_memory,
            migrations: self.migrations,
        }
    }
}

/// A dry run's writer: the copy (declared first, so its connection closes before the file goes).
#[derive(Debug)]
struct DryRun {
    copy: SqliteStore,
    file: Option<CopyFile>,
}

#[async_trait]
impl Writer for DryRun {
    fn is_dry_run(&self) -> bool {
        true
    }

    async fn write_unit(&self, unit: &Unit) -> Result<WriteStats> {
        self.copy.write_unit(unit).await
    }

    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()> {
        self.copy.mark_unit_failed(kind, race_date, api_calls, error).await
    }

    async fn write_reference(&self, data: &ReferenceData) -> Result<WriteStats> {
        self.copy.write_reference(data).await
    }

    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats> {
        self.copy.write_horses(horses, responses).await
    }

    async fn close(&self) -> Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        // Close the copy's connection (swapped for an empty one) before its files go, so SQLite
        // does not write a `-wal` back beside a removed file.
        let closed = Connection::open_in_memory()
            .map_err(|e| Error::Query(format!("closing the dry run's copy {}: {e}", file.0.display())))?;
        let old = {
            let mut conn = self.copy.conn.lock().map_err(|_| {
                Error::Query(format!("the dry run's copy {} was poisoned by a panic", file.0.display()))
            })?;
            std::mem::replace(&mut *conn, closed)
        };
        drop(old);
        file.remove();
        Ok(())
    }
}

/// The copy's file, removed (with its `-wal` and `-shm`) when dropped.
#[derive(Debug)]
struct CopyFile(PathBuf);

impl CopyFile {
    /// An empty file beside `db`, owner-only, that `VACUUM INTO` fills.
    fn beside(db: &Path) -> Result<CopyFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(Error::Connect(format!(
                "cannot copy SQLite database {} for the dry run: directory {} does not exist",
                db.display(),
                dir.display()
            )));
        }
        let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "darkhorses.db".into());
        let n = COPIES.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.dry-run-{}-{n}", std::process::id()));
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(|e| {
            Error::Connect(format!(
                "cannot create {} for the dry run's copy of SQLite database {}: {e}; the dry run needs to write \
                 in the database's directory",
                path.display(),
                db.display()
            ))
        })?;
        Ok(CopyFile(path))
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

impl Drop for CopyFile {
    fn drop(&mut self) {
        self.remove();
    }
}
