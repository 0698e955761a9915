//! `load`: defaults < YAML file < environment < flags into one `Config`, with where every value
//! came from (`Origin`) and the warnings to log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layer::{self, Layers};
use super::validate::{check_supabase, validate};
use super::{Config, Error, default_lock_dir, yaml};

/// The file read when `--config` is not given, if it exists (relative to the working directory).
pub const DEFAULT_FILE: &str = "config/darkhorses.yaml";

/// Where a value of the effective configuration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    Default,
    File { path: PathBuf, line: usize },
    Env { var: String },
    Flag { flag: String },
}

/// A command-line flag that sets a config key (applied last).
#[derive(Debug, Clone, PartialEq)]
pub struct FlagOverride {
    /// Dotted key path: `api.rate_limit`.
    pub key: String,
    pub value: serde_json::Value,
    /// The flag as typed: `--log-format`.
    pub flag: String,
}

/// What `load` needs from the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// `--config PATH`: must exist. `None`: `config/darkhorses.yaml` when present.
    pub path: Option<PathBuf>,
    pub flags: Vec<FlagOverride>,
}

/// The effective configuration, where each value came from, and warnings to log.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Dotted key path to origin, for every leaf value.
    pub origins: BTreeMap<String, Origin>,
    pub warnings: Vec<String>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

impl std::fmt::Display for Origin {
    /// As `config show` prints it: `default`, `config/darkhorses.yaml:14`, `env X`, `flag --x`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env { var } => write!(f, "env {var}"),
            Origin::Flag { flag } => write!(f, "flag {flag}"),
        }
    }
}

/// Load the configuration: defaults < YAML file < environment < flags. The one function that does,
/// and the one place the process environment is read.
pub fn load(opts: &LoadOptions) -> Result<Loaded, Error> {
    // The one place the process environment is read (clippy.toml bans it elsewhere).
    #[allow(clippy::disallowed_methods)]
    let env: BTreeMap<String, String> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let file = match &opts.path {
        Some(path) => Some(read_file(path)?),
        None => {
            let path = PathBuf::from(DEFAULT_FILE);
            if path.is_file() { Some(read_file(&path)?) } else { None }
        }
    };
    load_from(file.as_ref().map(|(p, text)| (p.as_path(), text.as_str())), &env, &opts.flags)
}

fn read_file(path: &Path) -> Result<(PathBuf, String), Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((path.to_path_buf(), text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Missing { path: path.to_path_buf() }),
        Err(source) => Err(Error::Read { path: path.to_path_buf(), source }),
    }
}

/// `load` without the process: the file's path and text, an environment snapshot and the flags.
pub fn load_from(
    file: Option<(&Path, &str)>,
    env: &BTreeMap<String, String>,
    flags: &[FlagOverride],
) -> Result<Loaded, Error> {
    let mut layers = Layers::defaults()?;
    if let Some((path, text)) = file {
        let root = yaml::parse(text).map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            line: e.line,
            column: e.col,
            message: e.message,
        })?;
        if let Some(root) = root {
            layers.apply_file(&root, path)?;
        }
    }
    layers.apply_env(env)?;
    layers.apply_flags(flags)?;
    layers.resolve_accepted();
    let mut config: Config = serde_path_to_error::deserialize(layers.tree.clone()).map_err(|e| {
        let key = e.path().to_string();
        Error::InvalidValue { place: layers.place_of(&key), key, message: e.inner().to_string() }
    })?;
    // The built-in lock directory depends on who runs us: resolved here, from the same snapshot
    // of the environment as every other value.
    if config.locks.dir.as_os_str().is_empty() || layers.origins.get("locks.dir") == Some(&Origin::Default) {
        config.locks.dir = default_lock_dir(env);
    }
    validate(&config, &layers)?;
    check_supabase(&config, env)?;
    let mut paths = Vec::new();
    layer::leaves(&layers.tree, "", &mut paths);
    let origins = paths
        .into_iter()
        .map(|p| {
            let origin = layers.origins.get(&p).cloned().unwrap_or(Origin::Default);
            (p, origin)
        })
        .collect();
    Ok(Loaded { config, origins, warnings: layers.warnings, file: file.map(|(p, _)| p.to_path_buf()) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::super::LogFormat;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn defaults_alone_give_the_default_tree_with_an_origin_for_every_leaf() {
        let loaded = from_env(&[]).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.file.is_none());
        assert!(loaded.warnings.is_empty());
        assert!(loaded.origins.values().all(|o| *o == Origin::Default));
        for key in [
            "api.rate_limit",
            "intervals.live_data.timeout",
            "alerts.thresholds.stale_data_hours",
            "sandbox.faults.5xx",
        ] {
            assert!(loaded.origins.contains_key(key), "{key}");
        }
    }

    #[test]
    fn shipped_file_equals_the_defaults_and_lists_every_key() {
        let loaded = load_from(Some((Path::new(DEFAULT_FILE), SHIPPED)), &BTreeMap::new(), &[]).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let missing: Vec<&String> =
            loaded.origins.iter().filter(|(_, o)| !matches!(o, Origin::File { .. })).map(|(k, _)| k).collect();
        assert!(missing.is_empty(), "keys missing from {DEFAULT_FILE}: {missing:?}");
    }

    #[test]
    fn shipped_file_comments_every_key() {
        for (i, line) in SHIPPED.lines().enumerate() {
            let trimmed = line.trim();
            let is_leaf = !trimmed.starts_with('#') && !trimmed.is_empty() && !trimmed.ends_with(':');
            assert!(!is_leaf || line.contains(" # "), "line {} has no comment: {line}", i + 1);
        }
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let message = err(from_yaml("api:\n  rate_limit: [1, 2\ndatabase: {\n"));
        assert!(message.starts_with("YAML syntax error in x.yaml:"), "{message}");
        let message = err(from_yaml("api:\n  rate_limit: 1\n bad: 2\n"));
        assert!(message.contains("x.yaml:3:"), "{message}");
    }

    #[test]
    fn out_of_range_and_unknown_variants_name_the_key_and_line() {
        let message = err(from_yaml("sandbox:\n  port: 70000\n"));
        assert!(message.starts_with("sandbox.port in x.yaml:2 is invalid:"), "{message}");
        let message = err(from_yaml("api:\n  plan: gold\n"));
        assert!(message.starts_with("api.plan in x.yaml:2 is invalid: unknown variant `gold`"), "{message}");
    }

    #[test]
    fn environment_beats_the_file_and_flags_beat_both() {
        let flags = [FlagOverride { key: "logging.format".into(), value: "json".into(), flag: "--log-format".into() }];
        let file = "logging:\n  format: human\n  level: debug\napi:\n  rate_limit: 1.5\n";
        let loaded = load_from(
            Some((Path::new("x.yaml"), file)),
            &env(&[("DARKHORSES_LOGGING_FORMAT", "human"), ("DARKHORSES_API_RATE_LIMIT", "0.5")]),
            &flags,
        )
        .unwrap();
        assert_eq!(loaded.config.logging.format, LogFormat::Json);
        assert_eq!(loaded.origins["logging.format"], Origin::Flag { flag: "--log-format".into() });
        assert_eq!(loaded.config.api.rate_limit, 0.5);
        assert_eq!(loaded.config.logging.level, "debug");
        assert_eq!(loaded.origins["logging.level"], file_origin(3));
    }

    #[test]
    fn missing_named_file_is_an_error_naming_it() {
        let opts = LoadOptions { path: Some("/nonexistent/dh.yaml".into()), flags: Vec::new() };
        let message = load(&opts).map(|_| ()).unwrap_err().to_string();
        assert!(message.starts_with("config file /nonexistent/dh.yaml not found"), "{message}");
    }

    #[test]
    fn mangled_files_give_errors_not_panics() {
        // Deterministic mutations of the shipped file: every one loads or fails with a one-line error.
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet: Vec<char> = " \t\n:-[]{}#&*!|>'\"%@`,?0123456789abc".chars().collect();
        for _ in 0..1000 {
            let mut chars: Vec<char> = SHIPPED.chars().collect();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..chars.len());
                match rng.u8(..3) {
                    0 => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, alphabet[rng.usize(..alphabet.len())]),
                    _ => chars[at] = alphabet[rng.usize(..alphabet.len())],
                }
            }
            let text: String = chars.into_iter().collect();
            if let Err(e) = load_from(Some((Path::new("x.yaml"), &text)), &BTreeMap::new(), &[]) {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
}
