//! SQLite writes: typed rows to columns (column ownership lives here), and the upsert that only
//! touches a row when a compared column would change, counting inserted, updated and unchanged.

use std::collections::HashSet;
use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, Statement, TransactionBehavior, params, params_from_iter};

use super::{Ctx, SqliteStore};
use crate::model::{Bookmaker, Course, Horse, Kind, Race, RawResponse, Region, Runner, RunnerOdds, Source, Unit};
use crate::store::keep::{self, EntityRows, Settled, UnitRows};
use crate::store::migrations;
use crate::store::{CoverageStatus, Error, ReferenceData, Result, TableCounts, WriteStats, regions_text};

// Values

/// Instants are stored as ISO 8601 UTC text with whole seconds.
const INSTANT_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

pub(super) fn instant(t: DateTime<Utc>) -> String {
    t.format(INSTANT_FORMAT).to_string()
}

pub(super) fn v_str(s: &str) -> Value {
    Value::Text(s.to_string())
}
/// A required text where `""` means absent (as Postgres's `NULLIF(x, '')`): it never erases.
pub(super) fn v_nonempty(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { v_str(s) }
}
pub(super) fn v_text(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}
pub(super) fn v_int(i: Option<i32>) -> Value {
    i.map_or(Value::Null, |i| Value::Integer(i64::from(i)))
}
pub(super) fn v_real(f: Option<f64>) -> Value {
    f.map_or(Value::Null, Value::Real)
}
pub(super) fn v_bool(b: Option<bool>) -> Value {
    b.map_or(Value::Null, |b| Value::Integer(i64::from(b)))
}
pub(super) fn v_instant(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::Text(instant(t)))
}
pub(super) fn v_date(d: NaiveDate) -> Value {
    Value::Text(d.format("%Y-%m-%d").to_string())
}

pub(super) fn parse_instant(s: &str, what: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Query(format!("{what} holds {s:?}, not an ISO 8601 instant: {e}")))
}

pub(super) fn parse_opt_instant(s: Option<String>, what: &str) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_instant(&s, what)).transpose()
}

pub(super) fn parse_date(s: &str, what: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| Error::Query(format!("{what} holds {s:?}, not a YYYY-MM-DD date: {e}")))
}

// ---------------------------------------------------------------------------------------------
// The upsert: one statement per (table, column set), reused for every row.

/// How a column is written on conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// Part of the conflict key.
    Key,
    /// The new value as is (names, owned columns).
    Newest,
    /// `COALESCE(new, old)`: a blank never erases a value (shared columns, enrichment).
    Coalesce,
    /// A required text: the new value unless it is `''` (a name the source did not know).
    Filled,
    /// A shared column written by a racecard: `COALESCE(new, old)` until a result settled the
    /// row, then `COALESCE(old, new)` (see [`Settled`]).
    Settled(Settled),
    /// A timestamp set to the new value only when some other column changed; never compared.
    Touch,
}

pub(super) type Col = (&'static str, Rule, Value);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Inserted,
    Updated,
    Unchanged,
}

impl Outcome {
    fn count(self, counts: &mut TableCounts) {
        match self {
            Outcome::Inserted => counts.inserted += 1,
            Outcome::Updated => counts.updated += 1,
            Outcome::Unchanged => counts.unchanged += 1,
        }
    }
}

/// The SQL of an upsert that only touches a row when a compared column would change, and the
/// existence check that tells an insert from an update.
pub(super) fn upsert_sql(table: &str, cols: &[(&str, Rule)], guard: Option<&str>) -> (String, String) {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let keys: Vec<&str> = cols.iter().filter(|c| c.1 == Rule::Key).map(|c| c.0).collect();
    let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let mut sets = Vec::new();
    let mut changes = Vec::new();
    for (name, rule) in cols {
        let expr = match rule {
            Rule::Key => continue,
            Rule::Newest | Rule::Touch => format!("excluded.{name}"),
            Rule::Coalesce => format!("COALESCE(excluded.{name}, {table}.{name})"),
            Rule::Filled => format!("COALESCE(NULLIF(excluded.{name}, ''), {table}.{name})"),
            Rule::Settled(settled) => settled.racecard_merge(table, name, &format!("excluded.{name}")),
        };
        if *rule != Rule::Touch {
            changes.push(format!("{expr} IS NOT {table}.{name}"));
        }
        sets.push(format!("{name} = {expr}"));
    }
    let conflict = if changes.is_empty() {
        "DO NOTHING".to_string()
    } else {
        let changed = changes.join(" OR ");
        let condition = match guard {
            Some(g) => format!("({g}) AND ({changed})"),
            None => changed,
        };
        format!("DO UPDATE SET {} WHERE {condition}", sets.join(", "))
    };
    let upsert = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) {conflict}",
        names.join(", "),
        placeholders.join(", "),
        keys.join(", ")
    );
    let key_match: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("{k} = ?{}", i + 1)).collect();
    let exists = format!("SELECT 1 FROM {table} WHERE {}", key_match.join(" AND "));
    (upsert, exists)
}

/// Upserts rows of one column set into one table. Keys must come first in the column list.
pub(super) struct Upserter<'c> {
    table: &'static str,
    names: Vec<&'static str>,
    n_keys: usize,
    exists: Statement<'c>,
    upsert: Statement<'c>,
}

impl<'c> Upserter<'c> {
    fn new(conn: &'c Connection, table: &'static str, spec: &[Col], guard: Option<&str>) -> Result<Self> {
        let cols: Vec<(&str, Rule)> = spec.iter().map(|c| (c.0, c.1)).collect();
        let n_keys = cols.iter().take_while(|c| c.1 == Rule::Key).count();
        let (upsert, exists) = upsert_sql(table, &cols, guard);
        let what = format!("preparing the upsert into {table}");
        Ok(Upserter {
            table,
            names: cols.iter().map(|c| c.0).collect(),
            n_keys,
            exists: conn.prepare(&exists).ctx(&what)?,
            upsert: conn.prepare(&upsert).ctx(&what)?,
        })
    }

    /// Write one row; the raw SQLite error is returned so callers can skip a row on a constraint.
    fn row(&mut self, cols: Vec<Col>) -> rusqlite::Result<Outcome> {
        debug_assert!(cols.iter().map(|c| c.0).eq(self.names.iter().copied()), "column set of {}", self.table);
        let values: Vec<Value> = cols.into_iter().map(|c| c.2).collect();
        let existed = self.exists.exists(params_from_iter(&values[..self.n_keys]))?;
        let changed = self.upsert.execute(params_from_iter(&values))?;
        Ok(match (existed, changed) {
            (false, _) => Outcome::Inserted,
            (true, 0) => Outcome::Unchanged,
            (true, _) => Outcome::Updated,
        })
    }
}

/// Upsert every row of one table (all rows share one column set) and add the counts.
pub(super) fn upsert_all(
    conn: &Connection,
    table: &'static str,
    rows: Vec<Vec<Col>>,
    guard: Option<&str>,
    stats: &mut WriteStats,
) -> Result<()> {
    let Some(first) = rows.first() else { return Ok(()) };
    let mut up = Upserter::new(conn, table, first, guard)?;
    let mut counts = TableCounts::default();
    for row in rows {
        let key = row.first().map(|c| c.2.clone());
        let outcome = up.row(row).map_err(|e| Error::Query(format!("upserting into {table} (key {key:?}): {e}")))?;
        outcome.count(&mut counts);
    }
    stats.add(table, counts);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rows to columns. Column ownership lives here: a source writes only the columns it provides.

pub(super) fn course_cols(c: &Course, now: &Value) -> Vec<Col> {
    use Rule::*;
    vec![
        ("id", Key, v_str(&c.id)),
        ("name", Newest, v_str(&c.name)),
        ("region_code", Coalesce, v_nonempty(&c.region_code)),
        ("region", Coalesce, v_nonempty(&c.region)),
        ("updated_at", Touch, now.clone()),
    ]
}

pub(super) fn horse_cols(h: &Horse, now: &Value) -> Vec<Col> {
    use Rule::*;
    vec![
        ("id", Key, v_str(&h.id)),
        ("name", Newest, v_str(&h.name)),
        ("sex_code", Coalesce, v_text(&h.sex_code)),
        ("dob", Coalesce, h.dob.map_or(Value::Null, v_date)),
        ("colour", Coalesce, v_text(&h.colour)),
        ("breeder", Coalesce, v_text(&h.breeder)),
        ("region", Coalesce, v_text(&h.region)),
        ("sire_id", Coalesce, v_text(&h.sire_id)),
        ("dam_id", Coalesce, v_text(&h.dam_id)),
        ("damsire_id", Coalesce, v_text(&h.damsire_id)),
        ("updated_at", Touch, now.clone()),
    ]
}

pub(super) fn bookmaker_cols(b: &Bookmaker) -> Vec<Col> {
    use Rule::*;
    vec![
        ("code", Key, v_str(&b.code)),
        ("name", Newest, v_str(&b.name)),
        ("kind", Newest, v_str(b.kind.as_str())),
        ("source", Newest, v_str(&b.source)),
    ]
}

/// A bookmaker seen in odds never overwrites a seeded row's name, kind or source.
pub(super) const BOOKMAKER_GUARD: &str = "NOT (bookmakers.source = 'seed' AND excluded.source = 'odds')";

pub(super) fn race_cols(r: &Race, now: &Value) -> Vec<Col> {
    use Rule::*;
    // Columns both sources provide follow the row's state (`Settled`); a result always writes
    // `COALESCE(new, old)`.
    let shared = match r.source {
        Source::Racecard => Settled(crate::store::keep::Settled::Race),
        Source::Result => Coalesce,
    };
    let mut c = vec![
        ("id", Key, v_str(&r.id)),
        ("course_id", shared, v_str(&r.course_id)),
        ("course_name", shared, v_str(&r.course_name)),
        ("race_date", shared, v_date(r.race_date)),
        ("off_at", shared, v_instant(r.off_at)),
        ("region", shared, v_str(&r.region)),
        ("race_name", shared, v_text(&r.race_name)),
        ("race_type", shared, v_text(&r.race_type)),
        ("race_class", shared, v_text(&r.race_class)),
        ("pattern", shared, v_text(&r.pattern)),
        ("rating_band", shared, v_text(&r.rating_band)),
        ("age_band", shared, v_text(&r.age_band)),
        ("sex_restriction", shared, v_text(&r.sex_restriction)),
        ("distance", shared, v_text(&r.distance)),
        ("distance_f", shared, v_real(r.distance_f)),
        ("distance_y", shared, v_int(r.distance_y)),
        ("distance_m", shared, v_int(r.distance_m)),
        ("going", shared, v_text(&r.going)),
        ("surface", shared, v_text(&r.surface)),
        ("jumps", shared, v_text(&r.jumps)),
    ];
    match r.source {
        Source::Racecard => c.extend([
            // Only racecards send these; a blank card never erases an earlier card's value.
            ("going_detailed", Coalesce, v_text(&r.going_detailed)),
            ("prize_amount", Coalesce, v_real(r.prize_amount)),
            ("prize_currency", Coalesce, v_text(&r.prize_currency)),
            ("field_size", Coalesce, v_int(r.field_size)),
            ("big_race", Newest, v_bool(r.big_race)),
            ("is_abandoned", Newest, v_bool(r.is_abandoned)),
            ("stalls", Newest, v_text(&r.stalls)),
            ("weather", Newest, v_text(&r.weather)),
            ("rail_movements", Newest, v_text(&r.rail_movements)),
            ("tip", Newest, v_text(&r.tip)),
            ("verdict", Newest, v_text(&r.verdict)),
            ("betting_forecast", Newest, v_text(&r.betting_forecast)),
            ("racecard_updated_at", Touch, now.clone()),
        ]),
        Source::Result => c.extend([
            ("ran", Newest, v_int(r.ran)),
            ("winning_time_detail", Newest, v_text(&r.winning_time_detail)),
            ("comments", Newest, v_text(&r.comments)),
            ("non_runners", Newest, v_text(&r.non_runners)),
            ("tote_win", Newest, v_text(&r.tote_win)),
            ("tote_pl", Newest, v_text(&r.tote_pl)),
            ("tote_ex", Newest, v_text(&r.tote_ex)),
            ("tote_csf", Newest, v_text(&r.tote_csf)),
            ("tote_tricast", Newest, v_text(&r.tote_tricast)),
            ("tote_trifecta", Newest, v_text(&r.tote_trifecta)),
            ("has_result", Newest, Value::Integer(1)),
            ("result_updated_at", Touch, now.clone()),
        ]),
    }
    c.push(("updated_at", Touch, now.clone()));
    c
}

pub(super) fn runner_cols(r: &Runner, now: &Value) -> Vec<Col> {
    use Rule::*;
    let shared = match r.source {
        Source::Racecard => Settled(crate::store::keep::Settled::Runner),
        Source::Result => Coalesce,
    };
    let mut c = vec![
        ("race_id", Key, v_str(&r.race_id)),
        ("horse_id", Key, v_str(&r.horse_id)),
        ("horse_name", shared, v_str(&r.horse_name)),
        ("number", shared, v_int(r.number)),
        ("draw", shared, v_int(r.draw)),
        ("age", shared, v_int(r.age)),
        ("sex_code", shared, v_text(&r.sex_code)),
        ("jockey_id", shared, v_text(&r.jockey_id)),
        ("jockey_name", shared, v_text(&r.jockey_name)),
        ("jockey_claim_lbs", shared, v_int(r.jockey_claim_lbs)),
        ("trainer_id", shared, v_text(&r.trainer_id)),
        ("trainer_name", shared, v_text(&r.trainer_name)),
        ("owner_id", shared, v_text(&r.owner_id)),
        ("owner_name", shared, v_text(&r.owner_name)),
        ("sire_id", shared, v_text(&r.sire_id)),
        ("dam_id", shared, v_text(&r.dam_id)),
        ("damsire_id", shared, v_text(&r.damsire_id)),
        ("weight_lbs", shared, v_int(r.weight_lbs)),
        ("headgear", shared, v_text(&r.headgear)),
        ("official_rating", shared, v_int(r.official_rating)),
        ("silk_url", shared, v_text(&r.silk_url)),
    ];
    match r.source {
        Source::Racecard => c.extend([
            // Pre-race ratings: the racecard's own columns (a blank card never erases them).
            ("rpr", Coalesce, v_int(r.rpr)),
            ("topspeed", Coalesce, v_int(r.topspeed)),
            ("form", Newest, v_text(&r.form)),
            ("spotlight", Newest, v_text(&r.spotlight)),
            ("card_comment", Newest, v_text(&r.card_comment)),
            ("racecard_updated_at", Touch, now.clone()),
        ]),
        Source::Result => c.extend([
            ("result_rpr", Newest, v_int(r.result_rpr)),
            ("result_topspeed", Newest, v_int(r.result_topspeed)),
            ("position", Newest, v_text(&r.position)),
            ("finish_position", Newest, v_int(r.finish_position)),
            ("btn", Newest, v_real(r.btn)),
            ("ovr_btn", Newest, v_real(r.ovr_btn)),
            ("sp", Newest, v_text(&r.sp)),
            ("sp_decimal", Newest, v_real(r.sp_decimal)),
            ("prize_amount", Newest, v_real(r.prize_amount)),
            ("prize_currency", Newest, v_text(&r.prize_currency)),
            ("finish_time", Newest, v_text(&r.finish_time)),
            ("finish_time_s", Newest, v_real(r.finish_time_s)),
            ("comment", Newest, v_text(&r.comment)),
            ("result_updated_at", Touch, now.clone()),
        ]),
    }
    c.push(("updated_at", Touch, now.clone()));
    c
}

pub(super) fn odds_cols(o: &RunnerOdds, fetched_at: &Value) -> Vec<Col> {
    use Rule::*;
    vec![
        ("race_id", Key, v_str(&o.race_id)),
        ("horse_id", Key, v_str(&o.horse_id)),
        ("bookmaker", Key, v_str(&o.bookmaker)),
        ("fractional", Newest, v_text(&o.fractional)),
        ("decimal", Newest, v_real(o.decimal)),
        ("ew_places", Newest, v_int(o.ew_places)),
        ("ew_denom", Newest, v_int(o.ew_denom)),
        ("quoted_at", Newest, v_instant(o.quoted_at)),
        ("fetched_at", Touch, fetched_at.clone()),
    ]
}

/// `body` is the gzip of the exact bytes; `sha256` is of the raw bytes.
pub(super) fn response_cols(r: &RawResponse) -> Result<Vec<Col>> {
    use Rule::*;
    Ok(vec![
        ("endpoint", Key, v_str(&r.endpoint)),
        ("params", Key, v_str(&r.params)),
        ("fetched_at", Newest, Value::Text(instant(r.fetched_at))),
        ("status", Newest, Value::Integer(i64::from(r.status))),
        ("sha256", Newest, Value::Text(migrations::sha256_hex(&r.body))),
        ("encoding", Newest, v_str("gzip")),
        ("body", Newest, Value::Blob(gzip(&r.body, &r.endpoint)?)),
    ])
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

pub(super) fn entity_rows(conn: &Connection, e: &EntityRows<'_>, now: &Value, stats: &mut WriteStats) -> Result<()> {
    use Rule::*;
    upsert_all(conn, "courses", e.courses.iter().map(|c| course_cols(c, now)).collect(), None, stats)?;
    upsert_all(conn, "horses", e.horses.iter().map(|h| horse_cols(h, now)).collect(), None, stats)?;
    let person =
        |p: &&crate::model::Person| -> Vec<Col> { vec![("id", Key, v_str(&p.id)), ("name", Filled, v_str(&p.name))] };
    upsert_all(conn, "jockeys", e.jockeys.iter().map(person).collect(), None, stats)?;
    let trainers = e
        .trainers
        .iter()
        .map(|t| {
            vec![
                ("id", Key, v_str(&t.id)),
                ("name", Newest, v_str(&t.name)),
                ("location", Coalesce, v_text(&t.location)),
            ]
        })
        .collect();
    upsert_all(conn, "trainers", trainers, None, stats)?;
    upsert_all(conn, "owners", e.owners.iter().map(person).collect(), None, stats)?;
    let ancestor = |a: &&crate::model::Ancestor| -> Vec<Col> {
        vec![("id", Key, v_str(&a.id)), ("name", Newest, v_str(&a.name)), ("region", Coalesce, v_text(&a.region))]
    };
    upsert_all(conn, "sires", e.sires.iter().map(ancestor).collect(), None, stats)?;
    upsert_all(conn, "dams", e.dams.iter().map(ancestor).collect(), None, stats)?;
    upsert_all(conn, "damsires", e.damsires.iter().map(ancestor).collect(), None, stats)?;
    Ok(())
}

pub(super) fn response_rows(conn: &Connection, responses: &[&RawResponse], stats: &mut WriteStats) -> Result<()> {
    let rows = responses.iter().map(|r| response_cols(r)).collect::<Result<Vec<_>>>()?;
    upsert_all(conn, "api_responses", rows, None, stats)
}

/// Which of these horse ids `horses` holds.
fn stored_horses(conn: &Connection, ids: &[&str]) -> Result<HashSet<String>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let what = "looking up the horses of runners that the unit does not list";
    let mut stmt = conn.prepare("SELECT 1 FROM horses WHERE id = ?1").ctx(what)?;
    let mut known = HashSet::new();
    for id in ids {
        if stmt.exists([id]).ctx(what)? {
            known.insert((*id).to_string());
        }
    }
    Ok(known)
}

/// The whole of `write_unit`, inside the caller's transaction.
pub(super) fn write_unit_tx(conn: &Connection, unit: &Unit, now: DateTime<Utc>) -> Result<WriteStats> {
    let mut stats = WriteStats::default();
    let now_v = Value::Text(instant(now));
    // The unit's fetch time: its latest response, so a rerun of the same responses changes nothing.
    let fetched_at = unit.responses.iter().map(|r| r.fetched_at).max().unwrap_or(now);
    let fetched_v = Value::Text(instant(fetched_at));

    let mut rows = UnitRows::new(unit);
    entity_rows(conn, &rows.entities, &now_v, &mut stats)?;
    let known = stored_horses(conn, &rows.unlisted_horses())?;
    rows.settle(&known);

    // Races and runners, one statement per source (the column sets differ).
    for source in [Source::Racecard, Source::Result] {
        let races = rows.races.iter().filter(|r| r.source == source).map(|r| race_cols(r, &now_v)).collect();
        upsert_all(conn, "races", races, None, &mut stats)?;
    }
    for source in [Source::Racecard, Source::Result] {
        let runners = rows.runners.iter().filter(|r| r.source == source).map(|r| runner_cols(r, &now_v)).collect();
        upsert_all(conn, "runners", runners, None, &mut stats)?;
    }
    upsert_all(conn, "runner_odds", rows.odds.iter().map(|o| odds_cols(o, &fetched_v)).collect(), None, &mut stats)?;
    // Bookmakers seen in odds are recorded with source `odds` (a seeded row keeps its own).
    let seen = rows.bookmakers.iter().map(|b| bookmaker_cols(&Bookmaker { source: "odds".into(), ..(*b).clone() }));
    upsert_all(conn, "bookmakers", seen.collect(), Some(BOOKMAKER_GUARD), &mut stats)?;
    response_rows(conn, &rows.responses, &mut stats)?;

    let (races, runners) = (rows.race_count(), rows.runner_count());
    let status = if races == 0 { CoverageStatus::Empty } else { CoverageStatus::Complete };
    let coverage = vec![
        ("kind", Rule::Key, v_str(unit.kind.as_str())),
        ("race_date", Rule::Key, v_date(unit.race_date)),
        ("status", Rule::Newest, v_str(status.as_str())),
        ("races", Rule::Newest, Value::Integer(races as i64)),
        ("runners", Rule::Newest, Value::Integer(runners as i64)),
        ("pages", Rule::Newest, Value::Integer(i64::from(unit.pages))),
        ("api_calls", Rule::Newest, Value::Integer(i64::from(unit.api_calls))),
        ("fetched_at", Rule::Newest, fetched_v.clone()),
        ("error", Rule::Newest, Value::Null),
        ("regions", Rule::Newest, unit.regions.as_deref().map_or(Value::Null, |r| Value::Text(regions_text(r)))),
        ("day_over", Rule::Newest, Value::Integer(i64::from(unit.day_over))),
    ];
    upsert_all(conn, "fetch_coverage", vec![coverage], None, &mut stats)?;
    stats.skipped.append(&mut rows.skipped);
    Ok(stats)
}

/// Run `f` in one IMMEDIATE transaction, committed: the one transaction sequence of every SQLite
/// write (a dry run's writes take it too, in their copy of the database).
pub(super) fn in_transaction<T>(
    conn: &mut Connection,
    what: &str,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&format!("starting {what}"))?;
    let out = f(&tx)?;
    tx.commit().ctx(&format!("committing {what}"))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The `Store` write entry points: each one transaction on the store's connection.

pub(super) async fn write_unit(store: &SqliteStore, unit: &Unit) -> Result<WriteStats> {
    let unit = unit.clone();
    store
        .call(move |conn| {
            let what = format!("the {} unit of {}", unit.kind, unit.race_date);
            in_transaction(conn, &what, |tx| write_unit_tx(tx, &unit, Utc::now())).map_err(|e| match e {
                Error::Busy(m) => Error::Busy(format!("writing {what}: {m}")),
                other => Error::Query(format!("writing {what}: {other}")),
            })
        })
        .await
}

pub(super) async fn mark_unit_failed(
    store: &SqliteStore,
    kind: Kind,
    race_date: NaiveDate,
    api_calls: u32,
    error: &str,
) -> Result<()> {
    let error = error.to_string();
    store.call(move |conn| {
        conn.execute(
            "INSERT INTO fetch_coverage (kind, race_date, status, races, runners, pages, api_calls, fetched_at, error)
             VALUES (?1, ?2, 'failed', 0, 0, 0, ?3, ?4, ?5)
             ON CONFLICT (kind, race_date) DO UPDATE SET
                 status = 'failed', api_calls = excluded.api_calls, fetched_at = excluded.fetched_at, error = excluded.error
             WHERE fetch_coverage.status <> 'complete'",
            params![kind.as_str(), race_date.format("%Y-%m-%d").to_string(), i64::from(api_calls), instant(Utc::now()), error],
        )
        .ctx(&format!("marking the {kind} unit of {race_date} failed in fetch_coverage"))?;
        Ok(())
    })
    .await
}

pub(super) async fn write_reference(store: &SqliteStore, data: &ReferenceData) -> Result<WriteStats> {
    let data = data.clone();
    store
        .call(move |conn| {
            in_transaction(conn, "reference data", |tx| {
                let mut stats = WriteStats::default();
                let mut skipped = Vec::new();
                let now = Value::Text(instant(Utc::now()));
                let entities = crate::model::Entities { courses: data.courses.clone(), ..Default::default() };
                entity_rows(tx, &EntityRows::new(&entities, &mut skipped), &now, &mut stats)?;
                let regions = keep::dedupe(
                    &data.regions,
                    "region",
                    |r| r.code.clone(),
                    |r| r.code.clone(),
                    |r| !r.code.is_empty(),
                    &mut skipped,
                );
                let regions = regions.into_iter().map(|r: &Region| -> Vec<Col> {
                    vec![("code", Rule::Key, v_str(&r.code)), ("name", Rule::Newest, v_str(&r.name))]
                });
                upsert_all(tx, "regions", regions.collect(), None, &mut stats)?;
                let bookmakers = keep::bookmakers(&data.bookmakers, &mut skipped).into_iter().map(bookmaker_cols);
                upsert_all(tx, "bookmakers", bookmakers.collect(), Some(BOOKMAKER_GUARD), &mut stats)?;
                response_rows(tx, &keep::responses(&data.responses, &mut skipped), &mut stats)?;
                stats.skipped = skipped;
                Ok(stats)
            })
        })
        .await
}

pub(super) async fn write_horses(
    store: &SqliteStore,
    horses: &[Horse],
    responses: &[RawResponse],
) -> Result<WriteStats> {
    let horses = horses.to_vec();
    let responses = responses.to_vec();
    store
        .call(move |conn| {
            in_transaction(conn, "horse profiles", |tx| {
                let mut stats = WriteStats::default();
                let mut skipped = Vec::new();
                let now = Value::Text(instant(Utc::now()));
                let horses = keep::horses(&horses, &mut skipped).into_iter().map(|h| horse_cols(h, &now));
                upsert_all(tx, "horses", horses.collect(), None, &mut stats)?;
                response_rows(tx, &keep::responses(&responses, &mut skipped), &mut stats)?;
                stats.skipped = skipped;
                Ok(stats)
            })
        })
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_compares_all_but_touched_columns() {
        let (upsert, exists) = upsert_sql(
            "horses",
            &[("id", Rule::Key), ("name", Rule::Newest), ("dob", Rule::Coalesce), ("updated_at", Rule::Touch)],
            None,
        );
        assert_eq!(
            upsert,
            "INSERT INTO horses (id, name, dob, updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, dob = COALESCE(excluded.dob, horses.dob), updated_at = excluded.updated_at \
             WHERE excluded.name IS NOT horses.name OR COALESCE(excluded.dob, horses.dob) IS NOT horses.dob"
        );
        assert_eq!(exists, "SELECT 1 FROM horses WHERE id = ?1");
    }

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        use std::io::Read;
        let a = gzip(b"{\"racecards\": []}", "t").unwrap();
        assert_eq!(a, gzip(b"{\"racecards\": []}", "t").unwrap());
        let mut out = String::new();
        flate2::read::GzDecoder::new(&a[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "{\"racecards\": []}");
    }
}
