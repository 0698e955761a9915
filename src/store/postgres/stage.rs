//! Rows as column arrays for PostgreSQL writes: which columns each row type sends, raw responses
//! gzipped with their sha256, and the transpose of rows into one typed array per column that an
//! upsert reads with `unnest($1::text[], $2::int4[], ...)`. A statement binds one parameter per
//! column whatever the row count, so the 65,535 bind-parameter limit never applies; rows arrive
//! one per key from `store::keep` (ON CONFLICT cannot touch a row twice).

use std::io::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tokio_postgres::types::{ToSql, Type};

use crate::model::{
    Ancestor, Bookmaker, Course, Horse, Person, Race, RawResponse, Region, Runner, RunnerOdds, Trainer,
};
use crate::store::{Error, Result};

/// One value of a row, typed as its column.
#[derive(Debug, Clone, Copy)]
pub(super) enum Val<'a> {
    Text(Option<&'a str>),
    Int(Option<i32>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    Instant(Option<DateTime<Utc>>),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a String> for Val<'a> {
    fn from(v: &'a String) -> Self {
        Val::Text(Some(v))
    }
}
impl<'a> From<&'a &'static str> for Val<'a> {
    fn from(v: &'a &'static str) -> Self {
        Val::Text(Some(v))
    }
}
impl<'a> From<&'a Option<String>> for Val<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Val::Text(v.as_deref())
    }
}
impl From<&Option<i32>> for Val<'_> {
    fn from(v: &Option<i32>) -> Self {
        Val::Int(*v)
    }
}
impl From<&i32> for Val<'_> {
    fn from(v: &i32) -> Self {
        Val::Int(Some(*v))
    }
}
impl From<&Option<f64>> for Val<'_> {
    fn from(v: &Option<f64>) -> Self {
        Val::Float(*v)
    }
}
impl From<&Option<bool>> for Val<'_> {
    fn from(v: &Option<bool>) -> Self {
        Val::Bool(*v)
    }
}
impl From<&NaiveDate> for Val<'_> {
    fn from(v: &NaiveDate) -> Self {
        Val::Date(Some(*v))
    }
}
impl From<&Option<NaiveDate>> for Val<'_> {
    fn from(v: &Option<NaiveDate>) -> Self {
        Val::Date(*v)
    }
}
impl From<&DateTime<Utc>> for Val<'_> {
    fn from(v: &DateTime<Utc>) -> Self {
        Val::Instant(Some(*v))
    }
}
impl From<&Option<DateTime<Utc>>> for Val<'_> {
    fn from(v: &Option<DateTime<Utc>>) -> Self {
        Val::Instant(*v)
    }
}
impl<'a> From<&'a Vec<u8>> for Val<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Val::Bytes(v)
    }
}

macro_rules! vals {
    ($($v:expr),* $(,)?) => { vec![$(Val::from($v)),*] };
}

pub(super) type Values<'a> = Vec<Val<'a>>;

/// A row that can be sent as column arrays: its columns (name, type) and values, in that order.
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

impl Staged for Course {
    const COLUMNS: &'static [(&'static str, Type)] =
        &[("id", TEXT), ("name", TEXT), ("region_code", TEXT), ("region", TEXT)];
    fn values(&self) -> Values<'_> {
        vals![&self.id, &self.name, &self.region_code, &self.region]
    }
}

impl Staged for Region {
    const COLUMNS: &'static [(&'static str, Type)] = &[("code", TEXT), ("name", TEXT)];
    fn values(&self) -> Values<'_> {
        vals![&self.code, &self.name]
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
        vals![
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
        vals![&self.id, &self.name]
    }
}

impl Staged for Trainer {
    const COLUMNS: &'static [(&'static str, Type)] = &[("id", TEXT), ("name", TEXT), ("location", TEXT)];
    fn values(&self) -> Values<'_> {
        vals![&self.id, &self.name, &self.location]
    }
}

impl Staged for Ancestor {
    const COLUMNS: &'static [(&'static str, Type)] = &[("id", TEXT), ("name", TEXT), ("region", TEXT)];
    fn values(&self) -> Values<'_> {
        vals![&self.id, &self.name, &self.region]
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
        vals![&self.code, &self.name, &self.kind, &self.source]
    }
}

impl Staged for Race {
    const COLUMNS: &'static [(&'static str, Type)] = &[
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
        ("ran", INT),
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
        vals![
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
            &self.ran,
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
        ("result_rpr", INT),
        ("result_topspeed", INT),
    ];
    fn values(&self) -> Values<'_> {
        vals![
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
            &self.result_rpr,
            &self.result_topspeed,
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
        vals![
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
        vals![&self.endpoint, &self.params, &self.status, &self.fetched_at, &self.sha256, &self.encoding, &self.body]
    }
}

/// One column of many rows, as the array parameter `unnest` reads.
enum Array<'a> {
    Text(Vec<Option<&'a str>>),
    Int(Vec<Option<i32>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Date(Vec<Option<NaiveDate>>),
    Instant(Vec<Option<DateTime<Utc>>>),
    Bytes(Vec<&'a [u8]>),
}

impl<'a> Array<'a> {
    fn new(ty: &Type, n: usize) -> Self {
        match *ty {
            Type::INT4 => Array::Int(Vec::with_capacity(n)),
            Type::FLOAT8 => Array::Float(Vec::with_capacity(n)),
            Type::BOOL => Array::Bool(Vec::with_capacity(n)),
            Type::DATE => Array::Date(Vec::with_capacity(n)),
            Type::TIMESTAMPTZ => Array::Instant(Vec::with_capacity(n)),
            Type::BYTEA => Array::Bytes(Vec::with_capacity(n)),
            _ => Array::Text(Vec::with_capacity(n)),
        }
    }

    /// Append one value; a value of another type than the column is a bug in a `Staged` impl.
    fn push(&mut self, v: Val<'a>, table: &str, column: &str) -> Result<()> {
        match (self, v) {
            (Array::Text(a), Val::Text(v)) => a.push(v),
            (Array::Int(a), Val::Int(v)) => a.push(v),
            (Array::Float(a), Val::Float(v)) => a.push(v),
            (Array::Bool(a), Val::Bool(v)) => a.push(v),
            (Array::Date(a), Val::Date(v)) => a.push(v),
            (Array::Instant(a), Val::Instant(v)) => a.push(v),
            (Array::Bytes(a), Val::Bytes(v)) => a.push(v),
            (_, v) => {
                return Err(Error::Query(format!(
                    "internal: column {table}.{column} was given {v:?}, not its declared type; this is a bug"
                )));
            }
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Array::Text(a) => a,
            Array::Int(a) => a,
            Array::Float(a) => a,
            Array::Bool(a) => a,
            Array::Date(a) => a,
            Array::Instant(a) => a,
            Array::Bytes(a) => a,
        }
    }
}

/// Rows of one type transposed into one array per column.
pub(super) struct Columns<'a> {
    arrays: Vec<Array<'a>>,
    rows: usize,
}

impl<'a> Columns<'a> {
    pub(super) fn new<T: Staged>(table: &str, rows: &[&'a T]) -> Result<Self> {
        let mut arrays: Vec<Array<'a>> = T::COLUMNS.iter().map(|(_, ty)| Array::new(ty, rows.len())).collect();
        for row in rows {
            for ((array, v), (column, _)) in arrays.iter_mut().zip(row.values()).zip(T::COLUMNS) {
                array.push(v, table, column)?;
            }
        }
        Ok(Columns { arrays, rows: rows.len() })
    }

    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// The arrays as statement parameters, after `before` (parameters the statement names first).
    pub(super) fn params<'p>(&'p self, before: &[&'p (dyn ToSql + Sync)]) -> Vec<&'p (dyn ToSql + Sync)> {
        let mut out = before.to_vec();
        out.extend(self.arrays.iter().map(Array::param));
        out
    }
}

/// `unnest($k::text[], ...) AS s(col, ...)`: the rows of `T` as a table, its arrays numbered
/// from `$first`.
pub(super) fn unnest<T: Staged>(first: usize) -> String {
    let arrays: Vec<String> =
        T::COLUMNS.iter().enumerate().map(|(i, (_, ty))| format!("${}::{}[]", first + i, ty.name())).collect();
    let names: Vec<&str> = T::COLUMNS.iter().map(|(c, _)| *c).collect();
    format!("unnest({}) AS s({})", arrays.join(", "), names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_one_array_per_column() {
        let a = Person { id: "jky_1".into(), name: "A".into() };
        let b = Person { id: "jky_2".into(), name: "B".into() };
        let cols = Columns::new("jockeys", &[&a, &b]).ok();
        assert_eq!(cols.as_ref().map(Columns::rows), Some(2));
        assert_eq!(cols.map(|c| c.params(&[]).len()), Some(2));
        assert_eq!(unnest::<Person>(2), "unnest($2::text[], $3::text[]) AS s(id, name)");
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
