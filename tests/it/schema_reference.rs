//! docs/schema.md against the databases the binary creates: every table and column of both
//! backends' migrations is on the page with a matching type, nothing on the page is missing from
//! either backend, and the page's example queries run on a sandbox-loaded SQLite database and
//! PostgreSQL (when `DARKHORSES_TEST_DATABASE_URL` is set), returning rows.

use std::collections::BTreeMap;
use std::path::Path;

use crate::acceptance::{darkhorses, run};

/// The day the examples' names and date come from (docs/schema.md says so).
const LOAD: [&str; 7] = ["--sandbox", "--now", "2026-06-12T21:00:00Z", "daily", "--days-ahead", "0", "--days-back"];
const LOAD_DAYS: &str = "14";

fn page() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema.md")).unwrap()
}

/// `table -> column -> type` from the page's `### \`table\`` sections and their column tables.
fn documented() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut tables: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in page().lines() {
        if let Some(name) = line.strip_prefix("### `").and_then(|r| r.strip_suffix('`')) {
            current = Some(name.to_string());
            tables.entry(name.to_string()).or_default();
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(table), Some(row)) = (&current, line.strip_prefix("| `")) {
            let cells: Vec<&str> = row.split(" | ").collect();
            let column = cells[0].trim_end_matches('`');
            tables.get_mut(table).unwrap().insert(column.to_string(), cells[1].trim().to_string());
        }
    }
    tables
}

/// The page's ```sql blocks.
fn examples() -> Vec<String> {
    let text = page();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match (&mut block, line.trim()) {
            (None, "```sql") => block = Some(String::new()),
            (Some(sql), "```") => {
                out.push(sql.trim().trim_end_matches(';').to_string());
                block = None;
            }
            (Some(sql), _) => {
                sql.push_str(line);
                sql.push('\n');
            }
            _ => {}
        }
    }
    assert_eq!(out.len(), 3, "docs/schema.md should hold the three example queries");
    out
}

/// Whether a backend's declared type is what the page's portable type means there.
fn type_matches(doc: &str, sqlite: bool, actual: &str) -> bool {
    let actual = actual.to_ascii_lowercase();
    match (doc, sqlite) {
        ("text" | "date" | "instant" | "json", true) => actual == "text",
        ("int" | "bool", true) => actual == "integer",
        ("numeric", true) => actual == "real",
        ("bytes", true) => actual == "blob",
        ("text", false) => actual == "text",
        ("int", false) => actual == "integer" || actual == "bigint",
        ("numeric", false) => actual == "numeric",
        ("bool", false) => actual == "boolean",
        ("date", false) => actual == "date",
        ("instant", false) => actual == "timestamp with time zone",
        ("json", false) => actual == "jsonb",
        ("bytes", false) => actual == "bytea",
        _ => false,
    }
}

/// Differences between the page and a backend's tables, one line each.
/// Tables one backend keeps for itself (table, is SQLite): the shared API budget's row lives in
/// Postgres (on SQLite it is a file beside the database).
const BACKEND_PRIVATE: [(&str, bool); 1] = [("api_budget", false)];

fn compare(actual: &BTreeMap<String, BTreeMap<String, String>>, sqlite: bool) -> Vec<String> {
    let doc = documented();
    let backend = if sqlite { "SQLite" } else { "PostgreSQL" };
    let mut problems = Vec::new();
    for (table, columns) in actual {
        // A backend's own bookkeeping, outside the contract: named in the page's prose instead.
        if BACKEND_PRIVATE.contains(&(table.as_str(), sqlite)) {
            if !page().contains(&format!("`{table}`")) {
                problems.push(format!("table {table} ({backend}) is not mentioned in docs/schema.md"));
            }
            continue;
        }
        let Some(documented) = doc.get(table) else {
            problems.push(format!("table {table} ({backend}) is not in docs/schema.md"));
            continue;
        };
        for (column, ty) in columns {
            match documented.get(column) {
                None => problems.push(format!("{table}.{column} ({backend} {ty}) is not in docs/schema.md")),
                Some(d) if !type_matches(d, sqlite, ty) => {
                    problems.push(format!("{table}.{column}: docs/schema.md says {d}, {backend} has {ty}"))
                }
                Some(_) => {}
            }
        }
    }
    for (table, columns) in &doc {
        for column in columns.keys() {
            if !actual.get(table).is_some_and(|c| c.contains_key(column)) {
                problems.push(format!("{table}.{column} is in docs/schema.md but not in {backend}"));
            }
        }
    }
    problems
}

#[test]
fn the_page_lists_tables_with_typed_columns() {
    let doc = documented();
    assert_eq!(doc.len(), 18, "{:?}", doc.keys());
    assert!(doc.values().all(|c| !c.is_empty()));
    assert_eq!(doc["runners"]["sp_decimal"], "numeric");
}

#[test]
fn sqlite_tables_and_example_queries_match_the_schema_reference() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(darkhorses(dir.path()).arg("-q").args(LOAD).arg(LOAD_DAYS));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let db = rusqlite::Connection::open(dir.path().join("darkhorses.db")).unwrap();
    let mut actual: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for table in tables {
        let mut statement = db.prepare(&format!("PRAGMA table_info({table})")).unwrap();
        let columns = statement
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        actual.insert(table, columns);
    }
    let problems = compare(&actual, true);
    assert!(problems.is_empty(), "docs/schema.md and the SQLite migrations differ:\n{}", problems.join("\n"));
    for sql in examples() {
        let mut statement = db.prepare(&sql).unwrap_or_else(|e| panic!("{e}:\n{sql}"));
        let rows = statement.query_map([], |_| Ok(())).unwrap().count();
        assert!(rows > 0, "no rows on the sandbox database:\n{sql}");
    }
}

#[test]
fn postgres_tables_and_example_queries_match_the_schema_reference() {
    let Some(url) = std::env::var("DARKHORSES_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else { return };
    let schema = format!("docs_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        client
    });
    let dir = tempfile::tempdir().unwrap();
    let out = run(darkhorses(dir.path())
        .env("DATABASE_URL", &url)
        .env("DARKHORSES_DATABASE_SCHEMA", &schema)
        .arg("-q")
        .args(LOAD)
        .arg(LOAD_DAYS));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(out.code, 0, "{}", out.stderr);
        rt.block_on(async {
            let rows = client
                .query(
                    "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = $1",
                    &[&schema],
                )
                .await
                .unwrap();
            let mut actual: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for row in rows {
                actual.entry(row.get(0)).or_default().insert(row.get(1), row.get(2));
            }
            let problems = compare(&actual, false);
            assert!(problems.is_empty(), "docs/schema.md and the Postgres migrations differ:\n{}", problems.join("\n"));
            client.batch_execute(&format!("SET search_path TO {schema}")).await.unwrap();
            for sql in examples() {
                let rows = client.query(&sql, &[]).await.unwrap_or_else(|e| panic!("{e:?}:\n{sql}"));
                assert!(!rows.is_empty(), "no rows on the sandbox database:\n{sql}");
            }
        });
    }));
    rt.block_on(client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).unwrap();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
