//! Column ownership, declared once for both backends: for every table the feeds write, its key
//! and each column's name, value type, owner and merge rule, and how its value is read from the
//! row. SQLite (`sqlite/upsert.rs`) and PostgreSQL (`postgres/upsert.rs`, `postgres/stage.rs`)
//! render their upserts from these declarations; which columns a write sends is derived from
//! owner and source ([`Table::written`]) and listed nowhere else. This is where "no source blanks
//! another's columns" (ARCHITECTURE.md, Invariants) is decided.
//!
//! To add a column a feed writes: a migration on each backend, the field on the row type, one
//! line in its table here (tests/it/store.rs walks these declarations against both schemas).

use std::io::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

use super::keep::Settled;
use super::migrations::sha256_hex;
use super::{CoverageStatus, Error, Result};
use crate::model::{
    Ancestor, Bookmaker, Course, Horse, Person, Race, RawResponse, Region, Runner, RunnerOdds, Source, Trainer, Unit,
};

/// One value of a row, typed as its column; borrowed from the row where it can be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    Text(Option<&'a str>),
    Int(Option<i32>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Date(Option<NaiveDate>),
    Instant(Option<DateTime<Utc>>),
    Bytes(&'a [u8]),
}

impl<'a> Val<'a> {
    /// A text where `""` is stored as NULL.
    pub fn nonempty(s: &'a str) -> Self {
        Val::Text(if s.is_empty() { None } else { Some(s) })
    }
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
impl From<&bool> for Val<'_> {
    fn from(v: &bool) -> Self {
        Val::Bool(Some(*v))
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

/// A column's value type: SQLite's and PostgreSQL's column types follow from it (docs/schema.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    /// A text where `""` means absent: it never overwrites a stored value. PostgreSQL stores a
    /// first `""` as NULL; SQLite, whose schema has these columns NOT NULL, stores it as `""`.
    BlankText,
    Int,
    /// A decimal sent as a float: `numeric` on PostgreSQL, REAL on SQLite.
    Numeric,
    Bool,
    Date,
    Instant,
    Bytes,
}

/// Which writes send a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Every write of the table: both feeds, and reference data or horse profiles where they
    /// write the table.
    All,
    /// Only a racecard's write (of a race or runner).
    Racecards,
    /// Only a result's write.
    Results,
}

/// Where a stamp column's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// The time of the write (`now()` on PostgreSQL, the writer's clock on SQLite).
    Write,
    /// When the unit's responses were fetched, so rewriting the same unit changes nothing.
    Fetched,
}

/// How a write combines its value with the stored one when the key exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Part of the conflict key.
    Key,
    /// The new value as is (names, a source's own columns).
    Replace,
    /// `COALESCE(new, old)`: a blank never erases a value.
    Keep,
    /// A required text: the new value unless it is `''` (a name the source did not know).
    Filled,
    /// A column both feeds send: a result writes it as [`Merge::Keep`]; a racecard as `Keep`
    /// until a result settled the row, then `COALESCE(old, new)` ([`Settled`]).
    Settled(Settled),
    /// A bookmaker column: a seeded row keeps its value unless the incoming row is a seed too.
    KeepSeed,
    /// A timestamp set on insert and whenever a compared column changes; never compared itself.
    Touch(Stamp),
}

/// How a column's value is read from the row.
pub enum Get<R> {
    Row(fn(&R) -> Val<'_>),
    /// The write's timestamp ([`Merge::Touch`]).
    Stamp(Stamp),
}

pub struct Column<R> {
    pub name: &'static str,
    pub ty: Ty,
    pub owner: Owner,
    pub merge: Merge,
    pub get: Get<R>,
}

/// A table the feeds write: its columns, the key's first.
pub struct Table<R: 'static> {
    pub name: &'static str,
    pub columns: &'static [Column<R>],
}

/// A column written by one write, with its merge rule resolved for the write's source: a
/// [`Merge::Settled`] column is [`Merge::Keep`] when a result writes it.
pub struct Written<R: 'static> {
    pub column: &'static Column<R>,
    pub rule: Merge,
}

impl<R> Table<R> {
    /// The key's columns, in order.
    pub fn key(&self) -> Vec<&'static str> {
        self.columns.iter().filter(|c| c.merge == Merge::Key).map(|c| c.name).collect()
    }

    /// The columns one write sends, in declaration order (the key first): `source` is the feed
    /// of a race's or runner's rows, `None` for every other table.
    pub fn written(&'static self, source: Option<Source>) -> Vec<Written<R>> {
        self.columns
            .iter()
            .filter(|c| match c.owner {
                Owner::All => true,
                Owner::Racecards => source == Some(Source::Racecard),
                Owner::Results => source == Some(Source::Result),
            })
            .map(|column| {
                let rule = match column.merge {
                    Merge::Settled(_) if source != Some(Source::Racecard) => Merge::Keep,
                    merge => merge,
                };
                Written { column, rule }
            })
            .collect()
    }
}

/// A column read from the row field of the same name.
macro_rules! col {
    ($name:ident, $ty:ident, $owner:ident, $merge:expr) => {
        Column {
            name: stringify!($name),
            ty: Ty::$ty,
            owner: Owner::$owner,
            merge: $merge,
            get: Get::Row(|r| Val::from(&r.$name)),
        }
    };
}

/// A table both feeds write (races, runners): its columns, then the stamps of a racecard's write,
/// a result's write and any write.
macro_rules! feed_table {
    ($name:literal, [$($col:expr),* $(,)?]) => {
        Table {
            name: $name,
            columns: &[
                $($col,)*
                stamp("racecard_updated_at", Owner::Racecards, Stamp::Write),
                stamp("result_updated_at", Owner::Results, Stamp::Write),
                stamp("updated_at", Owner::All, Stamp::Write),
            ],
        }
    };
}

const fn stamp<R>(name: &'static str, owner: Owner, stamp: Stamp) -> Column<R> {
    Column { name, ty: Ty::Instant, owner, merge: Merge::Touch(stamp), get: Get::Stamp(stamp) }
}

use Merge::{Filled, Keep, KeepSeed, Replace};
const KEY: Merge = Merge::Key;
const RACE: Merge = Merge::Settled(Settled::Race);
const RUNNER: Merge = Merge::Settled(Settled::Runner);

pub static COURSES: Table<Course> = Table {
    name: "courses",
    columns: &[
        col!(id, Text, All, KEY),
        col!(name, Text, All, Replace),
        Column {
            name: "region_code",
            ty: Ty::Text,
            owner: Owner::All,
            merge: Keep,
            get: Get::Row(|c| Val::nonempty(&c.region_code)),
        },
        Column {
            name: "region",
            ty: Ty::Text,
            owner: Owner::All,
            merge: Keep,
            get: Get::Row(|c| Val::nonempty(&c.region)),
        },
        stamp("updated_at", Owner::All, Stamp::Write),
    ],
};

pub static REGIONS: Table<Region> =
    Table { name: "regions", columns: &[col!(code, Text, All, KEY), col!(name, Text, All, Replace)] };

pub static HORSES: Table<Horse> = Table {
    name: "horses",
    columns: &[
        col!(id, Text, All, KEY),
        col!(name, Text, All, Replace),
        col!(sex_code, Text, All, Keep),
        col!(dob, Date, All, Keep),
        col!(colour, Text, All, Keep),
        col!(breeder, Text, All, Keep),
        col!(region, Text, All, Keep),
        col!(sire_id, Text, All, Keep),
        col!(dam_id, Text, All, Keep),
        col!(damsire_id, Text, All, Keep),
        stamp("updated_at", Owner::All, Stamp::Write),
    ],
};

/// Jockeys and owners: a feed that names a person without a name never blanks the stored one.
const PERSON: &[Column<Person>] = &[col!(id, Text, All, KEY), col!(name, Text, All, Filled)];
pub static JOCKEYS: Table<Person> = Table { name: "jockeys", columns: PERSON };
pub static OWNERS: Table<Person> = Table { name: "owners", columns: PERSON };

pub static TRAINERS: Table<Trainer> = Table {
    name: "trainers",
    columns: &[col!(id, Text, All, KEY), col!(name, Text, All, Replace), col!(location, Text, All, Keep)],
};

const ANCESTOR: &[Column<Ancestor>] =
    &[col!(id, Text, All, KEY), col!(name, Text, All, Replace), col!(region, Text, All, Keep)];
pub static SIRES: Table<Ancestor> = Table { name: "sires", columns: ANCESTOR };
pub static DAMS: Table<Ancestor> = Table { name: "dams", columns: ANCESTOR };
pub static DAMSIRES: Table<Ancestor> = Table { name: "damsires", columns: ANCESTOR };

/// A bookmaker as written: its kind as text, and `source` saying who wrote it (`seed` for
/// reference data, `odds` for one first seen in odds).
pub struct BookmakerRow {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub source: String,
}

impl BookmakerRow {
    /// `source`: `None` keeps the bookmaker's own (reference data), `Some("odds")` for one seen in odds.
    pub fn new(b: &Bookmaker, source: Option<&str>) -> Self {
        let source = source.unwrap_or(&b.source).to_string();
        BookmakerRow { code: b.code.clone(), name: b.name.clone(), kind: b.kind.as_str(), source }
    }
}

/// A bookmaker seen in odds never overwrites a seeded row's name, kind or source.
pub static BOOKMAKERS: Table<BookmakerRow> = Table {
    name: "bookmakers",
    columns: &[
        col!(code, Text, All, KEY),
        col!(name, Text, All, KeepSeed),
        col!(kind, Text, All, KeepSeed),
        col!(source, Text, All, KeepSeed),
    ],
};

/// Races. The columns both feeds send follow the row's state ([`Settled`]); a feed's own columns
/// are written only by it, so neither feed ever blanks the other's.
pub static RACES: Table<Race> = feed_table!(
    "races",
    [
        col!(id, Text, All, KEY),
        col!(course_id, BlankText, All, RACE),
        col!(course_name, BlankText, All, RACE),
        col!(race_date, Date, All, RACE),
        col!(off_at, Instant, All, RACE),
        col!(region, BlankText, All, RACE),
        col!(race_name, Text, All, RACE),
        col!(race_type, Text, All, RACE),
        col!(race_class, Text, All, RACE),
        col!(pattern, Text, All, RACE),
        col!(rating_band, Text, All, RACE),
        col!(age_band, Text, All, RACE),
        col!(sex_restriction, Text, All, RACE),
        col!(distance, Text, All, RACE),
        col!(distance_f, Numeric, All, RACE),
        col!(distance_y, Int, All, RACE),
        col!(distance_m, Int, All, RACE),
        col!(going, Text, All, RACE),
        col!(surface, Text, All, RACE),
        col!(jumps, Text, All, RACE),
        // Only racecards send these; a blank card never erases an earlier card's value.
        col!(going_detailed, Text, Racecards, Keep),
        col!(prize_amount, Numeric, Racecards, Keep),
        col!(prize_currency, Text, Racecards, Keep),
        col!(field_size, Int, Racecards, Keep),
        col!(big_race, Bool, Racecards, Replace),
        col!(is_abandoned, Bool, Racecards, Replace),
        col!(stalls, Text, Racecards, Replace),
        col!(weather, Text, Racecards, Replace),
        col!(rail_movements, Text, Racecards, Replace),
        col!(tip, Text, Racecards, Replace),
        col!(verdict, Text, Racecards, Replace),
        col!(betting_forecast, Text, Racecards, Replace),
        col!(ran, Int, Results, Replace),
        col!(winning_time_detail, Text, Results, Replace),
        col!(comments, Text, Results, Replace),
        col!(non_runners, Text, Results, Replace),
        col!(tote_win, Text, Results, Replace),
        col!(tote_pl, Text, Results, Replace),
        col!(tote_ex, Text, Results, Replace),
        col!(tote_csf, Text, Results, Replace),
        col!(tote_tricast, Text, Results, Replace),
        col!(tote_trifecta, Text, Results, Replace),
        Column {
            name: "has_result",
            ty: Ty::Bool,
            owner: Owner::Results,
            merge: Replace,
            get: Get::Row(|_| Val::Bool(Some(true))),
        },
    ]
);

/// Runners, as races: shared columns follow the runner's own state ([`Settled::Runner`]).
pub static RUNNERS: Table<Runner> = feed_table!(
    "runners",
    [
        col!(race_id, Text, All, KEY),
        col!(horse_id, Text, All, KEY),
        col!(horse_name, BlankText, All, RUNNER),
        col!(number, Int, All, RUNNER),
        col!(draw, Int, All, RUNNER),
        col!(age, Int, All, RUNNER),
        col!(sex_code, Text, All, RUNNER),
        col!(jockey_id, Text, All, RUNNER),
        col!(jockey_name, Text, All, RUNNER),
        col!(jockey_claim_lbs, Int, All, RUNNER),
        col!(trainer_id, Text, All, RUNNER),
        col!(trainer_name, Text, All, RUNNER),
        col!(owner_id, Text, All, RUNNER),
        col!(owner_name, Text, All, RUNNER),
        col!(sire_id, Text, All, RUNNER),
        col!(dam_id, Text, All, RUNNER),
        col!(damsire_id, Text, All, RUNNER),
        col!(weight_lbs, Int, All, RUNNER),
        col!(headgear, Text, All, RUNNER),
        col!(official_rating, Int, All, RUNNER),
        col!(silk_url, Text, All, RUNNER),
        // The ratings going into the race: racecards' own, a blank card never erases them.
        col!(rpr, Int, Racecards, Keep),
        col!(topspeed, Int, Racecards, Keep),
        col!(form, Text, Racecards, Replace),
        col!(spotlight, Text, Racecards, Replace),
        col!(card_comment, Text, Racecards, Replace),
        col!(result_rpr, Int, Results, Replace),
        col!(result_topspeed, Int, Results, Replace),
        col!(position, Text, Results, Replace),
        col!(finish_position, Int, Results, Replace),
        col!(btn, Numeric, Results, Replace),
        col!(ovr_btn, Numeric, Results, Replace),
        col!(sp, Text, Results, Replace),
        col!(sp_decimal, Numeric, Results, Replace),
        col!(prize_amount, Numeric, Results, Replace),
        col!(prize_currency, Text, Results, Replace),
        col!(finish_time, Text, Results, Replace),
        col!(finish_time_s, Numeric, Results, Replace),
        col!(comment, Text, Results, Replace),
    ]
);

pub static RUNNER_ODDS: Table<RunnerOdds> = Table {
    name: "runner_odds",
    columns: &[
        col!(race_id, Text, All, KEY),
        col!(horse_id, Text, All, KEY),
        col!(bookmaker, Text, All, KEY),
        col!(fractional, Text, All, Replace),
        col!(decimal, Numeric, All, Replace),
        col!(ew_places, Int, All, Replace),
        col!(ew_denom, Int, All, Replace),
        col!(quoted_at, Instant, All, Replace),
        stamp("fetched_at", Owner::All, Stamp::Fetched),
    ],
};

/// A raw response as stored: the gzip of the exact bytes and the sha256 of the raw bytes.
pub struct ResponseRow {
    pub endpoint: String,
    pub params: String,
    pub fetched_at: DateTime<Utc>,
    pub status: i32,
    pub sha256: String,
    pub encoding: &'static str,
    pub body: Vec<u8>,
}

impl ResponseRow {
    pub fn new(r: &RawResponse) -> Result<Self> {
        Ok(ResponseRow {
            endpoint: r.endpoint.clone(),
            params: r.params.clone(),
            fetched_at: r.fetched_at,
            status: i32::from(r.status),
            sha256: sha256_hex(&r.body),
            encoding: "gzip",
            body: gzip(&r.body, &format!("{}?{}", r.endpoint, r.params))?,
        })
    }
}

/// Gzip with a fixed header (no mtime), so the same bytes always compress to the same blob.
/// The fast level: on a 1 MB racecards body it is about 3x quicker than the default level for
/// about 30% more bytes, and compression runs on the one writer thread, where it was 40% of a
/// backfill unit's write time (BENCHMARKS.md, "Backfill").
pub fn gzip(bytes: &[u8], what: &str) -> Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new().write(Vec::with_capacity(bytes.len() / 4 + 64), flate2::Compression::fast());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .map_err(|e| Error::Query(format!("compressing the response of {what}: {e}")))
}

pub static API_RESPONSES: Table<ResponseRow> = Table {
    name: "api_responses",
    columns: &[
        col!(endpoint, Text, All, KEY),
        col!(params, Text, All, KEY),
        col!(fetched_at, Instant, All, Replace),
        col!(status, Int, All, Replace),
        col!(sha256, Text, All, Replace),
        col!(encoding, Text, All, Replace),
        col!(body, Bytes, All, Replace),
    ],
};

/// What a unit's write covered: one row per (kind, race date).
pub struct CoverageRow {
    pub kind: &'static str,
    pub race_date: NaiveDate,
    pub status: &'static str,
    pub races: i32,
    pub runners: i32,
    pub pages: i32,
    pub api_calls: i32,
    pub fetched_at: DateTime<Utc>,
    /// Always NULL here: a unit written whole clears an earlier failure's error.
    pub error: Option<String>,
    pub regions: Option<String>,
    pub day_over: bool,
}

impl CoverageRow {
    /// The row of a unit written whole, with the races and runners it kept.
    pub fn new(unit: &Unit, races: usize, runners: usize, fetched_at: DateTime<Utc>) -> Self {
        // Saturating: no real unit comes near 2^31 rows.
        let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        CoverageRow {
            kind: unit.kind.as_str(),
            race_date: unit.race_date,
            status: if races == 0 { CoverageStatus::Empty } else { CoverageStatus::Complete }.as_str(),
            races: int(races),
            runners: int(runners),
            pages: i32::try_from(unit.pages).unwrap_or(i32::MAX),
            api_calls: i32::try_from(unit.api_calls).unwrap_or(i32::MAX),
            fetched_at,
            error: None,
            regions: unit.regions.as_deref().map(super::regions_text),
            day_over: unit.day_over,
        }
    }
}

pub static FETCH_COVERAGE: Table<CoverageRow> = Table {
    name: "fetch_coverage",
    columns: &[
        col!(kind, Text, All, KEY),
        col!(race_date, Date, All, KEY),
        col!(status, Text, All, Replace),
        col!(races, Int, All, Replace),
        col!(runners, Int, All, Replace),
        col!(pages, Int, All, Replace),
        col!(api_calls, Int, All, Replace),
        col!(fetched_at, Instant, All, Replace),
        col!(error, Text, All, Replace),
        col!(regions, Text, All, Replace),
        col!(day_over, Bool, All, Replace),
    ],
};

/// One table's declaration without its row type: what the schema test walks.
pub struct Shape {
    pub name: &'static str,
    /// (name, type, merge) of every declared column.
    pub columns: Vec<(&'static str, Ty, Merge)>,
}

fn shape<R>(t: &'static Table<R>) -> Shape {
    Shape { name: t.name, columns: t.columns.iter().map(|c| (c.name, c.ty, c.merge)).collect() }
}

/// Every table the feeds write, in the order a unit writes them.
pub fn tables() -> Vec<Shape> {
    vec![
        shape(&COURSES),
        shape(&REGIONS),
        shape(&HORSES),
        shape(&JOCKEYS),
        shape(&TRAINERS),
        shape(&OWNERS),
        shape(&SIRES),
        shape(&DAMS),
        shape(&DAMSIRES),
        shape(&RACES),
        shape(&RUNNERS),
        shape(&RUNNER_ODDS),
        shape(&BOOKMAKERS),
        shape(&API_RESPONSES),
        shape(&FETCH_COVERAGE),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn each_feed_writes_its_own_columns_and_the_shared_ones() {
        let names = |s| RACES.written(Some(s)).iter().map(|w| w.column.name).collect::<Vec<_>>();
        let card = names(Source::Racecard);
        let result = names(Source::Result);
        assert!(card.contains(&"verdict") && !card.contains(&"tote_win") && !card.contains(&"has_result"));
        assert!(result.contains(&"has_result") && !result.contains(&"verdict"));
        assert!(card.contains(&"course_name") && result.contains(&"course_name"));
        let rule = |s, n| RUNNERS.written(Some(s)).into_iter().find(|w| w.column.name == n).map(|w| w.rule);
        assert_eq!(rule(Source::Racecard, "draw"), Some(Merge::Settled(Settled::Runner)));
        assert_eq!(rule(Source::Result, "draw"), Some(Merge::Keep));
        assert_eq!(rule(Source::Racecard, "position"), None);
    }

    #[test]
    fn keys_come_first_and_stamps_are_touched() {
        for t in tables() {
            let keys = t.columns.iter().take_while(|c| c.2 == Merge::Key).count();
            assert!(keys > 0, "{} has a key", t.name);
            assert!(t.columns[keys..].iter().all(|c| c.2 != Merge::Key), "{}: keys first", t.name);
        }
        assert_eq!(RUNNER_ODDS.key(), ["race_id", "horse_id", "bookmaker"]);
    }

    #[test]
    fn responses_are_gzipped_deterministically_with_the_raw_sha256() {
        use std::io::Read;
        let raw = RawResponse {
            endpoint: "/results".into(),
            params: "date=2025-10-07".into(),
            status: 200,
            fetched_at: Utc::now(),
            body: bytes::Bytes::from_static(b"abc"),
        };
        let row = ResponseRow::new(&raw).unwrap();
        assert_eq!(row.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(row.body, ResponseRow::new(&raw).unwrap().body);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&row.body[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "abc");
    }

    fn stamps_agree<R>(t: &Table<R>) {
        for c in t.columns {
            let stamp = match c.get {
                Get::Stamp(s) => Some(s),
                Get::Row(_) => None,
            };
            let touch = match c.merge {
                Merge::Touch(s) => Some(s),
                _ => None,
            };
            assert_eq!(stamp, touch, "{}.{}: a stamp column is touched, with the same stamp", t.name, c.name);
        }
    }

    #[test]
    fn stamp_columns_are_touched() {
        stamps_agree(&COURSES);
        stamps_agree(&HORSES);
        stamps_agree(&RACES);
        stamps_agree(&RUNNERS);
        stamps_agree(&RUNNER_ODDS);
    }
}
