//! The seed-era names still accepted: `script:` entries of `intervals` (the Python system's
//! scripts) read as the job that replaced them, with a warning saying what to write instead; and
//! the seed's keys that are no key of the tree (`ACCEPTED`), from the file or their
//! `DARKHORSES_*` variable, resolved once every layer is applied.

use std::path::Path;

use serde_json::Value;

use super::env::env_name;
use super::layer::{Layers, get, join, place, set};
use super::overlay::FileCx;
use super::typed;
use super::yaml::{Kind, Node};
use super::{Error, Origin};

/// A key of the seed's configuration that the typed tree does not have, still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The dotted key; its variable is `env_name(key)`.
    pub key: &'static str,
    /// What it does now, for docs/configuration.md.
    pub meaning: &'static str,
}

/// `api.max_retries`: the seed's name for `retry.max_attempts`, counting retries after the first
/// attempt, so it means `retry.max_attempts = api.max_retries + 1`. The key itself and its alias
/// follow the one precedence (defaults < file < environment < flags): the later layer wins; in
/// the same layer `retry.max_attempts` wins. Either way a disagreement is a warning naming both.
const MAX_RETRIES: Accepted = Accepted {
    key: "api.max_retries",
    meaning: "the seed's name for retry.max_attempts, counting retries: sets retry.max_attempts to this + 1; \
              retry.max_attempts wins when both are given in the same layer (file or environment), else the later \
              layer wins, with a warning naming both",
};

/// `database.batch_size`: read by nothing, so accepted with a warning that says so.
const BATCH_SIZE: Accepted = Accepted {
    key: "database.batch_size",
    meaning: "no effect, with a warning: a unit is written in one statement per table on Postgres (arrays \
              through unnest, no parameter limit) and row by row in-process on SQLite, so there is nothing to batch",
};

/// Every seed key accepted although the tree has no such key.
pub const ACCEPTED: [Accepted; 2] = [MAX_RETRIES, BATCH_SIZE];

/// One value given for an accepted key: a whole number, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    pub key: &'static str,
    pub value: u64,
    pub origin: Origin,
}

/// The accepted key at a dotted path of the file.
pub(super) fn accepted(path: &str) -> Option<&'static Accepted> {
    ACCEPTED.iter().find(|a| a.key == path)
}

/// The accepted key a `DARKHORSES_*` variable names (its canonical name, any case).
pub(super) fn by_env(var: &str) -> Option<&'static Accepted> {
    ACCEPTED.iter().find(|a| env_name(a.key).eq_ignore_ascii_case(var))
}

/// The value as a count. `database.batch_size` keeps the rule it had while it was a key (1 or
/// more), so a file that was refused is still refused.
fn checked(accepted: &Accepted, value: Value, origin: &Origin) -> Result<u64, Error> {
    let n = value.as_u64().unwrap_or_default();
    if accepted.key == BATCH_SIZE.key && n == 0 {
        return Err(Error::InvalidValue {
            key: accepted.key.to_string(),
            place: place(Some(origin)),
            message: "must be 1 or more".into(),
        });
    }
    Ok(n)
}

fn wrong_type(m: typed::Mismatch, origin: &Origin) -> Error {
    Error::WrongType { key: m.key, place: place(Some(origin)), expected: m.expected, found: m.found }
}

/// A value of the file for an accepted key: a whole number, typed as any other.
pub(super) fn from_yaml(accepted: &Accepted, node: &Node, origin: &Origin) -> Result<u64, Error> {
    let value = typed::from_yaml(&Value::from(0u64), node, accepted.key).map_err(|m| wrong_type(m, origin))?;
    checked(accepted, value, origin)
}

/// A variable's text for an accepted key.
pub(super) fn from_text(accepted: &Accepted, text: &str, origin: &Origin) -> Result<u64, Error> {
    let value = typed::from_text(&Value::from(0u64), text, accepted.key).map_err(|m| wrong_type(m, origin))?;
    checked(accepted, value, origin)
}

/// Later layers rank higher: the precedence every key follows.
fn layer_rank(origin: &Origin) -> u8 {
    match origin {
        Origin::Default => 0,
        Origin::File { .. } => 1,
        Origin::Env { .. } => 2,
        Origin::Flag { .. } => 3,
    }
}

impl Layers {
    /// Resolve the accepted keys once every layer is applied: `api.max_retries` into
    /// `retry.max_attempts` with its origin, a warning for `database.batch_size`. The last value
    /// given for a key is its latest layer's.
    pub(super) fn resolve_accepted(&mut self) {
        let given = std::mem::take(&mut self.given);
        for batch in given.iter().filter(|g| g.key == BATCH_SIZE.key) {
            self.warnings.push(format!(
                "database.batch_size {} has no effect and is ignored: each unit is written as one statement per \
                 table on Postgres (arrays through unnest, no parameter limit) and row by row in-process on SQLite; \
                 remove it",
                place(Some(&batch.origin))
            ));
        }
        if let Some(retries) = given.iter().rev().find(|g| g.key == MAX_RETRIES.key) {
            self.resolve_max_retries(retries);
        }
        self.given = given;
    }

    /// `api.max_retries = N` is `retry.max_attempts = N + 1`, from its own layer.
    fn resolve_max_retries(&mut self, retries: &Given) {
        const KEY: &str = "retry.max_attempts";
        let attempts = retries.value.saturating_add(1);
        let key_origin = self.origins.get(KEY).cloned().unwrap_or(Origin::Default);
        let current = get(&self.tree, KEY).and_then(Value::as_u64);
        let alias = format!(
            "api.max_retries {} ({} retries, {attempts} attempts)",
            place(Some(&retries.origin)),
            retries.value
        );
        let key = format!("retry.max_attempts {} ({})", place(Some(&key_origin)), current.unwrap_or_default());
        if layer_rank(&retries.origin) > layer_rank(&key_origin) {
            if key_origin != Origin::Default && current != Some(attempts) {
                self.warnings.push(format!("{alias} overrides {key}: the later layer wins"));
            }
            set(&mut self.tree, KEY, Value::from(attempts));
            self.origins.insert(KEY.to_string(), retries.origin.clone());
        } else if current != Some(attempts) {
            self.warnings.push(format!(
                "{alias} is overridden by {key}, given in the same or a later layer; remove api.max_retries"
            ));
        }
    }
}

/// Scripts of the Python system, which seed-era config files name instead of a job.
const SEED_SCRIPTS: [(&str, &str, &[&str]); 5] = [
    ("update_live_data.py", "live", &[]),
    ("update_daily_data.py", "daily", &[]),
    ("update_reference_data.py", "reference", &[]),
    ("initialize_data.py", "backfill", &[]),
    ("initialize_12months.py", "backfill", &["--months", "12"]),
];

impl FileCx<'_> {
    /// One `intervals` entry, which may name a script of the Python system instead of a job.
    pub(super) fn overlay_interval(
        &mut self,
        slot: &mut Value,
        node: &Node,
        path: &str,
        line: usize,
    ) -> Result<(), Error> {
        let Kind::Map(entries) = &node.kind else {
            return self.overlay(slot, node, path, line);
        };
        let (scripts, rest): (Vec<_>, Vec<_>) = entries.iter().cloned().partition(|e| e.key == "script");
        let plain = Node { kind: Kind::Map(rest.clone()), line: node.line, col: node.col };
        self.overlay(slot, &plain, path, line)?;
        let Some(script) = scripts.first() else {
            return Ok(());
        };
        let Kind::Scalar { text, .. } = &script.value.kind else {
            return Err(Error::WrongType {
                key: join(path, "script"),
                place: self.at(script.line),
                expected: "a script path",
                found: script.value.describe(),
            });
        };
        if rest.iter().any(|e| e.key == "job") {
            self.warnings.push(format!(
                "{path}.script {} is ignored because the entry also names a job; remove the `script:` line",
                self.at(script.line)
            ));
            return Ok(());
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let script_at = words.iter().position(|w| w.ends_with(".py"));
        let file_name = script_at.and_then(|i| Path::new(words[i]).file_name()).and_then(|n| n.to_str());
        let Some((_, job, extra)) = SEED_SCRIPTS.iter().find(|(name, _, _)| Some(*name) == file_name) else {
            let known: Vec<&str> = SEED_SCRIPTS.iter().map(|(name, _, _)| *name).collect();
            return Err(Error::UnknownScript {
                interval: path.trim_start_matches("intervals.").to_string(),
                script: text.clone(),
                place: self.at(script.line),
                known: known.join(", "),
            });
        };
        // Arguments of the script's own mapping, then any written after the script on its line,
        // then the entry's `args`.
        let mut args: Vec<Value> = extra.iter().map(|a| Value::String(a.to_string())).collect();
        let after = script_at.map_or(&[][..], |i| &words[i + 1..]);
        args.extend(after.iter().map(|a| Value::String(a.to_string())));
        let origin = Origin::File { path: self.file.to_path_buf(), line: script.line };
        if let Value::Object(map) = slot {
            map.insert("job".into(), Value::String(job.to_string()));
            self.origins.insert(join(path, "job"), origin.clone());
            if !args.is_empty() {
                let given = map.get("args").and_then(Value::as_array).cloned().unwrap_or_default();
                let suggested: Vec<String> =
                    args.iter().chain(&given).filter_map(Value::as_str).map(str::to_string).collect();
                args.extend(given);
                map.insert("args".into(), Value::Array(args));
                self.origins.insert(join(path, "args"), origin);
                self.warnings.push(format!(
                    "{path} {} runs `{text}`, a script of the Python system; write `job: {job}` and `args: [{}]` instead",
                    self.at(script.line),
                    suggested.join(", ")
                ));
                return Ok(());
            }
        }
        self.warnings.push(format!(
            "{path} {} runs `{text}`, a script of the Python system; write `job: {job}` instead",
            self.at(script.line)
        ));
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use std::path::Path;

    use super::super::Origin;
    use super::super::testing::*;

    #[test]
    fn seed_era_scripts_map_to_jobs_with_a_warning() {
        let text = "intervals:\n  daily:\n    script: scripts/update_daily_data.py\n    frequency: '0 6 * * *'\n    args: --days-ahead 3\n  history:\n    script: scripts/initialize_12months.py\n    frequency: '0 2 * * *'\n";
        let loaded = from_yaml(text).unwrap();
        let daily = &loaded.config.intervals["daily"];
        assert_eq!(daily.job, "daily");
        assert_eq!(daily.args, ["--days-ahead", "3"]);
        assert_eq!(loaded.origins["intervals.daily.job"], file_origin(3));
        let history = &loaded.config.intervals["history"];
        assert_eq!(history.job, "backfill");
        assert_eq!(history.args, ["--months", "12"]);
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("write `job: daily` instead"), "{:?}", loaded.warnings);
        assert!(
            loaded.warnings[1].contains("write `job: backfill` and `args: [--months, 12]`"),
            "{:?}",
            loaded.warnings
        );
        for (script, job) in [
            ("update_live_data.py", "live"),
            ("update_reference_data.py", "reference"),
            ("initialize_data.py", "backfill"),
        ] {
            let loaded = from_yaml(&format!(
                "intervals:\n  x:\n    script: python3 scripts/{script}\n    frequency: '0 1 * * *'\n"
            ))
            .unwrap();
            assert_eq!(loaded.config.intervals["x"].job, job);
        }
    }

    #[test]
    fn unknown_scripts_are_errors_naming_them() {
        let message = err(from_yaml("intervals:\n  x:\n    script: scripts/do_magic.py\n    frequency: '0 1 * * *'\n"));
        assert!(message.starts_with("unknown script `scripts/do_magic.py` for interval x in x.yaml:3"), "{message}");
    }

    #[test]
    fn max_retries_is_max_attempts_minus_one_from_its_own_layer() {
        use super::super::{DEFAULT_FILE, load_from};
        use std::collections::BTreeMap;
        let loaded = from_yaml("api:\n  max_retries: 2\n").unwrap();
        assert_eq!(loaded.config.retry.max_attempts, 3);
        assert_eq!(loaded.origins["retry.max_attempts"], file_origin(2));
        assert!(!loaded.origins.contains_key("api.max_retries"), "one key in config show");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        // Retries 0: the first attempt only.
        assert_eq!(from_env(&[("DARKHORSES_API_MAX_RETRIES", "0")]).unwrap().config.retry.max_attempts, 1);
        // The file's retry.max_attempts and the environment's alias: the later layer wins, named.
        let text = "retry:\n  max_attempts: 5\n";
        let loaded =
            load_from(Some((Path::new("x.yaml"), text)), &env(&[("DARKHORSES_API_MAX_RETRIES", "1")]), &[]).unwrap();
        assert_eq!(loaded.config.retry.max_attempts, 2);
        assert_eq!(
            loaded.warnings,
            [
                "api.max_retries from environment variable DARKHORSES_API_MAX_RETRIES (1 retries, 2 attempts) overrides retry.max_attempts in x.yaml:2 (5): the later layer wins"
            ]
        );
        let loaded = load_from(
            Some((Path::new("x.yaml"), "api:\n  max_retries: 1\n")),
            &env(&[("DARKHORSES_RETRY_MAX_ATTEMPTS", "4")]),
            &[],
        )
        .unwrap();
        assert_eq!(loaded.config.retry.max_attempts, 4);
        assert_eq!(loaded.origins["retry.max_attempts"], Origin::Env { var: "DARKHORSES_RETRY_MAX_ATTEMPTS".into() });
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        // Both in one file (as the shipped file had them): retry.max_attempts wins, as the
        // stricter did before, with a warning naming both.
        let loaded = from_yaml("retry:\n  max_attempts: 5\napi:\n  max_retries: 5\n").unwrap();
        assert_eq!(loaded.config.retry.max_attempts, 5);
        assert_eq!(loaded.origins["retry.max_attempts"], file_origin(2));
        assert_eq!(
            loaded.warnings,
            [
                "api.max_retries in x.yaml:4 (5 retries, 6 attempts) is overridden by retry.max_attempts in x.yaml:2 (5), given in the same or a later layer; remove api.max_retries"
            ]
        );
        // Agreeing values say nothing.
        assert!(from_yaml("retry:\n  max_attempts: 3\napi:\n  max_retries: 2\n").unwrap().warnings.is_empty());
        // Typed and placed like any key.
        let message = err(from_yaml("api:\n  max_retries: -1\n"));
        assert!(message.starts_with("api.max_retries in x.yaml:2 must be a whole number"), "{message}");
        let message = err(from_env(&[("DARKHORSES_API_MAX_RETRIES", "many")]));
        assert!(
            message.starts_with("api.max_retries from environment variable DARKHORSES_API_MAX_RETRIES"),
            "{message}"
        );
        let shipped = load_from(Some((Path::new(DEFAULT_FILE), SHIPPED)), &BTreeMap::new(), &[]).unwrap();
        assert!(!SHIPPED.contains("max_retries") && shipped.config.retry.max_attempts == 5);
    }

    #[test]
    fn batch_size_is_accepted_with_a_warning_that_it_has_no_effect() {
        let loaded = from_yaml("database:\n  batch_size: 50\n").unwrap();
        assert_eq!(loaded.config, super::super::Config::default());
        assert!(!loaded.origins.contains_key("database.batch_size"));
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        let warning = &loaded.warnings[0];
        assert!(warning.starts_with("database.batch_size in x.yaml:2 has no effect and is ignored: "), "{warning}");
        assert!(warning.contains("unnest") && warning.contains("SQLite"), "{warning}");
        let loaded = from_env(&[("DARKHORSES_DATABASE_BATCH_SIZE", "500")]).unwrap();
        assert!(loaded.warnings[0].contains("from environment variable DARKHORSES_DATABASE_BATCH_SIZE"));
        // Refused where it was refused while it was a key.
        let message = err(from_yaml("database:\n  batch_size: 0\n"));
        assert_eq!(message, "database.batch_size in x.yaml:2 is invalid: must be 1 or more");
        let message = err(from_yaml("database:\n  batch_size: lots\n"));
        assert!(message.starts_with("database.batch_size in x.yaml:2 must be a whole number"), "{message}");
    }
}
