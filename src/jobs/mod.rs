//! The job trait, its context and report, and the one registry of jobs.
//!
//! A job works out its units of work, fetches them through the context's API client and hands typed rows
//! to the context's store. Jobs are idempotent because they are retried: running one twice leaves
//! the same rows. Jobs never call each other and never build their own clients.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::Result;
use crate::store::{Store, TableCounts, WriteStats, Writer};

pub mod backfill;
pub mod checks;
pub mod daily;
pub mod enrich;
pub mod live;
mod progress;
pub mod quality;
pub mod rebuild;
pub mod reference;
pub mod runner;
pub mod units;

pub use progress::Progress;

/// Everything a job may use. Built once per run by the caller (CLI or orchestrator).
#[derive(Clone)]
pub struct JobContext {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Fetch and normalise as a real run would, write nothing, report what would be written:
    /// resolved once where the context is built (`--dry-run`, an interval's `args`,
    /// `features.dry_run`); the runner opens the run's writer from it.
    pub dry_run: bool,
    /// Cancelled on Ctrl-C, SIGTERM or a timeout: finish the unit in flight, start no other.
    pub cancel: CancellationToken,
    pub store: Option<Arc<dyn Store>>,
    pub api: Option<Arc<crate::api::Client>>,
    /// The earliest slot this run stands in for, when the orchestrator's `run_once` covers missed
    /// slots with one run: a job whose window follows the clock (`daily`) widens it back to there.
    pub covers_since: Option<DateTime<Utc>>,
    /// Where this run writes ([`JobContext::writes`]): opened by the runner for each run
    /// (`runner::execute`), `None` outside one.
    pub writes: Option<Arc<dyn Writer>>,
    /// What this run has committed so far: the runner records it in `job_runs` even when the job
    /// ends in an error and its report is lost. Fresh for every run (`runner::execute`).
    pub committed: Committed,
}

/// The writes a run committed, counted as they commit (never in a dry run).
#[derive(Debug, Clone, Default)]
pub struct Committed(Arc<Mutex<CommittedCounts>>);

/// A snapshot of [`Committed`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedCounts {
    /// Units (a kind and a day) written.
    pub units: u64,
    /// Per table: inserted, updated, unchanged.
    pub rows: BTreeMap<String, TableCounts>,
}

impl CommittedCounts {
    pub fn rows_written(&self) -> u64 {
        self.rows.values().map(TableCounts::written).sum()
    }
}

impl Committed {
    /// Count one committed write; `unit` when it was a whole unit.
    pub fn add(&self, stats: &WriteStats, unit: bool) {
        // A poisoned count only means a panic elsewhere mid-add; the numbers are still the best known.
        let mut counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.units += u64::from(unit);
        for (table, c) in &stats.tables {
            counts.rows.entry(table.clone()).or_default().absorb(*c);
        }
    }

    pub fn snapshot(&self) -> CommittedCounts {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("dry_run", &self.dry_run)
            .field("store", &self.store.as_ref().map(|s| s.describe()))
            .finish_non_exhaustive()
    }
}

impl JobContext {
    /// The same context whose API requests wait in the budget's `priority` lane (in this process
    /// and, with a shared budget, across processes): live before daily before reference before
    /// backfill.
    pub fn at_priority(&self, priority: crate::api::Priority) -> JobContext {
        let mut ctx = self.clone();
        ctx.api = ctx.api.as_ref().map(|api| Arc::new(api.with_priority(priority)));
        ctx
    }

    /// The store, or an error saying this job needs one.
    pub fn store(&self) -> Result<&Arc<dyn Store>> {
        self.store.as_ref().ok_or_else(|| crate::Error::Fatal("this job needs a database, and none was opened".into()))
    }

    /// Where the job writes: every write of a run goes through this, never the store itself, so a
    /// dry run is one mechanism (the writer's) whatever the job.
    pub fn writes(&self) -> Result<&Arc<dyn Writer>> {
        self.writes.as_ref().ok_or_else(|| {
            crate::Error::Fatal("this job writes outside a run: only jobs::runner opens a run's writer".into())
        })
    }

    /// Count a write in the report and, unless this is a dry run, in what the run committed.
    pub fn record_writes(&self, report: &mut JobReport, stats: &WriteStats) {
        report.add_writes(stats);
        if !self.dry_run {
            self.committed.add(stats, false);
        }
    }

    /// The API client, or an error saying this job needs one.
    pub fn api(&self) -> Result<&Arc<crate::api::Client>> {
        self.api.as_ref().ok_or_else(|| crate::Error::Fatal("this job needs the API client, and none was built".into()))
    }
}

/// API traffic of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCounts {
    pub calls: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Requests that waited for other processes sharing the account's rate limit.
    #[serde(default)]
    pub shared_waits: u64,
    /// Milliseconds those requests waited.
    #[serde(default)]
    pub shared_wait_ms: u64,
}

/// What a run did. Printed as a short summary at the end of every run (`--json`: as JSON) and
/// stored in `job_runs.summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    pub job: String,
    pub dry_run: bool,
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    pub api: ApiCounts,
    pub units_done: u64,
    pub units_failed: u64,
    /// Units not fetched because they were complete already or outside the plan's window.
    pub units_skipped: u64,
    pub races: u64,
    pub runners: u64,
    pub results: u64,
    pub entities: u64,
    pub odds: u64,
    /// Per table: inserted, updated, unchanged (in a dry run: would be).
    pub rows: BTreeMap<String, TableCounts>,
    /// Records that could not be stored, counted by reason.
    pub skipped_records: BTreeMap<String, u64>,
    /// Fields sent but not storable (a list or an object where a scalar belongs, a value that
    /// does not parse), counted by `record.field` as the API names it (`runners.sp`): each was
    /// stored as NULL (the row keeps what it had) and its record was kept.
    #[serde(default)]
    pub dropped_fields: BTreeMap<String, u64>,
    /// One line per failed unit: what failed and why (`results 2026-03-02: HTTP 500 ...`).
    pub errors: Vec<String>,
    /// Things worth knowing that are not failures (plan limits, clipped windows).
    pub notes: Vec<String>,
    /// The findings of a checking job (`health`, `quality`), one per check; empty for the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<checks::Check>,
    /// A checking job's figures beyond its checks (`quality`: the window, rows per table, the
    /// calendar's days); absent for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<serde_json::Value>,
    /// Text a checking job prints above its check lines (`quality --calendar`'s calendar); the
    /// JSON document has the same in `figures`.
    #[serde(skip)]
    pub preamble: Option<String>,
}

impl JobReport {
    pub fn new(job: &str, dry_run: bool) -> Self {
        Self { job: job.to_string(), dry_run, ..Self::default() }
    }

    pub fn add_writes(&mut self, stats: &WriteStats) {
        for (table, counts) in &stats.tables {
            self.rows.entry(table.clone()).or_default().absorb(*counts);
        }
    }

    pub fn rows_written(&self) -> u64 {
        self.rows.values().map(TableCounts::written).sum()
    }

    /// Count a stored unit: its races, runners or results, entities and odds, what it skipped
    /// (its records, and those the store could not write) and the fields it dropped.
    pub fn add_unit(&mut self, unit: &crate::model::Unit, stats: &WriteStats) {
        self.units_done += 1;
        self.races += unit.races.len() as u64;
        match unit.kind {
            crate::model::Kind::Racecards => self.runners += unit.runners.len() as u64,
            crate::model::Kind::Results => self.results += unit.runners.len() as u64,
        }
        self.entities += unit.entities.len() as u64;
        self.odds += unit.odds.len() as u64;
        for s in unit.skipped.iter().chain(&stats.skipped) {
            *self.skipped_records.entry(s.reason.clone()).or_default() += 1;
        }
        for (field, n) in &unit.dropped {
            *self.dropped_fields.entry(field.clone()).or_default() += n;
        }
    }

    /// A unit failed: the run completed with failures.
    pub fn has_failures(&self) -> bool {
        self.units_failed > 0 || !self.errors.is_empty()
    }

    /// A check found something (a warning or worse): the command exits 1, though the run itself
    /// succeeded.
    pub fn has_findings(&self) -> bool {
        checks::worst(&self.checks) > checks::Level::Ok
    }

    /// A short human summary, a few lines; a checking job's is its checks, one line each.
    pub fn summary(&self) -> String {
        if !self.checks.is_empty() {
            let mut s = self.preamble.as_ref().map(|p| format!("{}\n", p.trim_end())).unwrap_or_default();
            s.push_str(&checks::render(&self.checks));
            for note in &self.notes {
                s.push_str(&format!("\n  note: {note}"));
            }
            for e in &self.errors {
                s.push_str(&format!("\n  FAILED {e}"));
            }
            return s;
        }
        let verb = if self.dry_run { "would write" } else { "wrote" };
        let mut s = format!(
            "{job}{dry}: {units} units done, {failed} failed, {skipped} skipped in {secs:.1}s\n  \
             api: {calls} calls ({retries} retries, {limited} rate-limited, {errors} errors, {kib} KiB)\n  \
             data: {races} races, {runners} runners, {results} results, {entities} entities, {odds} odds\n  \
             {verb} {rows} rows",
            job = self.job,
            dry = if self.dry_run { " (dry run)" } else { "" },
            units = self.units_done,
            failed = self.units_failed,
            skipped = self.units_skipped,
            secs = self.duration.as_secs_f64(),
            calls = self.api.calls,
            retries = self.api.retries,
            limited = self.api.rate_limited,
            errors = self.api.errors,
            kib = self.api.bytes / 1024,
            races = self.races,
            runners = self.runners,
            results = self.results,
            entities = self.entities,
            odds = self.odds,
            rows = self.rows_written(),
        );
        let tables: Vec<String> = self
            .rows
            .iter()
            .filter(|(_, c)| c.written() > 0)
            .map(|(t, c)| format!("{t} +{}/~{}", c.inserted, c.updated))
            .collect();
        if !tables.is_empty() {
            s.push_str(&format!(" ({})", tables.join(", ")));
        }
        for (reason, n) in &self.skipped_records {
            s.push_str(&format!("\n  skipped {n} records: {reason}"));
        }
        for (field, n) in &self.dropped_fields {
            s.push_str(&format!("\n  {field}: {n} values unreadable, stored as NULL"));
        }
        for note in &self.notes {
            s.push_str(&format!("\n  note: {note}"));
        }
        for e in &self.errors {
            s.push_str(&format!("\n  FAILED {e}"));
        }
        s
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// One job: a name and a run. Implemented by every job in this folder and by jobs defined outside
/// the crate (see `examples/custom_job.rs`).
#[async_trait]
pub trait UpdateJob: Send + Sync {
    /// The registry name: `daily`, `live`, ...
    fn name(&self) -> &str;

    /// The stem of this job's daily log file: a registered job's [`JobSpec::log_name`] (`daily`
    /// logs to `logs/daily_update_YYYYMMDD.log`, as the original named them), else its name.
    fn log_name(&self) -> String {
        crate::telemetry::log_name_for(self.name()).to_string()
    }

    /// Whether the job needs the database and the API client in its context.
    fn needs(&self) -> Needs {
        Needs { store: true, api: true }
    }

    /// Whether its options ask for a dry run (`--dry-run` on the command line or in an interval's
    /// `args`). The run itself reads `ctx.dry_run`: whoever builds the context passes this on
    /// (`app::context(.., dry_run, ..)`), because a dry run opens the store differently.
    fn dry_run(&self) -> bool {
        false
    }

    /// Whether the job must answer within seconds even when the database is unreachable
    /// (`health`): the command line caps its waits for the store first ([`crate::health::cap_waits`]).
    fn answers_quickly(&self) -> bool {
        false
    }

    /// An empty report for a run of this job in `ctx`: its name, and whether the run is a dry run.
    fn new_report(&self, ctx: &JobContext) -> JobReport {
        JobReport::new(self.name(), ctx.dry_run)
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport>;
}

/// A built-in job: its plain options, filled from the command line or an interval's `args`
/// ([`FromArgs`]). Each job file names its own (`pub type Daily = Job<DailyOptions>;`), gives it
/// `NAME` and `ABOUT`, and starts its `impl UpdateJob` with [`builtin_job!`].
#[derive(Debug, Clone, Default)]
pub struct Job<O> {
    pub options: O,
}

/// The [`UpdateJob`] methods a built-in job ([`Job`]) has like every other: `name()` is its
/// `NAME`, `dry_run()` its options' `dry_run`; `needs: ...` overrides [`UpdateJob::needs`].
/// Used as the first item of the job's `impl UpdateJob`.
macro_rules! builtin_job {
    () => {
        fn name(&self) -> &str {
            Self::NAME
        }

        fn dry_run(&self) -> bool {
            self.options.dry_run
        }
    };
    (needs: $needs:expr) => {
        $crate::jobs::builtin_job!();

        fn needs(&self) -> $crate::jobs::Needs {
            $needs
        }
    };
}
pub(crate) use builtin_job;

/// What a job needs in its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub store: bool,
    pub api: bool,
}

/// One registered job: its name, a line about it, the stem of its log file, and how to build it
/// from arguments in their command-line form (the orchestrator passes `intervals.<name>.args`).
#[derive(Debug, Clone, Copy)]
pub struct JobSpec {
    pub name: &'static str,
    /// One line, also the job's `--help` summary.
    pub about: &'static str,
    /// The stem of the job's daily log file (`daily_update` for `logs/daily_update_YYYYMMDD.log`).
    pub log_name: &'static str,
    /// Parse `args` with the job's own command-line flags (so `["--days-ahead", "3"]` means what
    /// `darkhorses daily --days-ahead 3` means, ranges and conflicts included) and build the job.
    /// A usage error names the job and the arguments.
    pub build: fn(&[String]) -> Result<Box<dyn UpdateJob>>,
}

/// A job's plain options, parsed from arguments in their command-line form. The parsers live
/// with the command line (`src/cli.rs`), so the command line and an interval's `args` go through
/// the same flag definitions and no clap type reaches a job.
pub trait FromArgs: Sized {
    fn from_args(args: &[String]) -> Result<Self>;
}

/// Every job the tool knows, in one list: command-line dispatch, `config check` of
/// `intervals.<name>.job` and `args`, log file names and the orchestrator all read it.
pub fn registry() -> Vec<JobSpec> {
    vec![
        JobSpec {
            name: reference::Reference::NAME,
            about: reference::Reference::ABOUT,
            log_name: "reference_update",
            build: |args| Ok(Box::new(reference::Reference { options: FromArgs::from_args(args)? })),
        },
        JobSpec {
            name: daily::Daily::NAME,
            about: daily::Daily::ABOUT,
            log_name: "daily_update",
            build: |args| Ok(Box::new(daily::Daily { options: FromArgs::from_args(args)? })),
        },
        JobSpec {
            name: live::Live::NAME,
            about: live::Live::ABOUT,
            log_name: "live_update",
            build: |args| Ok(Box::new(live::Live { options: FromArgs::from_args(args)? })),
        },
        JobSpec {
            name: backfill::Backfill::NAME,
            about: backfill::Backfill::ABOUT,
            log_name: "backfill",
            build: |args| Ok(Box::new(backfill::Backfill { options: FromArgs::from_args(args)? })),
        },
        JobSpec {
            name: rebuild::Rebuild::NAME,
            about: rebuild::Rebuild::ABOUT,
            log_name: "rebuild",
            build: |args| Ok(Box::new(rebuild::Rebuild { options: FromArgs::from_args(args)? })),
        },
        JobSpec {
            name: crate::health::Health::NAME,
            about: crate::health::Health::ABOUT,
            log_name: "health_check",
            build: |args| Ok(Box::new(crate::health::Health { options: FromArgs::from_args(args)? })),
        },
        JobSpec {
            name: quality::Quality::NAME,
            about: quality::Quality::ABOUT,
            log_name: "data_quality",
            build: |args| Ok(Box::new(quality::Quality { options: FromArgs::from_args(args)? })),
        },
    ]
}

/// The registered job called `name`.
pub fn find(name: &str) -> Option<JobSpec> {
    registry().into_iter().find(|s| s.name == name)
}

/// The names of the registered jobs, in registry order.
pub fn names() -> Vec<&'static str> {
    registry().iter().map(|s| s.name).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn registered_names_and_log_names_are_unique() {
        let specs = registry();
        let names: BTreeSet<&str> = specs.iter().map(|s| s.name).collect();
        let log_names: BTreeSet<&str> = specs.iter().map(|s| s.log_name).collect();
        assert_eq!(names.len(), specs.len(), "a name registered twice: {names:?}");
        assert_eq!(log_names.len(), specs.len(), "two jobs share a log file: {log_names:?}");
        // The orchestrator's log is its own.
        assert!(!log_names.contains(crate::telemetry::SCHEDULER_LOG));
        assert_eq!(super::names(), specs.iter().map(|s| s.name).collect::<Vec<_>>());
        assert!(specs.iter().all(|s| !s.about.is_empty()));
    }

    #[test]
    fn every_registered_job_builds_under_its_own_name_and_log_name() {
        for spec in registry() {
            let job = match (spec.build)(&[]) {
                Ok(job) => job,
                Err(e) => panic!("{} with no arguments: {e}", spec.name),
            };
            assert_eq!(job.name(), spec.name);
            assert_eq!(job.log_name(), spec.log_name);
            assert!(!job.dry_run(), "{}", spec.name);
            let dry = (spec.build)(&words(&["--dry-run"]));
            assert!(dry.is_ok_and(|job| job.dry_run()), "{} --dry-run", spec.name);
            assert_eq!(find(spec.name).map(|s| s.name), Some(spec.name));
        }
        assert!(find("health").is_some() && find("").is_none());
        assert_eq!(find("quality").map(|s| s.log_name), Some("data_quality"));
    }

    #[test]
    fn bad_arguments_are_a_usage_error_naming_the_job_and_the_arguments() {
        let Some(daily) = find(daily::Daily::NAME) else { panic!("daily is not registered") };
        let message = match (daily.build)(&words(&["--days-ahead", "30"])) {
            Ok(_) => panic!("--days-ahead 30 accepted"),
            Err(e) => {
                assert!(matches!(e, crate::Error::Usage(_)), "{e:?}");
                e.to_string()
            }
        };
        assert!(message.starts_with(r#"arguments ["--days-ahead", "30"] for job daily: "#), "{message}");
        assert!(message.contains("30") && message.contains("0..=7"), "{message}");
    }
}
