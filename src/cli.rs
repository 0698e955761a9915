//! The command line: clap types, and the one parser of a job's flags, which fills the job's plain
//! options from `darkhorses <job> ...` and from an interval's `args` alike. Dispatch lives in
//! `app`; no business logic here.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::health::{Health, HealthOptions};
use crate::jobs::backfill::{Backfill, BackfillOptions};
use crate::jobs::daily::{self, Daily, DailyOptions};
use crate::jobs::live::{Live, LiveOptions};
use crate::jobs::quality::{Quality, QualityOptions};
use crate::jobs::rebuild::{Rebuild, RebuildOptions};
use crate::jobs::reference::{Reference, ReferenceOptions};
use crate::jobs::units::FromTo;
use crate::jobs::{FromArgs, UpdateJob};

#[derive(Debug, Parser)]
#[command(
    name = "darkhorses",
    version,
    about = "Keeps a horse-racing database current with UK and Irish data from The Racing API",
    long_about = "Keeps a horse-racing database current with UK and Irish data from The Racing API.\n\n\
        Credentials come from RACING_API_USERNAME and RACING_API_PASSWORD, the database from \
        DATABASE_URL or database.url (default: the SQLite file ./darkhorses.db).",
    after_help = "Examples:\n  \
        darkhorses --sandbox daily              # try it: simulated API, SQLite ./darkhorses.db\n  \
        darkhorses daily --days-ahead 3         # racecards for the next 3 days, yesterday's results\n  \
        darkhorses backfill --months 12         # a year of history, resumable\n  \
        darkhorses config show                  # effective settings and where each came from\n\n\
        Exit codes: 0 success (or skipped: another instance holds the lock), 1 completed with failures, \
        2 usage, configuration or fatal error."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file (default: config/darkhorses.yaml when it exists). Example: --config /etc/darkhorses.yaml
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Run against an in-process sandbox API instead of The Racing API (no credentials needed).
    /// Example: darkhorses --sandbox daily
    #[arg(long, global = true)]
    pub sandbox: bool,

    /// More log output on stderr (-v debug, -vv trace). Overrides LOG_LEVEL and logging.level there; a job's
    /// log file keeps logging.level. Example: darkhorses -v daily
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less log output on stderr (-q warnings only, -qq errors only); a job's log file still records
    /// every run (at least info). Example: darkhorses -q daily
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,

    /// Log format on stderr and in log files. Example: --log-format json
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,

    /// Print the result as one JSON document on stdout, for every command and every error
    /// (`{"error": ..., "exit_code": 2}`). Example: darkhorses --json daily
    #[arg(long, global = true)]
    pub json: bool,

    /// Pretend it is this instant (RFC 3339): for simulations and tests of schedules and live runs.
    #[arg(long, global = true, value_name = "INSTANT", hide = true)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The registered jobs (`jobs::registry()`), one subcommand each.
    #[command(flatten)]
    Job(JobCommand),

    /// Run the configured intervals: each slot exactly once, from cron (one-shot) or as a daemon.
    #[command(after_help = "Examples:\n  \
        darkhorses --sandbox orchestrate --force-all   # try it: every interval now, simulated API, ./darkhorses.db\n  \
        darkhorses orchestrate                         # from cron every few minutes: what is due since the last run\n  \
        darkhorses orchestrate --force-all --test      # smoke check: every interval as a dry run\n  \
        darkhorses orchestrate --update daily_data     # one interval now\n  \
        darkhorses orchestrate --daemon                # keep running; /livez and /metrics on 127.0.0.1:9187\n  \
        darkhorses orchestrate --list                  # schedules, last runs, next slots\n  \
        darkhorses orchestrate --simulate --from 2026-03-28T00:00:00Z --to 2026-03-30T00:00:00Z\n\n\
        Exit codes: 0 every run succeeded or nothing was due, 1 a run failed or timed out, 2 fatal error.")]
    Orchestrate(OrchestrateArgs),

    /// Runs, coverage, freshness and API use at a glance: a table here, or a self-contained page.
    #[command(after_help = "Examples:\n  \
        darkhorses status                          # each interval's last run, next slot and alert state; today's figures\n  \
        darkhorses status --html status.html       # the page: 48 h timeline, 12-month coverage calendar, freshness, API use\n  \
        darkhorses status --json                   # every figure as one JSON document (docs/status.md)\n\n\
        The daemon (`orchestrate --daemon`) serves the same page at http://127.0.0.1:9187/.")]
    Status(StatusArgs),

    /// Preview the fire times of a cron expression or of a configured job.
    #[command(
        after_help = "Examples:\n  darkhorses schedule '*/15 9-20 * * *' --count 3\n  darkhorses schedule '30 1 * * *' --tz Europe/London --after 2026-03-28T00:00:00Z\n  darkhorses schedule --job daily_data"
    )]
    Schedule(ScheduleArgs),

    /// Database migrations.
    #[command(
        subcommand,
        after_help = "Examples:\n  darkhorses db migrate\n  DATABASE_URL=postgres://user@host/db darkhorses db status"
    )]
    Db(DbCommand),

    /// Show or check the effective configuration.
    #[command(
        subcommand,
        after_help = "Examples:\n  darkhorses config show --json\n  darkhorses --config config/darkhorses.yaml config check"
    )]
    Config(ConfigCommand),

    /// Serve a simulated Racing API on loopback.
    #[command(
        after_help = "Examples:\n  darkhorses sandbox --port 8787\n  darkhorses sandbox --rate-limit 2 --fault 5xx=0.2,429=0.1,slow=0.05,malformed=0.02\n  \
        RACING_API_USERNAME=u RACING_API_PASSWORD=p DARKHORSES_API_BASE_URL=http://127.0.0.1:8787/v1 darkhorses daily"
    )]
    Sandbox(SandboxArgs),

    /// Print a shell completion script, generated from this command line, to stdout.
    #[command(after_help = "Examples:\n  \
        darkhorses completions bash > /etc/bash_completion.d/darkhorses\n  \
        darkhorses completions zsh > \"${fpath[1]}/_darkhorses\"\n  \
        darkhorses completions fish > ~/.config/fish/completions/darkhorses.fish\n  \
        darkhorses completions powershell >> $PROFILE")]
    Completions(CompletionsArgs),

    /// Print the man page (roff), of darkhorses or of one command, to stdout.
    #[command(after_help = "Examples:\n  \
        darkhorses man > /usr/local/share/man/man1/darkhorses.1\n  \
        darkhorses man orchestrate | man -l -")]
    Man(ManArgs),
}

/// One subcommand per registered job: its flags are the job's options. A test checks this list
/// against `jobs::registry()`, so a job is never reachable from one and not the other.
#[derive(Debug, Clone, Subcommand)]
pub enum JobCommand {
    #[command(
        about = Reference::ABOUT,
        after_help = "Examples:\n  darkhorses reference\n  darkhorses reference --courses-only --dry-run"
    )]
    Reference(ReferenceArgs),

    #[command(
        about = Daily::ABOUT,
        after_help = "Examples:\n  darkhorses daily\n  darkhorses daily --weekly           # results for the last 7 days\n  darkhorses daily --racecards-only --days-ahead 5"
    )]
    Daily(DailyArgs),

    #[command(about = Live::ABOUT, after_help = "Examples:\n  darkhorses live\n  darkhorses live --results-only")]
    Live(LiveArgs),

    #[command(
        about = Backfill::ABOUT,
        after_help = "Examples:\n  darkhorses backfill --months 12\n  darkhorses backfill --from 2025-01-01 --to 2025-03-31 --results-only"
    )]
    Backfill(BackfillArgs),

    #[command(
        about = Rebuild::ABOUT,
        after_help = "Examples:\n  darkhorses rebuild                                   # in place, after a normaliser fix\n  darkhorses rebuild --from 2025-01-01 --to 2025-03-31\n  DATABASE_URL=postgres://user:pass@host:5432/db darkhorses rebuild --source sqlite:darkhorses.db   # SQLite to Postgres"
    )]
    Rebuild(RebuildArgs),

    #[command(
        about = Health::ABOUT,
        after_help = "Examples:\n  darkhorses health\n  darkhorses health --offline --json   # no API call; one JSON document\n\n\
        Exit codes: 0 healthy, 1 a check is warning or critical, 2 could not check (database unreachable, bad configuration)."
    )]
    Health(HealthArgs),

    #[command(
        about = Quality::ABOUT,
        after_help = "Examples:\n  darkhorses quality\n  darkhorses quality --calendar            # the checked days month by month: R c r . !\n  \
        darkhorses quality --since 2026-01-01 --json\n\n\
        Exit codes: 0 every check ok, 1 a check found something (warning or critical), 2 could not check."
    )]
    Quality(QualityArgs),
}

impl JobCommand {
    /// The job this command line asks for, built from its options.
    pub fn into_job(self) -> Box<dyn UpdateJob> {
        match self {
            JobCommand::Reference(args) => Box::new(Reference { options: args.into() }),
            JobCommand::Daily(args) => Box::new(Daily { options: args.into() }),
            JobCommand::Live(args) => Box::new(Live { options: args.into() }),
            JobCommand::Backfill(args) => Box::new(Backfill { options: args.into() }),
            JobCommand::Rebuild(args) => Box::new(Rebuild { options: args.into() }),
            JobCommand::Health(args) => Box::new(Health { options: args.into() }),
            JobCommand::Quality(args) => Box::new(Quality { options: args.into() }),
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct DryRunArg {
    /// Fetch and normalise as a real run would, write nothing, report what would be written.
    /// Example: --dry-run
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ReferenceArgs {
    /// Only courses and regions. Example: --courses-only
    #[arg(long, conflicts_with = "bookmakers_only")]
    pub courses_only: bool,
    /// Only bookmakers (no API call). Example: --bookmakers-only
    #[arg(long)]
    pub bookmakers_only: bool,
    #[command(flatten)]
    pub dry_run: DryRunArg,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DailyArgs {
    /// Only racecards. Example: --racecards-only
    #[arg(long, conflicts_with = "results_only")]
    pub racecards_only: bool,
    /// Only results. Example: --results-only
    #[arg(long)]
    pub results_only: bool,
    /// Racecards from tomorrow to today+N, 0 to 7 (the API publishes racecards at most 7 days ahead).
    /// Example: --days-ahead 3
    #[arg(
        long,
        value_name = "N",
        default_value_t = daily::DEFAULT_DAYS_AHEAD,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(daily::MAX_DAYS_AHEAD))
    )]
    pub days_ahead: u32,
    /// Results from yesterday back N days, 0 to 366 (longer history: `darkhorses backfill`).
    /// Example: --days-back 3
    #[arg(
        long,
        value_name = "N",
        default_value_t = daily::DEFAULT_DAYS_BACK,
        value_parser = clap::value_parser!(u32).range(0..=i64::from(daily::MAX_DAYS_BACK))
    )]
    pub days_back: u32,
    /// Weekly reconciliation: results for the last 7 days (catches amended results). Example: --weekly
    #[arg(long)]
    pub weekly: bool,
    #[command(flatten)]
    pub dry_run: DryRunArg,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LiveArgs {
    /// Only today's racecards. Example: --races-only
    #[arg(long, conflicts_with = "results_only")]
    pub races_only: bool,
    /// Only today's results. Example: --results-only
    #[arg(long)]
    pub results_only: bool,
    #[command(flatten)]
    pub dry_run: DryRunArg,
}

#[derive(Debug, Clone, Default, Args)]
pub struct BackfillArgs {
    /// First date (YYYY-MM-DD). Example: --from 2025-01-01
    #[arg(long, value_name = "DATE", conflicts_with = "months")]
    pub from: Option<chrono::NaiveDate>,
    /// Last date (YYYY-MM-DD), default yesterday. Example: --to 2025-03-31
    #[arg(long, value_name = "DATE")]
    pub to: Option<chrono::NaiveDate>,
    /// The last N months up to --to, 1 or more. Example: --months 12
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub months: Option<u32>,
    /// Only racecards. Example: --racecards-only
    #[arg(long, conflicts_with = "results_only")]
    pub racecards_only: bool,
    /// Only results. Example: --results-only
    #[arg(long)]
    pub results_only: bool,
    #[command(flatten)]
    pub dry_run: DryRunArg,
}

#[derive(Clone, Default, Args)]
pub struct RebuildArgs {
    /// First racing day to rebuild (YYYY-MM-DD); courses, regions and horse profiles are not
    /// dated and always rebuilt. Example: --from 2025-01-01
    #[arg(long, value_name = "DATE")]
    pub from: Option<chrono::NaiveDate>,
    /// Last racing day to rebuild (YYYY-MM-DD). Example: --to 2025-03-31
    #[arg(long, value_name = "DATE")]
    pub to: Option<chrono::NaiveDate>,
    /// The database whose raw responses are read (only read; default the database rebuilt),
    /// `sqlite:PATH` or a Postgres URL. Example: --source sqlite:darkhorses.db
    #[arg(long, value_name = "DATABASE_URL")]
    pub source: Option<String>,
    #[command(flatten)]
    pub dry_run: DryRunArg,
}

// By hand: `--source` may hold a password.
impl std::fmt::Debug for RebuildArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RebuildArgs")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("source", &self.source.as_ref().map(|_| "***"))
            .field("dry_run", &self.dry_run)
            .finish()
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct HealthArgs {
    /// Skip the API call (also `health_check.check_api: false`). Example: --offline
    #[arg(long)]
    pub offline: bool,
    /// Check only: send no alert and change no alert state. Example: --dry-run
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct QualityArgs {
    /// First racing day checked (YYYY-MM-DD; default: the last quality.window_days days, 30, today
    /// included). Example: --since 2026-01-01
    #[arg(long, value_name = "DATE")]
    pub since: Option<chrono::NaiveDate>,
    /// Draw the checked days month by month above the checks: R racecards and results, c racecards
    /// only, r results only, . blank day, ! gap. Example: --calendar
    #[arg(long)]
    pub calendar: bool,
    /// Open the database as a dry run does: never created, never migrated (the checks only read).
    /// Example: --dry-run
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct OrchestrateArgs {
    /// Run every enabled interval now (trigger force, no slot claimed). Example: --force-all
    #[arg(long, conflicts_with_all = ["update", "list", "simulate"])]
    pub force_all: bool,
    /// Run this one interval now (trigger force, no slot claimed). Example: --update daily_data
    #[arg(long, value_name = "NAME", conflicts_with_all = ["list", "simulate"])]
    pub update: Option<String>,
    /// Everything as a dry run: fetch, write no data, claim no slot. Example: --force-all --test
    #[arg(long, conflicts_with_all = ["list", "simulate"])]
    pub test: bool,
    /// Each interval: schedule, zone, last run and status, next slot. Example: --list
    #[arg(long, conflicts_with = "simulate")]
    pub list: bool,
    /// Which slots would run when, for which job, between --from and --to; nothing is run.
    /// Example: --simulate --from 2026-03-28T00:00:00Z --to 2026-03-30T00:00:00Z
    #[arg(long, requires_all = ["from", "to"])]
    pub simulate: bool,
    /// Keep running: sleep until the next slot of any interval, run what is due as one-shot mode
    /// does, serve /livez and /metrics on health_check.bind:port (127.0.0.1:9187), stop on SIGTERM or Ctrl-C.
    /// Example: --daemon
    #[arg(long, conflicts_with_all = ["force_all", "update", "list", "simulate"])]
    pub daemon: bool,
    /// Start of the --simulate window (RFC 3339, exclusive). Example: --from 2026-03-28T00:00:00Z
    #[arg(long, value_name = "INSTANT", requires = "simulate")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of the --simulate window (RFC 3339, inclusive). Example: --to 2026-03-30T00:00:00Z
    #[arg(long, value_name = "INSTANT", requires = "simulate")]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct StatusArgs {
    /// Also write the status page to this file: one self-contained HTML file (no script, no
    /// external asset). Example: --html target/status.html
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// A 5-field cron expression. Example: '*/15 9-20 * * *'
    #[arg(value_name = "EXPR", required_unless_present = "job", conflicts_with = "job")]
    pub expr: Option<String>,
    /// A configured job (an `intervals` entry) instead of an expression. Example: --job live_data
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// IANA time zone the expression is read in (default UTC). With --job, the zone the job's times are
    /// shown in (the job still fires in its own intervals.<name>.timezone). Example: --tz Europe/London
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Start after this instant (RFC 3339; default now). Example: --after 2026-03-28T00:00:00Z
    #[arg(long, value_name = "INSTANT")]
    pub after: Option<String>,
    /// How many fire times to print. Example: --count 10
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub count: usize,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (safe to run from several hosts at once).
    #[command(after_help = "Example:\n  DATABASE_URL=postgres://user@host/db darkhorses db migrate")]
    Migrate,
    /// List applied and pending migrations.
    #[command(after_help = "Example:\n  darkhorses db status")]
    Status,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with the origin of every value (secrets as ***).
    #[command(
        after_help = "Examples:\n  darkhorses config show\n  DARKHORSES_API_RATE_LIMIT=0.5 darkhorses config show --json"
    )]
    Show,
    /// Validate the configuration offline; exit 0 when valid, 2 when not.
    #[command(after_help = "Example:\n  darkhorses --config config/darkhorses.yaml config check")]
    Check,
}

#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one and prints it). Example: --port 8787
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Seed of the generated data (same seed, same data). Example: --seed 7
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Requests per second allowed before answering 429. Example: --rate-limit 2
    #[arg(long, value_name = "R")]
    pub rate_limit: Option<f64>,
    /// Faults to inject, as shares. Example: --fault 5xx=0.2,429=0.1,slow=0.05,malformed=0.02,truncated=0.01,dropped=0.01
    #[arg(long, value_name = "SPEC")]
    pub fault: Option<String>,
    /// Accept only this username (default: any non-empty). Example: --username demo
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,
    /// Accept only this password (default: any non-empty). Example: --password demo
    #[arg(long, value_name = "SECRET")]
    pub password: Option<String>,
    /// The plan to enforce: free, basic, standard or pro. Example: --plan standard
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for. Example: bash
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// A command to document on a page of its own (darkhorses-COMMAND(1)); without one, the main
    /// page, which lists every command. Example: orchestrate
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// The completion script for `shell`, from the command tree the binary parses.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "darkhorses", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// The man page (roff) of darkhorses, or of one of its commands as `darkhorses-COMMAND(1)`.
pub fn man_page(name: Option<&str>) -> crate::Result<String> {
    let mut command = Cli::command();
    command.build();
    let page = match name {
        None => clap_mangen::Man::new(command),
        Some(name) => {
            let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).filter(|n| *n != "help").collect();
            let Some(sub) = command.find_subcommand(name).filter(|_| name != "help").cloned() else {
                return Err(crate::Error::Usage(format!(
                    "no command {name:?} to write a man page for: one of {}",
                    names.join(", ")
                )));
            };
            // Built from the root, it already has its display name (`darkhorses-daily`) and
            // binary name (`darkhorses daily`).
            clap_mangen::Man::new(sub).source(format!("darkhorses {}", env!("CARGO_PKG_VERSION")))
        }
    };
    let mut roff = Vec::new();
    page.render(&mut roff).map_err(|e| crate::Error::io("rendering the man page", e))?;
    Ok(String::from_utf8_lossy(&roff).into_owned())
}

impl From<ReferenceArgs> for ReferenceOptions {
    fn from(a: ReferenceArgs) -> Self {
        Self { courses_only: a.courses_only, bookmakers_only: a.bookmakers_only, dry_run: a.dry_run.dry_run }
    }
}

impl From<DailyArgs> for DailyOptions {
    fn from(a: DailyArgs) -> Self {
        Self {
            racecards_only: a.racecards_only,
            results_only: a.results_only,
            days_ahead: a.days_ahead,
            days_back: a.days_back,
            weekly: a.weekly,
            dry_run: a.dry_run.dry_run,
        }
    }
}

impl From<LiveArgs> for LiveOptions {
    fn from(a: LiveArgs) -> Self {
        Self { races_only: a.races_only, results_only: a.results_only, dry_run: a.dry_run.dry_run }
    }
}

impl From<BackfillArgs> for BackfillOptions {
    fn from(a: BackfillArgs) -> Self {
        Self {
            days: FromTo { from: a.from, to: a.to },
            months: a.months,
            racecards_only: a.racecards_only,
            results_only: a.results_only,
            dry_run: a.dry_run.dry_run,
        }
    }
}

impl From<RebuildArgs> for RebuildOptions {
    fn from(a: RebuildArgs) -> Self {
        let source = a.source.map(crate::config::Secret::new);
        Self { days: FromTo { from: a.from, to: a.to }, source, dry_run: a.dry_run.dry_run }
    }
}

impl FromArgs for RebuildOptions {
    fn from_args(args: &[String]) -> crate::Result<Self> {
        job_options::<RebuildArgs, _>(Rebuild::NAME, args)
    }
}

impl From<HealthArgs> for HealthOptions {
    fn from(a: HealthArgs) -> Self {
        Self { offline: a.offline, dry_run: a.dry_run }
    }
}

impl FromArgs for HealthOptions {
    fn from_args(args: &[String]) -> crate::Result<Self> {
        job_options::<HealthArgs, _>(Health::NAME, args)
    }
}

impl From<QualityArgs> for QualityOptions {
    fn from(a: QualityArgs) -> Self {
        Self { since: a.since, calendar: a.calendar, dry_run: a.dry_run }
    }
}

impl FromArgs for QualityOptions {
    fn from_args(args: &[String]) -> crate::Result<Self> {
        job_options::<QualityArgs, _>(Quality::NAME, args)
    }
}

impl FromArgs for ReferenceOptions {
    fn from_args(args: &[String]) -> crate::Result<Self> {
        job_options::<ReferenceArgs, _>(Reference::NAME, args)
    }
}

impl FromArgs for DailyOptions {
    fn from_args(args: &[String]) -> crate::Result<Self> {
        job_options::<DailyArgs, _>(Daily::NAME, args)
    }
}

impl FromArgs for LiveOptions {
    fn from_args(args: &[String]) -> crate::Result<Self> {
        job_options::<LiveArgs, _>(Live::NAME, args)
    }
}

impl FromArgs for BackfillOptions {
    fn from_args(args: &[String]) -> crate::Result<Self> {
        job_options::<BackfillArgs, _>(Backfill::NAME, args)
    }
}

/// A job's options from its arguments in command-line form (`["--weekly"]`), parsed by the same
/// flag definitions as `darkhorses <job>`: defaults, ranges and conflicts alike. Only the job's
/// own flags are known here (no global flag, no `--help`).
fn job_options<A, O>(job: &'static str, args: &[String]) -> crate::Result<O>
where
    A: Args + clap::FromArgMatches + Into<O>,
{
    let command = A::augment_args(clap::Command::new(job).no_binary_name(true).disable_help_flag(true));
    let usage = |message: String| crate::Error::Usage(format!("arguments {args:?} for job {job}: {message}"));
    let matches = command.try_get_matches_from(args).map_err(|e| usage(one_line(&e)))?;
    A::from_arg_matches(&matches).map(Into::into).map_err(|e| usage(one_line(&e)))
}

/// A clap error as one line: its message and any tip, without the usage block (config errors
/// are one line, naming the key and file).
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        parts.push(line.strip_prefix("error: ").unwrap_or(line));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn job_subcommands_are_the_registered_jobs() {
        let command = JobCommand::augment_subcommands(clap::Command::new("darkhorses"));
        let subcommands: Vec<(String, String)> = command
            .get_subcommands()
            .map(|c| (c.get_name().to_string(), c.get_about().map(ToString::to_string).unwrap_or_default()))
            .collect();
        let registered: Vec<(String, String)> =
            crate::jobs::registry().iter().map(|s| (s.name.to_string(), s.about.to_string())).collect();
        assert_eq!(subcommands, registered);
    }

    /// `darkhorses <job> <args>` parsed as the binary parses it: the job's subcommand, or clap's error.
    fn command_line(job: &str, args: &[&str]) -> Result<JobCommand, String> {
        let argv = ["darkhorses", job].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv) {
            Ok(Cli { command: Command::Job(command), .. }) => Ok(command),
            Ok(other) => Err(format!("not a job: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The same words as an interval's `args` give the same options as on the command line, or
    /// both are refused (the interval's error naming the job).
    fn assert_same<O: FromArgs + PartialEq + Debug>(job: &str, args: &[&str], cli: Result<O, String>) -> Option<O> {
        let words: Vec<String> = args.iter().map(ToString::to_string).collect();
        match (cli, O::from_args(&words)) {
            (Ok(cli), Ok(interval)) => {
                assert_eq!(cli, interval, "{job} {args:?}");
                Some(interval)
            }
            (Err(_), Err(e)) => {
                let message = e.to_string();
                assert!(message.contains(&format!("for job {job}:")), "{job} {args:?}: {message}");
                assert_eq!(message.lines().count(), 1, "{message}");
                None
            }
            (cli, interval) => panic!("{job} {args:?}: command line {cli:?}, interval {interval:?}"),
        }
    }

    #[test]
    fn command_line_and_interval_args_give_equal_options() {
        // (job, args, accepted)
        let cases: &[(&str, &[&str], bool)] = &[
            ("reference", &[], true),
            ("reference", &["--courses-only"], true),
            ("reference", &["--bookmakers-only", "--dry-run"], true),
            ("reference", &["--courses-only", "--bookmakers-only"], false),
            ("reference", &["--days-ahead", "3"], false),
            ("daily", &[], true),
            ("daily", &["--days-ahead", "3"], true),
            ("daily", &["--days-ahead=3", "--days-back", "366"], true),
            ("daily", &["--days-ahead", "8"], false),
            ("daily", &["--days-back", "367"], false),
            ("daily", &["--days-ahead", "-1"], false),
            ("daily", &["--days-ahead"], false),
            ("daily", &["--weekly", "--dry-run"], true),
            ("daily", &["--racecards-only", "--results-only"], false),
            ("daily", &["--bogus"], false),
            ("live", &[], true),
            ("live", &["--races-only"], true),
            ("live", &["--results-only", "--dry-run"], true),
            ("live", &["--races-only", "--results-only"], false),
            ("backfill", &[], true),
            ("backfill", &["--months", "12"], true),
            ("backfill", &["--from", "2025-01-01", "--to", "2025-03-31", "--results-only"], true),
            ("backfill", &["--from", "2025-01-01", "--months", "3"], false),
            ("backfill", &["--months", "0"], false),
            ("backfill", &["--from", "2025-13-01"], false),
            ("rebuild", &[], true),
            ("rebuild", &["--from", "2025-01-01", "--to", "2025-03-31", "--source", "sqlite:a.db"], true),
            ("rebuild", &["--dry-run"], true),
            ("rebuild", &["--from", "yesterday"], false),
            ("rebuild", &["--months", "1"], false),
            ("health", &[], true),
            ("health", &["--offline"], true),
            ("health", &["--offline", "--dry-run"], true),
            ("health", &["--days-ahead", "1"], false),
            ("quality", &[], true),
            ("quality", &["--since", "2026-01-01", "--calendar"], true),
            ("quality", &["--dry-run"], true),
            ("quality", &["--since", "yesterday"], false),
            ("quality", &["--days-back", "3"], false),
        ];
        for &(job, args, accepted) in cases {
            let cli = command_line(job, args);
            let parsed = match job {
                "reference" => assert_same::<ReferenceOptions>(
                    job,
                    args,
                    cli.and_then(
                        |c| if let JobCommand::Reference(a) = c { Ok(a.into()) } else { Err(format!("{c:?}")) },
                    ),
                )
                .is_some(),
                "daily" => assert_same::<DailyOptions>(
                    job,
                    args,
                    cli.and_then(|c| if let JobCommand::Daily(a) = c { Ok(a.into()) } else { Err(format!("{c:?}")) }),
                )
                .is_some(),
                "live" => assert_same::<LiveOptions>(
                    job,
                    args,
                    cli.and_then(|c| if let JobCommand::Live(a) = c { Ok(a.into()) } else { Err(format!("{c:?}")) }),
                )
                .is_some(),
                "backfill" => assert_same::<BackfillOptions>(
                    job,
                    args,
                    cli.and_then(
                        |c| if let JobCommand::Backfill(a) = c { Ok(a.into()) } else { Err(format!("{c:?}")) },
                    ),
                )
                .is_some(),
                "rebuild" => assert_same::<RebuildOptions>(
                    job,
                    args,
                    cli.and_then(|c| if let JobCommand::Rebuild(a) = c { Ok(a.into()) } else { Err(format!("{c:?}")) }),
                )
                .is_some(),
                "health" => assert_same::<HealthOptions>(
                    job,
                    args,
                    cli.and_then(|c| if let JobCommand::Health(a) = c { Ok(a.into()) } else { Err(format!("{c:?}")) }),
                )
                .is_some(),
                "quality" => assert_same::<QualityOptions>(
                    job,
                    args,
                    cli.and_then(|c| if let JobCommand::Quality(a) = c { Ok(a.into()) } else { Err(format!("{c:?}")) }),
                )
                .is_some(),
                other => panic!("no case for job {other}"),
            };
            assert_eq!(parsed, accepted, "{job} {args:?}");
        }
        let covered: std::collections::BTreeSet<&str> = cases.iter().map(|(job, _, _)| *job).collect();
        let registered: std::collections::BTreeSet<&str> = crate::jobs::names().into_iter().collect();
        assert_eq!(covered, registered);
    }

    #[test]
    fn interval_args_fill_the_options_a_job_runs_with() {
        let words = |args: &[&str]| args.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(DailyOptions::from_args(&[]).ok(), Some(DailyOptions::default()));
        let daily = DailyOptions::from_args(&words(&["--days-ahead", "3", "--weekly"])).ok();
        assert_eq!(
            daily,
            Some(DailyOptions {
                days_ahead: 3,
                days_back: daily::DEFAULT_DAYS_BACK,
                weekly: true,
                ..Default::default()
            })
        );
        let backfill = BackfillOptions::from_args(&words(&["--months", "12", "--racecards-only"])).ok();
        assert_eq!(backfill, Some(BackfillOptions { months: Some(12), racecards_only: true, ..Default::default() }));
        let live = LiveOptions::from_args(&words(&["--dry-run"])).ok();
        assert_eq!(live, Some(LiveOptions { dry_run: true, ..Default::default() }));
    }

    #[test]
    fn interval_args_take_only_the_jobs_own_flags() {
        for args in [&["--json"][..], &["--sandbox"], &["-v"], &["--config", "x.yaml"], &["--help"], &["daily"]] {
            let words: Vec<String> = args.iter().map(ToString::to_string).collect();
            match DailyOptions::from_args(&words) {
                Ok(options) => panic!("{args:?} accepted as {options:?}"),
                Err(e) => assert!(e.to_string().starts_with(&format!("arguments {words:?} for job daily: ")), "{e}"),
            }
        }
    }
}
