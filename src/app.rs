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
        Command::Db(DbCommand::Migrate) | Command::Db(DbCommand::Status) => {
            Err(Error::Usage("db is being built (issue 4)".into()))
        }
        Command::Schedule(args) => {
            let now = cli.global.now.unwrap_or_else(chrono::Utc::now);
            print!("{}", crate::schedule::preview(&args, &loaded.config, now)?);
            Ok(Outcome::Success)
        }
        Command::Sandbox(_) => Err(Error::Usage("sandbox is being built (issue 3)".into())),
        Command::Reference(_) | Command::Daily(_) | Command::Live(_) | Command::Backfill(_) => {
            Err(Error::Usage("jobs are being built (issue 5)".into()))
        }
    }
}
