//! PostgreSQL writes: each call is one transaction. Rows are binary-COPYed into a
//! transaction-scoped stage table, then ONE `INSERT ... SELECT ... ON CONFLICT DO UPDATE ...
//! WHERE (old) IS DISTINCT FROM (new) RETURNING (xmax = 0)` per table and source moves them in.
//!
//! No statement binds more than one parameter, so the 65,535 bind limit never applies and
//! `database.batch_size` has nothing to batch here: COPY streams any number of rows. The guard
//! leaves a row that would not change untouched (timestamps included), and the RETURNING rows
//! tell inserted (`xmax = 0`) from updated; unchanged = staged - skipped - returned.

use std::collections::HashMap;
use std::hash::Hash;
use std::io::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{PgStore, query_error};
use crate::model::{
    Ancestor, Bookmaker, Course, Entities, Horse, Kind, Person, Race, RawResponse, Region, Runner,
    RunnerOdds, Skipped, Source, Trainer, Unit,
};
use crate::store::{Error, ReferenceData, Result, TableCounts, WriteStats};

type Values<'a> = Vec<&'a (dyn ToSql + Sync)>;

/// A row that can be COPYed into a stage table: its columns (name, COPY type) and values.
trait Staged {
    const COLUMNS: &'static [(&'static str, Type)];
    fn values(&self) -> Values<'_>;
}

const TEXT: Type = Type::TEXT;
const INT: Type = Type::INT4;
const FLOAT: Type = Type::FLOAT8;
const BOOL: Type = Type::BOOL;
const DATE: Type = Type::DATE;
const INSTANT: Type = Type::TIMESTAMPTZ;
const BYTES: Type = Type::BYTEA;

fn source_str(source: Source) -> &'static &'static str {
    match source {
        Source::Racecard => &"racecard",
        Source::Result => &"result",
    }
}

impl Staged for Course {
    const COLUMNS: &'static [(&'static str, Type)] = &[
        ("id", TEXT),
        ("name", TEXT),
        ("region_code", TEXT),
        ("region", TEXT),
    ];
    fn values(&self) -> Values<'_> {
        vec![&self.id, &self.name, &self.region_code, &self.region]
    }
}

impl Staged for Region {
    const COLUMNS: &'static [(&'static str, Type)] = &[("code", TEXT), ("name", TEXT)];
    fn values(&self) -> Values<'_> {
        vec![&self.code, &self.name]
    }
}

impl Staged for Horse {
    const COLUMNS: &'static [(&'static str, Type)] = &[
        ("id", TEXT),
        ("name", TEXT),
        ("sex_code", TEXT),
        ("dob", DATE),
        ("colour", TEXT),
        ("breeder", TEXT),
        ("region", TEXT),
        ("sire_id", TEXT),
        ("dam_id", TEXT),
        ("damsire_id", TEXT),
    ];
    fn values(&self) -> Values<'_> {
        vec![
            &self.id,
            &self.name,
            &self.sex_code,
            &self.dob,
            &self.colour,
            &self.breeder,
            &self.region,
            &self.sire_id,
            &self.dam_id,
            &self.damsire_id,
        ]
    }
}

impl Staged for Person {
    const COLUMNS: &'static [(&'static str, Type)] = &[("id", TEXT), ("name", TEXT)];
    fn values(&self) -> Values<'_> {
        vec![&self.id, &self.name]
    }
}

impl Staged for Trainer {
    const COLUMNS: &'static [(&'static str, Type)] =
        &[("id", TEXT), ("name", TEXT), ("location", TEXT)];
    fn values(&self) -> Values<'_> {
        vec![&self.id, &self.name, &self.location]
    }
}

impl Staged for Ancestor {
    const COLUMNS: &'static [(&'static str, Type)] =
        &[("id", TEXT), ("name", TEXT), ("region", TEXT)];
    fn values(&self) -> Values<'_> {
        vec![&self.id, &self.name, &self.region]
    }
}

/// A bookmaker with its kind as text.
struct StagedBookmaker {
    code: String,
    name: String,
    kind: &'static str,
    source: String,
}

impl StagedBookmaker {
    fn new(b: &Bookmaker, source: &str) -> Self {
        Self {
            code: b.code.clone(),
            name: b.name.clone(),
            kind: b.kind.as_str(),
            source: source.to_string(),
        }
    }
}

impl Staged for StagedBookmaker {
    const COLUMNS: &'static [(&'static str, Type)] = &[
        ("code", TEXT),
        ("name", TEXT),
        ("kind", TEXT),
        ("source", TEXT),
    ];
    fn values(&self) -> Values<'_> {
        vec![&self.code, &self.name, &self.kind, &self.source]
    }
}

impl Staged for Race {
    const COLUMNS: &'static [(&'static str, Type)] = &[
        ("src", TEXT),
        ("id", TEXT),
        ("course_id", TEXT),
        ("course_name", TEXT),
        ("race_date", DATE),
        ("off_at", INSTANT),
        ("region", TEXT),
        ("race_name", TEXT),
        ("race_type", TEXT),
        ("race_class", TEXT),
        ("pattern", TEXT),
        ("rating_band", TEXT),
        ("age_band", TEXT),
        ("sex_restriction", TEXT),
        ("distance", TEXT),
        ("distance_f", FLOAT),
        ("distance_y", INT),
        ("distance_m", INT),
        ("going", TEXT),
        ("going_detailed", TEXT),
        ("surface", TEXT),
        ("jumps", TEXT),
        ("prize_amount", FLOAT),
        ("prize_currency", TEXT),
        ("field_size", INT),
        ("big_race", BOOL),
        ("is_abandoned", BOOL),
        ("stalls", TEXT),
        ("weather", TEXT),
        ("rail_movements", TEXT),
        ("tip", TEXT),
        ("verdict", TEXT),
        ("betting_forecast", TEXT),
        ("winning_time_detail", TEXT),
        ("comments", TEXT),
        ("non_runners", TEXT),
        ("tote_win", TEXT),
        ("tote_pl", TEXT),
        ("tote_ex", TEXT),
        ("tote_csf", TEXT),
        ("tote_tricast", TEXT),
        ("tote_trifecta", TEXT),
    ];
    fn values(&self) -> Values<'_> {
        vec![
            source_str(self.source),
            &self.id,
            &self.course_id,
            &self.course_name,
            &self.race_date,
            &self.off_at,
            &self.region,
            &self.race_name,
            &self.race_type,
            &self.race_class,
            &self.pattern,
            &self.rating_band,
            &self.age_band,
            &self.sex_restriction,
            &self.distance,
            &self.distance_f,
            &self.distance_y,
            &self.distance_m,
            &self.going,
            &self.going_detailed,
            &self.surface,
            &self.jumps,
            &self.prize_amount,
            &self.prize_currency,
            &self.field_size,
            &self.big_race,
            &self.is_abandoned,
            &self.stalls,
            &self.weather,
            &self.rail_movements,
            &self.tip,
            &self.verdict,
            &self.betting_forecast,
            &self.winning_time_detail,
            &self.comments,
            &self.non_runners,
            &self.tote_win,
            &self.tote_pl,
            &self.tote_ex,
            &self.tote_csf,
            &self.tote_tricast,
            &self.tote_trifecta,
        ]
    }
}

impl Staged for Runner {
    const COLUMNS: &'static [(&'static str, Type)] = &[
        ("src", TEXT),
        ("race_id", TEXT),
        ("horse_id", TEXT),
        ("horse_name", TEXT),
        ("number", INT),
        ("draw", INT),
        ("age", INT),
        ("sex_code", TEXT),
        ("jockey_id", TEXT),
        ("jockey_name", TEXT),
        ("jockey_claim_lbs", INT),
        ("trainer_id", TEXT),
        ("trainer_name", TEXT),
        ("owner_id", TEXT),
        ("owner_name", TEXT),
        ("sire_id", TEXT),
        ("dam_id", TEXT),
        ("damsire_id", TEXT),
        ("weight_lbs", INT),
        ("headgear", TEXT),
        ("official_rating", INT),
        ("rpr", INT),
        ("topspeed", INT),
        ("silk_url", TEXT),
        ("form", TEXT),
        ("spotlight", TEXT),
        ("card_comment", TEXT),
        ("position", TEXT),
        ("finish_position", INT),
        ("btn", FLOAT),
        ("ovr_btn", FLOAT),
        ("sp", TEXT),
        ("sp_decimal", FLOAT),
        ("prize_amount", FLOAT),
        ("prize_currency", TEXT),
        ("finish_time", TEXT),
        ("finish_time_s", FLOAT),
        ("comment", TEXT),
    ];
    fn values(&self) -> Values<'_> {
        vec![
            source_str(self.source),
            &self.race_id,
            &self.horse_id,
            &self.horse_name,
            &self.number,
            &self.draw,
            &self.age,
            &self.sex_code,
            &self.jockey_id,
            &self.jockey_name,
            &self.jockey_claim_lbs,
            &self.trainer_id,
            &self.trainer_name,
            &self.owner_id,
            &self.owner_name,
            &self.sire_id,
            &self.dam_id,
            &self.damsire_id,
            &self.weight_lbs,
            &self.headgear,
            &self.official_rating,
            &self.rpr,
            &self.topspeed,
            &self.silk_url,
            &self.form,
            &self.spotlight,
            &self.card_comment,
            &self.position,
            &self.finish_position,
            &self.btn,
            &self.ovr_btn,
            &self.sp,
            &self.sp_decimal,
            &self.prize_amount,
            &self.prize_currency,
            &self.finish_time,
            &self.finish_time_s,
            &self.comment,
        ]
    }
}

impl Staged for RunnerOdds {
    const COLUMNS: &'static [(&'static str, Type)] = &[
        ("race_id", TEXT),
        ("horse_id", TEXT),
        ("bookmaker", TEXT),
        ("fractional", TEXT),
        ("decimal", FLOAT),
        ("ew_places", INT),
        ("ew_denom", INT),
        ("quoted_at", INSTANT),
    ];
    fn values(&self) -> Values<'_> {
        vec![
            &self.race_id,
            &self.horse_id,
            &self.bookmaker,
            &self.fractional,
            &self.decimal,
            &self.ew_places,
            &self.ew_denom,
            &self.quoted_at,
        ]
    }
}

/// A raw response ready to store: gzip of the exact bytes and the sha256 of the raw bytes.
struct StagedResponse {
    endpoint: String,
    params: String,
    status: i32,
    fetched_at: DateTime<Utc>,
    sha256: String,
    encoding: &'static str,
    body: Vec<u8>,
}

impl StagedResponse {
    fn new(r: &RawResponse) -> Result<Self> {
        let mut gz = GzEncoder::new(
            Vec::with_capacity(r.body.len() / 4 + 64),
            Compression::default(),
        );
        let body = gz
            .write_all(&r.body)
            .and_then(|()| gz.finish())
            .map_err(|e| {
                Error::Query(format!(
                    "gzip the response of {}?{}: {e}",
                    r.endpoint, r.params
                ))
            })?;
        Ok(Self {
            endpoint: r.endpoint.clone(),
            params: r.params.clone(),
            status: i32::from(r.status),
            fetched_at: r.fetched_at,
            sha256: format!("{:x}", Sha256::digest(&r.body)),
            encoding: "gzip",
            body,
        })
    }
}

impl Staged for StagedResponse {
    const COLUMNS: &'static [(&'static str, Type)] = &[
        ("endpoint", TEXT),
        ("params", TEXT),
        ("status", INT),
        ("fetched_at", INSTANT),
        ("sha256", TEXT),
        ("encoding", TEXT),
        ("body", BYTES),
    ];
    fn values(&self) -> Values<'_> {
        vec![
            &self.endpoint,
            &self.params,
            &self.status,
            &self.fetched_at,
            &self.sha256,
            &self.encoding,
            &self.body,
        ]
    }
}

/// Keeps the last row of each key (the newest description wins), in first-seen order; rows with
/// an empty key part and earlier duplicates are reported as skipped.
fn dedupe<'a, T, K: Hash + Eq>(
    rows: &'a [T],
    what: &str,
    key: impl Fn(&T) -> K,
    label: impl Fn(&T) -> String,
    valid: impl Fn(&T) -> bool,
    skipped: &mut Vec<Skipped>,
) -> Vec<&'a T> {
    let mut index: HashMap<K, usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<&T> = Vec::with_capacity(rows.len());
    for row in rows {
        if !valid(row) {
            skipped.push(Skipped {
                record: format!("{what} {}", label(row)),
                reason: "empty key".into(),
            });
            continue;
        }
        match index.get(&key(row)) {
            Some(&i) => {
                skipped.push(Skipped {
                    record: format!("{what} {}", label(row)),
                    reason: "listed twice in one write; the later row was kept".into(),
                });
                out[i] = row;
            }
            None => {
                index.insert(key(row), out.len());
                out.push(row);
            }
        }
    }
    out
}

/// Create `stage_<name>` for this transaction and COPY the rows into it.
async fn stage<T: Staged>(tx: &Transaction<'_>, name: &str, rows: &[&T]) -> Result<String> {
    let table = format!("stage_{name}");
    let defs: Vec<String> = T::COLUMNS
        .iter()
        .map(|(c, t)| format!("{c} {}", t.name()))
        .collect();
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {table} ({}) ON COMMIT DROP",
        defs.join(", ")
    ))
    .await
    .map_err(query_error(&format!("create the stage table for {name}")))?;
    let names: Vec<&str> = T::COLUMNS.iter().map(|(c, _)| *c).collect();
    let sink = tx
        .copy_in(&format!(
            "COPY {table} ({}) FROM STDIN (FORMAT binary)",
            names.join(", ")
        ))
        .await
        .map_err(query_error(&format!(
            "start COPY into the stage table for {name}"
        )))?;
    let types: Vec<Type> = T::COLUMNS.iter().map(|(_, t)| t.clone()).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for row in rows {
        writer
            .as_mut()
            .write(&row.values())
            .await
            .map_err(query_error(&format!(
                "COPY a row into the stage table for {name}"
            )))?;
    }
    writer.finish().await.map_err(query_error(&format!(
        "finish COPY into the stage table for {name}"
    )))?;
    Ok(table)
}

/// How an update combines the stored value `t.col` with the incoming `EXCLUDED.col`.
#[derive(Clone, Copy)]
enum Merge {
    /// Shared column: the incoming value unless it is NULL (a source's blank never erases).
    Keep,
    /// Owned column: the incoming value.
    Replace,
    /// A bookmaker column: a seeded row keeps its value unless the incoming row is a seed too.
    KeepSeed,
}

struct Col {
    name: &'static str,
    expr: String,
    merge: Merge,
}

fn col(name: &'static str, merge: Merge) -> Col {
    Col {
        name,
        expr: format!("s.{name}"),
        merge,
    }
}

/// A text column where `""` means absent.
fn text(name: &'static str, merge: Merge) -> Col {
    Col {
        name,
        expr: format!("NULLIF(s.{name}, '')"),
        merge,
    }
}

/// A numeric column staged as float8.
fn num(name: &'static str, merge: Merge) -> Col {
    Col {
        name,
        expr: format!("s.{name}::numeric"),
        merge,
    }
}

fn cols(names: &[&'static str], merge: Merge) -> Vec<Col> {
    names.iter().map(|n| col(n, merge)).collect()
}

/// One `INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE changed RETURNING (xmax = 0)`.
struct Upsert<'a> {
    table: &'static str,
    stage: &'a str,
    key: &'static [&'static str],
    cols: Vec<Col>,
    /// Columns set to an expression on insert and on every real change (`updated_at`).
    stamps: Vec<(&'static str, &'static str)>,
    filter: String,
}

impl Upsert<'_> {
    fn sql(&self) -> String {
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
            "INSERT INTO {table} AS t ({names}) SELECT {select} FROM {stage} s {filter} \
             ON CONFLICT ({key}) DO UPDATE SET {set} WHERE ROW({old}) IS DISTINCT FROM ROW({new}) \
             RETURNING (xmax = 0)",
            table = self.table,
            names = names.join(", "),
            select = select.join(", "),
            stage = self.stage,
            filter = self.filter,
            key = self.key.join(", "),
            set = set.join(", "),
            old = old.join(", "),
            new = new.join(", "),
        )
    }

    /// Run it; `candidates` rows were eligible (staged and not filtered out).
    async fn run(
        &self,
        tx: &Transaction<'_>,
        params: &[&(dyn ToSql + Sync)],
        candidates: usize,
    ) -> Result<TableCounts> {
        let rows = tx
            .query(&self.sql(), params)
            .await
            .map_err(query_error(&format!("upsert into {}", self.table)))?;
        let inserted = rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
        let returned = rows.len() as u64;
        Ok(TableCounts {
            inserted,
            updated: returned - inserted,
            unchanged: (candidates as u64).saturating_sub(returned),
        })
    }
}

/// Stage and upsert an entity table whose columns are all shared except `name`.
async fn upsert_entities<T: Staged>(
    tx: &Transaction<'_>,
    table: &'static str,
    rows: &[T],
    id: impl Fn(&T) -> &str,
    cols: Vec<Col>,
    stamped: bool,
    stats: &mut WriteStats,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let kept = dedupe(
        rows,
        table,
        |r| id(r).to_string(),
        |r| id(r).to_string(),
        |r| !id(r).is_empty(),
        &mut stats.skipped,
    );
    let stage = stage(tx, table, &kept).await?;
    let upsert = Upsert {
        table,
        stage: &stage,
        key: &["id"],
        cols,
        stamps: if stamped {
            vec![("updated_at", "now()")]
        } else {
            Vec::new()
        },
        filter: String::new(),
    };
    let counts = upsert.run(tx, &[], kept.len()).await?;
    stats.add(table, counts);
    Ok(())
}

async fn write_entities(tx: &Transaction<'_>, e: &Entities, stats: &mut WriteStats) -> Result<()> {
    use Merge::{Keep, Replace};
    let course_cols = || {
        vec![
            col("name", Replace),
            text("region_code", Keep),
            text("region", Keep),
        ]
    };
    upsert_entities(
        tx,
        "courses",
        &e.courses,
        |c| &c.id,
        course_cols(),
        true,
        stats,
    )
    .await?;
    write_horse_rows(tx, &e.horses, stats).await?;
    upsert_entities(
        tx,
        "jockeys",
        &e.jockeys,
        |p| &p.id,
        vec![col("name", Replace)],
        false,
        stats,
    )
    .await?;
    let trainer_cols = vec![col("name", Replace), col("location", Keep)];
    upsert_entities(
        tx,
        "trainers",
        &e.trainers,
        |t| &t.id,
        trainer_cols,
        false,
        stats,
    )
    .await?;
    upsert_entities(
        tx,
        "owners",
        &e.owners,
        |p| &p.id,
        vec![col("name", Replace)],
        false,
        stats,
    )
    .await?;
    for (table, rows) in [
        ("sires", &e.sires),
        ("dams", &e.dams),
        ("damsires", &e.damsires),
    ] {
        let cols = vec![col("name", Replace), col("region", Keep)];
        upsert_entities(tx, table, rows, |a| &a.id, cols, false, stats).await?;
    }
    Ok(())
}

async fn write_horse_rows(
    tx: &Transaction<'_>,
    horses: &[Horse],
    stats: &mut WriteStats,
) -> Result<()> {
    let mut horse_cols = vec![col("name", Merge::Replace)];
    horse_cols.extend(cols(
        &[
            "sex_code",
            "dob",
            "colour",
            "breeder",
            "region",
            "sire_id",
            "dam_id",
            "damsire_id",
        ],
        Merge::Keep,
    ));
    upsert_entities(tx, "horses", horses, |h| &h.id, horse_cols, true, stats).await
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
const RACE_RACECARD: &[&str] = &[
    "big_race",
    "is_abandoned",
    "stalls",
    "weather",
    "rail_movements",
    "tip",
    "verdict",
    "betting_forecast",
];
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
const RUNNER_RESULT: &[&str] = &[
    "position",
    "finish_position",
    "sp",
    "prize_currency",
    "finish_time",
    "comment",
];
const RUNNER_RESULT_NUM: &[&str] = &[
    "btn",
    "ovr_btn",
    "sp_decimal",
    "prize_amount",
    "finish_time_s",
];

/// The columns a source writes, the shared ones first.
fn race_cols(source: Source) -> Vec<Col> {
    let mut out: Vec<Col> = RACE_SHARED_TEXT
        .iter()
        .map(|n| text(n, Merge::Keep))
        .collect();
    out.extend(cols(RACE_SHARED, Merge::Keep));
    out.extend(RACE_SHARED_NUM.iter().map(|n| num(n, Merge::Keep)));
    match source {
        Source::Racecard => out.extend(cols(RACE_RACECARD, Merge::Replace)),
        Source::Result => {
            out.extend(cols(RACE_RESULT, Merge::Replace));
            out.push(Col {
                name: "has_result",
                expr: "true".into(),
                merge: Merge::Replace,
            });
        }
    }
    out
}

fn runner_cols(source: Source) -> Vec<Col> {
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

fn stamps(source: Source) -> Vec<(&'static str, &'static str)> {
    match source {
        Source::Racecard => vec![("racecard_updated_at", "now()"), ("updated_at", "now()")],
        Source::Result => vec![("result_updated_at", "now()"), ("updated_at", "now()")],
    }
}

/// Races of the unit; returns how many were stored.
async fn write_races(
    tx: &Transaction<'_>,
    races: &[Race],
    stats: &mut WriteStats,
) -> Result<usize> {
    if races.is_empty() {
        return Ok(0);
    }
    let kept = dedupe(
        races,
        "race",
        |r| (r.source, r.id.clone()),
        |r| r.id.clone(),
        |r| !r.id.is_empty(),
        &mut stats.skipped,
    );
    let stage = stage(tx, "races", &kept).await?;
    let mut ids = std::collections::HashSet::new();
    for source in [Source::Racecard, Source::Result] {
        let n = kept.iter().filter(|r| r.source == source).count();
        if n == 0 {
            continue;
        }
        ids.extend(
            kept.iter()
                .filter(|r| r.source == source)
                .map(|r| r.id.as_str()),
        );
        let upsert = Upsert {
            table: "races",
            stage: &stage,
            key: &["id"],
            cols: race_cols(source),
            stamps: stamps(source),
            filter: format!("WHERE s.src = '{}'", source_str(source)),
        };
        stats.add("races", upsert.run(tx, &[], n).await?);
    }
    Ok(ids.len())
}

/// Runners of the unit; a runner whose race or horse is not stored is skipped. Returns how many
/// were stored.
async fn write_runners(
    tx: &Transaction<'_>,
    runners: &[Runner],
    stats: &mut WriteStats,
) -> Result<usize> {
    if runners.is_empty() {
        return Ok(0);
    }
    let label = |r: &Runner| format!("{}/{}", r.race_id, r.horse_id);
    let kept = dedupe(
        runners,
        "runner",
        |r| (r.source, r.race_id.clone(), r.horse_id.clone()),
        label,
        |r| !r.race_id.is_empty() && !r.horse_id.is_empty(),
        &mut stats.skipped,
    );
    let stage = stage(tx, "runners", &kept).await?;
    let orphan = "NOT EXISTS (SELECT 1 FROM races r WHERE r.id = s.race_id) \
                  OR NOT EXISTS (SELECT 1 FROM horses h WHERE h.id = s.horse_id)";
    let orphans = tx
        .query(
            &format!("SELECT s.race_id, s.horse_id, s.src FROM {stage} s WHERE {orphan}"),
            &[],
        )
        .await
        .map_err(query_error("find runners whose race or horse is missing"))?;
    let mut stored = std::collections::HashSet::new();
    for source in [Source::Racecard, Source::Result] {
        let src = *source_str(source);
        let bad = orphans
            .iter()
            .filter(|r| r.get::<_, &str>(2) == src)
            .count();
        let n = kept.iter().filter(|r| r.source == source).count();
        if n == 0 {
            continue;
        }
        stored.extend(
            kept.iter()
                .filter(|r| r.source == source)
                .map(|r| (r.race_id.as_str(), r.horse_id.as_str())),
        );
        let upsert = Upsert {
            table: "runners",
            stage: &stage,
            key: &["race_id", "horse_id"],
            cols: runner_cols(source),
            stamps: stamps(source),
            filter: format!("WHERE s.src = '{src}' AND NOT ({orphan})"),
        };
        stats.add("runners", upsert.run(tx, &[], n - bad).await?);
    }
    for row in &orphans {
        let (race_id, horse_id): (&str, &str) = (row.get(0), row.get(1));
        stored.remove(&(race_id, horse_id));
        stats.skipped.push(Skipped {
            record: format!("runner {race_id}/{horse_id}"),
            reason: "its race or horse is not stored (no race row, or the horse was not among the unit's entities)"
                .into(),
        });
    }
    Ok(stored.len())
}

async fn write_odds(
    tx: &Transaction<'_>,
    odds: &[RunnerOdds],
    fetched_at: DateTime<Utc>,
    stats: &mut WriteStats,
) -> Result<()> {
    if odds.is_empty() {
        return Ok(());
    }
    let kept = dedupe(
        odds,
        "odds",
        |o| (o.race_id.clone(), o.horse_id.clone(), o.bookmaker.clone()),
        |o| format!("{}/{}/{}", o.race_id, o.horse_id, o.bookmaker),
        |o| !o.race_id.is_empty() && !o.horse_id.is_empty() && !o.bookmaker.is_empty(),
        &mut stats.skipped,
    );
    let stage = stage(tx, "runner_odds", &kept).await?;
    let mut c = cols(
        &["fractional", "ew_places", "ew_denom", "quoted_at"],
        Merge::Replace,
    );
    c.push(num("decimal", Merge::Replace));
    let upsert = Upsert {
        table: "runner_odds",
        stage: &stage,
        key: &["race_id", "horse_id", "bookmaker"],
        cols: c,
        stamps: vec![("fetched_at", "$1::timestamptz")],
        filter: String::new(),
    };
    stats.add(
        "runner_odds",
        upsert.run(tx, &[&fetched_at], kept.len()).await?,
    );
    Ok(())
}

async fn write_bookmakers(
    tx: &Transaction<'_>,
    rows: &[StagedBookmaker],
    stats: &mut WriteStats,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let kept = dedupe(
        rows,
        "bookmaker",
        |b| b.code.clone(),
        |b| b.code.clone(),
        |b| !b.code.is_empty(),
        &mut stats.skipped,
    );
    let stage = stage(tx, "bookmakers", &kept).await?;
    let upsert = Upsert {
        table: "bookmakers",
        stage: &stage,
        key: &["code"],
        cols: cols(&["name", "kind", "source"], Merge::KeepSeed),
        stamps: Vec::new(),
        filter: String::new(),
    };
    stats.add("bookmakers", upsert.run(tx, &[], kept.len()).await?);
    Ok(())
}

async fn write_regions(
    tx: &Transaction<'_>,
    rows: &[Region],
    stats: &mut WriteStats,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let kept = dedupe(
        rows,
        "region",
        |r| r.code.clone(),
        |r| r.code.clone(),
        |r| !r.code.is_empty(),
        &mut stats.skipped,
    );
    let stage = stage(tx, "regions", &kept).await?;
    let upsert = Upsert {
        table: "regions",
        stage: &stage,
        key: &["code"],
        cols: vec![col("name", Merge::Replace)],
        stamps: Vec::new(),
        filter: String::new(),
    };
    stats.add("regions", upsert.run(tx, &[], kept.len()).await?);
    Ok(())
}

async fn write_responses(
    tx: &Transaction<'_>,
    responses: &[RawResponse],
    stats: &mut WriteStats,
) -> Result<()> {
    if responses.is_empty() {
        return Ok(());
    }
    let staged = responses
        .iter()
        .map(StagedResponse::new)
        .collect::<Result<Vec<_>>>()?;
    let kept = dedupe(
        &staged,
        "response",
        |r| (r.endpoint.clone(), r.params.clone()),
        |r| format!("{}?{}", r.endpoint, r.params),
        |r| !r.endpoint.is_empty(),
        &mut stats.skipped,
    );
    let stage = stage(tx, "api_responses", &kept).await?;
    let upsert = Upsert {
        table: "api_responses",
        stage: &stage,
        key: &["endpoint", "params"],
        cols: cols(
            &["fetched_at", "status", "sha256", "encoding", "body"],
            Merge::Replace,
        ),
        stamps: Vec::new(),
        filter: String::new(),
    };
    stats.add("api_responses", upsert.run(tx, &[], kept.len()).await?);
    Ok(())
}

/// Counts as `integer` (saturating: no real unit comes near 2^31 rows).
fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

async fn write_coverage(
    tx: &Transaction<'_>,
    unit: &Unit,
    races: usize,
    runners: usize,
    fetched_at: DateTime<Utc>,
    stats: &mut WriteStats,
) -> Result<()> {
    let status = if races > 0 { "complete" } else { "empty" };
    let rows = tx
        .query(
            "INSERT INTO fetch_coverage AS t (kind, race_date, status, races, runners, pages, api_calls, fetched_at, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)
             ON CONFLICT (kind, race_date) DO UPDATE SET status = EXCLUDED.status, races = EXCLUDED.races,
                 runners = EXCLUDED.runners, pages = EXCLUDED.pages, api_calls = EXCLUDED.api_calls,
                 fetched_at = EXCLUDED.fetched_at, error = NULL
             WHERE ROW(t.status, t.races, t.runners, t.pages, t.api_calls, t.fetched_at, t.error)
                   IS DISTINCT FROM ROW(EXCLUDED.status, EXCLUDED.races, EXCLUDED.runners, EXCLUDED.pages,
                                        EXCLUDED.api_calls, EXCLUDED.fetched_at, NULL::text)
             RETURNING (xmax = 0)",
            &[
                &unit.kind.as_str(),
                &unit.race_date,
                &status,
                &int(races),
                &int(runners),
                &int(unit.pages),
                &int(unit.api_calls),
                &fetched_at,
            ],
        )
        .await
        .map_err(query_error("upsert into fetch_coverage"))?;
    let counts = match rows.first() {
        Some(row) if row.get::<_, bool>(0) => TableCounts {
            inserted: 1,
            ..Default::default()
        },
        Some(_) => TableCounts {
            updated: 1,
            ..Default::default()
        },
        None => TableCounts {
            unchanged: 1,
            ..Default::default()
        },
    };
    stats.add("fetch_coverage", counts);
    Ok(())
}

/// Commit, or roll back when `dry_run`.
async fn finish(tx: deadpool_postgres::Transaction<'_>, dry_run: bool, what: &str) -> Result<()> {
    if dry_run {
        tx.rollback()
            .await
            .map_err(query_error(&format!("roll back the dry run of {what}")))
    } else {
        tx.commit()
            .await
            .map_err(query_error(&format!("commit {what}")))
    }
}

fn in_context(what: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Query(m) => Error::Query(format!("writing {what}: {m}")),
        other => other,
    }
}

pub(super) async fn write_unit(store: &PgStore, unit: &Unit, dry_run: bool) -> Result<WriteStats> {
    let what = format!("{} of {}", unit.kind, unit.race_date);
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let mut stats = WriteStats::default();
    // The unit's time: when its responses were fetched, so writing the same unit again is a no-op.
    let fetched_at = unit
        .responses
        .iter()
        .map(|r| r.fetched_at)
        .max()
        .unwrap_or_else(Utc::now);
    let result: Result<()> = async {
        write_entities(&tx, &unit.entities, &mut stats).await?;
        let races = write_races(&tx, &unit.races, &mut stats).await?;
        let runners = write_runners(&tx, &unit.runners, &mut stats).await?;
        write_odds(&tx, &unit.odds, fetched_at, &mut stats).await?;
        let seen: Vec<StagedBookmaker> = unit
            .bookmakers
            .iter()
            .map(|b| StagedBookmaker::new(b, "odds"))
            .collect();
        write_bookmakers(&tx, &seen, &mut stats).await?;
        write_responses(&tx, &unit.responses, &mut stats).await?;
        write_coverage(&tx, unit, races, runners, fetched_at, &mut stats).await
    }
    .await;
    result.map_err(in_context(&what))?;
    finish(tx, dry_run, &what).await?;
    Ok(stats)
}

pub(super) async fn write_reference(
    store: &PgStore,
    data: &ReferenceData,
    dry_run: bool,
) -> Result<WriteStats> {
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let mut stats = WriteStats::default();
    let result: Result<()> = async {
        let entities = Entities {
            courses: data.courses.clone(),
            ..Default::default()
        };
        write_entities(&tx, &entities, &mut stats).await?;
        write_regions(&tx, &data.regions, &mut stats).await?;
        let books: Vec<StagedBookmaker> = data
            .bookmakers
            .iter()
            .map(|b| StagedBookmaker::new(b, &b.source))
            .collect();
        write_bookmakers(&tx, &books, &mut stats).await?;
        write_responses(&tx, &data.responses, &mut stats).await
    }
    .await;
    result.map_err(in_context("reference data"))?;
    finish(tx, dry_run, "reference data").await?;
    Ok(stats)
}

pub(super) async fn write_horses(
    store: &PgStore,
    horses: &[Horse],
    responses: &[RawResponse],
    dry_run: bool,
) -> Result<WriteStats> {
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let mut stats = WriteStats::default();
    let result: Result<()> = async {
        write_horse_rows(&tx, horses, &mut stats).await?;
        write_responses(&tx, responses, &mut stats).await
    }
    .await;
    result.map_err(in_context("horse profiles"))?;
    finish(tx, dry_run, "horse profiles").await?;
    Ok(stats)
}

pub(super) async fn mark_unit_failed(
    store: &PgStore,
    kind: Kind,
    race_date: NaiveDate,
    api_calls: u32,
    error: &str,
) -> Result<()> {
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    tx.execute(
        "INSERT INTO fetch_coverage AS t (kind, race_date, status, api_calls, fetched_at, error)
         VALUES ($1, $2, 'failed', $3, now(), $4)
         ON CONFLICT (kind, race_date) DO UPDATE SET status = 'failed', api_calls = EXCLUDED.api_calls,
             fetched_at = EXCLUDED.fetched_at, error = EXCLUDED.error
         WHERE t.status <> 'complete'",
        &[&kind.as_str(), &race_date, &int(api_calls), &error],
    )
    .await
    .map_err(query_error(&format!("mark {kind} of {race_date} failed in fetch_coverage")))?;
    tx.commit()
        .await
        .map_err(query_error("commit the failed coverage row"))
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
        assert!(
            sql.contains("draw = COALESCE(EXCLUDED.draw, t.draw)"),
            "{sql}"
        );
        assert!(sql.contains("position = EXCLUDED.position"), "{sql}");
        assert!(sql.contains("s.btn::numeric"), "{sql}");
        assert!(
            !sql.contains("spotlight"),
            "a result never writes racecard columns: {sql}"
        );
        assert!(sql.contains("IS DISTINCT FROM"), "{sql}");
        assert!(
            sql.contains("result_updated_at = EXCLUDED.result_updated_at"),
            "{sql}"
        );
        assert!(sql.ends_with("RETURNING (xmax = 0)"), "{sql}");
    }

    #[test]
    fn racecards_never_write_result_columns() {
        let names: Vec<&str> = race_cols(Source::Racecard).iter().map(|c| c.name).collect();
        assert!(names.contains(&"verdict"));
        assert!(!names.contains(&"tote_win") && !names.contains(&"has_result"));
        let names: Vec<&str> = runner_cols(Source::Racecard)
            .iter()
            .map(|c| c.name)
            .collect();
        assert!(!names.contains(&"position") && !names.contains(&"comment"));
    }

    #[test]
    fn dedupe_keeps_the_last_row_and_reports_the_rest() {
        let rows = vec![("a", 1), ("b", 2), ("a", 3), ("", 4)];
        let mut skipped = Vec::new();
        let kept = dedupe(
            &rows,
            "x",
            |r| r.0,
            |r| r.0.to_string(),
            |r| !r.0.is_empty(),
            &mut skipped,
        );
        assert_eq!(kept, vec![&("a", 3), &("b", 2)]);
        assert_eq!(skipped.len(), 2);
    }

    #[test]
    fn responses_are_gzipped_with_the_raw_sha256() {
        let raw = RawResponse {
            endpoint: "/results".into(),
            params: "date=2025-10-07".into(),
            status: 200,
            fetched_at: Utc::now(),
            body: bytes::Bytes::from_static(b"abc"),
        };
        let staged = StagedResponse::new(&raw).ok();
        let staged = staged.as_ref();
        assert_eq!(
            staged.map(|s| s.sha256.as_str()),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let mut out = Vec::new();
        let body = staged.map(|s| s.body.clone()).unwrap_or_default();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut out).ok();
        assert_eq!(out, b"abc");
    }
}
