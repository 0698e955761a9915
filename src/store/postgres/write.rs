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
use futures_util::future::{try_join, try_join_all};

use super::upsert::Upsert;
use super::{PgStore, query_error};
use crate::model::{Entities, Horse, Kind, Race, RawResponse, Runner, Source, Unit};
use crate::store::columns::{self, BookmakerRow, CoverageRow, ResponseRow};
use crate::store::keep::{self, EntityRows, UnitRows, dedupe};
use crate::store::{Error, ReferenceData, Result, Store, TableCounts, WriteStats, Writer};

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

fn in_context(what: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Query(m) => Error::Query(format!("writing {what}: {m}")),
        other => other,
    }
}

/// The one transaction sequence of a Postgres write: on its own pooled connection, `BEGIN` with
/// the write prologue (one round trip), the write, `COMMIT` (a real run); in a dry run's session,
/// a savepoint released when the write worked, so later writes see it, and undone alone when it
/// failed, so the session goes on. The session's transaction is rolled back when it closes.
async fn in_write<T>(
    store: &PgStore,
    session: Option<&DrySession>,
    what: &str,
    write: impl AsyncFnOnce(&deadpool_postgres::Object) -> Result<T>,
) -> Result<T> {
    if let Some(session) = session {
        let guard = session.client.lock().await;
        let client = guard.as_ref().ok_or_else(|| Error::Query(format!("writing {what}: the dry run has ended")))?;
        client
            .batch_execute("SAVEPOINT dry_run_write")
            .await
            .map_err(query_error(&format!("start {what} in the dry run")))?;
        return match write(client).await {
            Ok(out) => {
                client
                    .batch_execute("RELEASE SAVEPOINT dry_run_write")
                    .await
                    .map_err(query_error(&format!("keep {what} in the dry run")))?;
                Ok(out)
            }
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK TO SAVEPOINT dry_run_write").await;
                Err(e)
            }
        };
    }
    let open = Open(Some(store.client().await?));
    let client = open.client()?;
    client
        .batch_execute(&format!("BEGIN; {}", store.write_prologue()))
        .await
        .map_err(query_error("begin a write transaction"))?;
    let out = match write(client).await {
        Ok(out) => out,
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            open.release();
            return Err(e);
        }
    };
    client.batch_execute("COMMIT").await.map_err(query_error(&format!("commit {what}")))?;
    open.release();
    Ok(out)
}

/// A pooled connection inside a write transaction. Dropped before [`Open::release`] (the write's
/// future was dropped: a timeout, a cancel), the connection is closed rather than pooled, and the
/// server rolls the transaction back.
struct Open(Option<deadpool_postgres::Object>);

impl Open {
    fn client(&self) -> Result<&deadpool_postgres::Object> {
        self.0.as_ref().ok_or_else(|| Error::Query("a write transaction's connection was already released".into()))
    }

    /// Back to the pool, the transaction ended.
    fn release(mut self) {
        self.0.take();
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// A dry run's session: one connection in one open transaction, each write a savepoint of it,
/// rolled back at [`Writer::close`] (or, dropped unclosed, by closing the connection).
pub(super) struct DrySession {
    store: PgStore,
    client: tokio::sync::Mutex<Option<deadpool_postgres::Object>>,
}

impl std::fmt::Debug for DrySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrySession").field("store", &self.store.describe()).finish_non_exhaustive()
    }
}

impl DrySession {
    pub(super) async fn open(store: PgStore) -> Result<DrySession> {
        let client = store.client().await?;
        client
            .batch_execute(&format!("BEGIN; {}", store.write_prologue()))
            .await
            .map_err(query_error("start the dry-run session"))?;
        Ok(DrySession { store, client: tokio::sync::Mutex::new(Some(client)) })
    }
}

impl Drop for DrySession {
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

#[async_trait::async_trait]
impl Writer for DrySession {
    fn is_dry_run(&self) -> bool {
        true
    }

    async fn write_unit(&self, unit: &Unit) -> Result<WriteStats> {
        write_unit(&self.store, Some(self), unit).await
    }

    async fn mark_unit_failed(&self, kind: Kind, race_date: NaiveDate, api_calls: u32, error: &str) -> Result<()> {
        mark_unit_failed(&self.store, Some(self), kind, race_date, api_calls, error).await
    }

    async fn write_reference(&self, data: &ReferenceData) -> Result<WriteStats> {
        write_reference(&self.store, Some(self), data).await
    }

    async fn write_horses(&self, horses: &[Horse], responses: &[RawResponse]) -> Result<WriteStats> {
        write_horses(&self.store, Some(self), horses, responses).await
    }

    async fn close(&self) -> Result<()> {
        // Taken out first: whatever the rollback says, the session is over.
        let client = self.client.lock().await.take();
        match client {
            Some(client) => client.batch_execute("ROLLBACK").await.map_err(query_error("roll back the dry run")),
            None => Ok(()),
        }
    }
}

pub(super) async fn write_unit(store: &PgStore, session: Option<&DrySession>, unit: &Unit) -> Result<WriteStats> {
    let what = format!("{} of {}", unit.kind, unit.race_date);
    let mut rows = UnitRows::new(unit);
    let seen: Vec<BookmakerRow> = rows.bookmakers.iter().map(|b| BookmakerRow::new(b, Some("odds"))).collect();
    let gz = gzipped(&rows.responses)?;
    // The unit's time: when its responses were fetched, so writing the same unit again is a no-op.
    let fetched_at = unit.responses.iter().map(|r| r.fetched_at).max().unwrap_or_else(Utc::now);
    let cache = store.cache_statements();
    let mut stats = WriteStats::default();
    in_write(store, session, &what, async |client| {
        unit_statements(client, unit, &mut rows, &seen, &gz, fetched_at, cache, &mut stats).await
    })
    .await
    .map_err(in_context(&what))?;
    stats.skipped = rows.skipped;
    Ok(stats)
}

/// Every statement of one unit's write, on `tx` (in [`in_write`]'s transaction or savepoint).
async fn unit_statements(
    tx: &impl GenericClient,
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
            known = stored_horses(tx, &unlisted).await?;
        }
        rows.settle(&known);
        let mut upserts = entities(&rows.entities)?;
        upserts.extend(races_and_runners(&rows.races, &rows.runners)?);
        upserts.extend(Upsert::new(&columns::RUNNER_ODDS, None, &rows.odds, Some(&fetched_at))?);
        upserts.extend(bookmakers(seen)?);
        upserts.extend(responses(gz)?);
        // Everything in one flight: every upsert, the coverage row; one round trip.
        let coverage = write_coverage(tx, unit, rows.race_count(), rows.runner_count(), fetched_at, cache);
        let (counts, coverage) = try_join(try_join_all(upserts.iter().map(|u| u.run(tx, cache))), coverage).await?;
        for (u, c) in upserts.iter().zip(counts) {
            stats.add(u.table, c);
        }
        stats.add("fetch_coverage", coverage);
        Ok(())
    }
}

/// Run `upserts` as one write (see [`in_write`]) and count what they did.
async fn write_all(
    store: &PgStore,
    session: Option<&DrySession>,
    what: &str,
    upserts: &[Upsert<'_>],
    skipped: Vec<crate::model::Skipped>,
) -> Result<WriteStats> {
    let mut stats = WriteStats::default();
    let cache = store.cache_statements();
    in_write(store, session, what, async |client| run_all(client, cache, upserts, &mut stats).await)
        .await
        .map_err(in_context(what))?;
    stats.skipped = skipped;
    Ok(stats)
}

pub(super) async fn write_reference(
    store: &PgStore,
    session: Option<&DrySession>,
    data: &ReferenceData,
) -> Result<WriteStats> {
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

    write_all(store, session, "reference data", &upserts, skipped).await
}

pub(super) async fn write_horses(
    store: &PgStore,
    session: Option<&DrySession>,
    horses_in: &[Horse],
    responses_in: &[RawResponse],
) -> Result<WriteStats> {
    let mut skipped = Vec::new();
    let kept = keep::horses(horses_in, &mut skipped);
    let gz = gzipped(&keep::responses(responses_in, &mut skipped))?;
    let mut upserts: Vec<Upsert<'_>> = Upsert::new(&columns::HORSES, None, &kept, None)?.into_iter().collect();
    upserts.extend(responses(&gz)?);

    write_all(store, session, "horse profiles", &upserts, skipped).await
}

pub(super) async fn mark_unit_failed(
    store: &PgStore,
    session: Option<&DrySession>,
    kind: Kind,
    race_date: NaiveDate,
    api_calls: u32,
    error: &str,
) -> Result<()> {
    let what = format!("the failed coverage row of {kind} {race_date}");
    in_write(store, session, &what, async |client| {
        client
            .execute(
                "INSERT INTO fetch_coverage AS t (kind, race_date, status, api_calls, fetched_at, error)
                 VALUES ($1, $2, 'failed', $3, now(), $4)
                 ON CONFLICT (kind, race_date) DO UPDATE SET status = 'failed', api_calls = EXCLUDED.api_calls,
                     fetched_at = EXCLUDED.fetched_at, error = EXCLUDED.error
                 WHERE t.status <> 'complete'",
                &[&kind.as_str(), &race_date, &int(api_calls), &error],
            )
            .await
            .map_err(query_error(&format!("mark {kind} of {race_date} failed in fetch_coverage")))?;
        Ok(())
    })
    .await
}
