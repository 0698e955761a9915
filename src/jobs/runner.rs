//! Running one job once: its locks, its `job_runs` row, its report. Used by the CLI and the
//! orchestrator alike, so every run, manual or scheduled, is recorded the same way.
//!
//! The locks are per job and database: the file lock is named after the database the store
//! writes (`Store::lock_scope`), and Postgres adds an advisory lock keyed by schema and job.
//! Holding both, a run knows every earlier `running` row of its job in that database belongs to a
//! run that ended without finishing (SIGKILL, a crash, a power cut), and closes those rows as
//! `failed` before starting its own, so history and health tell the truth.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{ApiCounts, Committed, JobContext, JobReport, UpdateJob};
use crate::error::Result;
use crate::lock::{JobLock, LockAttempt};
use crate::store::{FinishedJobRun, NewJobRun, RunStatus, Store, Trigger};

/// How a run ended.
#[derive(Debug)]
pub enum Execution {
    /// The job ran; `status` is what `job_runs` says.
    Ran { report: JobReport, status: RunStatus },
    /// Another instance holds the job's lock: nothing was done.
    Skipped { reason: String },
}

/// The status a finished report earns.
pub fn status_of(report: &JobReport) -> RunStatus {
    if !report.has_failures() {
        RunStatus::Succeeded
    } else if report.units_done > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Failed
    }
}

/// How the orchestrator runs a job: under the interval's name (its locks and `job_runs.job`),
/// for a slot, within a time limit.
#[derive(Debug, Clone)]
pub struct Scheduled {
    /// `job_runs.job` and the lock name: the interval's name (`live_data`).
    pub name: String,
    pub trigger: Trigger,
    /// The slot claimed before the job starts; `None` runs without a claim (manual, forced, dry).
    pub slot: Option<DateTime<Utc>>,
    /// Earlier slots this run stands in for (`run_once` over a gap): recorded `skipped` with
    /// `covers_reason` in the claim's transaction.
    pub covers: Vec<DateTime<Utc>>,
    pub covers_reason: String,
    /// Past it, the job is cancelled (its unit in flight dropped, so rolled back) and the run is
    /// recorded `timed_out`.
    pub timeout: Option<Duration>,
}

/// Run `job` once under its locks, recording it in `job_runs` (when the context has a store).
/// With a `slot`, the run first claims it; a slot another process claimed is skipped.
pub async fn execute(
    job: &dyn UpdateJob,
    ctx: &JobContext,
    trigger: Trigger,
    slot: Option<DateTime<Utc>>,
) -> Result<Execution> {
    let run = Scheduled {
        name: job.name().to_string(),
        trigger,
        slot,
        covers: Vec::new(),
        covers_reason: String::new(),
        timeout: None,
    };
    execute_as(job, ctx, &run).await
}

/// [`execute`] under the orchestrator's terms: the interval's name, its slot and timeout.
pub async fn execute_as(job: &dyn UpdateJob, ctx: &JobContext, run: &Scheduled) -> Result<Execution> {
    let (trigger, slot) = (run.trigger, run.slot);
    let name = run.name.clone();
    // A fresh count of what this run commits, whatever the caller's context held before; a
    // cancel of its own, so a timeout stops this run and nothing else of the caller's.
    let ctx = &JobContext { committed: Committed::default(), cancel: ctx.cancel.child_token(), ..ctx.clone() };
    let scope = ctx.store.as_ref().map(|s| s.lock_scope());
    let _file_lock = match JobLock::acquire_for(&ctx.config.locks.dir, &name, scope.as_deref())? {
        LockAttempt::Acquired(lock) => lock,
        LockAttempt::Held(holder) => {
            let into = scope.as_deref().map(|s| format!(" (into {s})")).unwrap_or_default();
            return Ok(Execution::Skipped { reason: format!("{name} is already running: {holder}{into}; skipped") });
        }
    };
    let _db_lock = match &ctx.store {
        Some(store) => match store.try_job_lock(&name).await? {
            Some(lock) => Some(lock),
            None => {
                // The holder may be on this host (another user, another lock directory) or another.
                let holder = match store.job_lock_holder(&name).await {
                    Ok(Some(holder)) => holder,
                    Ok(None) => "another process".to_string(),
                    Err(e) => {
                        tracing::debug!(error = %e, "could not read who holds the database lock");
                        "another process".to_string()
                    }
                };
                return Ok(Execution::Skipped {
                    reason: format!(
                        "{name} is already running: {holder} holds its database lock in {}; skipped",
                        store.lock_scope()
                    ),
                });
            }
        },
        None => None,
    };
    if let Some(store) = ctx.store.as_ref().filter(|_| !ctx.dry_run) {
        close_dead_runs(store.as_ref(), &name, ctx.clock.now()).await;
    }

    let started_at = ctx.clock.now();
    let clock_start = Instant::now();
    let run_id = match &ctx.store {
        Some(store) => {
            let new = NewJobRun {
                job: name.clone(),
                slot,
                trigger,
                started_at,
                host: crate::lock::hostname(),
                pid: std::process::id(),
                dry_run: ctx.dry_run,
            };
            match slot {
                // The unique (job, slot) key decides who runs a slot, across processes and hosts.
                Some(at) => match store.claim_slot(&new, &run.covers, &run.covers_reason).await? {
                    Some(id) => Some(id),
                    None => {
                        return Ok(Execution::Skipped {
                            reason: format!(
                                "slot {} of {name} is already claimed in {}; skipped",
                                at.format("%Y-%m-%dT%H:%M:%SZ"),
                                store.lock_scope()
                            ),
                        });
                    }
                },
                None => Some(store.start_job_run(&new).await?),
            }
        }
        None => None,
    };
    let span = tracing::info_span!("job", job = %name, run_id = run_id.unwrap_or_default());
    let api_before = ctx.api.as_ref().map(|a| a.stats());
    // The run's writer: a real run's commits each write; a dry run's keeps every write where the
    // later ones see it (so the would-write counts add up to what a real run writes) and discards
    // them when closed. Opened after the run's row, closed before the row is finished: from here
    // to `finish_job_run` nothing returns early, so an error ends the run as `failed`, never
    // leaving its row `running`.
    let writes = match &ctx.store {
        Some(store) => crate::store::writer(store, ctx.dry_run).await.map(Some),
        None => Ok(None),
    };
    let (writes, mut outcome) = match writes {
        Err(e) => (None, Some(Err(e.into()))),
        Ok(writes) => {
            let job_ctx = JobContext { writes: writes.clone(), ..ctx.clone() };
            let running = tracing::Instrument::instrument(job.run(&job_ctx), span);
            let outcome = match run.timeout {
                Some(limit) => match tokio::time::timeout(limit, running).await {
                    Ok(outcome) => Some(outcome),
                    Err(_) => {
                        // The job's future is dropped here: its unit in flight never commits.
                        ctx.cancel.cancel();
                        None
                    }
                },
                None => Some(running.await),
            };
            (writes, outcome)
        }
    };
    if let Some(writes) = writes
        && let Err(e) = writes.close().await
    {
        // Nothing of a dry run was kept either way; the report says the writer failed to close.
        let message = format!("ending the dry run's writes: {e}");
        match &mut outcome {
            Some(Ok(report)) => report.errors.push(message),
            _ => tracing::warn!("{message}"),
        }
    }
    let api = match (&ctx.api, api_before) {
        (Some(client), Some(before)) => {
            let after = client.stats();
            ApiCounts {
                calls: after.calls - before.calls,
                retries: after.retries - before.retries,
                rate_limited: after.rate_limited - before.rate_limited,
                errors: after.errors - before.errors,
                bytes: after.bytes - before.bytes,
                shared_waits: after.shared_waits - before.shared_waits,
                shared_wait_ms: after.shared_wait_ms - before.shared_wait_ms,
            }
        }
        _ => ApiCounts::default(),
    };
    let finished_at = ctx.clock.now();
    let duration = clock_start.elapsed();
    // The end of this run's `job_runs` row, however it ended.
    let finished = |status, rows_written: u64, error, summary| FinishedJobRun {
        status,
        finished_at,
        api_calls: api.calls as i64,
        api_errors: api.errors as i64,
        rows_written: rows_written as i64,
        error,
        summary,
    };

    let Some(outcome) = outcome else {
        let limit = run.timeout.unwrap_or_default().as_secs();
        let committed = ctx.committed.snapshot();
        let mut report = JobReport::new(&name, ctx.dry_run);
        report.started_at = Some(started_at);
        report.duration = duration;
        report.api = api;
        report.units_done = committed.units;
        report.rows = committed.rows.clone();
        let message = format!(
            "{name} ran past its timeout of {limit}s (intervals.{name}.timeout) and was cancelled; \
             the unit in flight was rolled back"
        );
        report.errors.push(message.clone());
        if let (Some(store), Some(id)) = (&ctx.store, run_id) {
            let finish = finished(
                RunStatus::TimedOut,
                committed.rows_written(),
                Some(message),
                serde_json::to_value(&report).unwrap_or(serde_json::Value::Null),
            );
            store.finish_job_run(id, &finish).await?;
            alert(ctx, store.as_ref(), &name, &finish).await;
        }
        return Ok(Execution::Ran { report, status: RunStatus::TimedOut });
    };
    match outcome {
        Ok(mut report) => {
            report.started_at = Some(started_at);
            report.duration = duration;
            report.api = api;
            report.dry_run = ctx.dry_run;
            let status = status_of(&report);
            if let (Some(store), Some(id)) = (&ctx.store, run_id) {
                let summary = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
                let error = (!report.errors.is_empty()).then(|| report.errors.join("; "));
                let finish = finished(status, report.rows_written(), error, summary);
                store.finish_job_run(id, &finish).await?;
                alert(ctx, store.as_ref(), &name, &finish).await;
            }
            Ok(Execution::Ran { report, status })
        }
        Err(e) => {
            if let (Some(store), Some(id)) = (&ctx.store, run_id) {
                // The report is lost with the error, but what the run committed before it stays in
                // the database and is counted here: the ledger never says 0 rows for rows written.
                let committed = ctx.committed.snapshot();
                let summary = serde_json::json!({
                    "job": name,
                    "error": e.to_string(),
                    "units_done": committed.units,
                    "rows": committed.rows,
                });
                let finish = finished(RunStatus::Failed, committed.rows_written(), Some(e.to_string()), summary);
                if let Err(record_error) = store.finish_job_run(id, &finish).await {
                    tracing::warn!(error = %record_error, "could not record the failed run in job_runs");
                }
                alert(ctx, store.as_ref(), &name, &finish).await;
            }
            Err(e)
        }
    }
}

/// The alerts follow every recorded run but a dry run's (see `alerts`); they never fail the run.
async fn alert(ctx: &JobContext, store: &dyn Store, name: &str, finish: &FinishedJobRun) {
    if !ctx.dry_run {
        crate::alerts::after_run(&ctx.config, store, name, finish).await;
    }
}

/// Close the `running` rows of `job` left by runs that ended without finishing. The caller holds
/// the job's locks for this database, so no other run of the job can be writing into it, with one
/// exception kept alive: a run on this host whose process still exists (a second user whose own
/// lock directory hides it from ours, on SQLite where there is no database lock) is left alone.
/// Failing to close them is logged, never fatal: the run itself matters more.
async fn close_dead_runs(store: &dyn Store, job: &str, now: DateTime<Utc>) {
    let runs = match store.running_job_runs(job).await {
        Ok(runs) => runs,
        Err(e) => {
            tracing::warn!(error = %e, "could not read earlier running rows of {job} in job_runs");
            return;
        }
    };
    let host = crate::lock::hostname();
    let me = i64::from(std::process::id());
    for run in runs {
        let pid = run.pid.unwrap_or_default();
        let run_host = run.host.clone().unwrap_or_else(|| "an unknown host".to_string());
        if run_host == host && pid != me && pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists() {
            tracing::debug!(run_id = run.id, pid, "an earlier running row's process is alive; left alone");
            continue;
        }
        let reason = format!(
            "the run of {job} by pid {pid} on {run_host}, started {}, ended without finishing (killed or crashed); \
             marked failed by the next run",
            run.started_at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        match store.fail_dead_job_run(run.id, now, &reason).await {
            Ok(true) => tracing::warn!(run_id = run.id, pid, host = %run_host, "{reason}"),
            Ok(false) => {}
            Err(e) => tracing::warn!(run_id = run.id, error = %e, "could not mark a dead run failed in job_runs"),
        }
    }
}
