//! Environment variables: the names that set each key (`DARKHORSES_*`, `env_name`, and the plain
//! names of `PLAIN_ENV`), resolving a name to its key, and "did you mean" for names that set none.

use std::collections::BTreeMap;

use serde_json::Value;

use super::compat::{self, Given};
use super::layer::{Layers, join, leaves, open_map_template, set};
use super::typed::from_text;
use super::{Error, Origin};

/// Environment variables of other names that set one key (applied before `DARKHORSES_*`, which win).
pub const PLAIN_ENV: [(&str, &str); 4] = [
    ("RACING_API_USERNAME", "api.username"),
    ("RACING_API_PASSWORD", "api.password"),
    ("DATABASE_URL", "database.url"),
    ("LOG_LEVEL", "logging.level"),
];

/// Keys an empty `DARKHORSES_*` variable may not fall back from: the default would put the data
/// somewhere the user did not ask for.
const REQUIRED_IF_SET: [&str; 1] = ["database.schema"];

/// Prefix of the variables that set any key.
pub const ENV_PREFIX: &str = "DARKHORSES_";

/// `DARKHORSES_*` variables that are not configuration (read by the test suite) and are not warned about.
const NON_CONFIG_ENV_PREFIX: &str = "DARKHORSES_TEST_";

/// Edit distance between two strings, for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidate nearest to `wanted`, when it is near enough to be what was meant.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&wanted_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(wanted.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The canonical variable name for a key: `DARKHORSES_API_RATE_LIMIT`, `DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT`.
pub fn env_name(path: &str) -> String {
    let segments: Vec<&str> = path.split('.').collect();
    let body = if segments.len() == 2 { segments.join("_") } else { segments.join("__") };
    format!("{ENV_PREFIX}{}", body.to_ascii_uppercase())
}

impl Layers {
    /// Overlay environment variables (a snapshot: this function never reads the process).
    pub fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), Error> {
        for (var, key) in PLAIN_ENV {
            if let Some(text) = env.get(var).filter(|v| !v.is_empty()) {
                self.set_text(key, text, var)?;
            }
        }
        for (var, text) in env {
            if !var.starts_with(ENV_PREFIX) || var.starts_with(NON_CONFIG_ENV_PREFIX) {
                continue;
            }
            if text.is_empty() {
                self.empty_variable(var)?;
                continue;
            }
            // A seed-era name that is no key of the tree (`compat::ACCEPTED`).
            if let Some(accepted) = compat::by_env(var) {
                let origin = Origin::Env { var: var.clone() };
                let value = compat::from_text(accepted, text, &origin)?;
                self.given.push(Given { key: accepted.key, value, origin });
                continue;
            }
            match self.env_key(var) {
                Some(key) => self.set_text(&key, text, var)?,
                None => {
                    let mut paths = Vec::new();
                    leaves(&self.tree, "", &mut paths);
                    let names: Vec<String> = paths.iter().map(|p| env_name(p)).collect();
                    let hint = match nearest(var, names.iter().map(String::as_str)) {
                        Some(name) => format!("; did you mean {name}?"),
                        None => "; see `darkhorses config show` for the keys".to_string(),
                    };
                    self.warnings.push(format!("environment variable {var} names no config key and is ignored{hint}"));
                }
            }
        }
        Ok(())
    }

    /// A `DARKHORSES_*` variable set to the empty string (often a deploy template's unset value).
    /// It is ignored, with a warning naming it, except where falling back would quietly write
    /// somewhere else: an empty schema would mean `public`, so that is an error.
    fn empty_variable(&mut self, var: &str) -> Result<(), Error> {
        if let Some(accepted) = compat::by_env(var) {
            self.warnings.push(format!(
                "environment variable {var} is set but empty and is ignored ({} is not set)",
                accepted.key
            ));
            return Ok(());
        }
        let Some(key) = self.env_key(var) else { return Ok(()) };
        if REQUIRED_IF_SET.contains(&key.as_str()) {
            return Err(Error::InvalidValue {
                key,
                place: format!("from environment variable {var}"),
                message: "is set but empty: give a value, or unset the variable to use the default".into(),
            });
        }
        self.warnings.push(format!(
            "environment variable {var} is set but empty and is ignored ({key} keeps its {} value)",
            match self.origins.get(&key) {
                Some(Origin::File { .. }) => "file",
                _ => "default",
            }
        ));
        Ok(())
    }

    /// Set a leaf from an environment variable's text.
    fn set_text(&mut self, key: &str, text: &str, var: &str) -> Result<(), Error> {
        let template = self.template_for(key).unwrap_or(Value::Null);
        let value = from_text(&template, text, key).map_err(|m| Error::WrongType {
            key: m.key,
            place: format!("from environment variable {var}"),
            expected: m.expected,
            found: m.found,
        })?;
        set(&mut self.tree, key, value);
        self.origins.insert(key.to_string(), Origin::Env { var: var.to_string() });
        Ok(())
    }

    /// The leaf a `DARKHORSES_*` variable names, if any. `__` separates keys; a single `_` may
    /// separate keys too (`DARKHORSES_API_RATE_LIMIT`: section `api`, key `rate_limit`), matched
    /// against the keys that exist, case-insensitively.
    pub fn env_key(&self, var: &str) -> Option<String> {
        let body = var.get(ENV_PREFIX.len()..)?.to_ascii_lowercase();
        let chunks: Vec<String> = body.split("__").map(str::to_string).collect();
        if chunks.iter().any(String::is_empty) {
            return None;
        }
        resolve(&self.tree, "", &chunks)
    }
}

/// Walk `chunks` down the tree. Each chunk is one key, or several joined by `_`.
fn resolve(node: &Value, path: &str, chunks: &[String]) -> Option<String> {
    let Some((chunk, rest)) = chunks.split_first() else {
        return (!node.is_object()).then(|| path.to_string());
    };
    let map = node.as_object()?;
    for (key, child) in map {
        let lower = key.to_ascii_lowercase();
        if *chunk == lower {
            if let Some(found) = resolve(child, &join(path, key), rest) {
                return Some(found);
            }
        } else if let Some(tail) = chunk.strip_prefix(&format!("{lower}_")) {
            let mut next = vec![tail.to_string()];
            next.extend_from_slice(rest);
            if let Some(found) = resolve(child, &join(path, key), &next) {
                return Some(found);
            }
        }
    }
    // A new entry of an open map of plain values (`logging.retention_days.<name>`).
    match open_map_template(path) {
        Some(template) if !template.is_object() && rest.is_empty() => Some(join(path, chunk)),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use std::path::Path;

    use super::super::layer::get;
    use super::super::testing::*;
    use super::super::{Config, defaults};
    use super::*;

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("rate_limt", "rate_limit"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_ignores_far_candidates() {
        assert_eq!(nearest("api.rate_limt", ["api.rate_limit", "api.timeout"]), Some("api.rate_limit"));
        assert_eq!(nearest("zzzzzzzz", ["api.rate_limit", "api.timeout"]), None);
    }

    #[test]
    fn env_names_are_canonical() {
        assert_eq!(env_name("api.rate_limit"), "DARKHORSES_API_RATE_LIMIT");
        assert_eq!(env_name("intervals.live_data.timeout"), "DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT");
    }

    #[test]
    fn env_names_resolve_to_keys() {
        let layers = Layers::defaults().unwrap();
        let key = |var: &str| layers.env_key(var);
        assert_eq!(key("DARKHORSES_API_RATE_LIMIT").as_deref(), Some("api.rate_limit"));
        assert_eq!(key("DARKHORSES_LOGGING_LEVEL").as_deref(), Some("logging.level"));
        assert_eq!(key("DARKHORSES_DATABASE_BATCH_SIZE"), None, "accepted (compat), but no key of the tree");
        assert_eq!(key("DARKHORSES_ALERTS_ENABLED").as_deref(), Some("alerts.enabled"));
        assert_eq!(key("DARKHORSES_FEATURES_DRY_RUN").as_deref(), Some("features.dry_run"));
        assert_eq!(key("DARKHORSES_HEALTH_CHECK_STUCK_AFTER").as_deref(), Some("health_check.stuck_after"));
        assert_eq!(key("DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT").as_deref(), Some("intervals.live_data.timeout"));
        assert_eq!(
            key("DARKHORSES_ALERTS__THRESHOLDS__STALE_DATA_HOURS").as_deref(),
            Some("alerts.thresholds.stale_data_hours")
        );
        assert_eq!(key("darkhorses_api_rate_limit".to_ascii_uppercase().as_str()).as_deref(), Some("api.rate_limit"));
        assert_eq!(key("DARKHORSES_SANDBOX__FAULTS__5XX").as_deref(), Some("sandbox.faults.5xx"));
        assert_eq!(
            key("DARKHORSES_LOGGING__RETENTION_DAYS__DAILY_UPDATE").as_deref(),
            Some("logging.retention_days.daily_update")
        );
        assert_eq!(key("DARKHORSES_API_RATE_LIMT"), None);
        assert_eq!(key("DARKHORSES_API"), None, "a section is not a value");
        assert_eq!(key("DARKHORSES_INTERVALS__NO_SUCH_JOB__TIMEOUT"), None);
        assert_eq!(key("DARKHORSES_API__"), None);
    }

    #[test]
    fn lists_emptied_by_the_file_still_type_their_elements() {
        let mut layers = Layers::defaults().unwrap();
        let root = super::super::yaml::parse("retry:\n  retry_status_codes: []\nintervals:\n  x:\n    job: daily\n")
            .unwrap()
            .unwrap();
        layers.apply_file(&root, Path::new("x.yaml")).unwrap();
        let env: BTreeMap<String, String> = [
            ("DARKHORSES_RETRY_RETRY_STATUS_CODES", "429,503"),
            ("DARKHORSES_INTERVALS__X__TIMEOUT", "60"),
            ("DARKHORSES_LOGGING__RETENTION_DAYS__DAILY_UPDATE", "14"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        layers.apply_env(&env).unwrap();
        assert_eq!(get(&layers.tree, "retry.retry_status_codes"), Some(&serde_json::json!([429, 503])));
        assert_eq!(get(&layers.tree, "intervals.x.timeout"), Some(&Value::from(60u64)));
        assert_eq!(get(&layers.tree, "logging.retention_days.daily_update"), Some(&Value::from(14u64)));
    }

    #[test]
    fn environment_sets_the_documented_keys() {
        let loaded = from_env(&[
            ("RACING_API_USERNAME", "007"),
            ("RACING_API_PASSWORD", "123456"),
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("DARKHORSES_API_RATE_LIMIT", "0.5"),
            ("DARKHORSES_DATABASE_BATCH_SIZE", "250"),
            ("DARKHORSES_API_MAX_RETRIES", "2"),
            ("DARKHORSES_ALERTS_ENABLED", "no"),
            ("DARKHORSES_FEATURES_DRY_RUN", "1"),
            ("DARKHORSES_INTERVALS__LIVE_DATA__TIMEOUT", "60"),
            ("DARKHORSES_ALERTS__THRESHOLDS__STALE_DATA_HOURS", "6"),
            ("DARKHORSES_API_REGIONS", "gb"),
            ("DARKHORSES_SANDBOX_PASSWORD", "007"),
        ])
        .unwrap();
        let c = &loaded.config;
        assert_eq!(c.api.username.expose(), "007");
        assert_eq!(c.api.password.expose(), "123456");
        assert_eq!(c.database.url.expose(), "postgres://u:p@localhost/db");
        assert_eq!(c.api.rate_limit, 0.5);
        assert_eq!(c.retry.max_attempts, 3, "the seed's retries, plus the first attempt");
        assert!(!c.alerts.enabled);
        assert!(c.features.dry_run);
        assert_eq!(c.intervals["live_data"].timeout, 60);
        assert_eq!(c.alerts.thresholds.stale_data_hours, 6);
        assert_eq!(c.api.regions, ["gb"]);
        assert_eq!(c.sandbox.password.expose(), "007");
        assert_eq!(loaded.origins["api.rate_limit"], Origin::Env { var: "DARKHORSES_API_RATE_LIMIT".into() });
        assert_eq!(loaded.origins["api.password"], Origin::Env { var: "RACING_API_PASSWORD".into() });
        assert_eq!(loaded.origins["retry.max_attempts"], Origin::Env { var: "DARKHORSES_API_MAX_RETRIES".into() });
        // Accepted for compatibility, read by nothing: one warning naming it and saying why.
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        let warning = &loaded.warnings[0];
        assert!(
            warning.starts_with(
                "database.batch_size from environment variable DARKHORSES_DATABASE_BATCH_SIZE has no effect"
            ),
            "{warning}"
        );
    }

    #[test]
    fn darkhorses_logging_level_overrides_log_level() {
        let loaded = from_env(&[("LOG_LEVEL", "debug")]).unwrap();
        assert_eq!(loaded.config.logging.level, "debug");
        let loaded = from_env(&[("LOG_LEVEL", "debug"), ("DARKHORSES_LOGGING_LEVEL", "warn")]).unwrap();
        assert_eq!(loaded.config.logging.level, "warn");
        assert_eq!(loaded.origins["logging.level"], Origin::Env { var: "DARKHORSES_LOGGING_LEVEL".into() });
        let message = err(from_env(&[("LOG_LEVEL", "loud")]));
        assert!(message.starts_with("logging.level from environment variable LOG_LEVEL is invalid"), "{message}");
    }

    #[test]
    fn unknown_darkhorses_variables_are_warned_about_by_name() {
        let loaded =
            from_env(&[("DARKHORSES_API_RATE_LIMT", "1"), ("DARKHORSES_TEST_DATABASE_URL", "x"), ("OTHER", "1")])
                .unwrap();
        assert_eq!(
            loaded.warnings,
            [
                "environment variable DARKHORSES_API_RATE_LIMT names no config key and is ignored; did you mean DARKHORSES_API_RATE_LIMIT?"
            ]
        );
    }

    #[test]
    fn environment_type_errors_name_the_variable() {
        let message = err(from_env(&[("DARKHORSES_API_RATE_LIMIT", "fast")]));
        assert_eq!(
            message,
            "api.rate_limit from environment variable DARKHORSES_API_RATE_LIMIT must be a number, found `fast`"
        );
        let message = err(from_env(&[("DARKHORSES_SANDBOX_PORT", "99999")]));
        assert!(
            message.starts_with("sandbox.port from environment variable DARKHORSES_SANDBOX_PORT is invalid"),
            "{message}"
        );
    }

    #[test]
    fn empty_variables_are_ignored() {
        let loaded = from_env(&[("RACING_API_PASSWORD", ""), ("DARKHORSES_API_RATE_LIMIT", "")]).unwrap();
        assert_eq!(loaded.config, Config::default());
        // The seed's names accepted for compatibility too, each with its warning.
        let loaded = from_env(&[("DARKHORSES_API_MAX_RETRIES", ""), ("DARKHORSES_DATABASE_BATCH_SIZE", "")]).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert_eq!(
            loaded.warnings,
            [
                "environment variable DARKHORSES_API_MAX_RETRIES is set but empty and is ignored (api.max_retries is not set)",
                "environment variable DARKHORSES_DATABASE_BATCH_SIZE is set but empty and is ignored (database.batch_size is not set)"
            ]
        );
    }

    #[test]
    fn busy_timeout_is_a_database_key_with_an_env_name() {
        assert_eq!(from_env(&[]).unwrap().config.database.busy_timeout, defaults::DATABASE_BUSY_TIMEOUT_SECS);
        let loaded = from_env(&[("DARKHORSES_DATABASE_BUSY_TIMEOUT", "5")]).unwrap();
        assert_eq!(loaded.config.database.busy_timeout, 5);
        assert_eq!(env_name("database.busy_timeout"), "DARKHORSES_DATABASE_BUSY_TIMEOUT");
        assert!(err(from_env(&[("DARKHORSES_DATABASE_BUSY_TIMEOUT", "0")])).contains("database.busy_timeout"));
    }
}
