//! The one upsert statement per table and source: `INSERT ... SELECT` from the stage table,
//! `ON CONFLICT DO UPDATE` merging by column ownership, guarded by `IS DISTINCT FROM` so a row
//! that would not change is not touched, `RETURNING (xmax = 0)` to tell inserts from updates.

use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::query_error;
use crate::model::Source;
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

pub(super) fn cols(names: &[&'static str], merge: Merge) -> Vec<Col> {
    names.iter().map(|n| col(n, merge)).collect()
}

/// One `INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE changed RETURNING (xmax = 0)`.
pub(super) struct Upsert<'a> {
    pub(super) table: &'static str,
    pub(super) stage: &'a str,
    pub(super) key: &'static [&'static str],
    pub(super) cols: Vec<Col>,
    /// Columns set to an expression on insert and on every real change (`updated_at`).
    pub(super) stamps: Vec<(&'static str, &'static str)>,
    pub(super) filter: String,
}

impl Upsert<'_> {
    pub(super) fn sql(&self) -> String {
        let mut names: Vec<&str> = self.key.to_vec();
        let mut select: Vec<String> = self.key.iter().map(|k| format!("s.{k}")).collect();
        let mut set = Vec::new();
        let mut old = Vec::new();
        let mut new = Vec::new();
        for c in &self.cols {
            names.push(c.name);
            select.push(c.expr.clone());
            let n = c.name;
            let merged = match c.merge {
                Merge::Keep => format!("COALESCE(EXCLUDED.{n}, t.{n})"),
                Merge::Replace => format!("EXCLUDED.{n}"),
                Merge::KeepSeed => {
                    format!(
                        "CASE WHEN t.source = 'seed' AND EXCLUDED.source <> 'seed' THEN t.{n} ELSE EXCLUDED.{n} END"
                    )
                }
            };
            set.push(format!("{n} = {merged}"));
            old.push(format!("t.{n}"));
            new.push(merged);
        }
        for (name, expr) in &self.stamps {
            names.push(name);
            select.push((*expr).to_string());
            set.push(format!("{name} = EXCLUDED.{name}"));
        }
        format!(
            "INSERT INTO {table} AS t ({names}) SELECT {select} FROM {stage} s {filter} ORDER BY {order} \
             ON CONFLICT ({key}) DO UPDATE SET {set} WHERE ROW({old}) IS DISTINCT FROM ROW({new}) \
             RETURNING (xmax = 0)",
            table = self.table,
            names = names.join(", "),
            select = select.join(", "),
            stage = self.stage,
            filter = self.filter,
            key = self.key.join(", "),
            // Key order: concurrent writers touching the same rows lock them in one order, so
            // they wait for each other instead of deadlocking.
            order = self.key.iter().map(|k| format!("s.{k}")).collect::<Vec<_>>().join(", "),
            set = set.join(", "),
            old = old.join(", "),
            new = new.join(", "),
        )
    }

    /// Run it; `candidates` rows were eligible (staged and not filtered out).
    pub(super) async fn run(
        &self,
        tx: &Transaction<'_>,
        params: &[&(dyn ToSql + Sync)],
        candidates: usize,
    ) -> Result<TableCounts> {
        let rows = tx.query(&self.sql(), params).await.map_err(query_error(&format!("upsert into {}", self.table)))?;
        let inserted = rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
        let returned = rows.len() as u64;
        Ok(TableCounts {
            inserted,
            updated: returned - inserted,
            unchanged: (candidates as u64).saturating_sub(returned),
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
    "going_detailed",
    "surface",
    "jumps",
    "prize_currency",
    "field_size",
];
const RACE_SHARED_NUM: &[&str] = &["distance_f", "prize_amount"];
const RACE_RACECARD: &[&str] =
    &["big_race", "is_abandoned", "stalls", "weather", "rail_movements", "tip", "verdict", "betting_forecast"];
const RACE_RESULT: &[&str] = &[
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
    "rpr",
    "topspeed",
    "silk_url",
];
const RUNNER_RACECARD: &[&str] = &["form", "spotlight", "card_comment"];
const RUNNER_RESULT: &[&str] = &["position", "finish_position", "sp", "prize_currency", "finish_time", "comment"];
const RUNNER_RESULT_NUM: &[&str] = &["btn", "ovr_btn", "sp_decimal", "prize_amount", "finish_time_s"];

/// The columns a source writes, the shared ones first.
pub(super) fn race_cols(source: Source) -> Vec<Col> {
    let mut out: Vec<Col> = RACE_SHARED_TEXT.iter().map(|n| text(n, Merge::Keep)).collect();
    out.extend(cols(RACE_SHARED, Merge::Keep));
    out.extend(RACE_SHARED_NUM.iter().map(|n| num(n, Merge::Keep)));
    match source {
        Source::Racecard => out.extend(cols(RACE_RACECARD, Merge::Replace)),
        Source::Result => {
            out.extend(cols(RACE_RESULT, Merge::Replace));
            out.push(Col { name: "has_result", expr: "true".into(), merge: Merge::Replace });
        }
    }
    out
}

pub(super) fn runner_cols(source: Source) -> Vec<Col> {
    let mut out = vec![text("horse_name", Merge::Keep)];
    out.extend(cols(RUNNER_SHARED, Merge::Keep));
    match source {
        Source::Racecard => out.extend(cols(RUNNER_RACECARD, Merge::Replace)),
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
        let upsert = Upsert {
            table: "runners",
            stage: "stage_runners",
            key: &["race_id", "horse_id"],
            cols: runner_cols(Source::Result),
            stamps: stamps(Source::Result),
            filter: "WHERE s.src = 'result'".into(),
        };
        let sql = upsert.sql();
        assert!(sql.contains("draw = COALESCE(EXCLUDED.draw, t.draw)"), "{sql}");
        assert!(sql.contains("position = EXCLUDED.position"), "{sql}");
        assert!(sql.contains("s.btn::numeric"), "{sql}");
        assert!(!sql.contains("spotlight"), "a result never writes racecard columns: {sql}");
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
