//! A job defined outside the crate, run through the same `UpdateJob` trait, locks and `job_runs`
//! ledger as the built-in ones. It is not in `jobs::registry()` (that list is the crate's own), so
//! an interval cannot name it; a built-in job is added as CONTRIBUTING.md's recipe says.
//!
//! Run: `cargo run --example custom_job` (writes to ./darkhorses.db, or DATABASE_URL).

// An example prints its results; a closed stdout ending it with a panic is acceptable here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use darkhorses::config::{LoadOptions, load};
use darkhorses::jobs::runner::{Execution, execute};
use darkhorses::jobs::{JobContext, JobReport, Needs, UpdateJob};
use darkhorses::store::Trigger;

/// Counts what the database holds: a job that needs the store but no API calls.
struct TableCensus;

#[async_trait]
impl UpdateJob for TableCensus {
    fn name(&self) -> &str {
        "table_census"
    }

    fn needs(&self) -> Needs {
        Needs { store: true, api: false }
    }

    async fn run(&self, ctx: &JobContext) -> darkhorses::Result<JobReport> {
        let mut report = self.new_report(ctx);
        for (table, rows) in ctx.store()?.table_counts().await? {
            report.notes.push(format!("{table}: {rows} rows"));
        }
        report.units_done = 1;
        Ok(report)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> darkhorses::Result<()> {
    let loaded = load(&LoadOptions::default())?;
    let job = TableCensus;
    // The job's own options decide whether this is a dry run, as `--dry-run` does for a built-in.
    let ctx = darkhorses::app::context(Arc::new(loaded.config), None, job.dry_run(), job.needs()).await?;
    match execute(&job, &ctx, Trigger::Manual, None).await? {
        Execution::Ran { report, status } => {
            println!("{}\nstatus: {}", report.summary(), status.as_str())
        }
        Execution::Skipped { reason } => println!("{reason}"),
    }
    Ok(())
}
