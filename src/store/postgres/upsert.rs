//! The PostgreSQL upsert, rendered from a table's declaration (`store::columns`): one statement
//! per table and source, `INSERT ... SELECT` from the rows' column arrays (`unnest`),
//! `ON CONFLICT DO UPDATE` merging each column by its declared rule, guarded by
//! `IS DISTINCT FROM` so a row that would not change is not touched, `RETURNING (xmax = 0)` to
//! tell inserts from updates. Statements are prepared once per connection (the text depends only
//! on the table and source, never on the row count).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::query_error;
use super::stage::{Columns, unnest};
use crate::model::Source;
use crate::store::columns::{Get, Merge, Stamp, Table, Ty};
use crate::store::{Error, Result, TableCounts};

/// A written column that is not part of the key: its incoming value (`expr`, over the unnested
/// row `s`) and how it merges.
struct Col {
    name: &'static str,
    expr: String,
    rule: Merge,
}

/// A statement prepared once per connection (`cache`), or for this use only: behind a
/// transaction-mode pooler consecutive transactions may reach different server connections, where
/// a statement prepared on another one does not exist.
pub(super) async fn prepare(
    tx: &impl GenericClient,
    sql: &str,
    cache: bool,
) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    if cache { tx.prepare_cached(sql).await } else { tx.prepare(sql).await }
}

/// The value a column takes on conflict: `stored` is the stored row's alias, `incoming(name)` the
/// incoming value of a column.
fn merged(c: &Col, stored: &str, incoming: &dyn Fn(&str) -> String) -> String {
    let (n, new) = (c.name, incoming(c.name));
    match c.rule {
        Merge::Keep => format!("COALESCE({new}, {stored}.{n})"),
        Merge::Key | Merge::Replace | Merge::Touch(_) => new,
        Merge::Filled => format!("COALESCE(NULLIF({new}, ''), {stored}.{n})"),
        Merge::KeepSeed => format!(
            "CASE WHEN {stored}.source = 'seed' AND {} <> 'seed' THEN {stored}.{n} ELSE {new} END",
            incoming("source")
        ),
        Merge::Settled(settled) => settled.racecard_merge(stored, n, &new),
    }
}

/// One `INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE changed RETURNING (xmax = 0)`,
/// with the rows it writes.
pub(super) struct Upsert<'r> {
    pub(super) table: &'static str,
    key: Vec<&'static str>,
    cols: Vec<Col>,
    /// Columns set to an expression on insert and on every real change (`updated_at`).
    stamps: Vec<(&'static str, &'static str)>,
    /// The `unnest(...) AS s(...)` that reads the rows.
    from: String,
    rows: Columns<'r>,
    /// Parameters before the arrays: `$1` ... (`runner_odds.fetched_at`).
    before: Vec<&'r (dyn ToSql + Sync)>,
}

impl<'r> Upsert<'r> {
    /// The upsert of `rows` into `table` as one write sends them (`source`: the feed of races
    /// and runners, `None` for other tables); `None` when there are no rows. `fetched_at` is the
    /// unit's fetch time, for tables stamped with it.
    pub(super) fn new<R>(
        table: &'static Table<R>,
        source: Option<Source>,
        rows: &[&'r R],
        fetched_at: Option<&'r DateTime<Utc>>,
    ) -> Result<Option<Self>> {
        if rows.is_empty() {
            return Ok(None);
        }
        let written = table.written(source);
        let (mut key, mut cols, mut stamps, mut staged) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut before: Vec<&'r (dyn ToSql + Sync)> = Vec::new();
        for w in &written {
            let (name, ty) = (w.column.name, w.column.ty);
            match (w.rule, &w.column.get) {
                (Merge::Touch(Stamp::Write), _) => stamps.push((name, "now()")),
                (Merge::Touch(Stamp::Fetched), _) => {
                    let Some(at) = fetched_at else {
                        return Err(Error::Query(format!(
                            "internal: {}.{name} is stamped with the fetch time, which this write lacks; this is a bug",
                            table.name
                        )));
                    };
                    before = vec![at];
                    stamps.push((name, "$1::timestamptz"));
                }
                (Merge::Key, _) => {
                    key.push(name);
                    staged.push((name, ty));
                }
                (rule, Get::Row(_)) => {
                    let expr = match ty {
                        Ty::BlankText => format!("NULLIF(s.{name}, '')"),
                        Ty::Numeric => format!("s.{name}::numeric"),
                        _ => format!("s.{name}"),
                    };
                    cols.push(Col { name, expr, rule });
                    staged.push((name, ty));
                }
                (_, Get::Stamp(_)) => {
                    return Err(Error::Query(format!(
                        "internal: {}.{name} is a stamp not declared as touched; this is a bug",
                        table.name
                    )));
                }
            }
        }
        let rows = Columns::new(table.name, &written, rows)?;
        let from = unnest(&staged, before.len() + 1);
        Ok(Some(Upsert { table: table.name, key, cols, stamps, from, rows, before }))
    }

    pub(super) fn sql(&self) -> String {
        let mut names: Vec<&str> = self.key.to_vec();
        let mut select: Vec<String> = self.key.iter().map(|k| format!("s.{k}")).collect();
        let mut set = Vec::new();
        let (mut old, mut new) = (Vec::new(), Vec::new());
        let (mut current, mut incoming) = (Vec::new(), Vec::new());
        // What a column's incoming value is: in ON CONFLICT `EXCLUDED.col`, in the SELECT its expression.
        let expr_of =
            |name: &str| self.cols.iter().find(|c| c.name == name).map_or(format!("s.{name}"), |c| c.expr.clone());
        for c in &self.cols {
            names.push(c.name);
            select.push(c.expr.clone());
            set.push(format!("{} = {}", c.name, merged(c, "t", &|n| format!("EXCLUDED.{n}"))));
            old.push(format!("t.{}", c.name));
            new.push(merged(c, "t", &|n| format!("EXCLUDED.{n}")));
            current.push(format!("c.{}", c.name));
            incoming.push(merged(c, "c", &expr_of));
        }
        for (name, expr) in &self.stamps {
            names.push(name);
            select.push((*expr).to_string());
            set.push(format!("{name} = EXCLUDED.{name}"));
        }
        let on: Vec<String> = self.key.iter().map(|k| format!("c.{k} = s.{k}")).collect();
        // Rows that would not change are dropped before they reach ON CONFLICT: there a row that
        // conflicts is locked (a WAL record and a dirtied page) even when the guard then leaves it
        // alone. The guard stays for rows another transaction changes in between.
        let changed = if current.is_empty() {
            format!("c.{} IS NULL", self.key[0])
        } else {
            format!(
                "c.{} IS NULL OR ROW({}) IS DISTINCT FROM ROW({})",
                self.key[0],
                current.join(", "),
                incoming.join(", ")
            )
        };
        let conflict = if set.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!(
                "DO UPDATE SET {} WHERE ROW({}) IS DISTINCT FROM ROW({})",
                set.join(", "),
                old.join(", "),
                new.join(", ")
            )
        };
        format!(
            "INSERT INTO {table} AS t ({names}) SELECT {select} FROM {from} LEFT JOIN {table} AS c ON {on} \
             WHERE {changed} ORDER BY {order} ON CONFLICT ({key}) {conflict} RETURNING (xmax = 0)",
            table = self.table,
            names = names.join(", "),
            select = select.join(", "),
            from = self.from,
            on = on.join(" AND "),
            key = self.key.join(", "),
            // Key order: concurrent writers touching the same rows lock them in one order, so
            // they wait for each other instead of deadlocking.
            order = self.key.iter().map(|k| format!("s.{k}")).collect::<Vec<_>>().join(", "),
        )
    }

    /// Run it: every row was a candidate, so unchanged = rows - returned.
    pub(super) async fn run(&self, tx: &impl GenericClient, cache: bool) -> Result<TableCounts> {
        let what = || format!("upsert into {}", self.table);
        let statement = prepare(tx, &self.sql(), cache).await.map_err(query_error(&what()))?;
        let rows = tx.query(&statement, &self.rows.params(&self.before)).await.map_err(query_error(&what()))?;
        let inserted = rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
        let returned = rows.len() as u64;
        Ok(TableCounts {
            inserted,
            updated: returned - inserted,
            unchanged: (self.rows.rows() as u64).saturating_sub(returned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::columns::RUNNERS;

    /// The upsert of one runner of `source`.
    fn runner_sql(source: Source) -> String {
        let runner: crate::model::Runner = serde_json::from_value(serde_json::json!({
            "source": source, "race_id": "rac_1", "horse_id": "hrs_1", "horse_name": "H"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let upsert = Upsert::new(&RUNNERS, Some(source), &[&runner], None).unwrap_or_else(|e| panic!("{e}"));
        upsert.map(|u| u.sql()).unwrap_or_else(|| panic!("one row"))
    }

    #[test]
    fn upserts_merge_shared_columns_and_guard_unchanged_rows() {
        let sql = runner_sql(Source::Result);
        assert!(sql.contains("FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[]"), "{sql}");
        assert!(sql.contains("draw = COALESCE(EXCLUDED.draw, t.draw)"), "{sql}");
        assert!(sql.contains("position = EXCLUDED.position"), "{sql}");
        assert!(sql.contains("s.btn::numeric"), "{sql}");
        assert!(sql.contains("NULLIF(s.horse_name, '')"), "{sql}");
        assert!(!sql.contains("spotlight"), "a result never writes racecard columns: {sql}");
        assert!(sql.contains("IS DISTINCT FROM"), "{sql}");
        assert!(sql.contains("result_updated_at = EXCLUDED.result_updated_at"), "{sql}");
        assert!(sql.contains("updated_at = EXCLUDED.updated_at"), "{sql}");
        assert!(sql.ends_with("RETURNING (xmax = 0)"), "{sql}");
    }

    #[test]
    fn a_racecard_defers_to_a_settled_row_and_a_seed_keeps_its_bookmaker() {
        let sql = runner_sql(Source::Racecard);
        assert!(
            sql.contains("draw = CASE WHEN t.result_updated_at IS NOT NULL THEN COALESCE(t.draw, EXCLUDED.draw)"),
            "{sql}"
        );
        assert!(!sql.contains("position") && !sql.contains("result_updated_at = "), "{sql}");
        let book = crate::store::columns::BookmakerRow {
            code: "b".into(),
            name: "B".into(),
            kind: "online",
            source: "odds".into(),
        };
        let sql = Upsert::new(&crate::store::columns::BOOKMAKERS, None, &[&book], None)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|u| u.sql())
            .unwrap_or_default();
        assert!(
            sql.contains(
                "name = CASE WHEN t.source = 'seed' AND EXCLUDED.source <> 'seed' THEN t.name ELSE EXCLUDED.name END"
            ),
            "{sql}"
        );
    }
}
