//! Applying SQLite migrations: the `sql/sqlite/` files listed in `store::migrations`, each in its
//! own IMMEDIATE transaction, so two processes migrating at once apply each file once. What is
//! pending and whether an applied file changed is `store::migrations`' call.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::write::{instant, parse_instant};
use super::{Ctx, SqliteStore};
use crate::store::migrations::{self, Applied, Migration};
use crate::store::{Error, MigrationState, Result};

/// The bookkeeping table, created before any migration runs.
const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

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

pub(super) fn migrate_blocking(conn: &mut Connection, list: &[Migration]) -> Result<Vec<MigrationState>> {
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

pub(super) async fn migrate(store: &SqliteStore) -> Result<Vec<MigrationState>> {
    let list = store.migrations;
    store.call(move |conn| migrate_blocking(conn, list)).await
}

pub(super) async fn status(store: &SqliteStore) -> Result<Vec<MigrationState>> {
    let list = store.migrations;
    store.call(move |conn| migrations::status("sqlite", list, &read_applied(conn)?)).await
}
