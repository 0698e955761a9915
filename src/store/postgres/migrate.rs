//! Applying PostgreSQL migrations: the `sql/postgres/` files listed in `store::migrations`, under
//! a session advisory lock on a dedicated connection so several hosts migrating at once apply each
//! file once. What is pending and whether an applied file changed is `store::migrations`' call.

use super::{PgStore, lock_key, query_error, quote_ident};
use crate::store::migrations::{self, Applied, POSTGRES};
use crate::store::{Error, MigrationState, Result};

async fn read_applied(client: &impl tokio_postgres::GenericClient, schema: &str) -> Result<Vec<Applied>> {
    let table = format!("{}.schema_migrations", quote_ident(schema));
    let rows = client
        .query(&format!("SELECT version, name, checksum, applied_at FROM {table} ORDER BY version"), &[])
        .await
        .map_err(query_error(&format!("read {table}")))?;
    Ok(rows
        .iter()
        .map(|r| Applied { version: r.get(0), name: r.get(1), checksum: r.get(2), applied_at: r.get(3) })
        .collect())
}

/// Apply every pending migration. Returns the ones this call applied.
pub(super) async fn migrate(store: &PgStore) -> Result<Vec<MigrationState>> {
    // A read first, on the pool: a schema with nothing pending (every run but the first after an
    // upgrade) needs neither the dedicated connection nor the lock, which were most of the cost
    // of an `orchestrate` tick with nothing due.
    if migrations::pending("postgres", POSTGRES, &applied(store).await?)?.is_empty() {
        return Ok(Vec::new());
    }
    let (mut client, connection) = store.connector.connect().await?;
    let result = migrate_on(store, &mut client).await;
    drop(client);
    connection.abort();
    result
}

async fn migrate_on(store: &PgStore, client: &mut tokio_postgres::Client) -> Result<Vec<MigrationState>> {
    let schema = &store.schema;
    let key = lock_key(schema, "migrate");
    client
        .batch_execute(&format!("SET statement_timeout = {}", store.query_timeout.as_millis()))
        .await
        .map_err(query_error("set statement_timeout for migrations"))?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .map_err(query_error(&format!("wait for the migration lock of schema {schema}")))?;
    let exists = client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", &[schema])
        .await
        .map_err(query_error(&format!("look up schema {schema}")))?
        .get::<_, bool>(0);
    let qs = quote_ident(schema);
    if !exists {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {qs}"))
            .await
            .map_err(query_error(&format!("create schema {schema} (does the user have CREATE on the database?)")))?;
    }
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {qs}.schema_migrations (
                 version bigint PRIMARY KEY,
                 name text NOT NULL,
                 checksum text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())"
        ))
        .await
        .map_err(query_error(&format!("create {schema}.schema_migrations")))?;
    // Under the lock, so what is pending cannot change until we release it.
    let pending = migrations::pending("postgres", POSTGRES, &read_applied(client, schema).await?)?;
    // A note speaks of rows stored before its file: a schema created in this call has none.
    let fresh = pending.first().is_some_and(|m| m.version == 1);
    let mut done = Vec::new();
    for m in pending {
        let file = format!("sql/postgres/{}.sql", m.file_stem());
        let tx = client.transaction().await.map_err(query_error("begin a migration transaction"))?;
        tx.batch_execute(&format!("SET LOCAL search_path TO {qs}")).await.map_err(query_error("set search_path"))?;
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| Error::Migration(format!("migration {file} failed: {}", super::pg_message(&e))))?;
        let row = tx
            .query_one(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3) RETURNING applied_at",
                &[&m.version, &m.name, &m.checksum()],
            )
            .await
            .map_err(query_error(&format!("record migration {file}")))?;
        tx.commit().await.map_err(query_error(&format!("commit migration {file}")))?;
        tracing::info!(migration.version = m.version, migration.file = %file, db.schema = %schema, "applied migration");
        if let Some(note) = m.note().filter(|_| !fresh) {
            tracing::info!(migration.file = %file, "note on {file}: {note}");
        }
        done.push(MigrationState {
            version: m.version,
            name: m.name.to_string(),
            checksum: m.checksum(),
            applied_at: Some(row.get(0)),
        });
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .map_err(query_error("release the migration lock"))?;
    Ok(done)
}

/// Every known migration, applied or pending.
pub(super) async fn status(store: &PgStore) -> Result<Vec<MigrationState>> {
    migrations::status("postgres", POSTGRES, &applied(store).await?)
}

/// What `schema_migrations` says was applied, read through the pool; nothing when the schema or
/// the table does not exist yet.
async fn applied(store: &PgStore) -> Result<Vec<Applied>> {
    let client = store.client().await?;
    let table = format!("{}.schema_migrations", quote_ident(&store.schema));
    let present = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .map_err(query_error(&format!("look up {table}")))?
        .get::<_, bool>(0);
    if present { read_applied(&**client, &store.schema).await } else { Ok(Vec::new()) }
}
