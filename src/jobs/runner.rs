//! Running one job once: its locks, its `job_runs` row, its report. Used by the CLI and the
//! orchestrator alike, so every run, manual or scheduled, is recorded the same way.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{ApiCounts, JobContext, JobReport, UpdateJob};
use crate::error::Result;
use crate::lock::{JobLock, LockAttempt};
use crate::store::{FinishedJobRun, NewJobRun, RunStatus, Trigger};

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

/// Run `job` once under its locks, recording it in `job_runs` (when the context has a store).
pub async fn execute(
    job: &dyn UpdateJob,
    ctx: &JobContext,
    trigger: Trigger,
    slot: Option<DateTime<Utc>>,
) -> Result<Execution> {
    let name = job.name().to_string();
    let _file_lock = match JobLock::acquire(&ctx.config.locks.dir, &name)? {
        LockAttempt::Acquired(lock) => lock,
        LockAttempt::Held(holder) => {
            return Ok(Execution::Skipped { reason: format!("{name} is already running: {holder}; skipped") });
        }
    };
    let _db_lock = match &ctx.store {
        Some(store) => match store.try_job_lock(&name).await? {
            Some(lock) => Some(lock),
            None => {
                return Ok(Execution::Skipped {
                    reason: format!("{name} is already running on another host (database lock held); skipped"),
                });
            }
        },
        None => None,
    };

    let started_at = ctx.clock.now();
    let clock_start = Instant::now();
    let run_id = match &ctx.store {
        Some(store) => Some(
            store
                .start_job_run(&NewJobRun {
                    job: name.clone(),
                    slot,
                    trigger,
                    started_at,
                    host: crate::lock::hostname(),
                    pid: std::process::id(),
                    dry_run: ctx.dry_run,
                })
                .await?,
        ),
        None => None,
    };
    let span = tracing::info_span!("job", job = %name, run_id = run_id.unwrap_or_default());
    let api_before = ctx.api.as_ref().map(|a| a.stats());
    // A dry run's writes stay in one session, rolled back at the end, so each unit sees the ones
    // before it as in a real run and the would-write counts add up to what a real run writes.
    let dry_store = ctx.store.as_ref().filter(|_| ctx.dry_run);
    if let Some(store) = dry_store {
        store.begin_dry_run().await?;
    }
    let outcome = tracing::Instrument::instrument(job.run(ctx), span).await;
    if let Some(store) = dry_store {
        store.end_dry_run().await?;
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
            }
        }
        _ => ApiCounts::default(),
    };
    let finished_at = ctx.clock.now();
    let duration = clock_start.elapsed();

    match outcome {
        Ok(mut report) => {
            report.started_at = Some(started_at);
            report.duration = duration;
            report.api = api;
            report.dry_run = ctx.dry_run;
            let status = status_of(&report);
            if let (Some(store), Some(id)) = (&ctx.store, run_id) {
                let summary = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
                store
                    .finish_job_run(
                        id,
                        &FinishedJobRun {
                            status,
                            finished_at,
                            api_calls: api.calls as i64,
                            api_errors: api.errors as i64,
                            rows_written: report.rows_written() as i64,
                            error: (!report.errors.is_empty()).then(|| report.errors.join("; ")),
                            summary,
                        },
                    )
                    .await?;
            }
            Ok(Execution::Ran { report, status })
        }
        Err(e) => {
            if let (Some(store), Some(id)) = (&ctx.store, run_id) {
                let finish = FinishedJobRun {
                    status: RunStatus::Failed,
                    finished_at,
                    api_calls: api.calls as i64,
                    api_errors: api.errors as i64,
                    rows_written: 0,
                    error: Some(e.to_string()),
                    summary: serde_json::json!({ "job": name, "error": e.to_string() }),
                };
                if let Err(record_error) = store.finish_job_run(id, &finish).await {
                    tracing::warn!(error = %record_error, "could not record the failed run in job_runs");
                }
            }
            Err(e)
        }
    }
}
