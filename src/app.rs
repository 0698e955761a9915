//! Dispatch: one `match` from a parsed command line to library calls, and the outcome.

use std::process::ExitCode;

use clap::Parser;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, ConfigCommand, DbCommand, GlobalArgs, LogFormatArg, OrchestrateArgs, StatusArgs};
use crate::clock::{Clock, FixedClock, SystemClock};
use crate::config::{Config, FlagOverride, LoadOptions, Loaded, LogFormat};
use crate::error::{Error, Outcome, Result, exit, exit_code};
use crate::jobs::runner::{Execution, execute};
use crate::jobs::{JobContext, Needs, UpdateJob};
use crate::output;
use crate::sandbox::Sandbox;
use crate::store::Trigger;

/// The binary's whole `main`: parse, run, print the error once, exit with the decided code.
///
/// An error is one `error:` line on stderr (a JSON object with `--log-format json`) and, with
/// `--json`, also the document `{"error": "...", "exit_code": 2}` on stdout, so a script reads
/// one JSON document whatever happened.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    if cli.global.log_format == Some(LogFormatArg::Json) {
        output::set_stderr_format(LogFormat::Json);
    }
    let json = cli.global.json;
    let result = run(cli);
    if let Err(e) = &result {
        output::error(&e.to_string());
        // Only when nothing went to stdout yet: its one document must stay one.
        if json && !output::stdout_used() {
            let _ = output::json(&output::error_document(&e.to_string(), exit::FATAL));
        }
    }
    exit_code(&result)
}

/// A command line clap refused, or `--help`/`--version` (text on stdout, exit 0). The command
/// line did not parse, so `--json` and `--log-format json` are looked for in the raw arguments
/// (before a `--`): a script that asked for JSON gets JSON for a usage error too.
fn usage_error(e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        // Ignored: help and version have nowhere to go when stdout is closed.
        let _ = e.print();
        return ExitCode::from(exit::OK);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).take_while(|a| a != "--").collect();
    let json = args.iter().any(|a| a == "--json");
    let json_log = args.iter().any(|a| a == "--log-format=json")
        || args.windows(2).any(|w| w[0] == "--log-format" && w[1] == "json");
    let text = e.render().to_string();
    let message = text.trim().strip_prefix("error: ").unwrap_or(text.trim()).to_string();
    if json_log {
        output::set_stderr_format(LogFormat::Json);
        output::error(&message);
    } else {
        let _ = e.print();
    }
    if json {
        let _ = output::json(&output::error_document(&message, exit::FATAL));
    }
    ExitCode::from(exit::FATAL)
}

/// The stderr level `-v`/`-q` ask for, and the flag as typed.
fn terminal_level(global: &GlobalArgs) -> Option<(&'static str, &'static str)> {
    match (global.verbose, global.quiet) {
        (0, 0) => None,
        (1, _) => Some(("debug", "-v")),
        (v, _) if v > 1 => Some(("trace", "-vv")),
        (_, 1) => Some(("warn", "-q")),
        _ => Some(("error", "-qq")),
    }
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
    // A job's `-v`/`-q` set the terminal's level only (`run_job` hands them to telemetry): its
    // log file keeps `logging.level`. Other commands log to stderr alone, so there the flag is
    // the level, and `config show` says so.
    if let Some((level, flag)) = terminal_level(&cli.global).filter(|_| !is_job(&cli.command)) {
        flags.push(FlagOverride { key: "logging.level".into(), value: level.into(), flag: flag.into() });
    }
    // The job's own options say whether it is a dry run, as they do for a scheduled run.
    let dry_run = match &cli.command {
        Command::Job(job) => job.clone().into_job().dry_run(),
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
    // Generated from the command line alone: no configuration to load, nothing to connect to.
    match &cli.command {
        Command::Completions(args) => return generated(&cli.global, "script", crate::cli::completions(args.shell)),
        Command::Man(args) => return generated(&cli.global, "roff", crate::cli::man_page(args.command.as_deref())?),
        _ => {}
    }
    let opts = LoadOptions { path: cli.global.config.clone(), flags: flag_overrides(&cli) };
    let loaded = crate::config::load(&opts)?;
    output::set_stderr_format(loaded.config.logging.format);
    if !is_job(&cli.command) {
        // A job logs them itself, so its log file has them too.
        for warning in &loaded.warnings {
            output::warning(warning);
        }
        crate::telemetry::init_stderr(&loaded.config.logging)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    runtime.block_on(dispatch(cli, loaded))
}

/// A generated text (completion script, man page) on stdout as it is, or with `--json` as the
/// one document `{"<key>": text}`.
fn generated(global: &GlobalArgs, key: &str, text: String) -> Result<Outcome> {
    if global.json {
        output::json(&serde_json::json!({ key: text }))?;
    } else {
        output::print(&text)?;
    }
    Ok(Outcome::Success)
}

async fn dispatch(cli: Cli, loaded: crate::config::Loaded) -> Result<Outcome> {
    let json = cli.global.json;
    match cli.command {
        Command::Config(command) => {
            // `load` already validated everything that can be checked offline; an invalid
            // configuration never gets here (exit 2 with the error).
            match (command, json) {
                (ConfigCommand::Show, false) => output::print(&crate::config::show_human(&loaded))?,
                (ConfigCommand::Show, true) => output::json(&crate::config::show_json(&loaded))?,
                (ConfigCommand::Check, false) => output::print(&format!("{}\n", crate::config::check_line(&loaded)))?,
                (ConfigCommand::Check, true) => output::json(&crate::config::check_json(&loaded))?,
            }
            Ok(Outcome::Success)
        }
        Command::Db(DbCommand::Migrate) => {
            // Opened without auto-migration, so what `migrate` applies is what this command reports.
            let store = crate::store::open_with(&loaded.config.database, false).await?;
            let applied = store.migrate().await?;
            let total = store.migration_status().await?.len();
            if json {
                output::json(&serde_json::json!({
                    "store": store.describe(),
                    "applied": applied,
                    "migrations": total,
                }))?;
                return Ok(Outcome::Success);
            }
            let mut text = String::new();
            if applied.is_empty() {
                text.push_str(&format!("schema is up to date ({total} migrations) in {}\n", store.describe()));
            }
            for m in &applied {
                text.push_str(&format!(
                    "applied {:04}_{} (sha256 {}...)\n",
                    m.version,
                    m.name,
                    crate::store::migrations::short(&m.checksum)
                ));
            }
            output::print(&text)?;
            Ok(Outcome::Success)
        }
        Command::Db(DbCommand::Status) => {
            // Only looks: a database that does not exist yet is reported, not created.
            let (describe, states) = match crate::store::open_existing(&loaded.config.database).await? {
                Some(store) => (store.describe(), store.migration_status().await?),
                None => (
                    format!(
                        "{} (does not exist yet: `darkhorses db migrate` or the first job creates it)",
                        loaded.config.database.url.expose()
                    ),
                    crate::store::migrations::unapplied(crate::store::migrations::SQLITE),
                ),
            };
            let pending = states.iter().filter(|m| m.applied_at.is_none()).count();
            if json {
                output::json(&serde_json::json!({
                    "store": describe,
                    "migrations": states,
                    "applied": states.len() - pending,
                    "pending": pending,
                }))?;
                return Ok(Outcome::Success);
            }
            let mut text = format!("store: {describe}\n{:<8} {:<32} applied_at\n", "version", "name");
            for m in &states {
                let at =
                    m.applied_at.map_or_else(|| "pending".to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                text.push_str(&format!("{:<8} {:<32} {at}\n", format!("{:04}", m.version), m.name));
            }
            text.push_str(&format!("{} applied, {pending} pending\n", states.len() - pending));
            output::print(&text)?;
            Ok(Outcome::Success)
        }
        Command::Status(args) => status(&args, &cli.global, &loaded.config).await,
        Command::Schedule(args) => {
            let now = cli.global.now.unwrap_or_else(chrono::Utc::now);
            let preview = crate::schedule::Preview::new(&args, &loaded.config, now)?;
            if json {
                output::json(&preview.json())?
            } else {
                output::print(&preview.text())?
            }
            Ok(Outcome::Success)
        }
        Command::Sandbox(args) => {
            crate::sandbox::serve_foreground(&args, loaded.config.sandbox.clone(), clock_of(&cli.global), json).await?;
            Ok(Outcome::Success)
        }
        Command::Orchestrate(args) => orchestrate(args, &cli.global, loaded).await,
        Command::Job(job) => run_job(job.into_job(), &cli.global, loaded).await,
        // Answered by `run` before any configuration is loaded; never dispatched.
        Command::Completions(_) | Command::Man(_) => {
            Err(Error::Fatal("completions and man are generated before the configuration is loaded".into()))
        }
    }
}

/// `darkhorses status`: reads the database as it is (never creates or migrates it), prints the
/// interval table (or, with `--json`, every figure) and writes the page when `--html` asks.
async fn status(args: &StatusArgs, global: &GlobalArgs, config: &Config) -> Result<Outcome> {
    let now = global.now.unwrap_or_else(chrono::Utc::now);
    let status = crate::status::open_and_gather(config, now).await?;
    let written = match &args.html {
        Some(path) => {
            let page = crate::status::html::render(&status)?;
            std::fs::write(path, &page).map_err(|e| {
                Error::io(
                    format!("writing the status page to {} (is the directory there and writable?)", path.display()),
                    e,
                )
            })?;
            Some((path, page.len()))
        }
        None => None,
    };
    if global.json {
        output::json(&status)?;
    } else {
        let mut text = crate::status::text::render(&status);
        if let Some((path, bytes)) = written {
            text.push_str(&format!("page written to {} ({} KiB)\n", path.display(), bytes.div_ceil(1024)));
        }
        output::print(&text)?;
    }
    Ok(Outcome::Success)
}

/// Whether a command is a job run (it logs to the job's daily file; `orchestrate` to the
/// scheduler's, unless it only looks).
fn is_job(command: &Command) -> bool {
    match command {
        Command::Orchestrate(args) => !args.list && !args.simulate,
        other => matches!(other, Command::Job(_)),
    }
}

/// `darkhorses orchestrate`: `--list` and `--simulate` only look; otherwise one tick (see
/// [`crate::orchestrate::tick`]) logged to the scheduler log, then its summary table.
async fn orchestrate(args: OrchestrateArgs, global: &GlobalArgs, loaded: Loaded) -> Result<Outcome> {
    let now = global.now.unwrap_or_else(chrono::Utc::now);
    if args.simulate {
        let (Some(from), Some(to)) = (args.from, args.to) else {
            return Err(Error::Usage("--simulate needs --from and --to".into()));
        };
        let slots = crate::orchestrate::simulate(&loaded.config, from, to)?;
        if global.json {
            output::json(&serde_json::json!({ "from": from, "to": to, "slots": slots }))?;
        } else {
            output::print(&crate::orchestrate::simulate_text(&slots))?;
        }
        return Ok(Outcome::Success);
    }
    if args.list {
        let store = crate::store::open_existing(&loaded.config.database).await?;
        let listed = crate::orchestrate::list(&loaded.config, store.as_deref(), now).await?;
        if global.json {
            output::json(&serde_json::json!({ "now": now, "intervals": listed }))?;
        } else {
            output::print(&crate::orchestrate::list_text(&listed))?;
        }
        return Ok(Outcome::Success);
    }
    // An unknown --update is a usage error, refused before any log file or database is touched.
    crate::orchestrate::selected(&loaded.config, args.update.as_deref())?;
    let _telemetry = job_logging(&loaded, crate::telemetry::log_name_for("orchestrate"), global)?;
    let opts = crate::orchestrate::Options { force_all: args.force_all, update: args.update.clone(), test: args.test };
    if args.daemon {
        return match orchestrate_daemon(&opts, global, loaded.config).await {
            Ok(ticks) => {
                if global.json {
                    output::json(&serde_json::json!({ "daemon": "stopped", "ticks": ticks }))?;
                } else {
                    output::print(&format!("orchestrate daemon stopped after {ticks} ticks\n"))?;
                }
                Ok(Outcome::Success)
            }
            Err(e) => {
                tracing::error!(target: crate::telemetry::FILE_ONLY, error = %e, "orchestrate daemon failed");
                Err(e)
            }
        };
    }
    let tick = match orchestrate_once(&opts, global, loaded.config).await {
        Ok(tick) => tick,
        Err(e) => {
            tracing::error!(target: crate::telemetry::FILE_ONLY, error = %e, "orchestrate failed");
            return Err(e);
        }
    };
    if global.json {
        output::json(&tick)?;
    } else {
        output::print(&tick.table())?;
    }
    Ok(if tick.failed() { Outcome::CompletedWithFailures } else { Outcome::Success })
}

/// `orchestrate --daemon`: the context, the health endpoint, the loop until a signal. Returns
/// how many ticks ran.
async fn orchestrate_daemon(
    opts: &crate::orchestrate::Options,
    global: &GlobalArgs,
    mut config: Config,
) -> Result<u64> {
    use crate::orchestrate::daemon;
    let clock = clock_of(global);
    let _sandbox = if global.sandbox { Some(start_sandbox(&mut config, clock.clone())?) } else { None };
    let (bind, port) = (config.health_check.bind, config.health_check.port);
    let ctx = context(Arc::new(config), Some(clock), opts.test, Needs { store: true, api: true }).await?;
    let metrics = Arc::new(daemon::Metrics::default());
    let serving = CancellationToken::new();
    if port != 0 {
        let page = crate::status::router(Arc::clone(&ctx.config), Arc::clone(ctx.store()?), Arc::clone(&ctx.clock));
        let addr = daemon::serve_health((bind, port).into(), Arc::clone(&metrics), ctx.clone(), page, serving.clone())?;
        tracing::info!(%addr, "health endpoints: http://{addr}/livez, /metrics and /healthz; status page http://{addr}/");
    }
    tracing::info!(intervals = ctx.config.intervals.len(), "orchestrate daemon started");
    let outcome = daemon::run(&ctx, opts, &metrics).await;
    serving.cancel();
    outcome?;
    Ok(metrics.ticks())
}

/// The in-process sandbox when asked for, one context for every interval, one tick.
async fn orchestrate_once(
    opts: &crate::orchestrate::Options,
    global: &GlobalArgs,
    mut config: Config,
) -> Result<crate::orchestrate::Tick> {
    let clock = clock_of(global);
    let _sandbox = if global.sandbox { Some(start_sandbox(&mut config, clock.clone())?) } else { None };
    let mut ctx = context(Arc::new(config), Some(clock), opts.test, Needs { store: true, api: false }).await?;
    let (mut tick, due) = crate::orchestrate::prepare_tick(&ctx, opts).await?;
    // The API client (and its credentials) only when something is due: a tick with nothing to
    // run, the common case under cron, needs neither.
    if !due.is_empty() {
        ctx.api = Some(api_client(&ctx.config, &ctx.clock, &ctx.cancel, ctx.store.as_deref())?);
    }
    crate::orchestrate::run_due(&ctx, &mut tick, due, &|_| {}).await;
    tracing::info!(runs = tick.runs.len(), failed = tick.failed(), "orchestrate tick finished");
    Ok(tick)
}

/// The clock of this process: `--now` pins it (simulations and tests), else the wall clock.
fn clock_of(global: &GlobalArgs) -> Arc<dyn Clock> {
    match global.now {
        Some(at) => Arc::new(FixedClock::new(at)),
        None => Arc::new(SystemClock),
    }
}

/// Logging for a run: stderr at the terminal's level and the daily file `log_name`, with the
/// configuration's warnings logged into both. Without logging (the file could not be opened) the
/// warnings go out the way the error will.
fn job_logging(loaded: &Loaded, log_name: &str, global: &GlobalArgs) -> Result<crate::telemetry::TelemetryGuard> {
    let terminal = terminal_level(global).map(|(level, _)| level);
    let guard = match crate::telemetry::init(&loaded.config.logging, log_name, terminal) {
        Ok(guard) => guard,
        Err(e) => {
            for warning in &loaded.warnings {
                output::warning(warning);
            }
            return Err(e);
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    Ok(guard)
}

/// Run one job by hand: its daily log file, the run (see [`run_logged_job`]), then what it
/// prints. The log file records how every run ended, a fatal error included; a failure to print
/// afterwards is not the run's (the file already says how the run ended).
async fn run_job(job: Box<dyn UpdateJob>, global: &GlobalArgs, loaded: Loaded) -> Result<Outcome> {
    let _telemetry = job_logging(&loaded, &job.log_name(), global)?;
    let execution = match run_logged_job(job.as_ref(), global, loaded.config).await {
        Ok(execution) => execution,
        Err(e) => {
            // Stderr shows it once, as the binary's `error:` line; this puts it in the file.
            tracing::error!(target: crate::telemetry::FILE_ONLY, job = %job.name(), error = %e, "job run failed");
            return Err(e);
        }
    };
    print_execution(job.name(), execution, global.json)
}

/// The in-process sandbox when asked for, the context, the run under its locks, and its outcome
/// logged.
async fn run_logged_job(job: &dyn UpdateJob, global: &GlobalArgs, mut config: Config) -> Result<Execution> {
    if job.answers_quickly() {
        crate::health::cap_waits(&mut config);
    }
    let clock = clock_of(global);
    let _sandbox = if global.sandbox { Some(start_sandbox(&mut config, clock.clone())?) } else { None };
    let ctx = context(Arc::new(config), Some(clock), false, job.needs()).await?;
    let execution = execute(job, &ctx, Trigger::Manual, None).await?;
    match &execution {
        // Logged too, so the job's log file shows the skipped run.
        Execution::Skipped { reason } => tracing::info!(job = %job.name(), "{reason}"),
        // The job's log file records every run's outcome, whatever the job itself logged.
        Execution::Ran { report, status } => tracing::info!(
            job = %job.name(),
            status = status.as_str(),
            units.done = report.units_done,
            units.failed = report.units_failed,
            units.skipped = report.units_skipped,
            api.calls = report.api.calls,
            rows.written = report.rows_written(),
            duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
            "job run finished"
        ),
    }
    Ok(execution)
}

/// A run's summary on stdout, or its report (a skipped run's document) as JSON.
fn print_execution(job: &str, execution: Execution, json: bool) -> Result<Outcome> {
    match execution {
        Execution::Skipped { reason } => {
            if json {
                output::json(&serde_json::json!({ "job": job, "status": "skipped", "reason": reason }))?;
            } else {
                output::print(&format!("{reason}\n"))?;
            }
            Ok(Outcome::Success)
        }
        Execution::Ran { report, status } => {
            if json {
                let mut document = serde_json::to_value(&report)
                    .map_err(|e| Error::Fatal(format!("could not render the report as JSON: {e}")))?;
                // The same key a skipped run's document has, so a script reads one field.
                if let Some(object) = document.as_object_mut() {
                    object.insert("status".into(), status.as_str().into());
                }
                output::json(&document)?;
            } else {
                output::print(&format!("{}\n", report.summary()))?;
            }
            Ok(if report.has_failures() || report.has_findings() {
                Outcome::CompletedWithFailures
            } else {
                Outcome::Success
            })
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
    let dry_run = dry_run || config.features.dry_run;
    // The client first: missing credentials are a configuration error, found before a database
    // is created or migrated.
    let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
    let api = if needs.api { Some(api_client(&config, &clock, &cancel, None)?) } else { None };
    let store = match (needs.store, dry_run) {
        (false, _) => None,
        (true, false) => Some(crate::store::open(&config.database).await?),
        (true, true) => Some(crate::store::open_for_dry_run(&config.database).await?),
    };
    if let (Some(api), Some(store)) = (&api, &store) {
        share_budget(&config, api, store.as_ref())?;
    }
    Ok(JobContext {
        dry_run,
        clock,
        config,
        cancel,
        store,
        api,
        covers_since: None,
        writes: None,
        committed: Default::default(),
    })
}

/// The API client of a run, stamping responses with the run's `clock` and stopped by `cancel`;
/// with `api.share_budget` (the default) its rate limit is shared with every process using the
/// run's database.
fn api_client(
    config: &Config,
    clock: &Arc<dyn Clock>,
    cancel: &CancellationToken,
    store: Option<&dyn crate::store::Store>,
) -> Result<Arc<crate::api::Client>> {
    let client =
        Arc::new(crate::api::Client::new(&config.api, &config.retry, Arc::clone(clock))?.with_cancel(cancel.clone()));
    if let Some(store) = store {
        share_budget(config, &client, store)?;
    }
    Ok(client)
}

/// With `api.share_budget`, pace `client` through the ledger of `store`'s database.
fn share_budget(config: &Config, client: &crate::api::Client, store: &dyn crate::store::Store) -> Result<()> {
    if config.api.share_budget
        && let Some(ledger) = store.api_budget()?
    {
        client.share_budget(ledger);
    }
    Ok(())
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
