//! The one upsert statement per table and source: `INSERT ... SELECT` from the rows' column
//! arrays (`unnest`), `ON CONFLICT DO UPDATE` merging by column ownership, guarded by
//! `IS DISTINCT FROM` so a row that would not change is not touched, `RETURNING (xmax = 0)` to
//! tell inserts from updates. Statements are prepared once per connection (the text depends only
//! on the table and source, never on the row count).

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use super::query_error;
use super::stage::{Columns, Staged, unnest};
use crate::model::Source;
use crate::store::keep::Settled;
use crate::store::{Result, TableCounts};

/// How an update combines the stored value `t.col` with the incoming `EXCLUDED.col`.
#[derive(Clone, Copy)]
pub(super) enum Merge {
    /// Shared column: the incoming value unless it is NULL (a source's blank never erases).
    Keep,
    /// Owned column: the incoming value.
    Replace,
    /// A bookmaker column: a seeded row keeps its value unless the incoming row is a seed too.
    KeepSeed,
    /// A required text: the incoming value unless it is `''` (a name the source did not know).
    Filled,
    /// A shared column written by a racecard: `Keep` until a result settled the stored row, then
    /// the stored value unless it is NULL (see [`Settled`]).
    Settled(Settled),
}

pub(super) struct Col {
    pub(super) name: &'static str,
    pub(super) expr: String,
    pub(super) merge: Merge,
}

pub(super) fn col(name: &'static str, merge: Merge) -> Col {
    Col { name, expr: format!("s.{name}"), merge }
}

/// A text column where `""` means absent.
pub(super) fn text(name: &'static str, merge: Merge) -> Col {
    Col { name, expr: format!("NULLIF(s.{name}, '')"), merge }
}

/// A numeric column staged as float8.
pub(super) fn num(name: &'static str, merge: Merge) -> Col {
    Col { name, expr: format!("s.{name}::numeric"), merge }
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
    match c.merge {
        Merge::Keep => format!("COALESCE({new}, {stored}.{n})"),
        Merge::Replace => new,
        Merge::Filled => format!("COALESCE(NULLIF({new}, ''), {stored}.{n})"),
        Merge::KeepSeed => format!(
            "CASE WHEN {stored}.source = 'seed' AND {} <> 'seed' THEN {stored}.{n} ELSE {new} END",
            incoming("source")
        ),
        Merge::Settled(settled) => settled.racecard_merge(stored, n, &new),
    }
}

pub(super) fn cols(names: &[&'static str], merge: Merge) -> Vec<Col> {
    names.iter().map(|n| col(n, merge)).collect()
}

/// One `INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE changed RETURNING (xmax = 0)`,
/// with the rows it writes.
pub(super) struct Upsert<'r> {
    pub(super) table: &'static str,
    pub(super) key: &'static [&'static str],
    pub(super) cols: Vec<Col>,
    /// Columns set to an expression on insert and on every real change (`updated_at`).
    pub(super) stamps: Vec<(&'static str, &'static str)>,
    /// The `unnest(...) AS s(...)` that reads the rows.
    from: String,
    rows: Columns<'r>,
    /// Parameters before the arrays: `$1` ... (`runner_odds.fetched_at`).
    before: Vec<&'r (dyn ToSql + Sync)>,
}

impl<'r> Upsert<'r> {
    /// An upsert of `rows` into `table` keyed on `key`; `None` when there are no rows.
    pub(super) fn new<T: Staged>(
        table: &'static str,
        key: &'static [&'static str],
        cols: Vec<Col>,
        rows: &[&'r T],
    ) -> Result<Option<Self>> {
        if rows.is_empty() {
            return Ok(None);
        }
        let rows = Columns::new(table, rows)?;
        Ok(Some(Upsert { table, key, cols, stamps: Vec::new(), from: unnest::<T>(1), rows, before: Vec::new() }))
    }

    pub(super) fn stamped(mut self, stamps: Vec<(&'static str, &'static str)>) -> Self {
        self.stamps = stamps;
        self
    }

    /// Parameters the stamps name (`$1`, ...); the arrays are numbered after them.
    pub(super) fn with_params<T: Staged>(mut self, before: Vec<&'r (dyn ToSql + Sync)>) -> Self {
        self.from = unnest::<T>(before.len() + 1);
        self.before = before;
        self
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

const RACE_SHARED_TEXT: &[&str] = &["course_id", "course_name", "region"];
const RACE_SHARED: &[&str] = &[
    "race_date",
    "off_at",
    "race_name",
    "race_type",
    "race_class",
    "pattern",
    "rating_band",
    "age_band",
    "sex_restriction",
    "distance",
    "distance_y",
    "distance_m",
    "going",
    "surface",
    "jumps",
];
const RACE_SHARED_NUM: &[&str] = &["distance_f"];
/// Only racecards send these; a blank card never erases an earlier card's value.
const RACE_RACECARD_KEEP: &[&str] = &["going_detailed", "prize_currency", "field_size"];
const RACE_RACECARD_KEEP_NUM: &[&str] = &["prize_amount"];
const RACE_RACECARD: &[&str] =
    &["big_race", "is_abandoned", "stalls", "weather", "rail_movements", "tip", "verdict", "betting_forecast"];
const RACE_RESULT: &[&str] = &[
    "ran",
    "winning_time_detail",
    "comments",
    "non_runners",
    "tote_win",
    "tote_pl",
    "tote_ex",
    "tote_csf",
    "tote_tricast",
    "tote_trifecta",
];

const RUNNER_SHARED: &[&str] = &[
    "number",
    "draw",
    "age",
    "sex_code",
    "jockey_id",
    "jockey_name",
    "jockey_claim_lbs",
    "trainer_id",
    "trainer_name",
    "owner_id",
    "owner_name",
    "sire_id",
    "dam_id",
    "damsire_id",
    "weight_lbs",
    "headgear",
    "official_rating",
    "silk_url",
];
/// The ratings going into the race: racecards' own, a blank card never erases them.
const RUNNER_RACECARD_KEEP: &[&str] = &["rpr", "topspeed"];
const RUNNER_RACECARD: &[&str] = &["form", "spotlight", "card_comment"];
const RUNNER_RESULT: &[&str] =
    &["result_rpr", "result_topspeed", "position", "finish_position", "sp", "prize_currency", "finish_time", "comment"];
const RUNNER_RESULT_NUM: &[&str] = &["btn", "ovr_btn", "sp_decimal", "prize_amount", "finish_time_s"];

/// How a source writes the columns both sources provide: a result `Keep`s (`COALESCE(new,
/// old)`); a racecard defers to a stored result ([`Settled`]).
fn shared(source: Source, settled: Settled) -> Merge {
    match source {
        Source::Racecard => Merge::Settled(settled),
        Source::Result => Merge::Keep,
    }
}

/// The columns a source writes, the shared ones first.
pub(super) fn race_cols(source: Source) -> Vec<Col> {
    let merge = shared(source, Settled::Race);
    let mut out: Vec<Col> = RACE_SHARED_TEXT.iter().map(|n| text(n, merge)).collect();
    out.extend(cols(RACE_SHARED, merge));
    out.extend(RACE_SHARED_NUM.iter().map(|n| num(n, merge)));
    match source {
        Source::Racecard => {
            out.extend(cols(RACE_RACECARD_KEEP, Merge::Keep));
            out.extend(RACE_RACECARD_KEEP_NUM.iter().map(|n| num(n, Merge::Keep)));
            out.extend(cols(RACE_RACECARD, Merge::Replace));
        }
        Source::Result => {
            out.extend(cols(RACE_RESULT, Merge::Replace));
            out.push(Col { name: "has_result", expr: "true".into(), merge: Merge::Replace });
        }
    }
    out
}

pub(super) fn runner_cols(source: Source) -> Vec<Col> {
    let merge = shared(source, Settled::Runner);
    let mut out = vec![text("horse_name", merge)];
    out.extend(cols(RUNNER_SHARED, merge));
    match source {
        Source::Racecard => {
            out.extend(cols(RUNNER_RACECARD_KEEP, Merge::Keep));
            out.extend(cols(RUNNER_RACECARD, Merge::Replace));
        }
        Source::Result => {
            out.extend(cols(RUNNER_RESULT, Merge::Replace));
            out.extend(RUNNER_RESULT_NUM.iter().map(|n| num(n, Merge::Replace)));
        }
    }
    out
}

pub(super) fn stamps(source: Source) -> Vec<(&'static str, &'static str)> {
    match source {
        Source::Racecard => vec![("racecard_updated_at", "now()"), ("updated_at", "now()")],
        Source::Result => vec![("result_updated_at", "now()"), ("updated_at", "now()")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_merge_shared_columns_and_guard_unchanged_rows() {
        let runner: crate::model::Runner = serde_json::from_value(serde_json::json!({
            "source": "result", "race_id": "rac_1", "horse_id": "hrs_1", "horse_name": "H"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let upsert = Upsert::new("runners", &["race_id", "horse_id"], runner_cols(Source::Result), &[&runner])
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("one row"))
            .stamped(stamps(Source::Result));
        let sql = upsert.sql();
        assert!(sql.contains("FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[]"), "{sql}");
        assert!(sql.contains("draw = COALESCE(EXCLUDED.draw, t.draw)"), "{sql}");
        assert!(sql.contains("position = EXCLUDED.position"), "{sql}");
        assert!(sql.contains("s.btn::numeric"), "{sql}");
        let (insert, rest) = sql.split_once(" SELECT ").unwrap_or_default();
        let set = rest.split_once(" DO UPDATE SET ").map(|(_, s)| s).unwrap_or_default();
        assert!(
            !insert.contains("spotlight") && !set.contains("spotlight"),
            "a result never writes racecard columns: {sql}"
        );
        assert!(sql.contains("IS DISTINCT FROM"), "{sql}");
        assert!(sql.contains("result_updated_at = EXCLUDED.result_updated_at"), "{sql}");
        assert!(sql.ends_with("RETURNING (xmax = 0)"), "{sql}");
    }

    #[test]
    fn racecards_never_write_result_columns() {
        let names: Vec<&str> = race_cols(Source::Racecard).iter().map(|c| c.name).collect();
        assert!(names.contains(&"verdict"));
        assert!(!names.contains(&"tote_win") && !names.contains(&"has_result"));
        let names: Vec<&str> = runner_cols(Source::Racecard).iter().map(|c| c.name).collect();
        assert!(!names.contains(&"position") && !names.contains(&"comment"));
    }
}
