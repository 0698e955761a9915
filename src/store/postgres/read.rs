//! PostgreSQL reads (coverage, races of a day, horses to enrich, counts, freshness) and the
//! job-run ledger (`job_runs`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{PgStore, query_error};
use crate::model::Kind;
use crate::store::{
    AlertState, Coverage, CoverageStatus, DayCalls, Error, FinishedJobRun, Freshness, JobRun, NewJobRun, RaceState,
    Result, ResultDelay, RunRecord,
};

impl PgStore {
    /// Run one read in its own short transaction (the prologue sets the schema and timeout).
    pub(super) async fn read(&self, what: &str, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let mut client = self.client().await?;
        let tx = self.begin(&mut client).await?;
        let rows = tx.query(sql, params).await.map_err(query_error(what))?;
        tx.commit().await.map_err(query_error(what))?;
        Ok(rows)
    }
}

pub(super) async fn coverage(store: &PgStore, kind: Kind, from: NaiveDate, to: NaiveDate) -> Result<Vec<Coverage>> {
    let rows = store
        .read(
            "read fetch_coverage",
            "SELECT race_date, status, races, runners, pages, api_calls, fetched_at, error, regions, day_over
             FROM fetch_coverage WHERE kind = $1 AND race_date BETWEEN $2 AND $3 ORDER BY race_date",
            &[&kind.as_str(), &from, &to],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Coverage {
                kind,
                race_date: r.get(0),
                status: r.get::<_, &str>(1).parse::<CoverageStatus>()?,
                races: i64::from(r.get::<_, i32>(2)),
                runners: i64::from(r.get::<_, i32>(3)),
                pages: i64::from(r.get::<_, i32>(4)),
                api_calls: i64::from(r.get::<_, i32>(5)),
                fetched_at: r.get(6),
                error: r.get(7),
                regions: crate::store::parse_regions(r.get::<_, Option<&str>>(8)),
                day_over: r.get(9),
            })
        })
        .collect()
}

pub(super) async fn races_on(store: &PgStore, date: NaiveDate) -> Result<Vec<RaceState>> {
    let rows = store
        .read(
            &format!("read the races of {date}"),
            "SELECT id, off_at, has_result, COALESCE(is_abandoned, false) FROM races
             WHERE race_date = $1 ORDER BY off_at NULLS LAST, id",
            &[&date],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RaceState { id: r.get(0), off_at: r.get(1), has_result: r.get(2), is_abandoned: r.get(3) })
        .collect())
}

pub(super) async fn horses_needing_enrichment(store: &PgStore, limit: u32) -> Result<Vec<String>> {
    let rows = store
        .read(
            "read horses needing a profile",
            "SELECT h.id FROM horses h
             WHERE (h.dob IS NULL OR h.colour IS NULL OR h.breeder IS NULL)
               AND EXISTS (SELECT 1 FROM runners r WHERE r.horse_id = h.id)
             ORDER BY h.id LIMIT $1",
            &[&i64::from(limit)],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Counts as `integer` (saturating: no job run comes near 2^31).
fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

pub(super) async fn start_job_run(store: &PgStore, run: &NewJobRun) -> Result<i64> {
    let pid = i32::try_from(run.pid).unwrap_or(i32::MAX);
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let row = tx
        .query_one(
            "INSERT INTO job_runs (job, slot, trigger, status, started_at, host, pid, dry_run)
             VALUES ($1, $2, $3, 'running', $4, $5, $6, $7) RETURNING id",
            &[&run.job, &run.slot, &run.trigger.as_str(), &run.started_at, &run.host, &pid, &run.dry_run],
        )
        .await
        .map_err(|e| {
            let slot = run.slot.map(|s| s.to_rfc3339()).unwrap_or_else(|| "none".into());
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                Error::Query(format!("job {} already has a run for slot {slot} in job_runs", run.job))
            } else {
                query_error(&format!("start a run of job {} (slot {slot}) in job_runs", run.job))(e)
            }
        })?;
    tx.commit().await.map_err(query_error("commit the new job run"))?;
    Ok(row.get(0))
}

/// Insert the `running` row of a slot unless (job, slot) has one (`None` when it had), and with
/// it the `skipped` rows of the slots it covers, in one transaction.
pub(super) async fn claim_slot(
    store: &PgStore,
    run: &NewJobRun,
    covered: &[chrono::DateTime<chrono::Utc>],
    reason: &str,
) -> Result<Option<i64>> {
    let pid = i32::try_from(run.pid).unwrap_or(i32::MAX);
    let what = format!("claim a slot of {} in job_runs", run.job);
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let row = tx
        .query_opt(
            "INSERT INTO job_runs (job, slot, trigger, status, started_at, host, pid, dry_run)
             VALUES ($1, $2, $3, 'running', $4, $5, $6, $7)
             ON CONFLICT (job, slot) DO NOTHING RETURNING id",
            &[&run.job, &run.slot, &run.trigger.as_str(), &run.started_at, &run.host, &pid, &run.dry_run],
        )
        .await
        .map_err(query_error(&what))?;
    let Some(row) = row else {
        tx.rollback().await.map_err(query_error(&what))?;
        return Ok(None);
    };
    for slot in covered {
        tx.execute(
            "INSERT INTO job_runs (job, slot, trigger, status, started_at, finished_at, host, pid, error)
             VALUES ($1, $2, 'schedule', 'skipped', $3, $3, $4, $5, $6)
             ON CONFLICT (job, slot) DO NOTHING",
            &[&run.job, slot, &run.started_at, &run.host, &pid, &reason],
        )
        .await
        .map_err(query_error(&what))?;
    }
    tx.commit().await.map_err(query_error("commit the claimed slot"))?;
    Ok(Some(row.get(0)))
}

/// A finished `skipped` row for a slot passed over, unless (job, slot) has a row.
pub(super) async fn skip_slot(
    store: &PgStore,
    job: &str,
    slot: chrono::DateTime<chrono::Utc>,
    at: chrono::DateTime<chrono::Utc>,
    reason: &str,
) -> Result<bool> {
    let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let host = crate::lock::hostname();
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let n = tx
        .execute(
            "INSERT INTO job_runs (job, slot, trigger, status, started_at, finished_at, host, pid, error)
             VALUES ($1, $2, 'schedule', 'skipped', $3, $3, $4, $5, $6)
             ON CONFLICT (job, slot) DO NOTHING",
            &[&job, &slot, &at, &host, &pid, &reason],
        )
        .await
        .map_err(query_error(&format!("record a skipped slot of {job} in job_runs")))?;
    tx.commit().await.map_err(query_error("commit the skipped slot"))?;
    Ok(n > 0)
}

/// The latest slot of `job` with a row.
pub(super) async fn last_slot(store: &PgStore, job: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let rows = store
        .read(
            &format!("read the last slot of {job} in job_runs"),
            "SELECT max(slot) FROM job_runs WHERE job = $1",
            &[&job],
        )
        .await?;
    Ok(rows.first().and_then(|r| r.get(0)))
}

pub(super) async fn finish_job_run(store: &PgStore, id: i64, run: &FinishedJobRun) -> Result<()> {
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let n = tx
        .execute(
            "UPDATE job_runs SET status = $2, finished_at = $3, api_calls = $4, api_errors = $5,
                 rows_written = $6, error = $7, summary = $8
             WHERE id = $1",
            &[
                &id,
                &run.status.as_str(),
                &run.finished_at,
                &int(run.api_calls),
                &int(run.api_errors),
                &int(run.rows_written),
                &run.error,
                &run.summary,
            ],
        )
        .await
        .map_err(query_error(&format!("finish job run {id} in job_runs")))?;
    if n == 0 {
        return Err(Error::Query(format!("job_runs has no run with id {id} to finish")));
    }
    tx.commit().await.map_err(query_error(&format!("commit the end of job run {id}")))
}

/// The `running` rows of `job`, oldest first.
pub(super) async fn running_job_runs(store: &PgStore, job: &str) -> Result<Vec<JobRun>> {
    let rows = store
        .read(
            &format!("read the running rows of job {job} in job_runs"),
            &format!(
                "SELECT {JOB_RUN_COLUMNS} FROM job_runs WHERE job = $1 AND status = 'running' ORDER BY started_at, id"
            ),
            &[&job],
        )
        .await?;
    Ok(rows.iter().map(job_run).collect())
}

/// Close a run that ended without finishing; only a row still `running` changes.
pub(super) async fn fail_dead_job_run(
    store: &PgStore,
    id: i64,
    finished_at: chrono::DateTime<chrono::Utc>,
    error: &str,
) -> Result<bool> {
    let mut client = store.client().await?;
    let tx = store.begin(&mut client).await?;
    let n = tx
        .execute(
            "UPDATE job_runs SET status = 'failed', finished_at = $2, error = $3 WHERE id = $1 AND status = 'running'",
            &[&id, &finished_at, &error],
        )
        .await
        .map_err(query_error(&format!("mark the dead job run {id} failed in job_runs")))?;
    tx.commit().await.map_err(query_error(&format!("commit the end of dead job run {id}")))?;
    Ok(n > 0)
}

fn job_run(r: &Row) -> JobRun {
    JobRun {
        id: r.get(0),
        job: r.get(1),
        slot: r.get(2),
        trigger: r.get(3),
        status: r.get(4),
        started_at: r.get(5),
        finished_at: r.get(6),
        host: r.get(7),
        pid: r.get::<_, Option<i32>>(8).map(i64::from),
        dry_run: r.get(9),
        api_calls: i64::from(r.get::<_, i32>(10)),
        api_errors: i64::from(r.get::<_, i32>(11)),
        rows_written: i64::from(r.get::<_, i32>(12)),
        error: r.get(13),
    }
}

const JOB_RUN_COLUMNS: &str = "id, job, slot, trigger, status, started_at, finished_at, host, pid, dry_run, api_calls, api_errors, rows_written, error";

/// With a job: its latest `limit` runs. Without: the latest `limit` runs of every job. Newest first.
pub(super) async fn latest_job_runs(store: &PgStore, job: Option<&str>, limit: u32) -> Result<Vec<JobRun>> {
    let limit = i64::from(limit);
    let rows = match job {
        Some(job) => store
            .read(
                &format!("read the latest runs of job {job}"),
                &format!(
                    "SELECT {JOB_RUN_COLUMNS} FROM job_runs WHERE job = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
                ),
                &[&job, &limit],
            )
            .await?,
        None => {
            store
                .read(
                    "read the latest job runs",
                    &format!(
                        "SELECT {JOB_RUN_COLUMNS} FROM (
                             SELECT *, row_number() OVER (PARTITION BY job ORDER BY started_at DESC, id DESC) AS n
                             FROM job_runs) r
                         WHERE n <= $1 ORDER BY started_at DESC, id DESC"
                    ),
                    &[&limit],
                )
                .await?
        }
    };
    Ok(rows.iter().map(job_run).collect())
}

pub(super) async fn table_counts(store: &PgStore) -> Result<BTreeMap<String, i64>> {
    let sql = crate::store::CONTRACT_TABLES
        .iter()
        .map(|t| format!("SELECT '{t}', count(*) FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows = store.read("count the rows of every table", &sql, &[]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) async fn freshness(store: &PgStore) -> Result<Freshness> {
    let rows = store
        .read(
            "read freshness from races",
            "SELECT max(racecard_updated_at), max(result_updated_at), max(race_date),
                    max(race_date) FILTER (WHERE has_result) FROM races",
            &[],
        )
        .await?;
    Ok(rows
        .first()
        .map(|r| Freshness {
            latest_racecard_write: r.get(0),
            latest_result_write: r.get(1),
            latest_race_date: r.get(2),
            latest_result_race_date: r.get(3),
        })
        .unwrap_or_default())
}

pub(super) async fn response_keys(store: &PgStore) -> Result<Vec<crate::store::ResponseKey>> {
    let rows = store
        .read(
            "read the keys of api_responses",
            "SELECT endpoint, params, fetched_at, status FROM api_responses ORDER BY fetched_at, endpoint, params",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| crate::store::ResponseKey {
            endpoint: r.get(0),
            params: r.get(1),
            fetched_at: r.get(2),
            status: u16::try_from(r.get::<_, i32>(3)).unwrap_or(0),
        })
        .collect())
}

pub(super) async fn response(
    store: &PgStore,
    endpoint: &str,
    params: &str,
) -> Result<Option<crate::model::RawResponse>> {
    let rows = store
        .read(
            &format!("read api_responses {endpoint}?{params}"),
            "SELECT fetched_at, status, sha256, encoding, body FROM api_responses WHERE endpoint = $1 AND params = $2",
            &[&endpoint, &params],
        )
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    let stored: &[u8] = r.get(4);
    Ok(Some(crate::model::RawResponse {
        endpoint: endpoint.to_string(),
        params: params.to_string(),
        fetched_at: r.get(0),
        status: u16::try_from(r.get::<_, i32>(1)).unwrap_or(0),
        body: crate::store::decode_body(endpoint, params, r.get(3), stored, r.get(2))?,
    }))
}

// ---------------------------------------------------------------------------------------------
// Status page reads (issue 14).

pub(super) async fn runs_since(store: &PgStore, since: chrono::DateTime<chrono::Utc>) -> Result<Vec<RunRecord>> {
    let rows = store
        .read(
            "read recent job_runs for the status page",
            &format!(
                "SELECT {JOB_RUN_COLUMNS}, COALESCE((summary->'api'->>'rate_limited')::bigint, 0), summary->'rows'
                 FROM job_runs WHERE started_at >= $1 ORDER BY started_at, id"
            ),
            &[&since],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RunRecord {
            run: job_run(r),
            rate_limited: r.get(14),
            rows: crate::store::summary_rows(r.get::<_, Option<serde_json::Value>>(15)),
        })
        .collect())
}

pub(super) async fn api_calls_by_day(store: &PgStore, from: NaiveDate) -> Result<Vec<DayCalls>> {
    let rows = store
        .read(
            "read API calls per day from job_runs",
            "SELECT (started_at AT TIME ZONE 'UTC')::date AS day, sum(api_calls)::bigint, sum(api_errors)::bigint,
                    count(*)
             FROM job_runs WHERE started_at >= ($1::date)::timestamp AT TIME ZONE 'UTC'
             GROUP BY day ORDER BY day",
            &[&from],
        )
        .await?;
    Ok(rows.iter().map(|r| DayCalls { date: r.get(0), calls: r.get(1), errors: r.get(2), runs: r.get(3) }).collect())
}

pub(super) async fn result_delays(store: &PgStore, from: NaiveDate, to: NaiveDate) -> Result<Vec<ResultDelay>> {
    let rows = store
        .read(
            "read result times from races",
            "SELECT race_date, off_at, result_updated_at FROM races
             WHERE race_date BETWEEN $1 AND $2 AND has_result
               AND off_at IS NOT NULL AND result_updated_at IS NOT NULL
             ORDER BY race_date, off_at",
            &[&from, &to],
        )
        .await?;
    Ok(rows.iter().map(|r| ResultDelay { race_date: r.get(0), off_at: r.get(1), result_at: r.get(2) }).collect())
}

pub(super) async fn alert_states(store: &PgStore) -> Result<Vec<AlertState>> {
    let rows = store
        .read(
            "read alert_state",
            "SELECT job, state, consecutive_failures, last_alert_at FROM alert_state ORDER BY job",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AlertState {
            key: r.get(0),
            state: r.get(1),
            consecutive_failures: i64::from(r.get::<_, i32>(2)),
            last_alert_at: r.get(3),
        })
        .collect())
}

pub(super) async fn last_runs(store: &PgStore) -> Result<Vec<JobRun>> {
    let rows = store
        .read(
            "read the last run of each job from job_runs",
            &format!(
                "SELECT {JOB_RUN_COLUMNS} FROM (
                     SELECT *, row_number() OVER (PARTITION BY job
                         ORDER BY status = 'skipped', started_at DESC, id DESC) AS n
                     FROM job_runs) r
                 WHERE n = 1 ORDER BY job"
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(job_run).collect())
}
