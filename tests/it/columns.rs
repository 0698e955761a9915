//! The column declarations (`store::columns`) walked against both migrated schemas: every
//! declared column exists with a compatible type, every column of a written table is declared or
//! named here as not written by the feeds, and each table's key is its primary key. SQLite always
//! (a temp file); PostgreSQL in a schema of its own when DARKHORSES_TEST_DATABASE_URL is set.

use std::collections::BTreeMap;

use darkhorses::config::{DatabaseConfig, Secret};
use darkhorses::store::columns::{self, Merge, Ty};
use darkhorses::store::{self};

/// Columns of written tables that no write of the feeds sends (a migration's default keeps
/// them). None today: every column of every written table is declared.
const NOT_WRITTEN: &[(&str, &str)] = &[];

/// A table as a migrated database describes it: column name -> (type, part of the primary key at).
type Described = BTreeMap<String, (String, Option<usize>)>;

fn compatible_sqlite(ty: Ty) -> &'static str {
    match ty {
        Ty::Text | Ty::BlankText | Ty::Date | Ty::Instant => "TEXT",
        Ty::Int | Ty::Bool => "INTEGER",
        Ty::Numeric => "REAL",
        Ty::Bytes => "BLOB",
    }
}

fn compatible_postgres(ty: Ty) -> &'static str {
    match ty {
        Ty::Text | Ty::BlankText => "text",
        Ty::Int => "integer",
        Ty::Numeric => "numeric",
        Ty::Bool => "boolean",
        Ty::Date => "date",
        Ty::Instant => "timestamp with time zone",
        Ty::Bytes => "bytea",
    }
}

/// Every declaration against one schema; `describe` reads a table, `compatible` names the type a
/// declared type needs.
fn walk(backend: &str, describe: &BTreeMap<String, Described>, compatible: fn(Ty) -> &'static str) {
    let mut problems = Vec::new();
    for table in columns::tables() {
        let Some(schema) = describe.get(table.name) else {
            problems.push(format!("{}: no such table", table.name));
            continue;
        };
        for &(name, ty, _) in &table.columns {
            match schema.get(name) {
                None => problems.push(format!("{}.{name}: declared, not in the schema", table.name)),
                Some((got, _)) if got != compatible(ty) => {
                    problems.push(format!("{}.{name}: declared {ty:?}, the schema says {got}", table.name))
                }
                Some(_) => {}
            }
        }
        for name in schema.keys() {
            let declared = table.columns.iter().any(|c| c.0 == name);
            if !declared && !NOT_WRITTEN.contains(&(table.name, name.as_str())) {
                problems
                    .push(format!("{}.{name}: in the schema, neither declared nor listed as not written", table.name));
            }
        }
        let declared_key: Vec<&str> = table.columns.iter().filter(|c| c.2 == Merge::Key).map(|c| c.0).collect();
        let mut pk: Vec<(usize, &str)> = schema.iter().filter_map(|(n, (_, k))| k.map(|k| (k, n.as_str()))).collect();
        pk.sort();
        let pk: Vec<&str> = pk.into_iter().map(|(_, n)| n).collect();
        if pk != declared_key {
            problems.push(format!("{}: declared key {declared_key:?}, primary key {pk:?}", table.name));
        }
    }
    assert!(problems.is_empty(), "{backend}: the declarations and the schema differ:\n{}", problems.join("\n"));
}

#[tokio::test]
async fn declared_columns_match_the_sqlite_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("columns.db");
    let cfg = DatabaseConfig { url: Secret::new(format!("sqlite:{}", path.display())), ..DatabaseConfig::default() };
    drop(store::open(&cfg).await.unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut described = BTreeMap::new();
    for table in columns::tables() {
        let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", table.name)).unwrap();
        let cols: Described = stmt
            .query_map([], |r| {
                let pk: i64 = r.get(5)?;
                Ok((r.get::<_, String>(1)?, (r.get::<_, String>(2)?, usize::try_from(pk).ok().filter(|&k| k > 0))))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if !cols.is_empty() {
            described.insert(table.name.to_string(), cols);
        }
    }
    walk("sqlite", &described, compatible_sqlite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_columns_match_the_postgres_schema() {
    let Ok(url) = std::env::var("DARKHORSES_TEST_DATABASE_URL") else {
        eprintln!("skipped: DARKHORSES_TEST_DATABASE_URL is not set");
        return;
    };
    if url.trim().is_empty() {
        return;
    }
    let schema = format!("st_{}_columns", std::process::id());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
    let cfg = DatabaseConfig { url: Secret::new(url.as_str()), schema: schema.clone(), ..DatabaseConfig::default() };
    let opened = store::open(&cfg).await.map(drop);
    let rows = client
        .query(
            "SELECT c.table_name::text, c.column_name::text, c.data_type::text,
                    (SELECT k.ordinal_position::int4 FROM information_schema.table_constraints t
                       JOIN information_schema.key_column_usage k
                         ON k.constraint_schema = t.constraint_schema AND k.constraint_name = t.constraint_name
                      WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = c.table_schema
                        AND t.table_name = c.table_name AND k.column_name = c.column_name)
               FROM information_schema.columns c WHERE c.table_schema = $1",
            &[&schema],
        )
        .await;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
    opened.unwrap();
    let mut described: BTreeMap<String, Described> = BTreeMap::new();
    for r in rows.unwrap() {
        let pk: Option<i32> = r.get(3);
        described.entry(r.get(0)).or_default().insert(r.get(1), (r.get(2), pk.map(|k| usize::try_from(k).unwrap())));
    }
    walk("postgres", &described, compatible_postgres);
}
