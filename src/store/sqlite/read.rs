//! SQLite reads (coverage, races of a day, horses to enrich, counts, freshness, stored responses,
//! the status page's) and the job-run ledger (`job_runs`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::write::{instant, parse_date, parse_instant, parse_opt_instant, v_date};
use super::{Ctx, SqliteStore, sql_error};
use crate::model::{Kind, RawResponse};
use crate::store::{
    AlertState, Coverage, CoverageStatus, DayCalls, Error, FinishedJobRun, Freshness, JobRun, NewJobRun, RaceState,
    Result, ResultDelay, RunRecord,
};

fn job_run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRunRow> {
    Ok(JobRunRow {
        id: r.get(0)?,
        job: r.get(1)?,
        slot: r.get(2)?,
        trigger: r.get(3)?,
        status: r.get(4)?,
        started_at: r.get(5)?,
        finished_at: r.get(6)?,
        host: r.get(7)?,
        pid: r.get(8)?,
        dry_run: r.get(9)?,
        api_calls: r.get(10)?,
        api_errors: r.get(11)?,
        rows_written: r.get(12)?,
        error: r.get(13)?,
    })
}

/// A `job_runs` row with its instants still as text.
struct JobRunRow {
    id: i64,
    job: String,
    slot: Option<String>,
    trigger: String,
    status: String,
    started_at: String,
    finished_at: Option<String>,
    host: Option<String>,
    pid: Option<i64>,
    dry_run: bool,
    api_calls: i64,
    api_errors: i64,
    rows_written: i64,
    error: Option<String>,
}

impl JobRunRow {
    fn parse(self) -> Result<JobRun> {
        Ok(JobRun {
            id: self.id,
            job: self.job,
            slot: parse_opt_instant(self.slot, "job_runs.slot")?,
            trigger: self.trigger,
            status: self.status,
            started_at: parse_instant(&self.started_at, "job_runs.started_at")?,
            finished_at: parse_opt_instant(self.finished_at, "job_runs.finished_at")?,
            host: self.host,
            pid: self.pid,
            dry_run: self.dry_run,
            api_calls: self.api_calls,
            api_errors: self.api_errors,
            rows_written: self.rows_written,
            error: self.error,
        })
    }
}

pub(super) async fn coverage(store: &SqliteStore, kind: Kind, from: NaiveDate, to: NaiveDate) -> Result<Vec<Coverage>> {
    store
        .call(move |conn| {
            let what = "reading fetch_coverage";
            let mut stmt = conn
                .prepare(
                    "SELECT race_date, status, races, runners, pages, api_calls, fetched_at, error, regions, day_over
                 FROM fetch_coverage WHERE kind = ?1 AND race_date BETWEEN ?2 AND ?3 ORDER BY race_date",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map(
                    params![kind.as_str(), from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, String>(6)?,
                            r.get::<_, Option<String>>(7)?,
                            r.get::<_, Option<String>>(8)?,
                            r.get::<_, bool>(9)?,
                        ))
                    },
                )
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(date, status, races, runners, pages, api_calls, fetched_at, error, regions, day_over)| {
                    let status = status
                        .parse::<CoverageStatus>()
                        .map_err(|e| Error::Query(format!("{e} (the {kind} unit of {date})")))?;
                    Ok(Coverage {
                        kind,
                        race_date: parse_date(&date, "fetch_coverage.race_date")?,
                        status,
                        races,
                        runners,
                        pages,
                        api_calls,
                        fetched_at: parse_instant(&fetched_at, "fetch_coverage.fetched_at")?,
                        error,
                        regions: crate::store::parse_regions(regions.as_deref()),
                        day_over,
                    })
                })
                .collect()
        })
        .await
}

pub(super) async fn races_on(store: &SqliteStore, date: NaiveDate) -> Result<Vec<RaceState>> {
    store
        .call(move |conn| {
            let what = format!("reading the races of {date}");
            let mut stmt = conn
                .prepare(
                    "SELECT id, off_at, has_result, COALESCE(is_abandoned, 0) FROM races
                 WHERE race_date = ?1 ORDER BY off_at, id",
                )
                .ctx(&what)?;
            let rows = stmt
                .query_map([date.format("%Y-%m-%d").to_string()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, bool>(3)?,
                    ))
                })
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter()
                .map(|(id, off_at, has_result, is_abandoned)| {
                    Ok(RaceState { id, off_at: parse_opt_instant(off_at, "races.off_at")?, has_result, is_abandoned })
                })
                .collect()
        })
        .await
}

pub(super) async fn horses_needing_enrichment(store: &SqliteStore, limit: u32) -> Result<Vec<String>> {
    store
        .call(move |conn| {
            let what = "reading horses needing enrichment";
            let mut stmt = conn
                .prepare(
                    "SELECT h.id FROM horses h
                 WHERE (h.dob IS NULL OR h.colour IS NULL OR h.breeder IS NULL)
                   AND EXISTS (SELECT 1 FROM runners r WHERE r.horse_id = h.id)
                 ORDER BY h.id LIMIT ?1",
                )
                .ctx(what)?;
            let ids = stmt
                .query_map([i64::from(limit)], |r| r.get::<_, String>(0))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            Ok(ids)
        })
        .await
}

pub(super) async fn start_job_run(store: &SqliteStore, run: &NewJobRun) -> Result<i64> {
    let run = run.clone();
    store
        .call(move |conn| {
            let slot = run.slot.map(instant);
            let res = conn.execute(
                "INSERT INTO job_runs (job, slot, trigger, status, started_at, host, pid, dry_run)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
                params![
                    run.job,
                    slot,
                    run.trigger.as_str(),
                    instant(run.started_at),
                    run.host,
                    i64::from(run.pid),
                    run.dry_run
                ],
            );
            match res {
                Ok(_) => Ok(conn.last_insert_rowid()),
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                {
                    Err(Error::Query(format!(
                        "job_runs already has a run of {} for slot {}: each (job, slot) runs once",
                        run.job,
                        slot.as_deref().unwrap_or("(none)")
                    )))
                }
                Err(e) => Err(sql_error(e, &format!("recording the start of job {} in job_runs", run.job))),
            }
        })
        .await
}

pub(super) async fn claim_slot(
    store: &SqliteStore,
    run: &NewJobRun,
    covered: &[DateTime<Utc>],
    reason: &str,
) -> Result<Option<i64>> {
    let (run, covered, reason) = (run.clone(), covered.to_vec(), reason.to_string());
    store
        .call(move |conn| {
            let what = format!("claiming a slot of {} in job_runs", run.job);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx(&what)?;
            let changed = tx
                .execute(
                    "INSERT INTO job_runs (job, slot, trigger, status, started_at, host, pid, dry_run)
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)
                 ON CONFLICT (job, slot) DO NOTHING",
                    params![
                        run.job,
                        run.slot.map(instant),
                        run.trigger.as_str(),
                        instant(run.started_at),
                        run.host,
                        i64::from(run.pid),
                        run.dry_run
                    ],
                )
                .ctx(&what)?;
            if changed == 0 {
                return Ok(None);
            }
            let id = tx.last_insert_rowid();
            for slot in covered {
                tx.execute(
                    "INSERT INTO job_runs (job, slot, trigger, status, started_at, finished_at, host, pid, error)
                 VALUES (?1, ?2, 'schedule', 'skipped', ?3, ?3, ?4, ?5, ?6)
                 ON CONFLICT (job, slot) DO NOTHING",
                    params![run.job, instant(slot), instant(run.started_at), run.host, i64::from(run.pid), reason],
                )
                .ctx(&what)?;
            }
            tx.commit().ctx(&what)?;
            Ok(Some(id))
        })
        .await
}

pub(super) async fn skip_slot(
    store: &SqliteStore,
    job: &str,
    slot: DateTime<Utc>,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<bool> {
    let (job, reason) = (job.to_string(), reason.to_string());
    store
        .call(move |conn| {
            let changed = conn
                .execute(
                    "INSERT INTO job_runs (job, slot, trigger, status, started_at, finished_at, host, pid, error)
                 VALUES (?1, ?2, 'schedule', 'skipped', ?3, ?3, ?4, ?5, ?6)
                 ON CONFLICT (job, slot) DO NOTHING",
                    params![
                        job,
                        instant(slot),
                        instant(at),
                        crate::lock::hostname(),
                        i64::from(std::process::id()),
                        reason
                    ],
                )
                .ctx(&format!("recording a skipped slot of {job} in job_runs"))?;
            Ok(changed > 0)
        })
        .await
}

pub(super) async fn last_slot(store: &SqliteStore, job: &str) -> Result<Option<DateTime<Utc>>> {
    let job = job.to_string();
    store
        .call(move |conn| {
            // Stored as fixed-width UTC text, so the text order is the time order.
            let slot: Option<String> = conn
                .query_row("SELECT MAX(slot) FROM job_runs WHERE job = ?1", [&job], |r| r.get(0))
                .ctx(&format!("reading the last slot of {job} in job_runs"))?;
            parse_opt_instant(slot, "job_runs.slot")
        })
        .await
}

pub(super) async fn finish_job_run(store: &SqliteStore, id: i64, run: &FinishedJobRun) -> Result<()> {
    let run = run.clone();
    store
        .call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE job_runs SET status = ?2, finished_at = ?3, api_calls = ?4, api_errors = ?5,
                     rows_written = ?6, error = ?7, summary = ?8
                 WHERE id = ?1",
                    params![
                        id,
                        run.status.as_str(),
                        instant(run.finished_at),
                        run.api_calls,
                        run.api_errors,
                        run.rows_written,
                        run.error,
                        run.summary.to_string()
                    ],
                )
                .ctx(&format!("recording the end of job run {id} in job_runs"))?;
            if changed == 0 {
                return Err(Error::Query(format!("job_runs has no run with id {id} to finish")));
            }
            Ok(())
        })
        .await
}

pub(super) async fn running_job_runs(store: &SqliteStore, job: &str) -> Result<Vec<JobRun>> {
    let job = job.to_string();
    store
        .call(move |conn| {
            let what = format!("reading the running rows of job {job} in job_runs");
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                        api_calls, api_errors, rows_written, error
                 FROM job_runs WHERE job = ?1 AND status = 'running' ORDER BY started_at, id",
                )
                .ctx(&what)?;
            let rows = stmt
                .query_map([&job], job_run_from_row)
                .ctx(&what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(&what)?;
            rows.into_iter().map(JobRunRow::parse).collect()
        })
        .await
}

pub(super) async fn fail_dead_job_run(
    store: &SqliteStore,
    id: i64,
    finished_at: DateTime<Utc>,
    error: &str,
) -> Result<bool> {
    let error = error.to_string();
    store
        .call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE job_runs SET status = 'failed', finished_at = ?2, error = ?3
                 WHERE id = ?1 AND status = 'running'",
                    params![id, instant(finished_at), error],
                )
                .ctx(&format!("marking the dead job run {id} failed in job_runs"))?;
            Ok(changed > 0)
        })
        .await
}

pub(super) async fn latest_job_runs(store: &SqliteStore, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>> {
    let job = job.map(str::to_string);
    store
        .call(move |conn| {
            let what = "reading job_runs";
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                        api_calls, api_errors, rows_written, error
                 FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY job ORDER BY started_at DESC, id DESC) AS n
                       FROM job_runs WHERE ?1 IS NULL OR job = ?1)
                 WHERE n <= ?2 ORDER BY started_at DESC, id DESC",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map(params![job, i64::from(limit)], job_run_from_row)
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            rows.into_iter().map(JobRunRow::parse).collect()
        })
        .await
}

pub(super) async fn table_counts(store: &SqliteStore) -> Result<BTreeMap<String, i64>> {
    store
        .call(|conn| {
            let mut counts = BTreeMap::new();
            for table in crate::store::CONTRACT_TABLES {
                let n: i64 = conn
                    .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                    .ctx(&format!("counting the rows of {table} (run `darkhorses db migrate` if it is missing)"))?;
                counts.insert(table.to_string(), n);
            }
            Ok(counts)
        })
        .await
}

pub(super) async fn freshness(store: &SqliteStore) -> Result<Freshness> {
    store
        .call(|conn| {
            let (card, result, latest, latest_result): (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = conn
                .query_row(
                    "SELECT MAX(racecard_updated_at), MAX(result_updated_at), MAX(race_date),
                        MAX(CASE WHEN has_result = 1 THEN race_date END)
                 FROM races",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .ctx("reading freshness from races")?;
            Ok(Freshness {
                latest_racecard_write: parse_opt_instant(card, "races.racecard_updated_at")?,
                latest_result_write: parse_opt_instant(result, "races.result_updated_at")?,
                latest_race_date: latest.map(|d| parse_date(&d, "races.race_date")).transpose()?,
                latest_result_race_date: latest_result.map(|d| parse_date(&d, "races.race_date")).transpose()?,
            })
        })
        .await
}

pub(super) async fn response_keys(store: &SqliteStore) -> Result<Vec<crate::store::ResponseKey>> {
    store
        .call(|conn| {
            let what = "reading the keys of api_responses";
            let mut stmt = conn
            .prepare(
                "SELECT endpoint, params, fetched_at, status FROM api_responses ORDER BY fetched_at, endpoint, params",
            )
            .ctx(what)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
                })
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(endpoint, params, fetched_at, status)| {
                    Ok(crate::store::ResponseKey {
                        fetched_at: parse_instant(&fetched_at, "api_responses.fetched_at")?,
                        status: u16::try_from(status).unwrap_or(0),
                        endpoint,
                        params,
                    })
                })
                .collect()
        })
        .await
}

pub(super) async fn response(store: &SqliteStore, endpoint: &str, params: &str) -> Result<Option<RawResponse>> {
    let (endpoint, params) = (endpoint.to_string(), params.to_string());
    store.call(move |conn| {
        let what = format!("reading api_responses {endpoint}?{params}");
        let row = conn
            .query_row(
                "SELECT fetched_at, status, sha256, encoding, body FROM api_responses WHERE endpoint = ?1 AND params = ?2",
                params![endpoint, params],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                    ))
                },
            )
            .optional()
            .ctx(&what)?;
        let Some((fetched_at, status, sha256, encoding, stored)) = row else { return Ok(None) };
        Ok(Some(RawResponse {
            body: crate::store::decode_body(&endpoint, &params, &encoding, &stored, &sha256)?,
            fetched_at: parse_instant(&fetched_at, "api_responses.fetched_at")?,
            status: u16::try_from(status).unwrap_or(0),
            endpoint,
            params,
        }))
    })
    .await
}

pub(super) async fn runs_since(store: &SqliteStore, since: DateTime<Utc>) -> Result<Vec<RunRecord>> {
    store
        .call(move |conn| {
            let what = "reading recent job_runs for the status page";
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                        api_calls, api_errors, rows_written, error,
                        COALESCE(json_extract(summary, '$.api.rate_limited'), 0), json_extract(summary, '$.rows')
                 FROM job_runs WHERE started_at >= ?1 ORDER BY started_at, id",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map([instant(since)], |r| Ok((job_run_from_row(r)?, r.get::<_, i64>(14)?, r.get(15)?)))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(JobRunRow, i64, Option<String>)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(run, rate_limited, rows)| {
                    let rows = rows.and_then(|text| serde_json::from_str(&text).ok());
                    Ok(RunRecord { run: run.parse()?, rate_limited, rows: crate::store::summary_rows(rows) })
                })
                .collect()
        })
        .await
}

pub(super) async fn api_calls_by_day(store: &SqliteStore, from: NaiveDate) -> Result<Vec<DayCalls>> {
    store
        .call(move |conn| {
            let what = "reading API calls per day from job_runs";
            // Instants are `YYYY-MM-DDTHH:MM:SSZ` text: the first ten characters are the UTC day.
            let mut stmt = conn
                .prepare(
                    "SELECT substr(started_at, 1, 10) AS day, SUM(api_calls), SUM(api_errors), COUNT(*)
                 FROM job_runs WHERE started_at >= ?1 GROUP BY day ORDER BY day",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map([from.format("%Y-%m-%d").to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(String, i64, i64, i64)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(day, calls, errors, runs)| {
                    Ok(DayCalls { date: parse_date(&day, "job_runs.started_at")?, calls, errors, runs })
                })
                .collect()
        })
        .await
}

pub(super) async fn result_delays(store: &SqliteStore, from: NaiveDate, to: NaiveDate) -> Result<Vec<ResultDelay>> {
    store
        .call(move |conn| {
            let what = "reading result times from races";
            let mut stmt = conn
                .prepare(
                    "SELECT race_date, off_at, result_updated_at FROM races
                 WHERE race_date BETWEEN ?1 AND ?2 AND has_result = 1
                   AND off_at IS NOT NULL AND result_updated_at IS NOT NULL
                 ORDER BY race_date, off_at",
                )
                .ctx(what)?;
            let rows = stmt
                .query_map([v_date(from), v_date(to)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(String, String, String)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(day, off, result)| {
                    Ok(ResultDelay {
                        race_date: parse_date(&day, "races.race_date")?,
                        off_at: parse_instant(&off, "races.off_at")?,
                        result_at: parse_instant(&result, "races.result_updated_at")?,
                    })
                })
                .collect()
        })
        .await
}

pub(super) async fn alert_states(store: &SqliteStore) -> Result<Vec<AlertState>> {
    store
        .call(|conn| {
            let what = "reading alert_state";
            let mut stmt = conn
                .prepare("SELECT job, state, consecutive_failures, last_alert_at FROM alert_state ORDER BY job")
                .ctx(what)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .ctx(what)?
                .collect::<rusqlite::Result<Vec<(String, String, i64, Option<String>)>>>()
                .ctx(what)?;
            rows.into_iter()
                .map(|(key, state, consecutive_failures, last)| {
                    Ok(AlertState {
                        key,
                        state,
                        consecutive_failures,
                        last_alert_at: parse_opt_instant(last, "alert_state.last_alert_at")?,
                    })
                })
                .collect()
        })
        .await
}

pub(super) async fn last_runs(store: &SqliteStore) -> Result<Vec<JobRun>> {
    store
        .call(|conn| {
            let what = "reading the last run of each job from job_runs";
            let mut stmt = conn
                .prepare(
                    "SELECT id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run,
                        api_calls, api_errors, rows_written, error
                 FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY job
                           ORDER BY status = 'skipped', started_at DESC, id DESC) AS n FROM job_runs)
                 WHERE n = 1 ORDER BY job",
                )
                .ctx(what)?;
            let rows =
                stmt.query_map([], job_run_from_row).ctx(what)?.collect::<rusqlite::Result<Vec<_>>>().ctx(what)?;
            rows.into_iter().map(JobRunRow::parse).collect()
        })
        .await
}
