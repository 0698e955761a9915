//! Dispatch: one `match` from a parsed command line to library calls, and the outcome.

use std::process::ExitCode;

use clap::Parser;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, ConfigCommand, DbCommand, GlobalArgs, LogFormatArg};
use crate::clock::{Clock, FixedClock, SystemClock};
use crate::config::{Config, FlagOverride, LoadOptions, Loaded};
use crate::error::{Error, Outcome, Result, exit_code};
use crate::jobs::backfill::Backfill;
use crate::jobs::daily::Daily;
use crate::jobs::live::Live;
use crate::jobs::reference::Reference;
use crate::jobs::runner::{Execution, execute};
use crate::jobs::{JobContext, Needs, UpdateJob};
use crate::sandbox::Sandbox;
use crate::store::Trigger;

/// The binary's whole `main`: parse, run, print the error once, exit with the decided code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { crate::error::exit::FATAL } else { crate::error::exit::OK });
        }
    };
    let result = run(cli);
    if let Err(e) = &result {
        eprintln!("error: {e}");
    }
    exit_code(&result)
}

fn flag_overrides(cli: &Cli) -> Vec<FlagOverride> {
    let mut flags = Vec::new();
    if let Some(format) = cli.global.log_format {
        let value = match format {
            LogFormatArg::Human => "human",
            LogFormatArg::Json => "json",
        };
        flags.push(FlagOverride { key: "logging.format".into(), value: value.into(), flag: "--log-format".into() });
    }
    let level = match (cli.global.verbose, cli.global.quiet) {
        (0, 0) => None,
        (1, _) => Some(("debug", "-v")),
        (v, _) if v > 1 => Some(("trace", "-vv")),
        (_, 1) => Some(("warn", "-q")),
        _ => Some(("error", "-qq")),
    };
    if let Some((level, flag)) = level {
        flags.push(FlagOverride { key: "logging.level".into(), value: level.into(), flag: flag.into() });
    }
    let dry_run = match &cli.command {
        Command::Reference(args) => args.dry_run.dry_run,
        Command::Daily(args) => args.dry_run.dry_run,
        Command::Live(args) => args.dry_run.dry_run,
        Command::Backfill(args) => args.dry_run.dry_run,
        _ => false,
    };
    if dry_run {
        flags.push(FlagOverride { key: "features.dry_run".into(), value: true.into(), flag: "--dry-run".into() });
    }
    if let Command::Sandbox(args) = &cli.command {
        let mut set = |key: &str, value: Option<serde_json::Value>, flag: &str| {
            if let Some(value) = value {
                flags.push(FlagOverride { key: key.into(), value, flag: flag.into() });
            }
        };
        set("sandbox.port", args.port.map(Into::into), "--port");
        set("sandbox.seed", args.seed.map(Into::into), "--seed");
        set("sandbox.rate_limit", args.rate_limit.map(Into::into), "--rate-limit");
        set("sandbox.username", args.username.clone().map(Into::into), "--username");
        set("sandbox.password", args.password.clone().map(Into::into), "--password");
        set("sandbox.plan", args.plan.clone().map(Into::into), "--plan");
    }
    flags
}

fn run(cli: Cli) -> Result<Outcome> {
    let opts = LoadOptions { path: cli.global.config.clone(), flags: flag_overrides(&cli) };
    let loaded = crate::config::load(&opts)?;
    // Printed here until logging is set up from the loaded configuration.
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    if !is_job(&cli.command) {
        crate::telemetry::init_stderr(&loaded.config.logging)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    runtime.block_on(dispatch(cli, loaded))
}

async fn dispatch(cli: Cli, loaded: crate::config::Loaded) -> Result<Outcome> {
    match cli.command {
        Command::Config(command) => {
            // `load` already validated everything that can be checked offline; an invalid
            // configuration never gets here (exit 2 with the error).
            let text = match (command, cli.global.json) {
                (ConfigCommand::Show, false) => crate::config::show_human(&loaded),
                (ConfigCommand::Show, true) => format!("{:#}\n", crate::config::show_json(&loaded)),
                (ConfigCommand::Check, false) => {
                    format!("{}\n", crate::config::check_line(&loaded))
                }
                (ConfigCommand::Check, true) => {
                    format!("{:#}\n", crate::config::check_json(&loaded))
                }
            };
            print!("{text}");
            Ok(Outcome::Success)
        }
        Command::Db(DbCommand::Migrate) => {
            // Opened without auto-migration, so what `migrate` applies is what this command reports.
            let store = crate::store::open_with(&loaded.config.database, false).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                let n = store.migration_status().await?.len();
                println!("schema is up to date ({n} migrations) in {}", store.describe());
            }
            for m in &applied {
                println!(
                    "applied {:04}_{} (sha256 {}...)",
                    m.version,
                    m.name,
                    crate::store::migrations::short(&m.checksum)
                );
            }
            Ok(Outcome::Success)
        }
        Command::Db(DbCommand::Status) => {
            let store = crate::store::open_with(&loaded.config.database, false).await?;
            let states = store.migration_status().await?;
            println!("store: {}", store.describe());
            println!("{:<8} {:<32} applied_at", "version", "name");
            for m in &states {
                let at =
                    m.applied_at.map_or_else(|| "pending".to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                println!("{:<8} {:<32} {at}", format!("{:04}", m.version), m.name);
            }
            let pending = states.iter().filter(|m| m.applied_at.is_none()).count();
            println!("{} applied, {pending} pending", states.len() - pending);
            Ok(Outcome::Success)
        }
        Command::Schedule(args) => {
            let now = cli.global.now.unwrap_or_else(chrono::Utc::now);
            print!("{}", crate::schedule::preview(&args, &loaded.config, now)?);
            Ok(Outcome::Success)
        }
        Command::Sandbox(args) => {
            crate::sandbox::serve_foreground(&args, loaded.config.sandbox.clone(), clock_of(&cli.global)).await?;
            Ok(Outcome::Success)
        }
        Command::Reference(args) => run_job(Box::new(Reference { args }), &cli.global, loaded).await,
        Command::Daily(args) => run_job(Box::new(Daily { args }), &cli.global, loaded).await,
        Command::Live(args) => run_job(Box::new(Live { args }), &cli.global, loaded).await,
        Command::Backfill(args) => run_job(Box::new(Backfill { args }), &cli.global, loaded).await,
    }
}

/// Whether a command is a job run (it logs to the job's daily file).
fn is_job(command: &Command) -> bool {
    matches!(command, Command::Reference(_) | Command::Daily(_) | Command::Live(_) | Command::Backfill(_))
}

/// The clock of this process: `--now` pins it (simulations and tests), else the wall clock.
fn clock_of(global: &GlobalArgs) -> Arc<dyn Clock> {
    match global.now {
        Some(at) => Arc::new(FixedClock::new(at)),
        None => Arc::new(SystemClock),
    }
}

/// Run one job by hand: its daily log file, the in-process sandbox when asked for, the context,
/// the run under its locks, and the summary (or the report as JSON).
async fn run_job(job: Box<dyn UpdateJob>, global: &GlobalArgs, loaded: Loaded) -> Result<Outcome> {
    let mut config = loaded.config;
    let _telemetry = crate::telemetry::init(&config.logging, &job.log_name(), 0)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let clock = clock_of(global);
    let _sandbox = if global.sandbox { Some(start_sandbox(&mut config, clock.clone())?) } else { None };
    let ctx = context(Arc::new(config), Some(clock), false, job.needs()).await?;
    match execute(job.as_ref(), &ctx, Trigger::Manual, None).await? {
        Execution::Skipped { reason } => {
            // Logged too, so the job's log file shows the skipped run.
            tracing::info!(job = %job.name(), "{reason}");
            println!("{reason}");
            Ok(Outcome::Success)
        }
        Execution::Ran { report, status } => {
            // The job's log file records every run's outcome, whatever the job itself logged.
            tracing::info!(
                job = %job.name(),
                status = status.as_str(),
                units.done = report.units_done,
                units.failed = report.units_failed,
                units.skipped = report.units_skipped,
                api.calls = report.api.calls,
                rows.written = report.rows_written(),
                duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
                "job run finished"
            );
            if global.json {
                let json = serde_json::to_string_pretty(&report)
                    .map_err(|e| Error::Fatal(format!("could not render the report as JSON: {e}")))?;
                println!("{json}");
            } else {
                println!("{}", report.summary());
            }
            Ok(if report.has_failures() { Outcome::CompletedWithFailures } else { Outcome::Success })
        }
    }
}

/// `--sandbox`: serve the simulated API in this process and point the client at it, with the
/// configured rate limit and plan, and demo credentials unless real ones are set.
fn start_sandbox(config: &mut Config, clock: Arc<dyn Clock>) -> Result<Sandbox> {
    let mut sandbox = config.sandbox.clone();
    sandbox.port = 0;
    sandbox.rate_limit = config.api.rate_limit;
    sandbox.plan = config.api.plan;
    let server = Sandbox::start(sandbox, clock)?;
    config.api.base_url = server.base_url();
    if config.api.username.is_empty() || config.api.password.is_empty() {
        config.api.username = crate::config::Secret::new("sandbox");
        config.api.password = crate::config::Secret::new("sandbox");
    }
    tracing::info!(url = %server.base_url(), "using the in-process sandbox API (simulated data, no credentials needed)");
    Ok(server)
}

/// Build a job context: the store and API client the job needs, the clock, cancellation on
/// Ctrl-C and SIGTERM. Public so jobs defined outside the crate run the same way.
pub async fn context(
    config: Arc<Config>,
    clock: Option<Arc<dyn Clock>>,
    dry_run: bool,
    needs: Needs,
) -> Result<JobContext> {
    let cancel = CancellationToken::new();
    spawn_signal_handler(cancel.clone());
    let store = if needs.store { Some(crate::store::open(&config.database).await?) } else { None };
    let api = if needs.api {
        Some(Arc::new(crate::api::Client::new(&config.api, &config.retry)?.with_cancel(cancel.clone())))
    } else {
        None
    };
    Ok(JobContext {
        dry_run: dry_run || config.features.dry_run,
        clock: clock.unwrap_or_else(|| Arc::new(SystemClock)),
        config,
        cancel,
        store,
        api,
        committed: Default::default(),
    })
}

/// Ctrl-C or SIGTERM: finish the unit in flight, start no other.
fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::warn!("stopping: finishing the unit in flight, starting no other");
        cancel.cancel();
    });
}
