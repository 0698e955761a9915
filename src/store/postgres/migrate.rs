//! PostgreSQL migrations: the embedded `sql/postgres/` files, applied under a session advisory
//! lock on a dedicated connection so several hosts migrating at once apply each file once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{PgStore, lock_key, query_error, quote_ident};
use crate::store::{Error, MigrationState, Result};

/// Every migration file, in order: (version, name, sql). The file is `sql/postgres/NNNN_name.sql`.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "schema", include_str!("../../../sql/postgres/0001_schema.sql")),
    (2, "seed", include_str!("../../../sql/postgres/0002_seed.sql")),
];

/// The sha256 hex of a migration file's text.
pub fn checksum(sql: &str) -> String {
    format!("{:x}", Sha256::digest(sql.as_bytes()))
}

fn file_name(version: i64, name: &str) -> String {
    format!("sql/postgres/{version:04}_{name}.sql")
}

type Applied = BTreeMap<i64, (String, String, DateTime<Utc>)>;

/// Every known migration with its applied time, plus applied versions this binary does not know
/// (a newer binary ran). An applied file whose checksum changed is an error.
fn merge(applied: &Applied) -> Result<Vec<MigrationState>> {
    let mut out = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        let sum = checksum(sql);
        let applied_at = match applied.get(version) {
            Some((_, stored, at)) if *stored != sum => {
                return Err(Error::Migration(format!(
                    "migration {version} ({}) was applied with checksum {stored} but the file now has {sum}; \
                     applied migrations must not change: restore the file and add a new migration instead",
                    file_name(*version, name)
                )));
            }
            Some((_, _, at)) => Some(*at),
            None => None,
        };
        out.push(MigrationState { version: *version, name: (*name).to_string(), checksum: sum, applied_at });
    }
    for (version, (name, sum, at)) in applied {
        if !MIGRATIONS.iter().any(|(v, _, _)| v == version) {
            out.push(MigrationState {
                version: *version,
                name: name.clone(),
                checksum: sum.clone(),
                applied_at: Some(*at),
            });
        }
    }
    out.sort_by_key(|m| m.version);
    Ok(out)
}

async fn read_applied(client: &impl tokio_postgres::GenericClient, schema: &str) -> Result<Applied> {
    let table = format!("{}.schema_migrations", quote_ident(schema));
    let rows = client
        .query(&format!("SELECT version, name, checksum, applied_at FROM {table} ORDER BY version"), &[])
        .await
        .map_err(query_error(&format!("read {table}")))?;
    Ok(rows.iter().map(|r| (r.get::<_, i64>(0), (r.get(1), r.get(2), r.get(3)))).collect())
}

/// Apply every pending migration. Returns the ones this call applied.
pub(super) async fn migrate(store: &PgStore) -> Result<Vec<MigrationState>> {
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
    let states = merge(&read_applied(client, schema).await?)?;
    let mut done = Vec::new();
    for state in states.into_iter().filter(|s| s.applied_at.is_none()) {
        let Some((_, _, sql)) = MIGRATIONS.iter().find(|(v, _, _)| *v == state.version) else {
            continue;
        };
        let file = file_name(state.version, &state.name);
        let tx = client.transaction().await.map_err(query_error("begin a migration transaction"))?;
        tx.batch_execute(&format!("SET LOCAL search_path TO {qs}")).await.map_err(query_error("set search_path"))?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| Error::Migration(format!("migration {file} failed: {}", super::pg_message(&e))))?;
        let row = tx
            .query_one(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3) RETURNING applied_at",
                &[&state.version, &state.name, &state.checksum],
            )
            .await
            .map_err(query_error(&format!("record migration {file}")))?;
        tx.commit().await.map_err(query_error(&format!("commit migration {file}")))?;
        tracing::info!(migration.version = state.version, migration.file = %file, db.schema = %schema, "applied migration");
        done.push(MigrationState { applied_at: Some(row.get(0)), ..state });
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .map_err(query_error("release the migration lock"))?;
    Ok(done)
}

/// Every known migration, applied or pending.
pub(super) async fn status(store: &PgStore) -> Result<Vec<MigrationState>> {
    let client = store.client().await?;
    let table = format!("{}.schema_migrations", quote_ident(&store.schema));
    let present = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .map_err(query_error(&format!("look up {table}")))?
        .get::<_, bool>(0);
    let applied = if present { read_applied(&**client, &store.schema).await? } else { Applied::new() };
    merge(&applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_checksums_are_sha256_hex() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0);
        }
        let sum = checksum("abc");
        assert_eq!(sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_changed_checksum_names_the_file() {
        let mut applied = Applied::new();
        applied.insert(1, ("schema".into(), "0000".into(), Utc::now()));
        let err = merge(&applied).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("sql/postgres/0001_schema.sql"), "{err}");
    }

    #[test]
    fn the_seed_lists_every_seed_bookmaker() {
        let seed = MIGRATIONS.iter().map(|m| m.2).collect::<String>();
        for (code, name, kind) in crate::model::SEED_BOOKMAKERS {
            let row = format!("('{code}', '{name}', '{}', 'seed')", kind.as_str());
            assert!(seed.contains(&row), "missing {row}");
        }
    }
}
