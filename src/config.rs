//! The one typed configuration tree and the one function that loads it.
//!
//! Precedence: built-in defaults < YAML file < environment < command-line flags. Only this module
//! reads the environment. Defaults live in the `defaults` consts.
//!
//! `load` reads the YAML file with positions (`yaml`), overlays the layers onto a JSON tree of the
//! defaults, recording where every leaf came from (`layer`), then deserializes the tree into
//! `Config` and validates it (`validate`). `render` prints it for `config show` and `config check`.
//!
//! The files under `config/`, one concern each: `types` and `operations` (the typed tree),
//! `secret`, `defaults`, `error`, `load` (the loader and origins), `layer` (the tree of layers),
//! `typed` (a value typed by the default it replaces), `overlay` (the YAML file onto the tree),
//! `env` (variables: names, resolution, "did you mean"), `compat` (the seed-era names),
//! `validate`, `yaml`, `render`.

mod compat;
pub mod defaults;
mod env;
mod error;
mod layer;
mod load;
mod operations;
mod overlay;
mod render;
mod secret;
#[cfg(test)]
mod testing;
mod typed;
mod types;
mod validate;
mod yaml;

pub use compat::{ACCEPTED, Accepted};
pub use env::{PLAIN_ENV, env_name};
pub use error::Error;
pub use load::{DEFAULT_FILE, FlagOverride, LoadOptions, Loaded, Origin, load, load_from};
pub use operations::{
    AlertThresholds, AlertsConfig, CheckRule, FaultsConfig, FeaturesConfig, HealthCheckConfig, LocksConfig, LogFormat,
    LoggingConfig, OrchestratorConfig, QualityConfig, SandboxConfig, SmtpConfig, SmtpTls, default_lock_dir,
};
pub use render::{check_json, check_line, redact_url, show_human, show_json};
pub use secret::Secret;
pub use types::{ApiConfig, Config, DatabaseConfig, IntervalConfig, MisfirePolicy, Plan, ResultsHistory, RetryConfig};
