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
    flags
}

fn run(cli: Cli) -> Result<Outcome> {
    let opts = LoadOptions { path: cli.global.config.clone(), flags: flag_overrides(&cli) };
    let loaded = crate::config::load(&opts)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    runtime.block_on(dispatch(cli, loaded))
}

async fn dispatch(cli: Cli, loaded: crate::config::Loaded) -> Result<Outcome> {
    match cli.command {
        Command::Config(ConfigCommand::Show) | Command::Config(ConfigCommand::Check) => {
            let _ = loaded;
            Err(Error::Usage("config show/check are being built (issue 2)".into()))
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
                let at = m
                    .applied_at
                    .map_or_else(|| "pending".to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                println!("{:<8} {:<32} {at}", format!("{:04}", m.version), m.name);
            }
            let pending = states.iter().filter(|m| m.applied_at.is_none()).count();
            println!("{} applied, {pending} pending", states.len() - pending);
            Ok(Outcome::Success)
        }
        Command::Schedule(_) => Err(Error::Usage("schedule is being built (issue 2)".into())),
        Command::Sandbox(_) => Err(Error::Usage("sandbox is being built (issue 3)".into())),
        Command::Reference(_) | Command::Daily(_) | Command::Live(_) | Command::Backfill(_) => {
            Err(Error::Usage("jobs are being built (issue 5)".into()))
        }
    }
}
