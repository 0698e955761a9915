//! Stage tables for PostgreSQL writes: which columns each row type COPYs (binary) into a
//! transaction-scoped temp table, and raw responses gzipped with their sha256. Rows arrive one
//! per key from `store::plan` (ON CONFLICT cannot touch a row twice).

use std::io::Write as _;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::query_error;
use crate::model::{
    Ancestor, Bookmaker, Course, Horse, Person, Race, RawResponse, Region, Runner, RunnerOdds, Source, Trainer,
};
use crate::store::{Error, Result};

pub(super) type Values<'a> = Vec<&'a (dyn ToSql + Sync)>;

/// A row that can be COPYed into a stage table: its columns (name, COPY type) and values.
pub(super) trait Staged {
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

pub(super) fn source_str(source: Source) -> &'static &'static str {
    match source {
        Source::Racecard => &"racecard",
        Source::Result => &"result",
    }
}

impl Staged for Course {
    const COLUMNS: &'static [(&'static str, Type)] =
        &[("id", TEXT), ("name", TEXT), ("region_code", TEXT), ("region", TEXT)];
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
    const COLUMNS: &'static [(&'static str, Type)] = &[("id", TEXT), ("name", TEXT), ("location", TEXT)];
    fn values(&self) -> Values<'_> {
        vec![&self.id, &self.name, &self.location]
    }
}

impl Staged for Ancestor {
    const COLUMNS: &'static [(&'static str, Type)] = &[("id", TEXT), ("name", TEXT), ("region", TEXT)];
    fn values(&self) -> Values<'_> {
        vec![&self.id, &self.name, &self.region]
    }
}

/// A bookmaker with its kind as text.
pub(super) struct StagedBookmaker {
    pub(super) code: String,
    pub(super) name: String,
    pub(super) kind: &'static str,
    pub(super) source: String,
}

impl StagedBookmaker {
    pub(super) fn new(b: &Bookmaker, source: &str) -> Self {
        Self { code: b.code.clone(), name: b.name.clone(), kind: b.kind.as_str(), source: source.to_string() }
    }
}

impl Staged for StagedBookmaker {
    const COLUMNS: &'static [(&'static str, Type)] =
        &[("code", TEXT), ("name", TEXT), ("kind", TEXT), ("source", TEXT)];
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
pub(super) struct StagedResponse {
    pub(super) endpoint: String,
    pub(super) params: String,
    pub(super) status: i32,
    pub(super) fetched_at: DateTime<Utc>,
    pub(super) sha256: String,
    pub(super) encoding: &'static str,
    pub(super) body: Vec<u8>,
}

impl StagedResponse {
    pub(super) fn new(r: &RawResponse) -> Result<Self> {
        let mut gz = GzEncoder::new(Vec::with_capacity(r.body.len() / 4 + 64), Compression::default());
        let body = gz
            .write_all(&r.body)
            .and_then(|()| gz.finish())
            .map_err(|e| Error::Query(format!("gzip the response of {}?{}: {e}", r.endpoint, r.params)))?;
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
        vec![&self.endpoint, &self.params, &self.status, &self.fetched_at, &self.sha256, &self.encoding, &self.body]
    }
}

/// Create `stage_<name>` for this transaction and COPY the rows into it.
pub(super) async fn stage<T: Staged>(tx: &Transaction<'_>, name: &str, rows: &[&T]) -> Result<String> {
    let table = format!("stage_{name}");
    let defs: Vec<String> = T::COLUMNS.iter().map(|(c, t)| format!("{c} {}", t.name())).collect();
    tx.batch_execute(&format!("CREATE TEMP TABLE {table} ({}) ON COMMIT DROP", defs.join(", ")))
        .await
        .map_err(query_error(&format!("create the stage table for {name}")))?;
    let names: Vec<&str> = T::COLUMNS.iter().map(|(c, _)| *c).collect();
    let sink = tx
        .copy_in(&format!("COPY {table} ({}) FROM STDIN (FORMAT binary)", names.join(", ")))
        .await
        .map_err(query_error(&format!("start COPY into the stage table for {name}")))?;
    let types: Vec<Type> = T::COLUMNS.iter().map(|(_, t)| t.clone()).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for row in rows {
        writer
            .as_mut()
            .write(&row.values())
            .await
            .map_err(query_error(&format!("COPY a row into the stage table for {name}")))?;
    }
    writer.finish().await.map_err(query_error(&format!("finish COPY into the stage table for {name}")))?;
    // Temp tables have no statistics until analysed; without them the planner guesses a
    // handful of rows and joins a large stage by nested loops.
    if rows.len() >= ANALYZE_FROM_ROWS {
        tx.batch_execute(&format!("ANALYZE {table}"))
            .await
            .map_err(query_error(&format!("analyse the stage table for {name}")))?;
    }
    Ok(table)
}

/// Stage tables at least this big are analysed before the upsert reads them.
const ANALYZE_FROM_ROWS: usize = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

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
