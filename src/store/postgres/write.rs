//! PostgreSQL writes: each call is one transaction. Each table's rows go as one array per column
//! into ONE `INSERT ... SELECT ... FROM unnest(...) ON CONFLICT DO UPDATE ... WHERE (old) IS
//! DISTINCT FROM (new) RETURNING (xmax = 0)` per table and source, prepared once per connection.
//! All of a write's statements are sent together (pipelined) and run in order, so a unit costs a
//! few round trips whatever its number of tables.
//!
//! A statement binds one parameter per column, never per row, so the 65,535 bind limit never
//! applies and `database.batch_size` has nothing to batch here. The guard leaves a row that would
//! not change untouched (timestamps included), and the RETURNING rows tell inserted (`xmax = 0`)
//! from updated; unchanged = rows - returned. What is kept and skipped is `store::keep`'s call.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use futures_util::future::{try_join_all, try_join3};

use super::upsert::Upsert;
use super::{PgStore, query_error};
use crate::model::{Entities, Horse, Kind, Race, RawResponse, Runner, Source, Unit};
use crate::store::columns::{self, BookmakerRow, CoverageRow, ResponseRow};
use crate::store::keep::{self, EntityRows, UnitRows, dedupe};
use crate::store::{Error, ReferenceData, Result, TableCounts, WriteStats};

/// The entity upserts, in the order they must run (horses before the runners that name them).
fn entities<'r>(e: &EntityRows<'r>) -> Result<Vec<Upsert<'r>>> {
    Ok([
        Upsert::new(&columns::COURSES, None, &e.courses, None)?,
        Upsert::new(&columns::HORSES, None, &e.horses, None)?,
        Upsert::new(&columns::JOCKEYS, None, &e.jockeys, None)?,
        Upsert::new(&columns::TRAINERS, None, &e.trainers, None)?,
        Upsert::new(&columns::OWNERS, None, &e.owners, None)?,
        Upsert::new(&columns::SIRES, None, &e.sires, None)?,
        Upsert::new(&columns::DAMS, None, &e.dams, None)?,
        Upsert::new(&columns::DAMSIRES, None, &e.damsires, None)?,
    ]
    .into_iter()
    .flatten()
    .collect())
}

/// Races, then runners, one statement per source (their column sets differ).
fn races_and_runners<'r>(races: &[&'r Race], runners: &[&'r Runner]) -> Result<Vec<Upsert<'r>>> {
    let mut out = Vec::new();
    for source in [Source::Racecard, Source::Result] {
        let rows: Vec<&Race> = races.iter().copied().filter(|r| r.source == source).collect();
        out.extend(Upsert::new(&columns::RACES, Some(source), &rows, None)?);
    }
    for source in [Source::Racecard, Source::Result] {
        let rows: Vec<&Runner> = runners.iter().copied().filter(|r| r.source == source).collect();
        out.extend(Upsert::new(&columns::RUNNERS, Some(source), &rows, None)?);
    }
    Ok(out)
}

fn bookmakers(rows: &[BookmakerRow]) -> Result<Option<Upsert<'_>>> {
    let refs: Vec<&BookmakerRow> = rows.iter().collect();
    Upsert::new(&columns::BOOKMAKERS, None, &refs, None)
}

fn responses(rows: &[ResponseRow]) -> Result<Option<Upsert<'_>>> {
    let refs: Vec<&ResponseRow> = rows.iter().collect();
    Upsert::new(&columns::API_RESPONSES, None, &refs, None)
}

/// Send every upsert at once (they run in order on the server) and add up what they did.
async fn run_all(tx: &impl GenericClient, cache: bool, upserts: &[Upsert<'_>], stats: &mut WriteStats) -> Result<()> {
    let counts = try_join_all(upserts.iter().map(|u| u.run(tx, cache))).await?;
    for (u, c) in upserts.iter().zip(counts) {
        stats.add(u.table, c);
    }
    Ok(())
}

/// Which of these horse ids `horses` holds (one array parameter, whatever the count).
async fn stored_horses(tx: &impl GenericClient, ids: &[&str]) -> Result<HashSet<String>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = tx
        .query("SELECT id FROM horses WHERE id = ANY($1::text[])", &[&ids])
        .await
        .map_err(query_error("look up the horses of runners that the unit does not list"))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

fn gzipped(rows: &[&RawResponse]) -> Result<Vec<ResponseRow>> {
    rows.iter().map(|r| ResponseRow::new(r)).collect()
}

/// Counts as `integer` (saturating: no real unit comes near 2^31 rows).
fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

async fn write_coverage(
    tx: &impl GenericClient,
    unit: &Unit,
    races: usize,
    runners: usize,
    fetched_at: DateTime<Utc>,
    cache: bool,
) -> Result<TableCounts> {
    let row = CoverageRow::new(unit, races, runners, fetched_at);
    match Upsert::new(&columns::FETCH_COVERAGE, None, &[&row], None)? {
        Some(upsert) => upsert.run(tx, cache).await,
        None => Ok(TableCounts::default()),
    }
}

/// Run one write inside the dry-run session as a savepoint: kept (released) when it worked, so
/// later writes of the run see it; undone alone when it failed, so the session goes on.
async fn in_savepoint(
    client: &deadpool_postgres::Object,
    what: &str,
    write: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    client
        .batch_execute("SAVEPOINT dry_run_write")
        .await
        .map_err(query_error(&format!("start {what} in the dry run")))?;
    match write.await {
        Ok(()) => client
            .batch_execute("RELEASE SAVEPOINT dry_run_write")
            .await
            .map_err(query_error(&format!("keep {what} in the dry run"))),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK TO SAVEPOINT dry_run_write").await;
            Err(e)
        }
    }
}

/// Commit, or roll back when `dry_run`.
async fn finish(tx: deadpool_postgres::Transaction<'_>, dry_run: bool, what: &str) -> Result<()> {
    if dry_run {
        tx.rollback().await.map_err(query_error(&format!("roll back the dry run of {what}")))
    } else {
        tx.commit().await.map_err(query_error(&format!("commit {what}")))
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
    let mut rows = UnitRows::new(unit);
    let seen: Vec<BookmakerRow> = rows.bookmakers.iter().map(|b| BookmakerRow::new(b, Some("odds"))).collect();
    let gz = gzipped(&rows.responses)?;
    // The unit's time: when its responses were fetched, so writing the same unit again is a no-op.
    let fetched_at = unit.responses.iter().map(|r| r.fetched_at).max().unwrap_or_else(Utc::now);
    let cache = store.cache_statements();
    let mut stats = WriteStats::default();
    if dry_run {
        let session = store.dry_session.lock().await;
        if let Some(client) = session.as_ref() {
            in_savepoint(
                client,
                &what,
                unit_statements(client, None, unit, &mut rows, &seen, &gz, fetched_at, cache, &mut stats),
            )
            .await
            .map_err(in_context(&what))?;
            stats.skipped = rows.skipped;
            return Ok(stats);
        }
    }
    let mut client = store.client().await?;
    // BEGIN alone: the settings go out with the upserts below, saving a round trip (Postgres runs
    // a connection's statements in the order sent, so they apply before the first upsert).
    let tx = client.transaction().await.map_err(query_error("begin a transaction"))?;
    let prologue = Some(store.write_prologue());
    let result = unit_statements(&tx, prologue, unit, &mut rows, &seen, &gz, fetched_at, cache, &mut stats).await;
    result.map_err(in_context(&what))?;
    finish(tx, dry_run, &what).await?;
    stats.skipped = rows.skipped;
    Ok(stats)
}

/// Every statement of one unit's write, on `tx` (a transaction, or the dry-run session).
async fn unit_statements(
    tx: &impl GenericClient,
    mut prologue: Option<String>,
    unit: &Unit,
    rows: &mut UnitRows<'_>,
    seen: &[BookmakerRow],
    gz: &[ResponseRow],
    fetched_at: DateTime<Utc>,
    cache: bool,
    stats: &mut WriteStats,
) -> Result<()> {
    {
        let unlisted = rows.unlisted_horses();
        let mut known = HashSet::new();
        if !unlisted.is_empty() {
            if let Some(p) = prologue.take() {
                tx.batch_execute(&p).await.map_err(query_error("set the write transaction's settings"))?;
            }
            known = stored_horses(tx, &unlisted).await?;
        }
        rows.settle(&known);
        let mut upserts = entities(&rows.entities)?;
        upserts.extend(races_and_runners(&rows.races, &rows.runners)?);
        upserts.extend(Upsert::new(&columns::RUNNER_ODDS, None, &rows.odds, Some(&fetched_at))?);
        upserts.extend(bookmakers(seen)?);
        upserts.extend(responses(gz)?);
        // Everything in one flight: settings, every upsert, the coverage row; one round trip.
        let settings = async {
            match &prologue {
                Some(p) => tx.batch_execute(p).await.map_err(query_error("set the write transaction's settings")),
                None => Ok(()),
            }
        };
        let coverage = write_coverage(tx, unit, rows.race_count(), rows.runner_count(), fetched_at, cache);
        let ((), counts, coverage) =
            try_join3(settings, try_join_all(upserts.iter().map(|u| u.run(tx, cache))), coverage).await?;
        for (u, c) in upserts.iter().zip(counts) {
            stats.add(u.table, c);
        }
        stats.add("fetch_coverage", coverage);
        Ok(())
    }
}

pub(super) async fn write_reference(store: &PgStore, data: &ReferenceData, dry_run: bool) -> Result<WriteStats> {
    let mut skipped = Vec::new();
    let entities_in = Entities { courses: data.courses.clone(), ..Default::default() };
    let kept = EntityRows::new(&entities_in, &mut skipped);
    let regions =
        dedupe(&data.regions, "region", |r| r.code.clone(), |r| r.code.clone(), |r| !r.code.is_empty(), &mut skipped);
    let books: Vec<BookmakerRow> =
        keep::bookmakers(&data.bookmakers, &mut skipped).into_iter().map(|b| BookmakerRow::new(b, None)).collect();
    let gz = gzipped(&keep::responses(&data.responses, &mut skipped))?;
    let mut upserts = entities(&kept)?;
    upserts.extend(Upsert::new(&columns::REGIONS, None, &regions, None)?);
    upserts.extend(bookmakers(&books)?);
    upserts.extend(responses(&gz)?);

    let mut stats = WriteStats::default();
    if dry_run {
        let session = store.dry_session.lock().await;
        if let Some(client) = session.as_ref() {
            in_savepoint(client, "reference data", run_all(client, store.cache_statements(), &upserts, &mut stats))
                .await
                .map_err(in_context("reference data"))?;
            stats.skipped = skipped;
            return Ok(stats);
        }
    }
    let mut client = store.client().await?;
    let tx = store.begin_write(&mut client).await?;
    run_all(&tx, store.cache_statements(), &upserts, &mut stats).await.map_err(in_context("reference data"))?;
    finish(tx, dry_run, "reference data").await?;
    stats.skipped = skipped;
    Ok(stats)
}

pub(super) async fn write_horses(
    store: &PgStore,
    horses_in: &[Horse],
    responses_in: &[RawResponse],
    dry_run: bool,
) -> Result<WriteStats> {
    let mut skipped = Vec::new();
    let kept = keep::horses(horses_in, &mut skipped);
    let gz = gzipped(&keep::responses(responses_in, &mut skipped))?;
    let mut upserts: Vec<Upsert<'_>> = Upsert::new(&columns::HORSES, None, &kept, None)?.into_iter().collect();
    upserts.extend(responses(&gz)?);

    let mut stats = WriteStats::default();
    if dry_run {
        let session = store.dry_session.lock().await;
        if let Some(client) = session.as_ref() {
            in_savepoint(client, "horse profiles", run_all(client, store.cache_statements(), &upserts, &mut stats))
                .await
                .map_err(in_context("horse profiles"))?;
            stats.skipped = skipped;
            return Ok(stats);
        }
    }
    let mut client = store.client().await?;
    let tx = store.begin_write(&mut client).await?;
    run_all(&tx, store.cache_statements(), &upserts, &mut stats).await.map_err(in_context("horse profiles"))?;
    finish(tx, dry_run, "horse profiles").await?;
    stats.skipped = skipped;
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
    let tx = store.begin_write(&mut client).await?;
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
    tx.commit().await.map_err(query_error("commit the failed coverage row"))
}
