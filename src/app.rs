//! Dispatch: one `match` from a parsed command line to library calls, and the outcome.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ConfigCommand, DbCommand, LogFormatArg};
use crate::config::{FlagOverride, LoadOptions};
use crate::error::{Error, Outcome, Result, exit_code};

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
            let clock: std::sync::Arc<dyn crate::clock::Clock> = match cli.global.now {
                Some(at) => std::sync::Arc::new(crate::clock::FixedClock::new(at)),
                None => std::sync::Arc::new(crate::clock::SystemClock),
            };
            crate::sandbox::serve_foreground(&args, loaded.config.sandbox.clone(), clock).await?;
            Ok(Outcome::Success)
        }
        Command::Reference(_) | Command::Daily(_) | Command::Live(_) | Command::Backfill(_) => {
            Err(Error::Usage("jobs are being built (issue 5)".into()))
        }
    }
}
