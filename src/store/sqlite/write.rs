//! SQLite write units: which rows of a unit, reference data or horse profiles go to which table,
//! in order, inside the caller's transaction, with the values' stored forms. The columns each
//! write sends and how they merge are declared in `store::columns`; `upsert.rs` renders them.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, TransactionBehavior, params};

use super::upsert::{Stamps, upsert_all};
use super::{Ctx, SqliteStore};
use crate::model::{Entities, Horse, Kind, RawResponse, Source, Unit};
use crate::store::columns::{self, BookmakerRow, CoverageRow, ResponseRow};
use crate::store::keep::{self, EntityRows, UnitRows};
use crate::store::{Error, ReferenceData, Result, WriteStats};

// Values

/// Instants are stored as ISO 8601 UTC text with whole seconds.
const INSTANT_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

pub(super) fn instant(t: DateTime<Utc>) -> String {
    t.format(INSTANT_FORMAT).to_string()
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
// Write units: which rows go to which table, in order. Which columns each write sends, and how
// they merge, is `store::columns`'s; `upsert.rs` renders it.

/// The entity tables, in the order a unit writes them (horses before the runners that name them).
fn entity_rows(conn: &Connection, e: &EntityRows<'_>, stamps: &Stamps, stats: &mut WriteStats) -> Result<()> {
    upsert_all(conn, &columns::COURSES, None, e.courses.iter().copied(), stamps, stats)?;
    upsert_all(conn, &columns::HORSES, None, e.horses.iter().copied(), stamps, stats)?;
    upsert_all(conn, &columns::JOCKEYS, None, e.jockeys.iter().copied(), stamps, stats)?;
    upsert_all(conn, &columns::TRAINERS, None, e.trainers.iter().copied(), stamps, stats)?;
    upsert_all(conn, &columns::OWNERS, None, e.owners.iter().copied(), stamps, stats)?;
    upsert_all(conn, &columns::SIRES, None, e.sires.iter().copied(), stamps, stats)?;
    upsert_all(conn, &columns::DAMS, None, e.dams.iter().copied(), stamps, stats)?;
    upsert_all(conn, &columns::DAMSIRES, None, e.damsires.iter().copied(), stamps, stats)?;
    Ok(())
}

/// Raw responses: gzipped, with the sha256 of the raw bytes.
fn response_rows(conn: &Connection, responses: &[&RawResponse], stamps: &Stamps, stats: &mut WriteStats) -> Result<()> {
    let rows = responses.iter().map(|r| ResponseRow::new(r)).collect::<Result<Vec<_>>>()?;
    upsert_all(conn, &columns::API_RESPONSES, None, &rows, stamps, stats)
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
    // The unit's fetch time: its latest response, so a rerun of the same responses changes nothing.
    let fetched_at = unit.responses.iter().map(|r| r.fetched_at).max().unwrap_or(now);
    let stamps = Stamps::new(now, fetched_at);

    let mut rows = UnitRows::new(unit);
    entity_rows(conn, &rows.entities, &stamps, &mut stats)?;
    let known = stored_horses(conn, &rows.unlisted_horses())?;
    rows.settle(&known);

    // Races and runners, one statement per source (the column sets differ).
    for source in [Source::Racecard, Source::Result] {
        let races = rows.races.iter().copied().filter(|r| r.source == source);
        upsert_all(conn, &columns::RACES, Some(source), races, &stamps, &mut stats)?;
    }
    for source in [Source::Racecard, Source::Result] {
        let runners = rows.runners.iter().copied().filter(|r| r.source == source);
        upsert_all(conn, &columns::RUNNERS, Some(source), runners, &stamps, &mut stats)?;
    }
    upsert_all(conn, &columns::RUNNER_ODDS, None, rows.odds.iter().copied(), &stamps, &mut stats)?;
    // Bookmakers seen in odds are recorded with source `odds` (a seeded row keeps its own).
    let seen: Vec<BookmakerRow> = rows.bookmakers.iter().map(|b| BookmakerRow::new(b, Some("odds"))).collect();
    upsert_all(conn, &columns::BOOKMAKERS, None, &seen, &stamps, &mut stats)?;
    response_rows(conn, &rows.responses, &stamps, &mut stats)?;

    let coverage = CoverageRow::new(unit, rows.race_count(), rows.runner_count(), fetched_at);
    upsert_all(conn, &columns::FETCH_COVERAGE, None, [&coverage], &stamps, &mut stats)?;
    stats.skipped.append(&mut rows.skipped);
    Ok(stats)
}

/// The whole of `write_reference`: courses, regions, bookmakers (with their own source) and the
/// responses they came in, inside the caller's transaction.
pub(super) fn write_reference_tx(conn: &Connection, data: &ReferenceData) -> Result<WriteStats> {
    let mut stats = WriteStats::default();
    let mut skipped = Vec::new();
    let now = Utc::now();
    let stamps = Stamps::new(now, now);
    let entities = Entities { courses: data.courses.clone(), ..Default::default() };
    entity_rows(conn, &EntityRows::new(&entities, &mut skipped), &stamps, &mut stats)?;
    let regions = keep::dedupe(
        &data.regions,
        "region",
        |r| r.code.clone(),
        |r| r.code.clone(),
        |r| !r.code.is_empty(),
        &mut skipped,
    );
    upsert_all(conn, &columns::REGIONS, None, regions, &stamps, &mut stats)?;
    let books: Vec<BookmakerRow> =
        keep::bookmakers(&data.bookmakers, &mut skipped).into_iter().map(|b| BookmakerRow::new(b, None)).collect();
    upsert_all(conn, &columns::BOOKMAKERS, None, &books, &stamps, &mut stats)?;
    response_rows(conn, &keep::responses(&data.responses, &mut skipped), &stamps, &mut stats)?;
    stats.skipped = skipped;
    Ok(stats)
}

/// The whole of `write_horses`: horse profiles and their responses, inside the caller's transaction.
pub(super) fn write_horses_tx(conn: &Connection, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats> {
    let mut stats = WriteStats::default();
    let mut skipped = Vec::new();
    let now = Utc::now();
    let stamps = Stamps::new(now, now);
    upsert_all(conn, &columns::HORSES, None, keep::horses(horses, &mut skipped), &stamps, &mut stats)?;
    response_rows(conn, &keep::responses(responses, &mut skipped), &stamps, &mut stats)?;
    stats.skipped = skipped;
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
    store.call(move |conn| in_transaction(conn, "reference data", |tx| write_reference_tx(tx, &data))).await
}

pub(super) async fn write_horses(
    store: &SqliteStore,
    horses: &[Horse],
    responses: &[RawResponse],
) -> Result<WriteStats> {
    let (horses, responses) = (horses.to_vec(), responses.to_vec());
    store.call(move |conn| in_transaction(conn, "horse profiles", |tx| write_horses_tx(tx, &horses, &responses))).await
}
