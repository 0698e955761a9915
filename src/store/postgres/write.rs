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

use super::stage::{StagedBookmaker, StagedResponse};
use super::upsert::{Merge, Upsert, col, cols, num, prepare, race_cols, runner_cols, stamps, text};
use super::{PgStore, query_error};
use crate::model::{Ancestor, Course, Entities, Horse, Kind, Person, Race, RawResponse, Runner, Source, Trainer, Unit};
use crate::store::keep::{self, EntityRows, UnitRows, dedupe};
use crate::store::{
    CoverageStatus, Error, ReferenceData, Result, Store, TableCounts, WriteStats, Writer, regions_text,
};

const ID: &[&str] = &["id"];

fn courses<'r>(rows: &[&'r Course]) -> Result<Option<Upsert<'r>>> {
    use Merge::{Keep, Replace};
    let c = vec![col("name", Replace), text("region_code", Keep), text("region", Keep)];
    Ok(Upsert::new("courses", ID, c, rows)?.map(|u| u.stamped(vec![("updated_at", "now()")])))
}

fn horses<'r>(rows: &[&'r Horse]) -> Result<Option<Upsert<'r>>> {
    let mut c = vec![col("name", Merge::Replace)];
    c.extend(cols(&["sex_code", "dob", "colour", "breeder", "region", "sire_id", "dam_id", "damsire_id"], Merge::Keep));
    Ok(Upsert::new("horses", ID, c, rows)?.map(|u| u.stamped(vec![("updated_at", "now()")])))
}

fn people<'r>(table: &'static str, rows: &[&'r Person]) -> Result<Option<Upsert<'r>>> {
    Upsert::new(table, ID, vec![col("name", Merge::Filled)], rows)
}

fn trainers<'r>(rows: &[&'r Trainer]) -> Result<Option<Upsert<'r>>> {
    Upsert::new("trainers", ID, vec![col("name", Merge::Replace), col("location", Merge::Keep)], rows)
}

fn ancestors<'r>(table: &'static str, rows: &[&'r Ancestor]) -> Result<Option<Upsert<'r>>> {
    Upsert::new(table, ID, vec![col("name", Merge::Replace), col("region", Merge::Keep)], rows)
}

/// The entity upserts, in the order they must run (horses before the runners that name them).
fn entities<'r>(e: &EntityRows<'r>) -> Result<Vec<Upsert<'r>>> {
    Ok([
        courses(&e.courses)?,
        horses(&e.horses)?,
        people("jockeys", &e.jockeys)?,
        trainers(&e.trainers)?,
        people("owners", &e.owners)?,
        ancestors("sires", &e.sires)?,
        ancestors("dams", &e.dams)?,
        ancestors("damsires", &e.damsires)?,
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
        out.extend(Upsert::new("races", ID, race_cols(source), &rows)?.map(|u| u.stamped(stamps(source))));
    }
    for source in [Source::Racecard, Source::Result] {
        let rows: Vec<&Runner> = runners.iter().copied().filter(|r| r.source == source).collect();
        let key = &["race_id", "horse_id"];
        out.extend(Upsert::new("runners", key, runner_cols(source), &rows)?.map(|u| u.stamped(stamps(source))));
    }
    Ok(out)
}

fn bookmakers<'r>(rows: &'r [StagedBookmaker]) -> Result<Option<Upsert<'r>>> {
    let refs: Vec<&StagedBookmaker> = rows.iter().collect();
    Upsert::new("bookmakers", &["code"], cols(&["name", "kind", "source"], Merge::KeepSeed), &refs)
}

fn responses<'r>(rows: &'r [StagedResponse]) -> Result<Option<Upsert<'r>>> {
    let refs: Vec<&StagedResponse> = rows.iter().collect();
    let c = cols(&["fetched_at", "status", "sha256", "encoding", "body"], Merge::Replace);
    Upsert::new("api_responses", &["endpoint", "params"], c, &refs)
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

fn gzipped(rows: &[&RawResponse]) -> Result<Vec<StagedResponse>> {
    rows.iter().map(|r| StagedResponse::new(r)).collect()
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
    let status = if races > 0 { CoverageStatus::Complete } else { CoverageStatus::Empty }.as_str();
    let regions: Option<String> = unit.regions.as_deref().map(regions_text);
    let statement = prepare(
        tx,
        // The LEFT JOIN drops an unchanged row before ON CONFLICT would lock it: a rerun of an
        // unchanged unit then writes nothing at all, and its COMMIT needs no WAL flush.
        "INSERT INTO fetch_coverage AS t
             (kind, race_date, status, races, runners, pages, api_calls, fetched_at, error, regions, day_over)
             SELECT v.* FROM (VALUES ($1::text, $2::date, $3::text, $4::int4, $5::int4, $6::int4, $7::int4,
                                      $8::timestamptz, NULL::text, $9::text, $10::bool))
                  AS v (kind, race_date, status, races, runners, pages, api_calls, fetched_at, error, regions, day_over)
             LEFT JOIN fetch_coverage c ON c.kind = v.kind AND c.race_date = v.race_date
             WHERE c.kind IS NULL
                OR ROW(c.status, c.races, c.runners, c.pages, c.api_calls, c.fetched_at, c.error, c.regions, c.day_over)
                   IS DISTINCT FROM ROW(v.status, v.races, v.runners, v.pages, v.api_calls, v.fetched_at, v.error,
                                        v.regions, v.day_over)
             ON CONFLICT (kind, race_date) DO UPDATE SET status = EXCLUDED.status, races = EXCLUDED.races,
                 runners = EXCLUDED.runners, pages = EXCLUDED.pages, api_calls = EXCLUDED.api_calls,
                 fetched_at = EXCLUDED.fetched_at, error = NULL, regions = EXCLUDED.regions,
                 day_over = EXCLUDED.day_over
             WHERE ROW(t.status, t.races, t.runners, t.pages, t.api_calls, t.fetched_at, t.error, t.regions, t.day_over)
                   IS DISTINCT FROM ROW(EXCLUDED.status, EXCLUDED.races, EXCLUDED.runners, EXCLUDED.pages,
                                        EXCLUDED.api_calls, EXCLUDED.fetched_at, NULL::text, EXCLUDED.regions,
                                        EXCLUDED.day_over)
             RETURNING (xmax = 0)",
        cache,
    )
    .await
    .map_err(query_error("prepare the upsert into fetch_coverage"))?;
    let rows = tx
        .query(
            &statement,
            &[
                &unit.kind.as_str(),
                &unit.race_date,
                &status,
                &int(races),
                &int(runners),
                &int(unit.pages),
                &int(unit.api_calls),
                &fetched_at,
                &regions,
                &unit.day_over,
            ],
        )
        .await
        .map_err(query_error("upsert into fetch_coverage"))?;
    Ok(match rows.first() {
        Some(row) if row.get::<_, bool>(0) => TableCounts { inserted: 1, ..Default::default() },
        Some(_) => TableCounts { updated: 1, ..Default::default() },
        None => TableCounts { unchanged: 1, ..Default::default() },
    })
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
    let seen: Vec<StagedBookmaker> = rows.bookmakers.iter().map(|b| StagedBookmaker::new(b, "odds")).collect();
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
    seen: &[StagedBookmaker],
    gz: &[StagedResponse],
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
        let mut odds_cols = cols(&["fractional", "ew_places", "ew_denom", "quoted_at"], Merge::Replace);
        odds_cols.push(num("decimal", Merge::Replace));
        let key = &["race_id", "horse_id", "bookmaker"];
        if let Some(u) = Upsert::new("runner_odds", key, odds_cols, &rows.odds)? {
            let before: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&fetched_at];
            upserts.push(
                u.stamped(vec![("fetched_at", "$1::timestamptz")]).with_params::<crate::model::RunnerOdds>(before),
            );
        }
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
    let books: Vec<StagedBookmaker> = keep::bookmakers(&data.bookmakers, &mut skipped)
        .into_iter()
        .map(|b| StagedBookmaker::new(b, &b.source))
        .collect();
    let gz = gzipped(&keep::responses(&data.responses, &mut skipped))?;
    let mut upserts = entities(&kept)?;
    upserts.extend(Upsert::new("regions", &["code"], vec![col("name", Merge::Replace)], &regions)?);
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
    let mut upserts: Vec<Upsert<'_>> = horses(&kept)?.into_iter().collect();
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
