//! PostgreSQL writes: each call is one transaction. Rows are binary-COPYed into a
//! transaction-scoped stage table, then ONE `INSERT ... SELECT ... ON CONFLICT DO UPDATE ...
//! WHERE (old) IS DISTINCT FROM (new) RETURNING (xmax = 0)` per table and source moves them in.
//!
//! No statement binds more than one parameter, so the 65,535 bind limit never applies and
//! `database.batch_size` has nothing to batch here: COPY streams any number of rows. The guard
//! leaves a row that would not change untouched (timestamps included), and the RETURNING rows
//! tell inserted (`xmax = 0`) from updated; unchanged = staged - skipped - returned.

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::Transaction;

use std::collections::HashSet;

use super::stage::{Staged, StagedBookmaker, StagedResponse, source_str, stage};
use super::upsert::{Col, Merge, Upsert, col, cols, num, race_cols, runner_cols, stamps, text};
use super::{PgStore, query_error};
use crate::model::{Entities, Horse, Kind, Race, RawResponse, Region, Runner, RunnerOdds, Source, Unit};
use crate::store::plan::{self, EntityRows, UnitRows, dedupe};
use crate::store::{Error, ReferenceData, Result, TableCounts, WriteStats};

/// Stage and upsert an entity table (rows already one per id).
async fn upsert_entities<T: Staged>(
    tx: &Transaction<'_>,
    table: &'static str,
    rows: &[&T],
    cols: Vec<Col>,
    stamped: bool,
    stats: &mut WriteStats,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let stage = stage(tx, table, rows).await?;
    let upsert = Upsert {
        table,
        stage: &stage,
        key: &["id"],
        cols,
        stamps: if stamped { vec![("updated_at", "now()")] } else { Vec::new() },
        filter: String::new(),
    };
    let counts = upsert.run(tx, &[], rows.len()).await?;
    stats.add(table, counts);
    Ok(())
}

async fn write_entities(tx: &Transaction<'_>, e: &EntityRows<'_>, stats: &mut WriteStats) -> Result<()> {
    use Merge::{Keep, Replace};
    let course_cols = vec![col("name", Replace), text("region_code", Keep), text("region", Keep)];
    upsert_entities(tx, "courses", &e.courses, course_cols, true, stats).await?;
    write_horse_rows(tx, &e.horses, stats).await?;
    upsert_entities(tx, "jockeys", &e.jockeys, vec![col("name", Replace)], false, stats).await?;
    let trainer_cols = vec![col("name", Replace), col("location", Keep)];
    upsert_entities(tx, "trainers", &e.trainers, trainer_cols, false, stats).await?;
    upsert_entities(tx, "owners", &e.owners, vec![col("name", Replace)], false, stats).await?;
    for (table, rows) in [("sires", &e.sires), ("dams", &e.dams), ("damsires", &e.damsires)] {
        let cols = vec![col("name", Replace), col("region", Keep)];
        upsert_entities(tx, table, rows, cols, false, stats).await?;
    }
    Ok(())
}

async fn write_horse_rows(tx: &Transaction<'_>, horses: &[&Horse], stats: &mut WriteStats) -> Result<()> {
    let mut horse_cols = vec![col("name", Merge::Replace)];
    horse_cols.extend(cols(
        &["sex_code", "dob", "colour", "breeder", "region", "sire_id", "dam_id", "damsire_id"],
        Merge::Keep,
    ));
    upsert_entities(tx, "horses", horses, horse_cols, true, stats).await
}

/// Races of the unit (one statement per source: their column sets differ).
async fn write_races(tx: &Transaction<'_>, races: &[&Race], stats: &mut WriteStats) -> Result<()> {
    if races.is_empty() {
        return Ok(());
    }
    let stage = stage(tx, "races", races).await?;
    for source in [Source::Racecard, Source::Result] {
        let n = races.iter().filter(|r| r.source == source).count();
        if n == 0 {
            continue;
        }
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
    Ok(())
}

/// Which of these horse ids `horses` holds (one array parameter, whatever the count).
async fn stored_horses(tx: &Transaction<'_>, ids: &[&str]) -> Result<HashSet<String>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = tx
        .query("SELECT id FROM horses WHERE id = ANY($1::text[])", &[&ids])
        .await
        .map_err(query_error("look up the horses of runners that the unit does not list"))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// Runners of the unit, already checked against their races and horses by the plan.
async fn write_runners(tx: &Transaction<'_>, runners: &[&Runner], stats: &mut WriteStats) -> Result<()> {
    if runners.is_empty() {
        return Ok(());
    }
    let stage = stage(tx, "runners", runners).await?;
    for source in [Source::Racecard, Source::Result] {
        let n = runners.iter().filter(|r| r.source == source).count();
        if n == 0 {
            continue;
        }
        let upsert = Upsert {
            table: "runners",
            stage: &stage,
            key: &["race_id", "horse_id"],
            cols: runner_cols(source),
            stamps: stamps(source),
            filter: format!("WHERE s.src = '{}'", source_str(source)),
        };
        stats.add("runners", upsert.run(tx, &[], n).await?);
    }
    Ok(())
}

async fn write_odds(
    tx: &Transaction<'_>,
    odds: &[&RunnerOdds],
    fetched_at: DateTime<Utc>,
    stats: &mut WriteStats,
) -> Result<()> {
    if odds.is_empty() {
        return Ok(());
    }
    let stage = stage(tx, "runner_odds", odds).await?;
    let mut c = cols(&["fractional", "ew_places", "ew_denom", "quoted_at"], Merge::Replace);
    c.push(num("decimal", Merge::Replace));
    let upsert = Upsert {
        table: "runner_odds",
        stage: &stage,
        key: &["race_id", "horse_id", "bookmaker"],
        cols: c,
        stamps: vec![("fetched_at", "$1::timestamptz")],
        filter: String::new(),
    };
    stats.add("runner_odds", upsert.run(tx, &[&fetched_at], odds.len()).await?);
    Ok(())
}

async fn write_bookmakers(tx: &Transaction<'_>, rows: &[StagedBookmaker], stats: &mut WriteStats) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let kept: Vec<&StagedBookmaker> = rows.iter().collect();
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

async fn write_regions(tx: &Transaction<'_>, rows: &[Region], stats: &mut WriteStats) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let kept =
        dedupe(rows, "region", |r| r.code.clone(), |r| r.code.clone(), |r| !r.code.is_empty(), &mut stats.skipped);
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

async fn write_responses(tx: &Transaction<'_>, responses: &[&RawResponse], stats: &mut WriteStats) -> Result<()> {
    if responses.is_empty() {
        return Ok(());
    }
    let staged = responses.iter().map(|r| StagedResponse::new(r)).collect::<Result<Vec<_>>>()?;
    let kept: Vec<&StagedResponse> = staged.iter().collect();
    let stage = stage(tx, "api_responses", &kept).await?;
    let upsert = Upsert {
        table: "api_responses",
        stage: &stage,
        key: &["endpoint", "params"],
        cols: cols(&["fetched_at", "status", "sha256", "encoding", "body"], Merge::Replace),
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
        Some(row) if row.get::<_, bool>(0) => TableCounts { inserted: 1, ..Default::default() },
        Some(_) => TableCounts { updated: 1, ..Default::default() },
        None => TableCounts { unchanged: 1, ..Default::default() },
    };
    stats.add("fetch_coverage", counts);
    Ok(())
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
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let mut stats = WriteStats::default();
    // The unit's time: when its responses were fetched, so writing the same unit again is a no-op.
    let fetched_at = unit.responses.iter().map(|r| r.fetched_at).max().unwrap_or_else(Utc::now);
    let result: Result<()> = async {
        let mut rows = UnitRows::new(unit);
        write_entities(&tx, &rows.entities, &mut stats).await?;
        let known = stored_horses(&tx, &rows.unlisted_horses()).await?;
        rows.settle(&known);
        write_races(&tx, &rows.races, &mut stats).await?;
        write_runners(&tx, &rows.runners, &mut stats).await?;
        write_odds(&tx, &rows.odds, fetched_at, &mut stats).await?;
        let seen: Vec<StagedBookmaker> = rows.bookmakers.iter().map(|b| StagedBookmaker::new(b, "odds")).collect();
        write_bookmakers(&tx, &seen, &mut stats).await?;
        write_responses(&tx, &rows.responses, &mut stats).await?;
        write_coverage(&tx, unit, rows.race_count(), rows.runner_count(), fetched_at, &mut stats).await?;
        stats.skipped.append(&mut rows.skipped);
        Ok(())
    }
    .await;
    result.map_err(in_context(&what))?;
    finish(tx, dry_run, &what).await?;
    Ok(stats)
}

pub(super) async fn write_reference(store: &PgStore, data: &ReferenceData, dry_run: bool) -> Result<WriteStats> {
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let mut stats = WriteStats::default();
    let result: Result<()> = async {
        let mut skipped = Vec::new();
        let entities = Entities { courses: data.courses.clone(), ..Default::default() };
        write_entities(&tx, &EntityRows::new(&entities, &mut skipped), &mut stats).await?;
        write_regions(&tx, &data.regions, &mut stats).await?;
        let books: Vec<StagedBookmaker> = plan::bookmakers(&data.bookmakers, &mut skipped)
            .into_iter()
            .map(|b| StagedBookmaker::new(b, &b.source))
            .collect();
        write_bookmakers(&tx, &books, &mut stats).await?;
        write_responses(&tx, &plan::responses(&data.responses, &mut skipped), &mut stats).await?;
        stats.skipped.append(&mut skipped);
        Ok(())
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
        let mut skipped = Vec::new();
        write_horse_rows(&tx, &plan::horses(horses, &mut skipped), &mut stats).await?;
        write_responses(&tx, &plan::responses(responses, &mut skipped), &mut stats).await?;
        stats.skipped.append(&mut skipped);
        Ok(())
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
    tx.commit().await.map_err(query_error("commit the failed coverage row"))
}
